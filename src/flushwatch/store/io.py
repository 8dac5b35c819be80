"""Reading and writing part files: the windowed read for de-duplication, and merges.

Every part is written by :func:`write_frame` or :func:`merge_files` with the dataset's Arrow
schema (so its version tag travels with the file), zstd compression, row groups of
:data:`~flushwatch.store.parts.ROW_GROUP` rows and rows in :func:`sort_columns` order, so the
``ts_event`` statistics of a row group prune reads to the minutes they ask for.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from pathlib import Path

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from flushwatch.domain.records import Instrument, Record
from flushwatch.domain.tables import key_columns, schema
from flushwatch.store.parts import ROW_GROUP, Part
from flushwatch.store.schema import SCHEMAS

#: Merges of at most this many rows run in memory (Polars); larger ones stream through
#: DuckDB's out-of-core sort, so compacting a 100-million-row day needs bounded memory.
IN_MEMORY_MERGE_ROWS = 2_000_000

#: Columns that order a venue's events sharing one timestamp: the venue's own sequence, the
#: order the events happened in. A Binance depth@0ms stream can send two updates in the same
#: millisecond (their ``update_id`` says which came first); 84 % of BTCUSDT trades share
#: their millisecond with another, and ``trade_id`` numbers them in the order they matched.
#: Ordering ties by id rather than by price also lets a file already in that order (a Vision
#: trades/aggTrades file) be written without a sort (:mod:`flushwatch.store.bulk`). Ids are
#: strings and compare as strings (``"10" < "9"``): a writer that skips the sort must prove
#: the string order holds. Every read and merge sorts, so parts written by an older version
#: (ties by price) read in this order too; the columns and layout are unchanged, hence no
#: :data:`~flushwatch.store.schema.SCHEMA_VERSION` bump.
_SEQUENCE = ("update_id", "trade_id")


@cache
def keys_of(cls: type[Record]) -> tuple[str, ...]:
    """:func:`~flushwatch.domain.tables.key_columns`, computed once per record type."""
    return tuple(key_columns(cls))


@cache
def schema_of(cls: type[Record] | type[Instrument]) -> pl.Schema:
    """:func:`~flushwatch.domain.tables.schema`, computed once per record type."""
    return schema(cls)


@cache
def _key_schema(cls: type[Record]) -> pa.Schema:
    sch = SCHEMAS[cls.dataset]
    return pa.schema([sch.field(c) for c in keys_of(cls)])


@cache
def sort_columns(cls: type[Record]) -> tuple[str, ...]:
    """Row order of parts and reads: ``ts_event``, sequence ids, then every other key column.

    The key columns identify a row, so this is a total order: a read returns the same frame
    whatever parts the rows are spread over.
    """
    keys = keys_of(cls)
    first = ("ts_event", *(c for c in _SEQUENCE if c in keys))
    return first + tuple(c for c in keys if c not in first)


def to_frame(table: pa.Table, cls: type[Record] | type[Instrument]) -> pl.DataFrame:
    """Turn an Arrow table read from the store into a frame with the dataset's exact dtypes."""
    df = pl.from_arrow(table)
    assert isinstance(df, pl.DataFrame)
    sch = schema_of(cls)
    return df.cast({c: sch[c] for c in df.columns})


def read_file(path: Path, cls: type[Record] | type[Instrument]) -> pl.DataFrame:
    """Read one whole Parquet file of the store."""
    return to_frame(pq.read_table(path, schema=SCHEMAS[cls.dataset]), cls)


def read_window(parts: Sequence[Part], cls: type[Record], lo: int, hi: int) -> pl.DataFrame:
    """Key columns of the stored rows with ``lo <= ts_event <= hi``.

    Only the row groups whose footer statistics overlap the range are read, so a write of
    the latest seconds reads a row group or two however large the day is.
    """
    keys = keys_of(cls)
    tables = []
    for part in parts:
        groups = part.groups_within(lo, hi)
        if groups:
            table = pq.ParquetFile(part.path).read_row_groups(groups, columns=list(keys))
            tables.append(table.cast(_key_schema(cls)))
    if not tables:
        return pl.DataFrame(schema={c: schema_of(cls)[c] for c in keys})
    df = to_frame(pa.concat_tables(tables), cls)
    return df.filter(pl.col("ts_event").is_between(lo, hi))


def write_frame(df: pl.DataFrame, cls: type[Record] | type[Instrument], path: Path) -> None:
    """Write a frame as one part (the caller sorts it)."""
    table = df.to_arrow().cast(SCHEMAS[cls.dataset])
    pq.write_table(table, path, compression="zstd", row_group_size=ROW_GROUP)


def merge_files(paths: Sequence[Path], cls: type[Record], rows: int, out: Path) -> None:
    """Write the rows of every file in ``paths`` as one sorted part at ``out``.

    The inputs are disjoint on the key columns (each part only ever received rows no other
    part held), so a merge is a sorted union with nothing to de-duplicate.
    """
    order = sort_columns(cls)
    if rows <= IN_MEMORY_MERGE_ROWS:
        sch = SCHEMAS[cls.dataset]
        df = to_frame(pa.concat_tables([pq.read_table(p, schema=sch) for p in paths]), cls)
        write_frame(df.sort(order, nulls_last=True, maintain_order=True), cls, out)
        return
    _merge_out_of_core(paths, cls, out, order)


def sql_str(text: str) -> str:
    """``text`` as a single-quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def _merge_out_of_core(
    paths: Sequence[Path], cls: type[Record], out: Path, order: Sequence[str]
) -> None:
    sch = SCHEMAS[cls.dataset]
    files = "[" + ", ".join(sql_str(str(p)) for p in paths) + "]"
    cols = ", ".join(f'"{c}"' for c in schema_of(cls))
    keys = ", ".join(f'"{c}" NULLS LAST' for c in order)
    spill = out.parent / f"{out.stem}.spill"
    with duckdb.connect(config={"temp_directory": str(spill)}) as con:
        rel = con.sql(f"SELECT {cols} FROM read_parquet({files}) ORDER BY {keys}")
        with pq.ParquetWriter(out, sch, compression="zstd") as writer:
            buf = pa.Table.from_batches([], schema=sch)
            for batch in rel.to_arrow_reader(ROW_GROUP):
                buf = pa.concat_tables([buf, pa.Table.from_batches([batch]).cast(sch)])
                while buf.num_rows >= ROW_GROUP:  # full row groups only, whatever DuckDB sends
                    writer.write_table(buf.slice(0, ROW_GROUP), row_group_size=ROW_GROUP)
                    buf = buf.slice(ROW_GROUP)
            if buf.num_rows:
                writer.write_table(buf, row_group_size=ROW_GROUP)
