"""The Live page and its server-sent events stream ``/api/live``.

Events: ``snapshot`` once on connect (recent prints, totals this hour, recent alerts), then
``update`` whenever something changed (only the new parts), and a comment every
:data:`KEEPALIVE_S` so proxies keep the stream open. Each event's data is one JSON object
(:mod:`flushwatch.web.live_feed`).
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Depends
from starlette.requests import Request
from starlette.responses import HTMLResponse, StreamingResponse

from flushwatch.web.context import Dashboard, dashboard
from flushwatch.web.layout import page
from flushwatch.web.live_feed import LiveFeed

router = APIRouter()
Dash = Annotated[Dashboard, Depends(dashboard)]
KEEPALIVE_S = 15.0


def sse(event: str, data: Any) -> str:
    """One server-sent event.

    Examples
    --------
    >>> sse("update", {"a": 1})
    'event: update\\ndata: {"a": 1}\\n\\n'
    """
    return f"event: {event}\ndata: {json.dumps(data)}\n\n"


@router.get(
    "/api/live",
    tags=["api"],
    summary="Server-sent events: new liquidations, totals this hour, alerts fired",
    response_class=StreamingResponse,
)
async def live_events(request: Request, dash: Dash) -> StreamingResponse:
    """``snapshot`` on connect, then ``update`` events as the store and alerts file grow."""
    feed = LiveFeed(dash.ws)

    async def stream() -> AsyncIterator[str]:
        yield sse("snapshot", await anyio.to_thread.run_sync(feed.first))
        quiet = 0.0
        while not await request.is_disconnected():
            await anyio.sleep(dash.live_poll_s)
            update = await anyio.to_thread.run_sync(feed.poll)
            if update is not None:
                quiet = 0.0
                yield sse("update", update)
                continue
            quiet += dash.live_poll_s
            if quiet >= KEEPALIVE_S:
                quiet = 0.0
                yield ": keepalive\n\n"

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


_BODY = """<h1>Live</h1>
<p>Updates as <code>flushwatch record</code> or <code>watch --store</code> write to this store
(no reload). <span id="status" class="note">connecting…</span></p>
<h2>Totals this hour <span id="hour" class="note"></span></h2>
<div class="cards">
<div class="card">longs liquidated<br><b id="total-long">–</b></div>
<div class="card">shorts liquidated<br><b id="total-short">–</b></div>
<div class="card">prints<br><b id="total-count">–</b></div>
</div>
<p id="lower-bound" class="note" hidden>A throttled feed contributes: totals are lower bounds.</p>
<h2>Alerts fired</h2>
<table id="alerts"><thead><tr><th>time (UTC)</th><th>alert</th><th>text</th></tr></thead>
<tbody></tbody></table>
<h2>New liquidations</h2>
<table id="liquidations"><thead><tr><th>time (UTC)</th><th>venue</th><th>symbol</th>
<th>side</th><th>price</th><th>USD</th><th>coverage</th></tr></thead><tbody></tbody></table>
<script src="/static/live.js"></script>
"""


@router.get("/live", response_class=HTMLResponse, include_in_schema=False)
def live_page(dash: Dash) -> HTMLResponse:
    """The page; ``static/live.js`` fills it from ``/api/live``."""
    return HTMLResponse(page("Live", _BODY, active="/live", simulated=dash.simulated()))
