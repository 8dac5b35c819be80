"""The O(n log n) trailing kernels equal the per-window NumPy computations they replaced.

The references below are the previous implementations, verbatim in substance: a sliding
view of each bar's trailing window and NumPy's nan-aware reductions over it. Random series
mix NaN (gaps), ties (rounded values), zeros, ±inf and negative values, and windows from
one bar to longer than the series; one case crosses NumPy's 600-value median switch.
"""

from __future__ import annotations

import warnings

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from flushwatch.analytics.flushes import robust_log_z, trailing_max, trailing_median
from flushwatch.analytics.market import F64
from flushwatch.analytics.rolling import OrderIndex, bounds, trailing_count, trailing_windows
from flushwatch.analytics.trap import _rolling

MAD = 1.4826


def _rows(x: F64, window: int, min_bars: int) -> np.ndarray:
    return np.flatnonzero(trailing_count(x, window) >= max(min_bars, 1))


def ref_median(x: F64, window: int, min_bars: int) -> F64:
    out = np.full(x.shape[0], np.nan)
    view = trailing_windows(x, window)
    rows = _rows(x, window, min_bars)
    if rows.size:
        out[rows] = np.nanmedian(view[rows], axis=1)
    return out


def ref_max(x: F64, window: int) -> F64:
    out = np.full(x.shape[0], np.nan)
    rows = _rows(x, window, 1)
    if rows.size:
        out[rows] = np.nanmax(trailing_windows(x, window)[rows], axis=1)
    return out


def ref_log_z(x: F64, window: int, min_bars: int, min_spread: float) -> tuple[F64, F64]:
    n = x.shape[0]
    z, ratio = np.full(n, np.nan), np.full(n, np.nan)
    rows = _rows(x, window, min_bars)
    if rows.size == 0:
        return z, ratio
    win = trailing_windows(x, window)[rows]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices of wild windows
        offset = 0.1 * np.nanmean(win, axis=1) + np.finfo(np.float64).tiny
        y = np.log(win + offset[:, None])
        med = np.nanmedian(y, axis=1)
        spread = MAD * np.nanmedian(np.abs(y - med[:, None]), axis=1)
        z[rows] = (np.log(x[rows] + offset) - med) / np.maximum(spread, min_spread)
        med_x = np.nanmedian(win, axis=1)
        ratio[rows] = np.where(med_x > 0, x[rows] / med_x, np.where(x[rows] > 0, np.inf, 0.0))
    return z, ratio


def ref_rolling(x: F64, window: int, min_bars: int, fn: str, q: float, finite_only: bool) -> F64:
    out = np.full(x.shape[0], np.nan)
    enough = trailing_count(x, window) >= max(min_bars, 1)
    rows = np.flatnonzero(enough & np.isfinite(x) if finite_only else enough)
    if rows.size == 0:
        return out
    win = trailing_windows(x, window)[rows]
    with np.errstate(all="ignore"):  # inf - inf inside nanpercentile's interpolation
        if fn == "rank":
            cur = x[rows][:, None]
            below = np.sum(win < cur, axis=1) + 0.5 * np.sum(win == cur, axis=1)
            out[rows] = 100.0 * below / np.sum(np.isfinite(win), axis=1)
        elif fn == "pct":
            out[rows] = np.nanpercentile(win, q, axis=1)
        else:
            out[rows] = np.nanmin(win, axis=1)
    return out


_VALUE = st.one_of(
    st.floats(0, 1e6, allow_nan=False),
    st.integers(0, 5).map(float),  # ties and zeros
    st.just(float("nan")),
)
_WILD = st.one_of(
    _VALUE,
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([float("inf"), float("-inf"), 1e306]),
)


def _series(values: st.SearchStrategy[float]) -> st.SearchStrategy[F64]:
    return arrays(np.float64, st.integers(1, 90), elements=values)


def _same(a: F64, b: F64) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


@settings(max_examples=150, deadline=None)
@given(_series(_WILD), st.integers(1, 100), st.integers(0, 6))
def test_trailing_median_and_max_equal_numpy(x: F64, window: int, min_bars: int) -> None:
    assert _same(trailing_median(x, window, min_bars), ref_median(x, window, min_bars))
    with np.errstate(all="ignore"):
        assert _same(trailing_max(x, window), ref_max(x, window))


@settings(max_examples=150, deadline=None)
@given(_series(_WILD), st.integers(1, 100), st.integers(0, 6), st.booleans())
def test_log_z_equals_numpy(x: F64, window: int, min_bars: int, wild: bool) -> None:
    if not wild:
        x = np.where(np.isfinite(x) & (x >= 0), x, np.nan)
    with np.errstate(all="ignore"):
        z, ratio = robust_log_z(x, window, min_bars, 0.05)
        z_ref, ratio_ref = ref_log_z(x, window, min_bars, 0.05)
    assert _same(ratio, ratio_ref)  # order statistics: bit for bit
    # the offset's trailing mean is summed in another order: equal to the last bits
    assert np.array_equal(np.isnan(z), np.isnan(z_ref))
    assert np.allclose(z, z_ref, rtol=1e-9, atol=1e-12, equal_nan=True)


@settings(max_examples=150, deadline=None)
@given(
    _series(_WILD),
    st.integers(1, 100),
    st.integers(0, 6),
    st.sampled_from(["rank", "pct", "min"]),
    st.floats(0, 100),
    st.booleans(),
)
def test_trap_rolling_equals_numpy(
    x: F64, window: int, min_bars: int, fn: str, q: float, finite_only: bool
) -> None:
    got = _rolling(x, window, min_bars, fn, q, finite_only=finite_only)
    assert _same(got, ref_rolling(x, window, min_bars, fn, q, finite_only))


def test_long_windows_take_numpys_large_median_path() -> None:
    """Windows of 600 values or more: NumPy takes the middle value itself, not (v+v)/2."""
    rng = np.random.default_rng(7)
    x = rng.lognormal(0, 3, 1_500)
    x[rng.random(x.shape[0]) < 0.1] = np.nan
    x[::50] = np.round(x[::50])
    for window in (599, 600, 601, 1_000):
        assert _same(trailing_median(x, window, 10), ref_median(x, window, 10))
        z, ratio = robust_log_z(x, window, 100, 0.05)
        z_ref, ratio_ref = ref_log_z(x, window, 100, 0.05)
        assert _same(ratio, ratio_ref)
        assert np.allclose(z, z_ref, rtol=1e-9, atol=1e-12, equal_nan=True)
        for fn in ("rank", "pct", "min"):
            got = _rolling(x, window, 50, fn, 90.0)
            assert _same(got, ref_rolling(x, window, 50, fn, 90.0, True))


def test_order_index_answers_every_range() -> None:
    x = np.array([3.0, np.nan, 1.0, 3.0, -2.0, np.inf, 0.5])
    idx = OrderIndex(x)
    for a in range(x.shape[0]):
        for b in range(a, x.shape[0] + 1):
            vals = np.sort(x[a:b][~np.isnan(x[a:b])])
            ks = np.arange(vals.shape[0])
            got = idx.value(np.full(ks.shape, a), np.full(ks.shape, b), ks)
            assert got.tolist() == vals.tolist()
            r = np.arange(idx.values.shape[0] + 1)
            less = idx.count_less(np.full(r.shape, a), np.full(r.shape, b), r)
            edges = [*idx.values.tolist(), np.nan]  # rank len(values) is NaN's: counts all
            want = [int(np.sum(vals < v)) if v == v else vals.shape[0] for v in edges]
            assert less.tolist() == want
    start, stop = bounds(np.array([0, 3, 10]), 4)
    assert (start.tolist(), stop.tolist()) == ([0, 0, 6], [0, 3, 10])
