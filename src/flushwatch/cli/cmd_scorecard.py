"""``flushwatch scorecard``: are the verdict's odds and the detector right on the store's data?

Parsing and printing only: the judging and scoring are :meth:`flushwatch.api.Workspace.scorecard`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli.cluster_opts import DashboardOpt, SchedulerOpt, WorkersOpt, cluster_spec
from flushwatch.cli.options import AtOpt, JsonOpt, StoreOpt, workspace
from flushwatch.cli.options import run as run_cli

if TYPE_CHECKING:
    from flushwatch.api.results import Scorecard


@contextlib.contextmanager
def _progress(quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A per-asset progress bar on stderr (hidden for --json and off a terminal)."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from flushwatch.cli.render import err_console

    if quiet or not err_console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn("[bold]scoring {task.fields[asset]}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task("scorecard", total=None, asset="")

        def advance(asset: str, index: int, total: int) -> None:
            prog.update(task, total=total, completed=index, asset=asset)

        yield advance


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
    with _progress(json_out) as progress:
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
    from rich.console import Console
    from rich.table import Table

    from flushwatch.report import scorecard_rows as rows

    console = Console(width=max(Console().width, 200))
    console.print(
        f"[bold]Scorecard[/]: {card.events_scored} flushes on {len(card.per_asset)} assets, "
        f"each judged {card.judge_after_hours:g} h after it was confirmed ended"
        + (f", as of {card.to_dict()['as_of']}" if card.as_of_ts is not None else "")
        + ". Probabilities are walk-forward [italic]estimates[/]; intervals are 95% "
        "bootstrap over whole UTC days (flushes cluster)."
    )
    t = Table(title="Outcomes, all assets pooled", title_justify="left")
    for col in rows.OUTCOME_HEADER:
        t.add_column(col, no_wrap=True)
    for oid, s in card.outcomes.items():
        cells = rows.outcome_cells(oid, s)
        for i, good in ((rows.BASE_CI, s.beats_base_rate), (rows.BAND_CI, s.beats_vol_band)):
            cells[i] = f"[green]{cells[i]}[/]" if good else cells[i]
        t.add_row(*cells)
    console.print(t)
    _per_asset(console, card.per_asset)
    for line in card.summary:
        console.print(line)
    for note in card.notes:
        console.print(f"[dim]{note}[/]")


def _per_asset(console: Any, per_asset: list[dict[str, Any]]) -> None:
    from rich.table import Table

    from flushwatch.report import scorecard_rows as rows

    t = Table(title="Per asset: the detector and the data it used", title_justify="left")
    for col in rows.ASSET_HEADER:
        t.add_column(col)
    for a in per_asset:
        t.add_row(*rows.asset_cells(a))
    console.print(t)


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
