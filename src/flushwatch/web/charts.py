"""The report layer's figures, framed for a page a trader keeps open.

The figures themselves come from :mod:`flushwatch.report` (the same as the ``--html``
files); here they are only framed: the report chart opens on the judged flush (the whole
history stays a pan away) with that flush marked and the flushes near it shaded, the y axes
fitted to what is in view, key-level labels that sit closer than a label's height merged into
one, bars drawn without gaps; the map's stop labels carry their price and merge the same way,
its colour bar and legend moved off the "map now" panel; the cascade's gain panel opens
on the bins that have any gain; one font everywhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
import plotly.graph_objects as go

if TYPE_CHECKING:
    from flushwatch.analytics.market import MarketSeries
    from flushwatch.api import Cascade, LiqMap, Report

DAY_NS = 86_400 * 10**9
#: Days shown before the judged flush (or before the as-of time without one).
BEFORE_DAYS = 6
#: Two level labels closer than this share of the visible price range become one label.
LABEL_GAP = 0.045
#: Flushes ending this many days before the view are still shaded (a pan away).
SHADE_DAYS = 30
_JUDGED = "rgba(255,152,0,0.2)"


def _iso(ts: int) -> str:
    return str(np.datetime_as_string(np.datetime64(ts, "ns"), unit="s"))


def view_window(report: Report) -> tuple[int, int]:
    """The time span the report chart opens on: the judged flush (or the latest days)."""
    r = report.report
    end = r.window.end_ts + r.window.step_s * 10**9
    anchor = r.focus or r.in_progress
    start = (anchor.start_ts if anchor is not None else end) - BEFORE_DAYS * DAY_NS
    return max(start, r.window.start_ts), end


def _fit(m: MarketSeries, lo_ts: int, hi_ts: int) -> tuple[float, float] | None:
    inside = (m.ts >= lo_ts) & (m.ts < hi_ts)
    lows, highs = m.low[inside], m.high[inside]
    lows, highs = lows[np.isfinite(lows)], highs[np.isfinite(highs)]
    if lows.size == 0 or highs.size == 0:
        return None
    lo, hi = float(lows.min()), float(highs.max())
    pad = (hi - lo) * 0.08 or hi * 0.01
    return lo - pad, hi + pad


def _merge_labels(
    fig: go.Figure, y_range: tuple[float, float], *, prefix: str = "", keep: Any = None
) -> None:
    """One label per group of price-line labels closer than :data:`LABEL_GAP` of the view.

    Labels of lines outside the view are dropped (the tables below list every level);
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
        if groups and float(a.y) - float(groups[-1][0].y) < gap:
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


def report_figure(report: Report) -> go.Figure:
    """The report's stacked chart, opened on the judged flush (see the module docstring)."""
    from flushwatch.report.html import figure

    r, m = report.report, report.market
    lo_ts, hi_ts = view_window(report)
    # Only flushes near the view are shaded: the report layer adds one shape per flush, at a
    # cost that grows with the figure (61 flushes took 4.5 s); the table lists them all.
    near = [e for e in r.events if e.end_ts >= lo_ts - SHADE_DAYS * DAY_NS]
    fig = figure(msgspec.structs.replace(r, events=near), m)
    fig.update_xaxes(range=[_iso(lo_ts), _iso(hi_ts)])
    fitted = _fit(m, lo_ts, hi_ts)
    if fitted is not None:
        fig.update_yaxes(range=list(fitted), row=1, col=1)
        _merge_labels(fig, fitted, keep=lambda a: "(" in a.text)
    step = r.window.step_s * 10**9
    if r.focus is not None:
        fig.add_vrect(
            x0=_iso(r.focus.start_ts),
            x1=_iso(r.focus.end_ts + step),
            fillcolor=_JUDGED,
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
    return fig


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
        _merge_labels(fig, (float(y_range[0]), float(y_range[1])), prefix="stops (heuristic): ")
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
