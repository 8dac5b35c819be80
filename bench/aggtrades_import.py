"""aggTrades import in bounded memory: peak RSS and rows/s against DuckDB's read_csv.

Run: ``.venv/bin/python bench/aggtrades_import.py [--rows 30000000] [--whole-rows 2000000]
[--chunk-mb 64] [--json out.json]``

The file is **simulated** (labelled so in its name): the 21,313 real Binance USD-M BTCUSDT
trades of ``shared/data/hftbacktest-binance-ws-2024-08-08/usdm_btcusdt_20240808.gz`` written
as Vision aggTrades rows (``agg_trade_id,price,quantity,first_trade_id,last_trade_id,
transact_time,is_buyer_maker``, header as in the USDⓈ-M archive), repeated with ids and times
shifted by one copy's span each time until ``--rows`` rows (30 M ≈ a month of BTCUSDT aggTrades,
about 1.9 GB), in ``/tmp/flushwatch-bench-aggtrades/``.

Each measurement runs in its own child process (so each peak RSS, ``ru_maxrss``, is its own),
one after the other in the same run on the same file:

* ``duckdb``: ``COPY (SELECT * FROM read_csv(file)) TO parquet`` (DuckDB's own CSV reader and
  Parquet writer, default threads);
* ``flushwatch stream``: :func:`flushwatch.api.stream_import.import_trades_streaming` into a
  fresh store (validate every piece, then parse and write piece by piece);
* ``flushwatch whole``: what ``flushwatch import`` does today (``registry.parse`` of the whole
  file, then one ``Store.write``), on a smaller file of ``--whole-rows`` rows, with the
  parent killing it above ``--rss-cap-mb``, to show the per-row memory the stream avoids.

Goal (issue 11): the stream under 2 GB RSS and at ≥ 0.5× DuckDB's rows/s. Wall time and CPU
time (user + system of the child, all its threads) are both printed: on a machine shared with
other work DuckDB's threads take a larger share of the cores, so the wall ratio moves with the
load while rows per CPU second do not.
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


def child(mode: str, path: Path, rows: int, chunk_mb: int) -> None:
    """One measurement; prints a JSON line with seconds, rows and peak RSS (MB)."""
    with tempfile.TemporaryDirectory(prefix="fw-bench-") as tmp:
        t0 = time.perf_counter()
        c0 = time.process_time()
        if mode == "duckdb":
            import duckdb

            con = duckdb.connect()
            out = Path(tmp) / "out.parquet"
            con.execute(f"COPY (SELECT * FROM read_csv('{path}')) TO '{out}' (FORMAT parquet)")
            done = rows
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
        cpu = time.process_time() - c0
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
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
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], Path(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5]))
        return
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=30_000_000)
    ap.add_argument("--whole-rows", type=int, default=2_000_000)
    ap.add_argument("--chunk-mb", type=int, default=64)
    ap.add_argument("--rss-cap-mb", type=float, default=6000.0)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    big = make_csv(args.rows)
    small = make_csv(args.whole_rows)
    print(f"simulated file: {big} ({big.stat().st_size / 1e9:.2f} GB, {args.rows:,} rows)")
    results = [
        run_child("duckdb", big, args.rows, args.chunk_mb, args.rss_cap_mb),
        run_child("stream", big, args.rows, args.chunk_mb, args.rss_cap_mb),
        run_child("duckdb", small, args.whole_rows, args.chunk_mb, args.rss_cap_mb),
        run_child("stream", small, args.whole_rows, args.chunk_mb, args.rss_cap_mb),
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
    for dk, st in ((results[0], results[1]), (results[2], results[3])):
        if "rows_per_s" in dk and "rows_per_s" in st:
            ratio = float(st["rows_per_s"]) / float(dk["rows_per_s"])  # type: ignore[arg-type]
            cpu = float(dk["cpu_s"]) / float(st["cpu_s"])  # type: ignore[arg-type]
            print(
                f"stream / duckdb at {dk['rows']:,} rows: {ratio:.2f}x rows/s (wall), "
                f"{cpu:.2f}x rows per CPU second"
            )
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
