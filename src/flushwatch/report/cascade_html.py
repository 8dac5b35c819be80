"""The cascade as one self-contained HTML page (Plotly inlined: opens offline).

Three charts: the cascade curve (initial shock → final move), the path of the simulated
cascade (price and cumulative liquidations per step), and the local cascade gain G per price
bin with the G = 1 line (bins above it self-propagate). Every number is an estimate.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flushwatch.domain.time import iso
from flushwatch.report.framing import frame_cascade
from flushwatch.report.style import chart_html, page

if TYPE_CHECKING:
    from flushwatch.analytics.fragility import Apart, GroupSummary, InputSpec, Ranked


class FragilityRanking(Protocol):
    """What a page shows of ``flushwatch.api.fragility.FragilityRanking`` (this layer sits
    below the API, so it names the fields it reads instead of importing the class)."""

    @property
    def as_of_ts(self) -> int: ...
    @property
    def bars(self) -> str: ...
    @property
    def inputs(self) -> list[InputSpec]: ...
    @property
    def used(self) -> list[str]: ...
    @property
    def method(self) -> str: ...
    @property
    def markets(self) -> list[Ranked]: ...
    @property
    def apart(self) -> list[Apart]: ...
    @property
    def groups(self) -> list[GroupSummary]: ...
    @property
    def notes(self) -> dict[str, list[str]]: ...


def figure(out: dict[str, Any]) -> go.Figure:
    """Build the three-panel chart from the ``flushwatch cascade`` JSON-like dict."""
    r = out["result"]
    c = out["curve"]
    fig = make_subplots(
        rows=3,
        cols=1,
        vertical_spacing=0.09,
        subplot_titles=(
            "Cascade curve (estimated): initial shock → final move, %",
            "Simulated path: price after each step (liquidated USD on hover)",
            "Local cascade gain G = forced flow / book depth per price bin (G ≥ 1 propagates)",
        ),
        specs=[[{}], [{"secondary_y": True}], [{}]],
    )
    fig.add_trace(
        go.Scatter(
            x=c["shock_pct"], y=c["final_move_pct"], mode="lines+markers", name="final move"
        ),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=c["shock_pct"], y=c["shock_pct"], mode="lines", name="no cascade (shock only)",
            line={"dash": "dot", "color": "#9e9e9e"},
        ),
        row=1, col=1,
    )  # fmt: skip
    steps = np.arange(r.path.price.size)
    fig.add_trace(
        go.Scatter(x=steps, y=r.path.price, mode="lines+markers", name="price"), row=2, col=1
    )
    fig.add_trace(
        go.Bar(x=steps, y=r.path.liquidated_usd, name="liquidated (cum., USD)", opacity=0.4),
        row=2, col=1, secondary_y=True,
    )  # fmt: skip
    g = r.gain
    mid = (g.price_lo + g.price_hi) / 2.0
    fig.add_trace(
        go.Bar(
            x=mid, y=np.nan_to_num(g.gain, nan=0.0, posinf=0.0), name="G",
            marker={"color": np.where(g.gain >= 1.0, "#c62828", "#1565c0").tolist()},
        ),
        row=3, col=1,
    )  # fmt: skip
    fig.add_hline(y=1.0, line={"dash": "dash", "color": "#c62828"}, row=3, col=1)
    fig.update_xaxes(title_text="initial shock, %", row=1, col=1)
    fig.update_xaxes(title_text="step", row=2, col=1)
    fig.update_xaxes(title_text="price", row=3, col=1)
    fig.update_layout(height=1100, bargap=0.05)
    return fig


def framed_figure(out: dict[str, Any]) -> go.Figure:
    """The chart with its gain panel opened on the bins with any gain (one for every page)."""
    g = out["result"].gain
    return frame_cascade(figure(out), g.price_lo, g.price_hi, g.gain)


def headline(out: dict[str, Any]) -> str:
    """One sentence: the shock, the move it ends at, what was liquidated."""
    r = out["result"]
    head = (
        f"{out['asset']}: a {r.shock_move_pct:+.2f}% shock ends at {r.final_move_pct:+.2f}% "
        f"(amplification ×{r.amplification:.2f}), {r.liquidated_usd:,.0f} USD liquidated in "
        f"{r.steps} steps"
    )
    if r.book_exhausted:
        head += " — the flow ran past the end of the known book: the move is at least this"
    return head


def monte_carlo_html(out: dict[str, Any]) -> str:
    """The Monte Carlo's move probabilities as the terminal prints them (empty without one)."""
    mc = out.get("monte_carlo")
    if mc is None:
        return ""
    rows = "".join(
        f"<tr><td class='num'>{x:g}%</td><td class='num'>{100 * p:.1f}%</td></tr>"
        for x, p in zip(mc.thresholds_pct, mc.prob_beyond, strict=True)
    )
    return (
        f"<h3>Monte Carlo: {mc.runs:,} runs, seed {mc.seed} (estimated)</h3>"
        "<table class='monte-carlo'><thead><tr><th>move at least</th><th>probability</th>"
        f"</tr></thead><tbody>{rows}</tbody></table>"
        f"<p class='mc-summary'>Median move {mc.move_p50_pct:+.2f}% (5–95%: "
        f"{mc.move_p05_pct:+.2f}% to {mc.move_p95_pct:+.2f}%) over the "
        f"{mc.runs_within_depth:,} runs inside the known depth; beyond known depth "
        f"(excluded): {100 * mc.prob_book_exhausted:.1f}%.</p>"
    )


def render_cascade_html(out: dict[str, Any]) -> str:
    """The whole page as a string (Plotly inlined)."""
    chart = chart_html(framed_figure(out))
    notes = "".join(
        f"<li>{html.escape(str(n))}</li>"
        for n in (
            f"Depth: {out['depth_source']} ({out['depth_note']})",
            f"Map: {out['map_note']}",
            f"Venues: {out.get('venue_note', '')}",
            "All figures are estimates from an estimated liquidation map.",
        )
    )
    return page(
        f"{out['asset']} cascade (estimated)",
        f"<h1>{html.escape(headline(out))} (estimated)</h1><ul>{notes}</ul>{chart}"
        + monte_carlo_html(out),
        css="body { max-width: 1100px; margin: 24px auto; }",
    )


def write_cascade_html(path: Path, out: dict[str, Any]) -> None:
    """Write the page to ``path`` (parent folders are created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_cascade_html(out), encoding="utf-8")


def render_fragility_html(result: FragilityRanking) -> str:
    """The like-with-like ranking as a self-contained page: each input's share of the score
    as stacked bars, then every input's value per asset, the groups and who is set apart."""
    ranked, used = result.markets, result.used
    names = [f"#{f.rank} {f.asset}" for f in ranked]
    fig = go.Figure()
    for comp in used:
        fig.add_trace(
            go.Bar(
                y=names,
                x=[f.pct_ranks[comp] / len(used) for f in ranked],
                name=comp,
                orientation="h",
            )
        )
    fig.update_layout(
        barmode="stack",
        template="plotly_white",
        height=200 + 22 * len(ranked),
        xaxis_title="score: mean of per-input percentile ranks (estimate)",
        yaxis={"autorange": "reversed"},
    )
    cols = [s.name for s in result.inputs if any(s.name in f.components for f in ranked)]
    esc = html.escape

    def cell(x: float | None) -> str:
        return "n/a" if x is None or not np.isfinite(x) else f"{x:.3g}"

    head = "".join(f"<th>{esc(c)}</th>" for c in ("rank", "asset", "group", "score", *cols))
    rows = "".join(
        f"<tr><td>{f.rank}</td><td>{esc(f.asset)}</td><td>{f.group}</td><td>{f.score:.3f}</td>"
        + "".join(f"<td>{cell(f.components.get(c))}</td>" for c in cols)
        + "</tr>"
        for f in ranked
    )
    groups = "".join(
        f"<tr><td>{g.group}</td><td>{len(g.assets)}</td>"
        + "".join(f"<td>{cell(g.median.get(c))}</td>" for c in cols)
        + "</tr>"
        for g in result.groups
    )
    apart = "".join(
        f"<li>{esc(a.asset)}: lacks {esc(', '.join(a.lacks))}"
        f"{'; ' + esc('; '.join(result.notes.get(a.asset, []))) if a.asset in result.notes else ''}"
        "</li>"
        for a in result.apart
    )
    legend = "".join(
        f"<li><b>{esc(s.name)}</b> ({esc(s.unit)}, fragile when {s.fragile}): {esc(s.about)}</li>"
        for s in result.inputs
    )
    chart = chart_html(fig)
    return page(
        "flushwatch fragility ranking",
        "<h1>Fragility ranking, like with like (estimate)</h1>"
        f"<p>As of {esc(iso(result.as_of_ts))}; {esc(result.bars)}. Ranked on: "
        f"{esc(', '.join(used) or 'nothing in common')}. Score: {esc(result.method)}.</p>"
        f"{chart}<table><tr>{head}</tr>{rows}</table>"
        "<h2>Group medians</h2><table><tr><th>group</th><th>n</th>"
        + "".join(f"<th>{esc(c)}</th>" for c in cols)
        + f"</tr>{groups}</table>"
        f"<h2>Set apart</h2><ul>{apart or '<li>none</li>'}</ul>"
        f"<h2>Inputs</h2><ul>{legend}</ul>",
    )
