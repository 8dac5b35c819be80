"""The "Trade-print suspicion" section, as HTML for the report page and the dashboard."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flushwatch.analytics.wash import TradePrints

TITLE = "Trade-print suspicion"


def _p(x: float | None) -> str:
    return "–" if x is None else f"{x:.2g}"


def _mark(suspicious: bool, available: bool) -> str:
    return "yes" if suspicious else ("no" if available else "n/a")


def trade_prints_html(section: TradePrints | None, *, heading: str = "h2") -> str:
    """One table per venue (test, statistic, Holm p, suspicious), or "not available"."""
    head = f"<{heading}>{TITLE}</{heading}>"
    if section is None:
        return (
            f"{head}<p class='note'>not available: no trade prints in the window before the "
            "as-of time</p>"
        )
    parts = [
        head,
        f"<p class='note'>{html.escape(section.caveat)}. Window: the "
        f"{section.window_s / 3600:g} h before the as-of time; wash_suspicion "
        f"{_p(section.score)} (share of tests suspicious on the most suspicious venue).</p>",
    ]
    for v in section.venues:
        a = v.assessment
        rows = "".join(
            f"<tr><td>{html.escape(t.name)}</td><td>{_p(t.statistic)}</td>"
            f"<td>{_p(t.p_holm)}</td><td>{_mark(t.suspicious, t.available)}</td>"
            f"<td>{html.escape(t.note)}</td></tr>"
            for t in a.tests
        )
        parts.append(
            f"<h4>{html.escape(f'{v.exchange} {v.market} {v.symbol}')}: {a.prints:,} prints, "
            f"{'suspicious' if a.flagged else 'not suspicious'} ({html.escape(a.correction)})"
            "</h4><table class='wash'><thead><tr><th>test</th><th>statistic</th>"
            f"<th>p (Holm)</th><th>suspicion</th><th>what</th></tr></thead><tbody>{rows}"
            "</tbody></table>"
        )
    return "".join(parts)
