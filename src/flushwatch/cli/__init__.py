"""Command-line interface: thin composition of the store, importers and analytics."""
