"""Import throughput: flushwatch's parse+validate (and +store write) against DuckDB's own reader.

Run: ``.venv/bin/python bench/import_throughput.py [--repeat 5] [--json out.json]``

What is measured, on two real files from ``../shared/data`` (found by size every run):

* ``csv``: the largest ``*.csv`` (today the CoinGlass 5-minute BTC regime export);
* ``largest``: the largest file of any kind (today hftbacktest's Binance USD-M
  ``usdm_btcusdt_20240808.gz``, gzip text of ``<ns> <json>`` websocket lines).

For each file, one warm-up round then ``--repeat`` timed rounds, the three measurements
interleaved in every round (medians reported):

* ``flushwatch parse``: ``registry.parse(path)``: format detection, decoding, validation;
  rows are the records produced (sum over all datasets the file yields);
* ``flushwatch parse+write``: the same plus ``Store.write`` into a fresh empty temp store
  (dedup, partitioning, zstd Parquet, ledger), i.e. what ``flushwatch import`` does;
* ``duckdb``: DuckDB reading the same file in the same process (one connection, opened
  before timing), the result materialised as a Polars frame (``.pl()``, what flushwatch's
  parse produces too):

  - the CSV: ``SELECT * FROM read_csv('<file>')``, i.e. DuckDB's default path with format
    sniffing, every column typed and fetched (on a file this small the sniffer is about
    half of DuckDB's time);
  - the lines file: ``read_csv`` of the gzip as one VARCHAR column, the leading nanosecond
    stamp split off at the first space and cast to BIGINT, and the JSON parsed once per line
    by ``json_extract_string(frame, ['$.stream', '$.data.e', '$.data.E', '$.data.s'])``
    (a list of paths parses the document once);

  rows are CSV data rows or lines of the lines file.

How to read the ratios: ``x DuckDB time`` is flushwatch's median wall time divided by
DuckDB's median on the same file in the same run: 2.0 means flushwatch takes twice as long as
DuckDB needs to read and parse the same bytes, below 1.0 means flushwatch is faster. Rows
differ between the two sides (one lines-file line becomes many book rows; one CSV row becomes
a bar, an OI row and sometimes a funding row), so compare times, not rows/s; rows/s and MB/s
show absolute throughput on this machine. The ratios are informational, never pass/fail:
DuckDB neither validates nor normalises, and it extracts only four JSON fields per line where
flushwatch decodes every book level.
"""

from __future__ import annotations

import shutil
import tempfile
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

from flushwatch.ingest.base import Parsed
from flushwatch.ingest.registry import detect, parse
from flushwatch.store import Store
from flushwatch.testing.shared import data_path

LINES_FORMAT = "ws-lines"


def largest(root: Path, pattern: str) -> Path:
    files = [p for p in root.rglob(pattern) if p.is_file()]
    if not files:
        raise SystemExit(f"no {pattern} files under {root}")
    return max(files, key=lambda p: p.stat().st_size)


def _sql_str(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def duckdb_reader(path: Path, fmt: str) -> tuple[str, str]:
    """(description, SQL) of DuckDB's comparable read of ``path``."""
    if path.suffix.lower() == ".csv":
        return "read_csv, all columns", f"SELECT * FROM read_csv({_sql_str(path)})"
    if fmt == LINES_FORMAT:
        lines = (
            f"read_csv({_sql_str(path)}, columns={{'line': 'VARCHAR'}}, header=false, "
            "delim='\x01', quote='', escape='', compression='auto', max_line_size=100000000)"
        )
        sql = (
            "SELECT CAST(split_part(line, ' ', 1) AS BIGINT) AS ts_recv, "
            "json_extract_string(substr(line, strpos(line, ' ') + 1), "
            "['$.stream', '$.data.e', '$.data.E', '$.data.s']) AS fields "
            f"FROM {lines}"
        )
        return "read_csv lines + split + json_extract", sql
    raise SystemExit(f"{path}: no DuckDB comparison defined for format {fmt!r}")


def records(parsed: Parsed) -> int:
    return sum(df.height for df in parsed.frames.values())


def bench_file(label: str, path: Path, repeat: int) -> dict[str, Any]:
    fmt = detect(path).name
    what, sql = duckdb_reader(path, fmt)
    con = duckdb.connect()
    tmp: list[Path] = []

    def fresh_dir() -> None:
        tmp.append(Path(tempfile.mkdtemp(prefix="flushwatch-bench-")))

    def drop_dir() -> None:
        shutil.rmtree(tmp.pop(), ignore_errors=True)

    def parse_and_write() -> int:
        store = Store.open(tmp[-1] / "store")
        summaries = store.write([parse(path)])
        return sum(s.added for s in summaries)

    runs = measure(
        [
            Case("flushwatch parse", lambda: parse(path)),
            Case("flushwatch parse+write", parse_and_write, setup=fresh_dir, teardown=drop_dir),
            Case("duckdb", lambda: con.sql(sql).pl()),
        ],
        repeat,
    )
    con.close()
    parse_t, parsed = runs["flushwatch parse"]
    write_t, added = runs["flushwatch parse+write"]
    duck_t, duck_frame = runs["duckdb"]
    assert isinstance(parsed, Parsed)
    assert isinstance(duck_frame, pl.DataFrame)
    n_records = records(parsed)
    per_dataset = {cls.dataset: df.height for cls, df in parsed.frames.items()}
    n_lines = duck_frame.height
    duck_unit = "CSV rows" if path.suffix.lower() == ".csv" else "lines"
    del parsed, duck_frame, runs

    def row(t: Timing, rows: int, unit: str) -> dict[str, Any]:
        return {
            **t.as_dict(),
            "rows": rows,
            "row_unit": unit,
            "rows_per_s": rows / t.median,
            "mb_per_s": path.stat().st_size / 1e6 / t.median,
            "x_duckdb_time": t.median / duck_t.median,
        }

    return {
        "label": label,
        "path": str(path),
        "bytes": path.stat().st_size,
        "format": fmt,
        "records_by_dataset": per_dataset,
        "rows_added_to_store": added,
        "duckdb_query": what,
        "results": [
            row(parse_t, n_records, "records"),
            row(write_t, n_records, "records"),
            row(duck_t, n_lines, duck_unit),
        ],
    }


def main() -> None:
    parser = common_args(__doc__.splitlines()[0] if __doc__ else "")
    args = parser.parse_args()
    out = text_out(args.json)
    info = machine_info()
    print_machine(info, out)
    root = data_path()
    files = [("csv", largest(root, "*.csv")), ("largest", largest(root, "*"))]
    results = []
    for label, path in files:
        size_mb = path.stat().st_size / 1e6
        print(f"\n[{label}] {path.relative_to(root)} ({size_mb:.2f} MB)", file=out)
        res = bench_file(label, path, args.repeat)
        results.append(res)
        print(
            f"format {res['format']}; records: "
            + ", ".join(f"{k} {v:,}" for k, v in res["records_by_dataset"].items())
            + f"; duckdb: {res['duckdb_query']}",
            file=out,
        )
        print_table(
            ["measurement", "rows", "median s", "rows/s", "MB/s", "x DuckDB time"],
            [
                (
                    r["name"],
                    f"{r['rows']:,} {r['row_unit']}",
                    r["median_s"],
                    r["rows_per_s"],
                    r["mb_per_s"],
                    r["x_duckdb_time"],
                )
                for r in res["results"]
            ],
            out,
        )
    print(
        f"\nmedian of {args.repeat} runs after 1 warm-up; 'x DuckDB time' = flushwatch time / "
        "DuckDB time on the same file (lower is better, 1.0 = as fast as DuckDB's reader)",
        file=out,
    )
    write_json(
        args.json,
        {
            "benchmark": "import_throughput",
            "repeat": args.repeat,
            "machine": info,
            "files": results,
        },
    )


if __name__ == "__main__":
    main()
