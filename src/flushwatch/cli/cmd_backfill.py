"""``flushwatch backfill``: fetch recent history over REST (through ccxt) into the store.

Klines, settled funding and open-interest statistics (Bybit and OKX: also the long/short
account ratio; OKX: also its recent liquidation orders) of the last ``--hours`` (counted back
from ``--end``, default now) are paged from the venue, recorded verbatim to ``--recordings``
(re-importable with ``flushwatch import``) and written to the store in one atomic, idempotent
write, so ``flushwatch watch --store`` can prime from them. See :mod:`flushwatch.live.backfill`.
"""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NamedTuple

import typer

from flushwatch.cli.options import JsonOpt, StoreOpt
from flushwatch.cli.options import run as _run
from flushwatch.cli.options import store_path as _store_path
from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.connectors.config import ConnectorConfig
    from flushwatch.live.backfill import BackfillConfig, BackfillStats, Progress
    from flushwatch.store import Store

_NAMES = {
    "/fapi/v1/klines": "klines",
    "/fapi/v1/markPriceKlines": "mark klines",
    "/fapi/v1/fundingRate": "funding",
    "/futures/data/openInterestHist": "open interest",
}


def parse_end(text: str | None) -> int:
    """``--end`` as epoch milliseconds: an ISO time (UTC unless it says otherwise), or now."""
    if text is None:
        return time.time_ns() // 1_000_000
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as exc:
        raise ConfigError(f"--end {text!r}: not an ISO time (e.g. 2021-11-21T00:00Z)") from exc
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _section(config: Path | None, venue: str) -> dict[str, Any]:
    from flushwatch.connectors.factory import load_venue_config

    return load_venue_config(config, venue)


def summary_lines(stats: BackfillStats) -> list[str]:
    """The human summary printed at the end of a backfill."""
    lines = [
        f"window    {stats.start} → {stats.end} ({', '.join(stats.symbols)})",
        f"requests  {stats.requests:,} ({stats.rate_limited} rate limited), {stats.bytes:,} bytes",
    ]
    for name, n in stats.rows.items():
        added = stats.rows_added.get(name)
        new = "" if added is None else f", {added:,} new in the store"
        lines.append(
            f"{name:<13} {n:,} rows {stats.first.get(name, '')} → {stats.last.get(name, '')}{new}"
        )
    lines += [f"recording {f}" for f in stats.files]
    return lines


def run_backfill(
    venue: str,
    symbols: str,
    *,
    data: str | None = None,
    hours: float,
    interval: str,
    end: str | None,
    store_root: Path | None,
    recordings: Path,
    config: Path | None,
    json_out: bool,
) -> BackfillStats:
    """Backfill, print and return the summary."""
    import msgspec

    from flushwatch.connectors.config import load_config
    from flushwatch.live.backfill import VENUES, BackfillConfig
    from flushwatch.store import Store

    if venue not in VENUES:
        raise ConfigError(f"--venue {venue!r}: backfill supports {', '.join(VENUES)}")
    syms = [s.strip().upper() for s in symbols.split(",") if s.strip()]
    datasets = None if data is None else tuple(d.strip() for d in data.split(",") if d.strip())
    if not syms:
        raise ConfigError("--symbols: give at least one symbol, e.g. BTCUSDT,ETHUSDT")
    if hours <= 0:
        raise ConfigError("--hours must be > 0")
    section = _section(config, venue)
    try:
        options = msgspec.convert(section.pop("backfill", {}), BackfillConfig)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"--config [backfill]: {exc}") from exc
    conn = load_config(section)
    end_ms = parse_end(end)
    start_ms = end_ms - int(hours * 3_600_000)
    store = Store.open(store_root) if store_root is not None else None
    job = _Job(venue, syms, datasets, start_ms, end_ms, interval, options, conn)
    stats = asyncio.run(_backfill(job, recordings, store, json_out))
    if json_out:
        typer.echo(msgspec.json.encode(stats).decode())
    else:
        typer.echo("\n".join(summary_lines(stats)))
    return stats


class _Job(NamedTuple):
    venue: str
    symbols: list[str]
    datasets: tuple[str, ...] | None
    start_ms: int
    end_ms: int
    interval: str
    options: BackfillConfig
    conn: ConnectorConfig


async def _backfill(job: _Job, recordings: Path, store: Store | None, quiet: bool) -> BackfillStats:
    from rich.progress import Progress as Bars

    from flushwatch.live.backfill import backfill

    with Bars(transient=True, disable=quiet) as bars:
        tasks: dict[tuple[str, str], Any] = {}

        def progress(symbol: str, path: str, got: int, total: int) -> None:
            key = (symbol, path)
            if key not in tasks:
                tasks[key] = bars.add_task(f"{symbol} {_NAMES.get(path, path)}", total=total)
            bars.update(tasks[key], completed=got, total=total)

        report: Progress = progress
        return await backfill(
            job.venue,
            job.symbols,
            job.datasets,
            job.start_ms,
            job.end_ms,
            store,
            recordings,
            interval=job.interval,
            config=job.options,
            connector=job.conn,
            progress=report,
        )


def register(app: typer.Typer) -> None:
    """Add ``backfill`` to the CLI."""

    @app.command()
    def backfill(
        venue: Annotated[str, typer.Option(help="Venue: binanceusdm, binancecoinm, bybit or okx.")],
        symbols: Annotated[
            str,
            typer.Option(
                help="Comma-separated venue symbols: BTCUSDT,ETHUSDT (Binance, Bybit), "
                "BTC-USDT-SWAP (OKX)."
            ),
        ],
        data: Annotated[
            str | None,
            typer.Option(
                help="Comma-separated datasets (default: all the venue has): klines, funding, "
                "open_interest, long_short_ratio (COIN-M, Bybit, OKX), liquidations (OKX), "
                "mark_klines, index_klines, premium_klines (COIN-M)."
            ),
        ] = None,
        hours: Annotated[float, typer.Option(help="Hours of history before --end.")] = 24.0,
        interval: Annotated[str, typer.Option(help="Kline interval (1m, 5m, 1h …).")] = "1m",
        end: Annotated[
            str | None,
            typer.Option(help="End of the window, ISO UTC (default now), e.g. 2021-11-21T00:00Z."),
        ] = None,
        store: StoreOpt = None,
        no_store: Annotated[
            bool, typer.Option("--no-store", help="Record the REST bodies only.")
        ] = False,
        recordings: Annotated[Path, typer.Option(help="Folder for the REST recordings.")] = Path(
            "recordings"
        ),
        config: Annotated[
            Path | None,
            typer.Option(
                "--config",
                help="Connector TOML (REST endpoint, backoff, backfill page sizes).",
            ),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Fetch recent klines, funding, open-interest (and more) history into the store."""
        _run(
            lambda: run_backfill(
                venue,
                symbols,
                data=data,
                hours=hours,
                interval=interval,
                end=end,
                store_root=None if no_store else _store_path(store),
                recordings=recordings,
                config=config,
                json_out=json_out,
            )
        )
