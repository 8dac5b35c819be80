"""The liquidation-map kernel on tiny constructed markets: exact placement, consumption,
closures, causality and conservation (all numbers are the model's, not the market's)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.liqmap import (
    LiqMapParams,
    build_map,
    cumulative_if_price_reaches,
    map_at,
    predicted_in_range,
)
from flushwatch.analytics.liqmap_params import effective_leverage
from flushwatch.analytics.mechanics import BINANCE_BTCUSDT_2021 as TIERS
from flushwatch.analytics.mechanics import isolated_liq_price_array

EDGES = np.linspace(50.0, 150.0, 1001)  # 0.1-wide bins
ONE_10X = LiqMapParams(leverages=(10.0,), weights=(1.0,))
OWN_10X = LiqMapParams(leverages=(10.0,), weights=(1.0,), closures="own")


def _bin(x: float) -> int:
    return int(np.searchsorted(EDGES, x, side="right") - 1)


def _market(
    high: list[float], low: list[float], close: list[float], oi: list[float]
) -> dict[str, np.ndarray]:
    n = len(close)
    return {
        "ts": np.arange(n, dtype=np.int64) * 60 * 10**9,
        "open": np.asarray(close, dtype=np.float64),
        "high": np.asarray(high, dtype=np.float64),
        "low": np.asarray(low, dtype=np.float64),
        "close": np.asarray(close, dtype=np.float64),
        "oi_quote": np.asarray(oi, dtype=np.float64),
    }


def _build(mk: dict[str, np.ndarray], params: LiqMapParams = ONE_10X, **kw: object):  # type: ignore[no-untyped-def]
    return build_map(
        mk["ts"], mk["open"], mk["high"], mk["low"], mk["close"], mk["oi_quote"], params,
        TIERS, edges=EDGES, **kw,  # type: ignore[arg-type]
    )  # fmt: skip


def _lp(side: str, entry: float, lev: float = 10.0) -> float:
    return float(
        isolated_liq_price_array(
            side,  # type: ignore[arg-type]
            np.array([entry]),
            np.array([lev]),
            np.array([10_000.0]),
            TIERS,
        )[0]
    )


def test_one_bar_of_new_longs_lands_exactly_at_the_liquidation_price_bin() -> None:
    # OI doubles from 10 to 20 coins at a flat 100: 1,000 USD of new notional, all long
    # (taker-buy share 1), at 10x → Binance isolated LP = 100·(1 − 1/10)/(1 − 0.4%) = 90.3614
    # (DOMAIN.md §6.2 point 3, tier 1 of the 2021 BTCUSDT table: MMR 0.4 %, cum 0).
    mk = _market([100, 100], [100, 100], [100, 100], [1000, 2000])
    state = _build(mk, taker_buy_share=np.array([1.0, 1.0]))
    lp = _lp("long", 100.0)
    assert lp == pytest.approx(100 * 0.9 / 0.996)
    assert state.long[_bin(lp)] == pytest.approx(1000.0, rel=1e-12)
    assert state.long.sum() == pytest.approx(1000.0, rel=1e-12)
    assert state.short.sum() == 0.0
    assert state.split_source == "taker_flow"
    assert state.estimate is True


def test_even_split_and_shorts_above() -> None:
    mk = _market([100, 100], [100, 100], [100, 100], [1000, 2000])
    state = _build(mk)
    assert state.long[_bin(_lp("long", 100.0))] == pytest.approx(500.0)
    assert state.short[_bin(_lp("short", 100.0))] == pytest.approx(500.0)
    assert state.split_source == "even"


def test_long_short_ratio_split() -> None:
    mk = _market([100, 100], [100, 100], [100, 100], [1000, 2000])
    state = _build(mk, ls_ratio=np.array([3.0, 3.0]))  # 3 longs per short → 75 % long
    assert state.long.sum() == pytest.approx(750.0)
    assert state.short.sum() == pytest.approx(250.0)


def test_entry_is_typical_price_then_vwap() -> None:
    mk = _market([100, 110], [100, 92], [100, 101], [1000, 2000])
    typical = (110 + 92 + 101) / 3
    coins = 2000 / 101 - 1000 / 100
    state = _build(mk, taker_buy_share=np.ones(2))
    assert state.long[_bin(_lp("long", typical))] == pytest.approx(coins * typical)
    vw = _build(mk, taker_buy_share=np.ones(2), vwap=np.array([100.0, 105.0]))
    assert vw.long[_bin(_lp("long", 105.0))] == pytest.approx(coins * 105.0)
    assert vw.entry_source == "vwap"


@pytest.mark.parametrize(
    ("low_offset", "consumed"),
    [(0.0, True), (-5.0, True), (None, True), (0.1001, False), (3.0, False)],
)
def test_crossing_consumes_inclusively(low_offset: float | None, consumed: bool) -> None:
    lp = _lp("long", 100.0)
    # low exactly at the LP, below it, inside its bin (None), just above the bin, far above
    low = EDGES[_bin(lp)] + 0.05 if low_offset is None else lp + low_offset
    if low_offset is not None and low_offset > 0:
        low = max(low, EDGES[_bin(lp) + 1] + 1e-9)
    mk = _market([100, 100, 100], [100, 100, low], [100, 100, 100], [1000, 2000, 2000])
    state = _build(mk, taker_buy_share=np.ones(3))
    assert state.consumed_long[2] == pytest.approx(1000.0 if consumed else 0.0)
    assert state.long.sum() == pytest.approx(0.0 if consumed else 1000.0)


def test_high_consumes_shorts_at_and_below_it() -> None:
    ls = _lp("short", 100.0)
    mk = _market([100, 100, ls], [100, 100, 100], [100, 100, 100], [1000, 2000, 2000])
    state = _build(mk, taker_buy_share=np.zeros(3))
    assert state.consumed_short[2] == pytest.approx(1000.0)
    assert state.short.sum() == 0.0


def test_oi_fall_without_crossing_removes_closed_notional_proportionally() -> None:
    # 1,000 USD built (half long, half short); OI then falls by 5 coins at 100 = 500 USD.
    mk = _market([100] * 3, [100] * 3, [100] * 3, [1000, 2000, 1500])
    before = _build(mk, OWN_10X, upto=2)
    after = _build(mk, OWN_10X)  # closures="own": the whole fall from the mapped mass
    assert after.closed[2] == pytest.approx(500.0)
    np.testing.assert_allclose(after.long, before.long * 0.5, rtol=1e-12)
    np.testing.assert_allclose(after.short, before.short * 0.5, rtol=1e-12)


def test_pro_rata_closures_take_only_the_mapped_share_of_an_oi_fall() -> None:
    # 1,000 of 2,000 USD of OI is mapped (the first 1,000 predates the window); OI falls
    # 25 % (20 -> 15 coins): the mapped mass loses 25 %, not the whole 500 USD.
    mk = _market([100] * 3, [100] * 3, [100] * 3, [1000, 2000, 1500])
    before = _build(mk, upto=2)
    after = _build(mk)  # the default
    assert after.closed[2] == pytest.approx(250.0)
    np.testing.assert_allclose(after.long, before.long * 0.75, rtol=1e-12)
    # a fall below the window's start no longer empties the map
    mk = _market([100] * 4, [100] * 4, [100] * 4, [1000, 2000, 1000, 900])
    assert _build(mk, OWN_10X).long.sum() == 0.0
    kept = _build(mk)
    assert kept.long.sum() + kept.short.sum() == pytest.approx(1000.0 * 0.5 * 0.9)


def test_oi_fall_counts_consumed_mass_first() -> None:
    # The bar's low liquidates all 500 USD of longs and OI falls 600 USD: 100 USD closed.
    lp = _lp("long", 100.0)
    mk = _market([100] * 3, [100, 100, lp], [100] * 3, [1000, 2000, 1400])
    state = _build(mk, OWN_10X, vwap=np.full(3, 100.0))  # closed valued at the entry price
    assert state.consumed_long[2] == pytest.approx(500.0)
    assert state.closed[2] == pytest.approx(100.0)
    assert state.short.sum() == pytest.approx(400.0)


def test_tier_cap_merges_buckets_above_the_max_leverage() -> None:
    # A 100k USDT position is in the 50k-250k bracket: 100x max (DOMAIN.md §5.1 table).
    lev, w = effective_leverage(LiqMapParams(position_notional=100_000.0), TIERS)
    assert lev.max() == 100.0
    assert w[-1] == pytest.approx(0.03 + 0.01)
    assert w.sum() == pytest.approx(1.0)


def _random_market(seed: int, n: int = 400) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.01, n)))
    high = close * (1 + np.abs(rng.normal(0, 0.006, n)))
    low = close * (1 - np.abs(rng.normal(0, 0.006, n)))
    oi = 1e6 * np.exp(np.cumsum(rng.normal(0, 0.02, n))) * close / 100
    return _market(list(high), list(low), list(close), list(oi))


def test_causal_map_at_t_ignores_later_bars() -> None:
    mk = _random_market(1)
    full = _build(mk, LiqMapParams(), snapshot_every=1)
    for t in (1, 50, 200, 399):
        cut = {k: v[:t] for k, v in mk.items()}
        alone = _build(cut, LiqMapParams())
        upto = _build(mk, LiqMapParams(), upto=t)
        np.testing.assert_array_equal(alone.long, upto.long)
        np.testing.assert_array_equal(alone.short, upto.short)
        assert full.snap_long is not None
        np.testing.assert_allclose(full.snap_long[t], alone.long, rtol=1e-9, atol=1e-6)


def test_conservation_added_minus_consumed_minus_closed_is_remaining() -> None:
    state = _build(_random_market(2), LiqMapParams())
    added = state.added_long.sum() + state.added_short.sum()
    gone = state.consumed_long.sum() + state.consumed_short.sum() + state.closed.sum()
    assert state.decayed.sum() == 0.0
    remaining = state.long.sum() + state.short.sum()
    assert added - gone == pytest.approx(remaining, rel=1e-9)
    per_bar = np.cumsum(
        state.added_long + state.added_short - state.consumed_long - state.consumed_short
        - state.closed
    )  # fmt: skip
    np.testing.assert_allclose(per_bar, state.total_long + state.total_short, rtol=1e-9, atol=1e-3)
    assert state.consumed_long.sum() > 0
    assert state.closed.sum() > 0


def test_decay_is_accounted() -> None:
    state = _build(_random_market(3), LiqMapParams(half_life_hours=1.0))
    balance = (
        state.added_long.sum() + state.added_short.sum() - state.consumed_long.sum()
        - state.consumed_short.sum() - state.closed.sum() - state.decayed.sum()
    )  # fmt: skip
    assert state.decayed.sum() > 0
    assert balance == pytest.approx(state.long.sum() + state.short.sum(), rel=1e-9)


def test_predicted_in_range_matches_what_the_next_bar_consumes() -> None:
    mk = _random_market(4)
    state = _build(mk, LiqMapParams(), snapshot_every=1)
    idx = state.snap_index
    pred = predicted_in_range(state, mk["low"][idx], np.full(idx.size, EDGES[-1]), "long")
    np.testing.assert_allclose(pred, state.consumed_long, rtol=1e-9, atol=1e-6)
    below_open = predicted_in_range(state, mk["low"][idx], mk["open"][idx], "long")
    assert np.all(below_open <= pred + 1e-6)
    final = predicted_in_range(state, 0.0, 1e9, "short")
    assert final == pytest.approx(state.short.sum())


def test_cumulative_curves_are_monotone() -> None:
    state = _build(_random_market(5), LiqMapParams())
    view = map_at(state)
    lo, hi = cumulative_if_price_reaches(view.edges, view.long, view.short, view.price)
    p = _bin(view.price)
    assert np.all(np.diff(lo[: p + 1]) <= 1e-9)
    assert np.all(np.diff(hi[p:]) >= -1e-9)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 10_000), scale=st.floats(0.01, 1000.0))
def test_mass_never_negative_and_scales_with_oi(seed: int, scale: float) -> None:
    mk = _random_market(seed, n=120)
    base = _build(mk, LiqMapParams())
    scaled = _build(mk | {"oi_quote": mk["oi_quote"] * scale}, LiqMapParams())
    assert np.all(base.long >= 0)
    assert np.all(base.short >= 0)
    assert np.all(base.total_long >= -1e-9)
    np.testing.assert_allclose(scaled.long, base.long * scale, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(scaled.short, base.short * scale, rtol=1e-9, atol=1e-9)
