"""Checks every parsed frame must pass before anything reaches the store.

These are the rules of :mod:`flushwatch.domain.records` made executable: required fields
present, prices finite and positive, quantities non-negative, timestamps plausible (which is
how a wrong time unit is caught) and, for time series files, never going backwards.

Exchange and symbol names become folders of the store, so they are checked here too (at the
edge, with file, line and field): at most :data:`MAX_NAME_LEN` characters, no path separator,
no ``..`` and no control character. A 300-character symbol used to end in "File name too
long" and a symbol ``..`` placed files outside the store's layout (issue 14).

Values a venue cannot have sent are refused too (issue 14, "bad values stored"):

* a timestamp more than :data:`FUTURE_SLACK_NS` (2 days) after now: clocks drift by
  seconds, and a file stamped days ahead is a wrong unit, a typo or a fabrication;
* a price above :data:`MAX_PRICE` (1e12; BTC quoted in IDR is about 1.5e9) or any size or
  notional above :data:`MAX_AMOUNT` (1e18; every coin's supply in base units is below it);
* a bar whose ``high`` is below its ``low``, ``open`` or ``close``, or whose ``low`` is above
  them (beyond a relative 1e-9, float noise); premium-index bars are signed fractions and
  are held to ``high >= low`` only;
* a quote whose bid is above its ask;
* a funding rate (settled or predicted) beyond ±1, i.e. 100 % per interval: the widest
  venue cap is a few percent.
"""

from __future__ import annotations

import time
from pathlib import Path

import polars as pl

from flushwatch.domain.records import Bar, Funding, Quote, Record
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
#: How far after now a timestamp may lie (clock drift, a venue's next funding time).
FUTURE_SLACK_NS = 2 * 86_400 * 10**9
#: Largest price accepted (quote units).
MAX_PRICE = 1e12
#: Largest size, notional or open interest accepted.
MAX_AMOUNT = 1e18
#: Largest funding rate accepted, as a fraction per interval (100 %).
MAX_FUNDING = 1.0
_REL = 1e-9


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


def validate(cls: type[Record], df: pl.DataFrame, path: Path, *, now_ns: int | None = None) -> None:
    """Raise :class:`ParseError` at the first row of ``df`` that breaks a record rule.

    ``now_ns`` is the time "the future" starts from (default: the wall clock).
    """
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
        limit = (time.time_ns() if now_ns is None else now_ns) + FUTURE_SLACK_NS
        _fail(
            df,
            ts.is_not_null() & (ts > limit),
            path,
            name,
            "timestamp {value} is more than 2 days in the future",
        )
    is_premium = df.get_column("price_kind") == "premium" if "price_kind" in df.columns else None
    for name in cls.positive:
        s = df.get_column(name)
        bad = s.is_not_null() & (s.is_nan() | s.is_infinite() | (s <= 0))
        if is_premium is not None:  # a premium index is a signed fraction, not a price
            bad = bad & ~is_premium | (s.is_not_null() & (s.is_nan() | s.is_infinite()))
        _fail(df, bad, path, name, "price {value} must be a finite number above zero")
        _fail(
            df, s > MAX_PRICE, path, name, f"price {{value}} is implausible (above {MAX_PRICE:g})"
        )
    for name in cls.non_negative:
        s = df.get_column(name)
        bad = s.is_not_null() & (s.is_nan() | s.is_infinite() | (s < 0))
        _fail(df, bad, path, name, "value {value} must be a finite number, zero or more")
        message = f"value {{value}} is implausible (above {MAX_AMOUNT:g})"
        _fail(df, s > MAX_AMOUNT, path, name, message)
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
    _check_relations(cls, df, path)
    if cls.ordered:
        _check_order(df, path)


def _above(a: pl.Expr, b: pl.Expr) -> pl.Expr:
    """``a`` above ``b`` by more than float noise (null-safe: false when either is null)."""
    return (a - b > _REL * pl.max_horizontal(a.abs(), b.abs())).fill_null(value=False)


def _check_relations(cls: type[Record], df: pl.DataFrame, path: Path) -> None:
    """Rules between fields of one row: OHLC order, bid <= ask, funding within its cap."""
    if cls is Bar:
        signed = pl.col("price_kind") == "premium"
        hi, lo = pl.col("high"), pl.col("low")
        rules = [
            ("low", _above(lo, hi), "low {value} is above the bar's high"),
            ("open", ~signed & (_above(pl.col("open"), hi) | _above(lo, pl.col("open"))),
             "open {value} is outside the bar's low..high"),
            ("close", ~signed & (_above(pl.col("close"), hi) | _above(lo, pl.col("close"))),
             "close {value} is outside the bar's low..high"),
        ]  # fmt: skip
    elif cls is Quote:
        rules = [
            ("bid_price", _above(pl.col("bid_price"), pl.col("ask_price")),
             "bid {value} is above the ask"),
        ]  # fmt: skip
    elif cls is Funding:
        cap = f"beyond ±{MAX_FUNDING:g} (100 % per interval): not a funding rate"
        over = [
            (n, (pl.col(n).abs() > MAX_FUNDING).fill_null(value=False))
            for n in ("rate", "predicted_rate")
        ]
        rules = [(n, m, f"rate {{value}} is {cap}") for n, m in over]
    else:
        return
    masks = df.select([m.alias(name) for name, m, _ in rules])
    for name, _, message in rules:
        _fail(df, masks.get_column(name), path, name, message)


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
