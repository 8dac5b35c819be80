"""Key price levels around a flush, and what price has done at each level since.

Levels are FOUND with bars up to ``asof_index`` only (no look-ahead); their STATE is then
judged on the bars after they became known, up to the end of the series.

Where levels come from (kinds in :data:`flushwatch.analytics.results.LevelKind`):

* ``round_number``: multiples of a 1-2-5 step chosen from the price magnitude. The minor step is
  the largest 1/2/5 × 10^k that is at most ``round_minor_pct`` % of the price, the major step the
  largest at most ``round_major_pct`` % (BTC at 60,000 → 1,000 and 5,000; ETH at 3,000 → 50 and
  200; XRP at 0.60 → 0.01 and 0.05). Only the nearest ``round_minor_per_side`` minor and
  ``round_major_per_side`` major levels on each side of price are kept.
* ``prior_high`` / ``prior_low``: highest high and lowest low over ``prior_hours`` before the
  event start (or before ``asof_index`` when no event is given).
* ``swing_high`` / ``swing_low``: fractal pivots in the same window (a high above the
  ``pivot_bars`` bars on each side; symmetric for lows); the nearest few on each side.
* ``volume_node``: peaks of a volume-by-price histogram over ``profile_hours`` (each bar's volume
  spread evenly over its high-low range); only when ``volume_quote`` exists.
* ``flush_low`` / ``flush_high``: the event's low (and high for squeezes and two-sided events),
  only when the event has ended by ``asof_index``; judged from the bar after the event end.

Role: a level below the reference close (last close up to ``asof_index``) is support, above it
resistance. State of a support (resistance mirrored, "below" ↔ "above"):

* ``not_tested``: no bar's low came within ``test_pct`` % of it;
* ``lost``: a close more than ``break_pct`` % below it, and no reclaim since;
* ``reclaimed``: after being lost, ``reclaim_bars`` consecutive closes back above it;
* ``holding``: tested but never lost (or lost again after a reclaim → ``lost``).

For a resistance "lost" means price closed above it (sellers lost it) and "reclaimed" means
price fell back below it for ``reclaim_bars`` closes.

Levels closer than ``merge_pct`` % are merged, keeping the most significant kind (flush
extremes > prior high/low > swing pivots > volume nodes > round numbers).
"""

from __future__ import annotations

import math
from typing import Annotated, cast

import msgspec
import numpy as np

from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.results import FlushEvent, KeyLevel, LevelKind, LevelState

__all__ = [
    "LevelParams",
    "event_indices",
    "is_key_level",
    "key_levels",
    "nearest_support",
    "reference_event",
    "round_steps",
]

_SIGNIFICANCE: dict[str, int] = {
    "flush_low": 6,
    "flush_high": 6,
    "prior_high": 5,
    "prior_low": 5,
    "swing_high": 4,
    "swing_low": 4,
    "volume_node": 3,
    "round_number": 1,
}


class LevelParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds for finding key levels and judging their state."""

    round_minor_pct: Annotated[
        float,
        msgspec.Meta(gt=0, description="Minor round step: largest 1-2-5 step ≤ this % of price"),
    ] = 2.0
    round_major_pct: Annotated[
        float,
        msgspec.Meta(gt=0, description="Major round step: largest 1-2-5 step ≤ this % of price"),
    ] = 10.0
    round_minor_per_side: Annotated[
        int,
        msgspec.Meta(ge=0, description="Nearest minor round numbers kept on each side of price"),
    ] = 2
    round_major_per_side: Annotated[
        int,
        msgspec.Meta(ge=0, description="Nearest major round numbers kept on each side of price"),
    ] = 1
    prior_hours: Annotated[
        float,
        msgspec.Meta(gt=0, description="Look-back before the event for prior highs/lows, pivots"),
    ] = 168.0
    pivot_bars: Annotated[
        int, msgspec.Meta(ge=1, description="Bars on each side a swing pivot must exceed (fractal)")
    ] = 3
    pivots_per_side: Annotated[
        int, msgspec.Meta(ge=0, description="Nearest swing pivots kept above and below price")
    ] = 3
    profile_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Look-back of the volume-by-price histogram")
    ] = 168.0
    profile_bins: Annotated[
        int, msgspec.Meta(ge=1, description="Price bins of the volume-by-price histogram")
    ] = 40
    profile_nodes: Annotated[
        int, msgspec.Meta(ge=0, description="Highest-volume histogram peaks kept as volume nodes")
    ] = 3
    break_pct: Annotated[
        float,
        msgspec.Meta(ge=0, description="A close beyond the level by more than this % loses it"),
    ] = 0.5
    reclaim_bars: Annotated[
        int,
        msgspec.Meta(ge=1, description="Consecutive closes back across a lost level to reclaim it"),
    ] = 2
    test_pct: Annotated[
        float, msgspec.Meta(ge=0, description="Price within this % of a level counts as a test")
    ] = 1.0
    merge_pct: Annotated[
        float,
        msgspec.Meta(ge=0, description="Levels closer than this % merge into the most significant"),
    ] = 0.3


def event_indices(m: MarketSeries, event: FlushEvent) -> tuple[int, int]:
    """Return the bar indices of the event's first and last bars (clipped to the series)."""
    start = int(np.searchsorted(m.ts, event.start_ts, side="left"))
    end = int(np.searchsorted(m.ts, event.end_ts, side="right")) - 1
    start = min(max(start, 0), m.n - 1)
    return start, min(max(end, start), m.n - 1)


def reference_event(ref: MarketSeries, event: FlushEvent | None) -> FlushEvent | None:
    """Return ``event``'s window with ``ref``'s own low and high in it, or None.

    BTC's and ETH's levels are judged as of the focus flush; their flush extremes must be
    their own prices in its window, never the focus market's (a SOL flush low is no BTC
    level). None when there is no event or ``ref`` has no price in the window.
    """
    if event is None or ref.n == 0:
        return None
    start, end = event_indices(ref, event)
    if ref.ts[start] > event.end_ts or ref.ts[end] < event.start_ts:
        return None  # the reference's bars do not reach the window
    lows, highs = ref.low[start : end + 1], ref.high[start : end + 1]
    if not (np.isfinite(lows).any() and np.isfinite(highs).any()):
        return None
    low, high = float(np.nanmin(lows)), float(np.nanmax(highs))
    return msgspec.structs.replace(event, price_low=low, price_high=high)


def _nice_step(limit: float) -> float:
    """Largest 1/2/5 × 10^k not above ``limit``."""
    exp = math.floor(math.log10(limit))
    best = 10.0**exp
    for mult in (2.0, 5.0, 10.0):
        if mult * 10.0**exp <= limit * (1 + 1e-12):
            best = mult * 10.0**exp
    return best


def round_steps(price: float, p: LevelParams) -> tuple[float, float]:
    """Return the (minor, major) round-number steps for a price, so levels scale with it.

    Examples
    --------
    >>> round_steps(60_000.0, LevelParams())
    (1000.0, 5000.0)
    """
    minor = _nice_step(price * p.round_minor_pct / 100.0)
    major = _nice_step(price * p.round_major_pct / 100.0)
    return minor, max(major, minor)


def is_key_level(level: KeyLevel, round_major_pct: float) -> bool:
    """Say whether a level is key: any found level, but round numbers only on the major step."""
    if level.kind != "round_number":
        return True
    major = _nice_step(level.price * round_major_pct / 100.0)
    ratio = level.price / major
    return abs(ratio - round(ratio)) < 1e-6


def _last_close(m: MarketSeries, idx: int) -> float:
    closes = m.close[: idx + 1]
    ok = np.flatnonzero(np.isfinite(closes))
    return float(closes[ok[-1]]) if ok.size else float("nan")


def _round_levels(ref: float, p: LevelParams) -> list[tuple[float, str]]:
    minor, major = round_steps(ref, p)
    out: list[tuple[float, str]] = []
    for step, count in ((minor, p.round_minor_per_side), (major, p.round_major_per_side)):
        below = math.floor(ref / step) * step
        above = math.ceil(ref / step) * step
        if above == below:
            above += step
        out += [(below - i * step, "round_number") for i in range(count)]
        out += [(above + i * step, "round_number") for i in range(count)]
    return [(round(price, 12), kind) for price, kind in out if price > 0]


def _pivots(high: F64, low: F64, k: int, ref: float, per_side: int) -> list[tuple[float, str]]:
    highs: list[float] = []
    lows: list[float] = []
    for i in range(k, high.size - k):
        hs = np.concatenate([high[i - k : i], high[i + 1 : i + k + 1]])
        ls = np.concatenate([low[i - k : i], low[i + 1 : i + k + 1]])
        if np.isfinite(high[i]) and np.all(high[i] > hs):
            highs.append(float(high[i]))
        if np.isfinite(low[i]) and np.all(low[i] < ls):
            lows.append(float(low[i]))
    out: list[tuple[float, str]] = []
    for prices, kind in ((highs, "swing_high"), (lows, "swing_low")):
        above = sorted(x for x in prices if x >= ref)[:per_side]
        below = sorted((x for x in prices if x < ref), reverse=True)[:per_side]
        out += [(x, kind) for x in above + below]
    return out


def _volume_nodes(high: F64, low: F64, vol: F64, p: LevelParams) -> list[tuple[float, str]]:
    ok = np.isfinite(high) & np.isfinite(low) & np.isfinite(vol) & (vol > 0)
    if not np.any(ok):
        return []
    h, lo, v = high[ok], low[ok], vol[ok]
    edges = np.linspace(float(lo.min()), float(h.max()), p.profile_bins + 1)
    if edges[-1] <= edges[0]:
        return [(float(edges[0]), "volume_node")]
    hist = np.zeros(p.profile_bins)
    for bar_lo, bar_hi, bar_v in zip(lo, h, v, strict=True):
        overlap = np.clip(np.minimum(edges[1:], bar_hi) - np.maximum(edges[:-1], bar_lo), 0, None)
        span = bar_hi - bar_lo
        if span > 0:
            hist += bar_v * overlap / span
        else:
            hist[min(int(np.searchsorted(edges, bar_lo, side="right")) - 1, hist.size - 1)] += bar_v
    padded = np.concatenate([[-1.0], hist, [-1.0]])
    peaks = [
        i for i in range(hist.size) if padded[i + 1] > padded[i] and padded[i + 1] >= padded[i + 2]
    ]
    peaks.sort(key=lambda i: -hist[i])
    centres = (edges[:-1] + edges[1:]) / 2.0
    return [(float(centres[i]), "volume_node") for i in peaks[: p.profile_nodes]]


def _state(
    m: MarketSeries, level: float, support: bool, first: int, p: LevelParams
) -> tuple[LevelState, int | None, int | None]:
    """Walk closes from bar ``first`` on; return (state, lost_ts, reclaimed_ts)."""
    sign = 1.0 if support else -1.0
    extreme = m.low[first:] if support else m.high[first:]
    near = sign * (extreme - level) <= level * p.test_pct / 100.0
    tested = bool(np.any(near[np.isfinite(extreme)]))
    state: LevelState = "holding"
    lost_ts: int | None = None
    reclaimed_ts: int | None = None
    streak = 0
    for i in range(first, m.n):
        c = m.close[i]
        if not np.isfinite(c):
            continue
        beyond = sign * (level - c) > level * p.break_pct / 100.0
        back = sign * (c - level) > 0
        if state != "lost" and beyond:
            state, lost_ts, reclaimed_ts, streak = "lost", int(m.ts[i]), None, 0
        elif state == "lost":
            streak = streak + 1 if back else 0
            if streak >= p.reclaim_bars:
                state, reclaimed_ts = "reclaimed", int(m.ts[i])
    if state == "holding" and not tested:
        state = "not_tested"
    return state, lost_ts, reclaimed_ts


def _merge(cands: list[tuple[float, str, int]], merge_pct: float) -> list[tuple[float, str, int]]:
    out: list[list[tuple[float, str, int]]] = []
    for cand in sorted(cands, key=lambda c: c[0]):
        if out and cand[0] - out[-1][0][0] <= out[-1][0][0] * merge_pct / 100.0:
            out[-1].append(cand)
        else:
            out.append([cand])
    return [max(group, key=lambda c: _SIGNIFICANCE[c[1]]) for group in out]


def key_levels(
    m: MarketSeries, asof_index: int, p: LevelParams, event: FlushEvent | None = None
) -> list[KeyLevel]:
    """Find the levels traders watch (as known at ``asof_index``) and judge each one since.

    Call with ``asof_index`` = the event's last bar to get the post-flush map (flush low
    included); states are judged on every later bar of ``m`` (slice ``m`` to bound them).
    """
    asof = min(max(asof_index, 0), m.n - 1)
    ref = _last_close(m, asof)
    if not np.isfinite(ref) or ref <= 0:
        return []
    anchor = asof + 1
    cands: list[tuple[float, str, int]] = []
    if event is not None:
        start, end = event_indices(m, event)
        anchor = min(start, anchor)
        if end <= asof:
            cands.append((event.price_low, "flush_low", end + 1))
            if event.kind != "long_flush":
                cands.append((event.price_high, "flush_high", end + 1))
    lo_i = max(0, anchor - hours_to_bars(p.prior_hours, m.step_s, at_least=1))
    high, low = m.high[lo_i:anchor], m.low[lo_i:anchor]
    found: list[tuple[float, str]] = _round_levels(ref, p)
    if np.any(np.isfinite(high)):
        found += [(float(np.nanmax(high)), "prior_high"), (float(np.nanmin(low)), "prior_low")]
    found += _pivots(high, low, p.pivot_bars, ref, p.pivots_per_side)
    if m.volume_quote is not None:
        vo_i = max(0, anchor - hours_to_bars(p.profile_hours, m.step_s, at_least=1))
        found += _volume_nodes(
            m.high[vo_i:anchor], m.low[vo_i:anchor], m.volume_quote[vo_i:anchor], p
        )
    cands += [(price, kind, asof + 1) for price, kind in found if np.isfinite(price) and price > 0]
    levels: list[KeyLevel] = []
    for price, kind, first in _merge(cands, p.merge_pct):
        support = price < ref or kind == "flush_low"
        if kind == "flush_high":
            support = False
        state, lost_ts, reclaimed_ts = _state(m, price, support, first, p)
        levels.append(
            KeyLevel(
                asset=m.asset,
                price=price,
                kind=cast(LevelKind, kind),
                role="support" if support else "resistance",
                state=state,
                lost_ts=lost_ts,
                reclaimed_ts=reclaimed_ts,
            )
        )
    return levels


def nearest_support(levels: list[KeyLevel], price: float) -> KeyLevel | None:
    """Return the highest support at or below ``price`` that is not lost, or None."""
    cands = [
        lv for lv in levels if lv.role == "support" and lv.price <= price and lv.state != "lost"
    ]
    return max(cands, key=lambda lv: lv.price) if cands else None
