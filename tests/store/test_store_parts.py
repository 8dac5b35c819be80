"""Append-only day partitions: part files, size-tiered merges, compaction, and what must not
change because of them (content, de-duplication, atomicity, byte-neutral re-imports, reads).

Rows built by ``_trade`` are constructed test data (not market data); the ``real_*`` tests
import the real hftbacktest recording from ``<shared>/data``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import msgspec
import polars as pl
import pyarrow.parquet as pq
import pytest
from hypothesis import given
from hypothesis import strategies as st
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.domain import Market, Side, Trade
from flushwatch.domain.records import BookUpdate, Quote, Record
from flushwatch.domain.tables import frame_from_records
from flushwatch.errors import StoreError
from flushwatch.ingest.base import Parsed
from flushwatch.ingest.registry import parse
from flushwatch.store import Store, io
from flushwatch.store.parts import FANOUT, Merge, part_name, plan_merges, tier
from flushwatch.store.schema import SCHEMAS

DAY = 86_400 * 10**9
T0 = 1_723_161_600 * 10**9  # 2024-08-09T00:00:00Z
D1, D2 = "2024-08-09", "2024-08-10"
REAL = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")


def _trade(i: int, *, day: int = 0, ts_recv: int | None = None) -> Trade:
    return Trade(
        ts_event=T0 + day * DAY + i * 10**6,
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        ts_recv=ts_recv,
        price=60_000.0 + i % 97,
        qty=0.001 * (i % 13 + 1),
        taker_side=Side.BUY if i % 2 else Side.SELL,
        trade_id=str(i),
    )


def _parsed(path: Path, trades: list[Trade]) -> Parsed:
    path.write_text("\n".join(str(t) for t in trades) or "empty")
    p = Parsed(path=path, format="test")
    p.add(Trade, frame_from_records(Trade, trades, lines=range(1, len(trades) + 1)))
    return p


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def _names(store: Store, day: str = D1) -> list[str]:
    folder = store.partition_path("trades", "binanceusdm", "perp", "BTCUSDT", day).parent
    return sorted(p.name for p in folder.glob(f"{day}*.parquet"))


def _write_batches(store: Store, tmp: Path, batches: list[list[Trade]], tag: str) -> int:
    added = 0
    for n, batch in enumerate(batches):
        added += store.write([_parsed(tmp / f"{tag}{n}.txt", batch)])[0].added
    return added


# -- the merge plan --------------------------------------------------------------------------


def test_tiers_are_powers_of_four() -> None:
    assert [tier(n) for n in (0, 1, 3, 4, 15, 16, 63, 64, 6_400, 100_000_000)] == [
        0,
        0,
        0,
        1,
        1,
        2,
        2,
        3,
        6,
        13,
    ]


def test_a_full_tier_merges_into_its_oldest_part() -> None:
    assert plan_merges({0: 1_000, 3: 10, 5: 10, 7: 10}) == []
    assert plan_merges({0: 1_000, 3: 10, 5: 10, 7: 10, 8: 12}) == [Merge((3, 5, 7, 8), 3)]


@given(st.lists(st.integers(min_value=1, max_value=5_000), min_size=1, max_size=300))
def test_property_tiered_merging_is_n_log_n_with_log_n_files(batches: list[int]) -> None:
    """Replaying the write path's bookkeeping: each row is rewritten at most once per tier,
    and no tier keeps FANOUT parts, whatever the batch sizes."""
    sizes: dict[int, int] = {}
    written = 0
    for rows in batches:
        seq = max(sizes, default=-1) + 1
        sizes[seq] = rows
        written += rows
        for m in plan_merges(sizes):
            merged = sum(sizes.pop(s) for s in m.inputs)
            sizes[m.output] = merged
            written += merged
        per_tier: dict[int, int] = {}
        for n in sizes.values():
            per_tier[tier(n)] = per_tier.get(tier(n), 0) + 1
        assert max(per_tier.values()) < FANOUT
    n = sum(batches)
    assert sum(sizes.values()) == n
    assert written <= n * (tier(n) + 1)
    assert len(sizes) <= (FANOUT - 1) * (tier(n) + 1)


# -- writes ----------------------------------------------------------------------------------


def test_many_small_writes_equal_one_big_write(tmp_path: Path) -> None:
    trades = [_trade(i) for i in range(300)]
    one = Store.open(tmp_path / "one")
    one.write([_parsed(tmp_path / "all.txt", trades)])
    many = Store.open(tmp_path / "many")
    batches = [trades[k : k + 5] for k in range(0, 300, 5)]  # 60 writes of 5 rows
    assert _write_batches(many, tmp_path, batches, "b") == 300
    assert _names(one) == [f"{D1}.parquet"]
    # Parts of 5 rows (tier 1) merge 4 by 4 into 20 (tier 2), those 4 by 4 into 80 (tier 3):
    # 60 writes leave 3 parts of 80 and 3 of 20, numbered from 0 as merges free numbers.
    assert _names(many) == [part_name(D1, s) for s in range(6)]
    assert _rows(many) == [80, 80, 80, 20, 20, 20]
    assert one.read(Trade).equals(many.read(Trade))
    assert one.series() == many.series()


def _rows(store: Store, day: str = D1) -> list[int]:
    folder = store.partition_path("trades", "binanceusdm", "perp", "BTCUSDT", day).parent
    return [pq.read_metadata(folder / n).num_rows for n in _names(store, day)]


def test_overlapping_and_duplicate_batches_add_nothing_twice(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    assert _write_batches(store, tmp_path, [[_trade(i) for i in range(100)]], "a") == 100
    # Half old, half new: only the new half is added, as a second part.
    second = store.write([_parsed(tmp_path / "b.txt", [_trade(i) for i in range(50, 150)])])
    assert second[0].rows_added == {"trades": 50}
    assert _rows(store) == [100, 50]
    data = _snapshot(store.root / "trades")
    # Everything again under a new file name, with another receive time: nothing is new.
    again = [_trade(i, ts_recv=T0 + 5) for i in range(150)]
    third = store.write([_parsed(tmp_path / "c.txt", again)])
    assert third[0].rows_added == {"trades": 0}
    assert third[0].seen_before is False
    assert _snapshot(store.root / "trades") == data  # no part written, no byte changed
    # Two files of one write that overlap each other: each is credited with what it added.
    p1 = _parsed(tmp_path / "d.txt", [_trade(i) for i in range(140, 170)])
    p2 = _parsed(tmp_path / "e.txt", [_trade(i) for i in range(160, 200)])
    s1, s2 = store.write([p1, p2])
    assert (s1.rows_added, s2.rows_added) == ({"trades": 20}, {"trades": 30})
    df = store.read(Trade)
    assert df.height == 200
    assert df.get_column("trade_id").to_list() == [str(i) for i in range(200)]


def test_duplicates_spanning_a_merge_are_found(tmp_path: Path) -> None:
    """Rows already merged into a big part are still found by the windowed read."""
    store = Store.open(tmp_path / "store")
    _write_batches(
        store, tmp_path, [[_trade(i) for i in range(k, k + 5)] for k in range(0, 80, 5)], "a"
    )
    assert _rows(store) == [80]
    summary = store.write([_parsed(tmp_path / "b.txt", [_trade(i) for i in range(3, 90, 7)])])
    assert summary[0].rows_added == {"trades": 2}  # ids 80 and 87 are new, 3..73 are not
    assert store.read(Trade).height == 82


def test_failed_write_mid_commit_leaves_store_exactly_as_before(tmp_path: Path) -> None:
    """A real OS failure after day 1 merged its parts restores every file, ledger included."""
    store = Store.open(tmp_path / "store")
    _write_batches(store, tmp_path, [[_trade(i) for i in range(k, k + 5)] for k in (0, 5, 10)], "a")
    assert _names(store) == [part_name(D1, s) for s in range(3)]
    # A directory where day 2's first part must go makes the swap fail after day 1's merge
    # replaced part 0 and deleted parts 1 and 2.
    blocker = store.partition_path("trades", "binanceusdm", "perp", "BTCUSDT", D2)
    blocker.mkdir(parents=True)
    before = _snapshot(store.root)
    batch = [_trade(i) for i in range(15, 20)] + [_trade(0, day=1)]
    with pytest.raises(OSError, match=rf"{D2}\.parquet"):
        store.write([_parsed(tmp_path / "b.txt", batch)])
    assert _snapshot(store.root) == before
    assert not list(store.root.glob(".staging-*"))
    blocker.rmdir()
    store.write([_parsed(tmp_path / "b.txt", batch)])  # the same write, unblocked
    assert _names(store) == [f"{D1}.parquet"]
    assert _rows(store) == [20]
    assert _rows(store, D2) == [1]


_CHILD = """
import os, signal, sys
from pathlib import Path
import msgspec
from flushwatch.domain import Trade
from flushwatch.domain.tables import frame_from_records
from flushwatch.errors import StoreError
from flushwatch.ingest.base import Parsed
from flushwatch.store import Store

root, batch, kill_at = Path(sys.argv[1]).resolve(), Path(sys.argv[2]), int(sys.argv[3])
trades = msgspec.json.decode(batch.read_bytes(), type=list[Trade])
parsed = Parsed(path=batch, format="test")
parsed.add(Trade, frame_from_records(Trade, trades))
store = Store.open(root)
changes = 0

def in_store(path):
    p = os.fsdecode(path)
    return p.startswith(str(root)) and ".staging-" not in p and not p.endswith(".lock")

def hook(event, args):
    # Count every change to a store file (hard link, rename, unlink, ledger append) and die
    # by SIGKILL just before change number kill_at: a real crash at that exact point.
    global changes
    if event in ("os.rename", "os.link"):
        paths = args[:2]
    elif event == "os.remove" or (event == "open" and "a" in str(args[1] or "")):
        paths = args[:1]
    else:
        return
    if any(isinstance(x, (str, bytes, os.PathLike)) and in_store(x) for x in paths):
        if changes == kill_at:
            os.kill(os.getpid(), signal.SIGKILL)
        changes += 1

sys.addaudithook(hook)
store.write([parsed])
print(changes)
"""


def test_a_writer_killed_at_any_point_of_its_commit_is_undone(tmp_path: Path) -> None:
    """SIGKILL before each file change of a commit (merge, deletes, new day, ledger): the
    next open restores the store byte for byte; without a kill it equals an in-process write."""
    setup = Store.open(tmp_path / "setup")
    _write_batches(setup, tmp_path, [[_trade(i) for i in range(k, k + 5)] for k in (0, 5, 10)], "a")
    before = _snapshot(setup.root)
    batch = tmp_path / "batch.json"
    batch.write_bytes(msgspec.json.encode([_trade(i) for i in range(15, 20)] + [_trade(0, day=1)]))

    def child(root: Path, kill_at: int) -> subprocess.CompletedProcess[str]:
        shutil.copytree(setup.root, root)
        cmd = [sys.executable, "-c", _CHILD, str(root), str(batch), str(kill_at)]
        return subprocess.run(cmd, capture_output=True, text=True, check=False)

    done = child(tmp_path / "done", 10**6)
    assert done.returncode == 0, done.stderr
    # merge into part 0 (link, rename), delete parts 1 and 2 (link, unlink each), day 2's
    # first part (rename), ledger (append)
    assert int(done.stdout) == 8
    shutil.copytree(setup.root, tmp_path / "expected")
    expected = Store.open(tmp_path / "expected")
    parsed = Parsed(path=batch, format="test")
    parsed.add(
        Trade, frame_from_records(Trade, msgspec.json.decode(batch.read_bytes(), type=list[Trade]))
    )
    expected.write([parsed])
    assert _snapshot(tmp_path / "done") == _snapshot(expected.root) != before
    for kill_at in range(8):
        root = tmp_path / f"killed{kill_at}"
        killed = child(root, kill_at)
        assert killed.returncode == -signal.SIGKILL, killed.stderr
        assert list(root.glob(".staging-*")), "the kill must leave the transaction behind"
        Store.open(root)
        assert _snapshot(root) == before, f"killed before change {kill_at}"
        assert not list(root.glob(".staging-*"))


def test_reimport_of_every_batch_changes_no_byte(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    batches = [[_trade(i, day=i % 2) for i in range(k, k + 7)] for k in range(0, 70, 7)]
    _write_batches(store, tmp_path, batches, "a")
    assert len(_names(store)) > 1
    before = _snapshot(store.root)
    for n, batch in enumerate(batches):
        (summary,) = store.write([_parsed(tmp_path / f"a{n}.txt", batch)])
        assert summary.seen_before
        assert summary.added == 0
    assert _snapshot(store.root) == before


def test_a_store_written_by_the_one_file_layout_is_appended_to(tmp_path: Path) -> None:
    """Stores written before parts existed hold one unsorted ``<day>.parquet``: part 0."""
    store = Store.open(tmp_path / "store")
    old = frame_from_records(Trade, [_trade(i) for i in (9, 3, 5, 1)])
    path = store.partition_path("trades", "binanceusdm", "perp", "BTCUSDT", D1)
    path.parent.mkdir(parents=True)
    pq.write_table(old.to_arrow().cast(SCHEMAS["trades"]), path)
    (summary,) = store.write([_parsed(tmp_path / "a.txt", [_trade(i) for i in range(8)])])
    assert summary.rows_added == {"trades": 5}
    assert _names(store) == [f"{D1}.parquet", part_name(D1, 1)]
    assert store.read(Trade).get_column("trade_id").to_list() == [str(i) for i in [*range(8), 9]]


def test_ledger_is_appended_and_survives_a_torn_last_line(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    store.write([_parsed(tmp_path / "a.txt", [_trade(0)])])
    ledger = store.root / "imports.jsonl"
    first = ledger.read_bytes()
    with ledger.open("ab") as fh:
        fh.write(b'{"path": "torn by a crash", "sha')  # a line cut short
    store.write([_parsed(tmp_path / "b.txt", [_trade(1)])])
    text = ledger.read_bytes()
    assert text.startswith(first)  # appended, never rewritten
    assert [json.loads(line)["path"] for line in text.splitlines()] == [
        str(tmp_path / "a.txt"),
        str(tmp_path / "b.txt"),
    ]
    ledger.write_bytes(text + b"not json\n")
    with pytest.raises(StoreError, match=r"imports\.jsonl, line 3: not a ledger entry"):
        store.write([_parsed(tmp_path / "c.txt", [_trade(2)])])


# -- compaction ------------------------------------------------------------------------------


def _fragmented(tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "store")
    sizes = [1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 3, 3, 3]  # constructed batch sizes
    start, batches = 0, []
    for n in sizes:
        batches.append([_trade(i, day=i % 3 // 2) for i in range(start, start + n)])
        start += n
    _write_batches(store, tmp_path, batches, "f")
    return store


def test_compaction_preserves_content_and_leaves_one_file_per_day(tmp_path: Path) -> None:
    store = _fragmented(tmp_path)
    before = store.read(Trade)
    series = store.series()
    files = [len(f) for f in store.partitions()]
    assert files[0] > 1
    assert files[1] > 1
    summary = store.compact()
    assert summary.partitions == 2
    assert summary.files_before == sum(files)
    assert summary.files_after == 2
    assert summary.rows == before.height == 240
    assert _names(store) == [f"{D1}.parquet"]
    assert _names(store, D2) == [f"{D2}.parquet"]
    assert store.read(Trade).equals(before)
    assert store.series() == series
    untouched = _snapshot(store.root)
    assert store.compact().partitions == 0
    assert _snapshot(store.root) == untouched


def test_out_of_core_merge_writes_the_same_rows(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    in_memory = _fragmented(tmp_path / "a")
    in_memory.compact()
    monkeypatch.setattr(io, "IN_MEMORY_MERGE_ROWS", 0)  # every merge goes through DuckDB
    streamed = _fragmented(tmp_path / "b")
    streamed.compact()
    for a, b in zip(in_memory.partitions(), streamed.partitions(), strict=True):
        assert pq.read_table(a).equals(pq.read_table(b))  # same rows, same order, same schema
    assert not list(streamed.root.rglob("*.spill"))


def test_compact_command(tmp_path: Path) -> None:
    store = _fragmented(tmp_path)
    runner = CliRunner()
    result = runner.invoke(app, ["compact", "--store", str(store.root), "--json"])
    assert result.exit_code == 0, result.stderr
    out = json.loads(result.stdout)
    assert (out["partitions"], out["files_after"], out["rows"]) == (2, 2, 240)
    result = runner.invoke(app, ["compact", "--store", str(store.root)])
    assert result.exit_code == 0
    assert "Nothing to compact" in result.stdout
    result = runner.invoke(app, ["compact", "--store", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "no flushwatch store" in result.stderr
    help_text = runner.invoke(app, ["compact", "--help"]).stdout
    assert "after a long" in help_text


# -- reads do not depend on the number of parts -----------------------------------------------


def test_reads_views_and_info_do_not_depend_on_parts(tmp_path: Path) -> None:
    trades = [_trade(i, day=i % 4 // 3) for i in range(400)]
    one = Store.open(tmp_path / "one")
    one.write([_parsed(tmp_path / "all.txt", trades)])
    many = Store.open(tmp_path / "many")
    _write_batches(many, tmp_path, [trades[k : k + 9] for k in range(0, 400, 9)], "m")
    assert sum(len(f) for f in many.partitions()) > 2 * sum(len(f) for f in one.partitions())
    assert one.read(Trade).equals(many.read(Trade))
    window = {"start_ns": T0 + 10**8, "end_ns": T0 + DAY + 2 * 10**8}
    assert one.read(Trade, **window).equals(many.read(Trade, **window))
    assert one.series() == many.series()
    sql = "SELECT count(*), min(ts_event), max(ts_event), sum(price * qty) FROM trades"
    (_, (a_row,)), (_, (b_row,)) = one.query(sql), many.query(sql)
    assert a_row[:3] == b_row[:3] == (400, T0, T0 + DAY + 399 * 10**6)
    assert a_row[3] == pytest.approx(b_row[3], rel=1e-12)  # float sums differ in the last bit
    with one.connect() as a, many.connect() as b:
        ordered = "SELECT * EXCLUDE (ts_recv) FROM trades ORDER BY ts_event"
        assert a.sql(ordered).fetchall() == b.sql(ordered).fetchall()
    runner = CliRunner()
    infos = [
        json.loads(runner.invoke(app, ["info", "--store", str(s.root), "--json"]).stdout)
        for s in (one, many)
    ]
    assert infos[0]["series"] == infos[1]["series"]


# -- real data -------------------------------------------------------------------------------


def _slices(parsed: Parsed, tmp: Path, seconds: int, overlap_s: int) -> list[Parsed]:
    """Cut a real import into consecutive time slices that overlap by ``overlap_s``."""
    ts = pl.concat([df.get_column("ts_event") for df in parsed.frames.values()])
    first, last = ts.min(), ts.max()
    assert isinstance(first, int)
    assert isinstance(last, int)
    out = []
    for n, start in enumerate(range(first, last + 1, seconds * 10**9)):
        p = Parsed(path=tmp / f"slice{n}.txt", format="test")
        p.path.write_text(f"slice {n} of {parsed.path.name} from {start}")
        for cls, df in parsed.frames.items():
            lo = start - overlap_s * 10**9
            part = df.filter(pl.col("ts_event").is_between(lo, start + seconds * 10**9, "left"))
            if part.height:
                p.add(cls, part)
        out.append(p)
    return out


def test_real_recording_imported_in_slices_equals_whole_import(
    shared_data: Path, tmp_path: Path
) -> None:
    parsed = parse(shared_data.joinpath(*REAL))
    whole = Store.open(tmp_path / "whole")
    (summary,) = whole.write([parsed])
    sliced = Store.open(tmp_path / "sliced")
    slices = _slices(parsed, tmp_path, seconds=30, overlap_s=3)
    assert len(slices) == 12
    added = sum(s.added for p in slices for s in sliced.write([p]))
    assert added == summary.added
    datasets: list[type[Record]] = [BookUpdate, Quote, Trade]
    assert {cls.dataset for cls in parsed.frames} == {cls.dataset for cls in datasets}
    for cls in datasets:
        assert whole.read(cls).equals(sliced.read(cls)), cls.dataset
    assert whole.series() == sliced.series()
    assert max(len(f) for f in sliced.partitions()) > 1
    # Parts are sorted by ts_event with row groups whose statistics do not overlap.
    for files in sliced.partitions():
        for f in files:
            meta = pq.read_metadata(f)
            stats = [meta.row_group(i).column(0).statistics for i in range(meta.num_row_groups)]
            assert all(a.max <= b.min for a, b in itertools.pairwise(stats))
    sliced.compact()
    for cls in datasets:
        assert whole.read(cls).equals(sliced.read(cls)), cls.dataset
    # Importing the whole file over the sliced store adds nothing.
    assert sliced.write([parsed])[0].added == 0
