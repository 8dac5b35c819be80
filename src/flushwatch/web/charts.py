"""The report layer's figures for a page a trader keeps open: thin calls.

The figures and their framing come from :mod:`flushwatch.report` (:mod:`~.report.framing`
for the report chart, the map and the cascade; the backtest figure without an empty panel),
the same as the ``--html`` files draw; only the liquidations-by-hour chart of the overview is
the dashboard's own.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import plotly.graph_objects as go

if TYPE_CHECKING:
    from flushwatch.api import Cascade, LiqMap, Report


def report_figure(report: Report) -> go.Figure:
    """The report's stacked chart, opened on the judged flush (as the ``--html`` page)."""
    from flushwatch.report.html import framed_figure

    return framed_figure(report.report, report.market)


def map_figure(liq_map: LiqMap) -> go.Figure:
    """The map's heatmap, "map now" bars and "if price reaches X" curve (framed there)."""
    from flushwatch.report.map_html import framed_figure

    return framed_figure(liq_map.market, liq_map.state, liq_map.clusters)


def cascade_figure(cascade: Cascade) -> go.Figure:
    """The shock → move curve, the simulated path and the gain bands (framed there)."""
    from flushwatch.report.cascade_html import framed_figure

    return framed_figure(cascade.raw())


def backtest_figure(result: Any, series: Any) -> tuple[go.Figure, list[str]]:
    """The nowcast's scatter panels and capture bars (no empty panel: see the report layer)."""
    from flushwatch.report.backtest_html import figure

    fig, notes = figure(result, series)
    return fig, notes


def liquidations_by_hour(rows: list[dict[str, Any]], title: str) -> go.Figure:
    """Long (up) and short (down) liquidation USD per hour, one pair of traces per source."""
    fig = go.Figure()
    sources = sorted({r["source"] for r in rows})
    for source in sources:
        mine = [r for r in rows if r["source"] == source]
        x = [r["key"] for r in mine]
        suffix = "" if len(sources) == 1 else f" — {source}"
        fig.add_bar(x=x, y=[r["long_usd"] for r in mine], name=f"longs{suffix}",
                    marker_color="#c62828")  # fmt: skip
        fig.add_bar(x=x, y=[-r["short_usd"] for r in mine], name=f"shorts (down){suffix}",
                    marker_color="#2e7d32")  # fmt: skip
    fig.update_traces(marker_line_width=0)
    fig.update_layout(
        title=title, barmode="relative", bargap=0.05, height=300, template="plotly_white",
        margin={"l": 60, "r": 20, "t": 40, "b": 30}, yaxis_title="USD",
        legend={"orientation": "h", "y": -0.2},
    )  # fmt: skip
    return fig
