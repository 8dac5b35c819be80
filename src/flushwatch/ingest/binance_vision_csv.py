"""Column layouts of Binance Vision CSVs, header detection and loading as strings.

Layouts are pinned by the README of github.com/binance/binance-public-data (spot and futures
tables; header-less spot files) and the verbatim excerpts in
``shared/data/binance-vision-format-examples`` (futures files with a header row).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from flushwatch.domain.tables import LINE
from flushwatch.domain.time import guess_epoch_unit
from flushwatch.errors import ParseError
from flushwatch.ingest.base import Progress
from flushwatch.ingest.binance_vision_common import (
    AGG_TRADES,
    BOOK_DEPTH,
    BOOK_TICKER,
    FUNDING,
    KLINES,
    LIQUIDATIONS,
    METRICS,
    TRADES,
    path_info,
)
from flushwatch.ingest.csvtools import read_csv_strings, require_columns
from flushwatch.ingest.files import read_bytes

_KLINE_COLS = (
    "open_time",
    "open",
    "high",
    "low",
    "close",
    "volume",
    "close_time",
    "quote_volume",
    "count",
    "taker_buy_volume",
    "taker_buy_quote_volume",
    "ignore",
)
_METRICS_COLS = (
    "create_time",
    "symbol",
    "sum_open_interest",
    "sum_open_interest_value",
    "count_toptrader_long_short_ratio",
    "sum_toptrader_long_short_ratio",
    "count_long_short_ratio",
    "sum_taker_long_short_vol_ratio",
)
_FUNDING_COLS = ("calc_time", "funding_interval_hours", "last_funding_rate")
_DEPTH_COLS = ("timestamp", "percentage", "depth", "notional")
_TICKER_COLS = (
    "update_id",
    "best_bid_price",
    "best_bid_qty",
    "best_ask_price",
    "best_ask_qty",
    "transaction_time",
    "event_time",
)
_AGG_COLS = (
    "agg_trade_id",
    "price",
    "quantity",
    "first_trade_id",
    "last_trade_id",
    "transact_time",
    "is_buyer_maker",
)
_TRADE_COLS = ("id", "price", "qty", "quote_qty", "time", "is_buyer_maker")
_LIQ_COLS = (
    "time",
    "side",
    "order_type",
    "time_in_force",
    "original_quantity",
    "price",
    "average_price",
    "order_status",
    "last_fill_quantity",
    "accumulated_fill_quantity",
)

#: Columns each kind needs (header files must have all of them).
REQUIRED: dict[str, tuple[str, ...]] = {
    KLINES: _KLINE_COLS[:11],
    METRICS: _METRICS_COLS,
    FUNDING: _FUNDING_COLS,
    BOOK_DEPTH: _DEPTH_COLS,
    BOOK_TICKER: _TICKER_COLS[:6],
    AGG_TRADES: (*_AGG_COLS[:3], *_AGG_COLS[5:]),
    TRADES: ("id", "price", "qty", "time", "is_buyer_maker"),
    LIQUIDATIONS: ("time", "side", "original_quantity", "price"),
}

#: Column names of header-less files by field count. Spot trades/aggTrades carry a trailing
#: ``isBestMatch``; COIN-M header-less trades hold baseQty where USDⓈ-M has quoteQty (README).
_HEADERLESS: dict[str, dict[int, tuple[str, ...]]] = {
    KLINES: {12: _KLINE_COLS},
    METRICS: {8: _METRICS_COLS},
    FUNDING: {3: _FUNDING_COLS},
    BOOK_DEPTH: {4: _DEPTH_COLS},
    BOOK_TICKER: {7: _TICKER_COLS},
    AGG_TRADES: {7: _AGG_COLS, 8: (*_AGG_COLS, "is_best_match")},
    TRADES: {6: _TRADE_COLS, 7: (*_TRADE_COLS, "is_best_match")},
    LIQUIDATIONS: {10: _LIQ_COLS},
}

_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}")

#: Header spellings seen in the wild → our column names. The funding-event-windows file of the
#: shared data renamed the Vision header (its PROVENANCE.md); REST-style camelCase also occurs.
_SYNONYMS = {
    "fundingtime": "calc_time",
    "fundingrate": "last_funding_rate",
    "quoteqty": "quote_qty",
    "baseqty": "base_qty",
    "isbuyermaker": "is_buyer_maker",
    "isbestmatch": "is_best_match",
}
_CANONICAL = {
    c.replace("_", ""): c for cols in _HEADERLESS.values() for v in cols.values() for c in v
} | {"baseqty": "base_qty"}


# --- header and sniffing ---------------------------------------------------------------------


def _first_fields(head: bytes) -> list[str] | None:
    first = head.split(b"\n", 1)[0].strip(b"\r").removeprefix(b"\xef\xbb\xbf")
    try:
        text = first.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if not text.strip() or "{" in text:
        return None
    return [f.strip().strip('"').strip() for f in text.split(",")]


def _canonical(name: str) -> str:
    key = name.strip().lower().replace("_", "").replace(" ", "")
    return _SYNONYMS.get(key) or _CANONICAL.get(key) or name


def _is_value(text: str) -> bool:
    """A data cell rather than a column name: a number or a date-time (metrics, bookDepth)."""
    return _is_number(text) or _DATETIME.match(text) is not None


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_epoch(text: str) -> bool:
    return text.isdigit() and guess_epoch_unit(int(text)) in ("ms", "us")


def _header_kind(fields: list[str]) -> str | None:
    names = {_canonical(f) for f in fields}
    best, best_hits = None, 0
    for kind, layouts in _HEADERLESS.items():
        # The Vision header of a kind is its shortest layout (COIN-M trades say base_qty).
        header = set(layouts[min(layouts)]) | ({"base_qty"} if kind == TRADES else set())
        hits = len(names & header)
        # One column may be missing so that read() names it instead of "unknown format";
        # matching the whole header keeps generic "time,side,price" files out.
        if hits >= max(3, len(layouts[min(layouts)]) - 1) and hits > best_hits:
            best, best_hits = kind, hits
    return best


def _looks_like_klines(fields: list[str]) -> bool:
    return (
        len(fields) == len(_KLINE_COLS)
        and all(_is_number(f) for f in fields)
        and _is_epoch(fields[0])
        and _is_epoch(fields[6])
        and int(fields[6]) > int(fields[0])
    )


def sniff_kind(path: Path, head: bytes) -> str | None:
    """Return the Vision kind of a file, or None when it is not a Binance Vision file."""
    fields = _first_fields(head)
    if fields is None:
        return None
    if not _is_value(fields[0]):
        return _header_kind(fields)
    kind = path_info(path).kind
    if kind is None:
        return KLINES if _looks_like_klines(fields) else None
    if kind == KLINES:
        return KLINES if _looks_like_klines(fields) else None
    layouts = _HEADERLESS[kind]
    return kind if len(fields) in layouts else None


# --- loading ---------------------------------------------------------------------------------


def load(path: Path, kind: str, progress: Progress | None) -> pl.DataFrame | None:
    """Read a Vision CSV (zip/gz/plain, header or not) as strings under our column names.

    Returns None for an empty file. A header-less COIN-M trades file gets ``base_qty`` for its
    fifth column, which holds the base quantity there (README, COIN-M "Trades" table).
    """
    data = read_bytes(path)
    if progress is not None:
        progress(len(data))
    if not data.strip():
        return None
    fields = _first_fields(data[:4096]) or [""]
    if not _is_value(fields[0]):
        df = read_csv_strings(data, path)
        df = df.rename({c: _canonical(c) for c in df.columns if c != LINE})
        require_columns(df, REQUIRED[kind], path)
        return df
    names = _headerless_names(kind, fields, path)
    return read_csv_strings(data, path, has_header=False, names=names)


def _headerless_names(kind: str, fields: list[str], path: Path) -> tuple[str, ...]:
    """Our names for a header-less file whose first line has ``fields``, or a ParseError."""
    layouts = _HEADERLESS[kind]
    names = layouts.get(len(fields))
    if names is None:
        counts = " or ".join(str(n) for n in layouts)
        raise ParseError(
            f"a header-less Binance Vision {kind} file has {counts} columns, this one has "
            f"{len(fields)}",
            path=path,
            line=1,
        )
    return names


def booleans(df: pl.DataFrame, col: str, path: Path) -> pl.Series:
    """Parse ``true``/``false`` (any case, as Binance writes them) or raise at the line."""
    text = df.get_column(col).str.strip_chars().str.to_lowercase()
    parsed = df.select(
        pl.when(text == "true").then(pl.lit(True)).when(text == "false").then(pl.lit(False))
    ).to_series()
    bad = text.is_not_null() & (text != "") & parsed.is_null()
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise ParseError(
            f"{df.get_column(col)[idx]!r} is not true or false",
            path=path,
            line=int(df.get_column(LINE)[idx]),
            field=col,
        )
    return parsed.alias(col)


def choice(df: pl.DataFrame, col: str, allowed: tuple[str, ...], path: Path) -> pl.Series:
    """Return the upper-cased column, raising at the first value not in ``allowed``."""
    values = df.get_column(col).str.strip_chars().str.to_uppercase()
    bad = values.is_null() | ~values.is_in(list(allowed))
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise ParseError(
            f"{df.get_column(col)[idx]!r} is not one of {', '.join(allowed)}",
            path=path,
            line=int(df.get_column(LINE)[idx]),
            field=col,
        )
    return values.alias(col)


def column_names(head: bytes, kind: str, path: Path) -> tuple[tuple[str, ...], bool]:
    """Our column names for a file starting with ``head``, and whether line 1 is a header.

    For readers that stream the file in pieces (:mod:`flushwatch.ingest.stream_trades`) and so
    cannot hand the whole file to :func:`load`; the same rules as :func:`load`.
    """
    fields = _first_fields(head[:4096]) or [""]
    if not _is_value(fields[0]):
        names = tuple(_canonical(f) for f in fields)
        missing = [c for c in REQUIRED[kind] if c not in names]
        if missing:
            raise ParseError(
                f"missing column (header has: {', '.join(fields)})",
                path=path,
                line=1,
                field=missing[0],
            )
        return names, True
    return _headerless_names(kind, fields, path), False
