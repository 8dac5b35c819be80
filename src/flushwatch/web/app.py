"""The dashboard application: FastAPI routes over one read-only store.

``create_app(store)`` is what ``flushwatch serve`` runs under uvicorn and what the tests
start in a thread. OpenAPI: ``/openapi.json`` (the schema) and ``/docs`` (a page of our own
that lists it: FastAPI's Swagger page loads its scripts from a CDN, and the dashboard loads
nothing from the network).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from urllib.parse import urlencode

from fastapi import FastAPI
from starlette.middleware.gzip import GZipMiddleware
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from flushwatch.errors import FlushwatchError
from flushwatch.web import security
from flushwatch.web.context import Dashboard

STATIC = Path(__file__).parent / "static"


def plotly_js() -> Path:
    """plotly.min.js as the installed plotly package ships it (served, never fetched)."""
    import plotly

    return Path(plotly.__file__).parent / "package_data" / "plotly.min.js"


def create_app(store: Path | str, *, token: str | None = None, live_poll_s: float = 1.0) -> FastAPI:
    """The app serving the store at ``store`` (``token``: see :mod:`flushwatch.web.security`)."""
    from flushwatch.api import open as open_workspace
    from flushwatch.web import api_routes, live, pages, pages_more

    dash = Dashboard(ws=open_workspace(store), token=token, live_poll_s=live_poll_s)
    app = FastAPI(
        title="flushwatch",
        summary="Leverage flushes in crypto perpetual futures: the flushwatch API over HTTP.",
        description="Each route answers exactly what the matching command prints with --json.",
        docs_url=None,
        redoc_url=None,
        openapi_url="/openapi.json",
    )
    app.state.dashboard = dash
    app.include_router(api_routes.router)
    app.include_router(live.router)
    app.include_router(pages.router)
    app.include_router(pages_more.router)
    app.add_middleware(GZipMiddleware, minimum_size=2048)  # pages carry figure JSON
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/vendor/plotly.min.js", include_in_schema=False)
    def plotly_file() -> Response:
        from starlette.responses import FileResponse

        return FileResponse(
            plotly_js(),
            media_type="text/javascript",
            headers={"Cache-Control": "max-age=86400"},
        )

    @app.exception_handler(FlushwatchError)
    async def api_error(request: Request, exc: Exception) -> Response:
        from flushwatch.redact import redact_text

        body = {"error": redact_text(str(exc)), "kind": type(exc).__name__}
        return JSONResponse(body, status_code=400)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        refusal = _refuse(request, dash.token)
        if refusal is not None:
            return refusal
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        return response

    return app


def _refuse(request: Request, token: str | None) -> Response | None:
    """The answer to a request that may not pass (see :mod:`flushwatch.web.security`)."""
    if token is None:
        host = security.host_of(request.headers.get("host") or "")
        if not security.is_loopback(host):
            return _denied(request, 400, "this dashboard answers only to a loopback Host")
        return None
    offered = request.query_params.get("token")
    if offered is not None:
        if not security.token_ok(offered, token):
            return _denied(request, 401, "wrong token")
        rest = [(k, v) for k, v in request.query_params.multi_items() if k != "token"]
        target = request.url.path + (f"?{urlencode(rest)}" if rest else "")
        redirect = RedirectResponse(target, status_code=303)
        redirect.set_cookie(security.COOKIE, offered, httponly=True, samesite="strict", path="/")
        return redirect
    given = security.bearer(request.headers.get("authorization"))
    if given is None:
        given = request.cookies.get(security.COOKIE)
    if not security.token_ok(given, token):
        return _denied(
            request,
            401,
            "a token is required: Authorization: Bearer <token>, or open ?token=<token> once",
        )
    return None


def _denied(request: Request, status: int, why: str) -> Response:
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else None
    if request.url.path.startswith("/api") or request.url.path == "/openapi.json":
        return JSONResponse(
            {"error": why, "kind": "Unauthorized" if status == 401 else "BadHost"},
            status_code=status,
            headers=headers,
        )
    return HTMLResponse(
        f"<!doctype html><title>flushwatch</title><p>{why}</p>", status_code=status, headers=headers
    )
