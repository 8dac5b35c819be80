"""Bybit v5 public websocket and REST messages exactly as the venue sends them.

Field names are Bybit's own so that each struct can be checked against the documentation line
by line; the trailing comment says what each key means. Prices and sizes on the hot paths
(trades, order book, liquidations) are decoded to ``float`` by a non-strict decoder, which is
exact for the ≤15 significant digits Bybit prints and raises :class:`msgspec.ValidationError`
naming the field (``... - at `$.data[0].p```) for a non-numeric string. Ticker fields are kept
as text because Bybit sends ``""`` for fields that do not apply to a contract (the decoder parses
them one by one, naming the field on failure).

Every topic push shares one envelope ``{"topic", "type", "ts", "data", ...}``; the payload is left
as :class:`msgspec.Raw` until the topic prefix (``tickers``, ``orderbook`` ...) picks its struct.

Docs: https://bybit-exchange.github.io/docs/v5/websocket/public/orderbook (and ``/trade``,
``/ticker``, ``/kline``, ``/all-liquidation``, ``/liquidation``),
https://bybit-exchange.github.io/docs/v5/market/instrument.
"""

from __future__ import annotations

import msgspec

#: One price level: ``[price, size]``; size in base coins (linear, spot) or USD contracts
#: (inverse); size ``"0"`` in a delta deletes the level.
Level = tuple[float, float]


class Envelope(msgspec.Struct, frozen=True):
    """Any frame: a topic push, or an operation ack ``{"success", "ret_msg", "op"}``."""

    topic: str | None = None  # "tickers.BTCUSDT", "orderbook.200.BTCUSDT" ...; absent on acks
    type: str | None = None  # "snapshot" or "delta"
    ts: int | None = None  # time the system generated the data, ms
    cts: int | None = None  # orderbook: matching-engine time, ms (correlates with trades' T)
    data: msgspec.Raw = msgspec.Raw()  # the payload, decoded once its topic is known
    op: str | None = None  # acks: "subscribe", "ping" ...
    success: bool | None = None  # acks: whether the operation succeeded
    ret_msg: str | None = None  # acks: error text, or "pong"


class Ticker(msgspec.Struct, frozen=True):
    """``tickers.{symbol}`` data. Derivatives send a snapshot then deltas of changed fields only."""

    symbol: str  # symbol name
    lastPrice: str | None = None  # last traded price
    markPrice: str | None = None  # derivatives: mark price
    indexPrice: str | None = None  # derivatives: index price
    openInterest: str | None = None  # derivatives: OI, sum of BOTH sides (base coins / USD)
    openInterestValue: str | None = None  # derivatives: OI value, sum of both sides
    singleOpenInterest: str | None = None  # derivatives: OI, ONE side (base coins / USD)
    singleOpenInterestValue: str | None = None  # derivatives: OI value, one side
    fundingRate: str | None = None  # perpetuals: current funding rate (fraction); "" on futures
    nextFundingTime: str | None = None  # perpetuals: next funding time, ms
    fundingIntervalHour: str | None = None  # perpetuals: funding interval, hours


class Book(msgspec.Struct, frozen=True):
    """``orderbook.{depth}.{symbol}`` data."""

    s: str  # symbol
    b: list[Level]  # bids, best first
    a: list[Level]  # asks, best first
    u: int  # update id (u == 1 after a snapshot: the book service restarted)
    seq: int | None = None  # cross sequence


class PublicTrade(msgspec.Struct, frozen=True):
    """One element of ``publicTrade.{symbol}`` data."""

    T: int  # trade time, ms
    s: str  # symbol
    S: str  # TAKER side: "Buy" or "Sell"
    v: float  # size: base coins (linear, spot) or USD contracts (inverse)
    p: float  # price
    i: str  # trade id
    BT: bool = False  # block trade (negotiated off the book)
    L: str | None = None  # derivatives: price change direction


class KlineBar(msgspec.Struct, frozen=True):
    """One element of ``kline.{interval}.{symbol}`` data."""

    start: int  # bar start, ms
    end: int  # bar end, ms
    interval: str  # "1", "3" ... "720" (minutes), "D", "W", "M"
    open: float  # open price
    close: float  # close price
    high: float  # high price
    low: float  # low price
    volume: float  # volume: base coins (linear, spot) or USD contracts (inverse)
    turnover: float  # turnover: quote coin (linear, spot) or base coin (inverse)
    confirm: bool  # true once the bar is closed
    timestamp: int  # time of the last matched order in the bar, ms


class AllLiquidation(msgspec.Struct, frozen=True):
    """One element of ``allLiquidation.{symbol}`` data."""

    T: int  # updated time, ms
    s: str  # symbol
    S: str  # POSITION side: "Buy" ⇒ a long position was liquidated (docs, DOMAIN.md C5)
    v: float  # executed size: base coins (linear) or USD contracts (inverse)
    p: float  # bankruptcy price


class LegacyLiquidation(msgspec.Struct, frozen=True):
    """``liquidation.{symbol}`` data (deprecated topic; one object per push)."""

    symbol: str  # symbol name
    side: str  # POSITION side: "Buy" ⇒ a long position was liquidated (docs, DOMAIN.md C5)
    size: float  # executed size: base coins (linear) or USD contracts (inverse)
    price: float  # bankruptcy price
    updatedTime: int | None = None  # updated time, ms (the docs' example spelling)
    updateTime: int | None = None  # updated time, ms (the docs' table spelling)


class InstrumentInfo(msgspec.Struct, frozen=True):
    """One entry of ``GET /v5/market/instruments-info`` (only the contract terms we use)."""

    symbol: str  # symbol name, "BTCUSDT", "BTCUSDT-26DEC25", "BTCUSD"
    baseCoin: str  # base coin
    quoteCoin: str  # quote coin
    contractType: str | None = None  # LinearPerpetual / LinearFutures / InversePerpetual / ...
    settleCoin: str | None = None  # derivatives: settle coin
    deliveryTime: str | None = None  # futures: delivery time, ms ("0" on perpetuals)
    fundingInterval: int | None = None  # perpetuals: funding interval, MINUTES


class InstrumentsResult(msgspec.Struct, frozen=True):
    """The ``result`` object of an instruments-info response."""

    category: str  # linear / inverse / spot / option
    items: list[InstrumentInfo] = msgspec.field(name="list")  # "list": the instruments


class InstrumentsBody(msgspec.Struct, frozen=True):
    """``GET /v5/market/instruments-info`` response body."""

    retCode: int  # 0 on success
    retMsg: str  # "OK" or the error text
    result: msgspec.Raw = msgspec.Raw()  # InstrumentsResult; {} on errors
