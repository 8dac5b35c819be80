"""Trap flags: each rule pinned at its threshold, missing series, the backtest helpers."""

from __future__ import annotations

import msgspec
import numpy as np
import pytest

from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.results import FlushEvent
from flushwatch.analytics.trap import (
    TrapParams,
    backtest_flags,
    flags_before,
    round_step,
    trap_flags,
    trap_state,
    trap_values,
)

H = 3600 * 10**9
N = 60
# small windows so that tests stay tiny: 10-bar baselines, half must have data
P = TrapParams(
    oi_baseline_hours=10, funding_baseline_hours=10, prior_low_hours=20, prior_low_skip_hours=5
)


def _market(close: F64 | None = None, **extra: object) -> MarketSeries:
    c = np.full(N, 66_800.0) if close is None else close
    return MarketSeries(
        asset="BTC",
        sources={},
        ts=np.arange(c.shape[0], dtype=np.int64) * H,
        step_s=3600,
        open=c.copy(),
        high=c * 1.001,
        low=c * 0.999,
        close=c.copy(),
        **extra,  # type: ignore[arg-type]
    )


# ---- OI elevated ---------------------------------------------------------------------------


def test_oi_rank_and_threshold_pinned() -> None:
    oi = np.arange(1.0, N + 1) * 1e8  # always a new high
    oi[40] = 3.45e9  # between bars 33 (3.4e9) and 34: 4.5 of the 10 prior values below
    m = _market(oi_quote=oi)
    v = trap_values(m, P)
    assert v["oi_rank"][39] == 100.0
    assert v["oi_rank"][40] == pytest.approx(40.0)  # bars 30..39 = 3.1e9..4.0e9: 4 below
    assert np.isnan(v["oi_rank"][:5]).all()  # fewer than 5 of 10 bars of history
    assert not np.isnan(v["oi_rank"][5])
    at = msgspec.structs.replace(P, oi_pct=40.0)
    above = msgspec.structs.replace(P, oi_pct=40.0 + 1e-9)
    assert trap_state(m, at)["oi_elevated"][40]
    assert not trap_state(m, above)["oi_elevated"][40]


def test_oi_ties_count_half() -> None:
    oi = np.full(N, 5e9)
    v = trap_values(_market(oi_quote=oi), P)
    assert v["oi_rank"][30] == 50.0


def test_oi_uses_base_units_when_usd_missing() -> None:
    oi_base = np.arange(1.0, N + 1)
    state = trap_state(_market(oi_base=oi_base), P)
    assert state["oi_elevated"][30]


# ---- funding overheated --------------------------------------------------------------------


def _funding_market(last: float, interval_h: float = 8.0) -> MarketSeries:
    f = np.full(N, 0.00005)
    f[-1] = last
    return _market(funding=f, funding_interval_h=interval_h)


def test_funding_at_floor_is_not_overheated() -> None:
    # 0.01 %/8 h is at/above the 90th percentile (all prior are 0.005 %) but only *at* the floor
    state = trap_state(_funding_market(0.0001), P)
    assert not state["funding_overheated"][-1]
    state = trap_state(_funding_market(0.000101), P)
    assert state["funding_overheated"][-1]


def test_funding_percentile_pinned() -> None:
    f = np.linspace(0.0002, 0.0011, N)  # all above the floor, rising
    f[-1] = 0.0009
    m = _market(funding=f)
    pct = trap_values(m, P)["funding_pct_value"][-1]
    assert f[-1] < pct  # below its trailing 90th percentile
    assert not trap_state(m, P)["funding_overheated"][-1]
    f2 = f.copy()
    f2[-1] = pct
    assert trap_state(_market(funding=f2), P)["funding_overheated"][-1]


def test_funding_floor_scales_with_interval() -> None:
    # 4 h funding: floor 0.005 %; 0.006 % is above it
    assert trap_state(_funding_market(0.00006, interval_h=4.0), P)["funding_overheated"][-1]
    assert not trap_state(_funding_market(0.00006, interval_h=8.0), P)["funding_overheated"][-1]


# ---- crowded above level -------------------------------------------------------------------


def test_round_step_by_magnitude() -> None:
    assert round_step(65_300.0) == 5000.0
    assert round_step(120_000.0) == 50_000.0
    assert round_step(3_420.0) == 500.0
    assert round_step(2.31) == 0.5
    assert round_step(65_300.0, units=1.0) == 1000.0


@pytest.mark.parametrize(("close", "fired"), [(65_640.0, True), (65_660.0, False)])
def test_crowded_round_number_around_one_pct(close: float, fired: bool) -> None:
    c = np.full(N, 80_000.0)  # prior lows far above: only the round number counts
    c[-1] = close
    state = trap_state(_market(c), P)
    assert bool(state["crowded_above_level"][-1]) is fired


def test_crowded_threshold_pinned_exactly() -> None:
    c = np.full(N, 80_000.0)
    c[-1] = 65_400.0
    m = _market(c)
    d = float(trap_values(m, P)["crowd_distance_pct"][-1])
    assert d == pytest.approx(400 / 65_000 * 100)
    assert trap_state(m, msgspec.structs.replace(P, crowd_pct=d))["crowded_above_level"][-1]
    assert not trap_state(m, msgspec.structs.replace(P, crowd_pct=d * 0.999))[
        "crowded_above_level"
    ][-1]


def test_crowded_prior_low_support_must_be_old_enough() -> None:
    c = np.full(N, 72_000.0)
    c[40] = 70_170.0  # low = 70,099.83: a prior low 19 h before the last bar
    c[-1] = 70_500.0
    m = _market(c)
    v = trap_values(m, P)
    assert v["support"][-1] == pytest.approx(70_170.0 * 0.999)
    assert trap_state(m, P)["crowded_above_level"][-1]
    flag = trap_flags(m, int(m.ts[-1]), P)[2]
    assert flag.fired
    assert "prior low" in flag.sentence
    # the same dip 3 h ago is inside the skip window: not yet a support, round 70,000 is
    c2 = np.full(N, 72_000.0)
    c2[-4] = 70_170.0
    c2[-1] = 70_800.0
    v2 = trap_values(_market(c2), P)
    assert v2["support"][-1] == 70_000.0


def test_prior_low_below_close_only() -> None:
    c = np.full(N, 72_000.0)
    c[-1] = 71_000.0  # broke below last week's low: support is the round 70,000
    assert trap_values(_market(c), P)["support"][-1] == 70_000.0


# ---- missing series and flags at a time ----------------------------------------------------


def test_missing_series_are_absent_not_false() -> None:
    m = _market()
    state = trap_state(m, P)
    assert set(state) == {"crowded_above_level"}
    flags = {f.name: f for f in trap_flags(m, int(m.ts[-1]), P)}
    for name in ("oi_elevated", "funding_overheated"):
        assert flags[name].value is None
        assert not flags[name].fired
        assert "not available" in flags[name].sentence


def test_flags_at_time_with_all_series() -> None:
    oi = np.arange(1.0, N + 1) * 1e8
    f = np.full(N, 0.00005)
    f[-1] = 0.0003
    m = _market(oi_quote=oi, funding=f)
    flags = {f.name: f for f in trap_flags(m, int(m.ts[-1]) + H // 2, P)}
    assert flags["oi_elevated"].fired
    assert flags["oi_elevated"].value == 100.0
    assert "100th percentile" in flags["oi_elevated"].sentence
    assert flags["funding_overheated"].fired
    assert flags["funding_overheated"].value == pytest.approx(0.0003)
    assert "0.0300%" in flags["funding_overheated"].sentence
    # flat close 66,800: last week's low 66,733.2 (−0.1 %) is the nearest support
    assert flags["crowded_above_level"].value == pytest.approx(0.1 / 0.999)
    assert flags["crowded_above_level"].fired


def test_short_history_is_not_judged() -> None:
    m = _market(oi_quote=np.arange(1.0, N + 1), funding=np.full(N, 0.001))
    flags = {f.name: f for f in trap_flags(m, int(m.ts[2]), P)}
    assert flags["oi_elevated"].value is None
    assert "history" in flags["oi_elevated"].sentence
    assert not flags["funding_overheated"].fired


def test_ts_before_series_raises() -> None:
    with pytest.raises(ValueError, match="before the first bar"):
        trap_flags(_market(), -1, P)


def test_trap_values_are_causal() -> None:
    oi = np.linspace(1e9, 2e9, N)
    f = np.linspace(0.0001, 0.0004, N)
    a = trap_values(_market(oi_quote=oi, funding=f), P)
    oi2, f2 = oi.copy(), f.copy()
    oi2[45:] = 9e9
    f2[45:] = -0.01
    b = trap_values(_market(oi_quote=oi2, funding=f2), P)
    for key in a:
        np.testing.assert_array_equal(a[key][:45], b[key][:45])


# ---- backtest helpers ----------------------------------------------------------------------


def _event(start_bar: int) -> FlushEvent:
    return FlushEvent(
        start_ts=start_bar * H, peak_ts=start_bar * H, end_ts=start_bar * H, kind="long_flush",
        detected_by="liquidations", score=5.0, liq_long_usd=1.0, liq_short_usd=0.0,
        liq_lower_bound=False, oi_before_quote=None, oi_after_quote=None,
        oi_drop_quote_pct=None, oi_drop_base_pct=None, price_open=1.0, price_close=1.0,
        price_low=1.0, price_high=1.0, move_pct=0.0, wick_pct=0.0, liq_to_oi_pct=None,
    )  # fmt: skip


def test_flags_before_lookback_pinned() -> None:
    ts = np.arange(20, dtype=np.int64) * H
    flag = np.zeros(20, dtype=bool)
    flag[7] = True
    state = {"oi_elevated": flag, "crowded_above_level": np.zeros(20, dtype=bool)}
    (b,) = flags_before([_event(10)], state, ts, 3600, lookback_hours=3)  # bars 7, 8, 9
    assert b.on == ["oi_elevated"]
    assert b.off == ["crowded_above_level"]
    assert b.not_available == ["funding_overheated"]
    (b,) = flags_before([_event(10)], state, ts, 3600, lookback_hours=2)  # bars 8, 9
    assert b.on == []
    flag[10] = True  # the start bar itself is not "before"
    (b,) = flags_before([_event(10)], state, ts, 3600, lookback_hours=2)
    assert b.on == []


def test_backtest_hit_and_base_rates() -> None:
    ts = np.arange(20, dtype=np.int64) * H
    flag = np.zeros(20, dtype=bool)
    flag[[4, 14]] = True
    state = {"oi_elevated": flag}
    rows = {r.name: r for r in backtest_flags([_event(5), _event(12)], state, ts, 3600, 2)}
    oi = rows["oi_elevated"]
    assert (oi.events, oi.preceded, oi.hit_rate) == (2, 1, 0.5)
    # windows [t-2, t) for t = 2..20 (19 windows); on for t = 5, 6, 15, 16
    assert oi.base_rate == pytest.approx(4 / 19)
    assert rows["funding_overheated"].hit_rate is None
    assert rows["funding_overheated"].base_rate is None
    none = {r.name: r for r in backtest_flags([], state, ts, 3600, 2)}
    assert none["oi_elevated"].hit_rate is None


def test_params_reject_unknown_keys() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"crowd_percent": 1.0}, TrapParams)
