"""The map backtest as one self-contained HTML page (Plotly inlined, opens offline).

Charts: predicted vs realized liquidation USD per bar on log axes, the estimated map beside
the naive baseline (one panel per side), and the top-quarter capture bars (map, baseline,
chance; bar level and price-level versions). Bars where a predictor or the realized USD is
zero cannot sit on a log axis: the page says how many were left out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.io import to_html
from plotly.subplots import make_subplots

from flushwatch.analytics.backtest_map import BacktestResult
from flushwatch.analytics.market import F64

_MAP, _BASE, _CHANCE = "#1565c0", "#9e9e9e", "#c62828"
_MAX_POINTS = 20_000  # per trace; beyond this the page gets slow, so points are thinned evenly


def _positive(x: F64, y: F64) -> tuple[F64, F64, int]:
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    xs, ys = x[ok], y[ok]
    if xs.shape[0] > _MAX_POINTS:
        keep = np.linspace(0, xs.shape[0] - 1, _MAX_POINTS).astype(np.int64)
        xs, ys = xs[keep], ys[keep]
    return xs, ys, int((~ok).sum())


def figure(result: BacktestResult, series: Mapping[str, F64]) -> tuple[go.Figure, list[str]]:
    """Scatter panels (one per side) and capture bars; returns the figure and caveat lines.

    ``series`` holds per-bar arrays ``map_<side>``, ``base_<side>`` and ``real_<side>``.
    """
    sides = [s.side for s in result.sides]
    cols = max(len(sides), 1)
    fig = make_subplots(
        rows=2,
        cols=cols,
        subplot_titles=[f"{s}: predicted vs realized (USD, log)" for s in sides]
        + ["top-quarter capture"] * cols,
        vertical_spacing=0.14,
    )
    notes: list[str] = []
    for i, side in enumerate(sides, start=1):
        real = series[f"real_{side}"]
        for key, name, colour in (("map", "map (estimated)", _MAP), ("base", "baseline", _BASE)):
            x, y, dropped = _positive(series[f"{key}_{side}"], real)
            fig.add_trace(
                go.Scattergl(
                    x=x,
                    y=y,
                    mode="markers",
                    name=f"{name}, {side}",
                    marker={"color": colour, "size": 4, "opacity": 0.45},
                ),
                row=1,
                col=i,
            )
            notes.append(f"{side} / {name}: {dropped} bars with a zero prediction or zero USD")
        fig.update_xaxes(type="log", title_text="predicted USD", row=1, col=i)
        fig.update_yaxes(type="log", title_text="realized USD", row=1, col=i)
    labels: list[str] = []
    mapv: list[float] = []
    basev: list[float] = []
    for s in result.sides:
        labels.append(f"{s.side}, per bar")
        mapv.append(s.map_capture.share)
        basev.append(s.baseline_capture.share)
    for lv in result.levels:
        labels.append(f"{lv.side}, price bins")
        mapv.append(lv.map_share)
        basev.append(lv.baseline_share)
    for name, vals, colour in (("map (estimated)", mapv, _MAP), ("baseline", basev, _BASE)):
        fig.add_trace(
            go.Bar(
                x=labels,
                y=[100 * v if math.isfinite(v) else None for v in vals],
                name=name,
                marker_color=colour,
            ),
            row=2,
            col=1,
        )
    if labels:
        fig.add_hline(y=25, line_dash="dash", line_color=_CHANCE, row=2, col=1)
    fig.update_yaxes(title_text="% of realized USD", row=2, col=1)
    fig.update_layout(height=850, barmode="group", template="plotly_white")
    return fig, notes


def render_html(result: BacktestResult, series: Mapping[str, F64]) -> str:
    """The whole page: title, caveats, the charts."""
    title = f"{result.asset} liquidation-map backtest ({result.step_s // 60} min bars)"
    head = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p>{html.escape(result.start)} → {html.escape(result.end)}. The map is an "
        "<b>estimate</b>; the baseline is range-below(above)-the-open × open interest; "
        "chance = 25 %.</p>",
    ]
    head += [f"<p><i>{html.escape(n)}</i></p>" for n in result.notes]
    if not result.sides:
        body = "<p>No realized liquidations in this market: nothing to chart.</p>"
        return _page(title, head, body)
    fig, notes = figure(result, series)
    chart = to_html(fig, include_plotlyjs=True, full_html=False)
    foot = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return _page(title, head, chart + f"<p>Left off the log axes:</p><ul>{foot}</ul>")


def _page(title: str, head: list[str], body: str) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title></head><body style='font-family:sans-serif'>"
        + "".join(head)
        + body
        + "</body></html>"
    )


def write_html(path: Path, result: BacktestResult, series: Mapping[str, F64]) -> None:
    """Write the page to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, series), encoding="utf-8")
