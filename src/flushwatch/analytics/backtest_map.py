"""Score a liquidation map against realized liquidations: pure metrics on arrays.

The question a map must answer is *where* positions sit, not *how volatile* the hour is. The
USD liquidated in an hour is mostly explained by how far price travelled and how much open
interest there was, so every score here is reported next to a naive baseline that knows only
that:

* **naive baseline** — long: ``(open − low) / open × OI`` (the relative range price traded
  below the open times the open interest known at the open); short: ``(high − open) / open ×
  OI``. It uses the same realized range the map is scored on, so the comparison is fair.
* **top-quarter capture** (:func:`top_share`) — the share of realized USD that falls in the
  25 % of hours a predictor ranks highest; 25 % by chance. Ties at the cut (a map that
  predicts $0 for many hours) are shared pro rata, so a constant predictor scores exactly the
  chance level instead of whatever the sort order happens to give.
* **Spearman** rank correlation (average ranks for ties) and the **partial Spearman** of the
  map with the realized USD controlling for the baseline: rank all three, then
  ``r_xy·z = (r_xy − r_xz r_yz) / sqrt((1 − r_xz²)(1 − r_yz²))``; two-sided p from Student's
  t with ``n − 3`` degrees of freedom, ``t = r sqrt((n − 3) / (1 − r²))``. The t tail is the
  regularized incomplete beta ``I_{df/(df+t²)}(df/2, 1/2)`` (continued fraction, Numerical
  Recipes §6.4), checked in the tests against the closed forms for 1, 2 and 4 degrees of
  freedom. Confidence intervals are Fisher-z (``se = 1/sqrt(n − 3 − k)``, k controls):
  approximate for rank correlations and for autocorrelated hours, so they are optimistic.
* **level capture** (:func:`level_capture`) — per day, rank the price bins the day's traded
  range visited by the map's predicted density at 00:00, spread each bar's realized long USD
  uniformly *in price* over ``[low, open]`` and short USD over ``[open, high]`` (a zero-width
  range goes to the bin holding the price), and report the USD share landing in the top
  quarter of those bins (25 % by chance, USD-weighted over days).

Nothing here builds a map: predictions come in as arrays.
"""

from __future__ import annotations

import math
from typing import Annotated

import msgspec
import numpy as np

from flushwatch.analytics.market import F64

_Z95 = 1.959963984540054  # two-sided 95 % normal quantile
_EPS = 1e-300
_BOOT_CELLS = 1 << 20  # bootstrap cells (resamples × bars) held at once


class BacktestParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How the backtest is scored (the map's own priors live in ``LiqMapParams``)."""

    quantile: Annotated[
        float,
        msgspec.Meta(gt=0, lt=1, description="Top share of hours/bins scored: a quarter."),
    ] = 0.25
    warmup_hours: Annotated[
        float,
        msgspec.Meta(
            ge=0, description="Bars not scored at the start: the map knows no older positions."
        ),
    ] = 72.0
    n_boot: Annotated[
        int, msgspec.Meta(ge=0, description="Bootstrap resamples for capture intervals.")
    ] = 400
    block_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Bootstrap block: one day keeps daily cycles.")
    ] = 24.0
    seed: Annotated[int, msgspec.Meta(description="Bootstrap seed: same data, same interval.")] = 0


class Corr(msgspec.Struct, frozen=True, kw_only=True):
    """A (partial) rank correlation with its two-sided p-value and a Fisher-z 95 % interval."""

    r: float
    p: float
    n: int
    ci_low: float
    ci_high: float


def naive_baseline(open_: F64, high: F64, low: F64, oi_prev: F64) -> tuple[F64, F64]:
    """Volatility-only predictor (long, short) that a map must beat to be worth anything.

    Examples
    --------
    >>> import numpy as np
    >>> lo, sh = naive_baseline(np.array([100.0]), np.array([103.0]), np.array([98.0]),
    ...                         np.array([1e9]))
    >>> float(lo[0]), float(sh[0])
    (20000000.0, 30000000.0)
    """
    long_ = (open_ - low) / open_ * oi_prev
    short = (high - open_) / open_ * oi_prev
    return np.asarray(long_, np.float64), np.asarray(short, np.float64)


def top_weights(pred: F64, q: float = 0.25) -> F64:
    """Weight 1 for the top ``q·n`` predictions, 0 below, a pro-rata share for ties at the cut.

    Examples
    --------
    >>> top_weights(np.array([5.0, 1.0, 1.0, 0.0]), 0.5).tolist()
    [1.0, 0.5, 0.5, 0.0]
    """
    p = np.asarray(pred, np.float64)
    p = np.where(np.isnan(p), -np.inf, p)  # no prediction ranks last
    k = q * p.shape[0]
    w = np.zeros(p.shape[0], np.float64)
    if p.shape[0] == 0 or k <= 0:
        return w
    cut = np.sort(p)[::-1][max(math.ceil(k) - 1, 0)]
    above = p > cut
    tied = p == cut
    w[above] = 1.0
    w[tied] = (k - np.count_nonzero(above)) / np.count_nonzero(tied)
    return w


def top_share(pred: F64, realized: F64, q: float = 0.25) -> float:
    """Share of realized USD in the top ``q`` of rows ranked by ``pred`` (``q`` by chance).

    Examples
    --------
    >>> top_share(np.array([4.0, 3.0, 2.0, 1.0]), np.array([10.0, 0.0, 5.0, 5.0]))
    0.5
    """
    r = np.asarray(realized, np.float64)
    total = float(r.sum())
    if total <= 0:
        return math.nan
    return float(top_weights(pred, q) @ r) / total


def rankdata(x: F64) -> F64:
    """Ranks 1..n with ties given their average rank (as ``scipy.stats.rankdata``).

    Examples
    --------
    >>> rankdata(np.array([3.0, 1.0, 3.0, 2.0])).tolist()
    [3.5, 1.0, 3.5, 2.0]
    """
    a = np.asarray(x, np.float64)
    order = np.argsort(a, kind="stable")
    s = a[order]
    new = np.r_[True, s[1:] != s[:-1]]
    group = np.cumsum(new) - 1
    starts = np.flatnonzero(new)
    ends = np.r_[starts[1:], s.shape[0]]
    avg = (starts + ends + 1) / 2.0  # mean of the 1-based positions starts+1 .. ends
    out = np.empty(a.shape[0], np.float64)
    out[order] = avg[group]
    return out


def _pearson(x: F64, y: F64) -> float:
    xc = x - x.mean()
    yc = y - y.mean()
    den = math.sqrt(float(xc @ xc) * float(yc @ yc))
    return float(xc @ yc) / den if den > 0 else math.nan


def spearman(x: F64, y: F64) -> float:
    """Rank correlation: robust to the heavy tails of USD liquidation series.

    Examples
    --------
    >>> spearman(np.array([1.0, 2.0, 3.0]), np.array([10.0, 30.0, 20.0]))
    0.5
    """
    return _pearson(rankdata(x), rankdata(y))


def partial_r(r_xy: float, r_xz: float, r_yz: float) -> float:
    """First-order partial correlation of x and y given z, from the three pairwise ones."""
    den = math.sqrt((1.0 - r_xz * r_xz) * (1.0 - r_yz * r_yz))
    return (r_xy - r_xz * r_yz) / den if den > 0 else math.nan


def betainc_reg(a: float, b: float, x: float) -> float:
    """Regularized incomplete beta ``I_x(a, b)`` (Lentz continued fraction), for t tails.

    Examples
    --------
    >>> round(betainc_reg(2.0, 3.0, 0.4), 12)  # = 1 - (1-x)^4 - 4x(1-x)^3
    0.5248
    """
    if not 0.0 <= x <= 1.0:
        raise ValueError(f"x={x} outside [0, 1]")
    if x in (0.0, 1.0):
        return x
    ln_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast only below this point
        return 1.0 - betainc_reg(b, a, 1.0 - x)
    front = math.exp(ln_front) / a
    # Modified Lentz on 1/(1+ d1/(1+ d2/(1+ ...))), Numerical Recipes betacf.
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > _EPS else _EPS)
    f = d
    for m in range(1, 10_000):
        for num in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + num * d
            d = 1.0 / (d if abs(d) > _EPS else _EPS)
            c = 1.0 + num / c
            c = c if abs(c) > _EPS else _EPS
            f *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * f


def t_two_sided_p(t: float, df: float) -> float:
    """Two-sided p-value of Student's t: ``P(|T| ≥ |t|) = I_{df/(df+t²)}(df/2, 1/2)``.

    Examples
    --------
    >>> round(t_two_sided_p(1.0, 1.0), 12)  # Cauchy: P(|T| > 1) = 1/2
    0.5
    """
    if df <= 0:
        return math.nan
    return betainc_reg(df / 2.0, 0.5, df / (df + t * t))


def _fisher_ci(r: float, n_eff: float) -> tuple[float, float]:
    if not math.isfinite(r) or n_eff <= 0:
        return math.nan, math.nan
    z = math.atanh(max(min(r, 1.0 - 1e-15), -1.0 + 1e-15))
    h = _Z95 / math.sqrt(n_eff)
    return math.tanh(z - h), math.tanh(z + h)


def _t_p(r: float, df: int) -> float:
    if not math.isfinite(r) or df <= 0:
        return math.nan
    if abs(r) >= 1.0:
        return 0.0
    return t_two_sided_p(r * math.sqrt(df / (1.0 - r * r)), float(df))


def spearman_test(x: F64, y: F64) -> Corr:
    """Spearman correlation with a t-test p-value (``n − 2`` df) and a Fisher-z interval."""
    n = int(np.asarray(x).shape[0])
    r = spearman(x, y) if n > 2 else math.nan
    lo, hi = _fisher_ci(r, n - 3)
    return Corr(r=r, p=_t_p(r, n - 2), n=n, ci_low=lo, ci_high=hi)


def partial_spearman(x: F64, y: F64, z: F64) -> Corr:
    """Rank correlation of x (map) with y (realized) beyond what z (baseline) explains.

    Examples
    --------
    >>> x = np.array([1.0, 2.0, 3.0, 4.0, 5.0]); z = np.array([1.0, 3.0, 2.0, 5.0, 4.0])
    >>> round(partial_spearman(x, x, z).r, 12)
    1.0
    """
    n = int(np.asarray(x).shape[0])
    if n < 4:
        return Corr(r=math.nan, p=math.nan, n=n, ci_low=math.nan, ci_high=math.nan)
    rx, ry, rz = rankdata(x), rankdata(y), rankdata(z)
    r = partial_r(_pearson(rx, ry), _pearson(rx, rz), _pearson(ry, rz))
    lo, hi = _fisher_ci(r, n - 4)
    return Corr(r=r, p=_t_p(r, n - 3), n=n, ci_low=lo, ci_high=hi)


def bootstrap_top_share(
    pred: F64, realized: F64, *, q: float = 0.25, block: int = 24, n_boot: int = 400, seed: int = 0
) -> tuple[float, float]:
    """95 % moving-block bootstrap interval of :func:`top_share` (blocks keep autocorrelation).

    The quarter is re-ranked inside every resample (ties shared pro rata as in
    :func:`top_share`). Seeded, so the same data give the same interval.
    """
    p = np.asarray(pred, np.float64)
    r = np.asarray(realized, np.float64)
    n = p.shape[0]
    if n < 2 * block or n_boot < 1:
        return math.nan, math.nan
    rng = np.random.default_rng(seed)
    n_blocks = math.ceil(n / block)
    starts = rng.integers(0, n - block + 1, size=(n_boot, n_blocks))
    k = q * n
    shares = []
    step = max(1, _BOOT_CELLS // n)  # resamples at a time: memory flat in the bar count
    for a in range(0, n_boot, step):
        s = starts[a : a + step]
        idx = (s[:, :, None] + np.arange(block)).reshape(s.shape[0], -1)[:, :n]
        ps, rs = p[idx], r[idx]
        kth = math.ceil(k) - 1  # the cut is the kth largest value: a partition finds it
        cut = -np.partition(-ps, kth, axis=1)[:, [kth]]
        above = ps > cut
        tied = ps == cut
        w_tie = (k - above.sum(axis=1, keepdims=True)) / tied.sum(axis=1, keepdims=True)
        w = above + tied * w_tie
        tot = rs.sum(axis=1)
        shares.append((w * rs).sum(axis=1)[tot > 0] / tot[tot > 0])
    got = np.concatenate(shares)
    if got.shape[0] == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(got, [0.025, 0.975])
    return float(lo), float(hi)


def spread_over_bins(edges: F64, lo: F64, hi: F64, usd: F64) -> F64:
    """Spread each bar's USD uniformly in price over ``[lo, hi]``; returns USD per bin.

    A zero-width range puts its USD in the bin holding the price; USD outside the edges is
    dropped (the caller chooses edges that cover the day).

    Examples
    --------
    >>> spread_over_bins(np.array([0.0, 1.0, 2.0, 3.0]), np.array([0.5, 2.5]),
    ...                  np.array([2.5, 2.5]), np.array([4.0, 1.0])).tolist()
    [1.0, 2.0, 2.0]
    """
    e = np.asarray(edges, np.float64)
    lo_ = np.asarray(lo, np.float64)[None, :]  # bins × bars: each bin's sum runs over bars
    hi_ = np.asarray(hi, np.float64)[None, :]
    e_lo, e_hi = e[:-1, None], e[1:, None]
    width = hi_ - lo_
    overlap = np.clip(np.minimum(hi_, e_hi) - np.maximum(lo_, e_lo), 0.0, None)
    frac = np.divide(overlap, width, out=np.zeros_like(overlap), where=width > 0)
    point = (width <= 0) & (lo_ >= e_lo) & (lo_ < e_hi)
    frac = np.where(width > 0, frac, point.astype(np.float64))
    # One sum per bin over its own row (not a BLAS product, whose rounding depends on how
    # many bins are asked): a day's own bins give the USD of the whole grid to the bit.
    return np.asarray((frac * np.asarray(usd, np.float64)[None, :]).sum(axis=1), np.float64)


class LevelDay(msgspec.Struct, frozen=True, kw_only=True):
    """USD realized in one day and the part landing in the map's (or baseline's) top bins."""

    total: float
    captured: float
    captured_baseline: float
    bins: int


def level_capture(
    edges: F64,
    density: F64,
    open_: F64,
    high: F64,
    low: F64,
    liq: F64,
    *,
    side: str,
    q: float = 0.25,
) -> LevelDay:
    """One day's level capture for one side (``"long"`` or ``"short"``).

    ``density`` is the map's predicted notional per bin at 00:00 for that side; the bars are
    the day's. The bin universe is the bins the day's ``[min low, max high]`` touches. The
    baseline knows no positions, only the side: it ranks the bins below the day's first
    open (above, for shorts) by closeness to it, the other half last.
    """
    if side not in ("long", "short"):
        raise ValueError(f"side must be 'long' or 'short', not {side!r}")
    e = np.asarray(edges, np.float64)
    day_lo, day_hi = float(np.min(low)), float(np.max(high))
    if day_hi > day_lo:
        inside = (e[1:] > day_lo) & (e[:-1] < day_hi)
    else:  # a flat day: the one bin holding the price
        inside = (e[:-1] <= day_lo) & (e[1:] > day_lo)
    at = np.flatnonzero(inside)  # one run of bins: only these are spread and ranked
    if at.size == 0:
        return LevelDay(total=0.0, captured=0.0, captured_baseline=0.0, bins=0)
    e = e[at[0] : at[-1] + 2]
    lo_, hi_ = (low, open_) if side == "long" else (open_, high)
    u = spread_over_bins(e, lo_, hi_, liq)
    total = float(u.sum())
    if total <= 0:
        return LevelDay(total=0.0, captured=0.0, captured_baseline=0.0, bins=int(at.size))
    mid = 0.5 * (e[1:] + e[:-1])
    gap = float(open_[0]) - mid if side == "long" else mid - float(open_[0])
    near = np.where(gap >= 0, -gap, -np.inf)  # the side's own half first, nearest first
    dens = np.asarray(density, np.float64)[at[0] : at[-1] + 1]
    return LevelDay(
        total=total,
        captured=float(top_weights(dens, q) @ u),
        captured_baseline=float(top_weights(near, q) @ u),
        bins=int(at.size),
    )


class Capture(msgspec.Struct, frozen=True, kw_only=True):
    """Top-quarter capture with its moving-block bootstrap 95 % interval."""

    share: float
    ci_low: float
    ci_high: float


class SideScore(msgspec.Struct, frozen=True, kw_only=True):
    """Bar-level scores of one side: map vs naive baseline vs chance."""

    side: str
    n: int
    realized_usd: float
    chance: float
    map_capture: Capture
    baseline_capture: Capture
    map_spearman: Corr
    baseline_spearman: Corr
    #: Map vs realized with the baseline partialled out: the map's own information.
    partial: Corr


def score_side(
    pred_map: F64,
    pred_baseline: F64,
    realized: F64,
    *,
    side: str,
    q: float = 0.25,
    block: int = 24,
    n_boot: int = 400,
    seed: int = 0,
) -> SideScore:
    """Score one side on the bars where map, baseline and realized USD are all finite."""
    ok = np.isfinite(pred_map) & np.isfinite(pred_baseline) & np.isfinite(realized)
    x, z, y = pred_map[ok], pred_baseline[ok], realized[ok]

    def cap(p: F64) -> Capture:
        lo, hi = bootstrap_top_share(p, y, q=q, block=block, n_boot=n_boot, seed=seed)
        return Capture(share=top_share(p, y, q), ci_low=lo, ci_high=hi)

    return SideScore(
        side=side,
        n=int(ok.sum()),
        realized_usd=float(y.sum()),
        chance=q,
        map_capture=cap(x),
        baseline_capture=cap(z),
        map_spearman=spearman_test(x, y),
        baseline_spearman=spearman_test(z, y),
        partial=partial_spearman(x, y, z),
    )


class LevelScore(msgspec.Struct, frozen=True, kw_only=True):
    """Level capture of one side over all days, USD-weighted, with a day-bootstrap interval."""

    side: str
    days: int
    realized_usd: float
    chance: float
    map_share: float
    map_ci_low: float
    map_ci_high: float
    #: Bins on the side's half nearest the day's first open: side knowledge without a map.
    baseline_share: float
    median_bins: float


def level_summary(
    days: list[LevelDay], *, side: str, q: float = 0.25, n_boot: int = 400, seed: int = 0
) -> LevelScore:
    """Aggregate per-day level captures (days without realized USD carry no weight)."""
    tot = np.array([d.total for d in days], np.float64)
    cap = np.array([d.captured for d in days], np.float64)
    base = np.array([d.captured_baseline for d in days], np.float64)
    used = tot > 0
    total = float(tot.sum())
    lo = hi = math.nan
    if used.sum() >= 2 and n_boot > 0:
        rng = np.random.default_rng(seed)
        idx = rng.integers(0, int(used.sum()), size=(n_boot, int(used.sum())))
        shares = cap[used][idx].sum(axis=1) / tot[used][idx].sum(axis=1)
        lo, hi = (float(v) for v in np.quantile(shares, [0.025, 0.975]))
    bins = [d.bins for d, u in zip(days, used, strict=True) if u]
    return LevelScore(
        side=side,
        days=int(used.sum()),
        realized_usd=total,
        chance=q,
        map_share=float(cap.sum()) / total if total > 0 else math.nan,
        map_ci_low=lo,
        map_ci_high=hi,
        baseline_share=float(base.sum()) / total if total > 0 else math.nan,
        median_bins=float(np.median(bins)) if bins else math.nan,
    )


class BacktestResult(msgspec.Struct, frozen=True, kw_only=True):
    """The backtest table of one market: every figure is a measurement of an estimated map."""

    asset: str
    step_s: int
    start: str
    end: str
    sources: dict[str, str]
    estimate: bool = True
    #: False when the market has no realized liquidations: nothing below is then scored
    #: against liquidations (a series of zeros is never taken for a real one).
    liquidations_available: bool
    notes: list[str]
    sides: list[SideScore]
    levels: list[LevelScore]
    #: Without liquidations: map vs the bar's open-interest decrease (a proxy, labelled so).
    oi_drop_proxy: SideScore | None = None
