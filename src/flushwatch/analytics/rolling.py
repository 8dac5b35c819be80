"""Trailing-window order statistics in O(n log n): medians, MADs, percentiles, ranks, extremes.

The detectors judge bar t against the ``window`` bars before it (``x[t-window:t]``, NaN
ignored). Computing each window from scratch (NumPy over a sliding view) costs O(n·window):
a 1-minute report took 24.5 s at 30 days and 258 s at 120 (a week is 10,080 bars, a funding
baseline 129,600). Here every series is indexed once by a *wavelet matrix* over the ranks of
its values (:class:`OrderIndex`): the k-th smallest value, or the number of values below a
rank, in any position range costs one pass over ``log2(distinct values)`` levels, vectorised
over all bars at once. Window minima and maxima use van Herk/Gil-Werman block scans, O(n).

Results equal the NumPy computations they replace (``nanmedian``, ``nanpercentile``, the
rank count, ``nanmax``/``nanmin``) bit for bit: the same order statistics are picked and
combined with the same float operations, which the property tests check against a
per-bar reference. The one exception is a window *mean* (the offset of the robust log z),
summed here from block prefix and suffix sums rather than NumPy's pairwise sum: it agrees to
the last few bits. Windows holding ±inf (or, for the log z, negative or huge values) are
rare and left to the reference computation (:func:`chunked`), so their results match too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np

from flushwatch.analytics.market import F64, I64

_CHUNK = 1024  # rows of trailing windows materialised at once by the reference path
#: NumPy's nanmedian sorts small windows (under 600) through a masked array, whose median of
#: an odd count is ``(v + v) / 2``; larger ones take the middle value itself.
_SMALL_MEDIAN = 600


def trailing_windows(x: F64, window: int) -> F64:
    """Return a read-only view whose row t holds ``x[t-window:t]`` (NaN before the start).

    The window excludes bar t itself: every baseline built on it is causal.
    """
    from numpy.lib.stride_tricks import sliding_window_view

    x = np.asarray(x, dtype=np.float64)
    padded = np.concatenate([np.full(window, np.nan), x])
    view: F64 = sliding_window_view(padded, window)[: x.shape[0]]
    return view


def trailing_count(x: F64, window: int) -> F64:
    """Count finite values in the trailing window of each bar (cumulative-sum, O(n))."""
    return _window_count(np.isfinite(x), window).astype(np.float64)


def _window_count(flags: np.ndarray, window: int) -> I64:
    """Number of True in ``flags[t-window:t]`` per t."""
    ok = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
    idx = np.arange(flags.shape[0])
    out: I64 = ok[idx] - ok[np.maximum(idx - window, 0)]
    return out


def chunked(x: F64, window: int, rows: I64, fn: Callable[[F64, I64], F64]) -> F64:
    """``fn(windows, rows)`` over the trailing windows of ``rows``, a chunk at a time.

    The O(n·window) reference: what every kernel here computed before, kept for the rare
    windows the fast path does not take (and as the definition the tests compare with).
    """
    out = np.full(rows.shape[0], np.nan)
    view = trailing_windows(x, window)
    for lo in range(0, rows.shape[0], _CHUNK):
        sel = rows[lo : lo + _CHUNK]
        out[lo : lo + _CHUNK] = fn(view[sel], sel)
    return out


class OrderIndex:
    """A wavelet matrix over the dense ranks of ``x``: order statistics of any range.

    ``values`` are the distinct non-NaN values, sorted; NaN gets the rank ``len(values)``,
    above every value, so it is never counted below a value nor picked as a k-th smallest
    while k is under the range's non-NaN count.
    """

    def __init__(self, x: F64) -> None:
        x = np.asarray(x, dtype=np.float64)
        nan = np.isnan(x)
        self.values: F64 = np.unique(x[~nan])
        ranks = np.searchsorted(self.values, x).astype(np.int64)
        ranks[nan] = self.values.shape[0]
        self.n = x.shape[0]
        self.ranks: I64 = ranks
        self.levels = max(1, int(self.values.shape[0]).bit_length())
        #: int32 halves the memory traffic of the walks (the gathers dominate)
        self._int = np.int32 if self.n < 2**31 - 1 else np.int64
        zeros = np.empty((self.levels, self.n + 1), dtype=self._int)
        self._nz = np.empty(self.levels, dtype=self._int)
        cur = ranks
        for lvl in range(self.levels):
            bit = (cur >> (self.levels - 1 - lvl)) & 1
            zero = bit == 0
            zeros[lvl, 0] = 0
            np.cumsum(zero, out=zeros[lvl, 1:])
            self._nz[lvl] = zeros[lvl, -1]
            cur = np.concatenate([cur[zero], cur[~zero]])
        self._zeros = zeros

    def kth(self, start: I64, stop: I64, kth: I64) -> I64:
        """Rank of the k-th smallest (0-based) value among positions ``[start, stop)``."""
        # copies, walked down in place
        a, b, k = (np.array(v, dtype=self._int) for v in (start, stop, kth))
        out = np.zeros(a.shape[0], dtype=np.int64)
        span = np.empty_like(a)
        for lvl in range(self.levels):
            zl = self._zeros[lvl]
            za, zb = zl.take(a), zl.take(b)
            np.subtract(zb, za, out=span)
            right = k >= span
            np.subtract(k, span, out=k, where=right)
            nz = self._nz[lvl]
            np.subtract(a, za, out=a)
            np.add(a, nz, out=a)
            np.copyto(a, za, where=~right)  # left: za; right: nz + a - za
            np.subtract(b, zb, out=b)
            np.add(b, nz, out=b)
            np.copyto(b, zb, where=~right)
            out <<= 1
            out |= right
        return out

    def value(self, a: I64, b: I64, k: I64) -> F64:
        """The k-th smallest (0-based) value among positions ``[a, b)``."""
        return np.asarray(self.values[self.kth(a, b, k)], dtype=np.float64)

    def count_less(self, start: I64, stop: I64, r: I64) -> I64:
        """Number of positions in ``[start, stop)`` whose rank is below ``r``."""
        a, b = (np.array(v, dtype=self._int) for v in (start, stop))
        out = np.zeros(a.shape[0], dtype=np.int64)
        for lvl in range(self.levels):
            zl = self._zeros[lvl]
            za, zb = zl.take(a), zl.take(b)
            one = ((r >> (self.levels - 1 - lvl)) & 1) == 1
            out += np.where(one, zb - za, 0)
            nz = self._nz[lvl]
            a = np.where(one, nz + a - za, za)
            b = np.where(one, nz + b - zb, zb)
        return out


def bounds(rows: I64, window: int) -> tuple[I64, I64]:
    """Position range ``[a, b)`` of the trailing window of each row."""
    return np.maximum(rows - window, 0), rows.astype(np.int64)


def _median_of(lo: F64, hi: F64, odd: np.ndarray, window: int) -> F64:
    """NumPy's nanmedian from the two middle values (``lo == hi`` for an odd count)."""
    if window < _SMALL_MEDIAN:
        return np.asarray((lo + hi) / 2.0, dtype=np.float64)
    return np.asarray(np.where(odd, hi, (lo + hi) / 2.0), dtype=np.float64)


def _has_inf(x: F64, window: int, rows: I64) -> np.ndarray:
    infs = _window_count(np.isinf(x), window)
    return np.asarray(infs[rows] > 0)


def _split(x: F64, window: int, rows: I64, bad: np.ndarray) -> tuple[I64, I64]:
    """Rows for the fast path and rows left to the reference."""
    return rows[~bad], rows[bad]


def median(x: F64, window: int, rows: I64, idx: OrderIndex | None = None) -> F64:
    """``nanmedian`` of the trailing window of each row (rows must hold a value)."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(rows.shape[0], np.nan)
    bad = _has_inf(x, window, rows)
    fast, slow = _split(x, window, rows, bad)
    if fast.size:
        idx = idx or OrderIndex(x)
        a, b = bounds(fast, window)
        c = idx.count_less(a, b, np.full(a.shape[0], idx.values.shape[0]))
        h = c // 2
        odd = (c % 2) == 1
        lo = idx.value(a, b, np.where(odd, h, h - 1))
        hi = idx.value(a, b, h)
        out[~bad] = _median_of(lo, hi, odd, window)
    if slow.size:
        out[bad] = chunked(x, window, slow, lambda w, _: np.nanmedian(w, axis=1))
    return out


def percentile(x: F64, window: int, rows: I64, q: float) -> F64:
    """``nanpercentile(window, q)`` (linear interpolation) for each row."""
    x = np.asarray(x, dtype=np.float64)
    out = np.full(rows.shape[0], np.nan)
    bad = _has_inf(x, window, rows)
    fast, slow = _split(x, window, rows, bad)
    if fast.size:
        idx = OrderIndex(x)
        a, b = bounds(fast, window)
        c = idx.count_less(a, b, np.full(a.shape[0], idx.values.shape[0]))
        frac = np.true_divide(np.asarray(q, dtype=np.float64), 100)
        virtual = (c - 1) * frac  # NumPy's 'linear' virtual index
        prev = np.floor(virtual)
        top = virtual >= c - 1
        below = virtual < 0
        i_prev = np.where(top, c - 1, np.where(below, 0, prev)).astype(np.int64)
        i_next = np.where(top, c - 1, np.where(below, 0, prev + 1)).astype(np.int64)
        gamma = virtual - np.where(top, -1.0, np.where(below, 0.0, prev))
        lo = idx.value(a, b, i_prev)
        hi = idx.value(a, b, i_next)
        diff = hi - lo
        res = lo + diff * gamma
        res = np.where(gamma >= 0.5, hi - diff * (1 - gamma), res)
        out[~bad] = res
    if slow.size:
        with np.errstate(all="ignore"):  # inf - inf inside the interpolation, as before
            out[bad] = chunked(x, window, slow, lambda w, _: np.nanpercentile(w, q, axis=1))
    return out


def rank_pct(x: F64, window: int, rows: I64) -> F64:
    """Percentile rank of ``x[t]`` in its trailing window: below + half the ties, over the
    finite count (exact counts, so ±inf in a window needs no special path)."""
    x = np.asarray(x, dtype=np.float64)
    idx = OrderIndex(x)
    a, b = bounds(rows, window)
    r = idx.ranks[rows]
    nan = np.isnan(x[rows])  # compares with nothing: ranks 0
    less = np.where(nan, 0, idx.count_less(a, b, r))
    ties = np.where(nan, 0, idx.count_less(a, b, np.minimum(r + 1, idx.values.shape[0])) - less)
    finite = _window_count(np.isfinite(x), window)[rows]
    below = less + 0.5 * ties
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.asarray(100.0 * below / finite, dtype=np.float64)


def extreme(x: F64, window: int, *, largest: bool) -> F64:
    """``nanmax`` (or ``nanmin``) of the trailing window of every bar, O(n) (van Herk):
    NaN where the window holds no non-NaN value."""
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    fill = -np.inf if largest else np.inf
    acc = np.maximum if largest else np.minimum
    # padded[i] = x[i - window]; the window of bar t is padded[t : t + window]
    m = -(-(n + window) // window) * window
    padded = np.full(m, fill)
    padded[window : window + n] = np.where(np.isnan(x), fill, x)
    blocks = padded.reshape(-1, window)
    prefix = acc.accumulate(blocks, axis=1).ravel()
    suffix = acc.accumulate(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    t = np.arange(n)
    last = t + window - 1
    out = acc(suffix[t], prefix[last])
    out = np.where(t % window == 0, suffix[t], out)  # the window is exactly one block
    seen = _window_count(~np.isnan(x), window)
    return np.asarray(np.where(seen > 0, out, np.nan), dtype=np.float64)


def _window_sums(x: F64, window: int, rows: I64) -> F64:
    """Sum of the non-NaN values of each row's window, from block suffix and prefix sums
    (every partial sum adds values of the window's own two blocks, in long double: no
    cancellation against the rest of the series, and a window of zeros sums to zero)."""
    n = x.shape[0]
    m = -(-(n + window) // window) * window
    padded = np.zeros(m, dtype=np.longdouble)
    padded[window : window + n] = np.where(np.isnan(x), 0.0, x)
    blocks = padded.reshape(-1, window)
    prefix = np.cumsum(blocks, axis=1).ravel()
    suffix = np.cumsum(blocks[:, ::-1], axis=1)[:, ::-1].ravel()
    t = rows
    last = t + window - 1
    total = np.where(t % window == 0, suffix[t], suffix[t] + prefix[last])
    return np.asarray(total, dtype=np.float64)


def _tame(x: F64) -> np.ndarray:
    """Values the fast log z handles: NaN, or finite within ``[0, 1e300]``."""
    with np.errstate(invalid="ignore"):
        return np.asarray(np.isnan(x) | ((x >= 0) & (x <= 1e300)))


def robust_log_z(
    x: F64, window: int, min_bars: int, min_spread: float, mad_to_sigma: float
) -> tuple[F64, F64]:
    """See :func:`flushwatch.analytics.flushes.robust_log_z`; this is its O(n log n) body.

    Per row, the trailing window's order statistics come from one :class:`OrderIndex` of
    ``x``. ``y = log(x + offset)`` is monotone in ``x``, so the window's median of y is
    ``y`` of its middle values; the MAD is the median of ``|y - median|``, found as the k-th
    smallest of two sorted runs (the distances below the median, read downwards, and above
    it, read upwards) by a binary search over how many come from each run.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[0]
    z = np.full(n, np.nan)
    ratio = np.full(n, np.nan)
    count = _window_count(~np.isnan(x), window)
    finite = _window_count(np.isfinite(x), window)
    rows = np.flatnonzero(finite >= max(min_bars, 1))
    wild = _window_count(~_tame(x), window)[rows] > 0
    wild |= ~_tame(x[rows])
    fast, slow = rows[~wild], rows[wild]
    if fast.size:
        zf, rf = _log_z_fast(x, window, fast, count[fast], min_spread, mad_to_sigma)
        z[fast], ratio[fast] = zf, rf
    if slow.size:
        zs, rs = _log_z_reference(x, window, slow, min_spread, mad_to_sigma)
        z[slow], ratio[slow] = zs, rs
    return z, ratio


def _log_z_fast(
    x: F64, window: int, rows: I64, c: I64, min_spread: float, mad_to_sigma: float
) -> tuple[F64, F64]:
    idx = OrderIndex(x)
    a, b = bounds(rows, window)
    offset = 0.1 * (_window_sums(x, window, rows) / c) + np.finfo(np.float64).tiny
    h = c // 2
    odd = (c % 2) == 1
    lo_k = np.where(odd, h, h - 1)
    x_lo = idx.value(a, b, lo_k)
    x_hi = idx.value(a, b, h)

    def y(v: F64, off: F64) -> F64:
        return np.asarray(np.log(v + off), dtype=np.float64)

    med = _median_of(y(x_lo, offset), y(x_hi, offset), odd, window)
    # distances: run A (below the middle, size h) and run B (from the middle up, size c - h)
    d_lo, d_hi = _middle_distances(idx, a, b, offset, med, h, c)
    d_lo = np.where(odd, d_hi, d_lo)
    spread = mad_to_sigma * _median_of(d_lo, d_hi, odd, window)
    xt = x[rows]
    z = (y(xt, offset) - med) / np.maximum(spread, min_spread)
    med_x = _median_of(x_lo, x_hi, odd, window)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(med_x > 0, xt / med_x, np.where(xt > 0, np.inf, 0.0))
    return np.asarray(z, dtype=np.float64), np.asarray(ratio, dtype=np.float64)


def _middle_distances(
    idx: OrderIndex, a: I64, b: I64, off: F64, med: F64, p: I64, c: I64
) -> tuple[F64, F64]:
    """The (k-1)-th and k-th smallest (0-based, k = p) of ``|log(v + off) - med|`` over
    the window's values ``v``: the two middle distances of an even count (for an odd count
    the second is the median).

    Run A[i] = med - y(s[p-1-i]) (i < p) and run B[j] = y(s[p+j]) - med (j < c - p) are
    both ascending (s: the window sorted). The k+1 smallest distances are A[:i] and
    B[:k+1-i] for the first i where A[i] >= B[k-i] (or a run ran out), found by bisection;
    the k-th is the larger of the two last ones taken, the (k-1)-th the larger of the
    other one and the element before the k-th in its own run.
    """
    k = p
    top_a = np.maximum(p - 1, 0)
    top_b = np.maximum(c - p - 1, 0)

    def run_a(i: I64) -> F64:
        v = idx.value(a, b, p - 1 - np.clip(i, 0, top_a))
        return np.asarray(med - np.log(v + off), dtype=np.float64)

    def run_b(j: I64) -> F64:
        v = idx.value(a, b, p + np.clip(j, 0, top_b))
        return np.asarray(np.log(v + off) - med, dtype=np.float64)

    lo = np.maximum(0, k + 1 - (c - p))
    hi = np.minimum(k + 1, p)
    while True:
        active = lo < hi
        if not active.any():
            break
        mid = (lo + hi) // 2
        more = active & (mid < p) & (k - mid >= 0) & (run_a(mid) < run_b(k - mid))
        lo = np.where(more, mid + 1, lo)
        hi = np.where(active & ~more, mid, hi)
    i, j = lo, k - lo  # A[:i] and B[:j + 1] are the k + 1 smallest
    has_a, has_b = i >= 1, j >= 0
    last_a, last_b = run_a(i - 1), run_b(j)
    a_wins = has_a & (~has_b | (last_a >= last_b))
    kth = np.where(a_wins, last_a, last_b)
    # the (k-1)-th: the other run's last one, or the one before the k-th in its own run
    other = np.where(a_wins, np.where(has_b, last_b, -np.inf), np.where(has_a, last_a, -np.inf))
    before = np.where(
        a_wins,
        np.where(i >= 2, run_a(i - 2), -np.inf),
        np.where(j >= 1, run_b(j - 1), -np.inf),
    )
    return np.asarray(np.maximum(other, before), dtype=np.float64), np.asarray(kth)


def _log_z_reference(
    x: F64, window: int, rows: I64, min_spread: float, mad_to_sigma: float
) -> tuple[F64, F64]:
    """The O(n·window) computation, for windows the fast path does not take."""
    z = np.full(rows.shape[0], np.nan)
    ratio = np.full(rows.shape[0], np.nan)
    view = trailing_windows(x, window)
    for lo in range(0, rows.shape[0], _CHUNK):
        sel = rows[lo : lo + _CHUNK]
        win = view[sel]
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN y of a wild window
            z_part, ratio_part = _log_z_chunk(x[sel], win, min_spread, mad_to_sigma)
        z[lo : lo + _CHUNK], ratio[lo : lo + _CHUNK] = z_part, ratio_part
    return z, ratio


def _log_z_chunk(xs: F64, win: F64, min_spread: float, mad_to_sigma: float) -> tuple[F64, F64]:
    offset = 0.1 * np.nanmean(win, axis=1) + np.finfo(np.float64).tiny
    y_win = np.log(win + offset[:, None])
    med = np.nanmedian(y_win, axis=1)
    spread = mad_to_sigma * np.nanmedian(np.abs(y_win - med[:, None]), axis=1)
    z = (np.log(xs + offset) - med) / np.maximum(spread, min_spread)
    med_x = np.nanmedian(win, axis=1)
    ratio = np.where(med_x > 0, xs / med_x, np.where(xs > 0, np.inf, 0.0))
    return np.asarray(z, dtype=np.float64), np.asarray(ratio, dtype=np.float64)
