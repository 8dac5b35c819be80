"""``flushwatch download binance-vision``: parse the options, draw progress, print the result.

The plan, resumption and imports are :func:`flushwatch.api.download_vision.download_vision`;
the HTTP is :mod:`flushwatch.connectors.vision_download`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flushwatch.cli.once import OnceCommand
from flushwatch.cli.options import JsonOpt, StoreOpt, store_path
from flushwatch.cli.options import run as run_cli
from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.api.download_vision import DownloadResult


#: Unpublished files listed one by one in the human summary (a long window can have hundreds).
_SHOW_MISSING = 10


def parse_day(text: str, option: str) -> date:
    """An ISO date (a time of day is cut off: files are whole UTC days)."""
    try:
        return date.fromisoformat(text[:10])
    except ValueError:
        raise ConfigError(f"{option} {text!r}: not an ISO date, e.g. 2024-01-31") from None


def split(text: str) -> list[str]:
    """Comma-separated values, blanks dropped."""
    return [t.strip() for t in text.split(",") if t.strip()]


@contextlib.contextmanager
def progress_bar(quiet: bool) -> Iterator[Callable[[int, int, str], None] | None]:
    """One bar over the planned files on stderr (hidden for --json and off a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from flushwatch.cli.render import err_console

    if quiet or not err_console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("[bold]vision"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[name]}"),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task("vision", total=None, name="")

        def advance(done: int, total: int, name: str) -> None:
            prog.update(task, total=total, completed=done, name=name.rsplit("/", 1)[-1])

        yield advance


def run(
    *,
    venue: str,
    data: str,
    symbols: str,
    start: str,
    end: str | None,
    interval: str,
    period: str | None,
    store: Path | None,
    cache: Path | None,
    config: Path | None,
    concurrency: int,
    json_out: bool,
) -> int:
    """Download, print, and return the exit code (1 when a file failed)."""
    from flushwatch.api.download_vision import download_vision
    from flushwatch.cli import render
    from flushwatch.connectors.config import load_vision_config
    from flushwatch.connectors.factory import read_config

    cfg = load_vision_config(read_config(config))
    today = datetime.now(UTC).date()
    with progress_bar(json_out) as progress:
        result = download_vision(
            store_path(store),
            venue=venue,
            datasets=split(data),
            symbols=split(symbols),
            start=parse_day(start, "--start"),
            end=parse_day(end, "--end") if end else today - timedelta(days=1),
            today=today,
            interval=interval,
            period=period or "auto",
            cache=cache,
            config=cfg,
            concurrency=concurrency,
            progress=progress,
        )
    for f in result.failed:
        typer.echo(f"error: {f.error}", err=True)
    if json_out:
        render.print_json(result.to_dict())
    else:
        typer.echo("\n".join(summary_lines(result)))
    return 1 if result.failed else 0


def summary_lines(result: DownloadResult) -> list[str]:
    """The human summary: counts, then what is missing, then notes."""
    lines = [
        f"{result.planned} files planned from {result.base_url}: {result.fetched} fetched, "
        f"{result.cached} already in the cache, {result.imported} imported, "
        f"{len(result.missing)} not published, {len(result.failed)} failed",
        f"{result.rows_added:,} rows added to {result.store} "
        f"({result.requests} requests, {result.bytes:,} bytes; cache {result.cache})",
    ]
    shown = result.missing[:_SHOW_MISSING]
    lines += [f"not published (HTTP 404): {m}" for m in shown]
    if len(result.missing) > len(shown):
        more = len(result.missing) - len(shown)
        lines.append(f"... and {more} more not published (--json lists them all)")
    lines += [f"note: {n}" for f in result.files for n in f.notes]
    lines += [f"note: {n}" for n in result.notes]
    return lines


def register(download_app: typer.Typer) -> None:
    """Add ``binance-vision`` to ``flushwatch download``."""

    @download_app.command("binance-vision", cls=OnceCommand)
    def binance_vision(
        venue: Annotated[
            str, typer.Option(help="binanceusdm (USDⓈ-M), binancecoinm (COIN-M) or binance (spot).")
        ],
        data: Annotated[
            str,
            typer.Option(
                help="Comma-separated datasets: klines, markPriceKlines, indexPriceKlines, "
                "premiumIndexKlines, fundingRate, metrics, bookDepth, bookTicker, aggTrades, "
                "trades, liquidationSnapshot."
            ),
        ],
        symbols: Annotated[str, typer.Option(help="Comma-separated symbols, e.g. BTCUSDT.")],
        start: Annotated[str, typer.Option(help="First UTC day, e.g. 2024-01-01.")],
        end: Annotated[
            str | None, typer.Option(help="Last UTC day, included (default: yesterday).")
        ] = None,
        interval: Annotated[str, typer.Option(help="Kline interval of *Klines datasets.")] = "1h",
        period: Annotated[
            str | None,
            typer.Option(
                help="daily or monthly files (default: monthly for whole published months, "
                "daily for the rest)."
            ),
        ] = None,
        store: StoreOpt = None,
        cache: Annotated[
            Path | None,
            typer.Option(help="Folder for the zips (default: <store>/downloads/vision)."),
        ] = None,
        config: Annotated[
            Path | None,
            typer.Option(help="TOML with a binance_vision table (base_url, timeout, backoff)."),
        ] = None,
        concurrency: Annotated[int, typer.Option(help="Files fetched at once.")] = 4,
        json_out: JsonOpt = False,
    ) -> None:
        """Fetch Binance Vision archive files, verify their checksums and import them.

        A rerun fetches only what is missing; a file not published yet (HTTP 404) is listed,
        not an error; a corrupt file is deleted, named, and leaves the store as it was.
        """
        code = run_cli(
            lambda: run(
                venue=venue,
                data=data,
                symbols=symbols,
                start=start,
                end=end,
                interval=interval,
                period=period,
                store=store,
                cache=cache,
                config=config,
                concurrency=concurrency,
                json_out=json_out,
            )
        )
        if code:
            raise typer.Exit(code)
