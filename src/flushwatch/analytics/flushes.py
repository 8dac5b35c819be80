"""Find leverage flushes in one market's series and size them.

Method (liquidation series available)
-------------------------------------
A bar is a *burst* when its total liquidation USD is extreme against a **trailing, robust**
baseline:

* ``y = log(liq + 10 % of the trailing mean)``: liquidations are heavy-tailed (a quiet hour
  prints $0.2M, a flush hour $130M), so extremes are judged on a log scale, where a 10×
  bump counts the same at any size. The offset plays the role of ``log1p`` but is relative
  to the market's own scale, so the events do not change when every USD series is
  multiplied by a constant (USD vs thousands of USD, BTC vs a small alt).
* robust z-score ``(y_t − median(y)) / (1.4826 · MAD(y))`` over the previous
  ``baseline_hours`` only: medians and MADs ignore the few huge hours that a mean and a
  standard deviation would chase, and the window ends *before* the bar being judged
  (causal), so the detector gives at bar t what it would have said live at bar t.
* and a plain ratio to the trailing median ≥ ``min_ratio``, so that a dead-quiet baseline
  (tiny MAD) cannot turn a small absolute bump into an "event".

When open interest is known, size counts too (issue 12: mid-sized clusters after a busy
week have a robust z just under the threshold):

* a bar is also a burst when one side's liquidations reach ``burst_oi_pct`` % of the OI
  reference and ``min_ratio`` × that side's own trailing median, with a robust z of the
  total of at least ``oi_burst_min_z`` (it must still stand out of the market's noise);
* every burst must reach ``min_oi_pct`` % of it (a tenfold jump in a dead-quiet hour is not
  a flush);
* the OI reference is the largest OI known over ``oi_ref_hours`` before the bar starts, so
  a flush that drained OI does not make the next, smaller cluster look bigger.

Flushes starting within ``episode_gap_hours`` (a day) of the previous one's end re-flare its
**episode** (:func:`episodes`): the scorecard judges an episode once, at its opening flush.

Bursts closer than ``merge_gap_hours`` form one event; the event then grows to the
neighbouring bars that are still *elevated* (robust z, or ``elevated_oi_pct`` of OI), so it
follows the cascade and not only its peak hours. The peak is the bar with the most
liquidations; the kind comes from the long share of the event's liquidations.

Liquidation buckets coarser than the grid (``MarketSeries.liq_interval_s``, e.g. 4-hour
vendor buckets on 1-hour bars) hold their USD on the bar where the bucket closes and NaN on
the bars before it: they are judged bucket against bucket (history counted in buckets), and
an event spans its buckets' bars. Nothing is spread over hours it was not measured on.

Where no liquidation series covers the bars (``liq_long is None``, or NaN outside the
source's coverage) a **price–volume** detector runs on those bars only: the bar's relative
true range (high/low extended to the previous close) against its trailing month's median,
and the quote volume against its trailing median when volume exists; the event must also
move price ``pv_min_excursion`` median ranges away from its start. The kind comes from the
direction of the move. Such events are weaker evidence: a wide, busy bar is not proof that
positions were force-closed, so they carry ``detected_by="price_volume"`` and their score
is a range ratio.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np

from flushwatch.analytics import rolling
from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.results import FlushEvent, FlushKind
from flushwatch.analytics.rolling import trailing_count
from flushwatch.domain.time import iso

_MAD_TO_SIGMA = 1.4826


class FlushParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds of the flush detector (hours and percent, converted to bars inside)."""

    baseline_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Trailing window of the 'normal' level: one week.")
    ] = 168.0
    min_history_hours: Annotated[
        float, msgspec.Meta(ge=0, description="No verdict before two days of baseline exist.")
    ] = 48.0
    z_threshold: Annotated[
        float, msgspec.Meta(gt=0, description="Robust z of log liquidations that makes a burst.")
    ] = 3.5
    min_ratio: Annotated[
        float, msgspec.Meta(gt=0, description="Burst bar must also be ≥ this × trailing median.")
    ] = 10.0
    elevated_z: Annotated[
        float,
        msgspec.Meta(ge=0, description="Robust z above which a neighbouring bar joins the event."),
    ] = 2.5
    elevated_ratio: Annotated[
        float, msgspec.Meta(gt=0, description="Neighbour must also be ≥ this × trailing median.")
    ] = 3.0
    min_log_spread: Annotated[
        float,
        msgspec.Meta(gt=0, description="Floor on the robust spread of log liq (quiet baselines)."),
    ] = 0.25
    burst_oi_pct: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="A bar whose liquidations reach this % of the OI known before it is a "
            "burst too (it still needs min_ratio); catches mid-sized clusters whose robust z "
            "stays under z_threshold. 0 turns the rule off; without OI it does not apply.",
        ),
    ] = 0.24
    oi_burst_min_z: Annotated[
        float,
        msgspec.Meta(
            description="A burst by OI share must still have a robust z of the total at "
            "least this (where quiet hours already swing tenfold, one more is not news).",
        ),
    ] = 2.4
    min_oi_pct: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="When OI is known, a burst (by z or by OI share) must also be at "
            "least this % of it: a tenfold jump in a dead-quiet hour is not a flush.",
        ),
    ] = 0.2
    oi_ref_hours: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="OI shares are taken of the largest OI known over this many hours "
            "before the bar (a month): a drained OI does not inflate the next cluster.",
        ),
    ] = 720.0
    elevated_oi_pct: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="A neighbour with liquidations ≥ this % of OI (and elevated_ratio) "
            "joins the event. 0 turns the rule off.",
        ),
    ] = 0.15
    merge_gap_hours: Annotated[
        float, msgspec.Meta(ge=0, description="Bursts this close belong to one cascade.")
    ] = 3.0
    episode_gap_hours: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="A flush starting within this many hours of the previous one's end "
            "re-flares its episode instead of opening a new one (a day: the 2026-02 selloff "
            "is one episode of several bursts). The scorecard judges each episode once, at "
            "its opening flush; 0 makes every flush its own episode.",
        ),
    ] = 24.0
    side_share: Annotated[
        float,
        msgspec.Meta(gt=0.5, le=1, description="Long (or short) share of liq that names the side."),
    ] = 0.7
    oi_settle_hours: Annotated[
        float, msgspec.Meta(ge=0, description="OI keeps falling a few hours after the last print.")
    ] = 6.0
    oi_max_age_hours: Annotated[
        float, msgspec.Meta(ge=0, description="An 'OI before' older than this is not used.")
    ] = 6.0
    pv_baseline_hours: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Fallback: trailing window of the normal range and volume (a month: "
            "after a quiet week any move looks wild).",
        ),
    ] = 720.0
    pv_range_ratio: Annotated[
        float, msgspec.Meta(gt=0, description="Fallback: bar range ≥ this × trailing median range.")
    ] = 6.0
    pv_volume_ratio: Annotated[
        float, msgspec.Meta(gt=0, description="Fallback: volume ≥ this × trailing median volume.")
    ] = 4.0
    pv_elevated_ratio: Annotated[
        float,
        msgspec.Meta(gt=0, description="Fallback: neighbour range ratio that joins an event."),
    ] = 2.0
    pv_no_volume_factor: Annotated[
        float,
        msgspec.Meta(ge=1, description="Fallback without volume: range thresholds × this."),
    ] = 2.0
    pv_min_excursion: Annotated[
        float,
        msgspec.Meta(
            ge=0,
            description="Fallback: the event's largest move away from its start price, in "
            "trailing median bar ranges, must reach this (a wide bar that goes nowhere is "
            "not a flush).",
        ),
    ] = 12.0
    pv_min_body_share: Annotated[
        float,
        msgspec.Meta(ge=0, le=1, description="Fallback: net move / range below this = two-sided."),
    ] = 0.25


def trailing_median(x: F64, window: int, min_bars: int) -> F64:
    """Median of the trailing window per bar; NaN where fewer than ``min_bars`` values exist.

    O(n log n) (:func:`flushwatch.analytics.rolling.median`), equal to ``nanmedian``.
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape[0], np.nan)
    rows = np.flatnonzero(trailing_count(x, window) >= max(min_bars, 1))
    if rows.size:
        out[rows] = rolling.median(x, window, rows)
    return out


def robust_log_z(x: F64, window: int, min_bars: int, min_spread: float) -> tuple[F64, F64]:
    """Robust z of ``log(x + 0.1·trailing mean)`` and the ratio ``x / trailing median``.

    Both use only the ``window`` bars before each bar; bars with fewer than ``min_bars``
    finite values behind them get NaN (no verdict). O(n log n) through order statistics
    (:func:`flushwatch.analytics.rolling.robust_log_z`): medians, MAD and ratio equal the
    per-window NumPy computation; the trailing mean inside the offset is summed differently
    and agrees to the last bits.
    """
    return rolling.robust_log_z(x, window, min_bars, min_spread, _MAD_TO_SIGMA)


def _spans(burst: np.ndarray, elevated: np.ndarray, gap: int) -> list[tuple[int, int]]:
    """Group burst bars into cascades, grow them over elevated neighbours, merge overlaps."""
    n = burst.shape[0]
    groups: list[list[int]] = []
    for i in np.flatnonzero(burst).tolist():
        if groups and i - groups[-1][1] - 1 <= gap:
            groups[-1][1] = i
        else:
            groups.append([i, i])
    out: list[tuple[int, int]] = []
    for s, e in groups:
        while s > 0 and elevated[s - 1]:
            s -= 1
        while e < n - 1 and elevated[e + 1]:
            e += 1
        if out and s - out[-1][1] - 1 <= gap:
            out[-1] = (out[-1][0], max(e, out[-1][1]))
        else:
            out.append((s, e))
    return out


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """Inclusive ``(first, last)`` of each run of True in ``mask``."""
    edges = np.diff(np.concatenate(([0], mask.astype(np.int8), [0])))
    starts = np.flatnonzero(edges == 1)
    stops = np.flatnonzero(edges == -1) - 1
    return list(zip(starts.tolist(), stops.tolist(), strict=True))


def _spans_within(
    burst: np.ndarray, elevated: np.ndarray, gap: int, mask: np.ndarray
) -> list[tuple[int, int]]:
    """:func:`_spans` inside each run of ``mask`` separately (an event never crosses from
    bars with a liquidation series into bars without one)."""
    out: list[tuple[int, int]] = []
    for a, b in _runs(mask):
        out += [(s + a, e + a) for s, e in _spans(burst[a : b + 1], elevated[a : b + 1], gap)]
    return out


def liquidation_coverage(m: MarketSeries) -> np.ndarray:
    """Bars covered by the liquidation series (boolean per bar; all False without one).

    A bar is covered when a liquidation value exists for it, or for the bucket it belongs
    to (coarse buckets: within one bucket length of a bar holding a value).
    """
    if m.liq_long is None or m.liq_short is None:
        return np.zeros(m.n, dtype=bool)
    finite = np.isfinite(m.liq_long) & np.isfinite(m.liq_short)
    k = bucket_bars(m)
    if k == 1:
        return finite
    idx = np.flatnonzero(finite)
    covered = np.zeros(m.n, dtype=bool)
    if idx.shape[0]:
        # distance to the nearest bar holding a value, either side
        pos = np.searchsorted(idx, np.arange(m.n))
        after = idx[np.minimum(pos, idx.shape[0] - 1)] - np.arange(m.n)
        before = np.arange(m.n) - idx[np.maximum(pos - 1, 0)]
        near = np.minimum(np.where(after >= 0, after, m.n), np.where(before >= 0, before, m.n))
        covered = near < k
    return covered


def bucket_bars(m: MarketSeries) -> int:
    """Bars per liquidation bucket (1 unless the buckets are coarser than the grid)."""
    if m.liq_interval_s is None or m.liq_interval_s <= m.step_s:
        return 1
    return max(1, round(m.liq_interval_s / m.step_s))


def fill_bucket(flags: np.ndarray, finite: np.ndarray, k: int) -> np.ndarray:
    """Give the bars inside a coarse bucket the flag of the bar where the bucket closes."""
    if k == 1:
        return flags
    out = flags.copy()
    for j in np.flatnonzero(flags & finite).tolist():
        lo = j - 1
        while lo >= max(0, j - k + 1) and not finite[lo]:
            out[lo] = True
            lo -= 1
    return out


def _last_finite_before(x: F64 | None, start: int, max_age: int) -> int | None:
    if x is None:
        return None
    for j in range(start - 1, max(start - 1 - max_age, 0) - 1, -1):
        if np.isfinite(x[j]):
            return j
    return None


def _drop_pct(before: float | None, after: float | None) -> float | None:
    if before is None or after is None or before <= 0:
        return None
    return (before - after) / before * 100.0


def _oi_numbers(
    m: MarketSeries, s: int, e: int, p: FlushParams
) -> tuple[float | None, float | None, float | None, float | None]:
    """OI before/after (quote) and the drop in quote and in base units (positive = fell)."""
    age = hours_to_bars(p.oi_max_age_hours, m.step_s)
    stop = min(m.n, e + 1 + hours_to_bars(p.oi_settle_hours, m.step_s))
    values: list[tuple[float | None, float | None]] = []
    for series in (m.oi_quote, m.oi_base):
        j = _last_finite_before(series, s, age)
        if series is None or j is None:
            values.append((None, None))
            continue
        after = series[s:stop]
        after_min = float(np.nanmin(after)) if np.isfinite(after).any() else None
        values.append((float(series[j]), after_min))
    (qb, qa), (bb, ba) = values
    return qb, qa, _drop_pct(qb, qa), _drop_pct(bb, ba)


def _kind_from_share(long_usd: float, short_usd: float, side_share: float) -> FlushKind:
    total = long_usd + short_usd
    share = long_usd / total if total > 0 else 0.5
    if share >= side_share:
        return "long_flush"
    if share <= 1.0 - side_share:
        return "short_squeeze"
    return "two_sided"


def _event(
    m: MarketSeries,
    span: tuple[int, int],
    peak: int,
    score: float,
    kind: FlushKind,
    p: FlushParams,
    liq: tuple[float, float] | None,
) -> FlushEvent:
    s, e = span
    # The price before the event: the previous close when there is one (a sampled price has
    # open == close within its bar, so the jump into the first bar would otherwise vanish).
    before = float(m.close[s - 1]) if s > 0 else float("nan")
    price_open = before if np.isfinite(before) else float(m.open[s])
    price_close = float(m.close[e])
    lows, highs = m.low[s : e + 1], m.high[s : e + 1]
    # A bar can lack a price (gap in the source) while its liquidations exist: no warning, NaN.
    low = float(np.nanmin(lows)) if np.isfinite(lows).any() else float("nan")
    high = float(np.nanmax(highs)) if np.isfinite(highs).any() else float("nan")
    down = kind == "long_flush" or (kind == "two_sided" and price_close < price_open)
    wick = (price_close - low) if down else (high - price_close)
    oi_before, oi_after, drop_q, drop_b = _oi_numbers(m, s, e, p)
    liq_to_oi = None
    if liq is not None and oi_before is not None and oi_before > 0:
        liq_to_oi = (liq[0] + liq[1]) / oi_before * 100.0
    return FlushEvent(
        start_ts=int(m.ts[s]),
        peak_ts=int(m.ts[peak]),
        end_ts=int(m.ts[e]),
        kind=kind,
        detected_by="liquidations" if liq is not None else "price_volume",
        score=score,
        liq_long_usd=None if liq is None else liq[0],
        liq_short_usd=None if liq is None else liq[1],
        liq_lower_bound=m.liq_lower_bound if liq is not None else False,
        oi_before_quote=oi_before,
        oi_after_quote=oi_after,
        oi_drop_quote_pct=drop_q,
        oi_drop_base_pct=drop_b,
        price_open=price_open,
        price_close=price_close,
        price_low=low,
        price_high=high,
        move_pct=(price_close - price_open) / price_open * 100.0,
        wick_pct=wick / price_open * 100.0,
        liq_to_oi_pct=liq_to_oi,
    )


def trailing_max(x: F64, window: int) -> F64:
    """Largest value of the trailing window per bar (NaN where it has no finite value), O(n)."""
    x = np.asarray(x, dtype=np.float64)
    out = rolling.extreme(x, window, largest=True)
    return np.where(trailing_count(x, window) >= 1, out, np.nan)


def _oi_reference(m: MarketSeries, k: int, p: FlushParams) -> F64 | None:
    """OI a bucket's liquidations are measured against (causal), or None without OI.

    The largest OI known over ``oi_ref_hours`` up to the close of the bar before the bucket
    starts: after a flush has drained OI, the next cluster is not judged bigger for it.
    NaN where the last OI before the bucket is unknown.
    """
    if m.oi_quote is None:
        return None
    oi = np.asarray(m.oi_quote, dtype=np.float64)
    before = np.full(m.n, np.nan)
    if k < m.n:
        before[k:] = oi[:-k]
    ref = np.fmax(trailing_max(before, max(1, hours_to_bars(p.oi_ref_hours, m.step_s))), before)
    return np.where(np.isfinite(before) & (ref > 0), ref, np.nan)


def _side_ratio(x: F64, window: int, min_values: int) -> F64:
    """``x`` over its trailing median (inf when the median is 0 and ``x`` is not)."""
    med = trailing_median(x, window, min_values)
    with np.errstate(divide="ignore", invalid="ignore"):
        out: F64 = np.where(med > 0, x / med, np.where(x > 0, np.inf, 0.0))
    return out


def _burst_flags(
    m: MarketSeries, long: F64, short: F64, p: FlushParams
) -> tuple[np.ndarray, np.ndarray, F64]:
    """Burst and elevated flags per bar, and the robust z of the total."""
    total = long + short
    k = bucket_bars(m)
    window = max(1, hours_to_bars(p.baseline_hours, m.step_s))
    min_values = -(-hours_to_bars(p.min_history_hours, m.step_s) // k)  # buckets, rounded up
    z, ratio = robust_log_z(total, window, min_values, p.min_log_spread)
    finite = np.isfinite(total)
    with np.errstate(invalid="ignore"):
        burst = finite & (ratio >= p.min_ratio) & (z >= p.z_threshold)
        elevated = finite & (ratio >= p.elevated_ratio) & (z >= p.elevated_z)
        oi = _oi_reference(m, k, p)
        if oi is not None:
            # Absolute size against the positions open before the bar: a mid-sized cluster
            # after a busy week has a modest z but still flushes a real share of OI. Judged
            # per side, against that side's own trailing median (a $20M short squeeze in a
            # week of long liquidations is news even when the total barely moves).
            # It must still stand out of the total's own noise (z ≥ oi_burst_min_z): in a
            # market whose quiet hours swing tenfold, one such hour is not a cluster.
            if p.burst_oi_pct > 0:
                for side in (long, short):
                    big = (side / oi * 100.0 >= p.burst_oi_pct) & (z >= p.oi_burst_min_z)
                    burst |= finite & big & (_side_ratio(side, window, min_values) >= p.min_ratio)
            # A bar without a known OI keeps the z rule alone (no floor can be applied).
            burst &= ~(total / oi * 100.0 < p.min_oi_pct)
            if p.elevated_oi_pct > 0:
                share = total / oi * 100.0
                elevated |= finite & (ratio >= p.elevated_ratio) & (share >= p.elevated_oi_pct)
    burst &= np.isfinite(z)  # no verdict before min_history_hours of baseline
    burst = fill_bucket(burst, finite, k)
    elevated = fill_bucket(elevated | burst, finite, k)
    return burst, elevated, z


def _detect_liquidations(
    m: MarketSeries, long: F64, short: F64, covered: np.ndarray, p: FlushParams
) -> list[FlushEvent]:
    total = long + short
    burst, elevated, z = _burst_flags(m, long, short, p)
    gap = hours_to_bars(p.merge_gap_hours, m.step_s)
    events = []
    for s, e in _spans_within(burst, elevated, gap, covered):
        peak = s + int(np.nanargmax(total[s : e + 1]))
        liq = (float(np.nansum(long[s : e + 1])), float(np.nansum(short[s : e + 1])))
        kind = _kind_from_share(liq[0], liq[1], p.side_share)
        score = float(np.nanmax(np.where(burst[s : e + 1], z[s : e + 1], np.nan)))
        events.append(_event(m, (s, e), peak, score, kind, p, liq))
    return events


class _PriceVolume(msgspec.Struct, frozen=True):
    """Per-bar inputs of the fallback detector."""

    range_ratio: F64  # true range over its trailing median
    vol_ratio: F64 | None  # quote volume over its trailing median (None without volume)
    median_range: F64  # trailing median true range, as a fraction of price
    prev: F64  # previous close
    ref: F64  # price the bar's range is measured from


def _price_volume_ratios(m: MarketSeries, p: FlushParams) -> _PriceVolume:
    window = max(1, hours_to_bars(p.pv_baseline_hours, m.step_s))
    min_bars = hours_to_bars(p.min_history_hours, m.step_s)
    prev = np.concatenate(([np.nan], m.close[:-1]))
    with np.errstate(divide="ignore", invalid="ignore"):
        # True range: the jump from the previous close counts, so gaps and sampled prices
        # (one print per bar, where high == low) still show a crash.
        ref = np.where(np.isfinite(prev), prev, m.open)
        rng = (np.fmax(m.high, prev) - np.fmin(m.low, prev)) / ref
        median_range = trailing_median(rng, window, min_bars)
        vol_ratio = None
        if m.volume_quote is not None:
            vol_ratio = m.volume_quote / trailing_median(m.volume_quote, window, min_bars)
    return _PriceVolume(rng / median_range, vol_ratio, median_range, prev, ref)


def _detect_price_volume(
    m: MarketSeries, uncovered: np.ndarray, p: FlushParams
) -> list[FlushEvent]:
    pv = _price_volume_ratios(m, p)
    prev, ref = pv.prev, pv.ref
    # Without volume to confirm it, a range burst alone is weaker evidence: it must be
    # `pv_no_volume_factor` times as extreme.
    strict = 1.0 if pv.vol_ratio is not None else p.pv_no_volume_factor
    with np.errstate(invalid="ignore"):
        burst = pv.range_ratio >= p.pv_range_ratio * strict
        if pv.vol_ratio is not None:
            burst &= pv.vol_ratio >= p.pv_volume_ratio
        elevated = (pv.range_ratio >= p.pv_elevated_ratio * strict) | burst
    events = []
    gap = hours_to_bars(p.merge_gap_hours, m.step_s)
    for s, e in _spans_within(burst & uncovered, elevated & uncovered, gap, uncovered):
        peak = s + int(np.nanargmax(pv.range_ratio[s : e + 1]))
        start_px = float(ref[s]) if np.isfinite(ref[s]) else float(m.open[s])
        hi = float(np.nanmax(np.fmax(m.high[s : e + 1], prev[s : e + 1])))
        lo = float(np.nanmin(np.fmin(m.low[s : e + 1], prev[s : e + 1])))
        # A flush moves price far from where it started, not only widens a bar: the larger
        # excursion from the start, in trailing median bar ranges (known before the start).
        excursion = max(start_px - lo, hi - start_px) / start_px / float(pv.median_range[s])
        if not excursion >= p.pv_min_excursion:
            continue
        net = float(m.close[e]) - start_px
        kind: FlushKind = "long_flush" if net < 0 else "short_squeeze"
        if hi - lo <= 0 or abs(net) < p.pv_min_body_share * (hi - lo):
            kind = "two_sided"
        events.append(_event(m, (s, e), peak, float(pv.range_ratio[peak]), kind, p, None))
    return events


def detect_flushes(m: MarketSeries, p: FlushParams | None = None) -> list[FlushEvent]:
    """Return the flushes in ``m``, oldest first, sized with liquidations, OI and price.

    Bars covered by the liquidation series are judged on liquidations; the weaker
    price–volume detector runs only on the bars no liquidation series covers (see the
    module docstring), and its events say so in ``detected_by``. ``oi_drop_*_pct`` are
    positive when OI fell; ``oi_drop_base_pct`` is an estimate when ``m.oi_base_derived``.

    Examples
    --------
    >>> import numpy as np
    >>> from flushwatch.analytics.market import MarketSeries
    >>> n = 200
    >>> liq = np.full(n, 1e5)
    >>> liq[150] = 5e7
    >>> px = np.full(n, 100.0)
    >>> m = MarketSeries(asset="BTC", sources={}, ts=np.arange(n, dtype=np.int64) * 3600 * 10**9,
    ...     step_s=3600, open=px, high=px + 1, low=px - 1, close=px,
    ...     liq_long=liq, liq_short=np.full(n, 1e4))
    >>> [(e.kind, e.detected_by) for e in detect_flushes(m)]
    [('long_flush', 'liquidations')]
    """
    p = p or FlushParams()
    if m.n == 0:
        return []
    covered = liquidation_coverage(m)
    events: list[FlushEvent] = []
    if covered.any() and m.liq_long is not None and m.liq_short is not None:
        long = np.asarray(m.liq_long, dtype=np.float64)
        short = np.asarray(m.liq_short, dtype=np.float64)
        events += _detect_liquidations(m, long, short, covered, p)
    if not covered.all():
        events += _detect_price_volume(m, ~covered, p)
    return episodes(sorted(events, key=lambda e: e.start_ts), p.episode_gap_hours)


def episodes(events: list[FlushEvent], gap_hours: float) -> list[FlushEvent]:
    """``events`` (oldest first) with their episode: a flush starting at most ``gap_hours``
    after the previous flush's last bar re-flares that flush's episode.

    Bursts a day apart are one cascade to a trader (and to the outcomes: the re-flare *is*
    the "new low within 3 days" of the flush before it); counting them apart floods a busy
    month with "flushes". Each flush's episode is fixed when it starts (it depends only on
    the flushes before it), so it is the same at any later as-of time.

    >>> from flushwatch.analytics.results import FlushEvent
    >>> h = 3600 * 10**9
    >>> def ev(a: int, b: int) -> FlushEvent:
    ...     return FlushEvent(start_ts=a * h, peak_ts=a * h, end_ts=b * h, kind="long_flush",
    ...         detected_by="liquidations", score=5.0, liq_long_usd=1.0, liq_short_usd=0.0,
    ...         liq_lower_bound=False, oi_before_quote=None, oi_after_quote=None,
    ...         oi_drop_quote_pct=None, oi_drop_base_pct=None, price_open=1.0,
    ...         price_close=1.0, price_low=1.0, price_high=1.0, move_pct=0.0, wick_pct=0.0,
    ...         liq_to_oi_pct=None)
    >>> [(e.episode_start_ts // h, e.episode_flush) for e in episodes(
    ...     [ev(0, 2), ev(10, 11), ev(40, 41)], 24.0)]
    [(0, 1), (0, 2), (40, 1)]
    """
    out: list[FlushEvent] = []
    gap_ns = round(gap_hours * 3600) * 10**9
    for e in events:
        prev = out[-1] if out else None
        if (
            prev is not None
            and prev.episode_start_ts is not None
            and (e.start_ts - prev.end_ts <= gap_ns)
        ):
            start, n = prev.episode_start_ts, prev.episode_flush + 1
        else:
            start, n = e.start_ts, 1
        out.append(msgspec.structs.replace(e, episode_start_ts=start, episode_flush=n))
    return out


def flush_windows(events: list[FlushEvent]) -> list[tuple[int, int]]:
    """Return ``(start_ts, end_ts)`` per event, for masking flush bars in later kernels."""
    return [(e.start_ts, e.end_ts) for e in events]


def _usd(value: float) -> str:
    for unit, size in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(value) >= size:
            return f"${value / size:.1f}{unit}"
    return f"${value:.0f}"


def episode_note(e: FlushEvent) -> str | None:
    """``"re-flare 2 of the episode from <start>"`` for a re-flare, else ``None``."""
    if e.episode_flush <= 1 or e.episode_start_ts is None:
        return None
    return f"re-flare {e.episode_flush} of the episode from {iso(e.episode_start_ts)}"


def describe_flush(e: FlushEvent, *, oi_base_derived: bool = False) -> str:
    """Say in one trader sentence what happened in ``e``, with its numbers."""
    name = {"long_flush": "Long flush", "short_squeeze": "Short squeeze"}.get(e.kind, "Two-sided")
    parts = [f"{name} {iso(e.start_ts)} → {iso(e.end_ts)}"]
    if (note := episode_note(e)) is not None:
        parts[0] += f" ({note})"
    if e.liq_long_usd is not None and e.liq_short_usd is not None:
        bound = " (lower bound)" if e.liq_lower_bound else ""
        parts.append(
            f"{_usd(e.liq_long_usd)} longs / {_usd(e.liq_short_usd)} shorts liquidated{bound}"
        )
    else:
        parts.append("found from price range and volume only (no liquidation data: weaker)")
    if e.oi_before_quote is not None and e.oi_after_quote is not None:
        change = -(e.oi_drop_quote_pct or 0.0)
        oi = f"OI {_usd(e.oi_before_quote)} → {_usd(e.oi_after_quote)} ({change:+.1f}%"
        if e.oi_drop_base_pct is not None:
            est = ", estimate from USD OI / price" if oi_base_derived else ""
            oi += f"; {-e.oi_drop_base_pct:+.1f}% in coins{est}"
        parts.append(oi + ")")
    parts.append(
        f"price {e.price_open:,.6g} → {e.price_close:,.6g} ({e.move_pct:+.1f}%), "
        f"range {e.price_low:,.6g}–{e.price_high:,.6g}, wick {e.wick_pct:.1f}%"
    )
    return "; ".join(parts) + "."
