"""Rules fire at their thresholds; one silent stream gives exactly one feed_stale alert."""

from __future__ import annotations

import asyncio

import msgspec
import numpy as np

from flushwatch.alerts.config import (
    CascadeGainAbove,
    FeedStale,
    FlushDetected,
    InvalidationFired,
    LiquidationsOver,
)
from flushwatch.alerts.dispatch import Dispatcher
from flushwatch.alerts.rules import evaluate
from flushwatch.alerts.sinks import Terminal
from flushwatch.analytics.cascade_core import forced_flow
from flushwatch.analytics.cascade_gain import cascade_gain
from flushwatch.analytics.depth import DepthCurve
from flushwatch.analytics.results import FlushEvent, RuleResult
from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.enums import Coverage, Market, PositionSide
from flushwatch.domain.records import Liquidation, Trade
from flushwatch.live.state import FeedLiveness, LiveMonitor, LiveParams, LiveState

S = 1_000_000_000
T0 = 1_723_161_600 * S  # 2024-08-09 00:00 UTC


def liq(ts: int, side: PositionSide, usd: float) -> Liquidation:
    return Liquidation(
        ts_event=ts, exchange="binanceusdm", market=Market.PERP, symbol="BTCUSDT",
        side=side, price=60_000.0, qty=usd / 60_000.0, notional=usd,
        venue_side="SELL" if side == PositionSide.LONG else "BUY",
        coverage=Coverage.THROTTLED,
    )  # fmt: skip


def test_liquidations_over_fires_at_and_not_below_threshold() -> None:
    rule = LiquidationsOver(name="longs", usd=3e6, minutes=5, side="long")
    total = LiquidationsOver(name="all", usd=3.5e6, minutes=5, side="total")
    state = LiveState("BTCUSDT", LiveParams(liq_windows_min=(5,)))
    state.on_record(liq(T0 + 10 * S, PositionSide.LONG, 1e6))
    state.on_record(liq(T0 + 20 * S, PositionSide.SHORT, 0.5e6))
    state.on_record(liq(T0 + 30 * S, PositionSide.LONG, 1.999999e6))
    assert evaluate([rule, total], state.snapshot()) == []  # $2,999,999 of longs: below
    state.on_record(liq(T0 + 40 * S, PositionSide.LONG, 1.0))  # exactly $3,000,000
    (a, b) = evaluate([rule, total], state.snapshot())
    assert (a.rule, a.value, a.threshold) == ("longs", 3e6, 3e6)
    assert (b.rule, b.value) == ("all", 3.5e6)
    assert "at least" in a.text  # Binance is throttled: totals are floors
    # Five minutes after the first print it leaves the window: below again.
    state.advance(T0 + 310 * S)
    assert evaluate([rule], state.snapshot()) == []


def _stale_alerts(monitor: LiveMonitor, times: list[int]) -> list[str]:
    lines: list[str] = []
    rules = [FeedStale(name="stale")]
    disp = Dispatcher([Terminal(lines.append)], default_repeat_s=1e9)

    async def run() -> None:
        for now in times:
            for snap in monitor.snapshots(now):
                await disp.dispatch(evaluate(rules, snap))

    asyncio.run(run())
    return lines


def _monitor() -> LiveMonitor:
    return LiveMonitor(
        [LiveState("BTCUSDT"), LiveState("ETHUSDT")], liveness=FeedLiveness(stale_factor=2.0)
    )


def test_silent_stream_raises_one_stale_alert_within_twice_its_interval() -> None:
    url = "wss://fstream.binance.com/market/stream"
    monitor = _monitor()
    monitor.liveness.expect(url, 10.0, now=T0)
    monitor.on_item(RawFrame(ts_recv=T0 + 1 * S, url=url, data='{"result":null,"id":1}'))
    assert _stale_alerts(monitor, [T0 + 21 * S]) == []  # exactly 2 × 10 s: not yet
    lines = _stale_alerts(monitor, [T0 + 21 * S + 1, T0 + 30 * S, T0 + 60 * S, T0 + 600 * S])
    assert len(lines) == 1
    assert url in lines[0]
    # A frame ends the episode; a new silence is a new episode and a new alert.
    monitor.on_item(RawFrame(ts_recv=T0 + 601 * S, url=url, data='{"result":null,"id":2}'))
    assert monitor.snapshots(T0 + 602 * S)[0].stale == []


def test_connector_stale_event_raises_exactly_one_alert() -> None:
    monitor = _monitor()
    ev = FeedEvent(ts=T0, kind="stale", exchange="binanceusdm", stream="btcusdt@forceOrder")
    monitor.on_item(ev)
    monitor.on_item(ev)  # the connector repeats itself
    lines = _stale_alerts(monitor, [T0 + S, T0 + 2 * S, T0 + 3 * S])
    assert len(lines) == 1
    assert "btcusdt@forceOrder" in lines[0]


def test_flush_invalidation_and_cascade_rules_read_the_snapshot() -> None:
    state = LiveState("BTCUSDT")
    state.on_record(
        Trade(ts_event=T0, exchange="binanceusdm", market=Market.PERP, symbol="BTCUSDT",
              price=100.0, qty=1.0, taker_side="buy")  # type: ignore[arg-type]
    )  # fmt: skip
    snap = state.snapshot()
    rules = [FlushDetected(name="f"), InvalidationFired(name="i"), CascadeGainAbove(name="c")]
    assert evaluate(rules, snap) == []
    # A gain profile with a G ≥ 1 band 1–2 % below the price (100 USD of book per 1 % bin).
    book = DepthCurve(side="bid", reference=100.0, offsets=np.array([0.0, 0.1]),
                      notional=np.array([0.0, 1000.0]), source="test", estimate=False)  # fmt: skip
    flow = forced_flow("down", 100.0, np.array([97.0, 98.0, 99.0]), np.array([5.0, 250.0]))
    prof = cascade_gain(flow, book)
    assert prof.bands
    assert prof.bands[0].from_pct == 1.0
    near = CascadeGainAbove(name="c", within_pct=1.0)
    far = CascadeGainAbove(name="c2", within_pct=0.5)
    (alert,) = evaluate([near, far], snap, {"BTCUSDT": [prof]})
    assert alert.rule == "c"
    assert alert.value is not None
    assert alert.value >= 1.0
    # The distance is measured from the live price, not the price the profile started at.
    band = prof.bands[0]
    assert (band.price_from, band.price_to) == (99.0, 98.0)
    for live, fires in ((101.0, False), (99.5, True), (98.5, True), (97.5, False)):
        moved = msgspec.structs.replace(snap, last_price=live)
        got = evaluate([near], moved, {"BTCUSDT": [prof]})
        assert bool(got) is fires, live  # 101: 1.98 % away; 98.5: inside; 97.5: run through
    event = FlushEvent(
        start_ts=T0, peak_ts=T0, end_ts=T0, kind="long_flush", detected_by="liquidations",
        score=9.0, liq_long_usd=5e7, liq_short_usd=1e6, liq_lower_bound=True,
        oi_before_quote=None, oi_after_quote=None, oi_drop_quote_pct=None, oi_drop_base_pct=None,
        price_open=61_000.0, price_close=60_000.0, price_low=59_500.0, price_high=61_000.0,
        move_pct=-1.6, wick_pct=0.8, liq_to_oi_pct=None,
    )  # fmt: skip
    risk = [
        RuleResult(name="btc_support_lost", fired=True, evidence=["BTC lost 60,000"]),
        RuleResult(name="funding_without_spot_demand", fired=None, evidence=["n/a"]),
    ]
    flushed = msgspec.structs.replace(snap, events=[event], risk=risk)
    got = evaluate([FlushDetected(name="f"), InvalidationFired(name="i")], flushed)
    assert [(a.kind, a.key) for a in got] == [
        ("flush_detected", f"f|BTCUSDT|{T0}"),
        ("invalidation_fired", f"i|BTCUSDT|btc_support_lost|{T0}"),
    ]
    assert "lower bound" in got[0].text
    assert "BTC lost 60,000" in got[1].text
    only = InvalidationFired(name="i", rules=("oi_reloaded_into_weakness",))
    assert evaluate([only], flushed) == []
