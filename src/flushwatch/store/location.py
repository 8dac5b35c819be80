"""Where the store lives: ``--store`` beats ``$FLUSHWATCH_STORE`` beats the user data dir."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs


def default_store_path() -> Path:
    """Return the store path from the environment or the platform's user data directory."""
    env = os.environ.get("FLUSHWATCH_STORE")
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("flushwatch", appauthor=False)) / "store"
