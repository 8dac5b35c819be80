"""The bulk import's fast path takes a file already in store order, and only such a file.

Input: the 21,313 real Binance USD-M BTCUSDT trades of ``shared/data/hftbacktest-binance-ws-
2024-08-08/usdm_btcusdt_20240808.gz`` as Vision aggTrades lines, the second half a day later
(:mod:`tests.ingest.test_bulk_trades`); the edits below are the only changes.
"""

from __future__ import annotations

import gzip
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pyarrow.parquet as pq
import pytest
from polars.testing import assert_frame_equal
from tests.ingest.test_bulk_trades import (
    NAME,
    Rows,
    agg_lines,
    assert_same_store,
    exact,
    real_trades,
    write,
)

from flushwatch.api.stream_import import import_trades_bulk
from flushwatch.ingest.stream_trades import trade_csv
from flushwatch.store import Store
from flushwatch.store.bulk import connect, csv_source
from flushwatch.store.bulk_ordered import Refused, Streamed, estimated_rows, write_in_order


@pytest.fixture(scope="module")
def trades(shared_data: Path) -> Rows:
    return real_trades(shared_data)


def stream(tmp: Path, path: Path, *, empty: bool = True) -> tuple[Streamed | Refused, Path]:
    """Run the fast path alone on ``path``; return its answer and its output folder."""
    spec = trade_csv(path)
    assert spec is not None
    out = tmp / "out"
    out.mkdir(parents=True)
    names = (out / f"{i}.parquet" for i in range(1_000))
    with connect(tmp / "spill") as con:
        got = write_in_order(
            con, spec, csv_source(spec), day_is_empty=lambda _d: empty, new_file=lambda: next(names)
        )
    return got, out


def test_a_file_in_store_order_is_streamed_to_the_parts_store_write_writes(
    tmp_path: Path, trades: Rows
) -> None:
    path = write(tmp_path / NAME, agg_lines(trades))
    got, _ = stream(tmp_path, path)
    assert isinstance(got, Streamed)
    assert got.rows == 21_313
    assert [d.day for d in got.days] == [19_943, 19_944]  # 2024-08-08 and -09
    ref = exact(tmp_path / "ref", path)
    for day, files in zip(got.days, ref.partitions(), strict=True):
        (part,) = files
        assert day.rows == pq.read_metadata(part).num_rows
        assert pq.read_schema(day.path) == pq.read_schema(part)
        assert pq.read_metadata(day.path).num_row_groups == pq.read_metadata(part).num_row_groups
        assert_frame_equal(pl.read_parquet(day.path), pl.read_parquet(part))


def _ids(make: Callable[[int, int], str]) -> Callable[[list[str]], list[str]]:
    """Replace the id (and first/last ids) of line ``i`` by ``make(i, id)``."""

    def edit(lines: list[str]) -> list[str]:
        out = []
        for i, line in enumerate(lines):
            tid, _, rest = line.partition(",")
            new = make(i, int(tid))
            f = rest.split(",")
            out.append(",".join([new, f[0], f[1], new, new, *f[4:]]))
        return out

    return edit


def _swap(lines: list[str]) -> list[str]:
    return [*lines[:100], lines[5_000], *lines[101:5_000], lines[100], *lines[5_001:]]


def _maker(lines: list[str]) -> list[str]:
    return [
        *lines[:50],
        lines[50].replace(",true", ",True").replace(",false", ",False"),
        *lines[51:],
    ]


@pytest.mark.parametrize(
    ("edit", "reason"),
    [
        # ids 1..21,313 rise, but "10" sorts before "9": the store's string order differs
        (_ids(lambda i, _t: str(i + 1)), "ids of several lengths"),
        (_ids(lambda _i, t: f"0{t}"), "an id with a leading zero, or empty"),
        # the sorted path trims it, as the exact reader does
        (_ids(lambda i, t: f" {t}" if i == 7 else str(t)), "ids of several lengths"),
        # "1e004" is 10000 to DuckDB, rising before 10001, but not a plain integer
        (_ids(lambda i, _t: "1e004" if i == 0 else str(10_000 + i)), "an id that is not a"),
        (_swap, "times fall"),
        (_maker, "a value is missing, not of its kind, or a maker flag"),
    ],
)
def test_a_file_not_proved_in_order_is_refused_and_sorted_as_store_write(
    tmp_path: Path, trades: Rows, edit: Callable[[list[str]], list[str]], reason: str
) -> None:
    path = write(tmp_path / NAME, edit(agg_lines(trades)))
    got, out = stream(tmp_path, path)
    assert isinstance(got, Refused)
    assert got.reason.startswith(reason)
    assert not list(out.iterdir())  # nothing left behind
    store = Store.open(tmp_path / "bulk")
    assert import_trades_bulk(store, path).rows_added == {"trades": 21_313}
    assert_same_store(store, exact(tmp_path / "ref", path))


def test_a_day_already_stored_or_a_bad_last_row_is_refused_after_writing(
    tmp_path: Path, trades: Rows
) -> None:
    """The refusal comes after day files were begun; they are removed."""
    lines = agg_lines(trades)
    path = write(tmp_path / NAME, [*lines[:-1], lines[-1].replace(",", ",-", 1)])
    got, out = stream(tmp_path, path)
    assert got == Refused("a price out of bounds")
    assert not list(out.iterdir())
    (tmp_path / "b").mkdir()
    got, out = stream(tmp_path / "b", write(tmp_path / "b" / NAME, lines), empty=False)
    assert got == Refused("a day of the file already holds rows (de-duplication)")
    assert not list(out.iterdir())


def test_estimated_rows_for_progress(tmp_path: Path, trades: Rows) -> None:
    path = write(tmp_path / NAME, agg_lines(trades))
    gz = tmp_path / (NAME + ".gz")
    gz.write_bytes(gzip.compress(path.read_bytes()))
    for f in (path, gz):
        est = estimated_rows(f)
        assert est is not None
        assert abs(est - 21_314) < 21_314 * 0.02  # header + rows, from the first MB


def seven_copies(trades: Rows) -> Rows:
    """Seven copies of the first half (3.8 minutes of 2024-08-08, moved 12 hours earlier),
    ids and times shifted past the previous copy: 74,592 rows in one day, in order, read as
    two Arrow batches (65,536 + 9,056 rows)."""
    half = trades[: len(trades) // 2]
    span = half[-1][3] - half[0][3] + 1
    return [
        (t + k * 10**8, p, q, ts - 12 * 3_600_000 + k * span, m)
        for k in range(7)
        for t, p, q, ts, m in half
    ]


@pytest.mark.parametrize(
    ("field", "reason"), [(3, "times fall"), (0, "ids do not rise")], ids=["time", "id"]
)
def test_the_proof_carries_across_batches(
    tmp_path: Path, trades: Rows, field: int, reason: str
) -> None:
    """The first row of the second batch steps back from the last of the first (its time 1
    ms earlier, or its id equal): in order within each batch, not across them."""
    rows = seven_copies(trades)
    prev, row = rows[65_535], list(rows[65_536])
    row[field] = prev[field] - 1 if field == 3 else prev[field]
    rows[65_536] = (row[0], row[1], row[2], row[3], row[4])
    got, out = stream(tmp_path, write(tmp_path / NAME, agg_lines(rows)))
    assert got == Refused(reason)
    assert not list(out.iterdir())


def test_many_batches_and_row_groups_in_order_equal_the_exact_path(
    tmp_path: Path, trades: Rows
) -> None:
    """:func:`seven_copies`: one day's part of two row groups, as the exact path writes."""
    rows = seven_copies(trades)
    path = write(tmp_path / NAME, agg_lines(rows))
    got, _ = stream(tmp_path / "alone", path)  # the fast path takes it
    assert isinstance(got, Streamed)
    assert (got.rows, len(got.days)) == (74_592, 1)
    store = Store.open(tmp_path / "bulk")
    assert import_trades_bulk(store, path).rows_added == {"trades": 74_592}
    assert_same_store(store, exact(tmp_path / "ref", path))
    ((part,),) = store.partitions()
    meta = pq.read_metadata(part)
    assert [meta.row_group(i).num_rows for i in range(meta.num_row_groups)] == [65_536, 9_056]
