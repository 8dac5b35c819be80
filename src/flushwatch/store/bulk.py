"""Bulk import of one large trades CSV with DuckDB: typed read, SQL checks, COPY to Parquet.

:meth:`Store.write` costs about 1 s of CPU per million trades in Python (de-duplication,
sort, Parquet); here DuckDB does the heavy lifting, in its own threads and bounded memory
(``memory_limit``, spilling to a folder inside the write's staging folder):

1. the file is read once with DuckDB's typed ``read_csv`` (columns and kinds from the ingest
   layer's :class:`~flushwatch.ingest.stream_trades.TradeCsv`) into a temporary table of
   normalized trade rows, in file order (``rowid`` + header = the file line);
2. one SQL pass finds the first row breaking a rule, and it is raised as the same
   :class:`~flushwatch.errors.ParseError` (message, line, field) the exact readers raise;
3. each UTC day is written with ``COPY ... (FORMAT parquet)`` as the next part of its
   partition, in :func:`~flushwatch.store.io.sort_columns` order, with the dataset's columns,
   types and version tag, and row groups of :data:`~flushwatch.store.parts.ROW_GROUP` rows:
   what :meth:`Store.write` writes for the same rows. A day whose partition is empty skips
   de-duplication when the file's trade ids are unique (no two rows can then be equal);
   otherwise rows equal to a stored one (an anti-join on every key column) or to an earlier
   row of the file are dropped, as :meth:`Store.write` drops them;
4. parts, merges, instruments and the ledger line are committed in one
   :class:`~flushwatch.store.txn.Txn`: the whole file or nothing.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import msgspec
import polars as pl

from flushwatch.domain.records import Instrument, Trade
from flushwatch.domain.tables import LINE
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS
from flushwatch.errors import ParseError
from flushwatch.ingest.stream_trades import TradeCsv
from flushwatch.ingest.validate import FUTURE_SLACK_NS, MAX_AMOUNT, MAX_PRICE, validate
from flushwatch.store.io import keys_of, merge_files, sort_columns, sql_str, write_frame
from flushwatch.store.parts import ROW_GROUP, list_parts, next_seq, part_name, plan_merges
from flushwatch.store.schema import SCHEMA_VERSION, SCHEMAS
from flushwatch.store.store import INSTRUMENTS, ImportSummary, Store, file_sha256
from flushwatch.store.txn import Txn, recover

#: DuckDB's memory for one bulk import; beyond it, sorts and the row table spill to disk.
MEMORY_LIMIT = "1GB"
_DAY_NS = 86_400 * 10**9
_EPOCH = date(1970, 1, 1)
_SQL_TYPE = {"int": "BIGINT", "float": "DOUBLE", "str": "VARCHAR"}
_UNITS = ((10**9, "s"), (10**6, "ms"), (10**3, "us"), (1, "ns"))
Progress = Callable[[float], object]


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


def _read_csv(spec: TradeCsv, *, rejects: bool = False) -> str:
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
    """Read the file into table ``t`` of trade rows (plus the raw time and maker flag)."""
    time_col, maker = _ident(spec.time), _ident(spec.maker)
    flag = f"lower(trim({maker}))"
    sql = f"""
        CREATE TEMP TABLE t AS SELECT
            {time_col} * ({_epoch_factor(time_col)}) AS ts_event,
            {_ident(spec.price)} AS price,
            {_ident(spec.qty)} AS qty,
            CASE {flag} WHEN 'true' THEN 'sell' WHEN 'false' THEN 'buy' END AS taker_side,
            trim({_ident(spec.trade_id)}) AS trade_id,
            {time_col} AS raw_time,
            CASE WHEN {flag} IN ('true', 'false') THEN NULL ELSE {maker} END AS raw_maker
        FROM {_read_csv(spec)}
    """
    try:
        con.execute(sql)
    except (duckdb.ConversionException, duckdb.InvalidInputException) as exc:
        raise _reject(con, spec, exc) from exc
    row = con.execute("SELECT count(*) FROM t").fetchall()[0]
    assert row is not None
    return int(row[0])


def _reject(con: duckdb.DuckDBPyConnection, spec: TradeCsv, exc: duckdb.Error) -> ParseError:
    """The first value DuckDB could not read, as the exact readers word it."""
    try:
        # every column read (a bare count(*) would skip the conversions), the bad lines kept
        con.execute(f"CREATE TEMP TABLE rejected AS SELECT * FROM {_read_csv(spec, rejects=True)}")
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


def check(con: duckdb.DuckDBPyConnection, spec: TradeCsv, now_ns: int | None = None) -> None:
    """Raise the first broken rule (checks in the exact readers' order), else return."""
    limit = (time.time_ns() if now_ns is None else now_ns) + FUTURE_SLACK_NS
    time_name = spec.time
    checks: list[tuple[str, str, str]] = [
        ("raw_time IS NOT NULL AND ts_event IS NULL", time_name, "epoch"),
        ("raw_maker IS NOT NULL AND trim(raw_maker) <> ''", spec.maker, "maker"),
        ("ts_event IS NULL", "ts_event", "required value missing"),
        ("price IS NULL", "price", "required value missing"),
        ("qty IS NULL", "qty", "required value missing"),
        ("taker_side IS NULL", "taker_side", "required value missing"),
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
    firsts = ", ".join(f"min(rowid) FILTER (WHERE {cond})" for cond, _, _ in checks)
    found = con.execute(f"SELECT {firsts} FROM t").fetchall()[0]
    assert found is not None
    header = 1 if spec.header else 0
    for rowid, (_, field, message) in zip(found, checks, strict=True):
        if rowid is None:
            continue
        cols = {"epoch": "raw_time", "maker": "raw_maker"}.get(message, field)
        value = con.execute(f"SELECT {_ident(cols)} FROM t WHERE rowid = {int(rowid)}").fetchall()[
            0
        ]
        assert value is not None
        line = int(rowid) + 1 + header
        if message == "epoch":
            text = f"{value[0]} is not an epoch time in s, ms, µs or ns between 2010 and 2100"
        elif message == "maker":
            text = f"{value[0]!r} is not true or false"
        else:
            text = message.format(value=value[0])
        raise ParseError(text, path=spec.path, line=line, field=field)
    first = con.sql(
        f"SELECT ts_event, price, qty, taker_side, trade_id, rowid + {1 + header} AS {LINE} "
        "FROM t ORDER BY rowid LIMIT 1"
    ).pl()
    if first.height:  # instrument names and every other per-row rule, once
        frame = first.with_columns(
            pl.lit(spec.exchange).alias("exchange"),
            pl.lit(spec.market).alias("market"),
            pl.lit(spec.symbol).alias("symbol"),
            pl.lit(None, pl.Int64).alias("ts_recv"),
        )
        validate(Trade, frame, spec.path, now_ns=now_ns)


def _rows_sql(spec: TradeCsv, lo: int, hi: int) -> str:
    """The day's rows with the dataset's columns, in column order."""
    consts = {"exchange": spec.exchange, "market": spec.market, "symbol": spec.symbol}
    cols = []
    for name in SCHEMAS[Trade.dataset].names:
        if name in consts:  # an ENUM of one value: DuckDB writes it as a string, ~10x cheaper
            v = sql_str(consts[name])
            cols.append(f"{v}::ENUM({v}) AS {name}")
        elif name == "ts_recv":
            cols.append("NULL::BIGINT AS ts_recv")
        elif SCHEMAS[Trade.dataset].field(name).nullable:
            # DuckDB writes a column it knows holds no null as REQUIRED; the schema says
            # optional, so hide what it knows (Store.write's files say optional too)
            col = _ident(name)
            cols.append(f"CASE WHEN {col} IS NULL THEN NULL ELSE {col} END AS {col}")
        else:
            cols.append(_ident(name))
    return f"SELECT {', '.join(cols)} FROM t WHERE ts_event >= {lo} AND ts_event < {hi}"


def _day_sql(spec: TradeCsv, lo: int, hi: int, stored: list[Path], distinct: bool) -> str:
    """SQL of the rows to add for one day: new to the store and to the file, sorted."""
    rows = _rows_sql(spec, lo, hi)
    if distinct:
        rows = rows.replace("SELECT ", "SELECT DISTINCT ", 1)
    if stored:  # anti-join on every key column (trade_id may be null: null-safe)
        files = "[" + ", ".join(sql_str(str(p)) for p in stored) + "]"
        on = " AND ".join(
            f"s.{_ident(c)} IS NOT DISTINCT FROM n.{_ident(c)}::VARCHAR"
            if c in ("exchange", "market", "symbol")
            else f"s.{_ident(c)} IS NOT DISTINCT FROM n.{_ident(c)}"
            for c in keys_of(Trade)
        )
        rows = (
            f"SELECT n.* FROM ({rows}) n ANTI JOIN (SELECT * FROM read_parquet({files}) "
            f"WHERE ts_event >= {lo} AND ts_event < {hi}) s ON {on}"
        )
    order = ", ".join(f"{_ident(c)} NULLS LAST" for c in sort_columns(Trade))
    return f"SELECT * FROM ({rows}) ORDER BY {order}"


def _copy(con: duckdb.DuckDBPyConnection, sql: str, out: Path) -> int:
    meta = f"{{'flushwatch.dataset': 'trades', 'flushwatch.schema': '{SCHEMA_VERSION}'}}"
    row = con.execute(
        f"COPY ({sql}) TO {sql_str(str(out))} (FORMAT parquet, COMPRESSION zstd, "
        f"ROW_GROUP_SIZE {ROW_GROUP}, KV_METADATA {meta})"
    ).fetchall()[0]
    assert row is not None
    return int(row[0])


def _unique_ids(con: duckdb.DuckDBPyConnection, rows: int) -> bool:
    """True when no two rows share a trade id, so no two rows can be equal."""
    row = con.execute("SELECT count(DISTINCT trade_id), count(trade_id) FROM t").fetchall()[0]
    assert row is not None
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
    sha = file_sha256(spec.path)
    with store._locked():
        recover(store.root)
        with Txn(store.root) as txn, connect(txn.staging / "duckdb-spill", memory_limit) as con:
            rows = load(con, spec)
            say(0.5)
            check(con, spec, now_ns)
            say(0.6)
            days = con.execute(
                f"SELECT ts_event // {_DAY_NS} AS d FROM t GROUP BY d ORDER BY d"
            ).fetchall()
            distinct = not _unique_ids(con, rows)
            added = 0
            for i, (n,) in enumerate(days):
                name = (_EPOCH + timedelta(days=int(n))).isoformat()
                target = store.partition_path(
                    Trade.dataset, spec.exchange, spec.market, spec.symbol, name
                )
                parts = list_parts(target.parent, name)
                lo, hi = int(n) * _DAY_NS, (int(n) + 1) * _DAY_NS
                seq = next_seq(parts)
                staged = txn.new_file()
                stored = [p.path for p in parts]
                fresh = _copy(con, _day_sql(spec, lo, hi, stored, distinct or bool(stored)), staged)
                added += fresh
                say(0.6 + 0.4 * (i + 1) / len(days))
                if fresh == 0:
                    continue
                sources = {p.seq: p.path for p in parts} | {seq: staged}
                sizes = {p.seq: p.rows for p in parts} | {seq: fresh}
                merges = plan_merges(sizes)
                if not any(seq in m.inputs for m in merges):
                    txn.put(staged, target.parent / part_name(name, seq))
                for m in merges:
                    out = txn.new_file()
                    merge_files(
                        [sources[s] for s in m.inputs], Trade, sum(sizes[s] for s in m.inputs), out
                    )
                    txn.put(out, target.parent / part_name(name, m.output))
                    for s in m.inputs:
                        if s not in (m.output, seq):
                            txn.delete(sources[s])
            con.close()
            if spec.instrument is not None:
                inst = store._merged_instruments([spec.instrument])
                if inst is not None:
                    staged = txn.new_file()
                    write_frame(inst, Instrument, staged)
                    txn.put(staged, store.root / INSTRUMENTS)
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
    return summary
