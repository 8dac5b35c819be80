"""The scorecard use case: every flush in the store, judged point-in-time, then scored.

Per asset: the market is assembled once (read as of ``at``), flushes are detected with the
causal detector, each is judged ``judge_after`` hours after it was first confirmed ended, and
every outcome gets a walk-forward probability from the asset's *earlier, already resolved*
events (:mod:`flushwatch.analytics.probability`) — exactly what ``report --at <judge time>``
says for it (tested). Scores pool all assets (one UTC day of every asset is one bootstrap
block) and are repeated per asset.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from flushwatch.errors import InputError

if TYPE_CHECKING:
    from flushwatch.analytics.market import MarketSeries
    from flushwatch.analytics.outcomes import EventRow, OutcomeParams
    from flushwatch.analytics.scorecard import OutcomeScore, Scored
    from flushwatch.config import ReportConfig
    from flushwatch.store.asof import Reader


def asset_rows(
    m: MarketSeries, cfg: ReportConfig, p: OutcomeParams
) -> tuple[list[Any], list[EventRow], dict[str, list[Scored]]]:
    """Events, judged rows and per-outcome walk-forward predictions of one market."""
    from flushwatch.analytics.flushes import detect_flushes
    from flushwatch.analytics.outcomes import event_rows, outcome_ids
    from flushwatch.analytics.probability import walk_forward

    events = detect_flushes(m, cfg.flush)
    rows = event_rows(m, events, p, cfg.flush.merge_gap_hours)
    scored = {oid: walk_forward(rows, rows, oid, p) for oid in outcome_ids(p)}
    return events, rows, scored


def _scores(by_outcome: dict[str, list[Scored]]) -> dict[str, OutcomeScore]:
    from flushwatch.analytics.scorecard import score

    return {oid: score(items, oid) for oid, items in by_outcome.items()}


def run(
    reader: Reader,
    assets: Sequence[str],
    cfg: ReportConfig,
    *,
    step_s: int | None,
    progress: Callable[[str, int, int], None] | None = None,
) -> dict[str, Any]:
    """The scorecard's parts: pooled and per-asset scores, the detector cards, predictions."""
    from flushwatch.analytics.detector_card import detector_card
    from flushwatch.report.assemble import assemble

    p = cfg.outcomes
    pooled: dict[str, list[Scored]] = {}
    per_asset: list[dict[str, Any]] = []
    notes: list[str] = []
    for i, asset in enumerate(assets):
        if progress is not None:
            progress(asset, i, len(assets))
        try:
            m = assemble(reader, asset, step_s=step_s)
        except InputError as exc:
            notes.append(f"{asset}: not scored ({exc})")
            continue
        events, rows, scored = asset_rows(m, cfg, p)
        for oid, items in scored.items():
            pooled.setdefault(oid, []).extend(items)
        per_asset.append(
            {
                "asset": m.asset,
                "sources": dict(m.sources),
                "detected_by": sorted({e.detected_by for e in events}),
                "events": len(events),
                "events_judged": len(rows),
                "events_scored": _n_scored(scored),
                "detector": detector_card(m, events),
                "outcomes": _scores(scored),
            }
        )
    return {
        "outcomes": _scores(pooled),
        "per_asset": per_asset,
        "predictions": pooled,
        "notes": notes,
    }


def _n_scored(scored: dict[str, list[Scored]]) -> int:
    """Events with at least one outcome scored (a base rate existed and the outcome is known)."""
    import math

    keys = set()
    for oid, items in scored.items():
        for s in items:
            if s.prob.p is not None and math.isfinite(s.row.outcomes[oid]):
                keys.add((s.row.asset, s.row.start_ts))
    return len(keys)


def view(predictions: dict[str, list[Scored]]) -> list[dict[str, Any]]:
    """One JSON row per judged flush: when, which way, each outcome's p, base rate and result."""
    import math

    from flushwatch.domain.time import iso

    rows: dict[tuple[str, int], dict[str, Any]] = {}
    for oid, items in predictions.items():
        for s in items:
            r = s.row
            doc = rows.setdefault(
                (r.asset, r.start_ts),
                {
                    "asset": r.asset,
                    "kind": r.kind,
                    "start": iso(r.start_ts),
                    "end": iso(r.end_ts),
                    "judged": iso(r.judge_ts),
                    "judge_ts": r.judge_ts,
                    "probabilities": {},
                    "outcomes": {},
                },
            )
            doc["probabilities"][oid] = {"p": s.prob.p, "base_rate": s.prob.base_rate}
            y = r.outcomes[oid]
            doc["outcomes"][oid] = None if not math.isfinite(y) else bool(y)
    return sorted(rows.values(), key=lambda d: (d["judge_ts"], d["asset"]))
