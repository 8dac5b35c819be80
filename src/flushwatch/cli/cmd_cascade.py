"""``flushwatch cascade`` and ``flushwatch fragility``: parse, ask the API, render.

The composition is :mod:`flushwatch.api.cascade` and :mod:`flushwatch.api.fragility`; all outputs
are estimates.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flushwatch.cli.options import AtOpt, JsonOpt, StoreOpt, run, workspace

if TYPE_CHECKING:
    from flushwatch.api import Cascade, FragilityRanking


def run_cascade(
    store: Path | None,
    asset: str,
    shock: str,
    *,
    exchange: str | None,
    at: str | None,
    runs: int,
    json_out: bool,
    html: Path | None,
) -> Cascade:
    """Ask the API for one cascade; print it and write the page on request."""
    from flushwatch.cli import render_cascade
    from flushwatch.cli.render import working

    with working(f"{asset} cascade from {shock}", quiet=json_out) as progress:
        progress("walking the forced orders through the book")
        result = workspace(store).cascade(asset, shock=shock, at=at, exchange=exchange, runs=runs)
        if html is not None:
            from flushwatch.report.cascade_html import write_cascade_html

            progress(f"writing {html}")
            write_cascade_html(html, result.raw())
    render_cascade.show_cascade(result.raw(), result.to_dict(), json_out=json_out, html=html)
    return result


def run_fragility(
    store: Path | None,
    assets: list[str],
    *,
    at: str | None,
    json_out: bool,
    html_path: Path | None = None,
    wide: bool = False,
) -> FragilityRanking:
    """Ask the API for the ranking (progress on stderr); print it, write the page on request."""
    from flushwatch.cli import render, render_cascade

    with render.steps("fragility: ", quiet=json_out) as progress:
        result = workspace(store).fragility(assets or None, at=at, progress=progress)
    render_cascade.show_fragility(result, json_out=json_out, wide=wide)
    if html_path is not None:
        from flushwatch.report.cascade_html import render_fragility_html

        html_path.parent.mkdir(parents=True, exist_ok=True)
        html_path.write_text(render_fragility_html(result), encoding="utf-8")
    return result


def register(app: typer.Typer) -> None:
    """Add ``cascade`` and ``fragility`` to the flushwatch app."""

    @app.command("cascade")
    def cascade(
        asset: Annotated[str, typer.Argument(help="Asset, e.g. BTC.")],
        shock: Annotated[
            str,
            typer.Option(
                help="Initial shock: a signed move (-3% = down, +2% = up) or signed USD of "
                "market orders (-5e6usd). Write --shock=-3% if your shell objects."
            ),
        ],
        store: StoreOpt = None,
        exchange: Annotated[
            str | None, typer.Option(help="Use this exchange's price series.")
        ] = None,
        at: AtOpt = None,
        runs: Annotated[
            int, typer.Option(min=0, help="Monte Carlo runs over shock size and depth (0 = off).")
        ] = 0,
        html: Annotated[
            Path | None, typer.Option(help="Also write a self-contained HTML page (Plotly).")
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Simulate a liquidation cascade: forced orders walk the book until absorbed.

        From the shock, estimated liquidations (the liquidation map) are triggered as price
        crosses them and walk the order book (rebuilt from the store, else depth bands, else a
        square-root-law model, labelled). Prints the final move, amplification, liquidated
        notional, trigger levels, the local cascade gain G (bands with G ≥ 1 self-propagate)
        and the shock → move curve. All numbers are estimates.
        """
        run(
            lambda: run_cascade(
                store, asset.upper(), shock, exchange=exchange, at=at,
                runs=runs, json_out=json_out, html=html,
            )
        )  # fmt: skip

    @app.command("fragility")
    def fragility(
        assets: Annotated[
            list[str] | None, typer.Argument(help="Assets to compare (default: all in store).")
        ] = None,
        store: StoreOpt = None,
        at: AtOpt = None,
        json_out: JsonOpt = False,
        html: Annotated[
            Path | None, typer.Option(help="Also write the ranking as a self-contained page.")
        ] = None,
        wide: Annotated[
            bool, typer.Option("--wide", help="Full input names, every input, all notes.")
        ] = False,
    ) -> None:
        """Rank markets by fragility, like with like: only on inputs they all have.

        At the as-of time each asset's named inputs are gathered (wick depth, 24 h
        drawdown, realised volatility, beta to BTC, funding z-score, perp/spot volume; OI
        against volume and depth and liquidations against volume where the store has them).
        Assets are ranked on the inputs every ranked asset has, by the mean of per-input
        percentile ranks; assets lacking one are listed apart with what they lack. Majors
        (the most liquid) and alts are summarised side by side. Heuristic estimates.
        """
        run(
            lambda: run_fragility(
                store,
                [a.upper() for a in assets or []],
                at=at,
                json_out=json_out,
                html_path=html,
                wide=wide,
            )
        )
