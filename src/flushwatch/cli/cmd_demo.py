"""``flushwatch demo``: the whole job in one offline command, on simulated data.

Simulate a flush day (``flushwatch.sim``), write it into a fresh store of its own (the user's
store is never touched unless ``--store`` names it), then run what a trader would: the flush
report, the liquidation map, a cascade from a shock, the fragility ranking; print the terminal
summary and write one self-contained HTML page, clearly labelled simulated, whose path it
prints.
"""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from pathlib import Path
from typing import Annotated, Any

import typer

from flushwatch.cli.options import STORE_HINT, JsonOpt, check_folder
from flushwatch.cli.options import run as _run

DEMO_SHOCK = "-3%"


def _page(report: Any, market: Any, map_parts: Any, casc: Any, ranking: Any) -> str:
    """The demo's one page (see :mod:`flushwatch.report.demo_html`)."""
    from flushwatch.report.demo_html import render_demo_page

    return render_demo_page(report, market, map_parts, casc, ranking, DEMO_SHOCK)


def run_demo(
    out_dir: Path, *, scenario: str, seed: int, store: Path | None, json_out: bool
) -> dict[str, Any]:
    """Simulate, analyse, print and write the page; return a summary for ``--json``."""
    from flushwatch.api.results import to_json
    from flushwatch.api.workspace import open_workspace
    from flushwatch.cli import render, render_cascade, render_map
    from flushwatch.sim.market import simulate
    from flushwatch.sim.records import write_result
    from flushwatch.sim.scenarios import scenario_params
    from flushwatch.store import Store

    t0 = time.perf_counter()
    check_folder(out_dir, "--out")
    if store is not None:
        check_folder(store, "--store", STORE_HINT)
    out_dir.mkdir(parents=True, exist_ok=True)
    root = store if store is not None else out_dir / "store"
    if store is None and root.exists():
        shutil.rmtree(root)  # the demo's own store: start fresh every time
    page = out_dir / f"flushwatch-demo-{scenario}.html"
    # Everything is computed under the spinner (stderr), then printed: the two never interleave.
    with render.working("demo", quiet=json_out) as progress:
        progress(f"simulating a {scenario} day (seed {seed})")
        # A book deep enough (150 levels 5 bps apart: ±7.5 %) for the cascade to walk it.
        params = scenario_params(scenario, seed=seed, book_levels=150, tick_bps=5.0)
        result = simulate(params)
        progress(f"writing the simulated rows into {root}")
        write_result(result, Store.open(root), f"demo-{scenario}-{seed}")
        asset = params.symbol.removesuffix("USDT")
        ws = open_workspace(root)
        progress("flush report")
        # Hourly: the simulator writes 5-minute bars, most of them without a liquidation, and
        # the flush detector's baseline wants bars that usually have some (as real data does).
        rep = ws.report(asset, exchange="simulated", step=3600)
        report, market = rep.report, rep.market
        progress("liquidation map")
        liq_map = ws.map(asset, exchange="simulated", bins=400, snapshots=True)
        progress(f"cascade from a {DEMO_SHOCK} shock (2,000 Monte Carlo runs)")
        casc = ws.cascade(asset, shock=DEMO_SHOCK, exchange="simulated", runs=2000)
        progress("fragility ranking")
        ranking = ws.fragility([asset])
        progress(f"writing {page}")
        map_parts = (liq_map.market, liq_map.state, liq_map.clusters)
        html = _page(report, market, map_parts, casc.raw(), ranking)
        page.write_text(html, encoding="utf-8")
    # With --json the human-readable sections are not printed: only the summary is.
    quiet = contextlib.redirect_stdout(io.StringIO()) if json_out else contextlib.nullcontext()
    with quiet:
        render.console.rule("[bold yellow]SIMULATED DATA[/] (flushwatch's market simulator)")
        render.flush_report(report)
        render_map.render(liq_map.to_dict())
        render_cascade.show_cascade(casc.raw(), casc.to_dict(), json_out=False, html=None)
        render_cascade.show_fragility(ranking, json_out=False)
    ranked = ranking.markets
    seconds = time.perf_counter() - t0
    summary = {
        "simulated": True,
        "scenario": scenario,
        "seed": seed,
        "store": str(root),
        "html": str(page),
        "seconds": round(seconds, 2),
        "verdict": None if report.verdict is None else report.verdict.name,
        "events": len(report.events),
        "fragility_rank": [f.asset for f in ranked],
        "report": to_json(rep.to_dict()),
    }
    if json_out:
        render.print_json(summary)
    else:
        render.console.print(
            f"\n[bold]Simulated {scenario} day[/] (seed {seed}) analysed in {seconds:.1f} s. "
            f"HTML report (simulated data): [bold]{render.escape(str(page))}[/]"
        )
    return summary


def register(app: typer.Typer) -> None:
    """Add ``demo`` to the flushwatch app."""

    @app.command("demo")
    def demo(
        out: Annotated[
            Path, typer.Option(help="Folder for the demo's own store and its HTML page.")
        ] = Path("out/demo"),
        scenario: Annotated[
            str, typer.Option(help="reset, trend, squeeze or calm (see `flushwatch simulate`).")
        ] = "reset",
        seed: Annotated[int, typer.Option(help="Random seed: the same seed, the same day.")] = 7,
        store: Annotated[
            Path | None,
            typer.Option(
                help="Write the simulated rows into this store instead (yours, if asked)."
            ),
        ] = None,
        json_out: JsonOpt = False,
    ) -> None:
        """Simulate a flush day and run everything on it: report, map, cascade, fragility.

        Offline, in well under 30 seconds; every row is marked simulated (exchange
        "simulated") and the page says so. Your own store is untouched unless --store names it.
        """
        _run(lambda: run_demo(out, scenario=scenario, seed=seed, store=store, json_out=json_out))
