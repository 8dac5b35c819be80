"""OKX v5 public websocket and REST messages exactly as the venue sends them.

Field names are OKX's own (``instId``, ``px``, ``sz`` ...) with a trailing comment on what each
means. OKX sends every number as a string: hot-path fields (books, trades) are decoded to
``float``/``int`` by a non-strict decoder, which raises :class:`msgspec.ValidationError` naming
the field for a non-numeric string. Fields OKX leaves ``""`` when not applicable (ticker sides
of an empty book, ``nextFundingRate`` ...) stay text and are parsed by the decoder, which names
the field on failure.

Every push is ``{"arg": {"channel", "instId" | "instType"}, "data": [...]}`` (books add
``"action"``), events are ``{"event": "subscribe" | "error", ...}``; the ``data`` array is left
as :class:`msgspec.Raw` until ``arg.channel`` picks its struct.

Docs: https://www.okx.com/docs-v5/en/#order-book-trading-market-data-ws-order-book-channel
(and ``...-ws-trades-channel``, ``...-ws-tickers-channel``, ``...-ws-index-tickers-channel``),
https://www.okx.com/docs-v5/en/#public-data-websocket-funding-rate-channel (and
``...-open-interest-channel``, ``...-mark-price-channel``, ``...-liquidation-orders-channel``),
https://www.okx.com/docs-v5/en/#public-data-rest-api-get-instruments.
"""

from __future__ import annotations

import msgspec


class Arg(msgspec.Struct, frozen=True):
    """The subscription a push or event belongs to."""

    channel: str  # "books", "trades", "tickers", "funding-rate", "liquidation-orders" ...
    instId: str | None = None  # instrument id, e.g. "BTC-USDT-SWAP"; absent on instType channels
    instType: str | None = None  # SPOT / MARGIN / SWAP / FUTURES / OPTION


class Envelope(msgspec.Struct, frozen=True):
    """Any JSON frame: a channel push, or an event (subscribe ack, error, notice)."""

    arg: Arg | None = None  # the subscription; absent on login/error events
    data: msgspec.Raw = msgspec.Raw()  # array of channel objects, decoded once channel is known
    action: str | None = None  # books: "snapshot" or "update"
    event: str | None = None  # "subscribe", "unsubscribe", "error", "notice"
    code: str | None = None  # error code
    msg: str | None = None  # error text


class Book(msgspec.Struct, frozen=True):
    """One element of ``books`` / ``books5`` / ``bbo-tbt`` / ``books*-l2-tbt`` data.

    A level is ``[price, size, liquidated orders (deprecated, "0"), number of orders]``; size is
    in contracts for SWAP/FUTURES/OPTION and base currency for SPOT; size "0" deletes the level.
    """

    asks: list[list[float]]  # ask levels, best first
    bids: list[list[float]]  # bid levels, best first
    ts: int  # order book generation time, ms
    checksum: int | None = None  # CRC32 of the top 25 levels (verification: not done yet)
    seqId: int | None = None  # sequence id of this push (newer API versions)
    prevSeqId: int | None = None  # seqId of the previous push; -1 on snapshots


class PublicTrade(msgspec.Struct, frozen=True):
    """One element of ``trades`` / ``trades-all`` data."""

    instId: str  # instrument id
    tradeId: str  # trade id
    px: float  # price
    sz: float  # size: contracts (SWAP/FUTURES/OPTION) or base currency (SPOT)
    side: str  # TAKER side: "buy" or "sell"
    ts: int  # trade time, ms
    count: str | None = None  # number of trades aggregated (``trades`` channel only)


class Ticker(msgspec.Struct, frozen=True):
    """One element of ``tickers`` data (a full snapshot on every push)."""

    instId: str  # instrument id
    ts: int  # ticker data generation time, ms
    last: str = ""  # last traded price
    lastSz: str = ""  # last traded size
    askPx: str = ""  # best ask price
    askSz: str = ""  # best ask size (contracts for derivatives)
    bidPx: str = ""  # best bid price
    bidSz: str = ""  # best bid size (contracts for derivatives)
    instType: str | None = None  # SPOT / SWAP / FUTURES / OPTION


class FundingRate(msgspec.Struct, frozen=True):
    """One element of ``funding-rate`` data."""

    instId: str  # instrument id, e.g. "BTC-USD-SWAP"
    fundingRate: str  # current funding rate (fraction), settled at fundingTime
    fundingTime: str  # settlement time of the current rate (the next funding), ms
    nextFundingRate: str = ""  # forecast rate for the next period; "" when not published
    nextFundingTime: str = ""  # settlement time of the period after, ms
    ts: int | None = None  # data generation time, ms (newer API versions)
    instType: str | None = None  # SWAP


class OpenInterestData(msgspec.Struct, frozen=True):
    """One element of ``open-interest`` data (one-sided: OKX documents no double counting)."""

    instId: str  # instrument id
    oi: float  # open interest in contracts
    ts: int  # data time, ms
    oiCcy: str = ""  # open interest in coins (base currency)
    oiUsd: str = ""  # open interest in USD (newer API versions)
    instType: str | None = None  # SWAP / FUTURES / OPTION


class MarkPx(msgspec.Struct, frozen=True):
    """One element of ``mark-price`` data."""

    instId: str  # instrument id
    markPx: float  # mark price
    ts: int  # data time, ms
    instType: str | None = None  # MARGIN / SWAP / FUTURES / OPTION


class IndexTicker(msgspec.Struct, frozen=True):
    """One element of ``index-tickers`` data; ``instId`` is an index such as "BTC-USDT"."""

    instId: str  # index id (shares the spot pair's name)
    idxPx: float  # latest index price
    ts: int  # data time, ms


class LiquidationDetail(msgspec.Struct, frozen=True):
    """One element of ``details`` of a ``liquidation-orders`` item."""

    sz: float  # liquidated quantity: contracts (FUTURES/SWAP), base currency (MARGIN)
    ts: int  # liquidation time, ms
    side: str = ""  # ORDER side "buy"/"sell" (FUTURES/SWAP): sell ⇒ a long was liquidated
    posSide: str = ""  # position side: "long"/"short" (hedge mode) or "net"
    bkPx: str = ""  # bankruptcy price ("liquidation mark price"), FUTURES/SWAP only
    bkLoss: str = ""  # bankruptcy loss
    ccy: str = ""  # liquidation currency, MARGIN only


class LiquidationOrders(msgspec.Struct, frozen=True):
    """One element of ``liquidation-orders`` data: an instrument and its liquidations."""

    instId: str  # instrument id
    details: list[LiquidationDetail]  # liquidations (not necessarily in time order)
    instType: str | None = None  # SWAP / FUTURES / MARGIN / OPTION
    uly: str | None = None  # underlying, e.g. "BTC-USD"


class InstrumentInfo(msgspec.Struct, frozen=True):
    """One entry of ``GET /api/v5/public/instruments`` (only the contract terms we use)."""

    instType: str  # SPOT / MARGIN / SWAP / FUTURES / OPTION
    instId: str  # instrument id
    baseCcy: str = ""  # SPOT/MARGIN: base currency
    quoteCcy: str = ""  # SPOT/MARGIN: quote currency
    settleCcy: str = ""  # derivatives: settlement currency
    ctVal: str = ""  # derivatives: contract value (base coins if linear, USD if inverse)
    ctMult: str = ""  # derivatives: contract multiplier ("1" for swaps and futures)
    ctValCcy: str = ""  # derivatives: currency of ctVal ("BTC", "USD")
    ctType: str = ""  # SWAP/FUTURES: "linear" or "inverse"
    uly: str = ""  # derivatives: underlying, e.g. "BTC-USD"
    instFamily: str = ""  # derivatives: instrument family, e.g. "BTC-USD"
    expTime: str = ""  # FUTURES/OPTION: expiry time, ms


class InstrumentsBody(msgspec.Struct, frozen=True):
    """``GET /api/v5/public/instruments`` response body."""

    code: str  # "0" on success
    data: list[InstrumentInfo]  # instruments
    msg: str = ""  # error text
