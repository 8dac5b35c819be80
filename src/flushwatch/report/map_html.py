"""The estimated liquidation map as one self-contained HTML page (Plotly, opens offline).

Top left: a heatmap of estimated long + short liquidation notional over time (the map at the
start of each snapshot bar) under the close-price line. Top right, sharing the price axis:
the current map as horizontal bars (longs below price, shorts above). Bottom: the
cumulative "liquidated if price reaches X" curves. Stop clusters are drawn as dotted lines
and labelled a heuristic. For display, bins are summed into at most ``_ROWS`` rows.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flushwatch.analytics.liqmap import LiqMapState, cumulative_if_price_reaches
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.stops import StopCluster
from flushwatch.report.framing import frame_map
from flushwatch.report.style import chart_html, page

_ROWS = 300


def _coarsen(edges: F64, *arrays: F64) -> tuple[F64, list[F64]]:
    """Sum groups of adjacent bins (last axis) so at most ``_ROWS`` remain; return centres."""
    nb = edges.shape[0] - 1
    k = max(1, -(-nb // _ROWS))
    cut = np.arange(0, nb, k)
    centres = (edges[cut] + edges[np.minimum(cut + k, nb)]) / 2.0
    return centres, [np.add.reduceat(a, cut, axis=-1) for a in arrays]


def figure(m: MarketSeries, state: LiqMapState, clusters: list[StopCluster]) -> go.Figure:
    """Build the map page's figure."""
    fig = make_subplots(
        rows=2,
        cols=2,
        shared_yaxes=False,
        column_widths=[0.78, 0.22],
        row_heights=[0.7, 0.3],
        horizontal_spacing=0.02,
        vertical_spacing=0.08,
        specs=[[{}, {}], [{"colspan": 2}, None]],
        subplot_titles=[
            f"{m.asset}: estimated liquidation notional over time (long + short)",
            "Map now (estimate)",
            "Estimated cumulative liquidations if price reaches X",
        ],
    )
    times = m.ts.astype("datetime64[ns]")
    n = state.asof_index
    if state.snap_long is not None and state.snap_short is not None:
        centres, (heat,) = _coarsen(state.edges, state.snap_long + state.snap_short)
        fig.add_trace(
            go.Heatmap(
                x=times[state.snap_index],
                y=centres,
                z=heat.T,
                colorscale="Viridis",
                colorbar={"title": "USD (est.)", "x": 0.76},
                name="estimated mass",
            ),
            row=1,
            col=1,
        )
    fig.add_trace(
        go.Scatter(x=times[:n], y=m.close[:n], mode="lines", name="close", line={"color": "white"}),
        row=1,
        col=1,
    )
    centres, (lng, sht) = _coarsen(state.edges, state.long, state.short)
    for y, vals, name, colour in (
        (centres, lng, "longs (est.)", "#c62828"),
        (centres, sht, "shorts (est.)", "#2e7d32"),
    ):
        fig.add_trace(
            go.Bar(x=vals, y=y, orientation="h", name=name, marker_color=colour),
            row=1,
            col=2,
        )
    lo_cum, hi_cum = cumulative_if_price_reaches(state.edges, state.long, state.short, state.price)
    below, above = state.centres <= state.price, state.centres >= state.price
    fig.add_trace(
        go.Scatter(x=state.centres[below], y=lo_cum[below], name="longs if price falls to X"),
        row=2,
        col=1,
    )
    fig.add_trace(
        go.Scatter(x=state.centres[above], y=hi_cum[above], name="shorts if price rises to X"),
        row=2,
        col=1,
    )
    for c in clusters:
        fig.add_hline(
            y=c.stop_price,
            line_dash="dot",
            line_color="#ff9800",
            annotation_text=f"stops ({c.kind}, heuristic)",
            annotation_font_size=9,
            row=1,
            col=1,
        )
    lo, hi = float(np.nanmin(m.low[:n])), float(np.nanmax(m.high[:n]))
    pad = (hi - lo) * 0.5 + state.price * 0.02
    fig.update_yaxes(range=[lo - pad, hi + pad], row=1, col=1)
    fig.update_yaxes(range=[lo - pad, hi + pad], row=1, col=2, showticklabels=False)
    fig.update_layout(height=900, barmode="overlay", template="plotly_dark")
    return fig


def framed_figure(m: MarketSeries, state: LiqMapState, clusters: list[StopCluster]) -> go.Figure:
    """The figure with readable stop labels and the colour bar off the panels (all pages)."""
    return frame_map(figure(m, state, clusters))


def write_map_html(
    path: Path, m: MarketSeries, state: LiqMapState, clusters: list[StopCluster]
) -> None:
    """Write the page; Plotly's JavaScript is embedded so the file opens offline."""
    note = (
        "<p>Every number on this page is an <b>estimate</b> from open-interest changes, a "
        "documented leverage prior and exact Binance isolated liquidation prices "
        "(see <code>flushwatch map --json</code> for the parameters). Stop clusters are a "
        "<b>heuristic</b>, kept separate from liquidation mass.</p>"
    )
    from flushwatch.analytics.forecast_map import skill_for

    skill = skill_for(m.asset)
    note += f"<p><b>{html.escape(str(skill['statement']))}</b></p>"
    note += f"<p>{html.escape(str(skill['priced_prints']))}</p>"
    body = chart_html(framed_figure(m, state, clusters))
    title = f"{m.asset} estimated liquidation map"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page(title, f"<h1>{html.escape(title)}</h1>{note}{body}"), encoding="utf-8")
