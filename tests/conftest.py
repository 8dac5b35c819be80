"""Shared fixtures: where the real data lives (a missing folder fails under CI=true)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from flushwatch.testing.shared import shared_dir


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """Return ``<shared>/data``; skip locally, fail under CI, when it is missing."""
    root = shared_dir()
    if root is None:
        message = "shared data folder not found (set FLUSHWATCH_SHARED)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return root / "data"
