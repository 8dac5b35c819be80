"""Where the store lives (``--store`` beats ``$FLUSHWATCH_STORE`` beats the user data dir),
and a cheap version of its content for in-process caches."""

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


#: Files every store write touches: the import ledger (imports and live batches append to it)
#: and the store's metadata (rewritten by migrations and compactions).
VERSION_FILES = ("imports.jsonl", "flushwatch-store.json")


def data_version(root: Path) -> tuple[int, ...]:
    """``(mtime_ns, size)`` of each of :data:`VERSION_FILES` (0s for a missing one).

    A write changes it, so a cache keyed by it never serves an answer from older content.
    """
    out: list[int] = []
    for name in VERSION_FILES:
        try:
            st = (root / name).stat()
        except OSError:
            out += [0, 0]
            continue
        out += [st.st_mtime_ns, st.st_size]
    return tuple(out)
