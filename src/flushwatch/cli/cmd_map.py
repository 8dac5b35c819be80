"""``flushwatch map``: parse, ask :meth:`flushwatch.api.Workspace.map`, print or write.

The JSON shape is documented in :mod:`flushwatch.api.liqmap`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flushwatch.cli.options import AtOpt, run, store_path


def run_map(
    store_root: Path,
    asset: str,
    *,
    exchange: str | None,
    at: str | None,
    start: str | None,
    end: str | None,
    bins: int,
    json_out: bool,
    html: Path | None,
) -> None:
    """Ask the API for the map; print / write JSON / write HTML."""
    from flushwatch.api.workspace import open_workspace
    from flushwatch.cli import render as base_render
    from flushwatch.cli import render_map

    with base_render.working(f"{asset} liquidation map", quiet=json_out) as progress:
        progress("replaying open interest into positions")
        result = open_workspace(store_root).map(
            asset, at=at, start=start, end=end, exchange=exchange, bins=bins,
            snapshots=html is not None,
        )  # fmt: skip
        if html is not None:
            from flushwatch.report.map_html import write_map_html

            progress(f"writing {html}")
            write_map_html(html, result.market, result.state, result.clusters)
    if json_out:
        base_render.print_json(result.to_dict())
        return
    render_map.render(result.to_dict())
    if html is not None:
        typer.echo(f"HTML map written to {html}")


_Asset = Annotated[str, typer.Argument(help="Asset, e.g. BTC, ETH, XRP (all its markets).")]
_Store = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store folder (default: $FLUSHWATCH_STORE, else your user data directory).",
        show_default=False,
    ),
]
_Exchange = Annotated[
    str | None, typer.Option(help="Use this exchange's price series (default: the fullest one).")
]
_Start = Annotated[str | None, typer.Option(help="Window start, ISO date/time UTC.")]
_End = Annotated[str | None, typer.Option(help="Window end (exclusive), ISO date/time UTC.")]
_Bins = Annotated[int, typer.Option(min=10, max=100_000, help="Price bins of the map.")]
_Json = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
_Html = Annotated[
    Path | None,
    typer.Option(help="Also write a self-contained HTML page: heatmap, bars, curves."),
]


def register(app: typer.Typer) -> None:
    """Add ``flushwatch map`` to the application."""

    @app.command("map")
    def map_(
        asset: _Asset,
        store: _Store = None,
        exchange: _Exchange = None,
        at: AtOpt = None,
        start: _Start = None,
        end: _End = None,
        bins: _Bins = 2000,
        json_out: _Json = False,
        html: _Html = None,
    ) -> None:
        """Estimated liquidation map: where leveraged longs and shorts would be liquidated.

        New positions come from rises in open interest at each bar's price, spread over a
        documented leverage prior capped by Binance's tiers, placed at the exact isolated
        liquidation price, and removed when price trades through them or OI falls. Needs open
        interest in the store. Stop clusters at key levels are a separate heuristic.
        """
        run(
            lambda: run_map(
                store_path(store),
                asset,
                exchange=exchange,
                at=at,
                start=start,
                end=end,
                bins=bins,
                json_out=json_out,
                html=html,
            )
        )
