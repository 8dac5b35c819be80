"""The scorecard use case: every flush in the store, judged point-in-time, then scored.

Per asset: the market is assembled once (read as of ``at``), flushes are detected with the
causal detector, each is judged ``judge_after`` hours after it was first confirmed ended, and
every outcome gets a walk-forward probability from the asset's *earlier, already resolved*
events (:mod:`flushwatch.analytics.probability`) — exactly what ``report --at <judge time>``
says for it (tested). Scores pool all assets (one UTC day of every asset is one bootstrap
block) and are repeated per asset.

The judging (:func:`judge`, per asset) is the expensive part and may run on a Dask cluster
(:mod:`flushwatch.api.cluster`); the scoring runs serially on the gathered rows.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import msgspec

from flushwatch.analytics.detector_card import DetectorCard
from flushwatch.analytics.outcomes import EventRow
from flushwatch.errors import InputError

if TYPE_CHECKING:
    from flushwatch.analytics.scorecard import OutcomeScore, Scored
    from flushwatch.api.cluster import ClusterSpec
    from flushwatch.config import ReportConfig
    from flushwatch.store import Store
    from flushwatch.store.asof import Reader


def _scores(by_outcome: dict[str, list[Scored]]) -> dict[str, OutcomeScore]:
    from flushwatch.analytics.scorecard import score

    return {oid: score(items, oid) for oid, items in by_outcome.items()}


class Judged(msgspec.Struct, frozen=True, kw_only=True):
    """One asset's flushes judged point in time with their outcomes, before any scoring.

    The unit of distributed work (``--workers``): small, so it travels back to the client;
    scoring pools every asset's rows and runs serially on the gathered ``Judged``.
    """

    asset: str
    note: str | None = None  # why the asset was not scored (no ``rows`` then)
    sources: dict[str, str] = {}
    detected_by: list[str] = []
    events: int = 0  # episodes: a flush and its re-flares (what is judged)
    flushes: int = 0  # every flush, re-flares included
    detector: DetectorCard | None = None
    rows: list[EventRow] = []


def judge(reader: Reader, asset: str, cfg: ReportConfig, *, step_s: int | None) -> Judged:
    """Detect ``asset``'s flushes on the market read from ``reader`` and judge each one."""
    from flushwatch.analytics.detector_card import detector_card
    from flushwatch.analytics.flushes import detect_flushes
    from flushwatch.analytics.outcomes import event_rows
    from flushwatch.report.assemble import assemble

    try:
        m = assemble(reader, asset, step_s=step_s)
    except InputError as exc:
        return Judged(asset=asset, note=f"{asset}: not scored ({exc})")
    events = detect_flushes(m, cfg.flush)
    return Judged(
        asset=m.asset,
        sources=dict(m.sources),
        detected_by=sorted({e.detected_by for e in events}),
        events=sum(e.episode_flush == 1 for e in events),
        flushes=len(events),
        detector=detector_card(m, events),
        rows=event_rows(m, events, cfg.outcomes, cfg.flush.merge_gap_hours),
    )


def judge_stored(
    root: str, as_of: int | None, asset: str, cfg: ReportConfig, step_s: int | None
) -> Judged:
    """:func:`judge` on a worker: it opens the store itself, read-only, bounded at ``as_of``."""
    from flushwatch.store.asof import AsOfStore

    store = _worker_store(root)
    return judge(store if as_of is None else AsOfStore(store, as_of), asset, cfg, step_s=step_s)


@functools.lru_cache(maxsize=8)
def _worker_store(root: str) -> Store:
    """One open store per worker process and path: opening it per task cost ~30 ms a task
    (its file listings are cached inside, and re-read when the folder changes)."""
    from pathlib import Path

    from flushwatch.store import Store

    return Store.open(Path(root), create=False)


def judge_all(
    reader: Reader,
    assets: Sequence[str],
    cfg: ReportConfig,
    *,
    step_s: int | None,
    progress: Callable[[str, int, int], None] | None = None,
    cluster: tuple[ClusterSpec, str, int | None] | None = None,
) -> list[Judged]:
    """:func:`judge` for each asset, in order: here, or on ``(spec, store root, as_of)``."""
    from flushwatch.api.cluster import run_tasks

    def told(key: str, done: int, total: int) -> None:
        if progress is not None:
            progress(key.removeprefix("scorecard/"), done, total)

    if cluster is None:
        tasks = [(f"scorecard/{a}", (reader, a, cfg, step_s)) for a in assets]
        return run_tasks(None, _judge, tasks, told)
    spec, root, as_of = cluster
    remote = [(f"scorecard/{a}", (root, as_of, a, cfg, step_s)) for a in assets]
    return run_tasks(spec, judge_stored, remote, told)


def _judge(reader: Reader, asset: str, cfg: ReportConfig, step_s: int | None) -> Judged:
    return judge(reader, asset, cfg, step_s=step_s)


def run(
    reader: Reader,
    assets: Sequence[str],
    cfg: ReportConfig,
    *,
    step_s: int | None,
    progress: Callable[[str, int, int], None] | None = None,
    judged: Sequence[Judged] | None = None,
) -> dict[str, Any]:
    """The scorecard's parts: pooled and per-asset scores, the detector cards, predictions.

    ``judged`` (from :func:`judge_all`, e.g. on a cluster) skips the judging; the scoring
    here is serial either way. The walk-forward runs once over the rows of *every* judged
    asset (the pool: base rates and models learn from all of them, each only from rows
    resolved before the judged time); only the rows of ``assets`` are scored and listed.
    """
    from flushwatch.analytics.outcomes import outcome_ids
    from flushwatch.analytics.pooling import rule_text
    from flushwatch.analytics.probability import walk_forward

    if judged is None:
        judged = judge_all(reader, assets, cfg, step_s=step_s, progress=progress)
    p = cfg.outcomes
    shown = {a.upper() for a in assets}
    live = [j for j in judged if j.note is None]
    notes = [j.note for j in judged if j.note is not None and j.asset.upper() in shown]
    if p.pool:
        candidates = [j.asset for j in judged]
        walked, pools = _pooled_walk(reader, live, shown, candidates, cfg)
        notes.append(f"{rule_text(p.pool_size)}: {pools} pool(s) over the judged flushes")
    else:
        walked = {
            oid: [s for j in live for s in walk_forward(j.rows, j.rows, oid, p)]
            for oid in outcome_ids(p)
        }
    pooled = {oid: [s for s in items if s.row.asset in shown] for oid, items in walked.items()}
    per_asset: list[dict[str, Any]] = []
    for j in live:
        if j.asset not in shown:
            continue
        scored = {
            oid: [s for s in items if s.row.asset == j.asset] for oid, items in pooled.items()
        }
        per_asset.append(
            {
                "asset": j.asset,
                "sources": j.sources,
                "detected_by": j.detected_by,
                "events": j.events,
                "flushes": j.flushes,
                "events_judged": len(j.rows),
                "events_scored": _n_scored(scored),
                "detector": j.detector,
                "outcomes": _scores(scored),
            }
        )
    return {
        "outcomes": _scores(pooled),
        "per_asset": per_asset,
        "predictions": pooled,
        "notes": notes,
        "pool": sorted(j.asset for j in live),
    }


def _pooled_walk(
    reader: Reader,
    live: Sequence[Judged],
    shown: set[str],
    candidates: Sequence[str],
    cfg: ReportConfig,
) -> tuple[dict[str, list[Scored]], int]:
    """Each shown flush's walk-forward odds from its own pool, as the report computes them.

    A flush's pool is its asset and the ``pool_size`` most-traded others at its judging time
    (the report's rule, :func:`flushwatch.report.pool.pool_for`, on the same volume read, once
    per ranking month); flushes with the same pool share one walk-forward over that pool's
    rows, which gives each of them exactly what the report at its judging time gives (rows
    judged later never enter its numbers).
    Returns the scored items per outcome in the judging order, and the number of pools.
    """
    from flushwatch.analytics.outcomes import outcome_ids
    from flushwatch.analytics.pooling import choose_pool, ranking_time
    from flushwatch.analytics.probability import RawMemo, walk_forward
    from flushwatch.report.pool import trailing_volumes

    p = cfg.outcomes
    allowed = {c.upper() for c in candidates}
    by_asset = {j.asset: j.rows for j in live}
    every = sorted((r for j in live for r in j.rows), key=lambda r: (r.judge_ts, r.asset))
    order = {id(r): i for i, r in enumerate(every)}
    volumes: dict[int, dict[str, float]] = {}
    groups: dict[tuple[str, ...], list[EventRow]] = {}
    for r in every:
        if r.asset not in shown:
            continue
        month = ranking_time(r.judge_ts)
        if month not in volumes:
            vols = trailing_volumes(reader, r.judge_ts)
            volumes[month] = {a: v for a, v in vols.items() if a in allowed}
        groups.setdefault(choose_pool(volumes[month], r.asset, p.pool_size), []).append(r)
    walked: dict[str, list[Scored]] = {oid: [] for oid in outcome_ids(p)}
    memo: RawMemo = {}  # pools overlap: most raw predictions are shared between them
    for assets, rows in groups.items():
        last = rows[-1].judge_ts
        history = [r for a in assets for r in by_asset.get(a, ()) if r.judge_ts <= last]
        for oid in walked:
            walked[oid] += walk_forward(history, rows, oid, p, memo)
    for items in walked.values():
        items.sort(key=lambda s: order[id(s.row)])
    return walked, len(groups)


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
            doc["probabilities"][oid] = {
                "p": s.prob.p,
                "base_rate": s.prob.base_rate,
                "method": s.prob.method,
                "rate_source": s.prob.rate_source,
                "fell_back": s.prob.fell_back,
            }
            y = r.outcomes[oid]
            doc["outcomes"][oid] = None if not math.isfinite(y) else bool(y)
    return sorted(rows.values(), key=lambda d: (d["judge_ts"], d["asset"]))
