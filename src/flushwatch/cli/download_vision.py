"""``flushwatch download`` sources: vision (being built)."""

from __future__ import annotations

import typer


def register(download_app: typer.Typer) -> None:
    """Add this module's sources to ``flushwatch download``."""
    del download_app
