"""What every command shares: option types, the store path, and turning errors into one line.

Kept apart from ``cli/app.py`` so command modules import this, never the app (which imports
them to register the commands) or each other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from flushwatch.errors import FlushwatchError

if TYPE_CHECKING:
    from flushwatch.api import Workspace

T = TypeVar("T")

StoreOpt = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store folder (default: $FLUSHWATCH_STORE, else your user data directory).",
        show_default=False,
    ),
]
JsonOpt = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
AtOpt = Annotated[
    str | None,
    typer.Option(
        help="As of this time (ISO, UTC): only what was knowable then is used "
        "(bars closed by then, records stamped by then). Default: the store's latest."
    ),
]


def run(fn: Callable[[], T]) -> T:
    """Turn flushwatch errors into one clear line on stderr and exit code 2."""
    try:
        return fn()
    except (FlushwatchError, FileNotFoundError) as exc:
        from flushwatch.redact import redact_text

        typer.echo(f"error: {redact_text(str(exc))}", err=True)
        raise typer.Exit(2) from None


def store_path(store: Path | None) -> Path:
    """``--store``, else ``$FLUSHWATCH_STORE``, else the user data directory."""
    from flushwatch.store.location import default_store_path

    return store if store is not None else default_store_path()


def workspace(store: Path | None) -> Workspace:
    """The read-only API workspace of ``--store``."""
    from flushwatch.api.workspace import open_workspace

    return open_workspace(store_path(store))
