"""The map backtest as one self-contained HTML page (Plotly inlined, opens offline).

Charts: predicted vs realized liquidation USD per bar on log axes, the estimated map beside
the naive baseline (one panel per side), and the top-quarter capture bars (map, baseline,
chance; bar level and price-level versions) across the full width (a panel per side in the
top row left an empty one beside the bars). The page prints the numbers the terminal prints
(capture shares with their CIs, baselines, chance, n, correlations) in tables above the
charts. Bars where a predictor or the realized USD is zero cannot sit on a log axis: the page
says how many were left out.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flushwatch.analytics.backtest_map import BacktestResult
from flushwatch.analytics.market import F64
from flushwatch.report.style import chart_html, page, styled

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
        specs=[[{}] * cols, [{"colspan": cols}] + [None] * (cols - 1)],
        subplot_titles=[f"{s}: predicted vs realized (USD, log)" for s in sides]
        + ["top-quarter capture"],
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
    fig.update_layout(height=850, barmode="group")
    return styled(fig), notes


#: The columns ``flushwatch backtest-map --protocol nowcast`` prints (same numbers, same order).
NOWCAST_HEAD = ("side", "n", "map top-25%", "baseline top-25%", "chance", "ρ map", "ρ base",
                "partial ρ (map | base)", "p")  # fmt: skip
LEVELS_HEAD = ("side", "days", "map top-25% bins", "side-nearest bins", "chance", "bins/day")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if math.isfinite(x) else "n/a"


def nowcast_rows(res: BacktestResult) -> tuple[list[list[str]], list[list[str]]]:
    """The terminal's two tables as text cells: per-bar scores, then price-bin capture."""
    sides = list(res.sides) + ([res.oi_drop_proxy] if res.oi_drop_proxy else [])
    rows = [
        [s.side, str(s.n),
         f"{_pct(s.map_capture.share)} [{_pct(s.map_capture.ci_low)}–"
         f"{_pct(s.map_capture.ci_high)}]",
         _pct(s.baseline_capture.share), _pct(s.chance), f"{s.map_spearman.r:.3f}",
         f"{s.baseline_spearman.r:.3f}",
         f"{s.partial.r:+.3f} [{s.partial.ci_low:+.3f}, {s.partial.ci_high:+.3f}]",
         f"{s.partial.p:.2g}"]
        for s in sides
    ]  # fmt: skip
    levels = [
        [lv.side, str(lv.days),
         f"{_pct(lv.map_share)} [{_pct(lv.map_ci_low)}–{_pct(lv.map_ci_high)}]",
         _pct(lv.baseline_share), _pct(lv.chance), f"{lv.median_bins:.0f}"]
        for lv in res.levels
    ]  # fmt: skip
    return rows, levels


def _table(head: tuple[str, ...], rows: list[list[str]], cls: str) -> str:
    th = "".join(f"<th>{html.escape(h)}</th>" for h in head)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table class='{cls}'><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>"


def nowcast_section(
    result: BacktestResult, series: Mapping[str, F64], *, plotlyjs: bool = True
) -> str:
    """The numbers (as the terminal prints them), the charts and what the log axes left off."""
    if not result.sides:
        return "<p>No realized liquidations in this market: nothing to chart.</p>"
    rows, levels = nowcast_rows(result)
    fig, notes = figure(result, series)
    foot = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        _table(NOWCAST_HEAD, rows, "nowcast")
        + (_table(LEVELS_HEAD, levels, "nowcast-levels") if levels else "")
        + chart_html(fig, plotlyjs=plotlyjs)
        + f"<p class='note'>Left off the log axes:</p><ul class='note'>{foot}</ul>"
    )


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
    return page(title, "".join(head) + nowcast_section(result, series))


def write_html(path: Path, result: BacktestResult, series: Mapping[str, F64]) -> None:
    """Write the page to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(result, series), encoding="utf-8")
