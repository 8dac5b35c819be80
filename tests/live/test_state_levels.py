"""The live checklist reads key levels (own, BTC's, ETH's) and can be primed from the store.

Constructed markets (labelled as such: no real data is invented) are driven record by record
through the live state, and the result is compared with the offline report's composition
(``report.build.analyse``) run on arrays built here independently of the live code.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import msgspec
import numpy as np
import pytest

from flushwatch.analytics.levels import reference_event
from flushwatch.analytics.market import MarketSeries
from flushwatch.cli.cmd_watch import prime_from_store
from flushwatch.config import ReportConfig
from flushwatch.domain.enums import Coverage, Market, PositionSide, Side
from flushwatch.domain.records import Funding, Liquidation, OpenInterest, Record, Trade
from flushwatch.domain.time import parse_iso
from flushwatch.errors import ConfigError
from flushwatch.live.state import LiveMonitor, LiveParams, LiveState
from flushwatch.report.assemble import assemble
from flushwatch.report.build import analyse
from flushwatch.testing.real import report_as_of, store_for

S = 1_000_000_000
MIN = 60 * S
T0 = 1_723_161_600 * S  # 2024-08-09 00:00 UTC (constructed markets start here)
N = 200  # minutes per constructed market (inside the default 480-bar ring)
F = 140  # the flush minute
PARAMS = LiveParams()
COINGLASS_1H = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
FUNDING_WINDOWS = "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"


class Constructed(msgspec.Struct, frozen=True):
    """A constructed market: its records and the bars they must make (built independently)."""

    records: list[Record]
    series: MarketSeries


def _after_falls(k: int) -> float:
    return 0.975 - 0.0004 * k  # keeps falling after the flush: far below the flush low


def _after_recovers(k: int) -> float:
    return 0.975 + 0.0002 * k  # recovers above the flush low and stays there


def constructed(symbol: str, base: float, after: Callable[[int], float]) -> Constructed:
    """Minute bars with a long flush at minute ``F``: price, liquidations, OI and funding."""
    recs: list[Record] = []
    cols: dict[str, list[float]] = {k: [] for k in ("o", "h", "lo", "c", "v", "ll", "ls", "oi")}
    cols["f"] = []
    prev = base
    common = {"exchange": "binanceusdm", "market": Market.PERP, "symbol": symbol}
    for i in range(N):
        t = T0 + i * MIN
        if i < F:
            c = base * (1 + 0.002 * math.sin(i / 9.0) + 0.0005 * math.sin(i / 2.3))
        else:
            c = base * after(i - F)
        o = prev
        h, lo = max(o, c) * 1.0004, min(o, c) * 0.9996
        if i == F:
            lo = base * 0.965
        long_usd = 6e7 if i == F else 2e4 * (1.5 + math.sin(i))
        short_usd = 5e3 * (1.3 + math.cos(i))
        oi = 1e5 * (1 + 0.001 * math.sin(i / 5.0)) * (0.92 + 0.0001 * (i - F) if i >= F else 1.0)
        rate = 1e-4 if i < F else -5e-5
        for k, px in enumerate((o, h, lo, c)):
            recs.append(Trade(ts_event=t + k * 15 * S, price=px, qty=1.0, taker_side=Side.BUY,
                              **common))  # fmt: skip
        for side, usd, ts in (
            (PositionSide.LONG, long_usd, 10),
            (PositionSide.SHORT, short_usd, 20),
        ):
            recs.append(Liquidation(ts_event=t + ts * S, side=side, price=c, qty=usd / c,
                                    notional=usd, venue_side="SELL", coverage=Coverage.COMPLETE,
                                    **common))  # fmt: skip
        recs.append(OpenInterest(ts_event=t + 50 * S, oi_base=oi, oi_quote=oi * c, **common))
        recs.append(Funding(ts_event=t + 55 * S, rate=rate, is_settled=False, **common))
        # The live bar's volume is the running sum of price × qty, in this order.
        v = 0.0
        for px in (o, h, lo, c):
            v += px * 1.0
        for key, val in zip(cols, (o, h, lo, c, v, long_usd, short_usd, oi), strict=False):
            cols[key].append(val)
        cols["f"].append(rate)
        prev = c
    # One trade in minute N closes minute N - 1.
    recs.append(Trade(ts_event=T0 + N * MIN, price=prev, qty=1.0, taker_side=Side.BUY, **common))
    arr = {k: np.array(v, dtype=np.float64) for k, v in cols.items()}
    m = MarketSeries(
        asset=symbol, sources={}, ts=T0 + np.arange(N, dtype=np.int64) * MIN, step_s=60,
        open=arr["o"], high=arr["h"], low=arr["lo"], close=arr["c"], volume_quote=arr["v"],
        liq_long=arr["ll"], liq_short=arr["ls"], oi_base=arr["oi"], oi_quote=arr["oi"] * arr["c"],
        funding=arr["f"],
    )  # fmt: skip
    return Constructed(records=recs, series=m)


def _feed(monitor: LiveMonitor, *markets: Constructed) -> None:
    merged = sorted((r for mk in markets for r in mk.records), key=lambda r: (r.ts_event, r.symbol))
    for rec in merged:
        monitor.on_records([rec])  # one record per batch: the hardest interleaving


def _assert_as_offline(
    state: LiveState, m: MarketSeries, refs: dict[str, MarketSeries]
) -> dict[str, object]:
    events, focus, sections = analyse(m, refs, state.p.report_config())
    assert state.events == events
    assert focus is not None
    assert state.levels == sections["levels"]
    assert state.ref_levels == sections["reference_levels"]
    assert state.checklist == sections["checklist"]
    assert state.risk == sections["risk_box"]
    return sections


def test_live_levels_and_checklist_equal_the_offline_kernels_on_the_same_bars() -> None:
    mk = constructed("SOLUSDT", 150.0, _after_recovers)
    state = LiveState("SOLUSDT")
    state.on_records(mk.records)
    # The ring holds exactly the bars constructed independently.
    live = state.series()
    assert live.ts.tolist() == mk.series.ts.tolist()
    for name in ("open", "high", "low", "close", "volume_quote", "liq_long", "oi_base"):
        assert getattr(live, name).tolist() == getattr(mk.series, name).tolist(), name
    _assert_as_offline(state, mk.series, {})
    (event,) = state.events
    assert (event.kind, event.start_ts) == ("long_flush", T0 + F * MIN)
    items = {c.name: c for c in state.checklist}
    assert items["levels_asset"].state == "held"
    assert {k for k, c in items.items() if c.state == "not_available"} == {
        "basis", "spot_vs_perp", "spot_held", "levels_btc", "levels_eth", "book"
    }  # fmt: skip
    assert {r.name: r.fired for r in state.risk}["btc_support_lost"] is None
    assert any(lv.kind == "flush_low" and lv.state == "holding" for lv in state.levels)


@pytest.mark.parametrize(
    ("btc_after", "btc_state", "fired"),
    [(_after_falls, "flush_low_lost", True), (_after_recovers, "held", False)],
)
def test_watched_btc_and_eth_feed_every_checklist_and_the_btc_rule(
    btc_after: Callable[[int], float], btc_state: str, fired: bool
) -> None:
    btc = constructed("BTCUSDT", 60_000.0, btc_after)
    eth = constructed("ETHUSDT", 3_000.0, _after_recovers)
    monitor = LiveMonitor([LiveState("ETHUSDT"), LiveState("BTCUSDT")])
    _feed(monitor, btc, eth)
    refs = {"BTC": btc.series, "ETH": eth.series}
    s_eth, s_btc = monitor.states["ETHUSDT"], monitor.states["BTCUSDT"]
    _assert_as_offline(s_eth, eth.series, refs)
    _assert_as_offline(s_btc, btc.series, refs)
    for state in (s_eth, s_btc):
        items = {c.name: c for c in state.checklist}
        assert items["levels_btc"].state == btc_state
        assert items["levels_eth"].state == "held"
        rules = {r.name: r for r in state.risk}
        assert rules["btc_support_lost"].fired is fired
    # BTC's flush low is BTC's own low in ETH's flush window, never ETH's price.
    (btc_low,) = [lv for lv in s_eth.ref_levels["BTC"] if lv.kind == "flush_low"]
    assert btc_low.price == 0.965 * 60_000.0
    if fired:
        # BTC closed more than break_pct below its flush low (0.965 × 60,000) and stayed there.
        lost = [lv for lv in s_eth.ref_levels["BTC"] if lv.state == "lost"]
        assert any(lv.kind == "flush_low" and lv.price == 0.965 * 60_000.0 for lv in lost)
        assert any("BTC" in e for e in {r.name: r for r in s_eth.risk}["btc_support_lost"].evidence)
    snap = monitor.snapshots(T0 + (N + 1) * MIN)[0]
    assert snap.symbol == "ETHUSDT"
    assert snap.references == ["BTC", "ETH"]
    assert snap.ref_levels["BTC"] == s_eth.ref_levels["BTC"]
    assert snap.levels == s_eth.levels


def test_unwatched_references_stay_not_available() -> None:
    sol = constructed("SOLUSDT", 150.0, _after_recovers)
    btc = constructed("BTCUSDT", 60_000.0, _after_falls)
    alone = LiveMonitor([LiveState("SOLUSDT")])
    _feed(alone, sol)
    _assert_as_offline(alone.states["SOLUSDT"], sol.series, {})
    only_btc = LiveMonitor([LiveState("BTCUSDT")])
    _feed(only_btc, btc)
    # BTC alone is its own BTC reference (as in the report); ETH is not watched.
    _assert_as_offline(only_btc.states["BTCUSDT"], btc.series, {"BTC": btc.series})
    for monitor, btc_na in ((alone, True), (only_btc, False)):
        (state,) = monitor.states.values()
        items = {c.name: c for c in state.checklist}
        assert items["levels_eth"].state == "not_available"
        assert items["levels_eth"].signal == "unknown"
        assert (items["levels_btc"].state == "not_available") is btc_na
        fired = {r.name: r.fired for r in state.risk}["btc_support_lost"]
        assert fired is (None if btc_na else True)


def _history(mk: Constructed, bars: int) -> MarketSeries:
    return mk.series.slice(0, bars)


def test_priming_marks_history_and_leaves_the_gap_to_live_empty() -> None:
    mk = constructed("SOLUSDT", 150.0, _after_recovers)
    ring, primed = 120, F + 30
    state = LiveState("SOLUSDT", LiveParams(history_bars=ring))
    assert state.prime(_history(mk, primed), "constructed store bars") == ring  # the last ring
    assert state.history_bars == ring
    assert state.bars[0].ts == T0 + (primed - ring) * MIN
    assert len(state.events) == 1  # the kernels ran on the history alone
    assert state.events[0].start_ts == T0 + F * MIN
    snap = state.snapshot()
    assert (snap.history_bars, snap.history_hours) == (ring, 2.0)
    assert snap.history_source == "constructed store bars"
    # Live records resume 10 minutes after the history ends: those bars stay empty (NaN).
    resume = T0 + (primed + 10) * MIN
    state.on_records([r for r in mk.records if r.ts_event >= resume])
    gap = [b for b in state.bars if T0 + primed * MIN <= b.ts < resume]
    assert len(gap) == 10
    assert all(math.isnan(b.close) and not b.history for b in gap)
    # The ring is full: what the gap and the live bars pushed out is no longer history.
    live_bars = N - primed - 10
    assert len(state.bars) == ring
    assert state.history_bars == ring - 10 - live_bars == sum(b.history for b in state.bars)
    assert state.snapshot().history_bars == state.history_bars


def test_priming_rejects_finer_live_bars_and_late_calls() -> None:
    mk = constructed("SOLUSDT", 150.0, _after_recovers)
    with pytest.raises(ConfigError, match="history bars are 60s, live bars 300s"):
        LiveState("SOLUSDT", LiveParams(bar_s=300)).prime(mk.series, "x")
    state = LiveState("SOLUSDT")
    state.on_records(mk.records[:1])
    with pytest.raises(ConfigError, match="before live records"):
        state.prime(mk.series, "x")


def test_priming_from_the_real_store_finds_the_reports_feb_2026_flush(shared_data: Path) -> None:
    """CoinGlass BTC hourly history primed as ``watch --store`` does, as of 2026-02-09 00:00."""
    store = store_for((COINGLASS_1H, FUNDING_WINDOWS))
    cfg = ReportConfig()
    report, _ = report_as_of(store, "BTC", "2026-02-09T00:00")
    params = LiveParams.from_report(cfg, bar_s=3600, history_bars=14 * 24)
    monitor = LiveMonitor([LiveState("BTCUSDT", params)])
    until = parse_iso("2026-02-09T00:00")
    notes = prime_from_store(store, monitor, hours=14 * 24, until_ns=until, venue="binanceusdm")
    assert notes == []
    state = monitor.states["BTCUSDT"]
    assert state.history_bars == 14 * 24
    assert state.bars[-1].ts == until - 3600 * S
    focus = state.events[-1]
    assert focus == report.focus  # the same event, every field (tests/report asserts its numbers)
    assert (focus.kind, focus.peak_ts) == ("long_flush", parse_iso("2026-02-05T20:00"))
    # Levels and checklist equal the offline kernels on the same window of the store.
    m = assemble(store, "BTC", start_ns=until - 14 * 24 * 3600 * S, end_ns=until, step_s=3600)
    assert state.history_source == m.sources["price"]
    m = msgspec.structs.replace(m, asset="BTCUSDT")
    sections = _assert_as_offline(state, m, {"BTC": m})
    items = {c.name: c.state for c in state.checklist}
    assert items["oi_rebuild"] != "not_available"  # primed OI gives the rebuild context
    assert items["funding"] == "flipped_negative"  # as the full report finds (test_report_real)
    assert items["levels_btc"] == items["levels_asset"] != "not_available"
    assert items["levels_eth"] == "not_available"
    assert sections["levels"]


def test_reference_event_reads_the_window_on_the_reference_bars() -> None:
    btc, eth = (constructed(s, b, _after_recovers) for s, b in (("BTCUSDT", 6e4), ("ETHUSDT", 3e3)))
    (event,) = analyse(eth.series, {}, PARAMS.report_config())[0]
    ref = reference_event(btc.series, event)
    assert ref is not None
    assert (ref.start_ts, ref.end_ts, ref.kind) == (event.start_ts, event.end_ts, event.kind)
    assert (ref.price_low, event.price_low) == (0.965 * 6e4, 0.965 * 3e3)
    assert ref.price_high == float(btc.series.high[F])
    assert reference_event(btc.series, None) is None
    assert reference_event(btc.series.slice(0, F), event) is None  # BTC bars end before it
