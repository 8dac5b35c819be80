"""The universe scorecard on Dask: 1 and 2 local workers against a serial run, same process.

(Not named ``distributed.py``: a script beside it would shadow the ``distributed`` package.)

Run: ``.venv/bin/python bench/dask_scorecard.py [--store DIR] [--assets 40] [--repeat 1]
[--json out.json]``

Without ``--store`` it builds, in a temporary folder, a store of the freqtrade universe's
hourly perp bars and funding (``../shared/data/freqtrade-binance-perp-spot-mark-funding-
2018-2026/futures/*-1h-{futures,funding_rate}.feather``: 40 perps, real data). Then, round-
robin, it times ``Workspace.scorecard`` serially, on ``--workers 1`` and on ``--workers 2``
(each a fresh spawn-started LocalCluster: its start-up is part of what a user waits for), and
the judging alone (:func:`flushwatch.api.scorecard.judge_all`) on a cluster started beforehand,
so the parallel part's speed-up shows apart from the serial, pooled scoring and the cluster's
start-up. Every distributed answer is checked equal to the serial one. Ratios are against the
serial run of the same process; on a 2-core machine shared with other work, 2 workers can at
best halve the judging.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import msgspec
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

import flushwatch
from flushwatch.api.cluster import ClusterSpec, local_cluster
from flushwatch.api.scorecard import judge_all
from flushwatch.config import ReportConfig
from flushwatch.domain.symbols import base_asset
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.shared import data_path

FUTURES = ("freqtrade-binance-perp-spot-mark-funding-2018-2026", "futures")


def build_universe(root: Path, n_assets: int) -> list[str]:
    """Import the first ``n_assets`` perps' hourly bars and funding; return their coins."""
    folder = data_path(*FUTURES)
    coins = sorted(p.name.split("_")[0] for p in folder.glob("*_USDT_USDT-1h-futures.feather"))
    coins = coins[:n_assets]
    files = [
        folder / f"{c}_USDT_USDT-1h-{kind}.feather"
        for c in coins
        for kind in ("futures", "funding_rate")
    ]
    Store.open(root).write([parse(f) for f in files if f.exists()])
    return coins


def main(argv: list[str] | None = None) -> int:
    ap = common_args(__doc__ or "")
    ap.set_defaults(repeat=1)
    ap.add_argument("--store", type=Path, default=None, help="an existing store (read only)")
    ap.add_argument("--assets", type=int, default=40, help="perps to import when building")
    args = ap.parse_args(argv)
    out = text_out(args.json)
    info = machine_info()
    print_machine(info, out)

    with tempfile.TemporaryDirectory(prefix="flushwatch-dist-") as tmp:
        root = args.store or Path(tmp) / "store"
        if args.store is None:
            coins = build_universe(root, args.assets)
            print(f"built a store of {len(coins)} perps in {root}", file=out)
        ws = flushwatch.open(root)
        results = _run(ws, args.repeat)

    serial = results["serial"][0].median
    judge_serial = results["judge, serial"][0].median
    rows: list[list[Any]] = []
    for name, (timing, _) in results.items():
        base = judge_serial if name.startswith("judge") else serial
        rows.append(
            [name, timing.median, None if name.startswith("start") else base / timing.median]
        )
    print_table(["run", "median s", "speed-up vs serial"], rows, out)
    write_json(
        args.json,
        {
            "machine": info,
            "results": {k: t.as_dict() for k, (t, _) in results.items()},
        },
    )
    return 0


def _run(ws: Any, repeat: int) -> dict[str, Any]:
    """Time every case round-robin; check every distributed answer against the serial one."""
    cfg = ReportConfig()
    names = sorted({base_asset(s.symbol) for s in ws.info().series if s.dataset == "bars"})
    reader = Store.open(ws.path, create=False)
    root = str(ws.path)
    with local_cluster(2) as warm2, local_cluster(1) as warm1:
        on2 = ClusterSpec(scheduler=warm2.scheduler_address)
        on1 = ClusterSpec(scheduler=warm1.scheduler_address)
        cases = [
            Case("serial", lambda: ws.scorecard().to_dict()),
            Case("--workers 1", lambda: ws.scorecard(cluster=ClusterSpec(workers=1)).to_dict()),
            Case("--workers 2", lambda: ws.scorecard(cluster=ClusterSpec(workers=2)).to_dict()),
            Case("start + stop a 2-worker cluster", _start_stop),
            Case("judge, serial", lambda: judge_all(reader, names, cfg, step_s=3600)),
            Case(
                "judge, 1 worker (warm)",
                lambda: judge_all(reader, names, cfg, step_s=3600, cluster=(on1, root, None)),
            ),
            Case(
                "judge, 2 workers (warm)",
                lambda: judge_all(reader, names, cfg, step_s=3600, cluster=(on2, root, None)),
            ),
        ]
        results = measure(cases, repeat, warmup=0)
    for name, (_, value) in results.items():
        if name.startswith("start"):
            continue
        base = results["judge, serial" if name.startswith("judge") else "serial"][1]
        if msgspec.msgpack.encode(value) != msgspec.msgpack.encode(base):  # NaN-safe, exact
            print(f"MISMATCH: {name} differs from the serial run", file=sys.stderr)
            raise SystemExit(1)
    return results


def _start_stop() -> None:
    with local_cluster(2):
        pass


if __name__ == "__main__":  # spawned workers import this file as __mp_main__: run nothing then
    raise SystemExit(main())
