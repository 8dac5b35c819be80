"""The DuckDB bulk path stores exactly what the exact readers and ``Store.write`` store.

Input: the 21,313 real Binance USD-M BTCUSDT trades of ``shared/data/hftbacktest-binance-ws-
2024-08-08/usdm_btcusdt_20240808.gz`` (PROVENANCE.md) written in Binance Vision's aggTrades
and trades layouts (the shared data holds no Vision trades file), the second half moved one
day later so the file spans two day partitions.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal
from typer.testing import CliRunner

from flushwatch.api.stream_import import BULK_MIN_BYTES, import_trades_bulk
from flushwatch.cli.app import app
from flushwatch.domain.records import Trade
from flushwatch.errors import ParseError
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.store.schema import SCHEMAS

HFT = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
AGG = "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker"
DAY_MS = 86_400_000
NAME = "um-BTCUSDT-aggTrades-2024-08-08.csv"
Rows = list[tuple[int, str, str, int, bool]]


@pytest.fixture(scope="module")
def trades(shared_data: Path) -> Rows:
    return real_trades(shared_data)


def real_trades(shared_data: Path) -> Rows:
    """(id, price, qty, time ms, buyer is maker) of every real trade; the second half a day on."""
    out = []
    with gzip.open(shared_data.joinpath(*HFT), "rt") as fh:
        for line in fh:
            msg = json.loads(line.partition(" ")[2])
            if msg.get("stream", "").endswith("@trade"):
                d = msg["data"]
                out.append((d["t"], d["p"], d["q"], d["T"], d["m"]))
    assert len(out) == 21_313
    half = len(out) // 2
    return out[:half] + [(t, p, q, ts + DAY_MS, m) for t, p, q, ts, m in out[half:]]


def agg_lines(trades: Rows) -> list[str]:
    return [f"{t},{p},{q},{t},{t},{ts},{str(m).lower()}" for t, p, q, ts, m in trades]


def write(path: Path, lines: list[str], header: str | None = AGG) -> Path:
    path.write_text((header + "\n" if header else "") + "\n".join(lines) + "\n")
    return path


def big_lines(trades: Rows) -> list[str]:
    """Copies of the aggTrades lines, ids shifted per copy, up to the bulk threshold."""
    base = agg_lines(trades)
    copies = BULK_MIN_BYTES // sum(len(x) + 1 for x in base) + 1
    lines = []
    for k in range(copies):  # every row distinct, times unchanged
        lines += [f"{int(x.split(',', 1)[0]) + k * 10**8},{x.split(',', 1)[1]}" for x in base]
    return lines


def exact(tmp: Path, *files: Path) -> Store:
    """A store written by the exact reader and ``Store.write``, one file at a time."""
    store = Store.open(tmp)
    for f in files:
        store.write([parse(f)])
    return store


def assert_same_store(bulk: Store, ref: Store) -> None:
    assert_frame_equal(bulk.read(Trade), ref.read(Trade))
    a, b = bulk.partitions(), ref.partitions()
    assert [[p.name for p in d] for d in a] == [[p.name for p in d] for d in b]
    for files_a, files_b in zip(a, b, strict=True):
        for fa, fb in zip(files_a, files_b, strict=True):
            sa, sb = pq.read_schema(fa), pq.read_schema(fb)
            assert (
                sa.remove_metadata() == sb.remove_metadata() == SCHEMAS["trades"].remove_metadata()
            )
            assert sa.metadata[b"flushwatch.schema"] == sb.metadata[b"flushwatch.schema"]
            assert pq.read_metadata(fa).num_row_groups == pq.read_metadata(fb).num_row_groups
            assert_frame_equal(pl.read_parquet(fa), pl.read_parquet(fb))  # same rows, same order
    assert [i.symbol for i in bulk.instruments()] == [i.symbol for i in ref.instruments()]


def test_aggtrades_rows_equal_the_exact_path(tmp_path: Path, trades: Rows) -> None:
    path = write(tmp_path / NAME, agg_lines(trades))
    store = Store.open(tmp_path / "bulk")
    summary = import_trades_bulk(store, path)
    assert summary.rows_read == summary.rows_added == {"trades": 21_313}
    assert summary.format == "binance-vision-agg-trades"
    ref = exact(tmp_path / "ref", path)
    assert_same_store(store, ref)
    assert len(store.partitions()) == 2  # 2024-08-08 and the shifted 2024-08-09
    ledger = [json.loads(x) for x in (tmp_path / "bulk" / "imports.jsonl").read_text().splitlines()]
    assert [x["rows_added"] for x in ledger] == [{"trades": 21_313}]
    # point-in-time reads: any window gives the rows the exact path gives
    t = store.read(Trade).get_column("ts_event")
    lo, hi = int(t[5_000]), int(t[15_000])
    for start, end in ((None, lo), (lo, hi), (hi, None)):
        assert_frame_equal(
            store.read(Trade, start_ns=start, end_ns=end),
            ref.read(Trade, start_ns=start, end_ns=end),
        )


def test_trades_layout_gz_and_zip_equal_the_exact_path(tmp_path: Path, trades: Rows) -> None:
    """Header-less Vision ``trades`` (id,price,qty,quote_qty,time,is_buyer_maker,is_best_match),
    plain, gzipped and zipped with its CHECKSUM."""
    lines = [
        f"{t},{p},{q},{float(p) * float(q)},{ts},{str(m).lower()},true"
        for t, p, q, ts, m in trades[:4_000]
    ]
    plain = write(tmp_path / "um-BTCUSDT-trades-2024-08-08.csv", lines, header=None)
    ref = exact(tmp_path / "ref", plain)
    gz = tmp_path / "gz" / (plain.name + ".gz")
    gz.parent.mkdir()
    gz.write_bytes(gzip.compress(plain.read_bytes()))
    zp = tmp_path / "zip" / "um-BTCUSDT-trades-2024-08-08.zip"
    zp.parent.mkdir()
    with zipfile.ZipFile(zp, "w") as zf:
        zf.writestr(plain.name, plain.read_bytes())
    digest = hashlib.sha256(zp.read_bytes()).hexdigest()
    zp.with_name(zp.name + ".CHECKSUM").write_text(f"{digest}  {zp.name}\n")
    for i, path in enumerate((plain, gz, zp)):
        store = Store.open(tmp_path / f"bulk{i}")
        summary = import_trades_bulk(store, path)
        assert summary.format == "binance-vision-trades"
        assert summary.rows_added == {"trades": 4_000}
        assert_same_store(store, ref)


@pytest.mark.parametrize(
    ("row", "edit", "field"),
    [
        (20_000, lambda s: s.replace(",", ",x", 1), "price"),  # not a number (DuckDB's read)
        (7, lambda s: s.replace(",false", ",maybe").replace(",true", ",maybe"), "is_buyer_maker"),
        (12_345, lambda s: ",".join([*s.split(",")[:5], "99", s.split(",")[6]]), "transact_time"),
        (3, lambda s: s.replace(",", ",-", 1), "price"),  # a price below zero (SQL check)
        (15_000, lambda s: ",".join([*s.split(",")[:2], "", *s.split(",")[3:]]), "qty"),
    ],
)
def test_a_bad_value_is_the_exact_readers_error_and_writes_nothing(
    tmp_path: Path, trades: Rows, row: int, edit: object, field: str
) -> None:
    lines = agg_lines(trades)
    lines[row] = edit(lines[row])  # type: ignore[operator]
    path = write(tmp_path / NAME, lines)
    with pytest.raises(ParseError) as want:
        parse(path)
    store = Store.open(tmp_path / "store")
    with pytest.raises(ParseError) as got:
        import_trades_bulk(store, path)
    assert (got.value.line, got.value.field) == (row + 2, field)  # header + row, 1-based
    assert str(got.value) == str(want.value)
    assert store.datasets() == []
    assert (
        not (tmp_path / "store" / "imports.jsonl").exists()
        or not (tmp_path / "store" / "imports.jsonl").read_text()
    )
    assert not list((tmp_path / "store").glob(".staging-*"))


def test_rerun_adds_nothing_and_leaves_the_store_byte_identical(
    tmp_path: Path, trades: Rows
) -> None:
    path = write(tmp_path / NAME, agg_lines(trades))
    store = Store.open(tmp_path / "store")
    import_trades_bulk(store, path)
    before = {p: p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file()}
    again = import_trades_bulk(store, path)
    assert again.rows_added == {"trades": 0}
    assert again.seen_before
    after = {p: p.read_bytes() for p in (tmp_path / "store").rglob("*") if p.is_file()}
    assert after == before


def test_overlap_and_repeats_deduplicate_as_store_write(tmp_path: Path, trades: Rows) -> None:
    """Rows 0..12,000 stored first; the file holds all rows plus 100 repeated lines."""
    lines = agg_lines(trades)
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    first = write(tmp_path / "a" / NAME, lines[:12_000])
    full = write(tmp_path / "b" / NAME, lines + lines[500:600])
    store = exact(tmp_path / "bulk", first)
    summary = import_trades_bulk(store, full)
    assert summary.rows_read == {"trades": 21_413}
    assert summary.rows_added == {"trades": 21_313 - 12_000}
    ref = exact(tmp_path / "ref", first, full)
    assert_same_store(store, ref)


def test_flushwatch_import_takes_the_bulk_path_for_a_large_file(
    tmp_path: Path, trades: Rows
) -> None:
    """A file over the threshold, through the CLI: rows as the exact path, a rerun adds 0."""
    lines = big_lines(trades)
    path = write(tmp_path / NAME, lines)
    assert path.stat().st_size >= BULK_MIN_BYTES
    runner = CliRunner()
    res = runner.invoke(app, ["import", str(path), "--store", str(tmp_path / "s"), "--json"])
    assert res.exit_code == 0, res.output
    doc = json.loads(res.stdout)
    assert doc["rows_added"] == len(lines)
    res = runner.invoke(app, ["import", str(path), "--store", str(tmp_path / "s"), "--json"])
    assert json.loads(res.stdout)["rows_added"] == 0


def test_a_killed_import_leaves_nothing_and_a_rerun_completes_it(
    tmp_path: Path, trades: Rows
) -> None:
    """SIGKILL while the bulk write runs (its staging folder exists): the file is in the store
    whole or not at all, and the same import run again completes it, every row once."""
    lines = big_lines(trades)
    path = write(tmp_path / NAME, lines)
    store_dir = tmp_path / "s"
    exe = Path(sys.executable).with_name("flushwatch")
    cmd = [str(exe), "import", str(path), "--store", str(store_dir), "--json"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not list(store_dir.glob(".staging-*")) and proc.poll() is None:
        assert time.monotonic() < deadline
        time.sleep(0.005)
    proc.kill()
    assert proc.wait() == -signal.SIGKILL
    store = Store.open(store_dir)  # rolls back what the dead writer left
    assert not list(store_dir.glob(".staging-*"))
    held = store.read(Trade).height
    assert held == 0  # killed with the write staged: nothing of the file is visible
    assert import_trades_bulk(store, path).rows_added == {"trades": len(lines)}
    assert import_trades_bulk(store, path).rows_added == {"trades": 0}
    assert store.read(Trade).height == len(lines)
