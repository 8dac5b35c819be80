"""``flushwatch download coinalyze|coinglass``: parse the options, draw progress, print the result.

Paging, recording and imports are :mod:`flushwatch.api.download_vendors`; the HTTP is
:mod:`flushwatch.connectors.coinalyze` and :mod:`flushwatch.connectors.coinglass_api`. Keys
come from ``$COINALYZE_API_KEY`` / ``$COINGLASS_API_KEY`` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flushwatch.cli.once import OnceCommand
from flushwatch.cli.options import JsonOpt, StoreOpt, store_path
from flushwatch.cli.options import run as run_cli
from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.api.vendor_pages import VendorStats
    from flushwatch.store import Store

ConfigOpt = Annotated[
    Path | None,
    typer.Option(
        "--config",
        help="TOML with [coinalyze] / [coinglass] tables (base_url, plan, rate, page_rows, "
        "backoff); unknown keys are refused.",
    ),
]
StartOpt = Annotated[
    str | None, typer.Option(help="Start, ISO UTC (e.g. 2026-02-01 or 2026-02-01T06:00).")
]
EndOpt = Annotated[
    str | None, typer.Option(help="End, ISO UTC (default now); only intervals closed by then.")
]
NoStoreOpt = Annotated[bool, typer.Option("--no-store", help="Record the bodies only.")]
RecordingsOpt = Annotated[
    Path | None,
    typer.Option(help="Folder for the recorded bodies (default: <store>/downloads/<vendor>)."),
]
ReplayOpt = Annotated[
    Path | None,
    typer.Option(
        help="Import a recording made by an earlier download instead (no network, no key)."
    ),
]


def split(text: str) -> list[str]:
    """Comma-separated values, blanks dropped."""
    return [t.strip() for t in text.split(",") if t.strip()]


def _window(start: str | None, end: str | None) -> tuple[int, int]:
    from flushwatch.api.times import to_ns

    if start is None:
        raise ConfigError("--start is required (an ISO UTC time, e.g. 2026-02-01)")
    start_ns = to_ns(start, "--start") or 0
    end_ns = to_ns(end, "--end") or time.time_ns()
    if end_ns <= start_ns:
        raise ConfigError("--end must be after --start")
    return start_ns, end_ns


@contextlib.contextmanager
def _progress(vendor: str, quiet: bool) -> Iterator[Callable[[int, int], None] | None]:
    """One bar over the pages on stderr (hidden for --json and off a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from flushwatch.cli.render import err_console

    if quiet or not err_console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn(f"[bold]{vendor}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task(vendor, total=None)

        def advance(done: int, total: int) -> None:
            prog.update(task, total=total, completed=done)

        yield advance


def _target(
    vendor: str, store: Path | None, no_store: bool, recordings: Path | None
) -> tuple[Store | None, Path]:
    from flushwatch.store import Store

    if no_store:
        return None, recordings or Path("recordings")
    root = store_path(store)
    return Store.open(root), recordings or root / "downloads" / vendor


def summary_lines(stats: VendorStats) -> list[str]:
    """The human summary printed at the end."""
    lines = []
    if stats.start:
        lines.append(
            f"window    {stats.start} → {stats.end} {stats.interval} ({', '.join(stats.symbols)})"
        )
    lines.append(
        f"requests  {stats.requests:,} in {stats.pages} pages ({stats.rate_limited} rate "
        f"limited, {stats.waited_s:g} s waited for the rate limit), {stats.bytes:,} bytes"
    )
    for name, n in stats.rows.items():
        added = stats.rows_added.get(name)
        new = "" if added is None else f", {added:,} new in the store"
        lines.append(f"{name:<19} {n:,} rows {stats.first[name]} → {stats.last[name]}{new}")
    if not stats.rows:
        lines.append("no rows: the vendor returned none for this window")
    lines += [f"recording {f}" for f in stats.files]
    lines += [f"note: {n}" for n in stats.notes]
    return lines


def _print(stats: VendorStats, json_out: bool) -> None:
    import msgspec

    if json_out:
        typer.echo(msgspec.json.encode(stats).decode())
    else:
        typer.echo("\n".join(summary_lines(stats)))


def _replay(path: Path, store: Path | None, no_store: bool) -> VendorStats:
    from flushwatch.api.download_vendors import replay

    target, _ = _target("replay", store, no_store, None)
    return replay(path, target)


def run_coinalyze(
    *,
    symbols: str | None,
    data: str,
    interval: str,
    start: str | None,
    end: str | None,
    store: Path | None,
    no_store: bool,
    recordings: Path | None,
    config: Path | None,
    replay: Path | None,
    json_out: bool,
) -> VendorStats:
    """Download (or replay), print and return the summary."""
    from flushwatch.api.download_vendors import download_coinalyze
    from flushwatch.connectors.coinalyze import CoinalyzeClient
    from flushwatch.connectors.factory import read_config
    from flushwatch.connectors.vendor_config import COINALYZE_KEY_ENV, api_key, vendor_config

    if replay is not None:
        stats = _replay(replay, store, no_store)
        _print(stats, json_out)
        return stats
    syms = split(symbols or "")
    if not syms:
        raise ConfigError("--symbols: give Coinalyze symbols, e.g. BTCUSDT_PERP.A,ETHUSDT_PERP.A")
    start_ns, end_ns = _window(start, end)
    cfg = vendor_config(read_config(config)).coinalyze
    key = api_key(COINALYZE_KEY_ENV, "Coinalyze")
    target, folder = _target("coinalyze", store, no_store, recordings)

    async def go(progress: Callable[[int, int], None] | None) -> VendorStats:
        async with CoinalyzeClient(cfg, key) as client:
            return await download_coinalyze(
                client,
                syms,
                split(data),
                interval,
                start_ns,
                end_ns,
                recordings=folder,
                store=target,
                progress=progress,
            )

    with _progress("coinalyze", json_out) as progress:
        stats = asyncio.run(go(progress))
    _print(stats, json_out)
    return stats


def run_coinglass(
    *,
    symbol: str | None,
    exchange: str | None,
    pair: str | None,
    data: str,
    interval: str,
    depth_range: str,
    start: str | None,
    end: str | None,
    store: Path | None,
    no_store: bool,
    recordings: Path | None,
    config: Path | None,
    replay: Path | None,
    json_out: bool,
) -> VendorStats:
    """Download (or replay), print and return the summary."""
    from flushwatch.api.download_vendors import download_coinglass
    from flushwatch.connectors.coinglass_api import CoinGlassClient, Request
    from flushwatch.connectors.factory import read_config
    from flushwatch.connectors.vendor_config import COINGLASS_KEY_ENV, api_key, vendor_config
    from flushwatch.venues.coinglass_api import venue_list

    if replay is not None:
        stats = _replay(replay, store, no_store)
        _print(stats, json_out)
        return stats
    if not symbol:
        raise ConfigError("--symbol: give the coin, e.g. BTC")
    try:
        float(depth_range)
    except ValueError:
        raise ConfigError(f"--depth-range {depth_range!r}: a percent, e.g. 1 or 0.5") from None
    start_ns, end_ns = _window(start, end)
    cfg = vendor_config(read_config(config)).coinglass
    coin = symbol.strip().upper()
    venues = venue_list(exchange or cfg.exchange_list)
    if not venues:
        raise ConfigError("--exchange: name a venue (Binance) or a list (Binance,Bybit,OKX)")
    request = Request(coin, venues, interval, (pair or f"{coin}USDT").upper(), depth_range)
    key = api_key(COINGLASS_KEY_ENV, "CoinGlass")
    target, folder = _target("coinglass", store, no_store, recordings)

    async def go(progress: Callable[[int, int], None] | None) -> VendorStats:
        async with CoinGlassClient(cfg, key) as client:
            return await download_coinglass(
                client,
                request,
                split(data),
                start_ns,
                end_ns,
                recordings=folder,
                store=target,
                progress=progress,
            )

    with _progress("coinglass", json_out) as progress:
        stats = asyncio.run(go(progress))
    _print(stats, json_out)
    return stats


def register(download_app: typer.Typer) -> None:
    """Add ``coinalyze`` and ``coinglass`` to ``flushwatch download``."""

    @download_app.command("coinalyze", cls=OnceCommand)
    def coinalyze(
        symbols: Annotated[
            str | None,
            typer.Option(
                help="Comma-separated Coinalyze symbols, e.g. BTCUSDT_PERP.A,BTCUSDT_PERP.6."
            ),
        ] = None,
        data: Annotated[
            str,
            typer.Option(
                help="Comma-separated: oi, funding, predicted-funding (with funding), "
                "liquidations, long-short, ohlcv."
            ),
        ] = "oi,funding,liquidations",
        interval: Annotated[
            str,
            typer.Option(
                help="1min 5min 15min 30min 1hour 2hour 4hour 6hour 12hour daily "
                "(intraday: only the latest 1,500-2,000 points are kept by Coinalyze)."
            ),
        ] = "1hour",
        start: StartOpt = None,
        end: EndOpt = None,
        store: StoreOpt = None,
        no_store: NoStoreOpt = False,
        recordings: RecordingsOpt = None,
        config: ConfigOpt = None,
        replay: ReplayOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Fetch Coinalyze history (key: $COINALYZE_API_KEY) into the store.

        Each body is recorded verbatim and each page imported whole; 40 calls a minute, each
        symbol of a request counting as one; a rerun adds nothing.
        """
        run_cli(
            lambda: run_coinalyze(
                symbols=symbols,
                data=data,
                interval=interval,
                start=start,
                end=end,
                store=store,
                no_store=no_store,
                recordings=recordings,
                config=config,
                replay=replay,
                json_out=json_out,
            )
        )

    @download_app.command("coinglass", cls=OnceCommand)
    def coinglass(
        symbol: Annotated[str | None, typer.Option(help="The coin, e.g. BTC.")] = None,
        exchange: Annotated[
            str | None,
            typer.Option(
                help="Venues aggregated, e.g. Binance,Bybit,OKX (default: [coinglass] "
                "exchange_list). ONE venue makes OI and funding that venue's --pair."
            ),
        ] = None,
        pair: Annotated[
            str | None, typer.Option(help="The pair of a single --exchange (default <coin>USDT).")
        ] = None,
        data: Annotated[
            str, typer.Option(help="Comma-separated: liquidations, oi, funding, depth.")
        ] = "liquidations,oi,funding",
        interval: Annotated[
            str,
            typer.Option(
                help="1m 3m 5m 15m 30m 1h 4h 6h 8h 12h 1d 1w (Hobbyist plan: 4h and longer; "
                "Startup: 30m and longer)."
            ),
        ] = "4h",
        depth_range: Annotated[
            str, typer.Option(help="Depth: bid and ask USD within ± this percent of mid.")
        ] = "1",
        start: StartOpt = None,
        end: EndOpt = None,
        store: StoreOpt = None,
        no_store: NoStoreOpt = False,
        recordings: RecordingsOpt = None,
        config: ConfigOpt = None,
        replay: ReplayOpt = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Fetch CoinGlass v4 history (key: $COINGLASS_API_KEY) into the store.

        Aggregates across venues are stored exactly as the CoinGlass CSV import stores them
        (exchange coinglass, symbol BTC, the venue set named); a rerun adds nothing.
        """
        run_cli(
            lambda: run_coinglass(
                symbol=symbol,
                exchange=exchange,
                pair=pair,
                data=data,
                interval=interval,
                depth_range=depth_range,
                start=start,
                end=end,
                store=store,
                no_store=no_store,
                recordings=recordings,
                config=config,
                replay=replay,
                json_out=json_out,
            )
        )
