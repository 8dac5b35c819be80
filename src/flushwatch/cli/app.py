"""The ``flushwatch`` command. Heavy modules (DuckDB, Polars) are imported inside commands so
that ``flushwatch --help`` answers instantly."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from flushwatch.cli.once import OnceGroup
from flushwatch.cli.options import AtOpt, JsonOpt, StoreOpt, run, store_path

app = typer.Typer(
    name="flushwatch",
    help=(
        "Monitor and analyse leverage flushes in crypto perpetual-futures markets.\n\n"
        "Import the data you already have (Binance Vision, Tardis CSV, websocket recordings, "
        "CoinGlass-style exports, freqtrade files) into a local DuckDB/Parquet store, then "
        "ask it what happened; or stream it live from Binance, Bybit, OKX or any ccxt.pro "
        "venue (record, backfill, watch with alerts). `flushwatch demo` runs everything "
        "offline on a simulated flush day. Every command takes --store (or $FLUSHWATCH_STORE)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    cls=OnceGroup,
)

_run = run
_store_path = store_path


@app.command("import")
def import_(
    paths: Annotated[
        list[Path],
        typer.Argument(
            help="Files or folders to import (folders are searched recursively).",
            show_default=False,
        ),
    ],
    store: StoreOpt = None,
    format_: Annotated[
        str | None,
        typer.Option(
            "--format", help="Force a format instead of detecting it (see `flushwatch formats`)."
        ),
    ] = None,
    exchange: Annotated[
        str | None, typer.Option(help="Exchange id (ccxt style) when the file cannot say.")
    ] = None,
    market: Annotated[
        str | None, typer.Option(help="spot, perp, future or option, when the file cannot say.")
    ] = None,
    symbol: Annotated[
        str | None, typer.Option(help="Native symbol, when the file cannot say.")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(help="TOML column mapping for vendor CSV exports (format vendor-csv)."),
    ] = None,
    keep_going: Annotated[
        bool,
        typer.Option(
            "--keep-going",
            help="Import the files that parse and report the others (default: all or nothing).",
        ),
    ] = False,
    json_out: JsonOpt = False,
) -> None:
    """Import market-data files into the store: all-or-nothing, idempotent, de-duplicated.

    Every file is parsed and validated before anything is written; a bad value stops the
    import with its file, line and field and leaves the store as it was. Binance Vision
    trades/aggTrades files of 32 MB or more are imported after the others through DuckDB in
    bounded memory, each as its own all-or-nothing write: a crash mid-file leaves none of
    its rows, and running the same import again completes it (no row is added twice).
    """
    from flushwatch.cli import commands

    code = _run(
        lambda: commands.run_import(
            paths,
            _store_path(store),
            format_name=format_,
            exchange=exchange,
            market=market,
            symbol=symbol,
            mapping=mapping,
            keep_going=keep_going,
            json_out=json_out,
        )
    )
    raise typer.Exit(code)


@app.command()
def info(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Show what the store holds: datasets, instruments, time ranges and row counts."""
    from flushwatch.cli import commands

    _run(lambda: commands.run_info(_store_path(store), json_out=json_out))


@app.command()
def formats(json_out: JsonOpt = False) -> None:
    """List the file formats `flushwatch import` understands."""
    from flushwatch.cli import commands

    _run(lambda: commands.run_formats(json_out=json_out))


@app.command()
def sql(
    query: Annotated[
        str, typer.Argument(help="SQL over the views trades, liquidations, funding, ...")
    ],
    store: StoreOpt = None,
    json_out: JsonOpt = False,
    wide: Annotated[
        bool,
        typer.Option(
            "--wide",
            help="Print the result as one table at its full width, however wide (default: a "
            "table when it fits the terminal, else one block per row).",
        ),
    ] = False,
) -> None:
    """Run DuckDB SQL against the store (one view per dataset, plus instruments)."""
    from flushwatch.cli import commands

    _run(lambda: commands.run_sql(_store_path(store), query, json_out=json_out, wide=wide))


@app.command()
def compact(store: StoreOpt = None, json_out: JsonOpt = False) -> None:
    """Merge each day's part files into one file per day (safe at any time; no row changes).

    Every import or live-recorder batch adds its new rows as a small part file beside the
    day's file (<day>.part-000001.parquet, ...), and writes merge them as they go, so a day keeps
    a few dozen files at most. Run this after a long `flushwatch record` session, before
    copying, archiving or sharing the store, or before heavy SQL over many days: one file per
    day reads fastest. A recorder running meanwhile waits for one day at a time.
    """
    from flushwatch.cli import commands

    _run(lambda: commands.run_compact(_store_path(store), json_out=json_out))


AssetArg = Annotated[str, typer.Argument(help="Asset, e.g. BTC, ETH, XRP (all its markets).")]
ExchangeOpt = Annotated[
    str | None, typer.Option(help="Use this exchange's price series (default: the fullest one).")
]
StartOpt = Annotated[str | None, typer.Option(help="Window start, ISO date/time UTC.")]
EndOpt = Annotated[
    str | None,
    typer.Option(help="Window end (exclusive), ISO date/time UTC: also an as-of bound."),
]
StepOpt = Annotated[
    str | None, typer.Option(help="Bar size: 5m, 1h, 1d (default: the price series' own).")
]
ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="TOML thresholds (see `flushwatch config`).")
]


@app.command()
def report(
    asset: AssetArg,
    store: StoreOpt = None,
    exchange: ExchangeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    at: AtOpt = None,
    step: StepOpt = None,
    config: ConfigOpt = None,
    html: Annotated[
        Path | None, typer.Option(help="Also write a self-contained HTML page with charts.")
    ] = None,
    json_out: JsonOpt = False,
) -> None:
    """The flush report: how big and who, the checklist after it, the risk box, a verdict.

    Uses whatever the store holds for the asset (price, liquidations, OI, funding, spot,
    basis, depth); a missing series is reported as not available and lowers the confidence.
    """
    from flushwatch.cli import commands

    _run(
        lambda: commands.run_report(
            _store_path(store),
            asset,
            exchange=exchange,
            start=start,
            end=end,
            at=at,
            step=step,
            config=config,
            html=html,
            json_out=json_out,
        )
    )


@app.command()
def events(
    asset: AssetArg,
    store: StoreOpt = None,
    exchange: ExchangeOpt = None,
    start: StartOpt = None,
    end: EndOpt = None,
    step: StepOpt = None,
    config: ConfigOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """List the flushes (long flushes, short squeezes) detected over a period."""
    from flushwatch.cli import commands

    _run(
        lambda: commands.run_events(
            _store_path(store),
            asset,
            exchange=exchange,
            start=start,
            end=end,
            step=step,
            config=config,
            json_out=json_out,
        )
    )


@app.command()
def config(
    kind: Annotated[
        str,
        typer.Argument(
            help="report (--config of report/events/scorecard), venue (--config of record, "
            "watch, backfill, update, download binance-vision) or alerts (watch --alerts)."
        ),
    ] = "report",
) -> None:
    """Print a commented TOML template of a config file, every key at its default.

    `report`: every threshold of the report with its rationale. `venue`: the connector
    endpoints and timeouts per venue (the defaults are the venues' public endpoints).
    `alerts`: every alert rule kind and sink. Save it, edit it, pass it back: unknown keys
    are refused by name.
    """
    from flushwatch.cli import commands

    _run(lambda: commands.run_config(kind))


def _register_commands() -> None:
    """Commands that live in their own modules (each keeps its heavy imports lazy)."""
    from flushwatch.cli import (
        cmd_backfill,
        cmd_backtest,
        cmd_cascade,
        cmd_demo,
        cmd_download,
        cmd_map,
        cmd_mechanics,
        cmd_migrate,
        cmd_record,
        cmd_scorecard,
        cmd_serve,
        cmd_simulate,
        cmd_update,
        cmd_wash,
        cmd_watch,
    )

    cmd_mechanics.register(app)
    cmd_map.register(app)
    cmd_cascade.register(app)
    cmd_backtest.register(app)
    cmd_scorecard.register(app)
    cmd_simulate.register(app)
    cmd_demo.register(app)
    cmd_record.register(app)
    cmd_backfill.register(app)
    cmd_watch.register(app)
    cmd_download.register(app)
    cmd_serve.register(app)
    cmd_update.register(app)
    cmd_migrate.register(app)
    cmd_wash.register(app)
    from typer.core import TyperCommand

    from flushwatch.cli.once import OnceCommand

    for info in app.registered_commands:  # a single-value option given twice is refused
        if info.cls in (None, TyperCommand):
            info.cls = OnceCommand


_register_commands()


def main() -> None:
    """Console-script entry point."""
    app(prog_name="flushwatch")


if __name__ == "__main__":  # pragma: no cover
    main()
