"""The Binance connector against the loopback exchange replaying the real USD-M recording.

Whatever faults the loopback injects (disconnects, duplicated, reordered and malformed
frames), decoding what the connector yields must give exactly the records of a clean offline
import of the same file, keyed as the store keys rows (every field but ``ts_recv``).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import msgspec
import numpy as np
import polars as pl
import pytest

from flushwatch.analytics.depth import rebuild_book
from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.connectors.binance import BinanceConnector
from flushwatch.connectors.config import Backoff, ConnectorConfig, Endpoints
from flushwatch.domain.records import BookUpdate, Record
from flushwatch.domain.tables import frames_by_type
from flushwatch.ingest.registry import parse
from flushwatch.testing.loopback import Faults, LoopbackExchange
from flushwatch.testing.loopback_replay import Recording, load_recording, schedule
from flushwatch.venues.registry import decoder_for

STREAMS = ("depth@0ms", "bookTicker", "trade")
REQUIRE = tuple(f"btcusdt@{s}" for s in STREAMS)


@pytest.fixture(scope="module")
def usdm(shared_data: Path) -> Path:
    """The real 6-minute USD-M BTCUSDT recording."""
    return shared_data / "hftbacktest-binance-ws-2024-08-08" / "usdm_btcusdt_20240808.gz"


@pytest.fixture(scope="module")
def recording(usdm: Path) -> Recording:
    """Its frames and snapshot, loaded once."""
    return load_recording(usdm)


@pytest.fixture(scope="module")
def clean(usdm: Path) -> dict[type[Record], pl.DataFrame]:
    """The clean offline import of the same file."""
    return parse(usdm).frames


def config_for(ex: LoopbackExchange, **kw: object) -> ConnectorConfig:
    """Point every endpoint at the loopback exchange."""
    ep = Endpoints(
        public_ws=f"{ex.ws_base}/public", market_ws=f"{ex.ws_base}/market", rest=ex.http_base
    )
    fast = Backoff(initial=0.01, maximum=0.2, timeout=30)
    base = ConnectorConfig(endpoints=ep, backoff=fast, oi_interval=None)  # the file has no OI
    return msgspec.structs.replace(base, **kw)


class Run(msgspec.Struct):
    """What a consumer saw."""

    frames: list[RawFrame]
    events: list[FeedEvent]
    connector: BinanceConnector


async def _drain(ex: LoopbackExchange, conn: BinanceConnector, deadline: float) -> Run:
    frames: list[RawFrame] = []
    events: list[FeedEvent] = []
    data = 0
    async with conn:
        async for item in conn.frames():
            if isinstance(item, FeedEvent):
                events.append(item)
            else:
                frames.append(item)
                if not item.http and not item.data.startswith('{"result"'):
                    data += 1
            synced = all(b.state == "live" for b in conn.books.values())
            if ex.done.is_set() and data >= ex.sent and synced:
                break
            if time.monotonic() > deadline:
                pytest.fail(f"timed out: {data} of {ex.sent} frames, events {events[-3:]}")
    return Run(frames=frames, events=events, connector=conn)


def replay(recording: Recording, faults: Faults, **kw: object) -> Run:
    """Replay the recording through the loopback into a connector; return what came out."""

    async def main() -> Run:
        async with LoopbackExchange(recording, faults=faults, require=REQUIRE) as ex:
            conn = BinanceConnector("binanceusdm", ["BTCUSDT"], STREAMS, config_for(ex, **kw))
            return await _drain(ex, conn, time.monotonic() + 60)

    return asyncio.run(main())


def decode(frames: Sequence[RawFrame]) -> tuple[dict[type[Record], pl.DataFrame], int]:
    """Decode frames as a consumer does; return frames per record type and failures."""
    decoder = decoder_for("binanceusdm")
    out: list[Record] = []
    bad = 0
    for f in frames:
        try:
            recs = (
                decoder.on_http(f.url, f.data, f.ts_recv)
                if f.http
                else decoder.on_message(f.data, f.ts_recv)
            )
        except msgspec.DecodeError:
            bad += 1
            continue
        out += recs
    return frames_by_type(out), bad


def keyed(frames: dict[type[Record], pl.DataFrame]) -> dict[str, pl.DataFrame]:
    """Distinct rows as the store keys them: every column but ts_recv (and the source line)."""
    out = {}
    for cls, df in frames.items():
        rows = df.drop([c for c in ("ts_recv", "_line") if c in df.columns]).unique()
        out[cls.__name__] = rows.sort(rows.columns)
    return out


def assert_same_records(
    live: dict[type[Record], pl.DataFrame], clean: dict[type[Record], pl.DataFrame]
) -> None:
    """The live and offline records are the same set under the store's key."""
    a, b = keyed(live), keyed(clean)
    assert sorted(a) == sorted(b)
    for name, df in a.items():
        assert df.equals(b[name]), name


def offline_top(df: pl.DataFrame, n: int) -> tuple[list[tuple[float, float]], ...]:
    """Top ``n`` levels of ``rebuild_book`` over BookUpdate rows."""
    ts = df["ts_recv"].to_numpy().astype(np.int64)
    book = rebuild_book(
        int(ts.max()),
        ts,
        (df["side"] == "bid").to_numpy(),
        df["price"].to_numpy(),
        df["qty"].to_numpy(),
        df["is_snapshot"].to_numpy(),
        df["update_id"].to_numpy(),
    )
    bids = list(zip(book.bid_price[:n].tolist(), book.bid_qty[:n].tolist(), strict=True))
    asks = list(zip(book.ask_price[:n].tolist(), book.ask_qty[:n].tolist(), strict=True))
    return bids, asks


def test_clean_replay_equals_offline_import(
    recording: Recording, clean: dict[type[Record], pl.DataFrame]
) -> None:
    """No faults: the same records as the offline import, and the same book."""
    run = replay(recording, Faults())
    live, bad = decode(run.frames)
    assert bad == 0
    assert_same_records(live, clean)
    assert not [e for e in run.events if e.kind in ("gap", "stale", "disconnected")]
    book = run.connector.books["BTCUSDT"]
    assert book.state == "live"
    assert book.top(20) == offline_top(live[BookUpdate], 20)
    assert sum(1 for f in run.frames if f.http) == 1


def test_faults_lose_nothing(recording: Recording, clean: dict[type[Record], pl.DataFrame]) -> None:
    """Disconnects, duplicates, reorders and malformed frames: still every record, once."""
    faults = Faults(
        seed=7,
        disconnect_every=9_000,
        duplicate_every=997,
        reorder_every=499,
        malformed_every=4_999,
    )
    run = replay(recording, faults)
    live, bad = decode(run.frames)
    cut = [o for o in schedule(recording, faults) if o.index < 0 and not o.data.endswith("}}")]
    assert bad == len(cut) > 0  # every malformed frame reached the consumer, and only those
    assert_same_records(live, clean)
    raw_rows = sum(df.height for df in live.values())
    assert raw_rows > sum(df.height for df in clean.values())  # duplicates reached the store
    kinds = [e.kind for e in run.events]
    assert kinds.count("disconnected") >= len(recording.frames) // 9_000 - 1
    assert "gap" not in kinds
    book = run.connector.books["BTCUSDT"]
    assert book.gaps == 0
    assert book.top(20) == offline_top(clean[BookUpdate], 20)


def test_dropped_diff_is_one_gap_and_a_resync(recording: Recording) -> None:
    """A depth diff that never arrives: exactly one gap, one resync, and a correct book."""
    run = replay(recording, Faults(drop_depth=(800,)))
    gaps = [e for e in run.events if e.kind == "gap"]
    assert len(gaps) == 1
    assert gaps[0].gap_start is not None
    assert gaps[0].gap_end is not None
    assert gaps[0].gap_start < gaps[0].gap_end
    assert sum(1 for f in run.frames if f.http) == 2
    book = run.connector.books["BTCUSDT"]
    assert (book.gaps, book.state) == (1, "live")
    live, _ = decode(run.frames)
    assert book.top(20) == offline_top(live[BookUpdate], 20)


def test_rate_limited_snapshot_waits_retry_after(recording: Recording) -> None:
    """HTTP 429 with Retry-After: the connector waits at least that long, then syncs."""
    short = Recording(frames=recording.frames[:3000], snapshots=recording.snapshots)
    faults = Faults(limit_snapshots=2, retry_after=1.0)

    async def main() -> tuple[Run, list[float]]:
        async with LoopbackExchange(short, faults=faults, require=REQUIRE) as ex:
            conn = BinanceConnector("binanceusdm", ["BTCUSDT"], STREAMS, config_for(ex))
            run = await _drain(ex, conn, time.monotonic() + 30)
            return run, ex.snapshot_requests

    run, asked = asyncio.run(main())
    assert len(asked) == 3
    waits = np.diff(asked)
    assert (waits >= 1.0).all(), waits
    assert [e.kind for e in run.events].count("rate_limited") == 2
    assert run.connector.books["BTCUSDT"].state == "live"


@pytest.mark.parametrize("path", ["", "/market"])
def test_legacy_path_market_stream_goes_stale(recording: Recording, path: str) -> None:
    """markPrice on the legacy path is acked then silent: stale within 2x its interval (C3)."""
    short = Recording(frames=recording.frames[:10], snapshots=recording.snapshots)
    interval = 1.0

    async def main() -> list[FeedEvent]:
        async with LoopbackExchange(short, mark_every=0.1) as ex:
            cfg = config_for(ex, expected_interval={"markPrice": interval})
            cfg = msgspec.structs.replace(
                cfg, endpoints=msgspec.structs.replace(cfg.endpoints, market_ws=ex.ws_base + path)
            )
            conn = BinanceConnector("binanceusdm", ["BTCUSDT"], ["markPrice@1s"], cfg)
            events: list[FeedEvent] = []
            deadline = time.monotonic() + 2.5 * interval
            async with conn:
                async for item in conn.frames():
                    if isinstance(item, FeedEvent):
                        events.append(item)
                        if item.kind == "stale" or time.monotonic() > deadline:
                            break
                    elif time.monotonic() > deadline:
                        break
            return events

    events = asyncio.run(main())
    stale = [e for e in events if e.kind == "stale"]
    if path == "/market":  # routed correctly: frames flow, never stale
        assert not stale
        return
    connected = next(e for e in events if e.kind == "connected")
    assert stale[0].stream == "btcusdt@markPrice@1s"
    assert stale[0].ts - connected.ts <= 2 * interval * 1e9
