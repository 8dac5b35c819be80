"""Binance wire messages exactly as the venue sends them (spot, USDⓈ-M and COIN-M).

Field names are Binance's own one-letter keys so that a struct can be checked against the
documentation line by line; the trailing comment says what each key means. Numbers that Binance
sends as strings (prices, quantities) are decoded to ``float`` by a non-strict decoder, which is
exact for the ≤15 significant digits Binance prints.

Websocket events are a msgspec *tagged union* on the event-type key ``e`` (STYLE.md item 1), so
one decode both validates the payload and picks its type; no ``if e == ...`` chain. Spot
``bookTicker`` has no ``e`` key at all (futures ``bookTicker`` has one): it is decoded directly as
:class:`BookTicker`, for which msgspec treats the tag as optional.

Docs: https://developers.binance.com/docs/binance-spot-api-docs/web-socket-streams,
https://developers.binance.com/docs/derivatives/usds-margined-futures/websocket-market-streams,
https://developers.binance.com/docs/derivatives/coin-margined-futures/websocket-market-streams.
"""

from __future__ import annotations

import msgspec

#: One price level: ``[price, quantity]`` (quantity in contracts on COIN-M).
Level = tuple[float, float]


class Envelope(msgspec.Struct, frozen=True):
    """Combined-stream wrapper ``{"stream": ..., "data": {...}}``, or an ack ``{"id": ...}``.

    A raw (``/ws/<stream>``) frame decodes with ``stream`` None: the frame is the event itself.
    """

    stream: str | None = None  # stream name, e.g. "btcusdt@depth@0ms"
    data: msgspec.Raw = msgspec.Raw()  # the event, left undecoded until its type is known
    id: int | str | None = None  # request id: present only on subscription results / errors
    error: msgspec.Raw = msgspec.Raw()  # {"code": ..., "msg": ...} on a rejected request


class Trade(msgspec.Struct, frozen=True, tag_field="e", tag="trade"):
    """``<symbol>@trade``: one raw trade."""

    E: int  # event time, ms
    s: str  # symbol
    t: int  # trade id
    p: float  # price
    q: float  # quantity (base units; contracts on COIN-M)
    T: int  # trade time, ms
    m: bool  # is the buyer the market maker? true ⇒ the taker sold
    X: str | None = None  # futures only: "MARKET", or "INSURANCE_FUND"/"ADL"/"NA" prints


class AggTrade(msgspec.Struct, frozen=True, tag_field="e", tag="aggTrade"):
    """``<symbol>@aggTrade``: trades of one taker order at one price, aggregated."""

    E: int  # event time, ms
    s: str  # symbol
    a: int  # aggregate trade id
    p: float  # price
    q: float  # quantity (base units; contracts on COIN-M)
    f: int  # first trade id
    T: int  # trade time, ms
    m: bool  # is the buyer the market maker? true ⇒ the taker sold
    last_id: int = msgspec.field(name="l", default=0)  # "l": last trade id


class BookTicker(msgspec.Struct, frozen=True, tag_field="e", tag="bookTicker"):
    """``<symbol>@bookTicker``: best bid and ask. Spot sends neither ``e`` nor ``E``/``T``."""

    u: int  # order book update id
    s: str  # symbol
    b: float  # best bid price
    B: float  # best bid quantity
    a: float  # best ask price
    A: float  # best ask quantity
    E: int | None = None  # futures only: event time, ms
    T: int | None = None  # futures only: transaction time, ms


class DepthUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="depthUpdate"):
    """``<symbol>@depth[@100ms|@0ms]``: incremental order book update (a diff, not a snapshot)."""

    E: int  # event time, ms
    s: str  # symbol
    U: int  # first update id in this event
    u: int  # final update id in this event
    b: list[Level]  # bids to update; quantity 0 removes the level
    a: list[Level]  # asks to update; quantity 0 removes the level
    T: int | None = None  # futures only: transaction time, ms
    pu: int | None = None  # futures only: final update id of the previous event


class ForceOrderDetail(msgspec.Struct, frozen=True):
    """The ``o`` object of a ``forceOrder`` event: the liquidation order.

    Example payload (USDⓈ-M docs, Liquidation-Order-Streams)::

        {"s":"BTCUSDT","S":"SELL","o":"LIMIT","f":"IOC","q":"0.014","p":"9910",
         "ap":"9910","X":"FILLED","l":"0.014","z":"0.014","T":1568014460893}
    """

    s: str  # symbol
    S: str  # ORDER side: "SELL" closes a long, i.e. a LONG position was liquidated (C5)
    o: str  # order type, "LIMIT"
    f: str  # time in force, "IOC"
    q: float  # original quantity (contracts on COIN-M)
    p: float  # order price (the bankruptcy-side limit price)
    ap: float  # average fill price; "0" before any fill
    X: str  # order status: "FILLED", "PARTIALLY_FILLED", "EXPIRED", "NEW"
    z: float  # accumulated filled quantity
    T: int  # order trade time, ms
    last_filled: float = msgspec.field(name="l", default=0.0)  # "l": last filled quantity
    ps: str | None = None  # COIN-M only: pair, e.g. "BTCUSD"


class ForceOrder(msgspec.Struct, frozen=True, tag_field="e", tag="forceOrder"):
    """``<symbol>@forceOrder`` / ``!forceOrder@arr``: a liquidation order (throttled, C1)."""

    E: int  # event time, ms
    o: ForceOrderDetail  # the order


class MarkPriceUpdate(msgspec.Struct, frozen=True, tag_field="e", tag="markPriceUpdate"):
    """``<symbol>@markPrice[@1s]``: mark, index and the *current* funding rate."""

    E: int  # event time, ms
    s: str  # symbol
    p: float  # mark price
    r: str  # funding rate (fraction per interval); "" for delivery contracts (COIN-M docs)
    T: int  # next funding time, ms; 0 for delivery contracts
    i: float = 0.0  # index price
    P: str = ""  # estimated settle price: a PRICE, only meaningful the hour before settlement


class KlineData(msgspec.Struct, frozen=True):
    """The ``k`` object of a ``kline`` event."""

    t: int  # kline start time, ms
    T: int  # kline close time, ms
    s: str  # symbol
    i: str  # interval, e.g. "1m"
    o: float  # open
    c: float  # close
    h: float  # high
    low: float = msgspec.field(name="l")  # "l": low
    v: float = 0.0  # volume: base units (spot, USDⓈ-M) or CONTRACTS (COIN-M)
    n: int = 0  # number of trades
    x: bool = False  # is this kline closed?
    q: float = 0.0  # quote volume (spot, USDⓈ-M) or BASE volume (COIN-M)
    V: float = 0.0  # taker buy volume: base units, or contracts on COIN-M
    Q: float = 0.0  # taker buy quote volume, or taker buy base volume on COIN-M


class Kline(msgspec.Struct, frozen=True, tag_field="e", tag="kline"):
    """``<symbol>@kline_<interval>``: the current bar, pushed repeatedly until it closes."""

    E: int  # event time, ms
    s: str  # symbol
    k: KlineData  # the bar


#: Every websocket event we decode, dispatched by msgspec on ``e``.
Event = Trade | AggTrade | BookTicker | DepthUpdate | ForceOrder | MarkPriceUpdate | Kline


class DepthSnapshot(msgspec.Struct, frozen=True):
    """REST ``GET /api/v3/depth`` (spot), ``/fapi/v1/depth``, ``/dapi/v1/depth``."""

    lastUpdateId: int  # last update id included in the snapshot
    bids: list[Level]  # bid levels, best first
    asks: list[Level]  # ask levels, best first
    E: int | None = None  # futures only: message output time, ms
    T: int | None = None  # futures only: transaction time, ms
    symbol: str | None = None  # COIN-M only


class SymbolInfo(msgspec.Struct, frozen=True):
    """One entry of ``exchangeInfo.symbols`` (only the contract terms we use)."""

    symbol: str  # venue symbol, e.g. "BTCUSD_PERP"
    baseAsset: str  # base asset, "BTC"
    quoteAsset: str  # quote asset, "USDT" / "USD"
    contractType: str | None = None  # futures: PERPETUAL, CURRENT_QUARTER, ...
    marginAsset: str | None = None  # futures: settlement/margin asset
    contractSize: float | None = None  # COIN-M: USD per contract (100 BTC, 10 others)


class ExchangeInfo(msgspec.Struct, frozen=True):
    """REST ``exchangeInfo`` body (spot, USDⓈ-M and COIN-M share the shape we need)."""

    symbols: list[SymbolInfo]  # every listed symbol


class Combined(msgspec.Struct, frozen=True):
    """A combined-stream frame decoded in ONE pass, its event already typed (the hot path).

    :class:`Envelope` leaves ``data`` raw and a second decode types it; this struct does both
    at once. ``id``/``error`` are kept raw only so that a frame carrying them can be told apart
    and handled by the general (two-pass) path, which validates them. Anything that does not fit
    (acks, spot ``bookTicker`` without ``e``, unknown event types) fails to decode here and goes
    through :class:`Envelope` instead, so both paths give the same records.
    """

    stream: str  # stream name, e.g. "btcusdt@depth@0ms"
    data: Event | list[Event]  # the event, or the events of an "…@arr" stream
    id: msgspec.Raw = msgspec.Raw()  # request id (never on a data frame)
    error: msgspec.Raw = msgspec.Raw()  # error object (never on a data frame)


class OpenInterestBody(msgspec.Struct, frozen=True):
    """REST ``GET /fapi/v1/openInterest`` (USDⓈ-M) and ``/dapi/v1/openInterest`` (COIN-M).

    Binance has no open-interest stream, so it is polled (weight 1 per call). Examples from the
    docs' Open-Interest pages::

        {"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}
        {"symbol":"BTCUSD_200626","pair":"BTCUSD","openInterest":"15004",
         "contractType":"CURRENT_QUARTER","time":1591261042378}
    """

    symbol: str  # venue symbol, e.g. "BTCUSDT", "BTCUSD_PERP"
    openInterest: float  # one-sided open interest: base coins (USDⓈ-M) or CONTRACTS (COIN-M)
    time: int  # transaction time, ms
    pair: str | None = None  # COIN-M only: underlying pair, "BTCUSD"
    contractType: str | None = None  # COIN-M only: PERPETUAL, CURRENT_QUARTER, ...
