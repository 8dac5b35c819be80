"""Tasks for the Dask tests, importable by a worker (a test module is not: workers cannot
import ``tests``, and Dask pickles a function by reference whenever the client can)."""

from __future__ import annotations

import random

import numpy as np

#: Set on this module in the parent before a cluster starts: a forked worker would inherit it.
FORK_PROBE = "_fork_probe"


def global_draws(n: int) -> tuple[float, list[float]]:
    """Draw from the global generators, as old-style code does."""
    return random.random(), np.random.random(n).tolist()  # the legacy global generator


def has_fork_probe() -> bool:
    """Whether this process inherited the parent's :data:`FORK_PROBE` mark."""
    return hasattr(__import__(__name__, fromlist=["_"]), FORK_PROBE)


def die() -> None:
    """End this worker process at once, as the out-of-memory killer would."""
    import os

    os._exit(1)
