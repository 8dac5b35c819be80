"""CSV reading that keeps line numbers, so every bad value can be named by file, line, field.

Every CSV is read as strings first (``infer_schema=False``), then each needed column is cast
explicitly. A value that is present but does not parse is a :class:`ParseError` at its line;
an empty value becomes null and the validator decides whether null is allowed.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from pathlib import Path

import polars as pl

from flushwatch.domain.tables import LINE
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS, Unit
from flushwatch.errors import ParseError

_FACTOR = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def read_csv_strings(
    data: bytes,
    path: Path,
    *,
    has_header: bool = True,
    names: Sequence[str] | None = None,
) -> pl.DataFrame:
    """Read CSV bytes as an all-string frame with a ``_line`` column (1-based physical line).

    With ``has_header=False`` the columns are named ``names``; a row with another number of
    fields is reported at its line.
    """
    try:
        df = pl.read_csv(
            data,
            has_header=has_header,
            new_columns=list(names) if names is not None and not has_header else None,
            infer_schema=False,
            truncate_ragged_lines=False,
            raise_if_empty=False,
        )
    except pl.exceptions.ComputeError as exc:
        raise ParseError(
            f"not a well-formed CSV file: {str(exc).splitlines()[0]}",
            path=path,
            line=bad_csv_line(data),
        ) from exc
    if names is not None and not has_header and df.width != len(names):
        raise ParseError(f"expected {len(names)} columns, found {df.width}", path=path, line=1)
    first = 2 if has_header else 1
    if df.height:
        _check_last_line(data, df.columns, first + df.height - 1, path)
    return df.with_columns(pl.int_range(first, first + df.height, dtype=pl.Int64).alias(LINE))


def bad_csv_line(data: bytes) -> int | None:
    """The 1-based line where a CSV that Polars refused goes wrong, when it can be told.

    The first byte that is not UTF-8, else the first line with an odd number of quotes (an
    unclosed quoted field swallows what follows) or with more fields than the first line.
    Polars names none of these; the user should not have to bisect the file.
    """
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        return data[: exc.start].count(b"\n") + 1
    width: int | None = None
    for number, line in enumerate(text.split("\n"), start=1):
        if line.count('"') % 2:
            return number
        try:
            fields = next(csv.reader([line.rstrip("\r")]), [])
        except csv.Error:
            return number
        if width is None:
            width = len(fields)
        elif len(fields) > width:
            return number
    return None


def _check_last_line(data: bytes, columns: Sequence[str], line: int, path: Path) -> None:
    """Refuse a file whose last row was cut short (Polars pads a short row with nulls).

    A download or a copy cut mid-row leaves a last line with fewer fields than the header;
    its missing values would be stored as nulls (issue 14: 28 such rows were stored).
    """
    lines = data.rstrip(b"\r\n").splitlines()  # any line end: \n, \r\n or a lone \r
    last = lines[-1] if lines else b""
    try:
        fields = next(csv.reader([last.decode("utf-8", errors="replace")]), [])
    except csv.Error as exc:  # e.g. a NUL byte
        raise ParseError(f"not a well-formed CSV line ({exc})", path=path, line=line) from exc
    if len(fields) < len(columns):
        raise ParseError(
            f"the last line has {len(fields)} fields, the header {len(columns)}: the file is "
            "cut short",
            path=path,
            line=line,
            field=columns[len(fields)],
        )


def require_columns(df: pl.DataFrame, needed: Sequence[str], path: Path) -> None:
    """Raise naming the first missing header column."""
    for name in needed:
        if name not in df.columns:
            raise ParseError(
                f"missing column (header has: {', '.join(c for c in df.columns if c != LINE)})",
                path=path,
                line=1,
                field=name,
            )


def _first_bad(df: pl.DataFrame, col: str, parsed: pl.Series) -> int | None:
    raw = df.get_column(col)
    bad = raw.is_not_null() & (raw.str.strip_chars() != "") & parsed.is_null()
    if not bad.any():
        return None
    return int(df.filter(bad).get_column(LINE)[0])


def _raise_bad(df: pl.DataFrame, col: str, parsed: pl.Series, path: Path, what: str) -> None:
    line = _first_bad(df, col, parsed)
    if line is not None:
        value = df.filter(pl.col(LINE) == line).get_column(col)[0]
        raise ParseError(f"{value!r} is not {what}", path=path, line=line, field=col)


def _cleaned(df: pl.DataFrame, col: str) -> pl.Expr:
    s = pl.col(col).str.strip_chars()
    return pl.when(s == "").then(None).otherwise(s)


def floats(df: pl.DataFrame, col: str, path: Path) -> pl.Series:
    """Parse a string column as float64; empty → null; garbage → ParseError at its line."""
    parsed = df.select(_cleaned(df, col).cast(pl.Float64, strict=False)).to_series()
    _raise_bad(df, col, parsed, path, "a number")
    return parsed.alias(col)


def ints(df: pl.DataFrame, col: str, path: Path) -> pl.Series:
    """Parse a string column as int64 (``"1.0"`` is refused)."""
    parsed = df.select(_cleaned(df, col).cast(pl.Int64, strict=False)).to_series()
    _raise_bad(df, col, parsed, path, "an integer")
    return parsed.alias(col)


def epoch_ns(df: pl.DataFrame, col: str, path: Path, unit: Unit | None = None) -> pl.Series:
    """Parse an integer epoch column into nanoseconds.

    With ``unit=None`` the unit is detected per value (s, ms, µs or ns all exist in the wild:
    Binance Vision spot klines switched from ms to µs in 2025), which is safe because the
    four plausible ranges do not overlap. A value plausible in no unit is a ParseError.
    """
    raw = ints(df, col, path)
    if unit is not None:
        return (raw * _FACTOR[unit]).alias(col)
    factors = raw.to_frame().select(epoch_factor(pl.col(col))).to_series()
    bad = raw.is_not_null() & factors.is_null()
    if bad.any():
        i = int(bad.arg_true()[0])
        raise ParseError(
            f"{raw[i]} is not an epoch time in s, ms, µs or ns between 2010 and 2100",
            path=path,
            line=int(df.get_column(LINE)[i]),
            field=col,
        )
    return (raw * factors).alias(col)


def epoch_factor(v: pl.Expr) -> pl.Expr:
    """Nanoseconds per unit of each epoch value (null where no unit fits).

    :func:`flushwatch.domain.time.guess_epoch_unit` vectorised: the first of s, ms, µs, ns
    whose 2010..2100 range holds the value (MIN <= v * f < MAX ⇔ ceil(MIN / f) <= v <
    ceil(MAX / f), which does not overflow int64).
    """
    factor: pl.Expr = pl.lit(None, dtype=pl.Int64)
    for unit in ("ns", "us", "ms", "s"):
        f = _FACTOR[unit]
        fits = (v >= -(-MIN_TS_NS // f)) & (v < -(-MAX_TS_NS // f))
        factor = pl.when(fits).then(pl.lit(f, dtype=pl.Int64)).otherwise(factor)
    return factor


def datetimes_ns(df: pl.DataFrame, col: str, path: Path, fmt: str | None = None) -> pl.Series:
    """Parse a date-time string column as UTC nanoseconds (naive text is taken as UTC)."""
    expr = _cleaned(df, col)
    if fmt is None:
        parsed_dt = df.select(
            expr.str.to_datetime(time_unit="ns", time_zone="UTC", strict=False)
        ).to_series()
    else:
        parsed_dt = df.select(
            expr.str.to_datetime(fmt, time_unit="ns", strict=False).dt.replace_time_zone("UTC")
        ).to_series()
    parsed = parsed_dt.dt.epoch("ns")
    _raise_bad(df, col, parsed, path, "a date-time")
    return parsed.alias(col)
