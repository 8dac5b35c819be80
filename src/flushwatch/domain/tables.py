"""Column layout of every dataset, derived from the record definitions.

The record classes are the single source of truth; this module turns their annotations into
Polars schemas and turns lists of records into frames. The store builds its Arrow schemas
from the same :func:`columns` so nothing is declared twice.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from enum import StrEnum
from itertools import chain
from types import NoneType, UnionType
from typing import Union, get_args, get_origin, get_type_hints

import msgspec
import numpy as np
import polars as pl

from flushwatch.domain.enums import BookSide
from flushwatch.domain.records import (
    MARKET_RECORDS,
    BookDelta,
    BookUpdate,
    Funding,
    Instrument,
    Record,
)
from flushwatch.domain.time import FUNDING_GRID_NS, FUNDING_JITTER_NS

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


def row_class(cls: type[Record]) -> type[Record]:
    """The record type whose rows ``cls`` is stored as (a :class:`BookDelta` is book rows)."""
    return BookUpdate if cls is BookDelta else cls


def frame_from_records(
    cls: type[Record] | type[Instrument],
    records: Sequence[Record | Instrument],
    lines: Iterable[int] | None = None,
) -> pl.DataFrame:
    """Build a frame with the dataset's exact schema from records (and their source lines).

    :class:`BookDelta` records become the :class:`BookUpdate` rows they stand for, flattened
    in bulk (see :func:`book_frame`).
    """
    if cls is BookDelta:
        return book_frame(records, lines)  # type: ignore[arg-type]
    sch = schema(cls)
    rows = [msgspec.structs.astuple(r) for r in records]
    df = pl.DataFrame(rows, schema=sch, orient="row")
    if lines is not None:
        df = df.with_columns(pl.Series(LINE, list(lines), dtype=pl.Int64))
    return df


def frames_by_type(records: Iterable[Record]) -> dict[type[Record], pl.DataFrame]:
    """Group records by the rows they are stored as and build one frame per row type."""
    groups: dict[type[Record], list[Record]] = {}
    for rec in records:
        groups.setdefault(type(rec), []).append(rec)
    out: dict[type[Record], pl.DataFrame] = {}
    for cls, recs in groups.items():
        df = frame_from_records(cls, recs)
        prev = out.get(row_class(cls))
        out[row_class(cls)] = df if prev is None else pl.concat([prev, df], how="vertical")
    return out


_DELTA_HEAD = (
    "ts_event",
    "exchange",
    "market",
    "symbol",
    "ts_recv",
    "is_snapshot",
    "update_id",
    "first_update_id",
    "prev_update_id",
)


def book_frame(deltas: Sequence[BookDelta], lines: Iterable[int] | None = None) -> pl.DataFrame:
    """Flatten book deltas into ``book`` rows: per delta its bids, then its asks.

    One Python pass collects the levels into a flat float array (``np.fromiter``) and one row
    per delta of the shared fields; everything per level after that is vectorized. Rows come
    out in the order :meth:`BookDelta.rows` gives, so both ways to flatten agree.
    """
    sch = schema(BookUpdate)
    n = len(deltas)
    counts = np.empty(2 * n, dtype=np.int64)
    counts[0::2] = np.fromiter((len(d.bids) for d in deltas), np.int64, n)
    counts[1::2] = np.fromiter((len(d.asks) for d in deltas), np.int64, n)
    total = int(counts.sum())
    flat = np.fromiter(
        chain.from_iterable(
            chain.from_iterable(chain.from_iterable((d.bids, d.asks) for d in deltas))
        ),
        np.float64,
        2 * total,
    )
    per_delta = counts[0::2] + counts[1::2]
    head_schema = {name: sch[name] for name in _DELTA_HEAD}
    head = pl.DataFrame(
        [tuple(getattr(d, name) for name in _DELTA_HEAD) for d in deltas],
        schema=head_schema,
        orient="row",
    )
    idx = pl.Series(np.repeat(np.arange(n, dtype=np.int64), per_delta))
    is_bid = np.repeat(np.tile(np.array([True, False]), n), counts)
    df = head[idx].with_columns(
        pl.Series("side", np.where(is_bid, BookSide.BID.value, BookSide.ASK.value), pl.String),
        pl.Series("price", flat[0::2], pl.Float64),
        pl.Series("qty", flat[1::2], pl.Float64),
    )
    df = df.select(list(sch.names()))
    if lines is not None:
        line_arr = np.fromiter(lines, np.int64, n)
        df = df.with_columns(pl.Series(LINE, np.repeat(line_arr, per_delta), dtype=pl.Int64))
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


#: Column the store adds to compare rows by the instant they stand for (never stored).
INSTANT = "_instant"


def natural_key(cls: type[Record], df: pl.DataFrame) -> tuple[pl.DataFrame, list[str]]:
    """``df`` with what the natural key compares, and the key's column names.

    Settled funding is stamped a few milliseconds after its instant, differently per source
    (:func:`flushwatch.domain.time.funding_instant`): the Binance REST row at …00:00:00.022
    and the freqtrade row at …00:00:00.017 are one settlement. Its key compares the instant
    (column :data:`INSTANT`) instead of ``ts_event``; the row keeps the time it was sent with,
    so what was knowable when does not move. Predicted (unsettled) funding and every other
    dataset compare ``ts_event`` as it is.
    """
    natural = list(cls.natural)
    if cls is not Funding or not natural:
        return df, natural
    ts = pl.col("ts_event")
    half = FUNDING_GRID_NS // 2
    snapped = (ts + half) // FUNDING_GRID_NS * FUNDING_GRID_NS
    near = (ts - snapped).abs() <= FUNDING_JITTER_NS
    instant = pl.when(pl.col("is_settled") & near).then(snapped).otherwise(ts)
    key = [INSTANT if c == "ts_event" else c for c in natural]
    return df.with_columns(instant.alias(INSTANT)), key


def key_pad_ns(cls: type[Record]) -> int:
    """How far from an incoming row's ``ts_event`` a stored row of its natural key may lie."""
    return FUNDING_JITTER_NS if cls is Funding else 0
