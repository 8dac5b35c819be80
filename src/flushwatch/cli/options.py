"""What every command shares: option types, the store path, and turning errors into one line.

Kept apart from ``cli/app.py`` so command modules import this, never the app (which imports
them to register the commands) or each other.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from flushwatch.errors import ConfigError, FlushwatchError

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


def error(message: str, code: int = 2) -> typer.Exit:
    """Print ``error: message`` (secrets redacted) on stderr; return the exit to raise."""
    from flushwatch.redact import redact_text

    # One line, whatever the message holds (DuckDB adds its query and a caret line under it).
    lines = [s.strip() for s in message.splitlines() if s.strip(" ^\t")]
    typer.echo(f"error: {redact_text(' '.join(lines))}", err=True)
    return typer.Exit(code)


def os_message(exc: OSError) -> str:
    """One line for a file-system error on a path the user gave (no traceback)."""
    where = f"{exc.filename}: " if exc.filename is not None else ""
    reason = exc.strerror or type(exc).__name__
    if isinstance(exc, FileExistsError | NotADirectoryError):
        return f"{where}{reason}: a file is in the way; give a folder path (new or existing)"
    if isinstance(exc, IsADirectoryError):
        return f"{where}{reason}: give a file path, not a folder"
    return f"{where}{reason}"


def run(fn: Callable[[], T]) -> T:
    """Turn flushwatch and file-system errors into one clear line on stderr and exit code 2."""
    try:
        return fn()
    except FlushwatchError as exc:
        raise error(str(exc)) from None
    except OSError as exc:
        raise error(os_message(exc)) from None


def check_folder(path: Path, what: str, hint: str = "pass a folder (created if missing)") -> Path:
    """Refuse a path that exists but is not a folder (a store or an output folder)."""
    if path.exists() and not path.is_dir():
        raise ConfigError(f"{what} {path} is a file, not a folder: {hint}")
    return path


STORE_HINT = "pass a store folder (`flushwatch import` creates one)"


def store_path(store: Path | None) -> Path:
    """``--store``, else ``$FLUSHWATCH_STORE``, else the user data directory (never a file)."""
    from flushwatch.store.location import default_store_path

    if store is not None:
        return check_folder(store, "--store", STORE_HINT)
    return check_folder(
        default_store_path(), "the store ($FLUSHWATCH_STORE or default)", STORE_HINT
    )


def workspace(store: Path | None) -> Workspace:
    """The read-only API workspace of ``--store``."""
    from flushwatch.api.workspace import open_workspace

    return open_workspace(store_path(store))
