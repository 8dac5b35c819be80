"""Report speed: ``build_report`` and ``flushwatch report`` on a month of hourly BTC data.

Run: ``.venv/bin/python bench/report_speed.py [--repeat 5] [--json out.json]``

The issue's target: ``flushwatch report`` on a month of hourly data for one market finishes in
under 2 seconds on this machine. The CoinGlass hourly BTC regime export
(``coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv``: hourly
bars, liquidation buckets, OI and funding) is imported once into a temporary store through
the real importer; then one warm-up round and ``--repeat`` timed rounds, each round running
a window's three measurements interleaved (medians reported):

* ``build_report month``: ``build_report`` as of the month's end (through ``AsOfStore``, as
  ``flushwatch.api`` reads) in this process
  for 2026-01-15 → 2026-02-14 (30 days, contains the 2026-02-05 flush; the focus event is
  printed as a sanity check);
* ``build_report full``: the same over everything stored (about six months);
* ``CLI month`` / ``CLI full``: ``flushwatch report BTC --store <tmp> [--start --end] --json``
  run as a subprocess, wall time including interpreter start-up, imports and JSON output;
* ``python -c pass`` and ``python -c 'import <report modules>'``: the bare interpreter
  start-up, and start-up plus importing what ``flushwatch report`` imports, for scale (the
  part of the CLI time that is neither I/O nor analysis);
* baseline ``duckdb read_parquet``: DuckDB ``SELECT * FROM read_parquet('<store>/<dataset>/
  **/*.parquet')`` over every stored dataset, filtered to the same window, materialised as
  Polars frames: the I/O floor of reading the rows the report is built from.

How to read the ratios: ``x baseline`` is a median time divided by the baseline's median for
the same window in the same run (30 = thirty times the cost of merely reading the stored
rows); it shows how much of a report is analysis versus I/O and stays comparable across
machines. The 2 s target is shown as met / not met for information only; this script never
fails on speed.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import polars as pl
from _common import (
    Case,
    Timing,
    common_args,
    machine_info,
    measure,
    print_machine,
    print_table,
    text_out,
    write_json,
)

from flushwatch.domain.time import iso, parse_iso
from flushwatch.ingest.registry import parse
from flushwatch.report.build import build_report
from flushwatch.report.model import FlushReport
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore
from flushwatch.testing.shared import data_path

HOURLY_FILE = ("coinglass-btc-liq-oi-funding-2025-2026", "btc_regime_1h_2025-12-04_2026-06-02.csv")
ASSET = "BTC"
MONTH = ("2026-01-15", "2026-02-14")
TARGET_S = 2.0
#: What the CLI imports before it can build a report (interpreter start-up + imports floor).
IMPORT_ONLY = [
    sys.executable,
    "-c",
    "import flushwatch.cli.app, flushwatch.cli.commands, flushwatch.report.build",
]


def baseline_reader(store: Store, start: str | None, end: str | None) -> tuple[Any, int]:
    """A function reading every stored row in the window with DuckDB, and the row count."""
    where = ""
    if start is not None and end is not None:
        where = f" WHERE ts_event >= {parse_iso(start)} AND ts_event < {parse_iso(end)}"
    queries = []
    for name in store.datasets():
        glob = str(store.root / name / "**" / "*.parquet").replace("'", "''")
        queries.append(f"SELECT * FROM read_parquet('{glob}'){where}")
    con = duckdb.connect()

    def read() -> list[pl.DataFrame]:
        return [con.sql(q).pl() for q in queries]

    return read, sum(df.height for df in read())


def cli_command(store: Store, start: str | None, end: str | None) -> list[str]:
    exe = Path(sys.executable).with_name("flushwatch")
    cmd = [str(exe)] if exe.exists() else [sys.executable, "-m", "flushwatch.cli.app"]
    cmd += ["report", ASSET, "--store", str(store.root), "--json"]
    if start is not None and end is not None:
        cmd += ["--start", start, "--end", end]
    return cmd


def run_quiet(cmd: list[str]) -> int:
    proc = subprocess.run(cmd, capture_output=True, check=False)
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stderr.decode(errors='replace')}")
    return len(proc.stdout)


def bench_window(
    label: str, store: Store, start: str | None, end: str | None, repeat: int
) -> dict[str, Any]:
    start_ns = parse_iso(start) if start else None
    end_ns = parse_iso(end) if end else None
    read, base_rows = baseline_reader(store, start, end)
    cmd = cli_command(store, start, end)
    runs = measure(
        [
            Case(f"duckdb read_parquet {label}", read),
            Case(
                f"build_report {label}",
                lambda: build_report(
                    store if end_ns is None else AsOfStore(store, end_ns),
                    ASSET,
                    start_ns=start_ns,
                    as_of_ns=end_ns,
                ),
            ),
            Case(f"CLI {label}", lambda: run_quiet(cmd)),
        ],
        repeat,
    )
    base_t, _ = runs[f"duckdb read_parquet {label}"]
    rep_t, result = runs[f"build_report {label}"]
    cli_t, out_bytes = runs[f"CLI {label}"]
    assert isinstance(result, tuple)
    report = result[0]
    assert isinstance(report, FlushReport)

    def row(t: Timing, **extra: Any) -> dict[str, Any]:
        return {
            **t.as_dict(),
            "x_baseline": t.median / base_t.median,
            "under_2s": t.median < TARGET_S,
            **extra,
        }

    return {
        "label": label,
        "start": report.window.start,
        "end": report.window.end,
        "bars": report.window.bars,
        "stored_rows_in_window": base_rows,
        "events": len(report.events),
        "focus_start": iso(report.focus.start_ts) if report.focus else None,
        "cli_command": cmd,
        "cli_json_bytes": out_bytes,
        "results": [
            row(base_t, rows=base_rows),
            row(rep_t),
            row(cli_t),
        ],
    }


def main() -> None:
    parser = common_args(__doc__.splitlines()[0] if __doc__ else "")
    args = parser.parse_args()
    out = text_out(args.json)
    info = machine_info()
    print_machine(info, out)

    tmp = Path(tempfile.mkdtemp(prefix="flushwatch-bench-report-"))
    try:
        store = Store.open(tmp / "store")
        source = data_path(*HOURLY_FILE)
        t0 = time.perf_counter()
        store.write([parse(source)])
        import_s = time.perf_counter() - t0
        print(f"\nimported {'/'.join(HOURLY_FILE)} in {import_s:.2f} s", file=out)
        floors = measure(
            [
                Case("python -c pass", lambda: run_quiet([sys.executable, "-c", "pass"])),
                Case("python -c 'import <report modules>'", lambda: run_quiet(IMPORT_ONLY)),
            ],
            args.repeat,
        )
        windows = [
            bench_window("month", store, *MONTH, args.repeat),
            bench_window("full", store, None, None, args.repeat),
        ]
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    for w in windows:
        print(
            f"\n[{w['label']}] {w['start']} → {w['end']}: {w['bars']:,} hourly bars, "
            f"{w['stored_rows_in_window']:,} stored rows, {w['events']} flush events, "
            f"focus {w['focus_start']}",
            file=out,
        )
    rows = []
    for w in windows:
        for r in w["results"]:
            is_base = r["name"].startswith("duckdb")
            rows.append(
                (
                    r["name"] + (" (baseline)" if is_base else ""),
                    r["median_s"],
                    r["min_s"],
                    r["x_baseline"],
                    "-" if is_base else ("met" if r["under_2s"] else "NOT met"),
                )
            )
    for t, _ in floors.values():
        rows.append((t.name + " (start-up)", t.median, t.best, None, "-"))
    print(file=out)
    print_table(["measurement", "median s", "min s", "x baseline", "< 2 s target"], rows, out)
    month_cli = windows[0]["results"][2]
    print(
        f"\nmedian of {args.repeat} runs after 1 warm-up. Target (informational): "
        f"`flushwatch report` on a month of hourly data < {TARGET_S:.0f} s: "
        f"{'met' if month_cli['under_2s'] else 'NOT met'} "
        f"({month_cli['median_s']:.2f} s end to end). 'x baseline' = time / DuckDB "
        "read_parquet time of the same window's stored rows.",
        file=out,
    )
    write_json(
        args.json,
        {
            "benchmark": "report_speed",
            "repeat": args.repeat,
            "machine": info,
            "source": "/".join(HOURLY_FILE),
            "import_s": import_s,
            "target_s": TARGET_S,
            "target_met_month_cli": month_cli["under_2s"],
            "startup": [t.as_dict() for t, _ in floors.values()],
            "windows": windows,
        },
    )


if __name__ == "__main__":
    main()
