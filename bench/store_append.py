"""Store append: K live-recorder-sized batches written into one day partition, new vs old way.

Run: ``.venv/bin/python bench/store_append.py [--batches 200] [--json out.json]``

The rows are **constructed from real data**: the Binance USD-M BTCUSDT ``depth@0ms`` book
rows of ``hftbacktest-binance-ws-2024-08-08/usdm_btcusdt_20240808.gz``, decoded by
flushwatch's own importer (445,521 rows over ~345 s). The recording is repeated end to end
as often as needed, each copy shifted in time (``ts_event``, ``ts_recv``) by the recording's
length and in ``update_id``/``first_update_id``/``prev_update_id`` by a constant, and all of
it is moved to start at 2024-08-09T00:00:00Z so every batch falls into one day partition.
Then it is cut into consecutive 5-second batches (~6,400 book rows each), what
``flushwatch record`` hands the store every ``batch_s = 5``.

Two writers take the same batches, interleaved batch by batch (new, old, new, old, ...) so
a change in machine load hits both alike:

* ``Store.write``: the real write path (lock, ledger, windowed de-duplication, a new part,
  size-tiered merges);
* baseline ``rewrite day``: what ``Store.write`` did before parts existed, per batch: read
  the whole day file, concatenate the batch, ``unique`` on the key columns (keep first,
  order kept), sort by ``ts_event`` and rewrite the file (zstd) via a temp file and
  ``os.replace``. No lock, no ledger, no sha256: the baseline is given the benefit.

Reported: the median per-batch cost over the first and over the last ``--window`` batches,
the total, and ratios ``new / baseline`` (below 1.0 = the new path is cheaper) and
``late / early`` per writer (1.0 = the cost of a batch does not grow with the day). At the end
both stores must hold the same rows, which the script checks. Numbers are informational.
"""

from __future__ import annotations

import gc
import shutil
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import polars as pl
import pyarrow.parquet as pq
from _common import common_args, machine_info, print_machine, print_table, text_out, write_json

from flushwatch.domain.records import BookUpdate
from flushwatch.domain.tables import key_columns
from flushwatch.ingest.base import Parsed
from flushwatch.ingest.registry import parse
from flushwatch.store import SCHEMAS, Store
from flushwatch.testing.shared import data_path

SOURCE = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
DAY0 = 1_723_161_600 * 10**9  # 2024-08-09T00:00:00Z
BATCH_NS = 5 * 10**9
IDS = ("update_id", "first_update_id", "prev_update_id")


def constructed_batches(count: int) -> list[pl.DataFrame]:
    """``count`` consecutive 5 s batches of time-shifted copies of the real book rows."""
    book = parse(data_path(*SOURCE)).frames[BookUpdate].drop("_line", strict=False)
    t0 = int(book.get_column("ts_event").min())  # type: ignore[arg-type]
    span = int(book.get_column("ts_event").max()) - t0 + BATCH_NS  # type: ignore[arg-type]
    span -= span % BATCH_NS
    id_step = int(book.get_column("update_id").max()) + 1  # type: ignore[arg-type]
    copies = -(-count * BATCH_NS // span)
    shifted = []
    for c in range(copies):
        dt = DAY0 - t0 + c * span
        shifted.append(
            book.with_columns(
                pl.col("ts_event") + dt,
                pl.col("ts_recv") + dt,
                *(pl.col(name) + c * id_step for name in IDS),
            )
        )
    rows = pl.concat(shifted).with_columns(((pl.col("ts_event") - DAY0) // BATCH_NS).alias("_b"))
    return [
        rows.filter(pl.col("_b") == k).drop("_b") for k in range(count)
    ]  # some 5 s windows of the recording may be empty; they still count as a batch


def baseline_write(path: Path, batch: pl.DataFrame) -> None:
    """The pre-parts write of one partition: read all, concat, unique, sort, rewrite."""
    keys = key_columns(BookUpdate)
    if path.exists():
        cur = pl.from_arrow(pq.read_table(path, schema=SCHEMAS["book"]))
        assert isinstance(cur, pl.DataFrame)
        cur = cur.cast(dict(batch.schema))  # type: ignore[arg-type]
    else:
        cur = batch.clear()
    merged = pl.concat([cur, batch]).unique(subset=keys, keep="first", maintain_order=True)
    if merged.height == cur.height:
        return
    tmp = path.with_suffix(".tmp")
    table = merged.sort("ts_event", maintain_order=True).to_arrow().cast(SCHEMAS["book"])
    pq.write_table(table, tmp, compression="zstd")
    tmp.replace(path)


def run(batches: list[pl.DataFrame], root: Path) -> dict[str, Any]:
    store = Store.open(root / "store")
    marker = root / "batch.json"
    old = root / "baseline" / "2024-08-09.parquet"
    old.parent.mkdir()
    new_s: list[float] = []
    old_s: list[float] = []
    for k, batch in enumerate(batches):
        marker.write_text(f'{{"batch": {k}, "rows": {batch.height}}}\n')
        parsed = Parsed(path=marker, format="live")
        parsed.add(BookUpdate, batch)
        gc.collect()
        t = time.perf_counter()
        store.write([parsed])
        new_s.append(time.perf_counter() - t)
        gc.collect()
        t = time.perf_counter()
        baseline_write(old, batch)
        old_s.append(time.perf_counter() - t)
    stored = store.read(BookUpdate)
    base = pl.from_arrow(pq.read_table(old, schema=SCHEMAS["book"]))
    assert isinstance(base, pl.DataFrame)
    order = [*key_columns(BookUpdate)]
    same = stored.drop("ts_recv").sort(order).equals(base.drop("ts_recv").sort(order))
    if not same or stored.height != base.height:
        raise SystemExit("the two writers disagree on the stored rows: a bug, not a speed")
    files = [len(f) for f in store.partitions()]
    t = time.perf_counter()
    compacted = store.compact()
    compact_s = time.perf_counter() - t
    return {
        "new_s": new_s,
        "baseline_s": old_s,
        "rows": stored.height,
        "parts_at_end": files,
        "compact_s": compact_s,
        "compact_files_before": compacted.files_before,
        "baseline_file_bytes": old.stat().st_size,
    }


def main() -> None:
    parser = common_args(__doc__.splitlines()[0] if __doc__ else "store append")
    parser.add_argument("--batches", type=int, default=200, help="5 s batches (default 200)")
    parser.add_argument(
        "--window", type=int, default=20, help="batches in the early/late medians (default 20)"
    )
    args = parser.parse_args()
    out = text_out(args.json)
    info = machine_info()
    print_machine(info, out)
    batches = constructed_batches(args.batches)
    n_rows = sum(b.height for b in batches)
    print(
        f"\n{args.batches} batches of 5 s = {n_rows:,} book rows (constructed: real "
        f"{SOURCE[1]} rows, time-shifted copies) into one day partition",
        file=out,
    )
    root = Path(tempfile.mkdtemp(prefix="flushwatch-bench-"))
    try:
        res = run(batches, root)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    w = min(args.window, args.batches // 2) or 1
    rows = []
    summary: dict[str, dict[str, float]] = {}
    for name, key in (("Store.write (parts)", "new_s"), ("baseline rewrite day", "baseline_s")):
        s = res[key]
        early, late = statistics.median(s[:w]), statistics.median(s[-w:])
        summary[key] = {"early_s": early, "late_s": late, "total_s": sum(s), "max_s": max(s)}
        rows.append((name, early * 1e3, late * 1e3, max(s) * 1e3, sum(s), late / early))
    new, old = summary["new_s"], summary["baseline_s"]
    rows.append(
        (
            "ratio new / baseline",
            new["early_s"] / old["early_s"],
            new["late_s"] / old["late_s"],
            new["max_s"] / old["max_s"],
            new["total_s"] / old["total_s"],
            None,
        )
    )
    print_table(
        [
            "writer",
            f"early ms (first {w})",
            f"late ms (last {w})",
            "max ms",
            "total s",
            "late/early",
        ],
        rows,
        out,
    )
    print(
        f"\nrows stored: {res['rows']:,} (both writers agree); parts at the end: "
        f"{res['parts_at_end']}; Store.compact() of those: {res['compact_s']:.2f} s\n"
        f"a 5 s batch late in the run costs {new['late_s'] * 1e3:.0f} ms with parts, "
        f"{old['late_s'] * 1e3:.0f} ms rewriting the day; medians of interleaved runs",
        file=out,
    )
    write_json(
        args.json,
        {
            "benchmark": "store_append",
            "machine": info,
            "batches": args.batches,
            "rows": n_rows,
            "window": w,
            "summary": summary,
            **res,
        },
    )


if __name__ == "__main__":
    main()
