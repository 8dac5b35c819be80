"""Column layout of every dataset, derived from the record definitions.

The record classes are the single source of truth; this module turns their annotations into
Polars schemas and turns lists of records into frames. The store builds its Arrow schemas
from the same :func:`columns` so nothing is declared twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from types import NoneType, UnionType
from typing import Union, get_args, get_origin, get_type_hints

import msgspec
import polars as pl

from flushwatch.domain.records import MARKET_RECORDS, Instrument, Record

#: Column added by importers to carry the source line of each row; dropped before storing.
LINE = "_line"

DATASETS: dict[str, type[Record]] = {cls.dataset: cls for cls in MARKET_RECORDS}


class Column(msgspec.Struct, frozen=True):
    """One column of a dataset: its name, Polars dtype and nullability."""

    name: str
    dtype: pl.DataType
    nullable: bool


def _dtype(tp: object) -> tuple[pl.DataType, bool]:
    nullable = False
    if get_origin(tp) in (Union, UnionType):
        args = [a for a in get_args(tp) if a is not NoneType]
        nullable = len(args) != len(get_args(tp))
        (tp,) = args
    if isinstance(tp, type) and issubclass(tp, StrEnum):
        return pl.String(), nullable
    mapping: dict[object, pl.DataType] = {
        int: pl.Int64(),
        float: pl.Float64(),
        str: pl.String(),
        bool: pl.Boolean(),
    }
    return mapping[tp], nullable


def columns(cls: type[Record] | type[Instrument]) -> tuple[Column, ...]:
    """Return the columns of a record type in field order."""
    hints = get_type_hints(cls)
    out = []
    for name in cls.__struct_fields__:
        dtype, nullable = _dtype(hints[name])
        out.append(Column(name, dtype, nullable))
    return tuple(out)


def schema(cls: type[Record] | type[Instrument]) -> pl.Schema:
    """Return the Polars schema of a record type."""
    return pl.Schema({c.name: c.dtype for c in columns(cls)})


def key_columns(cls: type[Record]) -> list[str]:
    """Columns that identify a row for de-duplication: everything but the receive time.

    Two rows equal on every exchange-given field are the same event, whoever recorded it and
    whenever (a replayed file, an overlapping reconnect, a Binance Vision duplicate row).
    """
    return [c.name for c in columns(cls) if c.name != "ts_recv"]


def frame_from_records(
    cls: type[Record] | type[Instrument],
    records: Sequence[Record | Instrument],
    lines: Iterable[int] | None = None,
) -> pl.DataFrame:
    """Build a frame with the dataset's exact schema from records (and their source lines)."""
    sch = schema(cls)
    rows = [msgspec.structs.astuple(r) for r in records]
    df = pl.DataFrame(rows, schema=sch, orient="row")
    if lines is not None:
        df = df.with_columns(pl.Series(LINE, list(lines), dtype=pl.Int64))
    return df


def conform(cls: type[Record] | type[Instrument], df: pl.DataFrame) -> pl.DataFrame:
    """Select and cast a frame to the dataset schema, keeping ``_line`` if present.

    Missing nullable columns are added as nulls; a missing required column is a bug in the
    importer, so it raises ``KeyError`` naming it.
    """
    exprs = []
    for col in columns(cls):
        if col.name in df.columns:
            exprs.append(pl.col(col.name).cast(col.dtype))
        elif col.nullable:
            exprs.append(pl.lit(None, dtype=col.dtype).alias(col.name))
        else:
            raise KeyError(f"{cls.__name__} frame lacks required column {col.name!r}")
    if LINE in df.columns:
        exprs.append(pl.col(LINE).cast(pl.Int64))
    return df.select(exprs)
