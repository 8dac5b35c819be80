"""Issue 6's end-to-end proof: the real Binance recording, served by the loopback exchange
with faults, through the live connector into the recorder, ends as exactly the store a clean
``flushwatch import`` of the same file gives — none lost, none duplicated — with the book
equal to the offline rebuild and every injected gap reported."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import msgspec
import polars as pl
import pytest

from flushwatch.analytics.depth import rebuild_book
from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.connectors.binance import BinanceConnector
from flushwatch.connectors.config import Backoff, ConnectorConfig, Endpoints
from flushwatch.domain.records import MARKET_RECORDS, BookUpdate
from flushwatch.domain.tables import key_columns
from flushwatch.ingest.registry import parse
from flushwatch.live.recorder import EVENTS, Recorder, RecorderConfig
from flushwatch.store import Store
from flushwatch.testing.loopback import Faults, LoopbackExchange
from flushwatch.testing.loopback_replay import Recording, load_recording

STREAMS = ("depth@0ms", "bookTicker", "trade")
REQUIRE = tuple(f"btcusdt@{s}" for s in STREAMS)


@pytest.fixture(scope="module")
def usdm(shared_data: Path) -> Path:
    return shared_data / "hftbacktest-binance-ws-2024-08-08" / "usdm_btcusdt_20240808.gz"


@pytest.fixture(scope="module")
def recording(usdm: Path) -> Recording:
    return load_recording(usdm)


@pytest.fixture(scope="module")
def clean_store(usdm: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    store = Store.open(tmp_path_factory.mktemp("clean") / "store")
    store.write([parse(usdm)])
    return store


def _config(ex: LoopbackExchange) -> ConnectorConfig:
    ep = Endpoints(
        public_ws=f"{ex.ws_base}/public", market_ws=f"{ex.ws_base}/market", rest=ex.http_base
    )
    fast = Backoff(initial=0.01, maximum=0.2, timeout=30)
    return ConnectorConfig(endpoints=ep, backoff=fast, oi_interval=None)  # the file has no OI


async def _until_done(
    ex: LoopbackExchange, conn: BinanceConnector, deadline: float
) -> AsyncIterator[RawFrame | FeedEvent]:
    """The connector's output until the loopback has served the whole recording."""
    data = 0
    async with conn:
        async for item in conn.frames():
            yield item
            if (
                isinstance(item, RawFrame)
                and not item.http
                and not item.data.startswith('{"result"')
            ):
                data += 1
            synced = all(b.state == "live" for b in conn.books.values())
            if ex.done.is_set() and data >= ex.sent and synced:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {data} of {ex.sent} frames")


def _record(recording: Recording, faults: Faults, root: Path) -> tuple[Store, BinanceConnector]:
    store = Store.open(root / "store")

    async def main() -> BinanceConnector:
        async with LoopbackExchange(recording, faults=faults, require=REQUIRE) as ex:
            conn = BinanceConnector("binanceusdm", ["BTCUSDT"], STREAMS, _config(ex))
            rec = Recorder(
                RecorderConfig(recordings=root / "rec", batch_s=1.0),
                exchange="binanceusdm",
                store=store,
            )
            await rec.run(_until_done(ex, conn, time.monotonic() + 120))
            return conn

    return store, asyncio.run(main())


def _rows(store: Store) -> dict[str, pl.DataFrame]:
    out = {}
    for cls in MARKET_RECORDS:
        df = store.read(cls)
        if df.height:
            keys = key_columns(cls)
            out[cls.dataset] = df.select(keys).sort(keys)
    return out


def test_faults_on_store_equals_clean_import(
    recording: Recording, clean_store: Store, tmp_path: Path
) -> None:
    faults = Faults(
        seed=11, disconnect_every=20_000, duplicate_every=1_499, reorder_every=997,
        malformed_every=9_973,
    )  # fmt: skip
    store, conn = _record(recording, faults, tmp_path)
    live, clean = _rows(store), _rows(clean_store)
    assert sorted(live) == sorted(clean)
    for name, df in clean.items():
        assert live[name].equals(df), name  # none lost, none duplicated
    # The live book equals the book rebuilt offline from the same rows.
    book = clean_store.read(BookUpdate)
    ts = book["ts_recv"].to_numpy()
    offline = rebuild_book(
        int(ts.max()), ts, (book["side"] == "bid").to_numpy(), book["price"].to_numpy(),
        book["qty"].to_numpy(), book["is_snapshot"].to_numpy(), book["update_id"].to_numpy(),
    )  # fmt: skip
    bids, asks = conn.books["BTCUSDT"].top(20)
    top = 20
    bid_px, bid_q = offline.bid_price[:top].tolist(), offline.bid_qty[:top].tolist()
    ask_px, ask_q = offline.ask_price[:top].tolist(), offline.ask_qty[:top].tolist()
    assert bids == list(zip(bid_px, bid_q, strict=True))
    assert asks == list(zip(ask_px, ask_q, strict=True))
    events = [json.loads(line) for line in (tmp_path / "rec" / EVENTS).read_text().splitlines()]
    assert sum(e["kind"] == "disconnected" for e in events) >= 3  # the injected disconnects
    # The recordings themselves re-import into the live store adding nothing.
    files = [p for p in sorted((tmp_path / "rec").iterdir()) if p.suffix == ".gz"]
    assert len(files) >= 2  # websocket frames and REST bodies
    again = store.write([parse(p) for p in files])
    assert sum(s.rows_read.get("book", 0) for s in again) > 0
    assert sum(s.added for s in again) == 0


def test_dropped_diff_is_reported_as_a_gap(recording: Recording, tmp_path: Path) -> None:
    _, conn = _record(recording, Faults(drop_depth=(1_200,)), tmp_path)
    events = [
        msgspec.json.decode(line) for line in (tmp_path / "rec" / EVENTS).read_bytes().splitlines()
    ]
    gaps = [e for e in events if e["kind"] == "gap"]
    assert len(gaps) == 1
    assert conn.books["BTCUSDT"].state == "live"  # resynced from a fresh snapshot
