"""aggTrades import in bounded memory: rows/s and peak RSS of `flushwatch import` vs DuckDB.

Run: ``.venv/bin/python bench/aggtrades_import.py [--rows 30000000] [--all] [--json out.json]``;
``... --phases FILE`` times each step of both bulk paths on FILE (one process).

The file is **simulated** (labelled so in its name): the 21,313 real Binance USD-M BTCUSDT
trades of ``shared/data/hftbacktest-binance-ws-2024-08-08/usdm_btcusdt_20240808.gz`` written
as Vision aggTrades rows (``agg_trade_id,price,quantity,first_trade_id,last_trade_id,
transact_time,is_buyer_maker``, header as in the USDⓈ-M archive), repeated with ids and times
shifted by one copy's span each time until ``--rows`` rows (30 M ≈ a month of BTCUSDT aggTrades,
about 2 GB; 5.6 days of times, 7 UTC day partitions), in ``/tmp/flushwatch-bench-aggtrades/``.

Each measurement runs in its own child process (so each peak RSS, ``ru_maxrss``, is its own),
one after the other in the same run on the same file:

* ``duckdb``: ``COPY (SELECT * FROM read_csv(file)) TO parquet`` (DuckDB's own CSV reader and
  Parquet writer, default threads and options);
* ``import``: the ``flushwatch import FILE --store NEW --json`` command itself (a new process:
  start-up, format detection, the file's SHA-256, the DuckDB bulk path of
  :mod:`flushwatch.store.bulk`, the commit); CPU and RSS are the command's own;
* with ``--all`` also ``stream`` (:func:`flushwatch.api.stream_import.import_trades_streaming`,
  the earlier piece-by-piece path) and ``whole`` (the exact reader and one ``Store.write``) on
  a smaller file of ``--whole-rows`` rows, killed above ``--rss-cap-mb``.

Goal (issue 11): under 2 GB RSS and at ≥ 0.5× DuckDB's rows/s. Wall time and CPU time (user +
system, all threads) are both printed: on a machine shared with other work the wall ratio
moves with the load, rows per CPU second do not.
"""

from __future__ import annotations

import argparse
import gzip
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import polars as pl

from flushwatch.testing.shared import data_path

HEADER = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
FOLDER = Path(tempfile.gettempdir()) / "flushwatch-bench-aggtrades"
SOURCE = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")


def real_rows() -> pl.DataFrame:
    """The real trades as aggTrades columns (one trade per aggregate, as the stream sends)."""
    rows = []
    with gzip.open(data_path(*SOURCE), "rt") as fh:
        for line in fh:
            msg = json.loads(line.partition(" ")[2])
            if msg.get("stream", "").endswith("@trade"):
                d = msg["data"]
                rows.append((d["t"], d["p"], d["q"], d["T"], d["m"]))
    t, p, q, ts, m = zip(*rows, strict=True)
    return pl.DataFrame({"id": t, "price": p, "qty": q, "ts": ts, "m": m})


def make_csv(rows: int) -> Path:
    """Write (once) the simulated file of ``rows`` rows; return its path."""
    FOLDER.mkdir(exist_ok=True)
    path = FOLDER / f"um-BTCUSDT-aggTrades-SIMULATED-{rows}.csv"
    if path.exists():
        return path
    base = real_rows()
    n = base.height
    id_span = int(base["id"].max()) - int(base["id"].min()) + 1  # type: ignore[operator]
    ts_span = int(base["ts"].max()) - int(base["ts"].min()) + 1  # type: ignore[operator]
    tmp = path.with_suffix(".part")
    with tmp.open("w") as fh:
        fh.write(HEADER + "\n")
        copies_per_block = max(1, 2_000_000 // n)
        k = 0
        written = 0
        while written < rows:
            ks = np.repeat(np.arange(k, k + copies_per_block, dtype=np.int64), n)
            block = pl.concat([base] * copies_per_block).with_columns(
                (pl.col("id") + pl.Series(ks) * id_span).alias("id"),
                (pl.col("ts") + pl.Series(ks) * ts_span).alias("ts"),
            )
            block = block.head(rows - written)
            block.select(
                "id",
                "price",
                "qty",
                pl.col("id").alias("first"),
                pl.col("id").alias("last"),
                "ts",
                pl.when(pl.col("m")).then(pl.lit("true")).otherwise(pl.lit("false")),
            ).write_csv(fh, include_header=False)
            written += block.height
            k += copies_per_block
    tmp.rename(path)
    return path


def phases(path: Path) -> None:
    """CPU and wall seconds of each step of the bulk paths, in one process (``--phases``).

    The in-order path (what a file in store order takes) as a whole and in parts: DuckDB's
    streamed ``read_csv`` alone, with the batch-by-batch proof, and everything (the proof,
    the day split and the Parquet writes); then the sorted path (any other file) step by
    step, all days at once.
    """
    from flushwatch.ingest.stream_trades import trade_csv
    from flushwatch.store import bulk, bulk_ordered
    from flushwatch.store.parts import ROW_GROUP
    from flushwatch.store.store import file_sha256

    spec = trade_csv(path)
    assert spec is not None

    def step(name: str, fn: Callable[[], object]) -> object:
        c, w = time.process_time(), time.perf_counter()
        out = fn()
        cpu, wall = time.process_time() - c, time.perf_counter() - w
        print(f"{name:<34} CPU {cpu:7.2f} s  wall {wall:7.2f} s")
        return out

    with tempfile.TemporaryDirectory(prefix="fw-bench-") as tmp:
        con = bulk.connect(Path(tmp) / "spill")
        step("sha256 of the file (ledger)", lambda: file_sha256(path))
        source = bulk.csv_source(spec)
        sql = bulk_ordered._select(spec, source)
        assert sql is not None

        def read(prove: bool) -> None:
            proof = bulk_ordered._Proof(time.time_ns())
            with con.sql(sql).to_arrow_reader(ROW_GROUP) as reader:
                for batch in reader:
                    assert not prove or proof.check(batch) is None

        step("in order: streamed read_csv", lambda: read(False))
        step("in order: read + proof", lambda: read(True))
        names = (Path(tmp) / f"{i}.parquet" for i in range(10_000))
        got = step(
            "in order: all (read, proof, write)",
            lambda: bulk_ordered.write_in_order(
                con, spec, source, day_is_empty=lambda _d: True, new_file=lambda: next(names)
            ),
        )
        print(f"  -> {got if isinstance(got, bulk_ordered.Refused) else 'streamed'}")
        rows = int(step("sorted: typed read_csv into t", lambda: bulk.load(con, spec)))  # type: ignore[call-overload]
        facts = step("sorted: checks, days, units, ids", lambda: bulk.check(con, spec))
        assert isinstance(facts, bulk.Facts)
        days = [(d,) for d in facts.days]
        step("sorted: unique ids (rising)", lambda: bulk._unique_ids(con, rows))
        lo, hi = int(days[0][0]) * bulk._DAY_NS, (int(days[-1][0]) + 1) * bulk._DAY_NS
        out = Path(tmp) / "o.parquet"
        sql_all = bulk._day_sql(spec, (lo, hi, 10**6), [], distinct=False, trim_free=True)
        unsorted = sql_all.split(" ORDER BY ")[0] + ")"  # the same rows without the sort
        step(f"sorted: COPY unsorted, {len(days)} days", lambda: bulk._copy(con, unsorted, out))

        def per_day() -> None:
            for (n,) in days:
                span = (int(n) * bulk._DAY_NS, (int(n) + 1) * bulk._DAY_NS, 10**6)
                day = bulk._day_sql(spec, span, [], distinct=False, trim_free=True)
                bulk._copy(con, day, Path(tmp) / f"{n}.parquet")

        step(f"sorted: COPY sorted, per day ({len(days)})", per_day)


def child(mode: str, path: Path, rows: int, chunk_mb: int) -> None:
    """One measurement; prints a JSON line with seconds, rows and peak RSS (MB)."""
    with tempfile.TemporaryDirectory(prefix="fw-bench-") as tmp:
        t0 = time.perf_counter()
        c0 = time.process_time()
        cpu_children = 0.0
        if mode == "duckdb":
            import duckdb

            con = duckdb.connect()
            out = Path(tmp) / "out.parquet"
            con.execute(f"COPY (SELECT * FROM read_csv('{path}')) TO '{out}' (FORMAT parquet)")
            done = rows
        elif mode == "import":
            exe = Path(sys.executable).with_name("flushwatch")
            cmd = [str(exe), "import", str(path), "--store", str(Path(tmp) / "store"), "--json"]
            res = subprocess.run(cmd, capture_output=True, text=True, check=True)
            done = int(json.loads(res.stdout)["rows_added"])
            ru = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu_children = ru.ru_utime + ru.ru_stime
        else:
            from flushwatch.store import Store

            store = Store.open(Path(tmp) / "store")
            if mode == "stream":
                from flushwatch.api.stream_import import import_trades_streaming

                summary = import_trades_streaming(store, path, chunk_bytes=chunk_mb << 20)
            else:
                from flushwatch.ingest.registry import parse

                (summary,) = store.write([parse(path)])
            done = summary.rows_added["trades"]
        seconds = time.perf_counter() - t0
        cpu = time.process_time() - c0 + cpu_children
    who = resource.RUSAGE_CHILDREN if mode == "import" else resource.RUSAGE_SELF
    peak = resource.getrusage(who).ru_maxrss / 1024
    print(
        json.dumps(
            {"mode": mode, "seconds": seconds, "cpu_s": cpu, "rows": done, "peak_rss_mb": peak}
        )
    )


def run_child(mode: str, path: Path, rows: int, chunk_mb: int, cap_mb: float) -> dict[str, object]:
    """Run one measurement in a child process, killing it if its RSS passes ``cap_mb``."""
    cmd = [sys.executable, __file__, "--child", mode, str(path), str(rows), str(chunk_mb)]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True)
    status = Path(f"/proc/{proc.pid}/status")
    seen = 0.0
    while proc.poll() is None:
        try:
            for line in status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    seen = max(seen, int(line.split()[1]) / 1024)
        except OSError:
            pass
        if seen > cap_mb:
            proc.kill()
            proc.wait()
            return {"mode": mode, "killed_above_mb": cap_mb, "rows": rows}
        time.sleep(0.05)
    out = proc.stdout.read() if proc.stdout else ""
    if proc.returncode != 0:
        raise SystemExit(f"{mode} failed (exit {proc.returncode})")
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--phases":
        phases(Path(sys.argv[2]))
        return
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=30_000_000)
    ap.add_argument("--whole-rows", type=int, default=2_000_000)
    ap.add_argument("--chunk-mb", type=int, default=64)
    ap.add_argument("--rss-cap-mb", type=float, default=6000.0)
    ap.add_argument("--json", type=Path)
    ap.add_argument("--all", action="store_true", help="also the stream and whole-file paths")
    args = ap.parse_args()
    big = make_csv(args.rows)
    print(f"simulated file: {big} ({big.stat().st_size / 1e9:.2f} GB, {args.rows:,} rows)")
    results = [
        run_child("duckdb", big, args.rows, args.chunk_mb, args.rss_cap_mb),
        run_child("import", big, args.rows, args.chunk_mb, args.rss_cap_mb),
    ]
    if args.all:
        small = make_csv(args.whole_rows)
        results += [
            run_child("stream", big, args.rows, args.chunk_mb, args.rss_cap_mb),
            run_child("whole", small, args.whole_rows, args.chunk_mb, args.rss_cap_mb),
        ]
    print(
        f"{'mode':<8} {'rows':>12} {'seconds':>8} {'CPU s':>8} {'rows/s':>12} {'peak RSS MB':>12}"
    )
    for r in results:
        if "killed_above_mb" in r:
            print(f"{r['mode']:<8} {r['rows']:>12,} killed above {r['killed_above_mb']:.0f} MB")
            continue
        rate = float(r["rows"]) / float(r["seconds"])  # type: ignore[arg-type]
        r["rows_per_s"] = rate
        print(
            f"{r['mode']:<8} {r['rows']:>12,} {r['seconds']:>8.1f} {r['cpu_s']:>8.1f} "
            f"{rate:>12,.0f} {r['peak_rss_mb']:>12,.0f}"
        )
    dk = results[0]
    for st in results[1:]:
        if "rows_per_s" in dk and "rows_per_s" in st and st["rows"] == dk["rows"]:
            ratio = float(st["rows_per_s"]) / float(dk["rows_per_s"])  # type: ignore[arg-type]
            cpu = float(dk["cpu_s"]) / float(st["cpu_s"])  # type: ignore[arg-type]
            mem = float(st["peak_rss_mb"]) / float(dk["peak_rss_mb"])  # type: ignore[arg-type]
            print(
                f"{st['mode']} / duckdb: {ratio:.2f}x rows/s (wall), {cpu:.2f}x rows per CPU "
                f"second, {mem:.2f}x peak RSS"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
