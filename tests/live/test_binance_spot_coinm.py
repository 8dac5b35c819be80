"""Binance spot and COIN-M end to end, like USD-M in ``test_record_end_to_end``.

The real 6-minute spot and COIN-M recordings (hftbacktest, 2024-08-08, each with its REST
depth snapshot) are served by the loopback exchange with faults, through the live connector
into the recorder. The store must hold exactly what a clean ``flushwatch import`` of the same
file gives, the live book must equal the offline rebuild level by level, and a dropped diff
must be exactly one gap and one resync.

Two venue differences are checked rather than hidden:

* spot diffs carry no ``pu``; the chain rule is ``U == previous u + 1`` (spot bookTicker and
  the spot REST snapshot carry no exchange time either, so their ``ts_event`` is the receive
  time: those rows can only be compared on their exchange-given fields);
* COIN-M quantities are contracts of 100 USD: the decoder converts them to BTC per row, the
  live book keeps contracts and converts the same way in ``top_base``.
"""

from __future__ import annotations

import asyncio
import gzip
import itertools
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
from flushwatch.domain.records import MARKET_RECORDS, BookUpdate, Quote, Record
from flushwatch.domain.tables import key_columns
from flushwatch.ingest.registry import parse
from flushwatch.live.recorder import EVENTS, Recorder, RecorderConfig
from flushwatch.store import Store
from flushwatch.testing.loopback import Faults, LoopbackExchange
from flushwatch.testing.loopback_replay import Recording, is_depth_diff, load_recording, schedule

FOLDER = "hftbacktest-binance-ws-2024-08-08"
FAULTS = Faults(
    seed=5, disconnect_every=15_000, duplicate_every=1_499, reorder_every=997,
    malformed_every=9_973,
)  # fmt: skip


class Venue(msgspec.Struct, frozen=True):
    """One recording and how to subscribe to what it holds."""

    exchange: str
    file: str
    symbol: str
    streams: tuple[str, ...]
    drop: int  # 1-based position, among depth diffs, of the diff the gap test drops

    @property
    def require(self) -> tuple[str, ...]:
        return tuple(f"{self.symbol.lower()}@{s}" for s in self.streams)


SPOT = Venue(
    "binance", "spot_btcusdt_20240808.gz", "BTCUSDT", ("depth@100ms", "bookTicker", "trade"), 1_200
)
COINM = Venue(
    "binancecoinm", "cm_btcusd_perp_20240808.gz", "BTCUSD_PERP",
    ("depth@0ms", "bookTicker", "trade"), 12_000,
)  # fmt: skip


class Run(msgspec.Struct):
    """What one recording session left behind."""

    store: Store
    connector: BinanceConnector
    events: list[dict[str, object]]
    rec: Path


@pytest.fixture(scope="module", params=[SPOT, COINM], ids=["spot", "coinm"])
def venue(request: pytest.FixtureRequest) -> Venue:
    """Each venue in turn."""
    found: Venue = request.param
    return found


@pytest.fixture(scope="module")
def recording(venue: Venue, shared_data: Path) -> Recording:
    """The venue's frames and snapshot, loaded once."""
    return load_recording(shared_data / FOLDER / venue.file)


@pytest.fixture(scope="module")
def clean(venue: Venue, shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Store:
    """A clean offline import of the same file."""
    store = Store.open(tmp_path_factory.mktemp("clean") / "store")
    store.write([parse(shared_data / FOLDER / venue.file)])
    return store


async def _until_done(
    ex: LoopbackExchange, conn: BinanceConnector, deadline: float
) -> AsyncIterator[RawFrame | FeedEvent]:
    """The connector's output until the loopback has served the whole recording."""
    data = 0
    async with conn:
        async for item in conn.frames():
            yield item
            if isinstance(item, RawFrame) and not item.http and not item.data.startswith('{"re'):
                data += 1
            synced = all(b.state == "live" for b in conn.books.values())
            if ex.done.is_set() and data >= ex.sent and synced:
                return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {data} of {ex.sent} frames")


def _record(venue: Venue, recording: Recording, faults: Faults, root: Path) -> Run:
    store = Store.open(root / "store")

    async def main() -> BinanceConnector:
        async with LoopbackExchange(recording, faults=faults, require=venue.require) as ex:
            # spot and COIN-M serve every stream on one base (DOMAIN.md C3): the legacy path
            ep = Endpoints(public_ws=ex.ws_base, market_ws=ex.ws_base, rest=ex.http_base)
            fast = Backoff(initial=0.01, maximum=0.2)
            cfg = ConnectorConfig(endpoints=ep, backoff=fast, oi_interval=None)  # files: no OI
            conn = BinanceConnector(venue.exchange, [venue.symbol], venue.streams, cfg)
            rec = Recorder(
                RecorderConfig(recordings=root / "rec", batch_s=1.0),
                exchange=venue.exchange,
                store=store,
            )
            await rec.run(_until_done(ex, conn, time.monotonic() + 120))
            return conn

    conn = asyncio.run(main())
    lines = (root / "rec" / EVENTS).read_bytes().splitlines()
    return Run(store, conn, [msgspec.json.decode(line) for line in lines], root / "rec")


def _keyed(store: Store, cls: type[Record], *, drop: tuple[str, ...] = ()) -> pl.DataFrame:
    keys = [k for k in key_columns(cls) if k not in drop]
    return store.read(cls).select(keys).sort(keys)


def _offline_top(rows: pl.DataFrame, n: int) -> tuple[list[tuple[float, float]], ...]:
    """Top ``n`` levels of ``rebuild_book`` over decoded BookUpdate rows (base units)."""
    ts = rows["ts_recv"].to_numpy()
    book = rebuild_book(
        int(ts.max()), ts, (rows["side"] == "bid").to_numpy(), rows["price"].to_numpy(),
        rows["qty"].to_numpy(), rows["is_snapshot"].to_numpy(), rows["update_id"].to_numpy(),
    )  # fmt: skip
    bids = list(zip(book.bid_price[:n].tolist(), book.bid_qty[:n].tolist(), strict=True))
    asks = list(zip(book.ask_price[:n].tolist(), book.ask_qty[:n].tolist(), strict=True))
    return bids, asks


def _duplicated_tickers(recording: Recording, faults: Faults) -> int:
    """bookTicker frames the loopback sends twice (whole copies, not the cut ones)."""
    return sum(
        1
        for o in schedule(recording, faults)
        if o.index < 0 and o.stream.endswith("@bookTicker") and o.data.endswith("}}")
    )


def test_faults_on_store_equals_clean_import(
    venue: Venue, recording: Recording, clean: Store, tmp_path: Path
) -> None:
    """Disconnects, duplicates, reorders, malformed frames: the store still equals the import."""
    run = _record(venue, recording, FAULTS, tmp_path)
    datasets = [c for c in MARKET_RECORDS if clean.read(c).height]
    assert {c.dataset for c in datasets} == {"trades", "quotes", "book"}
    assert [c for c in MARKET_RECORDS if run.store.read(c).height] == datasets
    spot = venue is SPOT
    for cls in datasets:
        if spot and cls in (Quote, BookUpdate):
            continue  # compared below, apart from the receive-time ts_event
        assert _keyed(run.store, cls).equals(_keyed(clean, cls)), cls.dataset
    if spot:
        book, ref = run.store.read(BookUpdate), clean.read(BookUpdate)
        diffs, ref_diffs = (df.filter(~pl.col("is_snapshot")) for df in (book, ref))
        keys = key_columns(BookUpdate)
        assert diffs.select(keys).sort(keys).equals(ref_diffs.select(keys).sort(keys))
        # the snapshot (no exchange time: ts_event = receive time) on every other field
        snap = [k for k in keys if k != "ts_event"]
        got = book.filter(pl.col("is_snapshot")).select(snap).sort(snap)
        assert got.height == 2_000  # limit=1000 levels per side
        assert got.equals(ref.filter(pl.col("is_snapshot")).select(snap).sort(snap))
        # quotes: identical on every exchange-given field. A duplicated bookTicker frame has
        # another receive time (its ts_event), so the store's key cannot catch it: the
        # decoder drops a repeated update id ``u`` instead, and none is left over.
        quotes, ref_q = run.store.read(Quote), clean.read(Quote)
        assert _duplicated_tickers(recording, FAULTS) > 0
        assert quotes.height == ref_q.height
        fields = [k for k in key_columns(Quote) if k != "ts_event"]
        assert (
            quotes.select(fields)
            .unique()
            .sort(fields)
            .equals(ref_q.select(fields).unique().sort(fields))
        )
    # the live book equals the book rebuilt offline from the clean import, level by level
    live = run.connector.books[venue.symbol]
    assert (live.state, live.gaps) == ("live", 0)
    assert live.top_base(20) == _offline_top(clean.read(BookUpdate), 20)
    assert sum(e["kind"] == "disconnected" for e in run.events) >= 2
    # the recordings re-import into the live store adding nothing
    files = sorted(p for p in run.rec.iterdir() if p.suffix == ".gz")
    assert len(files) == 2  # websocket frames and REST bodies
    again = run.store.write([parse(p) for p in files])
    assert sum(s.rows_read.get("book", 0) for s in again) > 0
    assert sum(s.added for s in again) == 0


def test_dropped_diff_is_one_gap_and_one_resync(
    venue: Venue, recording: Recording, tmp_path: Path
) -> None:
    """A depth diff that never arrives: one gap, one resync, a fresh snapshot, a correct book."""
    run = _record(venue, recording, Faults(drop_depth=(venue.drop,)), tmp_path)
    gaps = [e for e in run.events if e["kind"] == "gap"]
    resyncs = [e for e in run.events if e["kind"] == "resync"]
    assert (len(gaps), len(resyncs)) == (1, 1)
    rule = "U == previous u + 1" if venue is SPOT else "pu == previous u"
    assert gaps[0]["detail"] == f"depth diff chain broken (expected {rule})"
    # the gap spans from the last diff applied to the first one after the hole
    diffs = [json.loads(t)["data"] for s, t in recording.frames if is_depth_diff(s)]
    before, after = diffs[venue.drop - 2], diffs[venue.drop]
    ms = 1_000_000
    assert gaps[0]["gap_start"] == (before.get("T") or before["E"]) * ms
    assert gaps[0]["gap_end"] == (after.get("T") or after["E"]) * ms
    book = run.connector.books[venue.symbol]
    assert (book.gaps, book.resyncs, book.state) == (1, 1, "live")
    rows = run.store.read(BookUpdate)
    snapshots = rows.filter(pl.col("is_snapshot"))["update_id"].unique()
    assert snapshots.len() == 2  # the recorded snapshot and the fresh one after the gap
    # the fresh snapshot has the venue's own layout: spot sends no E/T, COIN-M symbol/pair
    (rest,) = run.rec.glob("*_rest_*.gz")
    with gzip.open(rest, "rt") as fh:
        lines = [json.loads(line) for line in fh]
    bodies = [json.loads(line["data"]) for line in lines if line["t"] == "http"]
    recorded = json.loads(recording.snapshots[venue.symbol])
    assert [list(b) for b in bodies] == [list(recorded)] * 2
    assert book.top_base(20) == _offline_top(rows, 20)


def test_spot_diffs_chain_without_pu(shared_data: Path) -> None:
    """The spot recording has no ``pu``: its chain is U == previous u + 1 throughout."""
    recording = load_recording(shared_data / FOLDER / SPOT.file)
    diffs = [json.loads(t)["data"] for s, t in recording.frames if is_depth_diff(s)]
    assert len(diffs) == 3_451
    assert not any("pu" in d for d in diffs)
    assert all(b["U"] == a["u"] + 1 for a, b in itertools.pairwise(diffs))
