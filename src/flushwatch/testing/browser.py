"""The real browser of the page tests: Debian's chromium, driven by Playwright, offline.

One place for its path and flags, and for the rule that a missing browser skips locally but
fails under ``CI=true`` (``.ci/run`` installs the ``chromium`` package).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

CHROMIUM = Path("/usr/bin/chromium")
#: Headless, and nothing the browser would fetch by itself (updates, sync, QUIC probes).
CHROMIUM_FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def need_chromium() -> None:
    """Skip (locally) or fail (under CI) when the browser is missing."""
    if CHROMIUM.is_file():
        return
    message = f"{CHROMIUM} not found (Debian package chromium; .ci/run installs it)"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)
