"""``flushwatch backtest-map``: how well the estimated liquidation map predicted real liquidations.

Parsing and printing only: the scoring is :mod:`flushwatch.api.backtest`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from flushwatch.cli.options import run as run_cli
from flushwatch.cli.options import store_path

if TYPE_CHECKING:
    from flushwatch.analytics.backtest_map import BacktestResult


def run(
    store_root: Path,
    asset: str,
    *,
    exchange: str | None,
    step: str | None,
    warmup_hours: float,
    json_out: bool,
    html: Path | None,
) -> None:
    """Ask the API for the backtest, print it, and write the chart on request."""
    from flushwatch.api.workspace import open_workspace
    from flushwatch.cli import render

    result = open_workspace(store_root).backtest_map(
        asset, exchange=exchange, step=step, warmup_hours=warmup_hours
    )
    if html is not None:
        from flushwatch.report.backtest_html import write_html

        write_html(html, result.result, result.series)
    if json_out:
        render.print_json(result.to_dict())
        return
    _print_table(result.result)
    if html is not None:
        typer.echo(f"chart written to {html}")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if math.isfinite(x) else "n/a"


def _print_table(res: BacktestResult) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=max(Console().width, 150))
    console.print(
        f"[bold]{res.asset} liquidation-map backtest[/] ({res.step_s // 60} min bars, "
        f"{res.start} → {res.end}); the map is an [italic]estimate[/]"
    )
    rows = list(res.sides) + ([res.oi_drop_proxy] if res.oi_drop_proxy else [])
    t = Table("side", "n", "map top-25%", "baseline top-25%", "chance", "ρ map", "ρ base",
              "partial ρ (map | base)", "p")  # fmt: skip
    for s in rows:
        t.add_row(
            s.side,
            str(s.n),
            f"{_pct(s.map_capture.share)} [{_pct(s.map_capture.ci_low)}–"
            f"{_pct(s.map_capture.ci_high)}]",
            _pct(s.baseline_capture.share),
            _pct(s.chance),
            f"{s.map_spearman.r:.3f}",
            f"{s.baseline_spearman.r:.3f}",
            f"{s.partial.r:+.3f} [{s.partial.ci_low:+.3f}, {s.partial.ci_high:+.3f}]",
            f"{s.partial.p:.2g}",
        )
    console.print(t)
    if res.levels:
        lt = Table("side", "days", "map top-25% bins", "side-nearest bins", "chance", "bins/day")
        for lv in res.levels:
            lt.add_row(
                lv.side,
                str(lv.days),
                f"{_pct(lv.map_share)} [{_pct(lv.map_ci_low)}–{_pct(lv.map_ci_high)}]",
                _pct(lv.baseline_share),
                _pct(lv.chance),
                f"{lv.median_bins:.0f}",
            )
        console.print(lt)
    for n in res.notes:
        console.print(f"[dim]{n}[/]")


def register(app: typer.Typer) -> None:
    """Add ``backtest-map`` to the flushwatch command."""

    @app.command("backtest-map")
    def backtest_map(
        asset: Annotated[str, typer.Argument(help="Asset, e.g. BTC.")] = "BTC",
        store: Annotated[
            Path | None,
            typer.Option(help="Store folder (default: $FLUSHWATCH_STORE, else user data dir)."),
        ] = None,
        exchange: Annotated[
            str | None, typer.Option(help="Use this exchange's price series (default: fullest).")
        ] = None,
        step: Annotated[
            str | None, typer.Option(help="Bar size: 5m, 1h (default: the price series' own).")
        ] = None,
        warmup_hours: Annotated[
            float, typer.Option(help="Hours at the start left unscored (the map warms up).")
        ] = 72.0,
        html: Annotated[
            Path | None, typer.Option(help="Also write a self-contained HTML chart.")
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        """Backtest the estimated liquidation map on the store's realized liquidations.

        For every bar, the map built only from earlier bars predicts the long liquidation USD
        in the range traded below the open and the short USD above it. Printed beside the
        naive baseline (range × open interest) and chance: top-quarter capture, Spearman, the
        partial Spearman of the map beyond the baseline (with p-value), and the price-level
        capture at each day's 00:00 map.
        """
        run_cli(
            lambda: run(
                store_path(store), asset, exchange=exchange, step=step,
                warmup_hours=warmup_hours, json_out=json_out, html=html,
            )
        )  # fmt: skip
