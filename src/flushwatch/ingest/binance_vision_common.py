"""What every Binance Vision file shares: its layout, its place in the tree and its venue.

data.binance.vision serves one CSV per zip under
``data/{spot,futures/um,futures/cm}/{daily,monthly}/<kind>/<SYMBOL>/[<interval>/]``
``<SYMBOL>-<kind or interval>-<date>.zip`` (README of github.com/binance/binance-public-data).
The CSV itself never says which venue it is from, so the venue comes from, in order: the
user's hints, the folder tree, a ``spot-``/``um-``/``cm-`` file-name prefix, and finally the
symbol or the kind when only one venue publishes it (``BTCUSD_PERP`` is COIN-M; ``metrics``,
``bookDepth`` ... exist only for futures). Column layouts are pinned by the README and by the
verbatim excerpts in ``shared/data/binance-vision-format-examples`` (see
:mod:`flushwatch.ingest.binance_vision_csv`).
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import polars as pl

from flushwatch.domain.enums import Market, PriceKind
from flushwatch.domain.records import Instrument
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Hints
from flushwatch.ingest.files import logical_name
from flushwatch.venues.binance.intervals import INTERVALS
from flushwatch.venues.binance.symbols import COINM, EXCHANGES, SPOT, USDM, infer_terms

KLINES = "klines"
METRICS = "metrics"
FUNDING = "fundingRate"
BOOK_DEPTH = "bookDepth"
BOOK_TICKER = "bookTicker"
AGG_TRADES = "aggTrades"
TRADES = "trades"
LIQUIDATIONS = "liquidationSnapshot"

#: Kinds only futures publish: without another clue such a file is USDⓈ-M (COIN-M symbols
#: always contain ``_``: ``BTCUSD_PERP``, ``BTCUSD_240927``).
_FUTURES_ONLY = frozenset({METRICS, FUNDING, BOOK_DEPTH, BOOK_TICKER, LIQUIDATIONS})

#: ``1mo`` is a calendar month with no fixed length: it is refused (see
#: :func:`interval_seconds`); the fixed intervals are in ``venues.binance.intervals``.
_MONTH = "1mo"

_PRICE_KINDS = {
    "markpriceklines": PriceKind.MARK,
    "indexpriceklines": PriceKind.INDEX,
    "premiumindexklines": PriceKind.PREMIUM,
}
_KIND_TOKENS = {
    "klines": KLINES,
    "markpriceklines": KLINES,
    "indexpriceklines": KLINES,
    "premiumindexklines": KLINES,
    "metrics": METRICS,
    "fundingrate": FUNDING,
    "funding": FUNDING,
    "bookdepth": BOOK_DEPTH,
    "bookticker": BOOK_TICKER,
    "aggtrades": AGG_TRADES,
    "trades": TRADES,
    "liquidationsnapshot": LIQUIDATIONS,
}
_NAME = re.compile(
    r"^(?:(?P<prefix>spot|um|cm)-)?(?P<symbol>[A-Z0-9]+(?:_[A-Z0-9]+)?)-(?P<tok>\w+?)(?:-|$)"
)
_PREFIXES = {"spot": SPOT, "um": USDM, "cm": COINM}


class PathInfo(msgspec.Struct, frozen=True):
    """What the folder tree and the file name say about a file."""

    exchange: str | None = None
    symbol: str | None = None
    kind: str | None = None
    interval: str | None = None
    price_kind: PriceKind = PriceKind.TRADE


def _is_interval(token: str) -> bool:
    return token in INTERVALS or token == _MONTH


def path_info(path: Path) -> PathInfo:
    """Read exchange, symbol, kind, interval and price kind from the path, where it says them."""
    exchange = symbol = kind = interval = None
    price_kind = PriceKind.TRADE
    parents = list(path.parent.parts)
    for i, part in enumerate(parents):
        nxt = parents[i + 1] if i + 1 < len(parents) else ""
        if part == "spot":
            exchange = SPOT
        elif part == "futures" and nxt in ("um", "cm"):
            exchange = _PREFIXES[nxt]
        elif part in ("daily", "monthly") and nxt.lower() in _KIND_TOKENS:
            kind = _KIND_TOKENS[nxt.lower()]
            price_kind = _PRICE_KINDS.get(nxt.lower(), PriceKind.TRADE)
            rest = parents[i + 2 : i + 4]
            symbol = rest[0] if rest else None
            if len(rest) > 1 and _is_interval(rest[1]):
                interval = rest[1]
    stem = logical_name(path)
    stem = stem[:-4] if stem.lower().endswith(".csv") else stem
    match = _NAME.match(stem)
    if match:
        if match["prefix"]:
            exchange = exchange or _PREFIXES[match["prefix"]]
        symbol = match["symbol"] if symbol is None else symbol
        tok = match["tok"]
        if _is_interval(tok):
            kind, interval = kind or KLINES, interval or tok
        elif tok.lower() in _KIND_TOKENS:
            kind = kind or _KIND_TOKENS[tok.lower()]
    for token, pk in _PRICE_KINDS.items():  # renamed copies such as BTCUSDT-markPriceKlines-1h
        if price_kind is PriceKind.TRADE and token in stem.lower():
            price_kind = pk
    return PathInfo(exchange, symbol, kind, interval, price_kind)


def interval_seconds(interval: str | None, spans_s: pl.Series, lines: pl.Series, path: Path) -> int:
    """Return the bar length in seconds, checked against ``close_time - open_time``.

    Binance stamps a kline's close time one ms (µs in 2025 spot files) before the next open
    (README kline example: open 1601510340000, close 1601510399999), so each row's span,
    rounded to whole seconds, is its interval. It must agree with the name's interval and be
    the same on every row. ``1mo`` (a calendar month of 28 to 31 days) is refused: bars need a
    fixed ``interval_s``.
    """
    month = InputError(
        "1mo klines are calendar months of 28 to 31 days; bars need a fixed length "
        "(interval_s), so import 1d klines instead",
        path=path,
    )
    if interval == _MONTH:
        raise month
    expected = INTERVALS[interval] if interval is not None else None
    if spans_s.len() == 0:
        if expected is None:
            raise InputError("cannot tell the kline interval of an empty file", path=path)
        return expected
    if spans_s.null_count():  # an empty open_time or close_time: a cut or edited row
        idx = int(spans_s.is_null().arg_true()[0])
        raise ParseError(
            "close_time or open_time is empty: the row is incomplete",
            path=path,
            line=int(lines[idx]),
            field="close_time",
        )
    first = int(spans_s[0])
    if expected is None:
        if 28 * 86400 <= first <= 31 * 86400:
            raise month
        if first not in INTERVALS.values():
            raise ParseError(
                f"close_time - open_time is {first} s, not a Binance kline interval",
                path=path,
                line=int(lines[0]),
                field="close_time",
            )
        expected = first
    wrong = spans_s != expected
    if wrong.any():
        idx = int(wrong.arg_true()[0])
        said = f"the file name says {interval}" if interval else f"the first bar is {first} s"
        raise ParseError(
            f"close_time - open_time is {int(spans_s[idx])} s but {said}; "
            "is the file renamed or are bars missing?",
            path=path,
            line=int(lines[idx]),
            field="close_time",
        )
    return expected


class Source(msgspec.Struct, frozen=True):
    """The venue one file belongs to, and how its quantities convert to base units."""

    exchange: str
    market: Market
    symbol: str
    #: USD per contract for COIN-M (sizes are contracts), None when sizes are base units.
    inverse_size: float | None
    instrument: Instrument | None


def _coinm_symbol(symbol: str) -> bool:
    pair, sep, _ = symbol.partition("_")
    return bool(sep) and pair.endswith("USD")


def _guess_exchange(symbol: str, kind: str, market: Market | None) -> str | None:
    if market is Market.SPOT:
        return SPOT
    if _coinm_symbol(symbol):
        return COINM
    if market in (Market.PERP, Market.FUTURE) or kind in _FUTURES_ONLY:
        return USDM
    return None


def resolve(path: Path, hints: Hints, kind: str, file_symbol: str | None = None) -> Source:
    """Work out exchange, market and symbol (hints win over the path, the path over guesses)."""
    info = path_info(path)
    symbol = hints.symbol or info.symbol or file_symbol
    if not symbol:
        raise InputError(
            "cannot tell the symbol: keep Binance's file name (<SYMBOL>-...) or pass --symbol",
            path=path,
        )
    exchange = hints.exchange or info.exchange or _guess_exchange(symbol, kind, hints.market)
    if exchange is None:
        raise InputError(
            f"cannot tell whether this Binance Vision {kind} file of {symbol} is spot, USDⓈ-M "
            "or COIN-M: keep it in its data.binance.vision folder tree (.../spot/..., "
            ".../futures/um/..., .../futures/cm/...), prefix its name with spot-, um- or cm-, "
            "or pass --exchange binance|binanceusdm|binancecoinm (or --market spot|perp)",
            path=path,
        )
    if exchange not in EXCHANGES:
        raise InputError(
            f"exchange {exchange!r} is not a Binance venue; Binance Vision files are from "
            + ", ".join(EXCHANGES),
            path=path,
        )
    terms = infer_terms(exchange, symbol)
    if exchange == COINM and terms.inverse_size is None:  # pragma: no cover - infer_terms sets it
        raise InputError(f"unknown contract size for {symbol}", path=path)
    return Source(
        exchange=exchange,
        market=hints.market or terms.market,
        symbol=symbol,
        inverse_size=terms.inverse_size,
        instrument=terms.instrument,
    )


def with_source(df: pl.DataFrame, src: Source) -> pl.DataFrame:
    """Add the exchange, market and symbol columns every record needs."""
    return df.with_columns(
        pl.lit(src.exchange).alias("exchange"),
        pl.lit(str(src.market)).alias("market"),
        pl.lit(src.symbol).alias("symbol"),
    )
