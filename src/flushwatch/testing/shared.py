"""Locate the read-only real market data in ``../shared`` (never copied into the repo).

One helper decides where it is: ``$FLUSHWATCH_SHARED`` if set, else ``../shared`` next to the
repository root (the working directory's parent chain is searched too, for installed copies).
"""

from __future__ import annotations

import os
from pathlib import Path


def shared_dir() -> Path | None:
    """Return the shared folder, or None when it cannot be found."""
    env = os.environ.get("FLUSHWATCH_SHARED")
    if env:
        path = Path(env)
        return path if path.is_dir() else None
    candidates = [Path(__file__).resolve().parents[3] / ".." / "shared"]
    cwd = Path.cwd().resolve()
    candidates += [p / ".." / "shared" for p in (cwd, *cwd.parents)]
    for cand in candidates:
        if (cand / "data").is_dir():
            return cand.resolve()
    return None


def data_path(*parts: str) -> Path:
    """Return a path under ``<shared>/data``; raise FileNotFoundError saying how to fix it."""
    root = shared_dir()
    if root is None:
        raise FileNotFoundError(
            "the shared data folder was not found: set FLUSHWATCH_SHARED to the folder that "
            "holds data/ (by default ../shared next to the repository)"
        )
    return root.joinpath("data", *parts)
