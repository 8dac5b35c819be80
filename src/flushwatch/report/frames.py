"""Frame the map and cascade figures for a reader (the report chart's is :mod:`.framing`).

One framing for the dashboard and the ``map --html`` / ``cascade --html`` / ``demo`` pages
alike, as users found them: the map's stop labels piled up at neighbouring prices and its
colour bar covered the "map now" bars and the cumulative chart; the cascade's gain panel
spanned every bin of the map, so the bins with any gain were a sliver. Only the view and the
labels change; no analytics here.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from flushwatch.analytics.market import F64
from flushwatch.report.framing import merge_labels
from flushwatch.report.style import styled

STOP_PREFIX = "stops ("


def frame_map(fig: go.Figure) -> go.Figure:
    """Open ``fig`` (built by :func:`flushwatch.report.map_html.figure`) readable."""
    for a in fig.layout.annotations:  # say the price; neighbours merge into one label
        if a.yref == "y" and a.text and a.text.startswith(STOP_PREFIX):
            kind = a.text[len(STOP_PREFIX) :].split(",")[0].replace("_", " ")
            a.text = f"{float(a.y):,.0f} {kind}"
    y_range = fig.layout.yaxis.range
    if y_range is not None:
        merge_labels(fig, (float(y_range[0]), float(y_range[1])), prefix="stops (heuristic): ")
    for a in fig.layout.annotations:  # white on the labels' dark box, over the heatmap
        if a.yref == "y" and a.text and a.text.startswith("stops (heuristic)"):
            a.font.color = "#ffffff"
    # Past the right edge, as tall as the heatmap: off the "map now" bars and the curves.
    top = fig.layout.yaxis.domain
    fig.update_traces(
        colorbar={
            "x": 1.01,
            "xanchor": "left",
            "y": top[1],
            "yanchor": "top",
            "len": top[1] - top[0],
            "lenmode": "fraction",
        },
        selector={"type": "heatmap"},
    )
    # A grey legend box: the close line is white (it is drawn over the heatmap).
    legend = {"orientation": "h", "y": -0.06, "x": 0, "bgcolor": "#e0e0e0"}
    fig.update_layout(margin={"r": 110}, legend=legend)
    return styled(fig)


def frame_cascade(fig: go.Figure, price_lo: F64, price_hi: F64, gain: F64) -> go.Figure:
    """Open the gain panel (row 3 of :func:`flushwatch.report.cascade_html.figure`) on the
    bins with any gain."""
    mid = (np.asarray(price_lo) + np.asarray(price_hi)) / 2.0
    g = np.asarray(gain, dtype=np.float64)
    live = np.isfinite(g) & (g > 0)
    if live.any():
        lo, hi = float(mid[live].min()), float(mid[live].max())
        pad = (hi - lo) * 0.1 or hi * 0.01
        fig.update_xaxes(range=[lo - pad, hi + pad], row=3, col=1)
    return styled(fig)
