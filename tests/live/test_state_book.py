"""The live checklist's ``book`` item from sequence-checked books, sampled at each bar close.

Three layers: the pure depth/spread functions on CONSTRUCTED books (exact numbers), the same
functions on the real Binance USD-M BTCUSDT recording replayed into the connector's
:class:`OrderBook` against the offline ``rebuild_book`` + ``curve_from_book``, and the live
state driven by a CONSTRUCTED market (prices, liquidations, and books set bar by bar through a
real ``OrderBook`` with its sequence rules) against the offline report's kernels. The last test
drives ``watch``'s monitor and view against the loopback exchange replaying the real recording.
"""

from __future__ import annotations

import asyncio
import io
import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import msgspec
import numpy as np
import pytest
from rich.console import Console

from flushwatch.alerts.config import AlertsConfig
from flushwatch.analytics.depth import Book, curve_from_book, rebuild_book
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import CheckItem
from flushwatch.cli.cmd_watch import build_monitor, run_watch
from flushwatch.cli.watch_venues import build_connectors
from flushwatch.connectors.book import OrderBook
from flushwatch.connectors.okx import OkxConfig, OkxWire
from flushwatch.domain.enums import Coverage, Market, PositionSide, Side
from flushwatch.domain.records import BookUpdate, Liquidation, Quote, Record, Trade
from flushwatch.live.bookview import (
    BookSample,
    LevelsView,
    bar_values,
    binance_source,
    binance_view,
    book_mid,
    depth_within,
    sample,
    side_arrays,
    spread_bps,
    text_book_view,
)
from flushwatch.live.state import LiveMonitor, LiveParams, LiveState
from flushwatch.report.build import analyse
from flushwatch.testing.loopback import LoopbackExchange
from flushwatch.testing.loopback_replay import Recording, load_recording
from flushwatch.testing.real import store_for
from flushwatch.venues.binance.wire import DepthSnapshot, DepthUpdate

S = 1_000_000_000
MIN = 60 * S
MS = 1_000_000
T0 = 1_723_161_600 * S  # 2024-08-09 00:00 UTC: the constructed market starts here
N, F = 200, 140  # minutes of the constructed market; the flush minute
REAL = "hftbacktest-binance-ws-2024-08-08/usdm_btcusdt_20240808.gz"
T_2355 = 1_723_161_300 * S  # 2024-08-08T23:55:00Z, inside the recording


def _seq_notional(levels: list[tuple[float, float]]) -> float:
    """Σ price × qty summed best first (the order the kernels sum in)."""
    total = 0.0
    for p, q in levels:
        total += p * q
    return total


# -- pure functions on constructed books -----------------------------------------------------

BIDS = {99.9: 2.0, 99.5: 4.0, 99.0: 10.0, 98.9: 100.0}  # 99.0 sits exactly 1 % below mid 100
ASKS = {100.1: 3.0, 101.0: 5.0, 101.5: 7.0}  # 101.0 exactly 1 % above


def test_depth_within_one_percent_of_a_constructed_book() -> None:
    view = LevelsView(BIDS, ASKS, in_sync=True, ts=7)
    assert view.mid() == book_mid(99.9, 100.1) == 100.0
    # Levels on the edge count; 98.9 (1.1 % away) and 101.5 (1.5 %) do not.
    assert view.depth_within(1.0, "bid") == 99.9 * 2.0 + 99.5 * 4.0 + 99.0 * 10.0
    assert view.depth_within(1.0, "bid") == pytest.approx(1587.8, abs=1e-9)
    assert view.depth_within(1.0, "ask") == 100.1 * 3.0 + 101.0 * 5.0
    assert view.depth_within(0.5, "bid") == 99.9 * 2.0 + 99.5 * 4.0
    assert view.depth_within(0.05, "bid") == 0.0  # nothing that close: a real zero
    assert view.spread_bps() == (100.1 - 99.9) / 100.0 * 1e4
    assert view.spread_bps() == pytest.approx(20.0, abs=1e-9)
    assert sample(view) == BookSample(
        depth_bid=99.9 * 2.0 + 99.5 * 4.0 + 99.0 * 10.0,
        depth_ask=100.1 * 3.0 + 101.0 * 5.0,
        spread_bps=(100.1 - 99.9) / 100.0 * 1e4,
        ts=7,
    )


def test_the_offline_curve_measures_the_same_depth() -> None:
    bids, asks = sorted(BIDS.items(), reverse=True), sorted(ASKS.items())
    book = Book(ts_ns=0, bid_price=np.array([p for p, _ in bids]),
                bid_qty=np.array([q for _, q in bids]), ask_price=np.array([p for p, _ in asks]),
                ask_qty=np.array([q for _, q in asks]), snapshot_id=1, events_applied=0,
                gaps=0)  # fmt: skip
    for side in ("bid", "ask"):
        mine = LevelsView(BIDS, ASKS, in_sync=True).depth_within(1.0, side)
        assert mine == curve_from_book(book, side).within(0.01)


def test_units_empty_crossed_and_resyncing_books() -> None:
    # COIN-M: 100 USD contracts; base = contracts × 100 / price, notional = price × base.
    px, q = side_arrays({50_000.0: 10.0, 49_900.0: 20.0}, contract=100.0, inverse=True)
    assert px.tolist() == [50_000.0, 49_900.0]
    assert q.tolist() == [10.0 * 100.0 / 50_000.0, 20.0 * 100.0 / 49_900.0]
    assert depth_within(px, q, 50_000.5, 1.0, "bid") == pytest.approx(3_000.0, rel=1e-12)
    # OKX linear swap: contracts of 0.01 BTC.
    assert side_arrays({100.0: 5.0}, contract=0.01)[1].tolist() == [5.0 * 0.01]
    # Any order in, best first summed: the same as the sorted levels.
    shuffled = {99.0: 10.0, 99.9: 2.0, 98.9: 100.0, 99.5: 4.0}
    assert (
        depth_within(*side_arrays(shuffled), 100.0, 1.0, "bid") == 99.9 * 2 + 99.5 * 4 + 99.0 * 10
    )
    assert spread_bps(101.0, 99.0) is None  # crossed: no market to measure
    empty_side = LevelsView(BIDS, {}, in_sync=True)
    assert (empty_side.mid(), empty_side.depth_within(1.0, "bid"), sample(empty_side)) == (
        None, None, None
    )  # fmt: skip
    resyncing = LevelsView(BIDS, ASKS, in_sync=False)
    assert (resyncing.mid(), resyncing.spread_bps(), sample(resyncing), sample(None)) == (
        None, None, None, None
    )  # fmt: skip


def test_a_sample_is_its_bars_only_within_the_lead() -> None:
    s = BookSample(depth_bid=1.0, depth_ask=2.0, spread_bps=3.0, ts=100 * S)
    assert bar_values(s, 100 * S, 200 * S, 5 * S) == (1.0, 3.0)  # unchanged since before close
    assert bar_values(s, 95 * S, 200 * S, 5 * S) == (1.0, 3.0)  # moved exactly the lead after
    assert all(math.isnan(x) for x in bar_values(s, 94 * S, 200 * S, 5 * S))
    no_time = msgspec.structs.replace(s, ts=None)  # Bybit/OKX: the event clock stands in
    assert bar_values(no_time, 196 * S, 200 * S, 5 * S) == (1.0, 3.0)
    assert all(math.isnan(x) for x in bar_values(no_time, 190 * S, 200 * S, 5 * S))


def _okx(action: str, bids: list[list[str]], asks: list[list[str]], seq: int, prev: int) -> str:
    data = {"bids": bids, "asks": asks, "checksum": 0, "seqId": seq, "prevSeqId": prev}
    arg = {"channel": "books", "instId": "BTC-USDT-SWAP"}
    return json.dumps({"arg": arg, "action": action, "data": [data]})


def test_okx_books_through_the_wire_read_in_contracts_and_go_missing_on_a_gap() -> None:
    """Constructed OKX frames through the real ``OkxWire`` (checksum 0: seqId chain only)."""
    wire = OkxWire(OkxConfig())
    key = ("books", "BTC-USDT-SWAP")
    assert not text_book_view(wire.books.get(key), contract=0.01).in_sync  # no snapshot yet
    snap = _okx("snapshot", [["99.9", "200", "0", "1"]], [["100.1", "300", "0", "1"]], 10, -1)
    wire.inspect(snap, 0)
    view = text_book_view(wire.books.get(key), contract=0.01)
    assert view.depth_within(1.0, "bid") == 99.9 * (200.0 * 0.01)
    assert view.depth_within(1.0, "ask") == 100.1 * (300.0 * 0.01)
    events, again, _ = wire.inspect(_okx("update", [["99.8", "5", "0", "1"]], [], 12, 11), 1)
    assert [e.kind for e in events] == ["gap"]
    assert again
    assert sample(text_book_view(wire.books.get(key), contract=0.01)) is None


# -- the real recording: the connector's book against the offline kernels --------------------


class _DepthFrame(msgspec.Struct):
    stream: str
    data: DepthUpdate


@pytest.fixture(scope="module")
def recording(shared_data: Path) -> Recording:
    """The real 6-minute USD-M BTCUSDT recording (frames and its REST snapshot)."""
    return load_recording(shared_data.joinpath(*REAL.split("/")))


@pytest.fixture(scope="module")
def diffs(recording: Recording) -> list[DepthUpdate]:
    """Its depth diffs, decoded as the connector decodes them."""
    dec = msgspec.json.Decoder(_DepthFrame, strict=False)
    return [dec.decode(text).data for stream, text in recording.frames if "@depth" in stream]


@pytest.fixture(scope="module")
def offline_cols(shared_data: Path) -> tuple[np.ndarray, ...]:
    """The same file imported through the product path: the book rows rebuild_book takes."""
    assert shared_data.is_dir()
    df = store_for((REAL,)).read(BookUpdate)

    def col(name: str, dtype: type = np.float64) -> np.ndarray:
        return df.get_column(name).fill_null(-1).to_numpy().astype(dtype)

    return (
        col("ts_event", np.int64),
        (df.get_column("side") == "bid").to_numpy(),
        col("price"),
        col("qty"),
        df.get_column("is_snapshot").to_numpy(),
        col("update_id", np.int64),
        col("first_update_id", np.int64),
        col("prev_update_id", np.int64),
    )


def _offline_depth(book: Book, side: str) -> float:
    """``curve_from_book`` at its last point within 1 %: the discrete cumulative notional."""
    curve = curve_from_book(book, side)  # type: ignore[arg-type]
    return curve.within(float(curve.offsets[curve.offsets <= 0.01][-1]))


def test_real_book_depth_equals_the_offline_kernels(
    recording: Recording, diffs: list[DepthUpdate], offline_cols: tuple[np.ndarray, ...]
) -> None:
    snap = msgspec.json.decode(recording.snapshots["BTCUSDT"], type=DepthSnapshot, strict=False)
    book = OrderBook("BTCUSDT", futures=True)
    book.on_snapshot(snap)
    times = sorted({(ev.T or ev.E) * MS for ev in diffs})
    points = [T_2355, *times[len(times) // 3 :: len(times) // 4]]
    applied = 0
    for at in sorted(points):
        while applied < len(diffs) and (diffs[applied].T or diffs[applied].E) * MS <= at:
            book.on_diff(diffs[applied])
            applied += 1
        assert book.state == "live"
        offline = rebuild_book(at, *offline_cols)
        assert offline.gaps == 0
        view = binance_view(book)
        assert view.in_sync
        assert view.ts == book.last_ts <= at
        assert view.mid() == offline.mid
        for side in ("bid", "ask"):
            live = view.depth_within(1.0, side)  # type: ignore[arg-type]
            assert live == pytest.approx(_offline_depth(offline, side), rel=1e-9, abs=0)
            assert 20e6 < live < 500e6  # tens of millions of USD: the deepest crypto book
        spread = view.spread_bps()
        assert spread == (offline.best_ask - offline.best_bid) / offline.mid * 1e4
    assert len(points) >= 4


# -- the live state on a constructed market --------------------------------------------------


def _levels(c: float, half: float, notional: float) -> tuple[list[tuple[float, float]], ...]:
    """Five levels a side within 0.9 % of ``c`` (best at ± ``half``), and one 3 % away."""
    bids = [(c * (1 - half - 0.002 * k), notional / (c * (1 - half - 0.002 * k))) for k in range(5)]
    asks = [(c * (1 + half + 0.002 * k), notional / (c * (1 + half + 0.002 * k))) for k in range(5)]
    return [*bids, (c * 0.97, 1000.0)], [*asks, (c * 1.03, 1000.0)]


@dataclass
class BookFeed:
    """A real ``OrderBook`` fed CONSTRUCTED diffs that honour the futures ``pu`` chain."""

    book: OrderBook = field(default_factory=lambda: OrderBook("SOLUSDT", futures=True, window=0))
    last_u: int = 100
    held: tuple[list[tuple[float, float]], ...] = ([], [])

    def start(self, levels: tuple[list[tuple[float, float]], ...], ts: int) -> None:
        """A snapshot, then the diff that bridges it (the book goes live)."""
        self.book.on_snapshot(DepthSnapshot(lastUpdateId=self.last_u, bids=[], asks=[]))
        self.held = ([], [])
        self.set(levels, ts, first=self.last_u)

    def set(self, levels: tuple[list[tuple[float, float]], ...], ts: int, first: int = -1) -> None:
        """Replace every level with ``levels`` in one diff stamped ``ts`` (ns)."""
        gone = [[(p, 0.0) for p, _ in side] for side in self.held]
        u = self.last_u + 1
        ev = DepthUpdate(E=ts // MS, T=ts // MS, s="SOLUSDT", U=first if first >= 0 else u, u=u,
                         pu=self.last_u, b=gone[0] + levels[0], a=gone[1] + levels[1])  # fmt: skip
        self.book.on_diff(ev)
        self.last_u, self.held = u, levels

    def skip(self, ts: int) -> None:
        """A diff whose predecessor never comes: a gap, and the book resyncs."""
        ev = DepthUpdate(E=ts // MS, T=ts // MS, s="SOLUSDT", U=self.last_u + 5,
                         u=self.last_u + 5, pu=self.last_u + 4, b=[], a=[])  # fmt: skip
        assert self.book.on_diff(ev) == "gap"
        self.last_u += 5


class Constructed(msgspec.Struct):
    """A CONSTRUCTED market: its records per minute and the bars they must make."""

    records: list[list[Record]]
    series: MarketSeries


def constructed(symbol: str = "SOLUSDT", base: float = 150.0) -> Constructed:
    """Minute bars with a long flush at minute ``F`` (trades and liquidations only)."""
    common = {"exchange": "binanceusdm", "market": Market.PERP, "symbol": symbol}
    recs: list[list[Record]] = []
    cols: dict[str, list[float]] = {k: [] for k in ("o", "h", "lo", "c", "v", "ll", "ls")}
    prev = base
    for i in range(N):
        t = T0 + i * MIN
        c = base * (1 + 0.002 * math.sin(i / 9.0)) if i < F else base * (0.975 + 0.0002 * (i - F))
        h, lo = max(prev, c) * 1.0004, min(prev, c) * 0.9996
        lo = base * 0.965 if i == F else lo
        long_usd = 6e7 if i == F else 2e4 * (1.5 + math.sin(i))
        short_usd = 5e3 * (1.3 + math.cos(i))
        minute: list[Record] = [
            Trade(ts_event=t + k * 15 * S, price=px, qty=1.0, taker_side=Side.BUY, **common)  # type: ignore[arg-type]
            for k, px in enumerate((prev, h, lo, c))
        ]
        for side, usd, sec in (
            (PositionSide.LONG, long_usd, 10),
            (PositionSide.SHORT, short_usd, 20),
        ):
            minute.append(Liquidation(ts_event=t + sec * S, side=side, price=c, qty=usd / c,
                                      notional=usd, venue_side="SELL", coverage=Coverage.COMPLETE,
                                      **common))  # type: ignore[arg-type]  # fmt: skip
        recs.append(minute)
        v = 0.0
        for px in (prev, h, lo, c):
            v += px * 1.0
        for key, val in zip(cols, (prev, h, lo, c, v, long_usd, short_usd), strict=True):
            cols[key].append(val)
        prev = c
    recs.append([Trade(ts_event=T0 + N * MIN, price=prev, qty=1.0, taker_side=Side.BUY,
                       **common)])  # type: ignore[arg-type]  # fmt: skip
    a = {k: np.array(v, dtype=np.float64) for k, v in cols.items()}
    m = MarketSeries(asset=symbol, sources={}, ts=T0 + np.arange(N, dtype=np.int64) * MIN,
                     step_s=60, open=a["o"], high=a["h"], low=a["lo"], close=a["c"],
                     volume_quote=a["v"], liq_long=a["ll"], liq_short=a["ls"])  # fmt: skip
    return Constructed(records=recs, series=m)


def _run(
    state: LiveState,
    mk: Constructed,
    feed: BookFeed,
    depth: float,
    spread: float,
    gap: range = range(0),
) -> tuple[list[float], list[float]]:
    """Drive the market minute by minute, setting the book before each close.

    Before the flush each side holds 5 × 1e5 USD within 1 % and the best levels sit 1 bp from
    the close; from the flush on the depth is ``depth`` × and the spread ``spread`` × that.
    Minutes in ``gap`` have a broken book (resynced at the end of the gap). Returns the
    expected per-bar depth and spread, computed here from the constructed levels.
    """
    exp_depth: list[float] = []
    exp_spread: list[float] = []
    for i, minute in enumerate(mk.records[:N]):
        state.on_records(minute)
        c = float(mk.series.close[i])
        post = i >= F
        levels = _levels(c, 1e-4 * (spread if post else 1.0), 1e5 * (depth if post else 1.0))
        close = T0 + (i + 1) * MIN - MS  # the diff's event time: inside minute i
        if i in gap:
            if i == gap.start:
                feed.skip(close)
            exp_depth.append(math.nan)
            exp_spread.append(math.nan)
            continue
        if i == 0 or i - 1 in gap:
            feed.start(levels, close)
        else:
            feed.set(levels, close)
        bid, ask = levels[0][0][0], levels[1][0][0]
        exp_depth.append(_seq_notional(levels[0][:5]))
        exp_spread.append((ask - bid) / (0.5 * (bid + ask)) * 1e4)
    state.on_records(mk.records[N])  # closes the last bar
    return exp_depth, exp_spread


def _offline_book_item(m: MarketSeries, state: LiveState) -> CheckItem:
    events, focus, sections = analyse(m, {}, state.p.report_config())
    assert state.events == events
    assert focus is not None
    assert state.checklist == sections["checklist"]  # every item, the book item included
    (item,) = [c for c in sections["checklist"] if c.name == "book"]
    return item


@pytest.mark.parametrize(
    ("depth", "spread", "verdict"),
    [(0.5, 1.0, "thin"), (0.9, 1.0, "recovered"), (0.9, 3.0, "thin")],
)
def test_book_item_from_sampled_books_equals_the_offline_kernels(
    depth: float, spread: float, verdict: str
) -> None:
    mk, feed = constructed(), BookFeed()
    state = LiveState("SOLUSDT", book=binance_source(feed.book))
    exp_depth, exp_spread = _run(state, mk, feed, depth, spread)
    live = state.series()
    assert live.depth_1pct is not None
    assert live.spread_bps is not None
    assert live.depth_1pct.tolist() == exp_depth
    assert live.spread_bps.tolist() == exp_spread
    assert exp_depth[0] == pytest.approx(5e5, rel=1e-12)
    m = msgspec.structs.replace(
        mk.series, depth_1pct=np.array(exp_depth), spread_bps=np.array(exp_spread)
    )
    item = _offline_book_item(m, state)
    (live_item,) = [c for c in state.checklist if c.name == "book"]
    assert live_item == item
    assert (item.state, item.signal) == (verdict, "good" if verdict == "recovered" else "bad")
    assert item.value == pytest.approx(depth, rel=1e-9)
    assert f"spread {2.0 * spread:.1f} bps vs 2.0 bps before" in item.sentence


def test_a_resyncing_book_leaves_its_bars_empty_never_carried() -> None:
    mk, feed = constructed(), BookFeed()
    state = LiveState("SOLUSDT", book=binance_source(feed.book))
    gap = range(150, 160)
    exp_depth, exp_spread = _run(state, mk, feed, 0.5, 1.0, gap)
    live = state.series()
    assert live.depth_1pct is not None
    assert live.spread_bps is not None
    got = live.depth_1pct.tolist()
    assert all(math.isnan(x) for x in got[150:160])
    assert not any(math.isnan(x) for x in got[:150] + got[160:])
    assert got[149] == exp_depth[149]
    assert got[160] == exp_depth[160]
    m = msgspec.structs.replace(
        mk.series, depth_1pct=np.array(exp_depth), spread_bps=np.array(exp_spread)
    )
    assert _offline_book_item(m, state).state == "thin"
    assert feed.book.gaps == 1
    assert feed.book.state == "live"


def test_a_book_that_never_syncs_makes_the_item_not_available() -> None:
    mk = constructed()
    never = OrderBook("SOLUSDT", futures=True)  # no snapshot ever arrives: always syncing
    state = LiveState("SOLUSDT", book=binance_source(never))
    for minute in mk.records:
        state.on_records(minute)
    live = state.series()
    assert live.depth_1pct is None
    assert live.spread_bps is None
    item = _offline_book_item(mk.series, state)
    assert item.state == "not_available"
    assert item.value is None
    snap = state.snapshot()
    assert (snap.book_state, snap.depth_bid_1pct, snap.spread_bps) == ("resyncing", None, None)


def test_a_book_far_ahead_of_the_close_is_not_that_bars_sample() -> None:
    mk, feed = constructed(), BookFeed()
    state = LiveState("SOLUSDT", book=binance_source(feed.book))
    levels = _levels(150.0, 1e-4, 1e5)
    state.on_records(mk.records[0])
    feed.start(levels, T0 + MIN - MS)
    state.on_records(mk.records[1])  # closes bar 0: the book changed 1 ms before its close
    state.on_records(mk.records[2][:1])  # closes bar 1: the book has not changed since
    feed.set(levels, T0 + 2 * MIN + 10 * S)
    state.on_records(mk.records[2][1:])
    state.on_records(mk.records[3])  # closes bar 2: the book changed 10 s into it
    state.on_records(mk.records[4][:1])  # closes bar 3
    # The connector applies diffs as frames arrive: here it runs 10 s ahead of the records
    # when bar 4 closes, so its book is not bar 4's state (the lead allows 5 s).
    feed.set(levels, T0 + 5 * MIN + 10 * S)
    state.on_records(mk.records[5])
    got = [b.depth_1pct for b in state.bars]
    assert got[:4] == [_seq_notional(levels[0][:5])] * 4
    assert math.isnan(got[4])
    assert math.isnan(state.bars[4].spread_bps)
    snap = state.snapshot()
    assert snap.book_state == "in_sync"
    assert snap.depth_bid_1pct == _seq_notional(levels[0][:5])


def test_without_a_book_the_spread_is_the_last_quote_at_the_close() -> None:
    mk = constructed()
    common = {"exchange": "binanceusdm", "market": Market.PERP, "symbol": "SOLUSDT"}
    state = LiveState("SOLUSDT")
    expected = []
    for i in range(10):
        bid, ask = 150.0 - 0.01 * (i + 1), 150.0 + 0.02 * (i + 1)
        quotes = [
            Quote(
                ts_event=T0 + i * MIN + (2 - k) * 20 * S,  # k = 0 comes last
                bid_price=bid - k,
                ask_price=ask - k,
                bid_qty=1.0,
                ask_qty=1.0,
                **common,
            )
            for k in (2, 1, 0)
        ]
        state.on_records(sorted([*mk.records[i], *quotes], key=lambda r: r.ts_event))
        expected.append((ask - bid) / (0.5 * (bid + ask)) * 1e4)
    state.on_records(mk.records[10])
    live = state.series()
    assert live.depth_1pct is None  # quotes carry no depth
    assert live.spread_bps is not None
    assert live.spread_bps.tolist() == expected
    snap = state.snapshot()
    assert snap.book_state == "quotes"
    assert snap.spread_bps == expected[-1]
    assert snap.depth_bid_1pct is None


def test_the_monitor_wires_books_by_symbol() -> None:
    feed = BookFeed()
    monitor = LiveMonitor(
        [LiveState("SOLUSDT"), LiveState("ETHUSDT")], books={"SOLUSDT": binance_source(feed.book)}
    )
    assert monitor.states["ETHUSDT"].book is None
    feed.start(_levels(150.0, 1e-4, 1e5), T0)
    snaps = {s.symbol: s for s in monitor.snapshots(T0)}
    assert snaps["SOLUSDT"].book_state == "in_sync"
    assert snaps["SOLUSDT"].depth_bid_1pct == pytest.approx(5e5, rel=1e-12)
    assert snaps["ETHUSDT"].book_state == "none"


# -- watch against the loopback exchange ----------------------------------------------------


def test_watch_shows_depth_from_the_real_replayed_book(
    tmp_path: Path,
    recording: Recording,
    diffs: list[DepthUpdate],
    offline_cols: tuple[np.ndarray, ...],
) -> None:
    """``watch``'s connector, monitor and view against the loopback replaying the recording.

    The run stops once the connector's book has applied the recording's last diff, so the
    final screen shows the final book; its depth must be the offline kernels' on every row.
    """
    last_u = diffs[-1].u
    buf = io.StringIO()

    async def main() -> LiveMonitor:
        async with LoopbackExchange(recording, require=("btcusdt@depth@0ms",)) as ex:
            config = tmp_path / "endpoints.toml"
            config.write_text(
                "[binanceusdm.endpoints]\n"
                f'public_ws = "{ex.ws_base}/public"\n'
                f'market_ws = "{ex.ws_base}/market"\n'
                f'rest = "{ex.http_base}"\n'
            )
            built = build_connectors(
                "binanceusdm", ["BTCUSDT"], config, spot=False, book_stream="depth@0ms"
            )
            monitor = build_monitor(built, ["BTCUSDT"], LiveParams())
            book = built[0][1].books["BTCUSDT"]

            def done(_alerts: object) -> bool:
                return bool(book.state == "live" and book.last_u == last_u)

            await run_watch(
                [c for _, c in built],
                monitor,
                AlertsConfig(rules=(), sinks=()),
                console=Console(file=buf, width=320),
                duration=120.0,
                silence_s=60.0,
                stop_when=done,
            )
            assert done(None), "the replay did not finish"
            return monitor

    monitor = asyncio.run(main())
    final = rebuild_book(int(offline_cols[0].max()), *offline_cols)
    bid, ask = _offline_depth(final, "bid"), _offline_depth(final, "ask")
    (snap,) = monitor.snapshots(0)
    assert snap.book_state == "in_sync"
    assert snap.depth_bid_1pct == pytest.approx(bid, rel=1e-9, abs=0)
    assert snap.depth_ask_1pct == pytest.approx(ask, rel=1e-9, abs=0)
    row = next(ln for ln in buf.getvalue().splitlines() if "depth ±1% bid / ask" in ln)
    assert f"${bid / 1e6:.2f}M / ${ask / 1e6:.2f}M" in row, row
    spread = (final.best_ask - final.best_bid) / final.mid * 1e4
    assert f"{spread:.3g} bps" in buf.getvalue()
