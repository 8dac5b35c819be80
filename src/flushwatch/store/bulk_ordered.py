"""The bulk import's fast path: a file already in store order, streamed to Parquet unsorted.

Binance Vision trades/aggTrades files list trades in the order they matched: times never
fall and ids rise. The store orders trades by time, then trade id (:func:`~flushwatch.store.
io.sort_columns`), so such a file is already in store order and needs neither a sort nor a
table of its rows: DuckDB's typed ``read_csv`` streams Arrow batches, each batch is checked
with a few vectorized bounds (no per-row SQL) and appended to its UTC day's part, written by
pyarrow with :func:`~flushwatch.store.io.write_frame`'s schema, compression and row groups
(on a worker thread, beside DuckDB's read).

The proof is exact, else the path gives up (:class:`Refused`) and the caller sorts
(:mod:`flushwatch.store.bulk`): every value read and of its kind, no null, one time unit,
nothing in the future, prices and sizes within bounds, times non-decreasing, and ids plain
integers (ASCII digits, all of one length, no leading zero) rising strictly, so their string
order is their numeric order and no two rows are equal. It also gives up when a day it
reaches already holds parts (rows there must be de-duplicated) or the first row breaks a
record rule; the sorting path then raises the exact readers' error for the same file.
"""

from __future__ import annotations

import gzip
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import duckdb
import msgspec
import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from flushwatch.domain.records import Trade
from flushwatch.domain.tables import LINE
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS
from flushwatch.errors import ParseError
from flushwatch.ingest.stream_trades import TradeCsv
from flushwatch.ingest.validate import FUTURE_SLACK_NS, MAX_AMOUNT, MAX_PRICE, validate
from flushwatch.store.parts import ROW_GROUP
from flushwatch.store.schema import SCHEMAS

DAY_NS = 86_400 * 10**9
#: ns per unit of an epoch time, in the order the exact readers try them (s, ms, µs, ns).
UNITS = (10**9, 10**6, 10**3, 1)
#: Row groups queued for the writer thread at most (~4 MB each).
_QUEUED = 8
_DIGIT = 9  # a byte minus ord("0"), as uint8: 0..9 for a digit, above for anything else


class DayFile(msgspec.Struct, frozen=True):
    """One UTC day's rows, written to a staged part file."""

    day: int  # ns // DAY_NS
    path: Path
    rows: int


class Streamed(msgspec.Struct, frozen=True):
    """What the fast path wrote: a part per UTC day, in day order."""

    rows: int
    days: list[DayFile]


class Refused(msgspec.Struct, frozen=True):
    """Why the file could not be proved in store order (the caller sorts instead)."""

    reason: str


def unit_range(factor: int) -> tuple[int, int]:
    """Raw epoch values ``[lo, hi)`` read in units of ``factor`` ns (2010..2100)."""
    return -(-MIN_TS_NS // factor), -(-MAX_TS_NS // factor)


def unit_of(value: int) -> int | None:
    """ns per unit of a raw epoch time (the first of s, ms, µs, ns whose range holds it)."""
    for f in UNITS:
        lo, hi = unit_range(f)
        if lo <= value < hi:
            return f
    return None


def estimated_rows(csv: Path) -> int | None:
    """About how many lines ``csv`` holds, from its size and its first MB (for progress)."""
    try:
        if csv.name.lower().endswith(".gz"):
            with csv.open("rb") as fh:  # gzip's trailer: the plain size modulo 4 GiB
                fh.seek(-4, 2)
                size = int.from_bytes(fh.read(4), "little")
            with gzip.open(csv, "rb") as fh:
                head = fh.read(1 << 20)
        else:
            size = csv.stat().st_size
            with csv.open("rb") as fh:
                head = fh.read(1 << 20)
    except (OSError, EOFError, gzip.BadGzipFile):
        return None
    lines = head.count(b"\n")
    return max(1, size * lines // len(head)) if lines else None


class _Writer:
    """Day files written in order on one worker thread, at most :data:`_QUEUED` jobs ahead."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="flushwatch-bulk")
        self._jobs: deque[Future[None]] = deque()
        self._files: dict[Path, pq.ParquetWriter] = {}

    def _submit(self, job: Callable[[], None]) -> None:
        self._jobs.append(self._pool.submit(job))
        while len(self._jobs) > _QUEUED:
            self._jobs.popleft().result()

    def open(self, path: Path) -> None:
        def job() -> None:
            self._files[path] = pq.ParquetWriter(path, SCHEMAS[Trade.dataset], compression="zstd")

        self._submit(job)

    def write(self, path: Path, table: pa.Table) -> None:
        self._submit(lambda: self._files[path].write_table(table, row_group_size=ROW_GROUP))

    def close(self, path: Path) -> None:
        self._submit(lambda: self._files.pop(path).close())

    def finish(self) -> None:
        """Wait for every job (raising the first failure), then close what is still open."""
        try:
            while self._jobs:
                self._jobs.popleft().result()
        finally:
            self._pool.shutdown(wait=True, cancel_futures=True)
            for w in self._files.values():
                w.close()
            self._files.clear()


class _Day:
    """The rows of the day being written, buffered into whole row groups."""

    def __init__(self, day: int, path: Path, writer: _Writer) -> None:
        self.day, self.path, self._writer = day, path, writer
        self.rows = 0
        self._buf: list[pa.Table] = []
        self._held = 0
        writer.open(path)

    def add(self, table: pa.Table) -> None:
        self.rows += table.num_rows
        self._buf.append(table)
        self._held += table.num_rows
        if self._held >= ROW_GROUP:
            self._flush(final=False)

    def _flush(self, *, final: bool) -> None:
        whole = pa.concat_tables(self._buf)
        start = 0
        while whole.num_rows - start >= ROW_GROUP or (final and start < whole.num_rows):
            size = min(ROW_GROUP, whole.num_rows - start)
            self._writer.write(self.path, whole.slice(start, size))
            start += size
        self._buf = [whole.slice(start)] if start < whole.num_rows else []
        self._held = whole.num_rows - start

    def close(self) -> DayFile:
        if self._held:
            self._flush(final=True)
        self._writer.close(self.path)
        return DayFile(self.day, self.path, self.rows)


class _Proof:
    """The running proof that the rows so far are valid and in store order."""

    def __init__(self, limit_ns: int) -> None:
        self.limit_ns = limit_ns
        self.unit: int | None = None
        self.width = 0  # digits of every id
        self.last_time = -1
        self.last_id = -1

    def check(self, batch: pa.RecordBatch) -> str | None:
        """Why ``batch`` breaks the proof, or None (it then extends it)."""
        if any(col.null_count for col in batch.columns):
            return "a value is missing, not of its kind, or a maker flag not spelled true/false"
        t = batch.column(0).to_numpy()
        if self.unit is None:
            self.unit = unit_of(int(t[0]))
            if self.unit is None:
                return "a time is not an epoch time"
        lo, hi = unit_range(self.unit)
        if not (lo <= int(t[0]) and int(t[-1]) < hi and int(t[-1]) * self.unit <= self.limit_ns):
            return "times in several units, or in the future"
        if int(t[0]) < self.last_time or bool(np.any(t[1:] < t[:-1])):
            return "times fall"
        price, qty = batch.column(1).to_numpy(), batch.column(2).to_numpy()
        # as the exact checks: 0 < price <= MAX_PRICE, 0 <= qty <= MAX_AMOUNT, both finite
        # (a NaN makes min and max NaN, which compares false; an infinity is out of bounds)
        if not (price.min() > 0 and price.max() <= MAX_PRICE):
            return "a price out of bounds"
        if not (qty.min() >= 0 and qty.max() <= MAX_AMOUNT):
            return "a size out of bounds"
        why = self._ids(batch.column(4), batch.column(5).to_numpy())
        if why is None:
            self.last_time = int(t[-1])
        return why

    def _ids(self, ids: pa.Array, nums: np.ndarray) -> str | None:
        if not pa.types.is_string(ids.type):
            ids = ids.cast(pa.string())
        offsets = np.frombuffer(ids.buffers()[1], dtype=np.int32)[
            ids.offset : ids.offset + len(ids) + 1
        ]
        widths = np.diff(offsets)
        if not self.width:
            first = bytes(np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[1]])
            if not first or (first[:1] == b"0" and len(first) > 1):
                return "an id with a leading zero, or empty"
            self.width = len(first)
        if int(widths.min()) != self.width or int(widths.max()) != self.width:
            return "ids of several lengths"
        data = np.frombuffer(ids.buffers()[2], dtype=np.uint8)[offsets[0] : offsets[-1]]
        if bool(np.any((data - np.uint8(48)) > _DIGIT)):
            return "an id that is not a plain integer"
        if int(nums[0]) <= self.last_id or bool(np.any(nums[1:] <= nums[:-1])):
            return "ids do not rise"
        self.last_id = int(nums[-1])
        return None


def _select(spec: TradeCsv, source: str) -> str | None:
    """SQL of the columns the path streams, or None when the spec's kinds do not fit it."""
    kinds = dict(zip(spec.names, spec.kinds, strict=True))
    want = {spec.time: "int", spec.price: "float", spec.qty: "float"}
    want |= {spec.maker: "str", spec.trade_id: "str"}
    if any(kinds.get(n) != k for n, k in want.items()):
        return None

    def q(name: str) -> str:
        return '"' + name.replace('"', '""') + '"'

    tid, maker = q(spec.trade_id), q(spec.maker)
    return (
        f"SELECT {q(spec.time)} AS t, {q(spec.price)} AS price, {q(spec.qty)} AS qty, "
        f"CASE {maker} WHEN 'true' THEN 'sell' WHEN 'false' THEN 'buy' END AS taker_side, "
        f"{tid} AS trade_id, TRY_CAST({tid} AS BIGINT) AS id_num FROM {source}"
    )


def _first_row_ok(spec: TradeCsv, batch: pa.RecordBatch, unit: int, now_ns: int | None) -> bool:
    """The record rules (instrument names and all) hold for the first row."""
    row = batch.slice(0, 1)
    frame = pl.DataFrame(
        {
            "ts_event": [int(row.column(0)[0].as_py()) * unit],
            "price": [row.column(1)[0].as_py()],
            "qty": [row.column(2)[0].as_py()],
            "taker_side": [row.column(3)[0].as_py()],
            "trade_id": [row.column(4)[0].as_py()],
            LINE: [2 if spec.header else 1],
            "exchange": [spec.exchange],
            "market": [spec.market],
            "symbol": [spec.symbol],
            "ts_recv": pl.Series([None], dtype=pl.Int64),
        }
    )
    try:
        validate(Trade, frame, spec.path, now_ns=now_ns)
    except ParseError:
        return False
    return True


class _Columns:
    """The dataset's columns for a slice of a batch: the constant ones built once."""

    def __init__(self, spec: TradeCsv) -> None:
        self._spec = spec
        self._size = 0
        self._consts: dict[str, pa.Array] = {}

    def table(self, batch: pa.RecordBatch, ts: np.ndarray, start: int, stop: int) -> pa.Table:
        n = stop - start
        if n > self._size:
            self._size = max(n, ROW_GROUP)
            s = self._spec
            self._consts = {
                k: pa.array([v] * self._size, pa.string())
                for k, v in (("exchange", s.exchange), ("market", s.market), ("symbol", s.symbol))
            }
            self._consts["ts_recv"] = pa.nulls(self._size, pa.int64())
        cols = {
            "ts_event": pa.array(ts[start:stop]),
            "price": batch.column(1).slice(start, n),
            "qty": batch.column(2).slice(start, n),
            "taker_side": batch.column(3).slice(start, n).cast(pa.string()),
            "trade_id": batch.column(4).slice(start, n).cast(pa.string()),
        }
        sch = SCHEMAS[Trade.dataset]
        arrays = [cols[c] if c in cols else self._consts[c].slice(0, n) for c in sch.names]
        return pa.Table.from_arrays(arrays, schema=sch)


class _Split:
    """Consecutive batches of rows in time order, cut into one part per UTC day."""

    def __init__(
        self, spec: TradeCsv, day_is_empty: Callable[[int], bool], new_file: Callable[[], Path]
    ) -> None:
        self._cols = _Columns(spec)
        self._day_is_empty, self._new_file = day_is_empty, new_file
        self.writer = _Writer()
        self.done: list[DayFile] = []
        self._current: _Day | None = None

    def add(self, batch: pa.RecordBatch, ts: np.ndarray) -> str | None:
        """Append ``batch`` (times ``ts`` in ns, non-decreasing), or say why not."""
        first, last = int(ts[0]) // DAY_NS, int(ts[-1]) // DAY_NS
        cuts = np.searchsorted(ts, [d * DAY_NS for d in range(first + 1, last + 1)])
        bounds = [0, *(int(c) for c in cuts), len(ts)]
        for day, (a, z) in zip(range(first, last + 1), pairwise(bounds), strict=True):
            if a == z:
                continue
            if self._current is None or self._current.day != day:
                self.close()
                if not self._day_is_empty(day):
                    return "a day of the file already holds rows (de-duplication)"
                self._current = _Day(day, self._new_file(), self.writer)
            self._current.add(self._cols.table(batch, ts, a, z))
        return None

    def close(self) -> None:
        if self._current is not None:
            self.done.append(self._current.close())
            self._current = None

    def discard(self) -> None:
        """Remove every file written or begun (after :meth:`_Writer.finish`)."""
        paths = [d.path for d in self.done]
        if self._current is not None:
            paths.append(self._current.path)
        for path in paths:
            path.unlink(missing_ok=True)


def _stream(
    reader: pa.RecordBatchReader,
    spec: TradeCsv,
    split: _Split,
    proof: _Proof,
    now_ns: int | None,
    progress: Callable[[int], object],
) -> tuple[int, str | None]:
    """Rows streamed, and why the proof broke (None: it held to the end)."""
    rows = 0
    for batch in reader:
        if batch.num_rows == 0:
            continue
        why = proof.check(batch)
        if why is None and rows == 0:
            assert proof.unit is not None
            if not _first_row_ok(spec, batch, proof.unit, now_ns):
                why = "the first row breaks a record rule"
        if why is not None:
            return rows, why
        assert proof.unit is not None
        why = split.add(batch, batch.column(0).to_numpy() * proof.unit)
        if why is not None:
            return rows, why
        rows += batch.num_rows
        progress(rows)
    split.close()
    return rows, None


def write_in_order(
    con: duckdb.DuckDBPyConnection,
    spec: TradeCsv,
    source: str,
    *,
    day_is_empty: Callable[[int], bool],
    new_file: Callable[[], Path],
    now_ns: int | None = None,
    progress: Callable[[float], object] | None = None,
) -> Streamed | Refused:
    """Write ``spec``'s file as one part per UTC day, in file order, if that is store order.

    ``source`` is the ``read_csv(...)`` SQL of the file; ``day_is_empty(day)`` says a day's
    partition holds no part yet; ``new_file()`` gives a staged path. On :class:`Refused`
    nothing is left behind.
    """
    sql = _select(spec, source)
    if sql is None:
        return Refused("the file's columns are not of the kinds this path reads")
    limit = (time.time_ns() if now_ns is None else now_ns) + FUTURE_SLACK_NS
    expect = estimated_rows(spec.csv)

    def said(rows: int) -> None:
        if progress is not None and expect:
            progress(min(0.95, rows / expect))

    split = _Split(spec, day_is_empty, new_file)
    why: str | None = "stopped"
    try:
        with con.sql(sql).to_arrow_reader(ROW_GROUP) as reader:
            rows, why = _stream(reader, spec, split, _Proof(limit), now_ns, said)
    except (duckdb.Error, pa.ArrowException, OSError) as exc:  # the sorting path words it
        why = f"DuckDB could not read the file ({str(exc).splitlines()[0]})"
    finally:
        try:
            split.writer.finish()
        finally:
            if why is not None:
                split.discard()
    if why is not None:
        return Refused(why)
    return Streamed(rows=rows, days=split.done)
