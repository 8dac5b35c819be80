"""``backtest-map`` in bounded memory (issue 16): the streamed paths equal the dense ones.

The dense reference is a snapshot of the map at every bar (:func:`map_state`,
:func:`bar_predictions`, the per-day level capture read from the snapshots) and a single pass
over all bars; the streamed path keeps a window of rows, builds a chunk of bars at a time and
spreads each day over its own bins. Equality is asserted to the bit on the real CoinGlass
BTC hourly series and on a SIMULATED 1-minute series (labelled so), plus memory that does not
grow with the history.
"""

from __future__ import annotations

import math
import tracemalloc

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.backtest_map import bootstrap_top_share, spread_over_bins
from flushwatch.analytics.forecast_map import ForecastParams, issue_set, reach_probability, rebin
from flushwatch.analytics.liqmap import LiqMapParams, build_map
from flushwatch.analytics.liqmap_params import tiers_for
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.mechanics import BINANCE_BTCUSDT_2021 as TIERS
from flushwatch.api.backtest import (
    _fill_gaps,
    _level_days,
    bar_predictions,
    causal_edges,
    from_first_oi,
    map_state,
    stream_predictions,
)
from flushwatch.api.forecast import _aligned, _map_preds
from flushwatch.testing.real import load_market

T0 = 1_735_689_600 * 10**9  # 2025-01-01T00:00:00Z


def simulated_minutes(days: int, seed: int = 0) -> MarketSeries:
    """SIMULATED 1-minute perp: fat-tailed walk, OI and liquidation buckets, a few gaps."""
    rng = np.random.default_rng(seed)
    n = days * 1440
    close = 100.0 * np.exp(np.cumsum(rng.standard_t(3, n) * 0.004))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.002, n)))
    low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.002, n)))
    oi = 1e4 * np.exp(np.cumsum(rng.normal(0, 0.003, n))) * close
    gaps = rng.random(n) < 0.002
    for a in (open_, high, low, close):
        a[gaps] = np.nan
    oi[rng.random(n) < 0.002] = np.nan
    return MarketSeries(
        asset="BTC",
        sources={"bars": "SIMULATED", "oi": "SIMULATED", "liquidations": "SIMULATED"},
        ts=T0 + np.arange(n, dtype=np.int64) * 60 * 10**9,
        step_s=60,
        open=open_,
        high=high,
        low=low,
        close=close,
        oi_quote=oi,
        liq_long=rng.lognormal(8, 2, n),
        liq_short=rng.lognormal(8, 2, n),
    )


@pytest.fixture(scope="module")
def btc_1h() -> MarketSeries:
    return from_first_oi(load_market("coinglass_btc_1h"))


def _assert_same_state(a: object, b: object) -> None:
    for f in a.__struct_fields__:  # type: ignore[attr-defined]
        x, y = getattr(a, f), getattr(b, f)
        if isinstance(x, np.ndarray):
            assert x.shape == y.shape, f
            assert np.array_equal(x, y, equal_nan=True), f
        else:
            assert x == y, f


def _build(m: MarketSeries, p: LiqMapParams, **kw: object):  # type: ignore[no-untyped-def]
    assert m.oi_quote is not None
    o, h, lo, c = _fill_gaps(m)
    edges = causal_edges(float(m.open[np.isfinite(m.open)][0]), p.n_bins, p.range_pct)
    return build_map(
        m.ts, o, h, lo, c, m.oi_quote, p, tiers_for(m.asset, None), edges=edges,
        **kw,  # type: ignore[arg-type]
    )  # fmt: skip


@pytest.mark.parametrize(
    "params",
    [LiqMapParams(n_bins=300), LiqMapParams(n_bins=300, closures="own", half_life_hours=5.0)],
)
def test_chunked_build_equals_one_pass_on_simulated_minutes(params: LiqMapParams) -> None:
    m = simulated_minutes(3)
    one = _build(m, params, chunk_bars=m.n, snapshot_every=97)
    _assert_same_state(_build(m, params, chunk_bars=997, snapshot_every=97), one)
    assert one.consumed_long.sum() > 0
    assert one.closed.sum() > 0


@settings(max_examples=40, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.floats(-0.03, 0.03),
            st.floats(0.0, 0.02),
            st.floats(-0.05, 0.05),
            st.booleans(),
        ),
        min_size=2,
        max_size=60,
    ),
    st.integers(1, 60),
    st.sampled_from(["own", "pro_rata"]),
)
def test_chunked_build_equals_one_pass_property(
    steps: list[tuple[float, float, float, bool]], chunk: int, closures: str
) -> None:
    ret, wick, doi, gap = (np.array(x) for x in zip(*steps, strict=True))
    close = 100.0 * np.exp(np.cumsum(ret))
    high, low = close * (1 + wick), close * (1 - wick)
    oi = 1e6 * np.exp(np.cumsum(doi))
    oi[gap.astype(bool)] = np.nan  # forward-filled across chunk edges
    ts = np.arange(close.shape[0], dtype=np.int64) * 60 * 10**9
    p = LiqMapParams(leverages=(5.0, 20.0), weights=(0.5, 0.5), closures=closures)  # type: ignore[arg-type]
    edges = np.linspace(50.0, 150.0, 401)
    args = (ts, close, high, low, close, oi, p, TIERS)
    one = build_map(*args, edges=edges, snapshot_every=1, chunk_bars=close.shape[0])
    _assert_same_state(build_map(*args, edges=edges, snapshot_every=1, chunk_bars=chunk), one)


def _assert_stream_equals_dense(m: MarketSeries, p: LiqMapParams | None, window: int) -> None:
    liq = {"long": np.asarray(m.liq_long), "short": np.asarray(m.liq_short)}
    first = 72 * 3600 // m.step_s
    got_l, got_s, days = stream_predictions(m, p, levels=liq, first=first, window=window)
    state = map_state(m, p)
    want_l, want_s = bar_predictions(m, state)
    assert np.array_equal(got_l, want_l, equal_nan=True)
    assert np.array_equal(got_s, want_s, equal_nan=True)
    assert np.isfinite(got_l).sum() > 0.9 * m.n
    assert np.nansum(got_l) > 0
    for side in ("long", "short"):
        want = _level_days(m, state, first, liq[side], side, 0.25)
        assert len(want) > 0
        assert days[side] == want


def test_streamed_nowcast_equals_dense_on_coinglass_btc_hourly(btc_1h: MarketSeries) -> None:
    _assert_stream_equals_dense(btc_1h, None, window=97)


def test_streamed_nowcast_equals_dense_on_simulated_minutes() -> None:
    _assert_stream_equals_dense(simulated_minutes(5, seed=1), LiqMapParams(n_bins=400), 1000)


def _dense_bootstrap(p: np.ndarray, r: np.ndarray, q: float, block: int, n_boot: int) -> tuple:  # type: ignore[type-arg]
    """The interval as computed before issue 16: every resample in one matrix."""
    n = p.shape[0]
    rng = np.random.default_rng(0)
    starts = rng.integers(0, n - block + 1, size=(n_boot, math.ceil(n / block)))
    idx = (starts[:, :, None] + np.arange(block)).reshape(n_boot, -1)[:, :n]
    ps, rs = p[idx], r[idx]
    k = q * n
    order = np.argsort(-ps, axis=1, kind="stable")
    cut = np.take_along_axis(ps, order[:, [math.ceil(k) - 1]], axis=1)
    above, tied = ps > cut, ps == cut
    w = above + tied * (k - above.sum(axis=1, keepdims=True)) / tied.sum(axis=1, keepdims=True)
    tot = rs.sum(axis=1)
    lo, hi = np.quantile((w * rs).sum(axis=1)[tot > 0] / tot[tot > 0], [0.025, 0.975])
    return float(lo), float(hi)


def test_bootstrap_in_blocks_equals_one_matrix() -> None:
    rng = np.random.default_rng(3)
    n = 30_000  # 1 << 20 cells: 34 resamples at a time, 12 blocks of them
    p = rng.lognormal(0, 2, n)
    p[rng.random(n) < 0.3] = 0.0  # ties at the cut
    r = rng.lognormal(8, 2, n)
    assert bootstrap_top_share(p, r, block=60, n_boot=400) == _dense_bootstrap(p, r, 0.25, 60, 400)


@settings(max_examples=60, deadline=None)
@given(
    st.lists(
        st.tuples(st.floats(95.0, 105.0), st.floats(0.0, 3.0), st.floats(0.0, 1e6)),
        min_size=1,
        max_size=40,
    ),
    st.integers(0, 199),
    st.integers(1, 200),
)
def test_a_days_own_bins_get_the_whole_grids_usd(
    bars: list[tuple[float, float, float]], i0: int, width: int
) -> None:
    lo, span, usd = (np.array(x) for x in zip(*bars, strict=True))
    edges = np.linspace(90.0, 110.0, 201)
    i1 = min(200, i0 + width)
    whole = spread_over_bins(edges, lo, lo + span, usd)
    assert np.array_equal(spread_over_bins(edges[i0 : i1 + 1], lo, lo + span, usd), whole[i0:i1])


def test_forecast_reads_the_map_as_the_snapshots_did(btc_1h: MarketSeries) -> None:
    fp = ForecastParams()
    m = _aligned(btc_1h, 86_400)
    sets = issue_set(m.ts, m.high, m.low, m.close, m.step_s, fp)
    lp = LiqMapParams(half_life_hours=168.0, closures="own")
    got = _map_preds(m, sets, lp, 24)
    state = _build(m, lp, snapshot_every=24)
    for side in ("long", "short"):
        snaps = state.snap_long if side == "long" else state.snap_short
        set_edges = sets.long_edges if side == "long" else sets.short_edges
        for j, i in enumerate(sets.index.tolist()):
            mass = rebin(state.edges, snaps[i // 24], set_edges[j])
            reach = reach_probability(set_edges[j], float(sets.ref[j]), float(sets.sigma[j]))
            assert np.array_equal(got[side][0][j], mass)
            assert np.array_equal(got[side][1][j], mass * reach)
    assert len(got["long"][0]) == sets.index.shape[0] > 150


def _traced_peak(m: MarketSeries) -> int:
    liq = {"long": np.asarray(m.liq_long), "short": np.asarray(m.liq_short)}
    tracemalloc.start()
    try:
        stream_predictions(m, levels=liq, first=0)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_streamed_memory_does_not_grow_with_bars_times_bins() -> None:
    short, long_ = simulated_minutes(2, seed=2), simulated_minutes(8, seed=2)
    p2, p8 = _traced_peak(short), _traced_peak(long_)
    dense = long_.n * LiqMapParams().n_bins * 8 * 2  # one snapshot per bar, both sides
    assert p8 < 1.25 * p2, (p2, p8)
    assert p8 < dense / 4, (p8, dense)
