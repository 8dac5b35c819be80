"""``flushwatch simulate``: a simulated perpetual market with a leverage flush, into a store.

Every row it writes has ``exchange = "simulated"``. Without ``--store`` it writes into a new
temporary folder, so the user's own store is untouched unless they name it.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Annotated, Any

import typer

from flushwatch.cli.options import STORE_HINT, check_folder, run
from flushwatch.errors import ConfigError, FlushwatchError

__all__ = ["register"]

_HELP = (
    "Simulate a perpetual-futures market (spot + perp tied by arbitrage, leveraged traders, "
    "stops at obvious levels, a liquidity provider that thins off-peak and retreats in "
    "volatility, Binance liquidation engine and funding) and write it into a store as "
    "simulated records (exchange 'simulated'). Scenarios: reset, trend, squeeze, calm. "
    "Analyse it with `flushwatch report BTC --store DIR --step 1h`."
)


def _leverage(text: str | None) -> tuple[float, ...] | None:
    if text is None:
        return None
    try:
        return tuple(float(x) for x in text.split(","))
    except ValueError:
        raise ConfigError(f"--leverage-mix must be comma-separated numbers, not {text!r}") from None


def run_simulate(
    scenario: str,
    store: Path | None,
    overrides: dict[str, object],
    *,
    compare: Path | None,
    json_out: bool,
) -> None:
    """Simulate, write, and print what was written (and the stylized facts with --compare)."""
    import msgspec

    from flushwatch.cli.render import working
    from flushwatch.report.assemble import assemble
    from flushwatch.sim import flush_facts, scenario_params, simulate, write_result
    from flushwatch.store import Store

    p = scenario_params(scenario, **overrides)
    if store is not None:
        check_folder(store, "--store", STORE_HINT)
    root = (
        store if store is not None else Path(tempfile.mkdtemp(prefix="flushwatch-sim-")) / "store"
    )
    st = Store.open(root)
    with working("simulate", quiet=json_out) as progress:
        progress(f"simulating a {scenario} day (seed {p.seed})")
        result = simulate(p)
        progress(f"writing it into {root}")
        summaries = write_result(result, st, f"{scenario}-seed{p.seed}")
        progress("measuring its flushes")
        facts = flush_facts(assemble(st, p.symbol.removesuffix("USDT"), step_s=3600), "simulated")
        if compare is not None:
            progress(f"measuring the real flushes in {compare}")
            facts += _real_facts(Store.open(compare, create=False))
    body = {
        "store": str(root),
        "scenario": scenario,
        "simulated": True,
        "params": p,
        "rows_added": summaries[0].rows_added,
        "ledger": result.ledger,
        "flushes": facts,
    }
    if json_out:
        typer.echo(msgspec.json.format(msgspec.json.encode(body), indent=2).decode())
        return
    typer.echo(f"simulated market ({scenario}, seed {p.seed}) written to {root}")
    typer.echo("rows: " + ", ".join(f"{k} {v}" for k, v in summaries[0].rows_added.items()))
    from flushwatch.cli.render import console, new_table

    nums = ("liq/OI %", "OI drop %", "wick %", "funding low %/8h", "hours to 50% OI")
    t = new_table("market", "start", "kind", *nums, right=nums, tight=True)
    for f in facts:
        t.add_row(
            f.market, f.start.replace("T", " "), f.kind.replace("_", " "),
            _n(f.liq_to_oi_pct), _n(f.oi_drop_pct), f"{f.wick_pct:.2f}",
            _n(f.funding_low_pct_8h, 4), _n(f.hours_to_half_oi, 0),
        )  # fmt: skip
    console.print(t)


def _real_facts(real: Any) -> list[Any]:
    """The stylized facts of the real stores' hourly-or-finer flushes (for --compare)."""
    from flushwatch.report.assemble import assemble
    from flushwatch.sim import flush_facts

    facts: list[Any] = []
    for asset in ("BTC", "XRP", "ETH"):
        try:
            m = assemble(real, asset, step_s=3600)
        except FlushwatchError:
            continue
        if m.step_s > 3600 * 8:
            continue
        facts += flush_facts(m, f"{asset} (real)", min_liq_usd=5e7)
    return facts


def _n(x: float | None, digits: int = 2) -> str:
    from flushwatch.domain.numbers import num

    return num(x, digits)  # "n/a" when missing, never "-0.0000"


def register(app: typer.Typer) -> None:
    """Add ``simulate`` to the CLI."""

    @app.command("simulate", help=_HELP)
    def simulate_cmd(
        scenario: Annotated[str, typer.Option(help="reset, trend, squeeze or calm.")] = "reset",
        store: Annotated[
            Path | None,
            typer.Option(help="Store folder to write into (default: a new temporary folder)."),
        ] = None,
        shock: Annotated[
            float | None, typer.Option(help="Exogenous spot shock, % (e.g. -5; 0 = none).")
        ] = None,
        hour: Annotated[
            float | None, typer.Option(help="Time of day of the shock, UTC hours (0-24).")
        ] = None,
        depth: Annotated[
            float | None, typer.Option(help="Perp depth within 1 % at peak hours, USD millions.")
        ] = None,
        leverage_mix: Annotated[
            str | None,
            typer.Option(help="Weights of 2,3,5,10,20,25,50,75,100,125x, comma-separated."),
        ] = None,
        seed: Annotated[
            int | None, typer.Option(help="Random seed (same seed, same data).")
        ] = None,
        compare: Annotated[
            Path | None,
            typer.Option(help="A store with real data: print its flushes' facts beside ours."),
        ] = None,
        json_out: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
    ) -> None:
        overrides: dict[str, object] = {
            "shock_pct": shock,
            "shock_hour_utc": hour,
            "depth_usd_1pct": None if depth is None else depth * 1e6,
            "seed": seed,
        }

        def go() -> None:
            overrides["leverage_weights"] = _leverage(leverage_mix)
            run_simulate(scenario, store, overrides, compare=compare, json_out=json_out)

        run(go)
