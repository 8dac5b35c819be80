"""``flushwatch update``: bring every series in the store up to now (cron-friendly).

Parsing and printing, plus the one thing the API layer may not do itself: hand it the REST
backfill (:func:`flushwatch.live.backfill.backfill`) for the recent days Binance Vision has
not published yet. What to fetch is :func:`flushwatch.api.update.update`.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli.download_vision import progress_bar
from flushwatch.cli.once import OnceCommand
from flushwatch.cli.options import JsonOpt, StoreOpt, store_path
from flushwatch.cli.options import run as run_cli

if TYPE_CHECKING:
    from flushwatch.api.update import RestFetch, UpdateResult


def _rest(raw: dict[str, Any], recordings: Path, store_root: Path) -> RestFetch:
    """The REST fetcher ``update`` calls per window: the backfill, with ``--config``'s table of
    the window's venue (endpoints, backoff, ``[<venue>.backfill]`` page sizes)."""
    import asyncio

    import msgspec

    from flushwatch.api.update import RestWindow
    from flushwatch.connectors.config import load_config
    from flushwatch.connectors.factory import venue_section
    from flushwatch.errors import ConfigError
    from flushwatch.live.backfill import BackfillConfig, backfill
    from flushwatch.store import Store

    def fetch(w: RestWindow) -> dict[str, int]:
        section = venue_section(raw, w.venue)
        try:
            options = msgspec.convert(section.pop("backfill", {}), BackfillConfig)
        except msgspec.ValidationError as exc:
            raise ConfigError(f"--config [backfill]: {exc}") from exc
        stats = asyncio.run(
            backfill(
                w.venue,
                w.symbols,
                tuple(w.datasets),
                w.start_ns // 1_000_000,
                w.end_ns // 1_000_000,
                Store.open(store_root),
                recordings,
                interval=w.interval,
                config=options,
                connector=load_config(section),
            )
        )
        return dict(stats.rows_added)

    return fetch


def run(
    *,
    store: Path | None,
    cache: Path | None,
    recordings: Path | None,
    config: Path | None,
    concurrency: int,
    dry_run: bool,
    no_rest: bool,
    now: str | None,
    json_out: bool,
) -> int:
    """Update (or list what would be fetched), print, and return the exit code."""
    from flushwatch.api.update import update
    from flushwatch.cli import render
    from flushwatch.connectors.config import load_vision_config
    from flushwatch.connectors.factory import read_config

    root = store_path(store)
    now_ns = time.time_ns() if now is None else _parse_now(now)
    raw = read_config(config)
    rest = None if no_rest else _rest(raw, recordings or root / "downloads" / "rest", root)
    with progress_bar(json_out) as progress:
        result = update(
            root,
            now_ns=now_ns,
            dry_run=dry_run,
            cache=cache,
            config=load_vision_config(raw),
            concurrency=concurrency,
            rest=rest,
            progress=progress,
        )
    failed = [f for d in result.downloads for f in d.failed]
    for f in failed:
        typer.echo(f"error: {f.error}", err=True)
    if json_out:
        render.print_json(result.to_dict())
    else:
        typer.echo("\n".join(summary_lines(result)))
    return 1 if failed else 0


def _parse_now(text: str) -> int:
    from flushwatch.domain.time import parse_iso
    from flushwatch.errors import ConfigError

    try:
        return parse_iso(text)
    except ValueError:
        raise ConfigError(f"--now {text!r}: not an ISO time, e.g. 2024-01-31T12:00Z") from None


def summary_lines(result: UpdateResult) -> list[str]:
    """What was (or would be) fetched, per series, then the REST windows and the notes."""
    from flushwatch.domain.time import iso

    lines = [
        f"{t.venue} {t.dataset}{' ' + t.interval if t.interval else ''} {t.symbol}: "
        f"last row {iso(t.last_ts)}"
        for t in result.targets
    ]
    if result.dry_run:
        todo = [p for p in result.planned if not p["cached"]]
        lines.append(
            f"would fetch {len(todo)} archive files ({len(result.planned) - len(todo)} "
            "already in the cache):"
        )
        lines += [f"  {p['path']}" for p in todo]
    else:
        fetched = sum(d.fetched for d in result.downloads)
        missing = sum(len(d.missing) for d in result.downloads)
        lines.append(f"archive: {fetched} files fetched, {missing} not published yet")
    verb = "would ask" if result.dry_run else "asked"
    for w in result.rest:
        lines.append(
            f"REST: {verb} {w.venue} {','.join(w.datasets)} ({w.interval}) of "
            f"{','.join(w.symbols)} from {iso(w.start_ns)} to {iso(w.end_ns)}"
        )
    if not result.dry_run:
        lines.append(f"{result.rows_added:,} rows added to {result.store}")
    lines += [f"note: {n}" for n in result.notes]
    return lines


def register(app: typer.Typer) -> None:
    """Add ``update`` to the CLI."""

    @app.command("update", cls=OnceCommand)
    def update_cmd(
        store: StoreOpt = None,
        cache: Annotated[
            Path | None,
            typer.Option(help="Folder for archive zips (default: <store>/downloads/vision)."),
        ] = None,
        recordings: Annotated[
            Path | None,
            typer.Option(help="Folder for REST recordings (default: <store>/downloads/rest)."),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(
                help="TOML: the binance_vision table (base_url) and the binanceusdm, "
                "binancecoinm, bybit and okx tables (REST endpoints, backfill page sizes)."
            ),
        ] = None,
        concurrency: Annotated[int, typer.Option(help="Archive files fetched at once.")] = 4,
        dry_run: Annotated[
            bool, typer.Option("--dry-run", help="List what would be fetched; fetch nothing.")
        ] = False,
        no_rest: Annotated[
            bool,
            typer.Option("--no-rest", help="Archive files only; skip the REST backfill."),
        ] = False,
        now: Annotated[
            str | None,
            typer.Option(help="Act as if it were this time (ISO UTC; default: the clock)."),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Bring every series in the store up to now (archive files, then REST).

        Binance series continue from the UTC day their last row is in: Binance Vision files
        up to yesterday, then the REST backfill for what the archive has not published yet
        (USDⓈ-M klines, funding, open interest). Bybit and OKX perpetual series continue over
        REST from their last row. Safe to run from cron: a rerun adds nothing.
        """
        code = run_cli(
            lambda: run(
                store=store,
                cache=cache,
                recordings=recordings,
                config=config,
                concurrency=concurrency,
                dry_run=dry_run,
                no_rest=no_rest,
                now=now,
                json_out=json_out,
            )
        )
        if code:
            raise typer.Exit(code)
