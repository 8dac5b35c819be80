"""Compose the flush report: assemble markets from the store, run the kernels in order.

The order mirrors how a trader reads a liquidation day: how big and who (accounting,
events), what set it up (trap flags before the flush), where price stands against the levels
that matter (asset, BTC, ETH), what happened next (the checklist), what would invalidate the
bounce (risk box), and the verdict.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import msgspec
import numpy as np

from flushwatch.analytics.accounting import account_liquidations
from flushwatch.analytics.checklist import post_flush_checklist
from flushwatch.analytics.flushes import detect_flushes
from flushwatch.analytics.levels import event_indices, key_levels, reference_event
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.outcomes import EventRow, confirm_ts
from flushwatch.analytics.probability import odds_sentence, outcome_odds
from flushwatch.analytics.results import FlushEvent, KeyLevel
from flushwatch.analytics.trap import trap_flags
from flushwatch.analytics.verdict import risk_box, verdict
from flushwatch.config import ReportConfig
from flushwatch.domain.records import Liquidation, LiquidationBucket
from flushwatch.domain.time import iso
from flushwatch.errors import InputError
from flushwatch.report.assemble import assemble
from flushwatch.report.model import FlushReport, Window
from flushwatch.report.pool import RAW_MEMO, LazyPool
from flushwatch.store.asof import Reader

REFERENCE_ASSETS = ("BTC", "ETH")
DAY_NS = 86_400 * 10**9


def _levels_for(m: MarketSeries, event: FlushEvent | None, cfg: ReportConfig) -> list[KeyLevel]:
    if m.n == 0:
        return []
    if event is None:
        return key_levels(m, m.n - 1, cfg.levels)
    _, end = event_indices(m, event)
    return key_levels(m, end, cfg.levels, event)


def pick_focus(
    events: list[FlushEvent], as_of_ts: int, step_s: int, merge_gap_hours: float
) -> tuple[FlushEvent | None, FlushEvent | None]:
    """The latest flush confirmed ended at ``as_of_ts`` (:func:`confirm_ts`, the scorecard's
    rule too), and a flush still running then: judging that one would judge half a cascade."""
    done = [e for e in events if confirm_ts(e, step_s, merge_gap_hours) <= as_of_ts]
    running = events[-1] if events and (not done or events[-1] is not done[-1]) else None
    return (done[-1] if done else None), running


def analyse(
    m: MarketSeries,
    references: dict[str, MarketSeries],
    cfg: ReportConfig,
    *,
    as_of_ts: int | None = None,
    events: list[FlushEvent] | None = None,
    pool: Callable[[], Sequence[EventRow]] | None = None,
) -> tuple[list[FlushEvent], FlushEvent | None, dict[str, object]]:
    """Run the kernels on one market; return events, the focus event and the sections.

    With ``as_of_ts`` the focus is the latest flush confirmed ended then (the report); without,
    it is the latest flush even while it runs (the live monitor follows it bar by bar).
    """
    events = detect_flushes(m, cfg.flush) if events is None else events
    if as_of_ts is None:
        focus, running = (events[-1] if events else None), None
    else:
        focus, running = pick_focus(events, as_of_ts, m.step_s, cfg.flush.merge_gap_hours)
    levels = _levels_for(m, focus, cfg)
    ref_levels: dict[str, list[KeyLevel]] = {}
    for name, ref in references.items():
        ref_levels[name] = (
            levels if ref is m else _levels_for(ref, reference_event(ref, focus), cfg)
        )
    sections: dict[str, object] = {
        "levels": levels,
        "reference_levels": ref_levels,
        "in_progress": running,
    }
    at = focus.start_ts - m.step_s * 10**9 if focus is not None else int(m.ts[-1])
    sections["trap"] = trap_flags(m, at, cfg.trap)
    if focus is None:
        sections.update(checklist=[], risk_box=[], verdict=None)
        return events, focus, sections
    items = post_flush_checklist(m, focus, levels, ref_levels, cfg.checklist)
    rules = risk_box(m, focus, items, ref_levels.get("BTC", []), cfg.verdict)
    v = verdict(items, rules, cfg.verdict)
    v = msgspec.structs.replace(v, reasons=list(dict.fromkeys(v.reasons)))  # BTC is its own ref
    if as_of_ts is not None:  # the odds are walk-forward: only a report as of a time has them
        gap = cfg.flush.merge_gap_hours
        rows = () if pool is None else pool()  # other assets' flushes: only when judging one
        odds = outcome_odds(m, events, focus, as_of_ts, cfg.outcomes, gap, rows, RAW_MEMO)
        line = odds_sentence(odds)
        reasons = [*v.reasons, line] if line is not None else v.reasons
        v = msgspec.structs.replace(v, probabilities=odds, reasons=reasons)
    sections.update(checklist=items, risk_box=rules, verdict=v)
    return events, focus, sections


def build_report(
    store: Reader,
    asset: str,
    *,
    as_of_ns: int | None = None,
    exchange: str | None = None,
    start_ns: int | None = None,
    step_s: int | None = None,
    cfg: ReportConfig | None = None,
    pool_assets: Callable[[], Sequence[str]] | None = None,
) -> tuple[FlushReport, MarketSeries]:
    """Build the full report for ``asset`` as of ``as_of_ns`` (default: the last bar's close).

    ``pool_assets``: gives the candidates for the outcome odds' pool (the ``pool_size`` most
    traded of them at the judging time join the asset, :mod:`flushwatch.report.pool`), asked
    only when a flush is judged; None: no pool.
    ``store`` should already be bounded at ``as_of_ns`` (:class:`~flushwatch.store.asof.AsOfStore`,
    as :mod:`flushwatch.api` does): this function reads whatever it is given.
    """
    cfg = cfg or ReportConfig()
    m = assemble(store, asset, exchange=exchange, start_ns=start_ns, step_s=step_s)
    notes: list[str] = []
    references: dict[str, MarketSeries] = {}
    for ref in REFERENCE_ASSETS:
        if ref == m.asset:
            references[ref] = m
            continue
        try:
            references[ref] = assemble(
                store,
                ref,
                start_ns=int(m.ts[0]),
                end_ns=int(m.ts[-1]) + m.step_s * 10**9,
                step_s=m.step_s,
            )
        except InputError:
            notes.append(f"{ref} key levels: not available (no {ref} price in the store)")
    window_end = int(m.ts[-1]) + m.step_s * 10**9
    as_of = window_end if as_of_ns is None else as_of_ns

    # The odds pool the flushes of the asset's most-traded peers at the judging time, as the
    # scorecard does (issues 12, 16): the judging time is the odds' (the last closed bar).
    pool = LazyPool(store, m, pool_assets, cfg, judge_ts=min(window_end, as_of))
    events, focus, sections = analyse(m, references, cfg, as_of_ts=as_of, pool=pool)
    notes += pool.notes()
    oi_at_focus = None
    if focus is not None:
        oi_at_focus = focus.oi_before_quote
    account = account_liquidations(
        store.read(Liquidation, start_ns=int(m.ts[0]), end_ns=window_end),
        store.read(LiquidationBucket, start_ns=int(m.ts[0]), end_ns=window_end),
        int(m.ts[0]),
        window_end,
        oi_quote=oi_at_focus,
        p=cfg.accounting,
    )
    # The hourly breakdown is about the focus flush (± a day), not the whole window.
    lo, hi = (
        (focus.start_ts - DAY_NS, focus.end_ts + DAY_NS)
        if focus
        else (window_end - DAY_NS, window_end)
    )
    account = msgspec.structs.replace(
        account,
        by_hour=[r for r in account.by_hour if r.ts is not None and lo <= r.ts < hi],
    )
    if m.liq_lower_bound:
        notes.append(
            "liquidation totals come from throttled venue feeds (one print per symbol per "
            "second): they are lower bounds"
        )
    if m.oi_base_derived:
        notes.append("OI in coin units is derived from USD OI / price, not reported by a venue")
    for name, ok in m.available().items():
        if not ok:
            notes.append(f"{name}: not available in the store for this window")
    running = sections.get("in_progress")
    if isinstance(running, FlushEvent):
        notes.append(
            f"a flush is still running at {iso(as_of)} (since {iso(running.start_ts)}): it is "
            "reported as in progress and judged once it has ended"
        )
    if focus is None and not events:
        notes.append(f"no flush detected up to {iso(as_of)}: nothing to judge")
    report = FlushReport(
        asset=m.asset,
        as_of_ts=as_of,
        as_of=iso(as_of),
        window=Window(
            start_ts=int(m.ts[0]),
            end_ts=window_end,
            start=iso(int(m.ts[0])),
            end=iso(window_end),
            step_s=m.step_s,
            bars=m.n,
        ),
        sources=dict(m.sources),
        available=m.available(),
        liquidations=account,
        events=events,
        focus=focus,
        notes=notes,
        **sections,  # type: ignore[arg-type]
    )
    return report, m


def report_json(report: FlushReport) -> bytes:
    """Encode the report as indented JSON (NaN becomes null)."""
    return msgspec.json.format(msgspec.json.encode(_finite(msgspec.to_builtins(report))), indent=2)


def _finite(obj: object) -> object:
    if isinstance(obj, float):
        return obj if np.isfinite(obj) else None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_finite(v) for v in obj]
    return obj
