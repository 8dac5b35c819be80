"""Bulk import of one large trades CSV with DuckDB: typed read, checks, Parquet per UTC day.

:meth:`Store.write` costs about 1 s of CPU per million trades in Python (de-duplication,
sort, Parquet); here DuckDB reads, in its own threads and bounded memory (``memory_limit``,
spilling to a folder inside the write's staging folder). Two ways, the first tried first:

* **in file order** (:mod:`flushwatch.store.bulk_ordered`): a file proved already in store
  order (times non-decreasing, ids plain integers of one length rising strictly: every
  Binance Vision file seen) whose days hold no parts yet is streamed from ``read_csv`` to
  one part per day, checked batch by batch with vectorized bounds, never sorted or held;
* **sorted**, for any other file (or one the first way refused midway: its files are
  removed): the file is read into a temporary table of normalized rows, in file order
  (``rowid`` + header = the file line); one SQL pass finds the first row breaking a rule,
  raised as the same :class:`~flushwatch.errors.ParseError` (message, line, field) the
  exact readers raise; each UTC day is written with ``COPY ... (FORMAT parquet)`` in
  :func:`~flushwatch.store.io.sort_columns` order. A day whose partition is empty skips
  de-duplication when the file's trade ids are unique (no two rows can then be equal);
  otherwise rows equal to a stored one (an anti-join on every key column) or to an earlier
  row of the file are dropped, as :meth:`Store.write` drops them.

Both write what :meth:`Store.write` writes for the same rows (the dataset's columns, types,
version tag, order and row groups of :data:`~flushwatch.store.parts.ROW_GROUP` rows). Parts,
merges, instruments and the ledger line are committed in one
:class:`~flushwatch.store.txn.Txn`: the whole file or nothing.
"""

from __future__ import annotations

import concurrent.futures
import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import msgspec
import numpy as np
import polars as pl

from flushwatch.domain.records import Instrument, Trade
from flushwatch.domain.tables import LINE
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS
from flushwatch.errors import ParseError
from flushwatch.ingest.stream_trades import TradeCsv
from flushwatch.ingest.validate import FUTURE_SLACK_NS, MAX_AMOUNT, MAX_PRICE, validate
from flushwatch.store.bulk_ordered import Streamed, unit_of, write_in_order
from flushwatch.store.io import keys_of, merge_files, sort_columns, sql_str, write_frame
from flushwatch.store.parts import (
    ROW_GROUP,
    Part,
    list_parts,
    next_seq,
    part_name,
    plan_merges,
)
from flushwatch.store.schema import SCHEMA_VERSION, SCHEMAS
from flushwatch.store.store import INSTRUMENTS, ImportSummary, Store, file_sha256
from flushwatch.store.txn import Txn, recover

#: DuckDB's memory for one bulk import; beyond it, sorts and the row table spill to disk.
#: The sorted path's peak RSS is about this plus 0.2 GB (1.67 GB on the 30 M-row benchmark
#: file; 1 GB: 1.2 GB RSS and ~12 % more CPU, from spilling more); the in-order path holds
#: a few row groups, not the rows (0.45 GB).
MEMORY_LIMIT = "1500MB"
_DAY_NS = 86_400 * 10**9
_EPOCH = date(1970, 1, 1)
_SQL_TYPE = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR"}
_UNITS = ((10**9, "s"), (10**6, "ms"), (10**3, "us"), (1, "ns"))
Progress = Callable[[float], object]
#: The Trade key columns this module writes and compares; a new one must be added here.
_KEYS = ("ts_event", "exchange", "market", "symbol", "price", "qty", "taker_side", "trade_id")
assert keys_of(Trade) == _KEYS, "flushwatch.store.bulk: Trade's key columns changed"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _epoch_factor(col: str) -> str:
    """SQL of :func:`flushwatch.ingest.csvtools.epoch_factor`: s, then ms, µs, ns."""
    cases = " ".join(
        f"WHEN {col} >= {-(-MIN_TS_NS // f)} AND {col} < {-(-MAX_TS_NS // f)} THEN {f}"
        for f, _ in _UNITS
    )
    return f"CASE {cases} END"


def connect(spill: Path, memory_limit: str = MEMORY_LIMIT) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection with bounded memory that spills to ``spill``."""
    spill.mkdir(parents=True, exist_ok=True)
    return duckdb.connect(
        config={
            "memory_limit": memory_limit,
            "temp_directory": str(spill),
            "preserve_insertion_order": True,
        }
    )


def csv_source(spec: TradeCsv, *, rejects: bool = False) -> str:
    """SQL of DuckDB's typed ``read_csv`` of the file (every column of its spec's kind)."""
    cols = ", ".join(
        f"{sql_str(n)}: {sql_str(_SQL_TYPE[k])}"
        for n, k in zip(spec.names, spec.kinds, strict=True)
    )
    extra = ", store_rejects = true" if rejects else ""
    return (
        f"read_csv({sql_str(str(spec.csv))}, header = {str(spec.header).lower()}, "
        f"columns = {{{cols}}}, auto_detect = false, delim = ',', quote = '\"'{extra})"
    )


def load(con: duckdb.DuckDBPyConnection, spec: TradeCsv) -> int:
    """Read the file into table ``t`` in file order (view ``v`` adds the row number ``r``).

    Values are converted as the exact readers convert them, keeping what a check or a
    message needs: the raw time, the maker flag when not spelled exactly ``true``/``false``,
    the id as read (trimmed at the write only when some id is not a plain integer) and as a
    number. ``sell``: is_buyer_maker true, the taker sold; a blank flag is a buy, as in
    ``binance_vision_trades._taker``.
    """
    time_col, maker, tid = _ident(spec.time), _ident(spec.maker), _ident(spec.trade_id)
    sql = f"""
        CREATE TEMP TABLE t AS SELECT
            {time_col} * ({_epoch_factor(time_col)}) AS ts_event,
            {_ident(spec.price)} AS price,
            {_ident(spec.qty)} AS qty,
            CASE {maker} WHEN 'true' THEN true WHEN 'false' THEN false
                ELSE coalesce(lower(trim({maker})) = 'true', false) END AS sell,
            {tid} AS raw_id,
            {time_col} AS raw_time,
            CASE {maker} WHEN 'true' THEN NULL WHEN 'false' THEN NULL ELSE {maker} END
                AS raw_maker,
            TRY_CAST({tid} AS BIGINT) AS id_num
        FROM {csv_source(spec)}
    """
    try:
        con.execute(sql)
    except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        raise _reject(con, spec, exc) from exc
    con.execute(
        "CREATE TEMP VIEW v AS SELECT rowid AS r, *, "
        "CASE WHEN sell THEN 'sell' ELSE 'buy' END AS taker_side FROM t"
    )
    row = con.execute("SELECT count(*) FROM t").fetchall()[0]
    return int(row[0])


def _reject(con: duckdb.DuckDBPyConnection, spec: TradeCsv, exc: duckdb.Error) -> ParseError:
    """The first value DuckDB could not read, as the exact readers word it."""
    try:
        # every column read (a bare count(*) would skip the conversions), the bad lines kept
        con.execute(f"CREATE TEMP TABLE rejected AS SELECT * FROM {csv_source(spec, rejects=True)}")
        found = con.execute(
            "SELECT line, column_idx, column_name, csv_line, error_type FROM reject_errors "
            "ORDER BY line LIMIT 1"
        ).fetchall()
        row = found[0] if found else None
    except duckdb.Error:
        row = None
    if row is None:
        return ParseError(f"cannot read this CSV ({str(exc).splitlines()[0]})", path=spec.path)
    line, idx, name, text, kind = row
    if kind != "CAST" or idx is None:
        return ParseError(
            f"a Binance Vision trades line has {len(spec.names)} fields; this one does not "
            f"({kind.lower().replace('_', ' ')})",
            path=spec.path,
            line=int(line),
        )
    value = str(text).split(",")[int(idx) - 1] if text is not None else ""
    what = "a number" if spec.kinds[spec.names.index(name)] == "float" else "an integer"
    return ParseError(f"{value!r} is not {what}", path=spec.path, line=int(line), field=name)


class Facts(msgspec.Struct, frozen=True):
    """What the checking pass learnt about the rows, for the writes."""

    days: tuple[int, ...]  # UTC days (ns // day) that hold rows, ascending
    unit: int | None  # ns per unit of the raw time when every row has the same unit
    trim_free: bool  # trimming no id changes it (DuckDB's trim: spaces, U+00A0, ...)


def _rules(spec: TradeCsv, limit: int) -> list[tuple[str, str, str]]:
    """(broken when, field, message) of every per-row rule, in the exact readers' order."""
    return [
        ("raw_time IS NOT NULL AND ts_event IS NULL", spec.time, "epoch"),
        (
            "lower(trim(raw_maker)) NOT IN ('true', 'false') AND trim(raw_maker) <> ''",
            spec.maker,
            "maker",
        ),
        ("ts_event IS NULL", "ts_event", "required value missing"),
        ("price IS NULL", "price", "required value missing"),
        ("qty IS NULL", "qty", "required value missing"),
        (f"ts_event > {limit}", "ts_event", "timestamp {value} is more than 2 days in the future"),
        (
            "NOT isfinite(price) OR price <= 0",
            "price",
            "price {value} must be a finite number above zero",
        ),
        (
            f"price > {MAX_PRICE!r}",
            "price",
            f"price {{value}} is implausible (above {MAX_PRICE:g})",
        ),
        (
            "NOT isfinite(qty) OR qty < 0",
            "qty",
            "value {value} must be a finite number, zero or more",
        ),
        (f"qty > {MAX_AMOUNT!r}", "qty", f"value {{value}} is implausible (above {MAX_AMOUNT:g})"),
    ]


def _raise_first_broken(con: duckdb.DuckDBPyConnection, spec: TradeCsv, limit: int) -> None:
    """Raise the first row breaking a rule, as the exact readers word it (one pass)."""
    rules = _rules(spec, limit)
    firsts = ", ".join(f"min(r) FILTER (WHERE {cond})" for cond, _, _ in rules)
    found = con.execute(f"SELECT {firsts} FROM v").fetchall()[0]
    header = 1 if spec.header else 0
    for rowid, (_, field, message) in zip(found, rules, strict=True):
        if rowid is None:
            continue
        cols = {"epoch": "raw_time", "maker": "raw_maker"}.get(message, field)
        value = con.execute(f"SELECT {_ident(cols)} FROM v WHERE r = {int(rowid)}").fetchall()[0]
        assert value is not None
        line = int(rowid) + 1 + header
        if message == "epoch":
            text = f"{value[0]} is not an epoch time in s, ms, µs or ns between 2010 and 2100"
        elif message == "maker":
            text = f"{value[0]!r} is not true or false"
        else:
            text = message.format(value=value[0])
        raise ParseError(text, path=spec.path, line=line, field=field)


def check(con: duckdb.DuckDBPyConnection, spec: TradeCsv, now_ns: int | None = None) -> Facts:
    """Raise the first broken rule (checks in the exact readers' order), else return what
    the pass over the rows found (:class:`Facts`).

    One cheap pass of counts and bounds (no per-row filter) proves most files clean; only
    when a bound or count could hide a broken rule does the exact pass look for the first
    bad row (a maker spelled ``TRUE`` is fine but takes it too).
    """
    limit = (time.time_ns() if now_ns is None else now_ns) + FUTURE_SLACK_NS
    row = con.execute(
        "SELECT count(*), count(ts_event), count(price), count(qty), count(raw_maker), "
        "max(ts_event), min(price), max(price), min(qty), max(qty), min(raw_time), "
        f"max(raw_time), list(DISTINCT ts_event // {_DAY_NS}), "
        "count(*) FILTER (WHERE raw_id <> trim(raw_id)) FROM t"
    ).fetchall()[0]
    n, n_ts, n_price, n_qty, odd_makers, hi_ts, lo_p, hi_p, lo_q, hi_q = row[:10]
    lo_raw, hi_raw, day_list, spaced = row[10:]
    # a NaN bound compares false, an infinite one is out of bounds: both take the exact pass
    clean = n == n_ts == n_price == n_qty and odd_makers == 0
    if clean and n:
        in_bounds = (lo_p > 0, hi_p <= MAX_PRICE, lo_q >= 0, hi_q <= MAX_AMOUNT)
        clean = hi_ts <= limit and all(in_bounds)
    if not clean:
        _raise_first_broken(con, spec, limit)
    header = 1 if spec.header else 0
    first = con.sql(
        f"SELECT ts_event, price, qty, taker_side, trim(raw_id) AS trade_id, "
        f"r + {1 + header} AS {LINE} "
        "FROM v ORDER BY r LIMIT 1"
    ).pl()
    if first.height:  # instrument names and every other per-row rule, once
        frame = first.with_columns(
            pl.lit(spec.exchange).alias("exchange"),
            pl.lit(spec.market).alias("market"),
            pl.lit(spec.symbol).alias("symbol"),
            pl.lit(None, pl.Int64).alias("ts_recv"),
        )
        validate(Trade, frame, spec.path, now_ns=now_ns)
    # every time has a unit now; one range holding the extremes holds them all
    unit = unit_of(int(lo_raw)) if n else None
    return Facts(
        days=tuple(sorted(int(d) for d in day_list or () if d is not None)),
        unit=unit if unit is not None and unit == unit_of(int(hi_raw)) else None,
        trim_free=int(spaced) == 0,
    )


def _consts(spec: TradeCsv) -> dict[str, str]:
    """Key columns with one value in the whole file (so they neither sort nor de-duplicate)."""
    return {"exchange": spec.exchange, "market": spec.market, "symbol": spec.symbol}


def _columns(spec: TradeCsv) -> str:
    """The dataset's columns, in order, over sorted rows of the varying columns."""
    consts = _consts(spec)
    cols = []
    for name in SCHEMAS[Trade.dataset].names:
        if name in consts:  # an ENUM of one value: DuckDB writes it as a string, ~10x cheaper
            v = sql_str(consts[name])
            cols.append(f"{v}::ENUM({v}) AS {name}")
        elif name == "ts_recv":
            cols.append("NULL::BIGINT AS ts_recv")
        elif name == "taker_side":
            sides = "ENUM('buy', 'sell')"
            cols.append(
                f"CASE WHEN sell THEN 'sell'::{sides} ELSE 'buy'::{sides} END AS taker_side"
            )
        elif SCHEMAS[Trade.dataset].field(name).nullable:
            # DuckDB writes a column it knows holds no null as REQUIRED; the schema says
            # optional, so hide what it knows (Store.write's files say optional too)
            col = _ident(name)
            cols.append(f"CASE WHEN {col} IS NULL THEN NULL ELSE {col} END AS {col}")
        else:
            cols.append(_ident(name))
    return ", ".join(cols)


def _day_sql(
    spec: TradeCsv,
    span: tuple[int, int, int | None],
    stored: list[Path],
    *,
    distinct: bool,
    trim_free: bool,
) -> str:
    """SQL of the rows to add for one day: new to the store and to the file, sorted.

    Only the varying key columns are sorted and compared (the instrument is one per file
    and per partition), the taker side as ``sell`` (false < true as 'buy' < 'sell'); the
    constant columns are added after the sort, which keeps the sort's payload small.
    """
    lo, hi, unit = span
    consts = _consts(spec)
    if unit is None:  # times in several units: filter the converted time
        where = f"ts_event >= {lo} AND ts_event < {hi}"
    else:  # one unit (every real file): the raw time, so the table's zone maps skip other days
        where = f"raw_time >= {lo // unit} AND raw_time < {hi // unit}"
    tid = "raw_id" if trim_free else "trim(raw_id)"
    rows = (
        f"SELECT {'DISTINCT ' if distinct else ''}ts_event, price, qty, sell, {tid} AS trade_id "
        f"FROM t WHERE {where}"
    )
    if stored:  # anti-join on every key column (trade_id may be null: null-safe)
        files = "[" + ", ".join(sql_str(str(p)) for p in stored) + "]"
        same = " AND ".join(f"{_ident(c)} = {sql_str(v)}" for c, v in consts.items())
        on = " AND ".join(
            f"s.{c} IS NOT DISTINCT FROM n.{c}" for c in ("ts_event", "price", "qty", "trade_id")
        )
        rows = (
            f"SELECT n.* FROM ({rows}) n ANTI JOIN (SELECT * FROM read_parquet({files}) "
            f"WHERE ts_event >= {lo} AND ts_event < {hi} AND {same}) s ON {on} "
            "AND s.taker_side = CASE WHEN n.sell THEN 'sell' ELSE 'buy' END"
        )
    keys = {"taker_side": "sell"}
    order = ", ".join(
        f"{keys.get(c, c)} NULLS LAST" for c in sort_columns(Trade) if c not in consts
    )
    return f"SELECT {_columns(spec)} FROM ({rows} ORDER BY {order})"


def _copy(con: duckdb.DuckDBPyConnection, sql: str, out: Path) -> int:
    meta = f"{{'flushwatch.dataset': 'trades', 'flushwatch.schema': '{SCHEMA_VERSION}'}}"
    row = con.execute(
        f"COPY ({sql}) TO {sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd, "
        f"ROW_GROUP_SIZE {ROW_GROUP}, KV_METADATA {meta})"
    ).fetchall()[0]
    assert row is not None
    return int(row[0])


def _unique_ids(con: duckdb.DuckDBPyConnection, rows: int) -> bool:
    """True when no two rows share a trade id, so no two rows can be equal.

    Binance numbers trades and aggregates upwards in file order: ids that are integers
    rising strictly (checked in Arrow batches, no hash table) are unique; otherwise the ids
    are counted (a hash aggregate, ~3x dearer).
    """
    last: int | None = None
    reader = con.sql("SELECT id_num FROM t").to_arrow_reader(1 << 20)
    rising = True
    for batch in reader:
        ids = batch.column(0)
        if ids.null_count:
            rising = False
            break
        arr = np.asarray(ids.to_numpy(zero_copy_only=False), dtype=np.int64)
        if arr.size == 0:
            continue
        if (last is not None and arr[0] <= last) or bool(np.any(np.diff(arr) <= 0)):
            rising = False
            break
        last = int(arr[-1])
    reader.close()
    if rising:
        return True
    row = con.execute("SELECT count(DISTINCT trim(raw_id)), count(raw_id) FROM t").fetchall()[0]
    return int(row[0]) == int(row[1]) == rows


def bulk_write(
    store: Store,
    spec: TradeCsv,
    progress: Progress | None = None,
    *,
    memory_limit: str = MEMORY_LIMIT,
    now_ns: int | None = None,
) -> ImportSummary:
    """Import ``spec``'s file into ``store`` as one atomic, idempotent write (see module)."""
    say = progress or (lambda _f: None)
    # hashing 2 GB takes ~1.5 s; hashlib releases the GIL, so it runs beside DuckDB's read
    hasher = concurrent.futures.ThreadPoolExecutor(max_workers=1)
    hashing = hasher.submit(file_sha256, spec.path)
    try:
        return _bulk_write(store, spec, say, hashing, memory_limit=memory_limit, now_ns=now_ns)
    finally:
        hasher.shutdown(wait=True, cancel_futures=True)


def _bulk_write(
    store: Store,
    spec: TradeCsv,
    say: Progress,
    hashing: concurrent.futures.Future[str],
    *,
    memory_limit: str,
    now_ns: int | None,
) -> ImportSummary:
    with store._locked():
        recover(store.root)
        with Txn(store.root) as txn, connect(txn.staging / "duckdb-spill", memory_limit) as con:
            streamed = write_in_order(
                con,
                spec,
                csv_source(spec),
                day_is_empty=lambda n: not _parts(store, spec, n)[2],
                new_file=txn.new_file,
                now_ns=now_ns,
                progress=lambda f: say(0.9 * f),
            )
            if isinstance(streamed, Streamed):
                rows, written = streamed.rows, [(d.day, d.path, d.rows) for d in streamed.days]
            else:
                rows, written = _write_sorted(con, store, spec, txn, say, now_ns)
            con.close()
            added = 0
            for n, staged, fresh in written:
                added += fresh
                if fresh:
                    _place(store, spec, txn, n, staged, fresh)
            if spec.instrument is not None:
                inst = store._merged_instruments([spec.instrument])
                if inst is not None:
                    staged = txn.new_file()
                    write_frame(inst, Instrument, staged)
                    txn.put(staged, store.root / INSTRUMENTS)
            sha = hashing.result()
            summary = ImportSummary(
                path=str(spec.path),
                format=spec.format,
                sha256=sha,
                rows_read={Trade.dataset: rows},
                rows_added={Trade.dataset: added},
                seen_before=sha in store._ledger.hashes(),
                notes=[] if rows else ["empty file: no trades"],
            )
            # as Store.write: a file seen before that added nothing leaves no trace
            fresh_file = not (summary.seen_before and summary.added == 0)
            line = json.dumps(msgspec.to_builtins(summary)) + "\n" if fresh_file else ""
            txn.commit(store._ledger, line)
    say(1.0)
    return summary


def _parts(store: Store, spec: TradeCsv, day: int) -> tuple[str, Path, list[Part]]:
    """A UTC day's partition name, part-0 path and stored parts."""
    name = (_EPOCH + timedelta(days=day)).isoformat()
    target = store.partition_path(Trade.dataset, spec.exchange, spec.market, spec.symbol, name)
    return name, target, list_parts(target.parent, name)


def _write_sorted(
    con: duckdb.DuckDBPyConnection,
    store: Store,
    spec: TradeCsv,
    txn: Txn,
    say: Progress,
    now_ns: int | None,
) -> tuple[int, list[tuple[int, Path, int]]]:
    """The path for any file: its rows in a table, checked, each day sorted and de-duplicated
    against its stored parts; returns the rows read and (day, staged file, rows) per day."""
    rows = load(con, spec)
    say(0.5)
    facts = check(con, spec, now_ns)
    say(0.6)
    distinct = not _unique_ids(con, rows)
    written = []
    for i, n in enumerate(facts.days):
        stored = [p.path for p in _parts(store, spec, n)[2]]
        staged = txn.new_file()
        span = (n * _DAY_NS, (n + 1) * _DAY_NS, facts.unit)
        sql = _day_sql(
            spec, span, stored, distinct=distinct or bool(stored), trim_free=facts.trim_free
        )
        written.append((n, staged, _copy(con, sql, staged)))
        say(0.6 + 0.3 * (i + 1) / len(facts.days))
    return rows, written


def _place(store: Store, spec: TradeCsv, txn: Txn, day: int, staged: Path, fresh: int) -> None:
    """Add a staged file of ``fresh`` new rows as the next part of its day, merging parts as
    :func:`~flushwatch.store.parts.plan_merges` plans (as :meth:`Store.write` does)."""
    name, target, parts = _parts(store, spec, day)
    seq = next_seq(parts)
    sources = {p.seq: p.path for p in parts} | {seq: staged}
    sizes = {p.seq: p.rows for p in parts} | {seq: fresh}
    merges = plan_merges(sizes)
    if not any(seq in m.inputs for m in merges):
        txn.put(staged, target.parent / part_name(name, seq))
    for m in merges:
        out = txn.new_file()
        merge_files([sources[s] for s in m.inputs], Trade, sum(sizes[s] for s in m.inputs), out)
        txn.put(out, target.parent / part_name(name, m.output))
        for s in m.inputs:
            if s not in (m.output, seq):
                txn.delete(sources[s])
