"""The page frame and small HTML pieces (Python string templates; every value escaped).

Charts are embedded as Plotly figure JSON inside ``<script type="application/json">`` and
drawn by ``static/dashboard.js`` with the plotly.min.js the server ships: nothing is loaded
from the network.
"""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

from flushwatch.report.style import FONT  # one font for the dashboard and the --html pages

if TYPE_CHECKING:
    import plotly.graph_objects as go

NAV = (("/", "Overview"), ("/asset", "Asset"), ("/scorecards", "Scorecards"), ("/live", "Live"),
       ("/docs", "API"))  # fmt: skip

_CSS = f"""
body {{ font-family: {FONT}; margin: 0; color: #1d1d1f; background: #fafafa; }}
header {{ background: #1f2a36; color: #fff; padding: 10px 24px; display: flex; gap: 22px;
  align-items: baseline; }}
header b {{ font-size: 18px; margin-right: 12px; }}
header a {{ color: #cfd8dc; text-decoration: none; }} header a.on {{ color: #fff;
  border-bottom: 2px solid #4fc3f7; }}
main {{ padding: 16px 24px 40px; max-width: 1600px; }}
h1 {{ font-size: 22px; }} h2 {{ font-size: 17px; margin-top: 28px; }}
table {{ border-collapse: collapse; margin: 8px 0 18px; font-size: 13px; background: #fff; }}
td, th {{ border-bottom: 1px solid #e0e0e0; padding: 4px 10px; text-align: left;
  vertical-align: top; }}
th {{ background: #f1f3f4; }} td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.sim {{ background: #fff3cd; padding: 8px 24px; font-weight: bold; }}
.na {{ color: #8a6d3b; background: #fcf8e3; padding: 6px 10px; display: inline-block; }}
.verdict {{ font-size: 20px; }} .note {{ color: #555; font-size: 12px; }}
.chart {{ width: 100%; background: #fff; margin-bottom: 12px; }}
.cards {{ display: flex; flex-wrap: wrap; gap: 12px; }}
.card {{ background: #fff; border: 1px solid #e0e0e0; padding: 10px 14px; min-width: 220px; }}
form.asof {{ background: #fff; border: 1px solid #e0e0e0; padding: 8px 12px;
  display: inline-block; }}
.good {{ color: #2e7d32; }} .bad {{ color: #c62828; }} .neutral {{ color: #6d6d6d; }}
.unknown {{ color: #9e9e9e; }}
"""


def esc(value: object) -> str:
    """HTML-escaped text of ``value``."""
    return html.escape(str(value), quote=True)


def table(header: Sequence[str], rows: Iterable[Sequence[object]], *, cls: str = "") -> str:
    """A plain table; cells are escaped (numbers right-aligned)."""
    head = "".join(f"<th>{esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{esc(c)}</td>" if isinstance(c, int | float) else f"<td>{esc(c)}</td>"
            for c in row
        )
        + "</tr>"
        for row in rows
    )
    klass = f" class='{esc(cls)}'" if cls else ""
    return f"<table{klass}><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def not_available(what: str, why: str) -> str:
    """The line shown instead of a section the store cannot support (never a guess)."""
    return f"<p class='na'><b>{esc(what)}: not available</b> — {esc(why)}</p>"


def chart(fig: go.Figure, ident: str, *, height: int | None = None) -> str:
    """A div and the figure's JSON for ``dashboard.js`` to draw."""
    fig.update_layout(font={"family": FONT}, autosize=True)
    if height is not None:
        fig.update_layout(height=height)
    data = fig.to_json().replace("</", "<\\/")  # a label can never close the script
    return (
        f"<div class='chart' id='{esc(ident)}'></div>"
        f"<script type='application/json' class='fig' data-target='{esc(ident)}'>{data}</script>"
    )


def page(title: str, body: str, *, active: str, simulated: bool = False) -> str:
    """The whole page: header with navigation, optional simulated banner, body, scripts."""
    nav = "".join(
        f"<a href='{href}'{' class=on' if href == active else ''}>{esc(name)}</a>"
        for href, name in NAV
    )
    banner = (
        "<div class='sim'>SIMULATED DATA — this store holds rows from flushwatch's market "
        "simulator (exchange = simulated), not an exchange</div>"
        if simulated
        else ""
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{esc(title)} — flushwatch</title>
<link rel="icon" href="data:,">
<style>{_CSS}</style>
<script src="/vendor/plotly.min.js"></script>
</head><body>
<header><b>flushwatch</b>{nav}</header>
{banner}
<main>
{body}
</main>
<script src="/static/dashboard.js"></script>
</body></html>
"""
