"""The scorecard as one self-contained HTML page (Plotly inlined, opens offline).

Charts: one reliability diagram per outcome kind (predicted probability against how often
the outcome came, every horizon on one panel, the diagonal is perfect calibration), and the
Brier score of the estimate beside the base rate's and the volatility band's, with the 95 %
block-bootstrap interval of the difference in the table below. The per-asset table shows the
detector's recall and precision against the asset's own liquidation clusters.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
from plotly.io import to_html
from plotly.subplots import make_subplots

from flushwatch.analytics.outcomes import OUTCOME_TEXT, OUTCOMES
from flushwatch.analytics.scorecard import OutcomeScore
from flushwatch.report.scorecard_rows import (
    ASSET_HEADER,
    OUTCOME_HEADER,
    asset_cells,
    outcome_cells,
    rate_line,
)
from flushwatch.report.style import FONT, styled

_COLOURS = ("#1565c0", "#2e7d32", "#ef6c00", "#6a1b9a", "#c62828")


def _kind(oid: str) -> str:
    return oid.rsplit("_", 1)[0]


def figure(outcomes: dict[str, OutcomeScore]) -> go.Figure:
    """Reliability diagrams (top row) and Brier bars (bottom row), one column per outcome."""
    kinds = [k for k in OUTCOMES if any(_kind(o) == k for o in outcomes)]
    cols = max(len(kinds), 1)
    fig = make_subplots(
        rows=2,
        cols=cols,
        subplot_titles=[f"reliability: {OUTCOME_TEXT[k]}" for k in kinds]
        + [f"Brier (lower is better): {k.replace('_', ' ')}" for k in kinds],
        vertical_spacing=0.16,
    )
    for c, kind in enumerate(kinds, start=1):
        fig.add_trace(
            go.Scatter(
                x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#9e9e9e"},
                name="perfect calibration", showlegend=c == 1,
            ),
            row=1, col=c,
        )  # fmt: skip
        items = [(o, s) for o, s in outcomes.items() if _kind(o) == kind]
        for i, (oid, s) in enumerate(items):
            pts = [b for b in s.reliability if b.n > 0 and b.mean_p is not None]
            fig.add_trace(
                go.Scatter(
                    x=[b.mean_p for b in pts],
                    y=[b.observed for b in pts],
                    mode="lines+markers",
                    marker={"size": [6 + min(b.n, 40) / 2 for b in pts]},
                    line={"color": _COLOURS[i % len(_COLOURS)]},
                    name=oid,
                    text=[f"{b.n} flushes" for b in pts],
                ),
                row=1,
                col=c,
            )
        names, est, base, band = [], [], [], []
        for oid, s in items:
            names.append(oid.rsplit("_", 1)[1])
            est.append(s.brier)
            base.append(s.baseline_brier)
            band.append(s.baselines.get("vol_band_brier"))
        for label, ys, colour in (
            ("estimate", est, "#1565c0"),
            ("base rate", base, "#9e9e9e"),
            ("volatility band", band, "#ef6c00"),
        ):
            if any(y is not None for y in ys):
                fig.add_trace(
                    go.Bar(x=names, y=ys, name=label, marker_color=colour, showlegend=c == 1),
                    row=2,
                    col=c,
                )
        fig.update_xaxes(range=[0, 1], title_text="predicted", row=1, col=c)
        fig.update_yaxes(range=[0, 1], title_text="observed", row=1, col=c)
    fig.update_layout(height=760, autosize=True, barmode="group")
    return fig


def _row(cells: list[str], cls: str = "") -> str:
    attr = f" class='{cls}'" if cls else ""
    return f"<tr{attr}>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>"


def _head(columns: tuple[str, ...]) -> str:
    return "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in columns) + "</tr>"


def render_html(
    *,
    outcomes: dict[str, OutcomeScore],
    per_asset: list[dict[str, Any]],
    summary: list[str],
    notes: list[str],
    events_scored: int,
    judge_after_hours: float,
    as_of: str | None,
) -> str:
    """The whole page as a string (Plotly's JavaScript inlined: no network needed).

    Takes the scorecard's parts (``flushwatch.api.results.Scorecard`` fields), so this layer
    never imports the API that uses it.
    """
    fig = styled(figure(outcomes))  # the report layer's one font and template
    chart = to_html(fig, include_plotlyjs=True, full_html=False, default_width="100%")
    when = f" as of {as_of}" if as_of else ""
    outcome_rows = "".join(
        _row(outcome_cells(oid, s), "win" if s.beats_every_baseline else "")
        for oid, s in outcomes.items()
    )
    asset_rows = "".join(_row(asset_cells(a)) for a in per_asset)
    said = "".join(f"<li>{html.escape(line)}</li>" for line in summary)
    rates = "".join(
        f"<li>{html.escape(rate_line(oid, s))}</li>" for oid, s in outcomes.items() if s.n
    )
    cap = [f"{a['asset']}: {n}" for a in per_asset for n in a["detector"].notes if "cap" in n]
    caveats = "".join(f"<li>{html.escape(n)}</li>" for n in [*cap, *notes])
    return f"""<!doctype html>
<html><head><meta charset="utf-8"><title>flushwatch scorecard</title>
<style>
body {{ font-family: {FONT}; margin: 24px; max-width: 1500px; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; }}
td, th {{ border: 1px solid #ddd; padding: 4px 8px; text-align: right; }}
td:first-child, th:first-child {{ text-align: left; }}
tr.win td {{ background: #e8f5e9; }} .note {{ color: #555; }}
</style></head><body>
<h1>Scorecard{html.escape(when)}</h1>
<p>{events_scored} flushes on {len(per_asset)} assets, each judged
{judge_after_hours:g} h after it was confirmed ended. Probabilities are walk-forward
<b>estimates</b> (each from earlier flushes whose outcome was already known); intervals are
95% bootstrap over whole UTC days, because flushes cluster.</p>
<h2>Does it beat the baselines?</h2><ul>{said}</ul>
{chart}
<h2>Outcomes, all assets pooled</h2><table>{_head(OUTCOME_HEADER)}{outcome_rows}</table>
<h2>Which base rate each estimate stood beside</h2><ul class="note">{rates}</ul>
<h2>Per asset</h2><table>{_head(ASSET_HEADER)}{asset_rows}</table>
<ul class="note">{caveats}</ul>
</body></html>
"""


def write_html(path: Path, html_text: str) -> Path:
    """Write a rendered page and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(html_text, encoding="utf-8")
    return path
