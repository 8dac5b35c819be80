"""The ``flushwatch demo`` page: the report page with everything else the demo ran, appended.

One page, one plotly.js, every section labelled simulated (the banner comes from the report
page): the liquidation map and its stop clusters (a heuristic), the cascade from the demo's
shock with its Monte Carlo move probabilities, and the fragility ranking. Figures are the
framed ones the dashboard and the other ``--html`` pages draw.
"""

from __future__ import annotations

import html
import math
from typing import TYPE_CHECKING, Any

from flushwatch.analytics.liqmap import LiqMapState
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.stops import StopCluster
from flushwatch.report import cascade_html, map_html
from flushwatch.report.html import render_html
from flushwatch.report.model import FlushReport
from flushwatch.report.style import chart_html

if TYPE_CHECKING:
    from flushwatch.report.cascade_html import FragilityRanking

SIM = "simulated market"


def _table(head: tuple[str, ...], rows: list[list[str]], cls: str) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table class='{cls}'><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def _num(x: float | None, fmt: str = ".3g") -> str:
    return "n/a" if x is None or not math.isfinite(x) else format(x, fmt)


def clusters_html(clusters: list[StopCluster]) -> str:
    """The stop clusters as a table, nearest first (a heuristic, not liquidation mass)."""
    if not clusters:
        return "<p>No stop cluster near price.</p>"
    rows = [
        [c.side.replace("_", " "), f"{c.stop_price:,.0f}", c.kind.replace("_", " "),
         f"{c.level_price:,.0f}", f"{c.distance_pct:+.2f}%",
         "n/a" if c.notional is None else f"{c.notional:,.0f}"]
        for c in sorted(clusters, key=lambda c: abs(c.distance_pct))
    ]  # fmt: skip
    return _table(
        ("side", "stop price", "key level", "level price", "from price", "notional USD (est.)"),
        rows,
        "stop-clusters",
    )


def fragility_html(ranking: FragilityRanking) -> str:
    """The ranking's table: rank, score and each input's value (as ``flushwatch fragility``)."""
    cols = [c for c in ranking.used if any(c in f.components for f in ranking.markets)]
    rows = [
        [str(f.rank), f.asset, f.group, f"{f.score:.3f}",
         *(_num(f.components.get(c)) for c in cols)]
        for f in ranking.markets
    ]  # fmt: skip
    apart = "".join(
        f"<li>{html.escape(a.asset)}: lacks {html.escape(', '.join(a.lacks))}</li>"
        for a in ranking.apart
    )
    return (
        f"<p class='note'>{html.escape(ranking.bars)}; score: {html.escape(ranking.method)}. "
        "With one market the rank compares it with nothing: read the inputs.</p>"
        + _table(("rank", "asset", "group", "score", *cols), rows, "fragility")
        + (f"<p>Set apart:</p><ul>{apart}</ul>" if apart else "")
    )


def render_demo_page(
    report: FlushReport,
    market: MarketSeries,
    map_parts: tuple[MarketSeries, LiqMapState, list[StopCluster]],
    cascade_out: dict[str, Any],
    ranking: FragilityRanking,
    shock: str,
) -> str:
    """The whole demo page (Plotly inlined once, by the report chart)."""
    m, state, clusters = map_parts
    extra = (
        f"<h2>Estimated liquidation map ({SIM})</h2>"
        + chart_html(map_html.framed_figure(m, state, clusters), plotlyjs=False)
        + f"<h2>Stop clusters ({SIM}; a heuristic, not liquidation mass)</h2>"
        + clusters_html(clusters)
        + f"<h2>Cascade from a {html.escape(shock)} shock (estimate), {SIM}</h2>"
        + f"<p class='cascade-head'>{html.escape(cascade_html.headline(cascade_out))}</p>"
        + chart_html(cascade_html.framed_figure(cascade_out), plotlyjs=False)
        + (cascade_html.monte_carlo_html(cascade_out) or "<p>No Monte Carlo was run.</p>")
        + f"<h2>Fragility ranking ({SIM}, estimate)</h2>"
        + fragility_html(ranking)
    )
    page = render_html(report, market, simulated=True)
    return page.replace("</body>", extra + "</body>")
