"""Flush detector: every rule pinned at its threshold, missing series, invariants."""

from __future__ import annotations

import itertools
import math

import msgspec
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.flushes import (
    FlushParams,
    describe_flush,
    detect_flushes,
    flush_windows,
    robust_log_z,
    trailing_median,
)
from flushwatch.analytics.market import F64, MarketSeries

H = 3600 * 10**9
N = 120
SPIKE = 100


def _baseline(n: int = N) -> F64:
    # deterministic, varied quiet hours: 50k..150k USD
    return 1e5 * (1.0 + 0.5 * np.sin(np.arange(n) * 0.7))


def _market(
    liq_long: F64 | None,
    liq_short: F64 | None,
    *,
    price: F64 | None = None,
    rng: F64 | None = None,
    **extra: object,
) -> MarketSeries:
    n = (liq_long if liq_long is not None else price).shape[0]  # type: ignore[union-attr]
    px = np.full(n, 100.0) if price is None else price
    half = np.full(n, 0.5) if rng is None else rng / 2
    return MarketSeries(
        asset="BTC",
        sources={},
        ts=np.arange(n, dtype=np.int64) * H,
        step_s=3600,
        open=px.copy(),
        high=np.maximum(px, px) + half,
        low=px - half,
        close=px.copy(),
        liq_long=liq_long,
        liq_short=liq_short,
        **extra,  # type: ignore[arg-type]
    )


def _spiked(value: float, at: int = SPIKE) -> tuple[F64, F64]:
    long = _baseline()
    short = np.full(N, 0.0)
    long[at] = value
    return long, short


# ---- the robust score itself ---------------------------------------------------------------


def test_robust_log_z_hand_example() -> None:
    # constant window of 100: offset 10, spread floored at 0.25, median ratio 1100/100
    x = np.array([100.0] * 10 + [1100.0])
    z, ratio = robust_log_z(x, window=10, min_bars=10, min_spread=0.25)
    assert z[10] == pytest.approx(math.log(1110 / 110) / 0.25)
    assert ratio[10] == pytest.approx(11.0)
    assert np.isnan(z[:10]).all()  # fewer than min_bars behind them


def test_robust_log_z_is_causal() -> None:
    x = _baseline()
    z1, r1 = robust_log_z(x, 50, 20, 0.25)
    y = x.copy()
    y[80:] *= 1000.0
    z2, r2 = robust_log_z(y, 50, 20, 0.25)
    np.testing.assert_array_equal(z1[:80], z2[:80])
    np.testing.assert_array_equal(r1[:80], r2[:80])


def test_trailing_median_excludes_current_bar() -> None:
    x = np.array([1.0, 2.0, 3.0, 100.0])
    med = trailing_median(x, window=3, min_bars=3)
    assert np.isnan(med[:3]).all()
    assert med[3] == 2.0


# ---- burst thresholds ------------------------------------------------------------------------


def _scores(long: F64, short: F64, p: FlushParams) -> tuple[float, float]:
    z, r = robust_log_z(long + short, 168, 48, p.min_log_spread)
    return float(z[SPIKE]), float(r[SPIKE])


def test_z_threshold_pinned() -> None:
    long, short = _spiked(5e7)
    p = FlushParams(min_ratio=1.0, elevated_z=99, elevated_ratio=1e9)
    z, _ = _scores(long, short, p)
    m = _market(long, short)
    assert len(detect_flushes(m, msgspec.structs.replace(p, z_threshold=z))) == 1
    assert detect_flushes(m, msgspec.structs.replace(p, z_threshold=z + 1e-9)) == []


def test_min_ratio_pinned() -> None:
    long, short = _spiked(5e7)
    p = FlushParams(z_threshold=-99, elevated_z=99, elevated_ratio=1e9)
    _, r = _scores(long, short, p)
    m = _market(long, short)
    events = detect_flushes(m, msgspec.structs.replace(p, min_ratio=r))
    assert [e.peak_ts for e in events] == [SPIKE * H]
    assert detect_flushes(m, msgspec.structs.replace(p, min_ratio=r + 1e-9)) == []


def test_default_detects_clear_spike_only() -> None:
    long, short = _spiked(5e7)
    events = detect_flushes(_market(long, short))
    assert len(events) == 1
    e = events[0]
    assert (e.start_ts, e.peak_ts, e.end_ts) == (SPIKE * H,) * 3
    assert e.detected_by == "liquidations"
    assert e.kind == "long_flush"


def test_no_verdict_before_min_history() -> None:
    long, short = _spiked(5e7, at=47)  # 47 bars of history < 48 h
    assert detect_flushes(_market(long, short)) == []
    long, short = _spiked(5e7, at=48)
    assert len(detect_flushes(_market(long, short))) == 1


def test_nan_bars_do_not_crash_and_are_never_bursts() -> None:
    long, short = _spiked(5e7)
    long[SPIKE - 5 : SPIKE] = np.nan
    long[SPIKE + 1] = np.nan
    events = detect_flushes(_market(long, short))
    assert [e.peak_ts for e in events] == [SPIKE * H]


# ---- merging and extension -----------------------------------------------------------------


@pytest.mark.parametrize(("gap_bars", "expected"), [(3, 1), (4, 2)])
def test_merge_gap_pinned(gap_bars: int, expected: int) -> None:
    long, short = _spiked(5e7)
    long[SPIKE + gap_bars + 1] = 5e7
    p = FlushParams(merge_gap_hours=3, elevated_z=99)
    assert len(detect_flushes(_market(long, short), p)) == expected


def test_extension_to_elevated_neighbours() -> None:
    long, short = _spiked(5e7)
    long[SPIKE - 1] = 6e5  # ~6× median, z ≈ 4: elevated, not a burst (ratio < 10)
    long[SPIKE + 1] = 6e5
    long[SPIKE + 2] = 2e5  # quiet again
    (e,) = detect_flushes(_market(long, short), FlushParams(merge_gap_hours=0))
    assert (e.start_ts, e.peak_ts, e.end_ts) == ((SPIKE - 1) * H, SPIKE * H, (SPIKE + 1) * H)
    assert e.liq_long_usd == pytest.approx(5e7 + 1.2e6)
    (e,) = detect_flushes(_market(long, short), FlushParams(merge_gap_hours=0, elevated_z=99))
    assert e.start_ts == e.end_ts == SPIKE * H


# ---- kind ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("long_share", "kind"),
    [(0.7, "long_flush"), (0.69, "two_sided"), (0.31, "two_sided"), (0.3, "short_squeeze")],
)
def test_kind_by_side_share(long_share: float, kind: str) -> None:
    base = _baseline() / 2
    long, short = base.copy(), base.copy()
    long[SPIKE] = 1e8 * long_share
    short[SPIKE] = 1e8 * (1 - long_share)
    (e,) = detect_flushes(_market(long, short))
    assert e.kind == kind


# ---- sizing ----------------------------------------------------------------------------------


def test_sizing_long_flush() -> None:
    long, short = _spiked(5e7)
    short[SPIKE] = 1e6
    price = np.full(N, 100.0)
    m0 = _market(long, short, price=price)
    low, close = m0.low.copy(), m0.close.copy()
    low[SPIKE], close[SPIKE] = 90.0, 95.0
    oi = np.full(N, 1e9)
    oi[SPIKE:] = [8e8, 7e8, 7.5e8] + [9e8] * (N - SPIKE - 3)
    oi_base = oi / 100.0
    oi_base[SPIKE + 1] = 6e6  # coin OI falls further than USD OI here
    m = msgspec.structs.replace(
        m0, low=low, close=close, oi_quote=oi, oi_base=oi_base, liq_lower_bound=True
    )
    (e,) = detect_flushes(m)
    assert (e.liq_long_usd, e.liq_short_usd, e.liq_lower_bound) == (5e7, 1e6, True)
    assert e.oi_before_quote == 1e9
    assert e.oi_after_quote == 7e8  # min within end + 6 h
    assert e.oi_drop_quote_pct == pytest.approx(30.0)
    assert e.oi_drop_base_pct == pytest.approx(40.0)
    assert e.liq_to_oi_pct == pytest.approx(5.1)
    assert (e.price_open, e.price_close, e.price_low, e.price_high) == (100.0, 95.0, 90.0, 100.5)
    assert e.move_pct == pytest.approx(-5.0)
    assert e.wick_pct == pytest.approx(5.0)  # (95 − 90) / 100


def test_sizing_short_squeeze_wick_on_high_side() -> None:
    short = _baseline()
    short[SPIKE] = 5e7
    m0 = _market(np.zeros(N), short)
    high, close = m0.high.copy(), m0.close.copy()
    high[SPIKE], close[SPIKE] = 110.0, 104.0
    (e,) = detect_flushes(msgspec.structs.replace(m0, high=high, close=close))
    assert e.kind == "short_squeeze"
    assert e.move_pct == pytest.approx(4.0)
    assert e.wick_pct == pytest.approx(6.0)


def test_oi_before_too_old_is_not_used() -> None:
    long, short = _spiked(5e7)
    oi = np.full(N, 1e9)
    oi[SPIKE - 7 : SPIKE] = np.nan  # last value 7 h old > 6 h
    (e,) = detect_flushes(_market(long, short, oi_quote=oi))
    assert e.oi_before_quote is None
    assert e.oi_drop_quote_pct is None
    assert e.liq_to_oi_pct is None


# ---- missing series ------------------------------------------------------------------------


@pytest.mark.parametrize("missing", ["oi_quote", "oi_base"])
def test_missing_oi_series(missing: str) -> None:
    long, short = _spiked(5e7)
    m = _market(long, short, oi_quote=np.full(N, 1e9), oi_base=np.full(N, 1e7))
    (e,) = detect_flushes(msgspec.structs.replace(m, **{missing: None}))
    if missing == "oi_quote":
        assert e.oi_before_quote is None
        assert e.oi_drop_quote_pct is None
        assert e.liq_to_oi_pct is None
        assert e.oi_drop_base_pct == 0.0
    else:
        assert e.oi_drop_base_pct is None
        assert e.oi_drop_quote_pct == 0.0


@pytest.mark.parametrize("missing", ["liq_long", "liq_short"])
def test_missing_liquidations_falls_back_to_price_volume(missing: str) -> None:
    long, short = _spiked(5e7)
    rng = np.full(N, 1.0)
    rng[SPIKE] = 30.0  # ≥ 6 × 2 (no volume) median ranges, and a ±15 % excursion
    m = _market(long, short, rng=rng)
    (e,) = detect_flushes(msgspec.structs.replace(m, **{missing: None}))
    assert e.detected_by == "price_volume"
    assert e.liq_long_usd is None
    assert e.liq_short_usd is None
    assert e.liq_to_oi_pct is None
    assert e.liq_lower_bound is False


def test_empty_series() -> None:
    m = _market(np.zeros(0), np.zeros(0))
    assert detect_flushes(m) == []


# ---- price–volume fallback -----------------------------------------------------------------


#: The ratio pins below isolate one rule each: the excursion rule has its own pin.
NO_EXCURSION = FlushParams(pv_min_excursion=0.0)


def _pv(range_at_spike: float, vol_at_spike: float | None) -> MarketSeries:
    rng = np.full(N, 1.0)
    rng[SPIKE] = range_at_spike
    vol = None
    if vol_at_spike is not None:
        vol = np.full(N, 1e6)
        vol[SPIKE] = vol_at_spike
    return _market(None, None, price=np.full(N, 100.0), rng=rng, volume_quote=vol)


def test_pv_range_ratio_pinned() -> None:
    # With volume confirming: range 6× median is the threshold (issue 12: 4× flagged 73–90
    # "flushes" a year per Binance perp).
    assert len(detect_flushes(_pv(6.0, 4e6), NO_EXCURSION)) == 1
    assert detect_flushes(_pv(5.99, 4e6), NO_EXCURSION) == []
    # Without volume the range alone must be pv_no_volume_factor (2) times as extreme: 12×.
    assert len(detect_flushes(_pv(12.0, None), NO_EXCURSION)) == 1
    assert detect_flushes(_pv(11.99, None), NO_EXCURSION) == []


def test_pv_volume_ratio_pinned() -> None:
    assert len(detect_flushes(_pv(7.0, 4e6), NO_EXCURSION)) == 1
    assert detect_flushes(_pv(7.0, 3.99e6), NO_EXCURSION) == []


def test_pv_min_excursion_pinned() -> None:
    # Median true range 1 % of 100; the spike bar spans ±r/2 around 100, so its excursion is
    # r/2 median ranges: 24 → 12 (the default threshold), 23.98 → 11.99.
    assert len(detect_flushes(_pv(24.0, 4e6))) == 1
    assert detect_flushes(_pv(23.98, 4e6)) == []
    p = msgspec.structs.replace(NO_EXCURSION, pv_min_excursion=5.0)
    assert len(detect_flushes(_pv(10.0, 4e6), p)) == 1
    assert detect_flushes(_pv(9.98, 4e6), p) == []


def test_pv_kind_from_direction_and_body() -> None:
    rng = np.full(N, 1.0)
    rng[SPIKE] = 12.0

    def shifted(d: float) -> MarketSeries:
        """Price steps by ``d`` at the spike and stays there (as a real crash does)."""
        px = np.full(N, 100.0)
        px[SPIKE:] += d
        return _market(None, None, price=px, rng=rng)

    (e,) = detect_flushes(shifted(-5.0), NO_EXCURSION)  # net −5 over a true range of 12
    assert (e.kind, e.detected_by) == ("long_flush", "price_volume")
    assert e.score == pytest.approx(12.0)
    assert e.price_open == 100.0  # measured from the close before the event
    assert e.move_pct == pytest.approx(-5.0)
    (e,) = detect_flushes(shifted(5.0), NO_EXCURSION)
    assert e.kind == "short_squeeze"
    (e,) = detect_flushes(shifted(2.0), NO_EXCURSION)  # body 2/12 < 0.25
    assert e.kind == "two_sided"


# ---- params, helpers, sentence ---------------------------------------------------------------


def test_params_reject_unknown_keys() -> None:
    with pytest.raises(msgspec.ValidationError):
        msgspec.convert({"z_treshold": 3.0}, FlushParams)


def test_hours_to_bars() -> None:
    assert hours_to_bars(168, 3600) == 168
    assert hours_to_bars(1, 300) == 12
    assert hours_to_bars(0.1, 3600) == 0


def test_windows_and_sentence() -> None:
    long, short = _spiked(5e7)
    m = _market(long, short, oi_quote=np.full(N, 3.1e9), oi_base=np.full(N, 3.1e7))
    (e,) = detect_flushes(m)
    assert flush_windows([e]) == [(SPIKE * H, SPIKE * H)]
    text = describe_flush(e, oi_base_derived=True)
    assert "Long flush" in text
    assert "$50.0M longs" in text
    assert "OI $3.1B" in text
    assert "estimate" in text


# ---- invariants ------------------------------------------------------------------------------


_values = st.lists(
    st.floats(min_value=1e3, max_value=1e9, allow_nan=False), min_size=80, max_size=160
)


@settings(max_examples=40, deadline=None)
@given(long=_values, share=st.floats(0.0, 1.0), k=st.integers(-10, 10))
def test_scaling_usd_does_not_change_events(long: list[float], share: float, k: int) -> None:
    lo = np.array(long)
    sh = lo[::-1].copy() * share
    p = FlushParams(min_history_hours=24, baseline_hours=48)
    base = detect_flushes(_market(lo, sh), p)
    scaled = detect_flushes(_market(lo * 2.0**k, sh * 2.0**k), p)
    assert [(e.start_ts, e.peak_ts, e.end_ts, e.kind) for e in base] == [
        (e.start_ts, e.peak_ts, e.end_ts, e.kind) for e in scaled
    ]
    for e in base:
        assert e.start_ts <= e.peak_ts <= e.end_ts
    for a, b in itertools.pairwise(base):
        assert a.end_ts < b.start_ts  # never overlap


@settings(max_examples=25, deadline=None)
@given(ranges=st.lists(st.floats(0.01, 50.0), min_size=80, max_size=160))
def test_price_volume_events_ordered(ranges: list[float]) -> None:
    rng = np.array(ranges)
    m = _market(None, None, price=np.full(rng.shape[0], 1000.0), rng=rng)
    events = detect_flushes(m, FlushParams(min_history_hours=24, baseline_hours=48))
    for e in events:
        assert e.start_ts <= e.peak_ts <= e.end_ts
        assert e.detected_by == "price_volume"
    for a, b in itertools.pairwise(events):
        assert a.end_ts < b.start_ts


# ---- size against open interest (issue 12: mid-sized clusters) -----------------------------


def _oi(value: float, n: int = N) -> dict[str, F64]:
    return {"oi_quote": np.full(n, value)}


def test_burst_oi_pct_pinned() -> None:
    # z rule off: only "≥ 0.24 % of OI and ≥ 10× that side's trailing median" can fire.
    p = FlushParams(z_threshold=99.0)
    long, short = _spiked(2.4e6)  # 0.24 % of 1e9; ~24× the 50k–150k quiet hours
    (e,) = detect_flushes(_market(long, short, **_oi(1e9)), p)
    assert (e.start_ts, e.peak_ts, e.end_ts) == (SPIKE * H,) * 3
    assert detect_flushes(_market(long, short, **_oi(1.0001e9)), p) == []
    assert detect_flushes(_market(long, short, **_oi(1e9)), FlushParams(z_threshold=99.0,
        burst_oi_pct=0.0)) == []  # fmt: skip
    assert detect_flushes(_market(long, short), p) == []  # no OI: the rule does not apply


def test_oi_rule_judges_each_side_against_its_own_median() -> None:
    # Shorts are quiet (1k an hour): a 2.4M short squeeze is 2400× the short median although
    # the total only moves ~24×: found by the side rule (the z rule is off).
    p = FlushParams(z_threshold=99.0)
    long = _baseline()
    short = np.full(N, 1e3)
    short[SPIKE] = 2.4e6
    (e,) = detect_flushes(_market(long, short, **_oi(1e9)), p)
    assert e.kind == "short_squeeze"
    assert detect_flushes(_market(long, short, **_oi(1e9)), FlushParams(z_threshold=99.0,
        min_ratio=1e5)) == []  # fmt: skip


def test_min_oi_pct_floor_pinned() -> None:
    long, short = _spiked(5e7)  # a clear z burst
    assert len(detect_flushes(_market(long, short, **_oi(2.4e10)))) == 1  # 0.208 % of OI
    assert detect_flushes(_market(long, short, **_oi(2.6e10))) == []  # 0.192 % < 0.2 %
    assert len(detect_flushes(_market(long, short))) == 1  # no OI: the z rule alone


def test_oi_reference_is_the_largest_oi_of_the_month_before() -> None:
    p = FlushParams(z_threshold=99.0)
    long, short = _spiked(2.4e6)
    oi = np.full(N, 2e9)
    oi[90:] = 1e9  # OI halved ten hours before: 2.4M is 0.12 % of the month's 2e9
    assert detect_flushes(_market(long, short, oi_quote=oi), p) == []
    short_memory = msgspec.structs.replace(p, oi_ref_hours=5.0)
    assert len(detect_flushes(_market(long, short, oi_quote=oi), short_memory)) == 1


def test_oi_of_the_burst_bar_itself_is_not_used() -> None:
    # Causal: the share is taken of OI known before the bar (its own close is later).
    p = FlushParams(z_threshold=99.0)
    long, short = _spiked(2.4e6)
    oi = np.full(N, 1e9)
    oi[SPIKE:] = 1e15
    assert len(detect_flushes(_market(long, short, oi_quote=oi), p)) == 1


def test_elevated_oi_pct_grows_the_event_over_the_cascade() -> None:
    p = FlushParams(elevated_z=99.0)  # neighbours join by OI share only
    long, short = _spiked(5e7)
    long[SPIKE - 1] = 1.5e6  # 0.15 % of 1e9, ≥ 3× the median
    (e,) = detect_flushes(_market(long, short, **_oi(1e9)), p)
    assert (e.start_ts, e.peak_ts) == ((SPIKE - 1) * H, SPIKE * H)
    (e,) = detect_flushes(_market(long, short, **_oi(1.01e9)), p)
    assert e.start_ts == SPIKE * H


# ---- coverage: liquidations where they exist, price/volume only elsewhere -------------------


def _covered_from(start: int, n: int = 240) -> tuple[F64, F64, F64]:
    """Liquidations from bar ``start`` on (NaN before), with a crash in both stretches."""
    long = np.where(np.arange(n) >= start, _baseline(n), np.nan)
    short = np.where(np.arange(n) >= start, 0.0, np.nan)
    rng = np.full(n, 1.0)
    rng[80] = rng[180] = 30.0  # two price–volume crashes: one uncovered, one covered
    long[200] = 5e7  # a liquidation burst in the covered stretch
    return long, short, rng


def test_fallback_runs_only_where_no_liquidation_series_covers() -> None:
    from flushwatch.analytics.flushes import liquidation_coverage

    long, short, rng = _covered_from(120)
    m = _market(long, short, rng=rng)
    assert liquidation_coverage(m).tolist() == [False] * 120 + [True] * 120
    events = detect_flushes(m)
    assert [(e.peak_ts // H, e.detected_by) for e in events] == [
        (80, "price_volume"),  # before the liquidation series starts
        (200, "liquidations"),  # the covered crash at 180 has no burst of liquidations
    ]
    # With liquidations everywhere, the fallback never runs.
    full = _market(np.nan_to_num(long, nan=1e5), np.nan_to_num(short), rng=rng)
    assert [e.detected_by for e in detect_flushes(full)] == ["liquidations"]


def _four_hour_buckets(n: int = 240) -> MarketSeries:
    """1-hour bars with 4-hour liquidation buckets: USD on the bar where a bucket closes."""
    closes = (np.arange(n) + 1) % 4 == 0
    long = np.where(closes, 4 * _baseline(n), np.nan)
    long[199] = 5e7  # the bucket of bars 196–199
    short = np.where(closes, 0.0, np.nan)
    return msgspec.structs.replace(_market(long, short), liq_interval_s=4 * 3600)


def test_coarse_buckets_are_judged_per_bucket_and_cover_every_bar() -> None:
    from flushwatch.analytics.flushes import liquidation_coverage

    m = _four_hour_buckets()
    assert liquidation_coverage(m).all()
    (e,) = detect_flushes(m)
    # The event spans the whole bucket; its USD is the bucket's, not spread or invented.
    assert (e.start_ts, e.peak_ts, e.end_ts) == (196 * H, 199 * H, 199 * H)
    assert e.liq_long_usd == 5e7
    assert e.detected_by == "liquidations"


def test_coarse_bucket_history_counts_buckets_not_bars() -> None:
    # 48 h of history = 12 four-hour buckets: a burst in the 12th bucket has only 11 behind it
    closes = (np.arange(N) + 1) % 4 == 0
    long = np.where(closes, 4e5, np.nan)
    for last_bar, expected in ((47, 0), (51, 1)):
        spiked = long.copy()
        spiked[last_bar] = 5e7
        m = msgspec.structs.replace(
            _market(spiked, np.where(closes, 0.0, np.nan)), liq_interval_s=4 * 3600
        )
        assert len(detect_flushes(m)) == expected


def test_new_rules_are_causal() -> None:
    # Changing bars after t never changes the events that ended before t.
    long, short = _spiked(2.4e6)
    oi = np.full(N, 1e9)
    base = detect_flushes(_market(long, short, oi_quote=oi))
    later_long, later_oi = long.copy(), oi.copy()
    later_long[SPIKE + 5 :] *= 50.0
    later_oi[SPIKE + 5 :] = 1e12
    changed = detect_flushes(_market(later_long, short, oi_quote=later_oi))
    assert [e for e in changed if e.end_ts < (SPIKE + 5) * H] == base


def test_oi_burst_min_z_pinned() -> None:
    long, short = _spiked(2.4e6)
    z, _ = robust_log_z(long + short, 168, 48, 0.25)
    p = FlushParams(z_threshold=99.0, oi_burst_min_z=float(z[SPIKE]))
    assert len(detect_flushes(_market(long, short, **_oi(1e9)), p)) == 1
    above = msgspec.structs.replace(p, oi_burst_min_z=float(z[SPIKE]) + 1e-9)
    assert detect_flushes(_market(long, short, **_oi(1e9)), above) == []
