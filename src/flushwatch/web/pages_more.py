"""The Scorecards page (verdicts, detector and map backtests with their baselines) and the
API page (the OpenAPI schema listed, offline)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query
from starlette.requests import Request
from starlette.responses import HTMLResponse

from flushwatch.web.context import Dashboard, dashboard
from flushwatch.web.layout import chart, esc, not_available, page, table
from flushwatch.web.pages import _try

router = APIRouter(include_in_schema=False)
Dash = Annotated[Dashboard, Depends(dashboard)]


def _scorecard(dash: Dashboard) -> str:
    from flushwatch.report import scorecard_rows as rows
    from flushwatch.report.scorecard_html import figure

    card, why = _try(dash, "scorecard")
    if card is None:
        return not_available("scorecard", why or "")
    said = "".join(f"<li>{esc(x)}</li>" for x in card.summary)
    notes = "".join(f"<li>{esc(x)}</li>" for x in card.notes)
    return (
        f"<p id='scored'>{card.events_scored} flushes on {len(card.per_asset)} assets, each "
        f"judged {card.judge_after_hours:g} h after it was confirmed ended. Probabilities are "
        "walk-forward <b>estimates</b>; intervals are 95% bootstrap over whole UTC days.</p>"
        f"<h3>Does it beat the baselines?</h3><ul>{said}</ul>"
        + chart(figure(card.outcomes), "scorecard-chart")
        + "<h3>Outcomes, all assets pooled</h3>"
        + table(
            rows.OUTCOME_HEADER,
            [rows.outcome_cells(k, s) for k, s in card.outcomes.items()],
            cls="outcomes",
        )
        + "<h3>Per asset: the detector and the data it used</h3>"
        + table(rows.ASSET_HEADER, [rows.asset_cells(a) for a in card.per_asset], cls="per-asset")
        + (f"<ul class='note'>{notes}</ul>" if notes else "")
    )


def _forecast(dash: Dashboard, asset: str) -> str:
    from flushwatch.report.forecast_html import figure, side_rows

    fc, why = _try(dash, "forecast_map", asset)
    if fc is None:
        return not_available("map forecast", why or "")
    doc = fc.to_dict()["forecast"]
    parts = [f"<p><b>{esc(doc['statement'])}</b></p>",
             f"<p class='note'>Out-of-sample days {esc(doc['start'])} → {esc(doc['end'])}; "
             f"realized USD: {esc(doc['realized_source'])}.</p>"]  # fmt: skip
    for side in ("long", "short"):
        s = doc[side]
        parts.append(f"<h4>{side} ({s['days']} days, walk-forward)</h4>")
        parts.append(
            table(("predictor", "top-quarter share"), side_rows(s), cls=f"forecast-{side}")
        )
    parts.append(chart(figure(doc, fc.series), "forecast-chart"))
    return "".join(parts)


def _nowcast(dash: Dashboard, asset: str) -> str:
    from flushwatch.report.backtest_html import LEVELS_HEAD, NOWCAST_HEAD, nowcast_rows
    from flushwatch.web.charts import backtest_figure

    bt, why = _try(dash, "backtest_map", asset)
    if bt is None:
        return not_available("map nowcast", why or "")
    res = bt.result
    notes = "".join(f"<li>{esc(n)}</li>" for n in res.notes)
    if not res.sides:
        return f"<p>No realized liquidations in this market: nothing to score.</p><ul>{notes}</ul>"
    rows, levels = nowcast_rows(res)
    fig, left_off = backtest_figure(res, bt.series)
    foot = "".join(f"<li>{esc(n)}</li>" for n in left_off)
    return (
        f"<p class='note'>{esc(res.start)} → {esc(res.end)}, {res.step_s // 60} min bars. "
        "Nowcast: each bar is scored with the same bar's range (labelled as such; the "
        f"forecast above is the honest test).</p><ul class='note'>{notes}</ul>"
        + table(NOWCAST_HEAD, rows, cls="nowcast")
        + (table(LEVELS_HEAD, levels, cls="nowcast-levels") if levels else "")
        + chart(fig, "nowcast-chart")
        + (
            f"<p class='note'>Left off the log axes:</p><ul class='note'>{foot}</ul>"
            if foot
            else ""
        )
    )


@router.get("/scorecards", response_class=HTMLResponse)
def scorecards(dash: Dash, asset: Annotated[str | None, Query()] = None) -> HTMLResponse:
    """The scorecard and the map's backtests for one asset (default: the first)."""
    key = repr(("page:/scorecards", asset and asset.upper()))
    return HTMLResponse(dash.cache.get(key, lambda: _scorecards(dash, asset)))


def _scorecards(dash: Dashboard, asset: str | None) -> str:
    assets = dash.assets()
    name = (asset or (assets[0] if assets else "BTC")).upper()
    pick = " · ".join(
        f"<a href='/scorecards?asset={esc(a)}'>{esc(a)}</a>" if a != name else f"<b>{esc(a)}</b>"
        for a in assets
    )
    body = (
        "<h1>Scorecards</h1><h2>Verdicts and detector, every flush judged point in time</h2>"
        + _scorecard(dash)
        + f"<h2>Liquidation map as a next-day forecast: {esc(name)}</h2><p>{pick}</p>"
        + _forecast(dash, name)
        + f"<h2>Liquidation map, hourly nowcast: {esc(name)}</h2>"
        + _nowcast(dash, name)
    )
    return page("Scorecards", body, active="/scorecards", simulated=dash.simulated())


@router.get("/docs", response_class=HTMLResponse)
def docs(request: Request) -> HTMLResponse:
    """Every JSON route with its parameters, from the app's own OpenAPI schema."""
    schema = request.app.openapi()
    rows = []
    for path, ops in schema["paths"].items():
        for method, op in ops.items():
            params = ", ".join(
                f"{p['name']} ({p['in']})" + ("" if p.get("required") else "?")
                for p in op.get("parameters", [])
            )
            rows.append((method.upper(), path, op.get("summary", ""), params or "-"))
    body = (
        "<h1>JSON API</h1><p>Each route answers exactly what the matching command prints with "
        '<code>--json</code>. Errors: HTTP 400 with <code>{"error": message, "kind": class}'
        "</code>. The machine-readable schema is <a href='/openapi.json'>/openapi.json</a> "
        "(OpenAPI 3). Live updates: <code>GET /api/live</code> (server-sent events).</p>"
        + table(("method", "path", "what", "parameters"), rows, cls="routes")
    )
    return HTMLResponse(page("API", body, active="/docs"))
