"""``flushwatch backtest-map``: how well the estimated liquidation map predicted real liquidations.

Parsing and printing only: the scoring is :mod:`flushwatch.api.backtest`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from flushwatch.cli.cluster_opts import DashboardOpt, SchedulerOpt, WorkersOpt, cluster_spec
from flushwatch.cli.options import run as run_cli
from flushwatch.cli.options import store_path

if TYPE_CHECKING:
    from flushwatch.analytics.backtest_map import BacktestResult
    from flushwatch.api.results import MapBacktest


def run(
    store_root: Path,
    assets: list[str],
    *,
    exchange: str | None,
    step: str | None,
    warmup_hours: float,
    json_out: bool,
    html: Path | None,
    protocol: str = "both",
    k_sigma: float = 2.0,
    cadence_hours: float = 24.0,
    workers: int | None = None,
    scheduler: str | None = None,
    dashboard: bool = False,
) -> None:
    """Ask the API for each asset's backtest, print them, and write the chart on request."""
    from flushwatch.api.map_backtests import MapSettings, score_maps
    from flushwatch.cli import render
    from flushwatch.errors import ConfigError

    if html is not None and len(assets) > 1:
        raise ConfigError("--html writes one asset's chart: give one asset")
    settings = MapSettings(
        exchange=exchange, step=step, warmup_hours=warmup_hours, k_sigma=k_sigma,
        cadence_hours=cadence_hours,
    )  # fmt: skip
    names = ", ".join(assets or ["BTC"])
    with render.working(f"{names} map backtest", quiet=json_out) as progress:
        progress("replaying the map hour by hour and scoring it")
        scores = score_maps(
            str(store_root), assets or ["BTC"], protocol=protocol, settings=settings,
            cluster=cluster_spec(workers, scheduler, dashboard),
        )  # fmt: skip
        if html is not None:
            progress(f"writing {html}")
            for sc in scores:
                fc = sc.forecast.to_dict()["forecast"] if sc.forecast is not None else None
                _write_html(html, sc.nowcast, fc, sc.forecast.series if sc.forecast else {})
    docs = []
    for sc in scores:
        fc = sc.forecast.to_dict()["forecast"] if sc.forecast is not None else None
        if json_out:
            docs.append(_json_doc(sc.nowcast, fc, sc.skipped, protocol))
            continue
        if sc.nowcast is not None:
            _print_table(sc.nowcast.result)
        if fc is not None:
            _print_forecast(fc)
        elif sc.skipped:
            typer.echo(sc.skipped)
    if json_out:
        render.print_json(docs[0] if len(docs) == 1 else docs)
    elif html is not None:
        typer.echo(f"chart written to {html}")


def _json_doc(
    result: MapBacktest | None, fc: dict[str, Any] | None, skipped: str, protocol: str
) -> dict[str, Any]:
    doc: dict[str, Any] = {}
    if result is not None:
        doc = result.to_dict() | {
            "nowcast": "hourly scores use the same hour's traded range: a nowcast, not a forecast"
        }
    if protocol != "nowcast":
        doc["forecast"] = fc
        if skipped:
            doc["forecast_skipped"] = skipped
    return doc


def _write_html(
    path: Path, result: MapBacktest | None, fc: dict[str, Any] | None, series: dict[str, Any]
) -> None:
    if fc is not None:
        from flushwatch.report.forecast_html import write_html as write_forecast

        nowcast = (result.result, result.series) if result is not None else None
        write_forecast(path, fc, series, nowcast)
    elif result is not None:
        from flushwatch.report.backtest_html import write_html

        write_html(path, result.result, result.series)


def _print_forecast(fc: dict[str, Any]) -> None:
    from flushwatch.cli.render import console, escape, new_table
    from flushwatch.report.forecast_html import side_rows

    p = fc["protocol"]
    console.print(
        f"[bold]{escape(fc['asset'])} map as a next-day forecast[/] (issued every "
        f"{p['cadence_hours']:g} h from 00:00 UTC; bin set ±{p['k_sigma']:g}σ, "
        f"{p['bins_per_side']} bins per side; out of sample {fc['start']} → {fc['end']})"
    )
    for side in ("long", "short"):
        s = fc[side]
        t = new_table(f"{side} ({s['days']} days)", "top-quarter share")
        for name, value in side_rows(s):
            t.add_row(escape(name), escape(value))
        console.print(t)
    console.print(f"[bold]{escape(fc['statement'])}[/]")
    for n in fc["notes"]:
        console.print(f"[dim]{escape(n)}[/]")


def _pct(x: float) -> str:
    return f"{100 * x:.1f}%" if math.isfinite(x) else "n/a"


def _print_table(res: BacktestResult) -> None:
    from flushwatch.cli.render import console, escape, new_table

    console.print(
        f"[bold]{res.asset} liquidation-map backtest[/] ({res.step_s // 60} min bars, "
        f"{res.start} → {res.end}); the map is an [italic]estimate[/]"
    )
    rows = list(res.sides) + ([res.oi_drop_proxy] if res.oi_drop_proxy else [])
    cols = ("n", "map top-25%", "baseline top-25%", "chance", "ρ map", "ρ base",
            "partial ρ (map | base)", "p")  # fmt: skip
    wide = {  # "[80.8%–89.7%]" and "oi_drop_proxy" in one piece
        "side": max(len(s.side) for s in rows),
        "map top-25%": 13,
        "partial ρ (map | base)": 8,
    }
    t = new_table("side", *cols, right=cols, tight=True, min_widths=wide)
    for s in rows:
        t.add_row(
            s.side,
            str(s.n),
            escape(
                f"{_pct(s.map_capture.share)} [{_pct(s.map_capture.ci_low)}–"
                f"{_pct(s.map_capture.ci_high)}]"
            ),
            _pct(s.baseline_capture.share),
            _pct(s.chance),
            f"{s.map_spearman.r:.3f}",
            f"{s.baseline_spearman.r:.3f}",
            escape(f"{s.partial.r:+.3f} [{s.partial.ci_low:+.3f}, {s.partial.ci_high:+.3f}]"),
            f"{s.partial.p:.2g}",
        )
    console.print(t)
    if res.levels:
        lcols = ("days", "map top-25% bins", "side-nearest bins", "chance", "bins/day")
        lt = new_table("side", *lcols, right=lcols)
        for lv in res.levels:
            lt.add_row(
                lv.side,
                str(lv.days),
                escape(f"{_pct(lv.map_share)} [{_pct(lv.map_ci_low)}–{_pct(lv.map_ci_high)}]"),
                _pct(lv.baseline_share),
                _pct(lv.chance),
                f"{lv.median_bins:.0f}",
            )
        console.print(lt)
    for n in res.notes:
        console.print(f"[dim]{escape(n)}[/]")


def register(app: typer.Typer) -> None:
    """Add ``backtest-map`` to the flushwatch command."""

    @app.command("backtest-map")
    def backtest_map(
        assets: Annotated[
            list[str] | None,
            typer.Argument(help="Assets, e.g. BTC ETH (default: BTC); JSON is a list for several."),
        ] = None,
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
        protocol: Annotated[
            str,
            typer.Option(
                help="forecast (next-day, bin set fixed before the day, vs baselines), "
                "nowcast (hourly, same-hour range) or both."
            ),
        ] = "both",
        k_sigma: Annotated[
            float, typer.Option(help="Forecast bin set: ± this many σ of trailing volatility.")
        ] = 2.0,
        cadence: Annotated[
            float, typer.Option(help="Forecast issue cadence in hours from 00:00 UTC (horizon).")
        ] = 24.0,
        workers: WorkersOpt = None,
        scheduler: SchedulerOpt = None,
        dashboard: DashboardOpt = False,
    ) -> None:
        """Backtest the estimated liquidation map on the store's realized liquidations.

        For every bar, the map built only from earlier bars predicts the long liquidation USD
        in the range traded below the open and the short USD above it. Printed beside the
        naive baseline (range × open interest) and chance: top-quarter capture, Spearman, the
        partial Spearman of the map beyond the baseline (with p-value), and the price-level
        capture at each day's 00:00 map. That hourly score is a nowcast (it uses the hour's
        own range).

        The forecast protocol (issue 13): at 00:00 UTC (and every --cadence hours) the map
        ranks a bin set fixed before the day (±k σ of trailing volatility); the next window's
        realized liquidation USD is scored on it beside the 1σ volatility band, the 24 h
        low/high break, side-nearest and uniform baselines, walk-forward, with paired
        day-block bootstrap intervals of map − best baseline, printed even when the map loses.

        With --workers N or --scheduler URL, each (asset, protocol) runs on a Dask worker that
        reads the store itself: the same output as without.
        """
        run_cli(
            lambda: run(
                store_path(store), assets or [], exchange=exchange, step=step,
                warmup_hours=warmup_hours, json_out=json_out, html=html,
                protocol=protocol, k_sigma=k_sigma, cadence_hours=cadence,
                workers=workers, scheduler=scheduler, dashboard=dashboard,
            )
        )  # fmt: skip
