"""Frame the report's figures for a reader, the dashboard and the ``--html`` pages alike.

As users found them: the report chart showed six months of candles, the judged flush unmarked,
liquidation bars a pixel wide and key-level labels piled on each other (it now opens on the
judged flush, the whole history a pan away); the map's stop labels piled up at neighbouring
prices and its colour bar covered the "map now" bars and the cumulative chart; the cascade's
gain panel spanned every bin of the map, so the bins with any gain were a sliver. Only the
view and the labels change; no analytics here: positions come from the results.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import plotly.graph_objects as go

from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.report.model import FlushReport
from flushwatch.report.style import styled

DAY_NS = 86_400 * 10**9
#: Days shown before the judged flush (or before the as-of time without one).
BEFORE_DAYS = 6
#: Two level labels closer than this share of the visible price range become one label.
LABEL_GAP = 0.045
JUDGED_FILL = "rgba(255,152,0,0.2)"


def iso(ts: int) -> str:
    """ISO seconds: a datetime64 reaches Plotly as integer ns, which a date axis reads as ms."""
    return str(np.datetime_as_string(np.datetime64(ts, "ns"), unit="s"))


def view_window(r: FlushReport) -> tuple[int, int]:
    """The time span the chart opens on: the judged flush (or the latest days)."""
    end = r.window.end_ts + r.window.step_s * 10**9
    anchor = r.focus or r.in_progress
    start = (anchor.start_ts if anchor is not None else end) - BEFORE_DAYS * DAY_NS
    return max(start, r.window.start_ts), end


def fit_prices(m: MarketSeries, lo_ts: int, hi_ts: int) -> tuple[float, float] | None:
    """A price range that holds every bar in ``[lo_ts, hi_ts)`` with a little room."""
    inside = (m.ts >= lo_ts) & (m.ts < hi_ts)
    lows, highs = m.low[inside], m.high[inside]
    lows, highs = lows[np.isfinite(lows)], highs[np.isfinite(highs)]
    if lows.size == 0 or highs.size == 0:
        return None
    lo, hi = float(lows.min()), float(highs.max())
    pad = (hi - lo) * 0.08 or hi * 0.01
    return lo - pad, hi + pad


def merge_labels(
    fig: go.Figure,
    y_range: tuple[float, float],
    *,
    prefix: str = "",
    keep: Callable[[Any], bool] | None = None,
) -> None:
    """One label per group of price-line labels closer than :data:`LABEL_GAP` of the view.

    Labels of lines outside the view are dropped (the tables list every level);
    ``keep(annotation)`` picks the labels to merge (default: every label on the price axis).
    """
    gap = (y_range[1] - y_range[0]) * LABEL_GAP
    mine = [
        a for a in fig.layout.annotations
        if a.yref == "y" and a.text and (keep is None or keep(a))
    ]  # fmt: skip
    others = [a for a in fig.layout.annotations if a not in mine]
    visible = sorted((a for a in mine if y_range[0] <= a.y <= y_range[1]), key=lambda a: a.y)
    groups: list[list[Any]] = []
    for a in visible:
        # against the group's top (where its label goes), so merged labels never touch
        if groups and float(a.y) - float(groups[-1][-1].y) < gap:
            groups[-1].append(a)
        else:
            groups.append([a])
    merged = [
        go.layout.Annotation(
            g[-1],
            text=prefix + " · ".join(a.text for a in reversed(g)),
            y=max(float(a.y) for a in g),
            bgcolor="rgba(255,255,255,0.75)" if not prefix else "rgba(0,0,0,0.6)",
        )
        for g in groups
    ]
    fig.layout.annotations = tuple(others + merged)


def frame(fig: go.Figure, r: FlushReport, m: MarketSeries) -> go.Figure:
    """Open ``fig`` (built by :func:`flushwatch.report.html.figure`) on the judged flush."""
    lo_ts, hi_ts = view_window(r)
    fig.update_xaxes(range=[iso(lo_ts), iso(hi_ts)])
    fitted = fit_prices(m, lo_ts, hi_ts)
    if fitted is not None:
        fig.update_yaxes(range=list(fitted), row=1, col=1)
        merge_labels(fig, fitted, keep=lambda a: "(" in a.text)
    step = r.window.step_s * 10**9
    if r.focus is not None:
        fig.add_vrect(
            x0=iso(r.focus.start_ts),
            x1=iso(r.focus.end_ts + step),
            fillcolor=JUDGED_FILL,
            line={"color": "#ef6c00", "width": 1},
            layer="below",
            annotation_text="judged flush",
            annotation_position="top left",
            annotation_font={"color": "#ef6c00", "size": 12},
            row=1,
            col=1,
        )
    if m.liq_long is not None and m.liq_short is not None:
        inside = (m.ts >= lo_ts) & (m.ts < hi_ts)
        top = float(np.nanmax(np.r_[m.liq_long[inside], m.liq_short[inside], 0.0]))
        if top > 0:
            fig.update_yaxes(range=[-top * 1.1, top * 1.1], row=2, col=1)
    fig.update_traces(marker_line_width=0, selector={"type": "bar"})
    fig.update_layout(bargap=0.0, hovermode="x unified")
    return styled(fig)


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
