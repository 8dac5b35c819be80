"""The report as one self-contained HTML page with Plotly charts (opens offline).

Charts: price with key levels and flush windows shaded; liquidations long/short; open
interest; funding; basis; spot vs perp volume. A series that is not available gets a line of
text saying so instead of an empty chart.
"""

from __future__ import annotations

import html
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from flushwatch.analytics.flushes import episode_note
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import Probability
from flushwatch.domain.numbers import flush_name, pct, signed_pct
from flushwatch.report import odds
from flushwatch.report.framing import frame, iso
from flushwatch.report.model import FlushReport, level_state
from flushwatch.report.style import FONT, chart_html
from flushwatch.report.wash_html import trade_prints_html

_LEVEL_COLOURS = {
    "holding": "#2e7d32",
    "reclaimed": "#1565c0",
    "lost": "#c62828",
    "not_tested": "#9e9e9e",
}
_SIGNAL = {"good": "#2e7d32", "bad": "#c62828", "neutral": "#6d6d6d", "unknown": "#9e9e9e"}


def _times(m: MarketSeries) -> np.ndarray:
    return m.ts.astype("datetime64[ns]")


def _panels(m: MarketSeries) -> list[tuple[str, str]]:
    out = [("price", f"{m.asset} price")]
    if m.liq_long is not None:
        out.append(("liq", "Liquidations (USD)" + (" — lower bound" if m.liq_lower_bound else "")))
    if m.oi_quote is not None:
        out.append(("oi", "Open interest (USD)"))
    if m.funding is not None:
        out.append(("funding", f"Funding (% per {m.funding_interval_h:g}h)"))
    if m.basis is not None:
        out.append(("basis", "Perp basis over spot (%)"))
    if m.volume_quote is not None or m.spot_volume_quote is not None:
        out.append(("volume", "Volume (USD): perp vs spot"))
    return out


_SHADE = {"long_flush": "rgba(198,40,40,0.12)", "short_squeeze": "rgba(46,125,50,0.12)"}


def _shades(report: FlushReport) -> list[dict[str, object]]:
    """Every flush shaded across all panels, as plain shape dicts set in one layout update.

    ``add_vrect`` once per flush validated the whole layout each time: 61 flushes took 4.5 s.
    """
    step = report.window.step_s * 10**9
    return [
        {
            "type": "rect",
            "xref": "x",
            "yref": "paper",
            "x0": iso(ev.start_ts),
            "x1": iso(ev.end_ts + step),
            "y0": 0,
            "y1": 1,
            "fillcolor": _SHADE.get(ev.kind, "rgba(120,120,120,0.12)"),
            "line": {"width": 0},
            "layer": "below",
        }
        for ev in report.events
    ]


def figure(report: FlushReport, m: MarketSeries) -> go.Figure:
    """Build the stacked chart for one report."""
    panels = _panels(m)
    fig = make_subplots(
        rows=len(panels),
        cols=1,
        shared_xaxes=True,
        vertical_spacing=0.03,
        subplot_titles=[t for _, t in panels],
        row_heights=[3.0] + [1.2] * (len(panels) - 1),
    )
    t = _times(m)
    row = {name: i + 1 for i, (name, _) in enumerate(panels)}
    # Bars with no price (gaps in the source) are left out: Plotly cannot draw a NaN candle.
    ok = np.isfinite(m.open) & np.isfinite(m.high) & np.isfinite(m.low) & np.isfinite(m.close)
    fig.add_trace(
        go.Candlestick(
            x=t[ok],
            open=m.open[ok],
            high=m.high[ok],
            low=m.low[ok],
            close=m.close[ok],
            name="price",
            showlegend=False,
        ),
        row=1,
        col=1,
    )
    fig.update_layout(shapes=_shades(report))  # before the level lines, which add shapes
    for lvl in report.levels:
        fig.add_hline(
            y=lvl.price,
            line_dash="dot",
            line_width=1,
            line_color=_LEVEL_COLOURS.get(lvl.state, "#9e9e9e"),
            annotation_text=f"{lvl.kind.replace('_', ' ')} {lvl.price:,.6g} ({level_state(lvl)})",
            annotation_font_size=9,
            row=1,
            col=1,
        )
    if "liq" in row and m.liq_long is not None and m.liq_short is not None:
        fig.add_trace(
            go.Bar(x=t, y=m.liq_long, name="longs liquidated", marker_color="#c62828"),
            row=row["liq"],
            col=1,
        )
        fig.add_trace(
            go.Bar(x=t, y=-m.liq_short, name="shorts liquidated (down)", marker_color="#2e7d32"),
            row=row["liq"],
            col=1,
        )
    if "oi" in row and m.oi_quote is not None:
        fig.add_trace(
            go.Scatter(x=t, y=m.oi_quote, name="OI (USD)", line_color="#6a1b9a"),
            row=row["oi"],
            col=1,
        )
    if "funding" in row and m.funding is not None:
        fig.add_trace(
            go.Scatter(x=t, y=m.funding * 100, name="funding %", line_color="#ef6c00"),
            row=row["funding"],
            col=1,
        )
    if "basis" in row and m.basis is not None:
        fig.add_trace(
            go.Scatter(x=t, y=m.basis * 100, name="basis %", line_color="#00838f"),
            row=row["basis"],
            col=1,
        )
    if "volume" in row:
        if m.volume_quote is not None:
            fig.add_trace(
                go.Bar(x=t, y=m.volume_quote, name="perp volume", marker_color="#455a64"),
                row=row["volume"],
                col=1,
            )
        if m.spot_volume_quote is not None:
            fig.add_trace(
                go.Bar(x=t, y=m.spot_volume_quote, name="spot volume", marker_color="#90a4ae"),
                row=row["volume"],
                col=1,
            )
    fig.update_layout(
        height=320 + 190 * len(panels),
        barmode="relative",
        xaxis_rangeslider_visible=False,
        template="plotly_white",
        margin={"l": 60, "r": 30, "t": 40, "b": 30},
        legend={"orientation": "h", "y": -0.03},
    )
    return fig


def framed_figure(report: FlushReport, m: MarketSeries) -> go.Figure:
    """The stacked chart opened on the judged flush (see :mod:`flushwatch.report.framing`)."""
    return frame(figure(report, m), report, m)


def _table(rows: list[tuple[str, ...]], header: tuple[str, ...]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _when(ts: int) -> str:
    return str(np.datetime_as_string(np.datetime64(ts, "ns"), unit="m"))


def _odds_html(probs: dict[str, Probability]) -> str:
    """The outcome odds table (empty when the report has none)."""
    if not probs:
        return ""
    head = "".join(f"<th>within {html.escape(h)}</th>" for h in odds.horizons(probs))
    body = "".join(
        f"<tr><td>{html.escape(text)}</td>"
        + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
        + "</tr>"
        for text, cells in odds.rows(probs)
    )
    return (
        "<h3>What happens next (estimates)</h3>"
        f"<table class='odds'><tr><th>outcome</th>{head}</tr>{body}</table>"
        f"<p class='note'>{html.escape(odds.footnote(probs))}</p>"
    )


def render_html(report: FlushReport, m: MarketSeries, *, simulated: bool = False) -> str:
    """The whole page as a string (Plotly's JavaScript inlined: no network needed)."""
    chart = chart_html(framed_figure(report, m))
    v = report.verdict
    verdict_html = (
        f"<p class='verdict'><b>{html.escape(v.name.replace('_', ' '))}</b> "
        f"(confidence {v.confidence:.0%})</p><ul>"
        + "".join(f"<li>{html.escape(r)}</li>" for r in v.reasons)
        + "</ul>"
        + _odds_html(v.probabilities)
        if v is not None
        else "<p class='verdict'>No flush had ended by the as-of time: no verdict.</p>"
    )
    judged = "none confirmed ended by then"
    if report.focus is not None:
        f = report.focus
        judged = f"{flush_name(f.kind)} {_when(f.start_ts)} → {_when(f.end_ts)} UTC"
        if (note := episode_note(f)) is not None:
            judged += f" ({note})"
    running = ""
    if report.in_progress is not None:
        r = report.in_progress
        running = (
            f"<p><b>In progress</b> (not judged yet): {r.kind.replace('_', ' ')} since "
            f"{_when(r.start_ts)} UTC</p>"
        )
    checklist = "".join(
        f"<tr><td>{html.escape(c.name)}</td><td style='color:{_SIGNAL[c.signal]}'>"
        f"{html.escape(c.state)}</td><td>{html.escape(c.sentence)}</td></tr>"
        for c in report.checklist
    )
    rules = _table(
        [
            (
                r.name,
                {True: "FIRED", False: "not fired", None: "not available"}[r.fired],
                "; ".join(r.evidence),
            )
            for r in report.risk_box
        ],
        ("rule", "state", "evidence"),
    )
    events = _table(
        [
            (
                e.kind if e.episode_flush == 1 else f"{e.kind} (re-flare {e.episode_flush})",
                np.datetime_as_string(np.datetime64(e.start_ts, "ns"), unit="m"),
                f"{(e.liq_long_usd or 0) / 1e6:,.1f}",
                f"{(e.liq_short_usd or 0) / 1e6:,.1f}",
                signed_pct(e.move_pct, 2),
                pct(e.oi_drop_quote_pct),
                e.detected_by,
            )
            for e in report.events
        ],
        ("kind", "start (UTC)", "long liq $M", "short liq $M", "move", "OI drop", "found by"),
    )
    sources = _table(sorted(report.sources.items()), ("series", "source"))
    banner = (
        "<div class='sim'>SIMULATED DATA — produced by flushwatch's market simulator, not an "
        "exchange</div>"
        if simulated
        else ""
    )
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in report.notes)
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<title>flushwatch report — {html.escape(report.asset)}</title>
<style>
body {{ font-family: {FONT}; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }}
.verdict {{ font-size: 20px; }} .sim {{ background: #fff3cd; padding: 8px; font-weight: bold; }}
</style></head><body>
{banner}
<h1>{html.escape(report.asset)} flush report as of {html.escape(report.as_of)}</h1>
<p>Only what was knowable then is used: {html.escape(report.window.start)} →
{html.escape(report.window.end)}, {report.window.bars} bars of {report.window.step_s // 60} min.
</p>
<p><b>Judged flush</b>: {html.escape(judged)}</p>{running}
<h2>Verdict</h2>{verdict_html}
<h2>Checklist</h2><table><thead><tr><th>item</th><th>state</th><th>evidence</th></tr></thead>
<tbody>{checklist}</tbody></table>
<h2>Risk box</h2>{rules}
<h2>Charts</h2>{chart}
<h2>Flushes found</h2>{events}
{trade_prints_html(report.trade_prints)}
<h2>Inputs</h2>{sources}<ul>{notes}</ul>
</body></html>
"""


def write_html(
    path: Path, report: FlushReport, m: MarketSeries, *, simulated: bool = False
) -> Path:
    """Write the page and return its path."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_html(report, m, simulated=simulated), encoding="utf-8")
    return path
