"""The report's pooled odds against store size: bounded by ``[outcomes] pool_size`` (issue 16).

Run: ``.venv/bin/python bench/pool_scale.py [--instruments 1,10,100,1000] [--days 75]
[--repeat 3] [--json out.json]``

Stores of N SIMULATED perps (``exchange = "simulated"``, built by ``bench/scale.py``'s
generator) × ``--days`` of hourly bars from 2025-01-01, long enough that the judged month has
30 days of volume before it to rank the pool on (``bench/scale.py``'s 30-day stores have none,
so their reports pool nothing). One asset's ``report`` (BTC, through :mod:`flushwatch.api`)
on each store, three ways, interleaved:

* **pooled, cold**: the in-process memo of judged rows cleared before each run (a first
  report in a fresh process: one volume read of every symbol, then ``pool_size`` assemblies);
* **pooled, warm**: the memo kept (the dashboard, repeated API calls);
* **pool = false**: the asset's own flushes only (what the report costs without any pool).

The report's liquidation account is market-wide (every asset's buckets in the window), so
even ``pool = false`` grows with N; the pool's own cost is the difference. Informational: this
script never fails on speed.
"""

from __future__ import annotations

import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

from _common import (
    Case,
    common_args,
    machine_info,
    measure,
    print_machine,
    print_table,
    text_out,
    write_json,
)
from scale import build_store, symbols_for

import flushwatch.api as api
from flushwatch.analytics.outcomes import OutcomeParams
from flushwatch.config import ReportConfig
from flushwatch.report.pool import memo_clear

NO_POOL = ReportConfig(outcomes=OutcomeParams(pool=False))


def _pool_note(ws: api.Workspace) -> str:
    notes = [n for n in ws.report("BTC").report.notes if "odds pooled over" in n]
    return notes[0].rsplit(": ", 1)[1] if notes else "(no pool: no focus flush or no volume)"


def main() -> None:
    parser = common_args(__doc__.splitlines()[0])
    parser.add_argument("--instruments", default="1,10,100,1000", help="store sizes N")
    parser.add_argument("--days", type=int, default=75, help="hourly history per perp (days)")
    parser.set_defaults(repeat=3)
    args = parser.parse_args()
    out = text_out(args.json)
    info = machine_info()
    print_machine(info, out)
    sizes = [int(v) for v in args.instruments.split(",") if v]
    tmp = Path(tempfile.mkdtemp(prefix="flushwatch-pool-"))
    result: dict[str, Any] = {"machine": info, "simulated_input": True, "days": args.days}
    try:
        stores: dict[int, api.Workspace] = {}
        for n in sizes:
            built = build_store(tmp / f"n{n}", symbols_for(n), args.days, 3600)
            stores[n] = api.open(tmp / f"n{n}")
            print(
                f"  built N={n:,}: {built:.1f} s; pool {_pool_note(stores[n])[:60]}",
                file=sys.stderr,
            )
        cases = []
        for n, ws in stores.items():
            cases += [
                Case(f"cold N={n}", lambda ws=ws: ws.report("BTC"), setup=memo_clear),
                Case(f"warm N={n}", lambda ws=ws: ws.report("BTC")),
                Case(f"no pool N={n}", lambda ws=ws: ws.report("BTC", config=NO_POOL)),
            ]
        res = measure(cases, args.repeat)
        rows, ratios = [], {}
        base = sizes[0]
        for what in ("cold", "warm", "no pool"):
            for n in sizes:
                t = res[f"{what} N={n}"][0].median
                ratios[f"{what} N={n}"] = t / res[f"{what} N={base}"][0].median
                rows.append([f"report BTC, {what}, N={n:,}", t, ratios[f"{what} N={n}"]])
        print(f"\n[pool] report BTC in stores of N SIMULATED perps x {args.days} days", file=out)
        print_table(["measurement", "median s", f"x N={base}"], rows, out)
        pools = {n: _pool_note(ws) for n, ws in stores.items()}
        for n, names in pools.items():
            print(f"  N={n:,}: pool of {len(names.split(', '))}: {names[:70]}", file=out)
        result.update(timings=[t.as_dict() for t, _ in res.values()], ratios=ratios, pools=pools)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    write_json(args.json, result)


if __name__ == "__main__":
    main()
