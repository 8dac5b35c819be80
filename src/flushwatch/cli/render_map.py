"""Terminal output of ``flushwatch map`` (estimates, labelled as such)."""

from __future__ import annotations

from typing import Any


def _usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:,.2f}{unit}"
    return f"${x:,.0f}"


def render(doc: dict[str, Any]) -> None:
    """Print the map for a terminal (estimates, labelled as such)."""
    from rich.table import Table

    from flushwatch.api.liqmap import BAND_PCT
    from flushwatch.cli.render import console as con
    from flushwatch.cli.render import escape
    from flushwatch.domain.numbers import signed_pct

    con.print(
        f"[bold]{escape(doc['asset'])}[/] estimated liquidation map as of {doc['as_of']} "
        f"(last closed bar ends {doc['asof']}; "
        f"price {doc['price']:,.2f}, {doc['bars_used']} bars) — an estimate, read it relatively"
    )
    skill = doc.get("forecast_skill")
    if skill:
        con.print(f"[yellow]{escape(skill['statement'])}[/]")
    for side, where in (("short", "above"), ("long", "below")):
        t = Table(title=f"Estimated {side} liquidation bands {where} price ({BAND_PCT}% wide)")
        for col in ("from", "to", "distance", "notional (est.)"):
            t.add_column(col, justify="right")
        for b in doc["bands"][side]:
            t.add_row(
                f"{b['lo']:,.2f}",
                f"{b['hi']:,.2f}",
                f"{b['distance_pct']:.1f}%",
                _usd(b["notional_usd"]),
            )
        con.print(t)
    t = Table(title="Estimated cumulative liquidations if price moves")
    for col in ("move", "longs if down", "shorts if up"):
        t.add_column(col, justify="right")
    for c in doc["cumulative"]:
        t.add_row(f"±{c['move_pct']:g}%", _usd(c["long_usd_if_down"]), _usd(c["short_usd_if_up"]))
    con.print(t)
    t = Table(title="Stop clusters (heuristic, separate from liquidations)")
    for col in ("side", "level", "kind", "stops at", "distance", "notional (heuristic)"):
        t.add_column(col, justify="right")
    for c in doc["stops"]["clusters"][:10]:
        t.add_row(
            c["side"],
            f"{c['level_price']:,.2f}",
            escape(c["kind"]),
            f"{c['stop_price']:,.2f}",
            signed_pct(c["distance_pct"], 2),
            _usd(c["notional"]),
        )
    con.print(t)
    for name, src in doc["sources"].items():
        con.print(f"[dim]{escape(f'{name}: {src}')}[/]")
    tiers = escape(str(doc["tiers"]))
    con.print(f"[dim]tiers: {tiers}; leverage prior and parameters: see --json[/]")
