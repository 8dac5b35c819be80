"""The map-as-forecast score as one self-contained HTML page (Plotly inlined, opens offline).

The page prints the same numbers as the terminal: the one-sentence statement (which says so
when the map does not beat the baselines), a table per side (map, map × reach, each baseline,
map − best baseline with its interval), the running captured share per predictor over the
out-of-sample days, and the sensitivity table. With the nowcast, its tables and chart follow
(:func:`flushwatch.report.backtest_html.nowcast_section`), labelled as a nowcast (it uses the
same hour's range). Font, template and page style: :mod:`flushwatch.report.style`.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flushwatch.analytics.backtest_map import BacktestResult
from flushwatch.analytics.forecast_map import BASELINES
from flushwatch.analytics.market import F64
from flushwatch.report.style import chart_html, page

_COLOURS = {
    "map": "#1565c0",
    "map_x_reach": "#6a1b9a",
    "vol_band_1sigma": "#ef6c00",
    "range_break_oi": "#2e7d32",
    "side_nearest": "#616161",
    "uniform": "#c62828",
}


def _pct(x: Any) -> str:
    return f"{100 * x:.1f}%" if isinstance(x, float) and math.isfinite(x) else "n/a"


def _pp(x: Any) -> str:
    return f"{100 * x:+.1f} pp" if isinstance(x, float) and math.isfinite(x) else "n/a"


def side_rows(side: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(predictor, share) rows of one side, as the terminal prints them."""
    rows = [("map", _pct(side["map_share"])), ("map × reach", _pct(side["map_x_reach_share"]))]
    rows += [(b, _pct(side["baselines"].get(b))) for b in BASELINES]
    rows.append(
        (
            f"map − {side['best_baseline']} (best)",
            f"{_pp(side['diff'])} [95% CI {_pp(side['diff_ci_low'])} to "
            f"{_pp(side['diff_ci_high'])}]",
        )
    )
    rows.append(
        (
            f"map × reach − {side['best_baseline']}",
            f"{_pp(side['reach_diff'])} [95% CI {_pp(side['reach_diff_ci_low'])} to "
            f"{_pp(side['reach_diff_ci_high'])}]",
        )
    )
    return rows


def _table(headers: list[str], rows: list[list[str]]) -> str:
    th = "".join(
        f"<th style='text-align:left;padding:2px 8px'>{html.escape(h)}</th>" for h in headers
    )
    body = "".join(
        "<tr>" + "".join(f"<td style='padding:2px 8px'>{html.escape(c)}</td>" for c in r) + "</tr>"
        for r in rows
    )
    return f"<table style='border-collapse:collapse'><tr>{th}</tr>{body}</table>"


def figure(doc: Mapping[str, Any], series: Mapping[str, Any]) -> go.Figure:
    """Running captured share per predictor, one panel per side (out-of-sample days)."""
    fig = make_subplots(
        rows=1, cols=2, subplot_titles=["long: running top-quarter share", "short: same"]
    )
    ts = np.asarray(series.get("ts", []), np.int64).astype("datetime64[ns]")
    for col, side in enumerate(("long", "short"), start=1):
        tot = np.cumsum(np.asarray(series.get(f"{side}_total", []), np.float64))
        for key in ("map", "map_x_reach", *BASELINES):
            cap = np.cumsum(np.asarray(series.get(f"{side}_{key}", []), np.float64))
            with np.errstate(invalid="ignore", divide="ignore"):
                run = np.where(tot > 0, cap / tot, np.nan)
            fig.add_trace(
                go.Scatter(
                    x=ts,
                    y=run,
                    mode="lines",
                    name=key,
                    legendgroup=key,
                    showlegend=col == 1,
                    line={"color": _COLOURS[key], "width": 3 if key == "map" else 1.5},
                ),
                row=1,
                col=col,
            )
        fig.update_yaxes(tickformat=".0%", row=1, col=col)
    fig.update_layout(height=480, template="plotly_white")
    return fig


def render_html(
    doc: Mapping[str, Any],
    series: Mapping[str, Any],
    nowcast: tuple[BacktestResult, Mapping[str, F64]] | None = None,
) -> str:
    """The whole page (``doc`` is ``MapForecast.to_dict()["forecast"]``)."""
    title = f"{doc['asset']} liquidation map as a next-day forecast"
    proto = doc["protocol"]
    parts = [
        f"<h1>{html.escape(title)}</h1>",
        f"<p style='font-size:1.15em'><b>{html.escape(doc['statement'])}</b></p>",
        f"<p>Out-of-sample days {html.escape(doc['start'])} → {html.escape(doc['end'])}. Bin "
        f"set: ±{proto['k_sigma']:g}σ of trailing {proto['sigma_days']:g}-day volatility, "
        f"{proto['bins_per_side']} bins per side, top {100 * proto['quantile']:.0f}% scored, "
        f"issued every {proto['cadence_hours']:g} h from 00:00 UTC. The map is an "
        "<b>estimate</b>.</p>",
        f"<p>Realized USD: {html.escape(doc['realized_source'])}.</p>",
    ]
    for side in ("long", "short"):
        s = doc[side]
        parts.append(f"<h3>{side} ({s['days']} days, walk-forward)</h3>")
        parts.append(_table(["predictor", "top-quarter share"], [list(r) for r in side_rows(s)]))
    hold = doc["holdout"]
    if hold.get("long"):
        parts.append(f"<h3>hold-out from {html.escape(str(hold['start']))}</h3>")
        parts.append(
            _table(
                ["side", "map", "best baseline", "map − best [95% CI]"],
                [
                    [
                        side,
                        _pct(hold[side]["map_share"]),
                        f"{hold[side]['best_baseline']} "
                        f"{_pct(hold[side]['baselines'][hold[side]['best_baseline']])}",
                        f"{_pp(hold[side]['diff'])} [{_pp(hold[side]['diff_ci_low'])}, "
                        f"{_pp(hold[side]['diff_ci_high'])}]",
                    ]
                    for side in ("long", "short")
                ],
            )
        )
    parts.append(chart_html(figure(doc, series)))
    parts.append("<h3>sensitivity of the map to its priors (all days, in sample)</h3>")
    parts.append(
        _table(
            ["setting", "long map", "long map × reach", "short map", "short map × reach"],
            [
                [
                    r["setting"],
                    _pct(r["long_map_share"]),
                    _pct(r["long_map_x_reach_share"]),
                    _pct(r["short_map_share"]),
                    _pct(r["short_map_x_reach_share"]),
                ]
                for r in doc["sensitivity"]
            ],
        )
    )
    parts += [f"<p><i>{html.escape(n)}</i></p>" for n in doc["notes"]]
    if nowcast is not None and nowcast[0].sides:
        from flushwatch.report.backtest_html import nowcast_section

        parts.append(
            "<h2>hourly nowcast (not a forecast: it uses the same hour's traded range)</h2>"
        )
        parts.append(nowcast_section(*nowcast, plotlyjs=False))
    return page(title, "".join(parts))


def write_html(
    path: Path,
    doc: Mapping[str, Any],
    series: Mapping[str, Any],
    nowcast: tuple[BacktestResult, Mapping[str, F64]] | None = None,
) -> None:
    """Write the page to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(doc, series, nowcast), encoding="utf-8")
