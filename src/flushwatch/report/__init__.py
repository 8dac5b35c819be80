"""The flush report: assemble a market from the store, run the kernels, render the answer."""
