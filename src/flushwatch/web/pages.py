"""The Overview and Asset pages: server-rendered from workspace answers, charts drawn locally.

A section the store cannot support says "not available" and why (the API's own message);
it never shows a guess. Simulated stores carry the simulated banner on every page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query
from starlette.responses import HTMLResponse, RedirectResponse, Response

from flushwatch.domain.time import iso
from flushwatch.errors import FlushwatchError
from flushwatch.web import charts
from flushwatch.web.context import Dashboard, dashboard
from flushwatch.web.layout import chart, esc, not_available, page, table

router = APIRouter(include_in_schema=False)
Dash = Annotated[Dashboard, Depends(dashboard)]


def _usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    for div, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:,.2f}{suffix}"
    return f"${x:,.0f}"


def _try(dash: Dashboard, name: str, *args: Any, **kwargs: Any) -> tuple[Any, str | None]:
    """``(answer, None)`` or ``(None, the API's message)``."""
    try:
        return dash.ask(name, *args, **kwargs), None
    except FlushwatchError as exc:
        from flushwatch.redact import redact_text

        return None, redact_text(str(exc))


def _verdict_text(doc: dict[str, Any]) -> str:
    v = doc.get("verdict")
    if v is None:
        return "in progress: no verdict yet" if doc.get("in_progress") else "no verdict"
    return f"{v['name'].replace('_', ' ')} ({v['confidence']:.0%})"


# -- overview ---------------------------------------------------------------------------------
@router.get("/", response_class=HTMLResponse)
def overview(dash: Dash) -> HTMLResponse:
    """Assets with their latest flush and verdict, liquidations, the fragility table."""
    return HTMLResponse(dash.cache.get("page:/", lambda: _overview(dash)))


def _overview(dash: Dashboard) -> str:
    parts = [f"<h1>Overview</h1><p class='note'>Store {esc(dash.ws.path)}</p>"]
    cards, venues, hours = [], [], []
    for asset in dash.assets():
        rep, why = _try(dash, "report", asset)
        if rep is None:
            missing = not_available("report", why or "")
            cards.append(f"<div class='card'><b>{esc(asset)}</b><br>{missing}</div>")
            continue
        doc = rep.to_dict()
        last = doc["events"][-1] if doc["events"] else None
        flush = (
            f"{last['kind'].replace('_', ' ')} from {esc(iso(last['start_ts']))}, "
            f"move {last['move_pct']:+.2f}%"
            if last
            else "none found"
        )
        cards.append(
            f"<div class='card asset-card' data-asset='{esc(asset)}'>"
            f"<b><a href='/asset/{esc(asset)}'>{esc(asset)}</a></b><br>"
            f"as of {esc(doc['as_of'])}<br>latest flush: {flush}<br>"
            f"verdict: <b class='verdict-name'>{esc(_verdict_text(doc))}</b></div>"
        )
        liq = doc.get("liquidations")
        if liq:
            venues += [
                (asset, r["source"], r["key"], _usd(r["long_usd"]), _usd(r["short_usd"]),
                 _usd(r["total_usd"]), r["label"])
                for r in liq["by_venue"]
            ]  # fmt: skip
            if liq["by_hour"]:
                span = f"{liq['by_hour'][0]['key']} → {liq['by_hour'][-1]['key']}"
                window = f"{asset}: liquidations by hour, {span}"
                hours.append(
                    chart(charts.liquidations_by_hour(liq["by_hour"], window), f"liq-hour-{asset}")
                )
    parts.append("<div class='cards'>" + "".join(cards) + "</div>")
    parts.append("<h2>Liquidations by venue</h2>")
    parts.append(
        table(("asset", "source", "venue", "longs", "shorts", "total", "coverage"), venues)
        if venues
        else not_available("liquidations", "the store holds no liquidations for these assets")
    )
    parts.append(
        "<h2>Liquidations by hour</h2>"
        + ("".join(hours) or not_available("liquidations by hour", "none in the reports' windows"))
    )
    parts.append("<h2>Fragility (estimates)</h2>" + _fragility(dash))
    return page("Overview", "".join(parts), active="/", simulated=dash.simulated())


def _fragility(dash: Dashboard) -> str:
    ranking, why = _try(dash, "fragility")
    if ranking is None:
        return not_available("fragility", why or "")
    markets = ranking.to_dict()["markets"]
    keys = sorted({k for m in markets for k in m["components"]})
    rows = [
        [m["rank"], m["asset"], round(m["score"], 3)]
        + [
            ("n/a" if m["components"].get(k) is None else round(m["components"][k], 4))
            for k in keys
        ]
        + [", ".join(m["missing"]) or "-", "; ".join(m["notes"]) or "-"]
        for m in markets
    ]
    return table(("rank", "asset", "score", *keys, "missing", "notes"), rows, cls="fragility")


# -- asset ------------------------------------------------------------------------------------
@router.get("/asset")
def first_asset(dash: Dash) -> Response:
    """The first asset's page."""
    assets = dash.assets()
    if not assets:
        body = not_available("assets", "the store holds no prices: import something first")
        return HTMLResponse(page("Asset", body, active="/asset"))
    return RedirectResponse(f"/asset/{assets[0]}", status_code=303)


At = Annotated[str | None, Query()]


@router.get("/asset/{asset}", response_class=HTMLResponse)
def asset_page(
    asset: str, dash: Dash, at: At = None, shock: Annotated[str, Query()] = "-3%"
) -> HTMLResponse:
    """The report as of ``at`` (verdict, odds, checklist, risk box), charts, map, cascade."""
    name, when = asset.upper(), at or None
    key = repr(("page:/asset", name, when, shock))
    return HTMLResponse(dash.cache.get(key, lambda: _asset(dash, name, when, shock)))


def _asset(dash: Dashboard, name: str, at: str | None, shock: str) -> str:
    from flushwatch.web import asset_sections as s

    rep, why = _try(dash, "report", name, at=at)
    body = [f"<h1>{esc(name)}</h1>", s.picker(name, at, shock, rep)]
    if rep is None:
        body.append(not_available("report", why or ""))
    else:
        body += s.report_sections(rep)
    body.append("<h2>Liquidation map (estimates)</h2>")
    liq_map, why = _try(dash, "map", name, at=at, snapshots=True)
    body.append(s.map_section(liq_map) if liq_map is not None else not_available("map", why or ""))
    body.append(f"<h2>Cascade from a {esc(shock)} shock (estimates)</h2>")
    casc, why = _try(dash, "cascade", name, shock=shock, at=at)
    body.append(
        s.cascade_section(casc) if casc is not None else not_available("cascade", why or "")
    )
    title = f"{name} as of {rep.report.as_of}" if rep is not None else name
    return page(title, "".join(body), active="/asset", simulated=dash.simulated())
