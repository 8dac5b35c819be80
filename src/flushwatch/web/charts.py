"""The report layer's figures, framed for a page a trader keeps open.

The figures themselves come from :mod:`flushwatch.report` (the same as the ``--html``
files, and the report chart is framed there, by :mod:`flushwatch.report.framing`); here the
rest is framed: the map's stop labels carry their price and merge the same way,
its colour bar and legend moved off the "map now" panel; the cascade's gain panel opens
on the bins that have any gain; one font everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
import plotly.graph_objects as go

from flushwatch.report.framing import merge_labels

if TYPE_CHECKING:
    from flushwatch.api import Cascade, LiqMap, Report


def report_figure(report: Report) -> go.Figure:
    """The report's stacked chart, opened on the judged flush (as the ``--html`` page)."""
    from flushwatch.report.html import framed_figure

    return framed_figure(report.report, report.market)


def map_figure(liq_map: LiqMap) -> go.Figure:
    """The map's heatmap, "map now" bars and "if price reaches X" curve."""
    from flushwatch.report.map_html import figure

    fig = figure(liq_map.market, liq_map.state, liq_map.clusters)
    # Stop labels piled up where clusters sit close together: say the price, merge neighbours.
    for a in fig.layout.annotations:
        if a.yref == "y" and a.text and a.text.startswith("stops ("):
            kind = a.text[len("stops (") :].split(",")[0].replace("_", " ")
            a.text = f"{float(a.y):,.0f} {kind}"
    y_range = fig.layout.yaxis.range
    if y_range is not None:
        merge_labels(fig, (float(y_range[0]), float(y_range[1])), prefix="stops (heuristic): ")
    # The colour bar sat on the "map now" panel: put it past the right edge instead.
    fig.update_traces(
        colorbar={"x": 1.01, "xanchor": "left", "len": 0.62, "y": 1.0, "yanchor": "top"},
        selector={"type": "heatmap"},
    )
    fig.update_layout(margin={"r": 90}, legend={"orientation": "h", "y": -0.06, "x": 0})
    return fig


def cascade_figure(cascade: Cascade) -> go.Figure:
    """The shock → move curve, the simulated path and the gain bands."""
    from flushwatch.report.cascade_html import figure

    fig = figure(cascade.raw())
    # The gain panel spanned every bin of the map: open it on the bins with any gain.
    g = cascade.result.gain
    mid = (np.asarray(g.price_lo) + np.asarray(g.price_hi)) / 2.0
    live = np.isfinite(g.gain) & (np.asarray(g.gain) > 0)
    if live.any():
        lo, hi = float(mid[live].min()), float(mid[live].max())
        pad = (hi - lo) * 0.1 or hi * 0.01
        fig.update_xaxes(range=[lo - pad, hi + pad], row=3, col=1)
    return fig


def backtest_figure(result: Any, series: Any) -> tuple[go.Figure, list[str]]:
    """The nowcast's scatter panels and capture bars, without the empty panel beside them."""
    from flushwatch.report.backtest_html import figure

    fig, notes = figure(result, series)
    _drop_empty_panels(fig)
    return fig, notes


def _drop_empty_panels(fig: go.Figure) -> None:
    """Hide subplots no trace uses and widen their row neighbour over the freed width."""
    used = {t.xaxis or "x" for t in fig.data}
    names = [k for k in fig.layout.to_plotly_json() if k.startswith("xaxis")]
    for name in names:
        ident = "x" + name[len("xaxis") :]
        if ident in used:
            continue
        empty, y_empty = fig.layout[name], fig.layout["y" + name[1:]]
        for other in names:
            if ("x" + other[len("xaxis") :]) in used and (
                fig.layout["y" + other[1:]].domain == y_empty.domain
            ):
                lo, hi = fig.layout[other].domain
                fig.layout[other].domain = (lo, max(hi, empty.domain[1]))
                for a in fig.layout.annotations:  # its title moves to the new centre
                    if (
                        a.xref == "paper"
                        and lo <= a.x <= hi
                        and abs(a.y - y_empty.domain[1]) < 0.02
                    ):
                        a.x = (lo + max(hi, empty.domain[1])) / 2
        empty.visible, y_empty.visible = False, False
        titles = [
            a for a in fig.layout.annotations
            if a.xref == "paper" and empty.domain[0] <= a.x <= empty.domain[1]
            and abs(a.y - y_empty.domain[1]) < 0.02
        ]  # fmt: skip
        fig.layout.annotations = tuple(a for a in fig.layout.annotations if a not in titles)


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
