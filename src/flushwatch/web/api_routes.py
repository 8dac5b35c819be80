"""The JSON API: one GET route per workspace question, each answering its ``to_dict()``.

The documents are exactly the matching command's ``--json`` (``/api/report/BTC?at=...`` is
``flushwatch report BTC --at ... --json``). Errors of the API's own tree become a 400 with
``{"error": message, "kind": class name}`` (see :func:`flushwatch.web.app.create_app`).
"""

from __future__ import annotations

from typing import Annotated, Any

import msgspec
from fastapi import APIRouter, Depends, Query
from starlette.responses import Response

from flushwatch.web.context import Dashboard, dashboard

router = APIRouter(prefix="/api", tags=["api"])
Dash = Annotated[Dashboard, Depends(dashboard)]
At = Annotated[
    str | None,
    Query(description="As of this time (ISO 8601, UTC): only what was knowable then is used."),
]


class JsonDoc(Response):
    """A JSON document encoded by msgspec (the results are plain JSON types already)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        """Encode ``content``."""
        return msgspec.json.encode(content)


@router.get("/report/{asset}", summary="The flush report as of `at` (report --json)")
def report(asset: str, dash: Dash, at: At = None) -> JsonDoc:
    """Verdict, checklist, risk box, key levels and flushes found, as of ``at``."""
    return JsonDoc(dash.ask("report", asset, at=at).to_dict())


@router.get("/events/{asset}", summary="Every flush detected in a window (events --json)")
def events(
    asset: str,
    dash: Dash,
    at: At = None,
    start: Annotated[str | None, Query(description="Window start (ISO, UTC).")] = None,
    end: Annotated[str | None, Query(description="Window end, exclusive (ISO, UTC).")] = None,
) -> JsonDoc:
    """Start, end, kind, liquidations, OI drop and move of each flush known by ``end``."""
    return JsonDoc(dash.ask("events", asset, at=at, start=start, end=end).to_dict())


@router.get("/map/{asset}", summary="The estimated liquidation map (map --json)")
def liq_map(
    asset: str,
    dash: Dash,
    at: At = None,
    bins: Annotated[int, Query(ge=10, le=100_000, description="Price bins.")] = 2000,
) -> JsonDoc:
    """Bands near price, "liquidations if price reaches X", stop clusters: estimates."""
    return JsonDoc(dash.ask("map", asset, at=at, bins=bins).to_dict())


@router.get("/cascade/{asset}", summary="A simulated cascade from a shock (cascade --json)")
def cascade(
    asset: str,
    dash: Dash,
    shock: Annotated[
        str, Query(description="The shock: -3%, +2% or -5e6usd (sell/buy USD).")
    ] = "-3%",
    at: At = None,
    runs: Annotated[int, Query(ge=0, le=2000, description="Monte Carlo runs (0: none).")] = 0,
) -> JsonDoc:
    """The forced-order path, amplification, trigger levels, gain bands and shock curve."""
    return JsonDoc(dash.ask("cascade", asset, shock=shock, at=at, runs=runs).to_dict())


@router.get("/fragility", summary="Markets ranked by fragility (fragility --json)")
def fragility(
    dash: Dash,
    at: At = None,
    assets: Annotated[
        list[str] | None, Query(description="Assets to rank (default: every priced asset).")
    ] = None,
) -> JsonDoc:
    """Forced flow and OI against depth, funding z-score, cascade gain; gaps named."""
    names = [a.upper() for a in assets] if assets else None
    return JsonDoc(dash.ask("fragility", names, at=at).to_dict())


@router.get("/scorecard", summary="Verdicts and detector scored on the store (scorecard --json)")
def scorecard(dash: Dash, at: At = None) -> JsonDoc:
    """Every flush judged point in time and scored against simple baselines."""
    return JsonDoc(dash.ask("scorecard", at=at).to_dict())


@router.get("/info", summary="What the store holds (info --json)")
def info(dash: Dash) -> JsonDoc:
    """Every stored series with its row count and time range, and the instruments."""
    return JsonDoc(dash.ask("info").to_dict())
