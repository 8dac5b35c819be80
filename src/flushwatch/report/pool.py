"""The other assets' judged flushes, for the report's pooled walk-forward odds.

The scorecard pools every priced asset of the store (base rates and models learn from all
flushes resolved before the judged time); the report must say the same, so it judges the
other assets' flushes the same way, on the same as-of-bounded reader. An asset that cannot be
assembled is left out, as the scorecard leaves it out.
"""

from __future__ import annotations

from collections.abc import Sequence

from flushwatch.analytics.flushes import detect_flushes
from flushwatch.analytics.outcomes import EventRow, event_rows
from flushwatch.config import ReportConfig
from flushwatch.errors import InputError
from flushwatch.report.assemble import assemble
from flushwatch.store.asof import Reader


def pool_rows(
    store: Reader,
    assets: Sequence[str],
    cfg: ReportConfig,
    *,
    step_s: int | None,
    exclude: str,
) -> list[EventRow]:
    """Judged rows of every asset in ``assets`` but ``exclude`` (read as ``store`` allows)."""
    rows: list[EventRow] = []
    for asset in assets:
        if asset.upper() == exclude.upper():
            continue
        try:
            m = assemble(store, asset, step_s=step_s)
        except InputError:
            continue
        events = detect_flushes(m, cfg.flush)
        rows += event_rows(m, events, cfg.outcomes, cfg.flush.merge_gap_hours)
    return rows
