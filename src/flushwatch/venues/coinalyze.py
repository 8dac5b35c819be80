"""Coinalyze history bodies → records (pure: JSON text in, records out; no I/O).

Wire shapes (https://api.coinalyze.net/v1/doc/): every history endpoint answers
``[{"symbol": "BTCUSDT_PERP.A", "history": [row, ...]}]``, ``t`` in UNIX seconds (the
interval's start), rows ascending:

* open interest, funding, predicted funding: ``{"t", "o", "h", "l", "c"}``;
* liquidations: ``{"t", "l", "s"}`` (long and short liquidations);
* long/short ratio: ``{"t", "r", "l", "s"}`` (ratio, long %, short %);
* OHLCV: ``{"t", "o", "h", "l", "c", "v", "bv", "tx", "btx"}`` (volume, buy volume, trades,
  buy trades), volumes in the unit ``/future-markets`` gives as ``oi_lq_vol_denominated_in``.

Labels: a Coinalyze symbol is one venue's market (``BTCUSDT_PERP.A`` is Binance's BTCUSDT
perpetual; ``.A`` is Coinalyze's code for Binance, from its ``/exchanges`` list). As with the
per-venue series of the CoinGlass exports (:mod:`flushwatch.ingest.vendor_builtin`), the
vendor stays the exchange and the venue is named in the symbol, ``<pair>-<venue>``
(``coinalyze`` / ``BTCUSDT-Binance``), so vendor rows never mix with the venue's own feed
(vendors and venues disagree, DOMAIN.md C13); liquidation buckets carry the venue in ``venues``.

Units: open interest and liquidations are asked in USD (``convert_to_usd=true``), so OI is
``oi_quote`` and buckets are long/short USD. Funding rates come in PERCENT per the venue's
funding interval (Binance BTCUSDT 2025-10-23: ``0.002673`` where Binance's fraction was
0.00002673), stored as fractions. OI and funding OHLC rows are stamped at their start with the
open, the value observed then (the convention of the CoinGlass CSV import). The long/short ratio
is the venue's global accounts ratio (Binance's ``globalLongShortAccountRatio``).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from decimal import Decimal
from typing import TypeVar

import msgspec

from flushwatch.domain.enums import Market, PriceKind, RatioKind
from flushwatch.domain.records import (
    Bar,
    Funding,
    LiquidationBucket,
    LongShortRatio,
    OpenInterest,
    Record,
)
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS, NS_PER_S
from flushwatch.errors import DataIntegrityError

VENDOR = "coinalyze"
#: Coinalyze exchange codes (the suffix after the dot) → venue names, from ``/exchanges``.
EXCHANGES: Mapping[str, str] = {
    "A": "Binance",
    "6": "Bybit",
    "3": "OKX",
    "0": "BitMEX",
    "2": "Deribit",
    "4": "Huobi",
    "7": "Phemex",
    "8": "dYdX",
    "F": "Bitfinex",
    "K": "Kraken",
    "Y": "Gate.io",
    "H": "Hyperliquid",
    "W": "WOO X",
    "V": "Vertex",
}


class FutureMarket(msgspec.Struct, frozen=True):
    """One ``/future-markets`` entry (the fields flushwatch reads)."""

    symbol: str
    exchange: str
    symbol_on_exchange: str = ""
    base_asset: str = ""
    quote_asset: str = ""
    is_perpetual: bool = True
    oi_lq_vol_denominated_in: str | None = None  # BASE_ASSET or QUOTE_ASSET


class Ohlc(msgspec.Struct, frozen=True):
    """Open interest or a funding rate over one interval."""

    t: int
    o: float
    h: float
    l: float  # noqa: E741 - Coinalyze's field name
    c: float


class Liq(msgspec.Struct, frozen=True):
    """Liquidations over one interval: longs ``l`` and shorts ``s`` (USD here)."""

    t: int
    l: float  # noqa: E741 - Coinalyze's field name
    s: float


class Ratio(msgspec.Struct, frozen=True):
    """Long/short ratio ``r`` with the long and short shares in percent."""

    t: int
    r: float
    l: float | None = None  # noqa: E741 - Coinalyze's field name
    s: float | None = None


class Ohlcv(msgspec.Struct, frozen=True):
    """One candle: price OHLC, volume, buy volume, trades, buy trades."""

    t: int
    o: float
    h: float
    l: float  # noqa: E741 - Coinalyze's field name
    c: float
    v: float | None = None
    bv: float | None = None
    tx: int | None = None
    btx: int | None = None


class OhlcSeries(msgspec.Struct, frozen=True):
    symbol: str
    history: list[Ohlc]


class LiqSeries(msgspec.Struct, frozen=True):
    symbol: str
    history: list[Liq]


class RatioSeries(msgspec.Struct, frozen=True):
    symbol: str
    history: list[Ratio]


class OhlcvSeries(msgspec.Struct, frozen=True):
    symbol: str
    history: list[Ohlcv]


T = TypeVar("T")
R = TypeVar("R", Ohlc, Liq, Ratio, Ohlcv)

# strict=False: a count printed as 12.0 or a number as a string still reads; shapes do not bend.
_MARKETS = msgspec.json.Decoder(list[FutureMarket], strict=False)
_OHLC = msgspec.json.Decoder(list[OhlcSeries], strict=False)
_LIQ = msgspec.json.Decoder(list[LiqSeries], strict=False)
_RATIO = msgspec.json.Decoder(list[RatioSeries], strict=False)
_OHLCV = msgspec.json.Decoder(list[OhlcvSeries], strict=False)


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """What one request window is decoded with: its buckets and the markets' terms."""

    interval_s: int
    #: First and last bucket start (UNIX seconds) of the window; other rows are dropped.
    first: int
    last: int
    ts_recv: int | None = None


def series_symbol(symbol: str) -> str:
    """flushwatch's symbol of a Coinalyze market: ``BTCUSDT_PERP.A`` → ``BTCUSDT-Binance``.

    Examples
    --------
    >>> series_symbol("BTCUSDT_PERP.A"), series_symbol("ETHUSD_PERP.0")
    ('BTCUSDT-Binance', 'ETHUSD-BitMEX')
    """
    name, _, code = symbol.rpartition(".")
    return f"{name.removesuffix('_PERP')}-{venue_of(symbol) if code else symbol}"


def venue_of(symbol: str) -> str:
    """The venue a Coinalyze symbol trades on (its code when the code is not in the table)."""
    code = symbol.rpartition(".")[2]
    return EXCHANGES.get(code, code)


def decode_markets(url: str, body: str | bytes) -> dict[str, FutureMarket]:
    """``/future-markets`` → ``{coinalyze symbol: market}``."""
    return {m.symbol: m for m in _decode(_MARKETS, url, body)}


def _decode(decoder: msgspec.json.Decoder[list[T]], url: str, body: str | bytes) -> list[T]:
    try:
        return decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DataIntegrityError(f"{url}: not the documented Coinalyze answer: {exc}") from None


def _rows(url: str, history: list[R], page: Page) -> Iterator[tuple[int, R]]:
    for row in history:
        ts = row.t * NS_PER_S
        if not MIN_TS_NS <= ts < MAX_TS_NS:
            raise DataIntegrityError(f"{url}: t={row.t} is not a time in UNIX seconds")
        if page.first <= row.t <= page.last:
            yield ts, row


def _market(symbol: str, markets: Mapping[str, FutureMarket]) -> Market:
    known = markets.get(symbol)
    return Market.PERP if known is None or known.is_perpetual else Market.FUTURE


def _percent(value: float) -> float:
    # Shift the decimal text exactly ("0.002673" % is the float nearest 0.00002673).
    return float(Decimal(repr(value)) / 100)


def open_interest(
    url: str, body: str | bytes, page: Page, markets: Mapping[str, FutureMarket]
) -> list[Record]:
    """``/open-interest-history`` (USD) → :class:`OpenInterest` ``oi_quote`` = the open."""
    return [
        OpenInterest(
            ts_event=ts,
            ts_recv=page.ts_recv,
            exchange=VENDOR,
            market=_market(s.symbol, markets),
            symbol=series_symbol(s.symbol),
            oi_quote=row.o,
        )
        for s in _decode(_OHLC, url, body)
        for ts, row in _rows(url, s.history, page)
    ]


def liquidations(
    url: str, body: str | bytes, page: Page, markets: Mapping[str, FutureMarket]
) -> list[Record]:
    """``/liquidation-history`` (USD) → :class:`LiquidationBucket` of the one venue."""
    return [
        LiquidationBucket(
            ts_event=ts,
            ts_recv=page.ts_recv,
            exchange=VENDOR,
            market=_market(s.symbol, markets),
            symbol=series_symbol(s.symbol),
            interval_s=page.interval_s,
            long_usd=row.l,
            short_usd=row.s,
            venues=venue_of(s.symbol),
        )
        for s in _decode(_LIQ, url, body)
        for ts, row in _rows(url, s.history, page)
    ]


def funding(
    url: str,
    body: str | bytes,
    page: Page,
    markets: Mapping[str, FutureMarket],
    predicted: tuple[str, str | bytes] | None = None,
) -> list[Record]:
    """``/funding-rate-history`` → :class:`Funding` (not settled: the rate in force), with
    ``predicted_rate`` from the ``/predicted-funding-rate-history`` body of the same window."""
    ahead: dict[tuple[str, int], float] = {}
    if predicted is not None:
        purl, pbody = predicted
        for s in _decode(_OHLC, purl, pbody):
            ahead.update(((s.symbol, ts), _percent(r.o)) for ts, r in _rows(purl, s.history, page))
    return [
        Funding(
            ts_event=ts,
            ts_recv=page.ts_recv,
            exchange=VENDOR,
            market=_market(s.symbol, markets),
            symbol=series_symbol(s.symbol),
            rate=_percent(row.o),
            is_settled=False,
            predicted_rate=ahead.get((s.symbol, ts)),
        )
        for s in _decode(_OHLC, url, body)
        for ts, row in _rows(url, s.history, page)
    ]


def long_short(
    url: str, body: str | bytes, page: Page, markets: Mapping[str, FutureMarket]
) -> list[Record]:
    """``/long-short-ratio-history`` → :class:`LongShortRatio` (global accounts)."""
    return [
        LongShortRatio(
            ts_event=ts,
            ts_recv=page.ts_recv,
            exchange=VENDOR,
            market=_market(s.symbol, markets),
            symbol=series_symbol(s.symbol),
            kind=RatioKind.GLOBAL_ACCOUNTS,
            ratio=row.r,
        )
        for s in _decode(_RATIO, url, body)
        for ts, row in _rows(url, s.history, page)
    ]


def ohlcv(
    url: str, body: str | bytes, page: Page, markets: Mapping[str, FutureMarket]
) -> list[Record]:
    """``/ohlcv-history`` → trade-price :class:`Bar`; volumes only where their unit is known."""
    out: list[Record] = []
    for s in _decode(_OHLCV, url, body):
        unit = markets[s.symbol].oi_lq_vol_denominated_in if s.symbol in markets else None
        base, quote = unit == "BASE_ASSET", unit == "QUOTE_ASSET"
        for ts, row in _rows(url, s.history, page):
            out.append(
                Bar(
                    ts_event=ts,
                    ts_recv=page.ts_recv,
                    exchange=VENDOR,
                    market=_market(s.symbol, markets),
                    symbol=series_symbol(s.symbol),
                    price_kind=PriceKind.TRADE,
                    interval_s=page.interval_s,
                    open=row.o,
                    high=row.h,
                    low=row.l,
                    close=row.c,
                    volume_base=row.v if base else None,
                    volume_quote=row.v if quote else None,
                    taker_buy_base=row.bv if base else None,
                    taker_buy_quote=row.bv if quote else None,
                    trade_count=row.tx,
                )
            )
    return out
