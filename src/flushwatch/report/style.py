"""One look for every page and figure of the report layer: one font, one Plotly template.

Users opened the map page and found another font (it had no page style at all, so the
browser's serif; the charts used Plotly's "Open Sans"), and a dark template beside white ones.
Every ``--html`` writer and the dashboard take the font, the template and the page CSS from
here, so a page reads as one document.
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
import plotly.io as pio
from plotly.io import to_html

#: The one font stack of every page and chart (the system's UI font: no web font to fetch).
FONT = "system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif"

#: Plotly's white template with :data:`FONT` as its font.
TEMPLATE = go.layout.Template(pio.templates["plotly_white"])
TEMPLATE.layout.font = {"family": FONT}

#: The CSS every page of the report layer starts with.
CSS = f"""
body {{ font-family: {FONT}; margin: 24px; color: #222; }}
table {{ border-collapse: collapse; margin: 8px 0 20px; font-size: 13px; }}
td, th {{ border-bottom: 1px solid #ddd; padding: 4px 10px; text-align: left; }}
td.num {{ text-align: right; font-variant-numeric: tabular-nums; }}
.sim {{ background: #fff3cd; padding: 8px; font-weight: bold; }}
.note {{ color: #555; font-size: 13px; }}
code {{ font-family: inherit; background: #f1f3f4; padding: 0 3px; }}
"""


def styled(fig: go.Figure) -> go.Figure:
    """``fig`` in the one template and font (set last, over whatever the builder chose)."""
    fig.update_layout(template=TEMPLATE, font={"family": FONT})
    return fig


def chart_html(fig: go.Figure, *, plotlyjs: bool = True) -> str:
    """A styled figure as an HTML fragment (Plotly's JavaScript inlined when asked: offline)."""
    return str(
        to_html(
            styled(fig),
            include_plotlyjs=plotlyjs,
            full_html=False,
            config={"displaylogo": False},
        )
    )


def page(title: str, body: str, *, css: str = "") -> str:
    """A whole page: the shared style, ``title`` in the tab, ``body`` as given (escaped by
    the caller)."""
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{CSS}{css}</style></head>"
        f"<body>{body}</body></html>"
    )
