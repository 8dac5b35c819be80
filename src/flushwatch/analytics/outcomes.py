"""What happened after a flush, and what was known when it was judged: one row per event.

A flush is judged at ``judge_ts`` = the time it was first *confirmed ended* (its merge gap of
quiet bars closed, :func:`flushwatch.report.build.pick_focus`) plus a judging delay. At that
instant the row records **features** computed from bars that closed by then, and, for each
horizon ``H``, **outcomes** over the bars that close in ``(judge_ts, judge_ts + H]``:

* ``new_extreme_<H>``: price goes beyond the flush extreme in the flush direction (a new low
  under a long flush's low, a new high over a squeeze's high). The question "was it a clean
  reset, or is the flush turning into a trend?" made concrete.
* ``up_<H>``: the close ``H`` later is above the close at ``judge_ts``.
* ``oi_back_<H>``: open interest gets back to its pre-flush level (quote units).
* ``funding_reset_<H>``: funding turns against the flushed side (≤ 0 after a long flush,
  ≥ 0 after a short squeeze).

An outcome is ``NaN`` when its input is not available or its horizon runs past the data: a
row never guesses. The "direction" ``d`` is −1 for a long flush (price fell) and +1 for a
squeeze; a two-sided event takes the sign of its net move (0: not scored).

The **volatility band** probability ``p_rw`` is the chance that a driftless random walk with
the trailing volatility reaches the flush extreme within ``H`` (reflection principle,
``2·Φ(−distance / (σ·√H))``): the simple baseline a model of ``new_extreme`` must beat.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Annotated

import msgspec
import numpy as np

from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.random_walk import touch_probability
from flushwatch.analytics.results import FlushEvent

HOUR_NS = 3600 * 10**9
OUTCOMES = ("new_extreme", "up", "oi_back", "funding_reset")
#: What each outcome means, for people (the flushed side's view: "new extreme" is bad news).
OUTCOME_TEXT = {
    "new_extreme": "price goes beyond the flush extreme",
    "up": "price is higher than when judged",
    "oi_back": "open interest is back to its pre-flush level",
    "funding_reset": "funding turns against the flushed side",
}
#: Feature names, in the order of :attr:`EventRow.features` (per horizon where it depends).
FEATURES = ("rw_logit", "momentum_1d", "trend_30d", "oi_rebuild", "funding", "size")


class OutcomeParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How flushes are judged and scored (``[outcomes]`` in the report config)."""

    horizons_hours: Annotated[
        tuple[float, ...], msgspec.Meta(description="Outcome horizons: 1, 3 and 7 days.")
    ] = (24.0, 72.0, 168.0)
    judge_after_hours: Annotated[
        float,
        msgspec.Meta(ge=0, description="Scorecard: judge a flush a day after it is confirmed."),
    ] = 24.0
    vol_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Trailing volatility of the band: one week.")
    ] = 168.0
    min_train: Annotated[
        int, msgspec.Meta(ge=2, description="Resolved past events before a model is fitted.")
    ] = 30
    min_base: Annotated[
        int, msgspec.Meta(ge=2, description="Resolved past events before a base rate is given.")
    ] = 10
    ridge: Annotated[
        float, msgspec.Meta(gt=0, description="L2 penalty of the logistic model (standardised).")
    ] = 1.0
    pool: Annotated[
        bool,
        msgspec.Meta(
            description="Odds learn from every priced asset's flushes (false: the asset's own)."
        ),
    ] = True
    pool_size: Annotated[
        int,
        msgspec.Meta(
            ge=1,
            description="Pooled odds: the asset and this many others, the most traded in the "
            "30 days before the judged month (bounds a report's cost in a big store).",
        ),
    ] = 24

    def __post_init__(self) -> None:
        """Reject horizons and windows that cannot work."""
        if not self.horizons_hours or any(h <= 0 for h in self.horizons_hours):
            raise ValueError("outcomes.horizons_hours: use positive hours, e.g. [24, 72, 168]")
        if self.judge_after_hours < 0 or self.vol_hours <= 0:
            raise ValueError("outcomes.judge_after_hours ≥ 0 and vol_hours > 0")
        if self.min_base < 2 or self.min_train < self.min_base or self.ridge <= 0:
            raise ValueError("outcomes: need 2 ≤ min_base ≤ min_train and ridge > 0")
        if self.pool_size < 1:
            raise ValueError("outcomes.pool_size: at least 1 other asset (pool = false: none)")


def horizon_label(hours: float) -> str:
    """``24.0`` → ``"1d"``, ``6.0`` → ``"6h"``.

    Examples
    --------
    >>> horizon_label(72), horizon_label(6), horizon_label(36)
    ('3d', '6h', '36h')
    """
    return f"{hours / 24:g}d" if hours % 24 == 0 else f"{hours:g}h"


def outcome_ids(p: OutcomeParams) -> list[str]:
    """Every outcome id, e.g. ``new_extreme_3d``."""
    return [f"{o}_{horizon_label(h)}" for o in OUTCOMES for h in p.horizons_hours]


class EventRow(msgspec.Struct, frozen=True, kw_only=True):
    """One judged flush: when, which way, what was known, what followed."""

    asset: str
    start_ts: int
    end_ts: int
    judge_ts: int
    direction: int
    kind: str
    #: Feature values by name; ``rw_logit`` per horizon as ``rw_logit_<H>``; NaN = not known.
    features: dict[str, float]
    #: Volatility-band probability of ``new_extreme_<H>`` by horizon label.
    p_rw: dict[str, float]
    #: Outcome by id: 1.0, 0.0, or NaN (not available / horizon beyond the data).
    outcomes: dict[str, float]
    #: When each outcome became known (``judge_ts + H``).
    resolved_ts: dict[str, int]


def confirm_ts(event: FlushEvent, step_s: int, merge_gap_hours: float) -> int:
    """When ``event`` is first confirmed ended: the report's focus and the scorecard's rule.

    A flush is over once more than ``merge_gap_hours`` of quiet bars after its last bar have
    closed: the detector still merges a burst that follows exactly ``merge_gap_hours`` of
    quiet bars into the flush (:func:`flushwatch.analytics.flushes._spans`), so only the bar
    after the gap settles it.
    """
    return event.end_ts + (2 + hours_to_bars(merge_gap_hours, step_s)) * step_s * 10**9


def _direction(e: FlushEvent) -> int:
    if e.kind == "long_flush":
        return -1
    if e.kind == "short_squeeze":
        return 1
    return int(np.sign(e.price_close - e.price_open))


def _sigma(m: MarketSeries, j: int, bars: int) -> float:
    """Standard deviation of log close-to-close returns over the ``bars`` before ``j``."""
    lo = max(1, j - bars + 1)
    c = m.close[lo - 1 : j + 1]
    r = np.diff(np.log(c))
    r = r[np.isfinite(r)]
    return float(np.std(r)) if r.size >= 10 else math.nan


def _ret(m: MarketSeries, j: int, hours: float) -> float:
    k = j - round(hours * 3600 / m.step_s)
    if k < 0 or not (np.isfinite(m.close[k]) and np.isfinite(m.close[j])):
        return math.nan
    return float(math.log(m.close[j] / m.close[k]))


def _last(x: F64 | None, j: int) -> float:
    if x is None:
        return math.nan
    seg = x[max(0, j - 24 * 7) : j + 1]
    ok = seg[np.isfinite(seg)]
    return float(ok[-1]) if ok.size else math.nan


def event_row(m: MarketSeries, e: FlushEvent, judge_ts: int, p: OutcomeParams) -> EventRow | None:
    """The row of ``e`` judged at ``judge_ts`` (a bar close), or None when it cannot be judged.

    Features read bars ``≤ j`` (the bar closing at ``judge_ts``) only; outcomes read the bars
    after it. Cutting ``m`` after ``judge_ts`` leaves the features unchanged and turns the
    outcomes to NaN: that is the point-in-time contract, tested.
    """
    step_ns = m.step_s * 10**9
    j = int(np.searchsorted(m.ts, judge_ts - step_ns, side="left"))
    d = _direction(e)
    if d == 0 or j >= m.n or int(m.ts[j]) != judge_ts - step_ns or not np.isfinite(m.close[j]):
        return None
    extreme = e.price_low if d < 0 else e.price_high
    close = float(m.close[j])
    # Signed log distance to the extreme, positive while price has not gone beyond it.
    dist = math.log(close / extreme) * (-d) if extreme > 0 else math.nan
    sigma = _sigma(m, j, max(10, round(p.vol_hours * 3600 / m.step_s)))
    feats: dict[str, float] = {}
    p_rw: dict[str, float] = {}
    for h in p.horizons_hours:
        lab = horizon_label(h)
        band = sigma * math.sqrt(h * 3600 / m.step_s)
        if not (np.isfinite(dist) and np.isfinite(band) and band > 0):
            prob = math.nan
        else:
            prob = touch_probability(dist, band) if dist > 0 else 1.0
        p_rw[lab] = prob
        q = min(max(prob, 0.01), 0.99)
        feats[f"rw_logit_{lab}"] = math.log(q / (1 - q)) if np.isfinite(prob) else math.nan
    feats["momentum_1d"] = d * _ret(m, j, 24)
    feats["trend_30d"] = d * _ret(m, j, 24 * 30)
    before, after = e.oi_before_quote, e.oi_after_quote
    oi_now = _last(m.oi_quote, j)
    flushed = (before - after) if before is not None and after is not None else math.nan
    feats["oi_rebuild"] = (
        (oi_now - after) / flushed
        if after is not None and np.isfinite(flushed) and flushed > 0
        else math.nan
    )
    f_now = _last(m.funding, j)
    feats["funding"] = -d * f_now * 1e4 * 8.0 / max(m.funding_interval_h, 1e-9)
    feats["size"] = math.log(abs(e.move_pct) + 0.1)
    outcomes, resolved = _outcomes(m, e, j, d, close, extreme, p)
    return EventRow(
        asset=m.asset,
        start_ts=e.start_ts,
        end_ts=e.end_ts,
        judge_ts=judge_ts,
        direction=d,
        kind=e.kind,
        features=feats,
        p_rw=p_rw,
        outcomes=outcomes,
        resolved_ts=resolved,
    )


def _outcomes(
    m: MarketSeries,
    e: FlushEvent,
    j: int,
    d: int,
    close: float,
    extreme: float,
    p: OutcomeParams,
) -> tuple[dict[str, float], dict[str, int]]:
    out: dict[str, float] = {}
    resolved: dict[str, int] = {}
    judge_ts = int(m.ts[j]) + m.step_s * 10**9
    for h in p.horizons_hours:
        lab = horizon_label(h)
        k = j + round(h * 3600 / m.step_s)
        for name in OUTCOMES:
            resolved[f"{name}_{lab}"] = judge_ts + round(h * HOUR_NS)
        if k >= m.n:
            out.update({f"{name}_{lab}": math.nan for name in OUTCOMES})
            continue
        seg = slice(j + 1, k + 1)
        far = m.low[seg] if d < 0 else m.high[seg]
        ok = far[np.isfinite(far)]
        out[f"new_extreme_{lab}"] = (
            float(bool((ok < extreme).any() if d < 0 else (ok > extreme).any()))
            if ok.size
            else math.nan
        )
        end = m.close[k]
        out[f"up_{lab}"] = float(end > close) if np.isfinite(end) else math.nan
        out[f"oi_back_{lab}"] = _reached(m.oi_quote, seg, e.oi_before_quote, above=True)
        out[f"funding_reset_{lab}"] = _reached(m.funding, seg, 0.0, above=d > 0)
    return out, resolved


def _reached(x: F64 | None, seg: slice, level: float | None, *, above: bool) -> float:
    if x is None or level is None:
        return math.nan
    v = x[seg]
    v = v[np.isfinite(v)]
    if not v.size:
        return math.nan
    return float(bool((v >= level).any() if above else (v <= level).any()))


def event_rows(
    m: MarketSeries,
    events: Sequence[FlushEvent],
    p: OutcomeParams,
    merge_gap_hours: float,
    *,
    judge_after_hours: float | None = None,
) -> list[EventRow]:
    """One row per episode of ``m``: what ``report --at`` said ``judge_after_hours`` after the
    episode's opening flush was confirmed ended.

    That report judges the latest flush confirmed ended by then (:func:`confirm_ts`): the
    opening flush, or a re-flare of it (:func:`flushwatch.analytics.flushes.episodes`) that
    ended in between. With ``episode_gap_hours`` at least the judging delay (24 h each by
    default) no later episode's flush can be confirmed by then, so this is exactly the report's
    focus; with a shorter gap the row keeps to its own episode. A re-flare is not a row of its
    own: it is
    what happened next to the flush judged before it, and scoring it again would count one
    cascade's outcome twice.
    """
    delay = p.judge_after_hours if judge_after_hours is None else judge_after_hours
    confirmed = [confirm_ts(e, m.step_s, merge_gap_hours) for e in events]
    rows = []
    for k, e in enumerate(events):
        if e.episode_flush > 1:
            continue
        judge = confirmed[k] + round(delay * HOUR_NS)
        focus = e
        for f, done in zip(events[k + 1 :], confirmed[k + 1 :], strict=True):
            if f.episode_flush == 1 or done > judge:
                break
            focus = f
        row = event_row(m, focus, judge, p)
        if row is not None:
            rows.append(row)
    return rows
