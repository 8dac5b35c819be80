"""``flushwatch record``: record a venue's live feed to rotating recordings and the store.

Runs until Ctrl-C or ``--duration``; prints what was recorded. Recordings re-import with
``flushwatch import <folder>``; see :mod:`flushwatch.live.recorder` for the folder layout and
the durability guarantees (a ``kill -9`` loses at most the last second).
"""

from __future__ import annotations

import asyncio
import contextlib
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli.options import JsonOpt, StoreOpt
from flushwatch.cli.options import run as _run
from flushwatch.cli.options import store_path as _store_path
from flushwatch.connectors.factory import venues_help
from flushwatch.errors import ConfigError, ExchangeUnavailable

if TYPE_CHECKING:
    from flushwatch.live.recorder import Recorder, RecordStats


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


def _connector(venue: str, symbols: list[str], streams: list[str], config: Path | None) -> Any:
    """Build the venue's connector lazily (it pulls in websockets, httpx or ccxt)."""
    from flushwatch.connectors.factory import build_connector, load_venue_config

    section = load_venue_config(config, venue)
    return build_connector(venue, symbols, streams or None, section)


async def _record(recorder: Recorder, connector: Any, duration: float | None) -> None:
    async with connector:
        if duration is None:
            await recorder.run(connector.frames())
            return
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(duration):
                await recorder.run(connector.frames())


def summary_lines(stats: RecordStats) -> list[str]:
    """The human summary printed at the end of a recording."""
    events = ", ".join(f"{n} {k}" for k, n in sorted(stats.events.items())) or "none"
    lines = [
        f"frames      {stats.frames:,} ({stats.http_frames:,} REST, {stats.rejected:,} rejected)",
        f"records     {stats.records:,} decoded, {stats.rows_added:,} new rows in the store",
        f"feed events {events} (gaps: {stats.events.get('gap', 0)})",
        f"files       {len(stats.files)} written, {len(stats.deleted)} deleted by the disk bound",
    ]
    if stats.salvaged:
        lines.append(f"salvaged    {len(stats.salvaged)} files left by an earlier crash")
    if stats.batches_dropped:
        lines.append(
            f"backpressure {stats.batches_dropped} batches caught up from "
            f"{len(stats.caught_up)} recordings"
        )
    lines += [f"error       {e}" for e in stats.errors[:5]]
    lines += [f"unreachable {url}: {why}" for url, why in sorted(stats.unreachable.items())]
    return lines


def run_record(
    venue: str,
    symbols: str,
    *,
    streams: str | None,
    store_root: Path | None,
    recordings: Path,
    max_disk_mb: float | None,
    duration: float | None,
    config: Path | None,
    json_out: bool,
) -> RecordStats:
    """Record until Ctrl-C or ``duration`` seconds; print and return the summary.

    Raises :class:`~flushwatch.errors.ExchangeUnavailable` (after the summary) when a stream
    was still unreachable at the end, so the command exits non-zero instead of silently.
    """
    import msgspec

    from flushwatch.live.recorder import Recorder, RecorderConfig
    from flushwatch.store import Store

    syms = _split(symbols)
    if not syms:
        raise ConfigError("--symbols: give at least one symbol, e.g. BTCUSDT,ETHUSDT")
    connector = _connector(venue, syms, _split(streams or ""), config)
    max_bytes = int(max_disk_mb * 1_000_000) if max_disk_mb else None
    rec_config = RecorderConfig(recordings=recordings, max_bytes=max_bytes)
    store = Store.open(store_root) if store_root is not None else None
    recorder = Recorder(rec_config, exchange=connector.exchange, store=store)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_record(recorder, connector, duration))
    stats = recorder.stats
    if json_out:
        typer.echo(msgspec.json.encode(stats).decode())
    else:
        typer.echo("\n".join(summary_lines(stats)))
    if stats.unreachable:
        urls = ", ".join(sorted(stats.unreachable))
        raise ExchangeUnavailable(f"cannot connect to {urls} (still unreachable at the end)")
    return stats


def register(app: typer.Typer) -> None:
    """Add ``record`` to the CLI."""

    @app.command()
    def record(
        venue: Annotated[str, typer.Option(help=f"Venue: {venues_help()}.")],
        symbols: Annotated[
            str,
            typer.Option(
                help="Comma-separated venue symbols, e.g. BTCUSDT,ETHUSDT (OKX BTC-USDT-SWAP; "
                "ccxt unified for ccxt:<id>, e.g. BTC/USDT:USDT)."
            ),
        ],
        streams: Annotated[
            str | None,
            typer.Option(
                help="Comma-separated stream kinds in the venue's words (default: trades, "
                "liquidations, mark/funding/OI, quotes and the order book of the venue)."
            ),
        ] = None,
        store: StoreOpt = None,
        no_store: Annotated[
            bool, typer.Option("--no-store", help="Record raw frames only.")
        ] = False,
        recordings: Annotated[Path, typer.Option(help="Folder for the raw recordings.")] = Path(
            "recordings"
        ),
        max_disk_mb: Annotated[
            float | None,
            typer.Option(help="Delete the oldest closed recordings above this size (MB)."),
        ] = None,
        duration: Annotated[
            float | None, typer.Option(help="Stop after this many seconds (default: Ctrl-C).")
        ] = None,
        config: Annotated[
            Path | None, typer.Option("--config", help="Connector TOML (endpoints, timeouts).")
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Record live market data: raw frames to rotating recordings, records to the store.

        The defaults are the venues' public production endpoints (no API key): Binance
        wss://fstream.binance.com (USDⓈ-M), wss://dstream.binance.com (COIN-M) and
        wss://stream.binance.com:9443 (spot), Bybit wss://stream.bybit.com, OKX
        wss://ws.okx.com:8443. --config FILE overrides them per venue; `flushwatch config
        venue` prints that file with every default.

        \b
        Example, the real Binance USDⓈ-M feed for BTC and ETH, one hour:
          flushwatch record --venue binanceusdm --symbols BTCUSDT,ETHUSDT \\
            --duration 3600 --store ./out/store
        """
        _run(
            lambda: run_record(
                venue,
                symbols,
                streams=streams,
                store_root=None if no_store else _store_path(store),
                recordings=recordings,
                max_disk_mb=max_disk_mb,
                duration=duration,
                config=config,
                json_out=json_out,
            )
        )
