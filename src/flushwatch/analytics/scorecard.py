"""Score walk-forward predictions of flush outcomes against simple baselines, honestly.

Input: the judged rows of every flush (:mod:`flushwatch.analytics.outcomes`), each with its
walk-forward probability (:mod:`flushwatch.analytics.probability`). Per outcome the card
gives the model's Brier score next to the **base rate**'s (the walk-forward share of past
positives: what you would say knowing nothing about this event), hit rates next to the
**majority** call, the **drift** call (the trailing 30-day trend continues), the **prior-day
momentum** call and, for ``new_extreme``, the **volatility band** (a random walk with the
trailing volatility reaching the flush extreme).

Confidence intervals come from a **calendar-block bootstrap**: one UTC day (of every asset)
is one block, because flushes cluster — the 2025-10-10 wick hit dozens of assets at once, and
resampling those as independent events would make any interval far too narrow.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence

import msgspec
import numpy as np

from flushwatch.analytics.market import F64
from flushwatch.analytics.outcomes import EventRow
from flushwatch.analytics.results import Probability

DAY_NS = 86_400 * 10**9


class ReliabilityBin(msgspec.Struct, frozen=True, kw_only=True):
    """Predictions in ``[lo, hi)``: how many, their mean, and how often the outcome came."""

    lo: float
    hi: float
    n: int
    mean_p: float | None
    observed: float | None


class OutcomeScore(msgspec.Struct, frozen=True, kw_only=True):
    """The scores of one outcome over a set of events (the JSON's ``outcomes.<id>``)."""

    n: int
    #: Events whose probability came from a fitted model (the rest used the base rate).
    n_model: int
    observed_rate: float | None
    brier: float | None
    baseline_brier: float | None
    #: 95 % calendar-block bootstrap interval of ``brier − baseline_brier`` (< 0: model wins).
    brier_diff_ci: tuple[float, float] | None
    beats_base_rate: bool
    hit_rate: float | None
    baseline_hit_rate: float | None
    #: Hit rates (and the band's Brier) of the other simple baselines, by name.
    baselines: dict[str, float | None]
    reliability: list[ReliabilityBin]
    #: 95 % block-bootstrap interval of ``brier − vol_band_brier`` on the events the band
    #: covers (``new_extreme`` only), and whether it lies below zero.
    band_diff_ci: tuple[float, float] | None = None
    beats_vol_band: bool | None = None
    #: Events whose model fell back to the base rate (its walk-forward record was worse).
    n_fell_back: int = 0
    #: Events by the base rate they were given: "own", "pooled" or "shrunk" (toward the pool).
    rate_sources: dict[str, int] = msgspec.field(default_factory=dict)

    @property
    def beats_every_baseline(self) -> bool:
        """The base rate beaten, and the volatility band too where it exists."""
        return self.beats_base_rate and self.beats_vol_band is not False


class Scored(msgspec.Struct, frozen=True, kw_only=True):
    """One event's prediction of one outcome, and what happened."""

    row: EventRow
    prob: Probability


def _block_ci(days: np.ndarray, values: F64, n_boot: int, seed: int) -> tuple[float, float] | None:
    """95 % interval of the mean of ``values`` resampling whole days (blocks) with replacement."""
    if values.size < 2:
        return None
    uniq, inv = np.unique(days, return_inverse=True)
    sums = np.bincount(inv, weights=values, minlength=uniq.size)
    counts = np.bincount(inv, minlength=uniq.size).astype(float)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(uniq.size, np.full(uniq.size, 1.0 / uniq.size), size=n_boot)
    means = (draws @ sums) / np.maximum(draws @ counts, 1.0)
    lo, hi = np.quantile(means, [0.025, 0.975])
    return float(lo), float(hi)


def _reliability(p: F64, y: F64, bins: int = 10) -> list[ReliabilityBin]:
    edges = np.linspace(0.0, 1.0, bins + 1)
    which = np.clip(np.digitize(p, edges) - 1, 0, bins - 1)
    out = []
    for b in range(bins):
        sel = which == b
        n = int(sel.sum())
        out.append(
            ReliabilityBin(
                lo=float(edges[b]),
                hi=float(edges[b + 1]),
                n=n,
                mean_p=float(p[sel].mean()) if n else None,
                observed=float(y[sel].mean()) if n else None,
            )
        )
    return out


def _hit(pred: F64, y: F64) -> float | None:
    ok = np.isfinite(pred)
    return float((pred[ok] == y[ok]).mean()) if ok.any() else None


def _calls(items: Sequence[Scored], outcome_id: str) -> dict[str, F64]:
    """The 0/1 calls of the sign baselines (NaN where a baseline has no input)."""
    name = outcome_id.rsplit("_", 1)[0]
    mom = np.array([s.row.features.get("momentum_1d", math.nan) for s in items])
    trend = np.array([s.row.features.get("trend_30d", math.nan) for s in items])
    d = np.array([s.row.direction for s in items], dtype=float)
    if name == "new_extreme":  # features are oriented: > 0 means "moving the flush's way"
        return {
            "momentum": np.where(np.isfinite(mom), mom > 0, np.nan),
            "drift": np.where(np.isfinite(trend), trend > 0, np.nan),
        }
    if name == "up":  # un-orient: d·x > 0 means price rose
        return {
            "momentum": np.where(np.isfinite(mom), d * mom > 0, np.nan),
            "drift": np.where(np.isfinite(trend), d * trend > 0, np.nan),
        }
    return {}


def score(
    items: Sequence[Scored], outcome_id: str, *, n_boot: int = 2000, seed: int = 7
) -> OutcomeScore:
    """Score the predictions of ``outcome_id`` (events without a base rate are left out)."""
    kept = [s for s in items if s.prob.p is not None and s.prob.base_rate is not None]
    kept = [s for s in kept if math.isfinite(s.row.outcomes[outcome_id])]
    if not kept:
        return OutcomeScore(
            n=0, n_model=0, observed_rate=None, brier=None, baseline_brier=None,
            brier_diff_ci=None, beats_base_rate=False, hit_rate=None, baseline_hit_rate=None,
            baselines={}, reliability=[],
        )  # fmt: skip
    y = np.array([s.row.outcomes[outcome_id] for s in kept])
    p = np.array([s.prob.p for s in kept], dtype=float)
    b = np.array([s.prob.base_rate for s in kept], dtype=float)
    days = np.array([s.row.judge_ts // DAY_NS for s in kept])
    diff = (p - y) ** 2 - (b - y) ** 2
    ci = _block_ci(days, diff, n_boot, seed)
    baselines: dict[str, float | None] = {}
    band = np.array([math.nan if s.prob.p_band is None else s.prob.p_band for s in kept])
    band_ci: tuple[float, float] | None = None
    if np.isfinite(band).any():
        ok = np.isfinite(band)
        baselines["vol_band_brier"] = float(((band[ok] - y[ok]) ** 2).mean())
        baselines["vol_band_hit_rate"] = _hit(np.where(ok, band >= 0.5, np.nan), y)
        band_diff = (p[ok] - y[ok]) ** 2 - (band[ok] - y[ok]) ** 2
        band_ci = _block_ci(days[ok], band_diff, n_boot, seed + 1)
    for name, call in _calls(kept, outcome_id).items():
        baselines[f"{name}_hit_rate"] = _hit(call.astype(float), y)
    return OutcomeScore(
        n=len(kept),
        n_model=sum(s.prob.method == "model" for s in kept),
        observed_rate=float(y.mean()),
        brier=float(((p - y) ** 2).mean()),
        baseline_brier=float(((b - y) ** 2).mean()),
        brier_diff_ci=ci,
        beats_base_rate=ci is not None and ci[1] < 0,
        hit_rate=_hit((p >= 0.5).astype(float), y),
        baseline_hit_rate=_hit((b >= 0.5).astype(float), y),
        baselines=baselines,
        reliability=_reliability(p, y),
        band_diff_ci=band_ci,
        beats_vol_band=None if band_ci is None else band_ci[1] < 0,
        n_fell_back=sum(s.prob.fell_back for s in kept),
        rate_sources=dict(sorted(Counter(str(s.prob.rate_source) for s in kept).items())),
    )


def skill_summary(outcomes: dict[str, OutcomeScore]) -> list[str]:
    """Plain sentences: which outcomes the estimates beat every baseline on, and which not.

    "Beats" means the 95 % block-bootstrap interval of the Brier difference lies below zero
    against the base rate and, where the volatility band exists, against the band too.
    """
    scored = {k: s for k, s in outcomes.items() if s.n > 0}
    if not scored:
        return ["No flush could be scored: nothing to say about skill."]
    wins = [k for k, s in scored.items() if s.beats_every_baseline]
    band_only = [k for k, s in scored.items() if s.beats_base_rate and s.beats_vol_band is False]
    lines = []
    if wins:
        lines.append(f"Beat every baseline (95% CI): {', '.join(wins)}.")
    if band_only:
        lines.append(
            f"Beat the base rate but not the volatility band: {', '.join(band_only)} "
            "(use the band, it has no fitted parameter)."
        )
    rest = [k for k in scored if k not in wins and k not in band_only]
    if rest:
        lines.append(
            f"No better than the base rate (CI includes 0 or above): {', '.join(rest)}. "
            "For these, the verdict's odds are the base rate in disguise."
        )
    return lines
