"""Checks every parsed frame must pass before anything reaches the store.

These are the rules of :mod:`flushwatch.domain.records` made executable: required fields
present, prices finite and positive, quantities non-negative, timestamps plausible (which is
how a wrong time unit is caught) and, for time series files, never going backwards.

Exchange and symbol names become folders of the store, so they are checked here too (at the
edge, with file, line and field): at most :data:`MAX_NAME_LEN` characters, no path separator,
no ``..`` and no control character. A 300-character symbol used to end in "File name too
long" and a symbol ``..`` placed files outside the store's layout (issue 14).
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flushwatch.domain.records import Record
from flushwatch.domain.tables import LINE, columns
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS, guess_epoch_unit
from flushwatch.errors import ParseError

_TS_FIELDS = ("ts_event", "ts_recv")
#: Columns that together name one time series inside a dataset (for the ordering check).
_SERIES_KEYS = ("exchange", "market", "symbol", "price_kind", "interval_s", "kind", "venues")
#: Longest exchange or symbol name accepted (real ones are at most 23 characters).
MAX_NAME_LEN = 64
#: Columns whose values name a folder of the store.
_NAME_FIELDS = ("exchange", "symbol")
_CONTROL = r"[\x00-\x1f\x7f]"


def name_problem(value: str) -> str | None:
    """Say why ``value`` cannot be an exchange or symbol name, or None when it can.

    Examples
    --------
    >>> [name_problem(v) for v in ("BTC-USD-SWAP", "..", "a/b")]
    [None, "contains '..'", 'contains a path separator']
    """
    if not value:
        return "is empty"
    if len(value) > MAX_NAME_LEN:
        return f"is {len(value)} characters long, more than {MAX_NAME_LEN}"
    if "/" in value or "\\" in value:
        return "contains a path separator"
    if ".." in value:
        return "contains '..'"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return "contains a control character"
    return None


def _check_names(df: pl.DataFrame, path: Path) -> None:
    for name in _NAME_FIELDS:
        if name not in df.columns:
            continue
        s = df.get_column(name).cast(pl.String)
        bad = s.is_not_null() & (
            (s.str.len_chars() == 0)
            | (s.str.len_chars() > MAX_NAME_LEN)
            | s.str.contains("/", literal=True)
            | s.str.contains("\\", literal=True)
            | s.str.contains("..", literal=True)
            | s.str.contains(_CONTROL)
        )
        if bad.any():
            line, idx = _line_of(df, bad)
            value = str(s[idx])
            shown = repr(value if len(value) <= 40 else value[:40] + "...")
            raise ParseError(
                f"{name} {shown} {name_problem(value)}: {name}s name folders of the store",
                path=path,
                line=line,
                field=name,
            )


def _line_of(df: pl.DataFrame, mask: pl.Series) -> tuple[int | None, int]:
    idx = int(mask.arg_true()[0])
    line = int(df.get_column(LINE)[idx]) if LINE in df.columns else None
    return line, idx


def _fail(df: pl.DataFrame, mask: pl.Series, path: Path, field: str, message: str) -> None:
    if mask.any():
        line, idx = _line_of(df, mask)
        value = df.get_column(field)[idx]
        raise ParseError(message.format(value=value), path=path, line=line, field=field)


def validate(cls: type[Record], df: pl.DataFrame, path: Path) -> None:
    """Raise :class:`ParseError` at the first row of ``df`` that breaks a record rule."""
    for col in columns(cls):
        if not col.nullable:
            _fail(df, df.get_column(col.name).is_null(), path, col.name, "required value missing")
    for name in _TS_FIELDS:
        ts = df.get_column(name)
        bad = ts.is_not_null() & ((ts < MIN_TS_NS) | (ts >= MAX_TS_NS))
        if bad.any():
            line, idx = _line_of(df, bad)
            value = int(ts[idx])
            unit = guess_epoch_unit(value)
            hint = (
                f" (it looks like {unit}, not ns: wrong time unit)"
                if unit not in (None, "ns")
                else ""
            )
            raise ParseError(
                f"timestamp {value} is outside 2010..2100{hint}", path=path, line=line, field=name
            )
    is_premium = df.get_column("price_kind") == "premium" if "price_kind" in df.columns else None
    for name in cls.positive:
        s = df.get_column(name)
        bad = s.is_not_null() & (s.is_nan() | s.is_infinite() | (s <= 0))
        if is_premium is not None:  # a premium index is a signed fraction, not a price
            bad = bad & ~is_premium | (s.is_not_null() & (s.is_nan() | s.is_infinite()))
        _fail(df, bad, path, name, "price {value} must be a finite number above zero")
    for name in cls.non_negative:
        s = df.get_column(name)
        bad = s.is_not_null() & (s.is_nan() | s.is_infinite() | (s < 0))
        _fail(df, bad, path, name, "value {value} must be a finite number, zero or more")
    for col in columns(cls):
        if col.dtype == pl.Float64() and col.name not in cls.positive + cls.non_negative:
            s = df.get_column(col.name)
            _fail(
                df,
                s.is_not_null() & (s.is_nan() | s.is_infinite()),
                path,
                col.name,
                "value {value} must be a finite number",
            )
    _check_names(df, path)
    if cls.ordered:
        _check_order(df, path)


def _check_order(df: pl.DataFrame, path: Path) -> None:
    keys = [k for k in _SERIES_KEYS if k in df.columns]
    back = df.select(
        (pl.col("ts_event").diff().over(keys) < 0).fill_null(value=False).alias("back")
    ).to_series()
    if back.any():
        line, idx = _line_of(df, back)
        raise ParseError(
            f"timestamp {df.get_column('ts_event')[idx]} goes back in time from the row before; "
            "the file is out of order or mixes time units",
            path=path,
            line=line,
            field="ts_event",
        )
