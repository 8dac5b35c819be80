"""``flushwatch scorecard``: are the verdict's odds and the detector right on the store's data?

Parsing and printing only: the judging and scoring are :meth:`flushwatch.api.Workspace.scorecard`.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli.cluster_opts import DashboardOpt, SchedulerOpt, WorkersOpt, cluster_spec
from flushwatch.cli.options import AtOpt, JsonOpt, StoreOpt, workspace
from flushwatch.cli.options import run as run_cli

if TYPE_CHECKING:
    from flushwatch.api.results import Scorecard


def run(
    store: Path | None,
    assets: list[str],
    *,
    at: str | None,
    horizons: str | None,
    judge_after: str | None,
    step: str | None,
    config: Path | None,
    json_out: bool,
    html: Path | None,
    workers: int | None = None,
    scheduler: str | None = None,
    dashboard: bool = False,
) -> None:
    """Ask the API for the scorecard, print it, and write the page on request."""
    from flushwatch.cli import render

    hz = [h.strip() for h in horizons.split(",") if h.strip()] if horizons else None
    cluster = cluster_spec(workers, scheduler, dashboard)
    with render.steps("scoring ", quiet=json_out) as progress:
        card = workspace(store).scorecard(
            assets or None,
            at=at,
            horizons=hz,
            judge_after=judge_after,
            step=step,
            config=config,
            progress=progress,
            cluster=cluster,
        )
    if html is not None:
        from flushwatch.report.scorecard_html import write_html

        write_html(html, card.html())
    if json_out:
        render.print_json(card.to_dict())
        return
    _print(card)
    if html is not None:
        typer.echo(f"page written to {html}")


def _print(card: Scorecard) -> None:
    from flushwatch.cli.render import console, escape, new_table
    from flushwatch.report import scorecard_rows as rows

    console.print(
        f"[bold]Scorecard[/]: {card.events_scored} flushes on {len(card.per_asset)} assets, "
        f"each judged {card.judge_after_hours:g} h after it was confirmed ended"
        + (f", as of {card.to_dict()['as_of']}" if card.as_of_ts is not None else "")
        + ". Probabilities are walk-forward [italic]estimates[/]; intervals are 95% "
        "bootstrap over whole UTC days (flushes cluster)."
    )
    # Two tables, Brier scores then hit rates, so each fits 80 columns whole.
    head = rows.OUTCOME_HEADER
    narrow = {h: 8 if "CI" in h else 5 for h in head[3:8]}  # headers wrap over numbers
    title = "Outcomes, all assets pooled: Brier scores"
    brier = new_table(*head[:8], title=title, right=head[1:8], max_widths=narrow)
    hits = new_table(head[0], *head[8:], title="... and hit rates", right=head[8:])
    for oid, s in card.outcomes.items():
        cells = [escape(c) for c in rows.outcome_cells(oid, s)]
        for i, good in ((rows.BASE_CI, s.beats_base_rate), (rows.BAND_CI, s.beats_vol_band)):
            cells[i] = f"[green]{cells[i]}[/]" if good else cells[i]
        brier.add_row(*cells[:8])
        hits.add_row(cells[0], *cells[8:])
    console.print(brier)
    console.print(hits)
    _per_asset(console, card.per_asset)
    for line in card.summary:
        console.print(line, markup=False)
    for note in card.notes:
        console.print(f"[dim]{escape(note)}[/]")


def _per_asset(console: Any, per_asset: list[dict[str, Any]]) -> None:
    from flushwatch.cli.render import new_table
    from flushwatch.report import scorecard_rows as rows

    # The price and liquidation sources are sentences: printed under the table, not in it.
    head = rows.ASSET_HEADER
    t = new_table(head[0], *head[3:], title="Per asset: the detector", right=head[4:], tight=True)
    sources: list[str] = []
    for a in per_asset:
        cells = rows.asset_cells(a)
        t.add_row(cells[0], *cells[3:])
        sources += [f"{cells[0]} {head[1]}: {cells[1]}", f"{cells[0]} {head[2]}: {cells[2]}"]
    console.print(t)
    for line in sources:
        console.print(line, markup=False)


def register(app: typer.Typer) -> None:
    """Add ``scorecard`` to the flushwatch command."""

    @app.command("scorecard")
    def scorecard(
        assets: Annotated[
            list[str] | None,
            typer.Argument(help="Assets to score, e.g. BTC ETH (default: every priced asset)."),
        ] = None,
        store: StoreOpt = None,
        at: AtOpt = None,
        horizons: Annotated[
            str | None,
            typer.Option(help="Outcome horizons, comma-separated (default: 1d,3d,7d)."),
        ] = None,
        judge_after: Annotated[
            str | None,
            typer.Option(help="Judge each flush this long after it was confirmed ended (24h)."),
        ] = None,
        step: Annotated[
            str | None, typer.Option(help="Bar size the flushes are detected on.")
        ] = "1h",
        config: Annotated[
            Path | None, typer.Option(help="Report config TOML (its [outcomes] table).")
        ] = None,
        html: Annotated[
            Path | None,
            typer.Option(help="Also write a self-contained HTML page (reliability diagrams)."),
        ] = None,
        json_out: JsonOpt = False,
        workers: WorkersOpt = None,
        scheduler: SchedulerOpt = None,
        dashboard: DashboardOpt = False,
    ) -> None:
        """Score the verdict's odds and the flush detector on every flush in the store.

        Every flush is judged point in time (what `report --at` would have said then), and
        what followed is scored against simple baselines (base rate, volatility band,
        momentum, drift) with confidence intervals that respect clustering. If the estimates
        do not beat the baselines, the output says so. With --workers N or --scheduler URL
        the flushes are judged per asset on Dask workers and scored here: the same result.
        """
        run_cli(
            lambda: run(
                store,
                assets or [],
                at=at,
                horizons=horizons,
                judge_after=judge_after,
                step=step,
                config=config,
                json_out=json_out,
                html=html,
                workers=workers,
                scheduler=scheduler,
                dashboard=dashboard,
            )
        )
