"""``flushwatch serve``: the dashboard (pages and JSON API) over one store, run by uvicorn.

Parsing and starting only: the app is :func:`flushwatch.web.create_app`, its rules on who may
connect :mod:`flushwatch.web.security`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from flushwatch.cli.options import StoreOpt, store_path
from flushwatch.cli.options import run as run_cli


def serve(store: StoreOpt, host: str, port: int) -> None:
    """Check the bind, open the store read-only, and serve until interrupted."""
    import uvicorn

    from flushwatch.web import create_app
    from flushwatch.web.security import check_bind, token_from_env

    token = token_from_env()
    check_bind(host, token)
    if not 0 < port < 65536:
        from flushwatch.errors import ConfigError

        raise ConfigError(f"--port {port}: use 1 to 65535 (default 8765)")
    app = create_app(store_path(store), token=token)
    shown = f"[{host}]" if ":" in host else host
    hint = " (token required: open ?token=... once, or send Authorization: Bearer)" if token else ""
    typer.echo(f"flushwatch dashboard on http://{shown}:{port}/{hint} — Ctrl-C stops it", err=True)
    uvicorn.run(app, host=host, port=port, log_level="warning", access_log=False)


def register(app: typer.Typer) -> None:
    """Add ``serve`` to the flushwatch command."""

    @app.command("serve")
    def serve_cmd(
        store: StoreOpt = None,
        host: Annotated[
            str,
            typer.Option(
                help="Address to bind. Anything but loopback needs a token in "
                "$FLUSHWATCH_TOKEN (never on the command line)."
            ),
        ] = "127.0.0.1",
        port: Annotated[int, typer.Option(help="TCP port.")] = 8765,
    ) -> None:
        """Serve the dashboard: overview, asset report as of any time, scorecards, live.

        Pages and a JSON API (/api/report/BTC?at=..., /docs) over the store, read-only and
        offline (Plotly is served from the installed package). Binds 127.0.0.1; to bind
        another address set a token first, e.g. `export FLUSHWATCH_TOKEN=$(openssl rand -hex
        16)`, then open http://HOST:PORT/?token=... once (a cookie keeps it) or send
        `Authorization: Bearer <token>`. When the token is set it is checked on loopback too.
        """
        run_cli(lambda: serve(store, host, port))
