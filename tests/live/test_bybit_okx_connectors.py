"""Bybit and OKX connectors against the loopback exchange replaying the real recordings."""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections import Counter
from pathlib import Path

import polars as pl

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.connectors.bybit import BybitConfig, BybitConnector, BybitWire
from flushwatch.connectors.okx import OkxConfig, OkxConnector, OkxWire, SessionConfig
from flushwatch.domain.records import Record, flat_records
from flushwatch.domain.tables import frames_by_type, key_columns
from flushwatch.ingest.registry import parse
from flushwatch.testing.loopback_bybit_okx import Faults, LoopbackVenue
from flushwatch.testing.recorded import Frame, cryptofeed_frames
from flushwatch.venues.base import Decoder
from flushwatch.venues.bybit.decode import category_of
from flushwatch.venues.registry import decoder_for

FAST = SessionConfig(ping_interval=5.0, stale_after=10.0, backoff_initial=0.01, backoff_max=0.05)
BYBIT_LINEAR = ("tickers", "orderbook.200", "publicTrade", "kline.1", "allLiquidation")
BYBIT_SPOT = ("tickers", "orderbook.200", "publicTrade", "kline.1")
OKX_IDS = ("BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT")
Item = RawFrame | FeedEvent


def _recording(shared_data: Path, name: str) -> Path:
    return shared_data / "cryptofeed-ws-recordings" / f"{name}.jsonl.zst"


async def _drain(connectors: list[BybitConnector | OkxConnector], done: set[str]) -> list[Item]:
    """Collect every connector's items until each has received all of ``done``'s frames."""
    items: list[Item] = []
    missing = set(done)

    async def pump(conn: BybitConnector | OkxConnector) -> None:
        async with contextlib.aclosing(conn.frames()) as it:  # type: ignore[type-var]
            async for item in it:
                items.append(item)
                if isinstance(item, RawFrame):
                    missing.discard(item.data)
                if not missing:
                    return

    async with asyncio.timeout(20):
        tasks = [asyncio.create_task(pump(c)) for c in connectors]
        while missing:
            await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
            if all(t.done() for t in tasks):
                break
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert not missing, f"{len(missing)} recorded frames never arrived"
    return items


def _decode(exchange: str, items: list[Item]) -> list[Record]:
    decoders: dict[str, Decoder] = {}

    def dec(url: str) -> Decoder:
        label = category_of(url) or "" if exchange == "bybit" else "okx"
        if label not in decoders:
            decoders[label] = decoder_for(exchange, url)
        return decoders[label]

    out: list[Record] = []
    for item in items:
        if isinstance(item, RawFrame):
            d = dec(item.url)
            if item.http:
                out += d.on_http(item.url, item.data, item.ts_recv)
            else:
                out += d.on_message(item.data, item.ts_recv)
    return out


def _keyed(frames: dict[type[Record], pl.DataFrame], unique: bool) -> dict[str, pl.DataFrame]:
    out = {}
    for cls, df in frames.items():
        keys = key_columns(cls)
        part = df.select(keys)
        if unique:
            part = part.unique()
        out[cls.__name__] = part.sort(keys, nulls_last=True)
    return out


def _assert_same(path: Path, records: list[Record], *, unique: bool) -> None:
    clean = _keyed(parse(path).frames, unique)
    live = _keyed(frames_by_type(records), unique)
    assert sorted(live) == sorted(clean)
    for name, df in clean.items():
        assert df.height > 0
        assert live[name].equals(df), name


def _bybit(venue: LoopbackVenue, category: str, channels: tuple[str, ...]) -> BybitConnector:
    symbols = (
        ("BTCUSDT", "ETHUSDT", "SOLUSDT", "DOGEUSDT")
        if category == "linear"
        else ("BTCUSDT", "ETHUSDT")
    )
    return BybitConnector(
        BybitConfig(
            category=category,
            symbols=symbols,
            channels=channels,
            ws_base=venue.ws_base,
            rest_base=venue.rest_base,
            session=FAST,
        )
    )


def _bybit_expected(venue: LoopbackVenue, conns: list[BybitConnector]) -> set[str]:
    out: set[str] = set()
    for c in conns:
        out |= set(venue.recorded(f"/v5/public/{c.config.category}", c.config.topics()))
    return out


async def _replay_bybit(path: Path, faults: Faults) -> tuple[list[Item], LoopbackVenue]:
    async with LoopbackVenue("bybit", cryptofeed_frames(path), faults) as venue:
        conns = [_bybit(venue, "linear", BYBIT_LINEAR), _bybit(venue, "spot", BYBIT_SPOT)]
        async with conns[0], conns[1]:
            items = await _drain(list(conns), _bybit_expected(venue, conns))
    return items, venue


def test_bybit_replay_equals_clean_import(shared_data: Path) -> None:
    path = _recording(shared_data, "BYBIT")
    items, venue = asyncio.run(_replay_bybit(path, Faults()))
    events = [i for i in items if isinstance(i, FeedEvent)]
    assert [e.kind for e in events] == ["connected", "connected"]  # no gap in the real books
    assert sum(isinstance(i, RawFrame) and i.http for i in items) == 2  # instruments-info
    _assert_same(path, _decode("bybit", items), unique=False)
    assert venue.subscribes == 3  # linear 20 topics in 2 requests, spot 8 in 1


def test_bybit_disconnects_reconnect_resubscribe_without_duplicates(shared_data: Path) -> None:
    path = _recording(shared_data, "BYBIT")
    items, venue = asyncio.run(_replay_bybit(path, Faults(disconnect_every=400)))
    kinds = Counter(i.kind for i in items if isinstance(i, FeedEvent))
    assert venue.connections >= 6
    assert kinds["connected"] == venue.connections
    assert kinds["disconnected"] >= venue.connections - 2
    # every reconnect loses book continuity: reported as a gap per book, never papered over
    assert kinds["gap"] >= venue.connections - 2
    records = _decode("bybit", items)
    _assert_same(path, records, unique=False)  # resumed replay: nothing lost, nothing doubled


def test_bybit_silent_stream_is_stale_and_pinged(shared_data: Path) -> None:
    async def run() -> tuple[list[Item], LoopbackVenue]:
        frames = cryptofeed_frames(_recording(shared_data, "BYBIT"))
        async with LoopbackVenue("bybit", frames, Faults(silent=True)) as venue:
            session = SessionConfig(ping_interval=0.2, stale_after=1.0, backoff_initial=5.0)
            conn = BybitConnector(
                BybitConfig(ws_base=venue.ws_base, rest_base=None, session=session)
            )
            items: list[Item] = []
            async with conn, contextlib.aclosing(conn.frames()) as it, asyncio.timeout(15):  # type: ignore[type-var]
                async for item in it:
                    items.append(item)
                    if isinstance(item, FeedEvent) and item.kind == "stale":
                        break
        return items, venue

    items, venue = asyncio.run(run())
    events = [i for i in items if isinstance(i, FeedEvent)]
    connected = next(e for e in events if e.kind == "connected")
    stale = next(e for e in events if e.kind == "stale")
    assert (stale.ts - connected.ts) / 1e9 < 2 * 1.0  # within twice the expected interval
    assert venue.pings >= 1
    acks = [
        i
        for i in items
        if isinstance(i, RawFrame) and '"op":"subscribe"' in i.data.replace(" ", "")
    ]
    assert acks


def _bybit_book_frames(shared_data: Path) -> list[Frame]:
    return [
        f
        for f in cryptofeed_frames(_recording(shared_data, "BYBIT"))
        if f.kind == "recv" and f.url.endswith("linear") and '"orderbook.200.BTCUSDT"' in f.data
    ]


def test_bybit_book_rules_on_real_frames(shared_data: Path) -> None:
    frames = _bybit_book_frames(shared_data)
    wire = BybitWire(BybitConfig())
    for f in frames:
        assert wire.inspect(f.data, f.ts)[:2] == ([], [])
    book = wire.books["orderbook.200.BTCUSDT"]
    bids, asks = book.top(1)
    assert float(bids[0][0]) < float(asks[0][0])

    wire = BybitWire(BybitConfig())
    wire.inspect(frames[0].data, 1)
    events, sends, _ = wire.inspect(frames[2].data, 3)  # frames[1] lost
    assert [e.kind for e in events] == ["gap"]
    assert events[0].gap_start == 1
    assert [json.loads(s)["op"] for s in sends] == ["unsubscribe", "subscribe"]
    assert wire.inspect(frames[3].data, 4)[:2] == ([], [])  # reported once, waits for snapshot
    events, _, _ = wire.inspect(frames[0].data, 5)
    assert [e.kind for e in events] == ["resync"]

    restart = json.loads(frames[5].data)
    restart["data"]["u"] = 1
    events, sends, _ = wire.inspect(json.dumps(restart), 6)
    assert [e.kind for e in events] == ["resync"]
    assert sends == []


def _okx_frames(shared_data: Path) -> list[Frame]:
    return list(cryptofeed_frames(_recording(shared_data, "OKX")))


def test_okx_checksum_validates_every_real_frame(shared_data: Path) -> None:
    wire = OkxWire(OkxConfig(inst_ids=OKX_IDS))
    with_checksum = 0
    for f in _okx_frames(shared_data):
        if f.kind == "recv":
            with_checksum += '"checksum"' in f.data
            assert wire.inspect(f.data, f.ts)[:2] == ([], [])
    assert wire.checked == with_checksum == 290  # 3 snapshots + 287 updates
    assert wire.matched == wire.checked


def test_okx_checksum_mismatch_is_a_gap_and_resubscribes(shared_data: Path) -> None:
    wire = OkxWire(OkxConfig(inst_ids=OKX_IDS))
    updates = 0
    for f in _okx_frames(shared_data):
        if f.kind != "recv":
            continue
        msg = json.loads(f.data)
        if msg.get("action") == "update" and msg["arg"]["instId"] == "BTC-USDT":
            updates += 1
            if updates == 5:  # corrupt one size: the book no longer matches OKX's
                msg["data"][0]["asks"][0][1] = "123.456"
                events, sends, _ = wire.inspect(json.dumps(msg), f.ts)
                assert [e.kind for e in events] == ["gap"]
                assert "checksum" in events[0].detail
                assert [json.loads(s)["op"] for s in sends] == ["unsubscribe", "subscribe"]
                continue
        events, _, _ = wire.inspect(f.data, f.ts)
        assert all(e.kind != "gap" for e in events)
    assert ("books", "BTC-USDT") not in wire.books  # waits for the fresh snapshot


async def _replay_okx(path: Path, faults: Faults) -> tuple[list[Item], LoopbackVenue]:
    async with LoopbackVenue("okx", cryptofeed_frames(path), faults) as venue:
        cfg = OkxConfig(
            inst_ids=OKX_IDS,
            channels=("tickers", "trades", "books"),
            rest_base=venue.rest_base,
            ws_url=f"{venue.ws_base}/ws/v5/public",
            session=FAST,
        )
        conn = OkxConnector(cfg)
        keys = [(a["channel"], a["instId"]) for a in cfg.args()]
        async with conn:
            items = await _drain([conn], set(venue.recorded("/ws/v5/public", keys)))
    return items, venue


def test_okx_replay_equals_clean_import(shared_data: Path) -> None:
    path = _recording(shared_data, "OKX")
    items, _ = asyncio.run(_replay_okx(path, Faults()))
    assert [i.kind for i in items if isinstance(i, FeedEvent)] == ["connected"]
    _assert_same(path, _decode("okx", items), unique=False)


def test_okx_disconnects_and_duplicates_dedupe_to_clean_import(shared_data: Path) -> None:
    path = _recording(shared_data, "OKX")
    faults = Faults(disconnect_every=60, resend_on_reconnect=5)
    items, venue = asyncio.run(_replay_okx(path, faults))
    kinds = Counter(i.kind for i in items if isinstance(i, FeedEvent))
    assert venue.connections >= 5
    assert kinds["connected"] == venue.connections
    assert kinds["gap"] >= 1
    records = _decode("okx", items)
    _assert_same(path, records, unique=True)  # the store's key removes the resent frames
    assert len(flat_records(records)) > sum(df.height for df in parse(path).frames.values())
