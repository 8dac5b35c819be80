"""Stylized facts of a flush, computed the same way for simulated and real markets.

Per detected flush (:func:`flushwatch.analytics.flushes.detect_flushes` on an assembled
market): liquidations / OI before (%), OI drop in coins (%), wick (%), the lowest funding
from the flush start to 24 h after (% per 8 h; the funding reset), and the hours until half
the flushed OI came back (:func:`flushwatch.analytics.checklist.oi_regain`; None = not
within the 72 h window).
"""

from __future__ import annotations

import msgspec
import numpy as np

from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.checklist import ChecklistParams, oi_regain
from flushwatch.analytics.flushes import detect_flushes
from flushwatch.analytics.levels import event_indices
from flushwatch.analytics.market import MarketSeries
from flushwatch.domain.time import iso

__all__ = ["FlushFacts", "flush_facts"]


class FlushFacts(msgspec.Struct, frozen=True, kw_only=True):
    """The comparable numbers of one flush."""

    market: str
    start: str
    kind: str
    liq_to_oi_pct: float | None
    oi_drop_pct: float | None
    wick_pct: float
    funding_low_pct_8h: float | None
    hours_to_half_oi: float | None


def flush_facts(m: MarketSeries, label: str, *, min_liq_usd: float = 0.0) -> list[FlushFacts]:
    """Facts of every flush in ``m`` whose liquidations reach ``min_liq_usd`` (if known)."""
    out = []
    for e in detect_flushes(m):
        liq = (e.liq_long_usd or 0.0) + (e.liq_short_usd or 0.0)
        if e.liq_long_usd is not None and liq < min_liq_usd:
            continue
        s, end = event_indices(m, e)
        low = None
        if m.funding is not None:
            seg = m.funding[s : end + 1 + hours_to_bars(24, m.step_s)]
            scale = 8.0 / m.funding_interval_h * 100.0
            low = float(np.nanmin(seg)) * scale if np.isfinite(seg).any() else None
        r = oi_regain(m, e, ChecklistParams())
        drop = e.oi_drop_base_pct if e.oi_drop_base_pct is not None else e.oi_drop_quote_pct
        out.append(
            FlushFacts(
                market=label,
                start=iso(e.start_ts),
                kind=e.kind,
                liq_to_oi_pct=e.liq_to_oi_pct,
                oi_drop_pct=drop,
                wick_pct=e.wick_pct,
                funding_low_pct_8h=low,
                hours_to_half_oi=None if r is None else r.hours_to_50,
            )
        )
    return out
