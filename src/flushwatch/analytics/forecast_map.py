"""The liquidation map as a forecast: a bin set fixed before the day, scored against baselines.

Pure kernels on arrays (no I/O, no clock). The protocol, per issue time ``t`` (00:00 UTC and
every ``cadence_hours`` after it) and per side:

1. **Reference and volatility, from bars before t only.** ``ref`` is the close of the bar
   ending at ``t``; ``σ`` is the standard deviation of log returns of the ``sigma_days`` of
   bars before ``t``, scaled to the horizon (``× sqrt(horizon bars)``).
2. **The bin set, fixed before the outcome.** Long: ``bins_per_side`` bins evenly spaced in
   log price over ``[ref·e^(−kσ), ref]``; short: over ``[ref, ref·e^(kσ)]``.
3. **Realized USD per bin** over ``[t, t + horizon)``: from priced liquidation prints where
   the data has them (their price is where the position was closed), else each bucket's
   liquidation total spread uniformly in price over the ``[low, high]`` of the bars it
   covers (:func:`bucket_ranges`; synthetic: the bucket has no price; the output says which
   one was used). USD outside the set is
   counted apart (``outside_usd``) and not scored.
4. **Predictors rank the bins** (higher first), and each scores the realized USD share in its
   top ``quantile`` of bins (ties shared pro rata, so ``uniform`` scores exactly the quantile):

   * ``map`` — the map's notional per bin at ``t`` (mass re-binned onto the set);
   * ``map_x_reach`` — the map's notional × the probability that price reaches the bin within
     the horizon, ``erfc(d / (σ√2))`` (driftless reflection principle, d = log distance);
   * ``vol_band_1sigma`` — closeness to the 1σ level past the reference, ``−|d − σ|``;
   * ``range_break_oi`` — closeness to the trailing 24 h low (long) or high (short): the
     level whose break triggers stops and liquidations. The issue's form multiplies by open
     interest; OI is one number per day and side, so it scales every bin alike and leaves the
     ranking (and this score) unchanged;
   * ``side_nearest`` — closeness to ``ref``;
   * ``uniform`` — no ranking (scores the quantile by construction).

5. **Scores** are USD-weighted over days (``Σ captured / Σ realized in set``). The interval of
   ``map − best baseline`` is a paired circular block bootstrap over issue times (blocks of
   ``block_days``: liquidations cluster over days), seeded.
6. **Walk-forward**: map settings are chosen per side on days before each test window only
   (:func:`walk_forward`); **hold-out**: the last ``holdout_frac`` of days are scored with the
   setting chosen on the days before them.
"""

from __future__ import annotations

import itertools
import math
import warnings
from typing import Annotated

import msgspec
import numpy as np

from flushwatch.analytics.backtest_map import spread_over_bins, top_weights
from flushwatch.analytics.market import F64, I64
from flushwatch.analytics.random_walk import touch_probability

BASELINES = ("vol_band_1sigma", "range_break_oi", "side_nearest", "uniform")
MODELS = ("map", "map_x_reach")
SIDES = ("long", "short")

#: What the map is worth as a forecast, measured with this protocol (issue 13;
#: ``bench/map_forecast.py``,
#: ``flushwatch backtest-map --protocol forecast``). Printed with every map so that no one
#: reads skill into it that was not measured.
FORECAST_SKILL = {
    "beats_baselines": False,
    "measured_on": "CoinGlass BTC hourly liquidations 2025-12-04 to 2026-06-02, 141 "
    "out-of-sample days (walk-forward), bin set ±2σ fixed at 00:00 UTC, top quarter of 20 "
    "bins per side; realized USD spread over each hour's range (the data has no prices)",
    "long": {"map_share": 0.253, "vol_band_1sigma": 0.292, "side_nearest": 0.370,
             "diff_ci_vs_best": [-0.191, -0.057]},
    "short": {"map_share": 0.240, "vol_band_1sigma": 0.242, "side_nearest": 0.386,
              "diff_ci_vs_best": [-0.225, -0.084]},
    "statement": "Measured as a next-day forecast, this map does NOT beat the volatility band "
    "or the nearest-bins baseline (BTC, 141 days: long 25.3% of realized liquidation USD in "
    "its top quarter of bins vs 29.2% for the 1σ band and 37.0% for the nearest bins; short "
    "24.0% vs 24.2% and 38.6%; uniform = 25%). Read it as an estimate of positioning, not as "
    "a forecast of where liquidations will happen.",
}  # fmt: skip


#: Per-asset measurements beside BTC's (``bench/map_forecast.py``: Binance 1h bars,
#: Hyperliquid hourly OI from 2025-12-07 with Hyperliquid's tiers, and its daily liquidation
#: buckets to 2026-01-31, each spread over its day's range; default protocol). A dozen
#: out-of-sample days each: wide intervals, the same answer.
FORECAST_SKILL_BY_ASSET = {
    "ETH": "ETH (Hyperliquid OI, tiers and daily buckets, 12/11 out-of-sample days): long "
    "26.5% vs 34.0% for the nearest bins, short 24.3% vs 39.2%; the map does NOT beat them.",
    "SOL": "SOL (Hyperliquid OI, tiers and daily buckets, 13/8 out-of-sample days): long "
    "25.1% vs 30.0% for the nearest bins, short 15.2% vs 65.0%; the map does NOT beat them.",
}

#: What the priced prints in the shared data can and cannot show (issue 13).
PRINTS_NOTE = (
    "The priced liquidation prints in the shared data (OKX 2026-03-04/05, one day; Hyperliquid "
    "2025-05-25 to 06-05, calm days) test the plumbing of the realized side, not skill: they "
    "hold no flush and too few days to score a forecast."
)


def skill_for(asset: str) -> dict[str, object]:
    """:data:`FORECAST_SKILL` with a statement that names what was measured on ``asset``."""
    own = FORECAST_SKILL_BY_ASSET.get(asset.upper())
    head = own or f"Not measured on {asset.upper()} (no realized liquidations to score on here)."
    return FORECAST_SKILL | {
        "asset": asset.upper(),
        "asset_statement": head,
        "priced_prints": PRINTS_NOTE,
        "statement": f"{head} {FORECAST_SKILL['statement']}"
        if asset.upper() != "BTC"
        else str(FORECAST_SKILL["statement"]),
    }


class ForecastParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The protocol's fixed settings (none of them is tuned on the data)."""

    k_sigma: Annotated[
        float, msgspec.Meta(gt=0, description="Half-width of the bin set in horizon σ.")
    ] = 2.0
    bins_per_side: Annotated[
        int, msgspec.Meta(ge=4, description="Bins in each side's set (log-spaced).")
    ] = 20
    quantile: Annotated[
        float, msgspec.Meta(gt=0, lt=1, description="Top share of bins scored (a quarter).")
    ] = 0.25
    sigma_days: Annotated[
        float, msgspec.Meta(gt=0, description="Trailing window of the volatility (days).")
    ] = 7.0
    cadence_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Issue times: 00:00 UTC and every cadence after.")
    ] = 24.0
    horizon_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Window scored after each issue time.")
    ] = 24.0
    warmup_days: Annotated[
        float, msgspec.Meta(ge=0, description="Days the map builds up before the first issue.")
    ] = 7.0
    block_days: Annotated[
        float, msgspec.Meta(gt=0, description="Bootstrap block length: liquidations cluster.")
    ] = 3.0
    n_boot: Annotated[int, msgspec.Meta(ge=0, description="Bootstrap resamples.")] = 1000
    seed: Annotated[int, msgspec.Meta(description="Bootstrap seed: same data, same CI.")] = 0
    min_train_days: Annotated[
        int, msgspec.Meta(ge=1, description="Days before the first walk-forward window.")
    ] = 30
    folds: Annotated[int, msgspec.Meta(ge=1, description="Walk-forward test windows.")] = 4
    holdout_frac: Annotated[
        float, msgspec.Meta(gt=0, lt=1, description="Last share of days held out.")
    ] = 1.0 / 3.0


class IssueSet(msgspec.Struct, frozen=True, kw_only=True):
    """Issue times and their fixed bin sets (one row per issue time)."""

    index: I64  # bar index of the issue time (the first bar of the scored window)
    ts: I64
    ref: F64
    sigma: F64  # horizon σ of log price
    low24: F64
    high24: F64
    long_edges: F64  # (issues, bins + 1), ascending
    short_edges: F64


def issue_set(ts: I64, high: F64, low: F64, close: F64, step_s: int, p: ForecastParams) -> IssueSet:
    """Issue times whose whole horizon is inside the bars, with bin sets from earlier bars."""
    ts = np.asarray(ts, np.int64)
    n = ts.shape[0]
    cad_ns = round(p.cadence_hours * 3600) * 10**9
    hb = max(1, round(p.horizon_hours * 3600 / step_s))
    wb = max(2, round(p.sigma_days * 86_400 / step_s))
    db = max(1, round(86_400 / step_s))
    first = max(wb, db, round(p.warmup_days * 86_400 / step_s), 1)
    cand = np.flatnonzero((ts % cad_ns == 0) & (np.arange(n) >= first) & (np.arange(n) + hb <= n))
    c = np.asarray(close, np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        r = np.diff(np.log(c), prepend=np.nan)
    rows: list[tuple[int, float, float, float, float]] = []
    for i in cand.tolist():
        past = c[:i][np.isfinite(c[:i])]
        rr = r[i - wb + 1 : i]
        rr = rr[np.isfinite(rr)]
        lo24 = low[i - db : i][np.isfinite(low[i - db : i])]
        hi24 = high[i - db : i][np.isfinite(high[i - db : i])]
        if past.size == 0 or rr.size < wb // 2 or lo24.size == 0:
            continue
        sig = float(np.std(rr, ddof=1)) * math.sqrt(hb)
        if not sig > 0:
            continue
        rows.append((i, float(past[-1]), sig, float(lo24.min()), float(hi24.max())))
    idx = np.array([x[0] for x in rows], np.int64)
    ref = np.array([x[1] for x in rows], np.float64)
    sigmas = np.array([x[2] for x in rows], np.float64)
    u = np.linspace(0.0, 1.0, p.bins_per_side + 1)
    ks = p.k_sigma * sigmas[:, None]
    return IssueSet(
        index=idx,
        ts=ts[idx] if idx.size else np.zeros(0, np.int64),
        ref=ref,
        sigma=sigmas,
        low24=np.array([x[3] for x in rows], np.float64),
        high24=np.array([x[4] for x in rows], np.float64),
        long_edges=ref[:, None] * np.exp(-ks * (1.0 - u[None, :])),
        short_edges=ref[:, None] * np.exp(ks * u[None, :]),
    )


def rebin(edges: F64, mass: F64, new_edges: F64) -> F64:
    """Mass per bin of ``new_edges`` from mass per bin of ``edges`` (uniform inside a bin).

    Examples
    --------
    >>> rebin(np.array([0.0, 2.0, 4.0]), np.array([2.0, 4.0]), np.array([1.0, 3.0])).tolist()
    [3.0]
    """
    cum = np.r_[0.0, np.cumsum(np.asarray(mass, np.float64))]
    at = np.interp(np.asarray(new_edges, np.float64), np.asarray(edges, np.float64), cum)
    return np.asarray(np.diff(at), np.float64)


def baseline_scores(
    side: str, edges: F64, ref: float, sigma: float, low24: float, high24: float
) -> dict[str, F64]:
    """Each baseline's ranking score per bin of one side's set (higher ranks first)."""
    mid = np.sqrt(edges[1:] * edges[:-1])  # geometric centre: the set is log-spaced
    d = np.abs(np.log(mid / ref))
    level = low24 if side == "long" else high24
    beyond = mid <= level if side == "long" else mid >= level
    return {
        "vol_band_1sigma": -np.abs(d - sigma),
        # ties (none in practice) go to the bins past the level: the break
        "range_break_oi": -np.abs(np.log(mid / level)) + 1e-12 * beyond,
        "side_nearest": -d,
        "uniform": np.zeros(mid.shape[0]),
    }


def reach_probability(edges: F64, ref: float, sigma: float) -> F64:
    """P(price touches the bin's centre within the horizon): ``erfc(d / (σ√2))``."""
    mid = np.sqrt(edges[1:] * edges[:-1])
    d = np.abs(np.log(mid / ref))
    return np.asarray([touch_probability(x, sigma) for x in d.tolist()], np.float64)


def realized_from_buckets(edges: F64, low: F64, high: F64, usd: F64) -> tuple[F64, float]:
    """USD per bin spread over each bar's ``[low, high]``, and the USD outside the set."""
    ok = np.isfinite(low) & np.isfinite(high) & np.isfinite(usd)
    per = spread_over_bins(edges, low[ok], high[ok], usd[ok])
    return per, float(usd[ok].sum() - per.sum())


def bucket_ranges(low: F64, high: F64, bars: int) -> tuple[F64, F64]:
    """Each bar's price range widened to the ``bars`` bars ending at it.

    A vendor bucket longer than a bar (Hyperliquid's daily totals on hourly bars) sits on the
    bar where it closes; its liquidations happened anywhere in the bucket's own bars, so its
    USD is spread over their whole low-high range, not over the closing hour's.

    Examples
    --------
    >>> lo, hi = bucket_ranges(np.array([5.0, 3.0, 4.0]), np.array([6.0, 7.0, 5.0]), 2)
    >>> lo.tolist(), hi.tolist()
    ([5.0, 3.0, 3.0], [6.0, 7.0, 7.0])
    """
    lo = np.asarray(low, np.float64)
    hi = np.asarray(high, np.float64)
    if bars <= 1 or lo.shape[0] == 0:
        return lo, hi
    pad = np.full(bars - 1, np.nan)
    win_lo = np.lib.stride_tricks.sliding_window_view(np.r_[pad, lo], bars)
    win_hi = np.lib.stride_tricks.sliding_window_view(np.r_[pad, hi], bars)
    with np.errstate(invalid="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # an all-NaN window stays NaN
        return np.nanmin(win_lo, axis=1), np.nanmax(win_hi, axis=1)


def realized_from_prints(edges: F64, price: F64, usd: F64) -> tuple[F64, float]:
    """USD per bin from prints at their own price, and the USD outside the set."""
    per = np.histogram(price, bins=edges, weights=usd)[0].astype(np.float64)
    return per, float(usd.sum() - per.sum())


class DayScores(msgspec.Struct, frozen=True, kw_only=True):
    """Per issue time of one side: realized USD in the set and USD captured per predictor."""

    total: F64
    outside: F64
    captured: dict[str, F64]


def score_issues(
    sets: IssueSet,
    side: str,
    realized: list[F64],
    outside: list[float],
    predictors: dict[str, list[F64]],
    q: float,
) -> DayScores:
    """Captured USD per predictor per issue (predictor arrays are one per issue)."""
    tot = np.array([float(r.sum()) for r in realized], np.float64)
    cap = {
        name: np.array(
            [float(top_weights(s, q) @ r) for s, r in zip(preds, realized, strict=True)],
            np.float64,
        )
        for name, preds in predictors.items()
    }
    base: dict[str, list[F64]] = {b: [] for b in BASELINES}
    edges = sets.long_edges if side == "long" else sets.short_edges
    for j in range(sets.index.shape[0]):
        sc = baseline_scores(
            side,
            edges[j],
            float(sets.ref[j]),
            float(sets.sigma[j]),
            float(sets.low24[j]),
            float(sets.high24[j]),
        )
        for b in BASELINES:
            base[b].append(sc[b])
    for b in BASELINES:
        cap[b] = np.array(
            [float(top_weights(s, q) @ r) for s, r in zip(base[b], realized, strict=True)],
            np.float64,
        )
    return DayScores(total=tot, outside=np.asarray(outside, np.float64), captured=cap)


def _share(cap: F64, tot: F64) -> float:
    t = float(tot.sum())
    return float(cap.sum()) / t if t > 0 else math.nan


class SideForecast(msgspec.Struct, frozen=True, kw_only=True):
    """One side's out-of-sample forecast score (the issue's ``forecast.<side>``)."""

    side: str
    map_share: float
    map_x_reach_share: float
    baselines: dict[str, float]
    best_baseline: str
    diff: float
    diff_ci_low: float
    diff_ci_high: float
    reach_diff: float
    reach_diff_ci_low: float
    reach_diff_ci_high: float
    days: int
    realized_usd_in_set: float
    realized_usd_outside_set: float
    out_of_sample: bool
    beats_every_baseline: bool


def _boot_idx(n: int, block: int, n_boot: int, seed: int) -> I64:
    rng = np.random.default_rng(seed)
    nb = math.ceil(n / block)
    starts = rng.integers(0, n, size=(n_boot, nb))
    return np.asarray(((starts[:, :, None] + np.arange(block)) % n).reshape(n_boot, -1)[:, :n])


def _diff_ci(a: F64, b: F64, tot: F64, idx: I64) -> tuple[float, float]:
    if idx.shape[0] == 0:
        return math.nan, math.nan
    t = tot[idx].sum(axis=1)
    ok = t > 0
    d = (a[idx].sum(axis=1)[ok] - b[idx].sum(axis=1)[ok]) / t[ok]
    if d.shape[0] == 0:
        return math.nan, math.nan
    lo, hi = np.quantile(d, [0.025, 0.975])
    return float(lo), float(hi)


def summarize(
    side: str, s: DayScores, p: ForecastParams, *, days_per_issue: float = 1.0
) -> SideForecast:
    """Shares, the best baseline and the paired block-bootstrap CI of map − best baseline."""
    used = s.total > 0
    tot = s.total[used]
    cap = {k: v[used] for k, v in s.captured.items()}
    base = {b: _share(cap[b], tot) for b in BASELINES}
    finite = {b: v for b, v in base.items() if math.isfinite(v)}
    best = max(finite, key=lambda b: finite[b]) if finite else BASELINES[0]
    n = int(used.sum())
    block = max(1, round(p.block_days / days_per_issue))
    idx = (
        _boot_idx(n, min(block, n), p.n_boot, p.seed)
        if n >= 2 and p.n_boot > 0
        else np.zeros((0, 0), np.int64)
    )
    lo, hi = _diff_ci(cap["map"], cap[best], tot, idx)
    rlo, rhi = _diff_ci(cap["map_x_reach"], cap[best], tot, idx)
    share = _share(cap["map"], tot)
    return SideForecast(
        side=side,
        map_share=share,
        map_x_reach_share=_share(cap["map_x_reach"], tot),
        baselines=base,
        best_baseline=best,
        diff=share - base[best],
        diff_ci_low=lo,
        diff_ci_high=hi,
        reach_diff=_share(cap["map_x_reach"], tot) - base[best],
        reach_diff_ci_low=rlo,
        reach_diff_ci_high=rhi,
        days=n,
        realized_usd_in_set=float(tot.sum()),
        realized_usd_outside_set=float(s.outside.sum()),
        out_of_sample=True,
        beats_every_baseline=bool(math.isfinite(lo) and lo > 0),
    )


def walk_forward(
    per_setting: list[F64], totals: F64, starts: list[int], ends: list[int]
) -> tuple[F64, list[int]]:
    """Captured USD per issue, each test window scored with the setting best before it.

    ``per_setting[k]`` is the captured USD per issue under setting k. For the window
    ``[starts[w], ends[w])`` the setting with the highest share over issues ``[0, starts[w])``
    is frozen (ties: the lowest k, i.e. the default first). Issues outside every window are
    NaN.
    """
    out = np.full(totals.shape[0], np.nan)
    chosen: list[int] = []
    for a, b in zip(starts, ends, strict=True):
        shares = [_share(c[:a], totals[:a]) for c in per_setting]
        k = int(np.argmax(np.nan_to_num(np.asarray(shares), nan=-1.0)))
        chosen.append(k)
        out[a:b] = per_setting[k][a:b]
    return out, chosen


def windows(n: int, p: ForecastParams) -> tuple[list[int], list[int], int]:
    """Walk-forward test windows over issues ``[min_train, n)`` and the hold-out start."""
    hold = n - math.floor(n * p.holdout_frac)
    a0 = min(p.min_train_days, n)
    edges = np.linspace(a0, n, p.folds + 1).round().astype(int).tolist()
    pairs = [(a, b) for a, b in itertools.pairwise(edges) if b > a]
    return [a for a, _ in pairs], [b for _, b in pairs], hold
