"""``flushwatch migrate``: rewrite a store written by an older flushwatch, all or nothing.

Parsing and printing only: the rewrite is :func:`flushwatch.store.migrate.migrate`.
"""

from __future__ import annotations

from pathlib import Path

import typer

from flushwatch.cli.options import JsonOpt, StoreOpt, store_path
from flushwatch.cli.options import run as run_cli


def run(store_root: Path, *, json_out: bool) -> None:
    """Migrate the store and print what changed."""
    import msgspec

    from flushwatch.cli import render
    from flushwatch.store.migrate import migrate

    summary = migrate(store_root)
    if json_out:
        render.print_json(msgspec.to_builtins(summary))
    elif summary.already:
        render.print_plain(
            f"{store_root} already has the version-{summary.to_version} layout; nothing to do."
        )
    else:
        rows = sum(summary.rows.values())
        render.print_plain(
            f"Migrated {store_root} from version {summary.from_version} to "
            f"{summary.to_version}: {summary.partitions:,} month partition(s), "
            f"{summary.files_before:,} files -> {summary.files_after:,}, "
            f"{rows:,} rows before and after."
        )


def register(app: typer.Typer) -> None:
    """Add ``migrate`` to the flushwatch command."""

    @app.command("migrate")
    def migrate(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
        """Rewrite a store made by an older flushwatch in this version's layout.

        All or nothing: a failure or an interruption leaves the store as it was; row counts
        are checked before and after.
        """
        run_cli(lambda: run(store_path(store), json_out=json_out))
