"""Normalized market-data records: the one model every layer above the venue decoders sees.

Every record is a frozen, keyword-only ``msgspec.Struct`` and is *flat*: one record is one row
of its dataset in the store (an order-book snapshot is many :class:`BookUpdate` rows sharing
``ts_event`` with ``is_snapshot=True``). That keeps the record, its Arrow/Polars schema and the
Parquet files in lock-step without a mapping layer. The one exception is :class:`BookDelta`,
the live decoders' record for a whole book message, which stands for its ``BookUpdate`` rows
and is flattened in bulk where rows are built (``domain.tables``).

Conventions (enforced by :mod:`flushwatch.ingest.validate` for every import):

* ``ts_event`` is the exchange's event time and ``ts_recv`` the local receive time, both as
  integer nanoseconds since the Unix epoch, UTC. Bars, buckets and depth bands are stamped
  with the *start* of their interval.
* Prices are quote currency per base unit; quantities are in *base units* (contracts are
  converted with the instrument's contract size at decode time) and notionals in quote units.
* Funding rates are *fractions* per funding interval (0.0001 = 0.01 %), never percent.
* Liquidations carry the side of the *position* that was liquidated; the raw venue field is
  kept in ``venue_side`` so that the normalization can be audited.

Floats rather than Decimals: analytics kernels work on float64 arrays, and venue prices and
sizes (at most 15 significant digits) round-trip exactly through float64's shortest repr.
"""

from __future__ import annotations

from typing import ClassVar

import msgspec

from flushwatch.domain.enums import (
    BookSide,
    Coverage,
    Margin,
    Market,
    PositionSide,
    PriceKind,
    RatioKind,
    Side,
)


class Record(msgspec.Struct, frozen=True, kw_only=True):
    """Fields shared by every time-stamped market-data row."""

    dataset: ClassVar[str] = ""
    #: Fields that must be finite and > 0 (validated on import).
    positive: ClassVar[tuple[str, ...]] = ()
    #: Fields that must be finite and >= 0.
    non_negative: ClassVar[tuple[str, ...]] = ()
    #: Rows of this dataset must not go back in time within one source file.
    ordered: ClassVar[bool] = False
    #: Columns naming one observation of a series (instrument, time and what tells series
    #: apart), for datasets with one value per timestamp; empty: rows are events, identified
    #: by all their fields. The store keeps one row per natural key: the first version.
    natural: ClassVar[tuple[str, ...]] = ()

    ts_event: int
    exchange: str
    market: Market
    symbol: str
    ts_recv: int | None = None


class Trade(Record, frozen=True, kw_only=True):
    """One trade print; ``taker_side`` is the aggressor's side."""

    dataset: ClassVar[str] = "trades"
    positive: ClassVar[tuple[str, ...]] = ("price",)
    non_negative: ClassVar[tuple[str, ...]] = ("qty",)

    price: float
    qty: float
    taker_side: Side
    trade_id: str | None = None


class Liquidation(Record, frozen=True, kw_only=True):
    """One forced order as the venue printed it, normalized to the liquidated position side.

    ``price`` is the order (limit/bankruptcy) price the venue sends, ``avg_price`` the
    average fill when the venue gives it. ``notional`` is in quote units at ``avg_price`` when
    known, else at ``price``. ``coverage`` says whether the feed is throttled (totals are then
    lower bounds; DOMAIN.md C1).
    """

    dataset: ClassVar[str] = "liquidations"
    positive: ClassVar[tuple[str, ...]] = ("price",)
    non_negative: ClassVar[tuple[str, ...]] = ("qty", "notional")

    side: PositionSide
    price: float
    qty: float
    notional: float
    venue_side: str
    coverage: Coverage
    avg_price: float | None = None
    status: str | None = None


class Funding(Record, frozen=True, kw_only=True):
    """A funding rate observation.

    ``is_settled`` distinguishes a rate that was paid at ``ts_event`` (history files) from the
    current/predicted rate of a ticker (DOMAIN.md C12).
    """

    dataset: ClassVar[str] = "funding"
    ordered: ClassVar[bool] = True
    natural: ClassVar[tuple[str, ...]] = ("exchange", "market", "symbol", "ts_event", "is_settled")

    rate: float
    is_settled: bool
    interval_hours: float | None = None
    next_funding_ts: int | None = None
    predicted_rate: float | None = None
    mark_price: float | None = None


class OpenInterest(Record, frozen=True, kw_only=True):
    """Open interest, one-sided (the number of contracts long = the number short).

    Venues that document a two-sided figure are halved at decode time (DOMAIN.md C10).
    """

    dataset: ClassVar[str] = "open_interest"
    non_negative: ClassVar[tuple[str, ...]] = ("oi_base", "oi_quote")
    natural: ClassVar[tuple[str, ...]] = ("exchange", "market", "symbol", "ts_event")

    oi_base: float | None = None
    oi_quote: float | None = None


class Bar(Record, frozen=True, kw_only=True):
    """An OHLC bar starting at ``ts_event`` and lasting ``interval_s`` seconds.

    ``volume_base`` is in base units even where the venue reports contracts (COIN-M); a
    premium-index bar holds fractions that may be negative.
    """

    dataset: ClassVar[str] = "bars"
    positive: ClassVar[tuple[str, ...]] = ("open", "high", "low", "close")
    non_negative: ClassVar[tuple[str, ...]] = ("volume_base", "volume_quote")
    ordered: ClassVar[bool] = True
    natural: ClassVar[tuple[str, ...]] = (
        "exchange",
        "market",
        "symbol",
        "ts_event",
        "price_kind",
        "interval_s",
    )

    price_kind: PriceKind
    interval_s: int
    open: float
    high: float
    low: float
    close: float
    volume_base: float | None = None
    volume_quote: float | None = None
    taker_buy_base: float | None = None
    taker_buy_quote: float | None = None
    trade_count: int | None = None


class Quote(Record, frozen=True, kw_only=True):
    """Best bid and ask (Binance bookTicker, Tardis quotes)."""

    dataset: ClassVar[str] = "quotes"
    positive: ClassVar[tuple[str, ...]] = ("bid_price", "ask_price")
    non_negative: ClassVar[tuple[str, ...]] = ("bid_qty", "ask_qty")

    bid_price: float
    bid_qty: float
    ask_price: float
    ask_qty: float


class BookUpdate(Record, frozen=True, kw_only=True):
    """One price level of an order-book snapshot or incremental update.

    ``qty == 0`` deletes the level. Sequence ids are the venue's (Binance ``U``/``u``/``pu``,
    Bybit ``u``/``seq``, OKX ``seqId``/``prevSeqId``) so that gaps can be detected later.
    """

    dataset: ClassVar[str] = "book"
    positive: ClassVar[tuple[str, ...]] = ("price",)
    non_negative: ClassVar[tuple[str, ...]] = ("qty",)

    side: BookSide
    price: float
    qty: float
    is_snapshot: bool
    update_id: int | None = None
    first_update_id: int | None = None
    prev_update_id: int | None = None


#: One order-book level as the decoders produce it: ``(price, qty)``, base units.
Level = tuple[float, float]


class BookDelta(Record, frozen=True, kw_only=True):
    """Every level of ONE order-book message (a diff or a snapshot), column-free and unflattened.

    The hot path's record for books: a Binance ``depth@0ms`` frame carries ~70 levels, and one
    :class:`BookUpdate` per level made row construction dominate decoding (DOMAIN-level work
    ten times over). A delta keeps the levels as the wire decoder parsed them and is flattened
    into ``book`` rows only where rows are needed, in bulk (``domain.tables``) or with
    :meth:`rows`. It is stored as those rows: ``dataset`` and the row identity are
    :class:`BookUpdate`'s, so a delta and its rows de-duplicate against each other.

    ``bids``/``asks`` are in the venue's order; ``qty == 0`` deletes the level. The lists are
    shared with the decoder's output and must not be mutated.
    """

    dataset: ClassVar[str] = "book"

    is_snapshot: bool
    bids: list[Level]
    asks: list[Level]
    update_id: int | None = None
    first_update_id: int | None = None
    prev_update_id: int | None = None

    def rows(self) -> list[BookUpdate]:
        """The same levels as flat :class:`BookUpdate` rows, bids first."""
        out: list[BookUpdate] = []
        for side, levels in ((BookSide.BID, self.bids), (BookSide.ASK, self.asks)):
            out += [
                BookUpdate(
                    ts_event=self.ts_event,
                    exchange=self.exchange,
                    market=self.market,
                    symbol=self.symbol,
                    ts_recv=self.ts_recv,
                    side=side,
                    price=price,
                    qty=qty,
                    is_snapshot=self.is_snapshot,
                    update_id=self.update_id,
                    first_update_id=self.first_update_id,
                    prev_update_id=self.prev_update_id,
                )
                for price, qty in levels
            ]
        return out

    @property
    def levels(self) -> int:
        """How many book rows this delta stands for."""
        return len(self.bids) + len(self.asks)


def flat_records(records: list[Record]) -> list[Record]:
    """``records`` with every :class:`BookDelta` replaced by its rows (one record per row)."""
    out: list[Record] = []
    for rec in records:
        if isinstance(rec, BookDelta):
            out += rec.rows()
        else:
            out.append(rec)
    return out


class MarkPrice(Record, frozen=True, kw_only=True):
    """Mark and index price ticks (Binance markPriceUpdate, tickers, derivative tickers)."""

    dataset: ClassVar[str] = "mark_price"
    positive: ClassVar[tuple[str, ...]] = ("mark_price", "index_price", "last_price")

    mark_price: float | None = None
    index_price: float | None = None
    last_price: float | None = None


class DepthBand(Record, frozen=True, kw_only=True):
    """Cumulative depth between mid and ``pct`` percent away (negative = bids)."""

    dataset: ClassVar[str] = "depth_bands"
    non_negative: ClassVar[tuple[str, ...]] = ("depth_base", "notional")
    natural: ClassVar[tuple[str, ...]] = ("exchange", "market", "symbol", "ts_event", "pct")

    pct: float
    depth_base: float
    notional: float


class LongShortRatio(Record, frozen=True, kw_only=True):
    """A long/short ratio of the given kind (longs divided by shorts)."""

    dataset: ClassVar[str] = "long_short_ratio"
    non_negative: ClassVar[tuple[str, ...]] = ("ratio",)
    natural: ClassVar[tuple[str, ...]] = ("exchange", "market", "symbol", "ts_event", "kind")

    kind: RatioKind
    ratio: float


class LiquidationBucket(Record, frozen=True, kw_only=True):
    """A vendor's aggregated liquidations over ``[ts_event, ts_event + interval_s)`` in USD.

    ``venues`` names the venue set the vendor aggregated (coverage differs between vendors,
    DOMAIN.md §1.4.3), e.g. ``"Binance,Bybit,OKX"`` or ``"all"``.
    """

    dataset: ClassVar[str] = "liquidation_buckets"
    non_negative: ClassVar[tuple[str, ...]] = ("long_usd", "short_usd")
    ordered: ClassVar[bool] = True
    natural: ClassVar[tuple[str, ...]] = (
        "exchange",
        "market",
        "symbol",
        "ts_event",
        "interval_s",
        "venues",
    )

    interval_s: int
    long_usd: float
    short_usd: float
    venues: str


class TakerFlow(Record, frozen=True, kw_only=True):
    """Traded volume over ``[ts_event, ts_event + interval_s)`` split by the aggressor's side.

    Taker-flow series without prices (CVD files built from aggTrades) are not bars: they have
    no OHLC and must not collide with a market's bars under the bars' natural key. Volumes in
    base units; the bar's CVD change is ``taker_buy_base - taker_sell_base``.
    """

    dataset: ClassVar[str] = "taker_flow"
    non_negative: ClassVar[tuple[str, ...]] = ("volume_base", "taker_buy_base", "taker_sell_base")
    ordered: ClassVar[bool] = True
    natural: ClassVar[tuple[str, ...]] = ("exchange", "market", "symbol", "ts_event", "interval_s")

    interval_s: int
    volume_base: float
    taker_buy_base: float
    taker_sell_base: float
    trade_count: int | None = None


class Instrument(msgspec.Struct, frozen=True, kw_only=True):
    """Identity and contract terms of one tradable symbol on one venue.

    ``exchange`` uses ccxt ids (``binanceusdm``, ``binancecoinm``, ``bybit``, ``okx`` ...),
    ``symbol`` the venue's native symbol and ``unified`` the ccxt unified symbol
    (``BTC/USDT:USDT`` linear perp, ``BTC/USD:BTC`` inverse perp, ``BTC/USDT`` spot).
    ``contract_size`` is base units per contract (linear) or quote units per contract (inverse).
    """

    dataset: ClassVar[str] = "instruments"

    exchange: str
    market: Market
    symbol: str
    unified: str
    base: str
    quote: str
    settle: str | None
    margin: Margin
    contract_size: float = 1.0


MARKET_RECORDS: tuple[type[Record], ...] = (
    Trade,
    Liquidation,
    Funding,
    OpenInterest,
    Bar,
    Quote,
    BookUpdate,
    MarkPrice,
    DepthBand,
    LongShortRatio,
    LiquidationBucket,
    TakerFlow,
)
