"""Turn Binance websocket frames and REST bodies into domain records.

Normalization rules (each is the one place it happens):

* Times: Binance sends epoch milliseconds (``E`` event time, ``T`` transaction/trade time);
  ``ts_event`` prefers ``T`` (matching-engine time) and falls back to ``E``. Spot
  ``bookTicker`` and the spot REST depth snapshot carry no time at all: ``ts_event`` is then the
  local receive time, so those rows need ``ts_recv``.
* Quantities are base units. COIN-M sizes are contracts of a fixed USD value, converted per
  level/trade as ``contracts × contract_size / price`` (see :mod:`.symbols` for the sizes).
* ``forceOrder``: ``S`` is the liquidation ORDER side, so ``SELL`` means a LONG position was
  liquidated (DOMAIN.md C5); the raw ``S`` is kept in ``venue_side``. Quantity is ``z``, the
  accumulated filled quantity (equal to ``q`` once ``X`` is FILLED, and what actually traded
  otherwise), priced at ``ap`` when there was a fill. cryptofeed reports ``p``/``q`` (order
  price and original size, which overstates partially filled orders) and ccxt ``ap``/``l`` (last
  fill only, which understates multi-fill orders); tardis uses ``p``/``z`` (DOMAIN.md C6). The
  stream pushes at most one order per symbol per second, so coverage is THROTTLED (C1).
* ``markPriceUpdate``: ``r`` is the *current* funding rate of the running interval, so the
  Funding row has ``is_settled=False`` (C12); ``P`` is an estimated settle *price*, not a
  predicted rate, and is not stored.
* ``kline``: only closed bars (``x: true``) become :class:`Bar` rows. The open bar is re-sent
  every ~250 ms with partial values; storing those would give several different rows for the
  same bar start, while the closing push carries the final OHLCV once.
"""

from __future__ import annotations

import re
from collections import Counter, deque
from collections.abc import Callable
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

import msgspec

from flushwatch.domain.enums import Coverage, PositionSide, PriceKind, Side
from flushwatch.domain.records import (
    Bar,
    BookDelta,
    Funding,
    Instrument,
    Liquidation,
    MarkPrice,
    Quote,
    Record,
    Trade,
)
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.binance import wire
from flushwatch.venues.binance.intervals import INTERVALS
from flushwatch.venues.binance.symbols import (
    COINM,
    EXCHANGES,
    SPOT,
    Terms,
    exchange_of,
    infer_terms,
    learned_terms,
)

_UNKNOWN_TAG = re.compile(r"^Invalid value '([^']*)' - at `\$(?:\[\d+\])?\.e`$")
#: Partial book depth streams (``@depth5``/``@depth20``) are top-N snapshots, not diffs.
_PARTIAL_DEPTH = re.compile(r"@depth\d+")
#: ``forceOrder`` order side → side of the liquidated position (DOMAIN.md C5).
_LIQUIDATED: dict[str, PositionSide] = {"SELL": PositionSide.LONG, "BUY": PositionSide.SHORT}
#: How every Binance combined-stream frame begins (the one-pass fast path's precondition).
_COMBINED = '{"stream":"'
_COMBINED_B = _COMBINED.encode()
#: Handler of one decoded event (or list of events) of a combined-stream frame.
_Handler = Callable[[Any, "int | None"], "list[Record]"]
#: The handler table of partial-depth streams: their frames are skipped, whatever they carry.
_PARTIAL: dict[type, _Handler] = {}
_MAX_STREAMS = 4096  # bound on the remembered stream names (a feed has a few dozen)
_TICKER_IDS = 8192  # spot bookTicker ids remembered per symbol (minutes of pushes)
_replace = msgspec.structs.replace
_BUY, _SELL = Side.BUY, Side.SELL
_R = TypeVar("_R", bound=Record)
#: Placeholder values of the per-message fields of each template (always replaced).
_ZERO: dict[type[Record], dict[str, Any]] = {
    Trade: {"price": 0.0, "qty": 0.0, "taker_side": _BUY},
    Quote: {"bid_price": 0.0, "bid_qty": 0.0, "ask_price": 0.0, "ask_qty": 0.0},
    BookDelta: {"is_snapshot": False, "bids": [], "asks": []},
}


class _TickerFrame(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``…@bookTicker`` combined-stream frame (the event typed without the union)."""

    stream: str
    data: wire.BookTicker


class _TradeFrame(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``…@trade`` combined-stream frame."""

    stream: str
    data: wire.Trade


class _AggTradeFrame(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``…@aggTrade`` combined-stream frame."""

    stream: str
    data: wire.AggTrade


class _DepthFrame(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """A ``…@depth[@100ms|@0ms]`` combined-stream frame (a diff)."""

    stream: str
    data: wire.DepthUpdate


class BinanceDecoder:
    """Stateful decoder for one Binance venue: learns contract terms, counts skipped frames."""

    def __init__(self, exchange: str) -> None:
        if exchange not in EXCHANGES:
            raise ValueError(f"not a Binance exchange id: {exchange!r}")
        self.exchange = exchange
        self.instruments: list[Instrument] = []
        #: Frames that produced no records on purpose, by reason (for the import summary).
        self.skipped: Counter[str] = Counter()
        self._learned: dict[str, Terms] = {}
        #: COIN-M history: the last settlement decoded per symbol (the next one's interval).
        self._settled: dict[str, int] = {}
        self._terms: dict[str, Terms] = {}
        #: Per record type: symbol → (a record of that symbol to copy, inverse contract size).
        self._quotes: dict[str, tuple[Quote, float | None]] = {}
        self._trades: dict[str, tuple[Trade, float | None]] = {}
        self._books: dict[str, tuple[BookDelta, float | None]] = {}
        #: Spot bookTicker update ids seen recently, per symbol (see :meth:`_seen_ticker`).
        self._ticker_ids: dict[str, tuple[set[int], deque[int]]] = {}
        #: stream name → (decoder of its frames, handler of its event), None: the union path
        self._fast: dict[str, tuple[Callable[[Any], Any], _Handler] | None] = {}
        self._frame_decoders = {
            cls: msgspec.json.Decoder(cls, strict=False).decode
            for cls in (_TickerFrame, _TradeFrame, _AggTradeFrame, _DepthFrame)
        }
        self._envelope = msgspec.json.Decoder(wire.Envelope)
        self._combined = msgspec.json.Decoder(wire.Combined, strict=False).decode
        #: stream name → handler per event type (see :meth:`on_message`)
        self._streams: dict[str, dict[type, _Handler]] = {}
        self._handlers: dict[type, _Handler] = {
            wire.BookTicker: self._quote,
            wire.Trade: self._trade,
            wire.AggTrade: self._trade,
            wire.DepthUpdate: self._depth,
            wire.ForceOrder: self._liquidations,
            wire.MarkPriceUpdate: self._mark,
            wire.Kline: self._bar,
            list: self._events_list,
        }
        self._ticker_handlers: dict[type, _Handler] = {wire.BookTicker: self._quote}
        # Spot bookTicker has no "e", so the one-pass decode cannot type it: skip the attempt.
        self._spot = exchange == SPOT
        self._event = msgspec.json.Decoder(wire.Event, strict=False)
        self._events = msgspec.json.Decoder(list[wire.Event], strict=False)
        self._ticker = msgspec.json.Decoder(wire.BookTicker, strict=False)
        self._snapshot = msgspec.json.Decoder(wire.DepthSnapshot, strict=False)
        self._info = msgspec.json.Decoder(wire.ExchangeInfo, strict=False)

    # -- symbols ---------------------------------------------------------------------------

    def terms(self, symbol: str) -> Terms:
        """Return (and remember, emitting its Instrument once) the terms of ``symbol``."""
        found = self._terms.get(symbol)
        if found is None:
            found = self._learned.get(symbol) or infer_terms(self.exchange, symbol)
            self._terms[symbol] = found
            if found.instrument is not None:
                self.instruments.append(found.instrument)
        return found

    def _listed(self, symbol: str) -> Terms | None:
        """Terms of a symbol exchangeInfo listed (its Instrument emitted once), else None."""
        return self.terms(symbol) if symbol in self._learned else None

    def _learn(self, body: str | bytes) -> None:
        for info in self._info.decode(body).symbols:
            terms = learned_terms(self.exchange, info)
            if terms is None:
                continue
            self._learned[info.symbol] = terms
            for cache in (self._quotes, self._trades, self._books):
                cache.pop(info.symbol, None)  # their templates carry the old terms
            old = self._terms.pop(info.symbol, None)
            if old is not None:  # seen before the exchangeInfo: replace the guessed terms
                if old.instrument is not None:
                    self.instruments.remove(old.instrument)
                self.terms(info.symbol)

    # -- websocket -------------------------------------------------------------------------

    def on_message(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one websocket frame (combined-stream envelope or raw stream).

        A combined-stream data frame is decoded in one msgspec pass (:class:`wire.Combined`)
        and handed to the handler of its event type for its stream; anything that pass cannot
        type or handle goes through the general path (:meth:`_general`), which gives the same
        records, counts the skipped frames and raises the same errors.
        """
        stream: str | None = None
        if type(data) is str:
            if data.startswith(_COMBINED):
                stream = data[11 : data.find('"', 11)]
        elif type(data) is bytes and data.startswith(_COMBINED_B):
            stream = data[11 : data.find(b'"', 11)].decode("utf-8", "replace")
        if stream is None:
            return self._general(data, ts_recv)
        fast = self._fast[stream] if stream in self._fast else self._fast_for(stream)
        if fast is not None:  # a single-event stream: its own decoder, no union, no look-ups
            try:
                event = fast[0](data).data
            except msgspec.MsgspecError:
                return self._general(data, ts_recv)  # acks, odd frames: same records/errors
            return fast[1](event, ts_recv)
        if self._spot and "bookTicker" in stream:
            return self._general(data, ts_recv)  # spot bookTicker has no "e" to type it by
        try:
            frame = self._combined(data)
        except msgspec.MsgspecError:
            return self._general(data, ts_recv)  # not a frame this pass can type
        table = self._streams.get(stream)
        if table is None:
            table = self._stream_table(stream)
        if table is _PARTIAL:
            self.skipped[f"frames of partial-depth stream {stream}"] += 1
            return []
        event = frame.data
        handler = table.get(type(event))
        if handler is not None and not (frame.id or frame.error) and frame.stream == stream:
            return handler(event, ts_recv)
        return self._general(data, ts_recv)

    def _fast_for(self, stream: str) -> tuple[Callable[[Any], Any], _Handler] | None:
        """The single-type decoder and handler of a stream that carries one event type."""
        tail = stream.split("@", 1)[1] if "@" in stream else ""
        found: tuple[Callable[[Any], Any], _Handler] | None = None
        if tail == "bookTicker":
            found = (self._frame_decoders[_TickerFrame], self._quote)
        elif tail == "trade":
            found = (self._frame_decoders[_TradeFrame], self._trade)
        elif tail == "aggTrade":
            found = (self._frame_decoders[_AggTradeFrame], self._trade)
        elif (tail == "depth" or tail.startswith("depth@")) and not _PARTIAL_DEPTH.search(stream):
            found = (self._frame_decoders[_DepthFrame], self._depth)
        if len(self._fast) < _MAX_STREAMS:
            self._fast[stream] = found
        return found

    def _stream_table(self, stream: str) -> dict[type, _Handler]:
        """The handlers of a stream's events, classified as :meth:`_general` does."""
        if _PARTIAL_DEPTH.search(stream):
            table = _PARTIAL  # skipped whatever it carries
        elif "bookTicker" in stream:
            table = self._ticker_handlers  # decoded as a BookTicker, nothing else
        else:
            table = self._handlers
        if len(self._streams) < _MAX_STREAMS:
            self._streams[stream] = table
        return table

    def _events_list(self, events: list[wire.Event], ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for event in events:
            out += self._dispatch(event, ts_recv)
        return out

    def _liquidations(self, ev: wire.ForceOrder, ts_recv: int | None) -> list[Record]:
        return [self._liquidation(ev, ts_recv)]

    def _general(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Any frame: acks, errors, raw streams, bare lists, frames the fast path cannot type."""
        if data[:1] in ("[", b"["):  # raw "!markPrice@arr" style stream: a bare list of events
            return self._payload(data, None, ts_recv)
        env = self._envelope.decode(data)
        if env.stream is None:
            if env.id is not None:
                self.skipped["subscription results" if not env.error else "error responses"] += 1
                return []
            return self._payload(data, None, ts_recv)
        if _PARTIAL_DEPTH.search(env.stream):
            self.skipped[f"frames of partial-depth stream {env.stream}"] += 1
            return []
        return self._payload(env.data, env.stream, ts_recv)

    def _payload(
        self, payload: str | bytes | msgspec.Raw, stream: str | None, ts_recv: int | None
    ) -> list[Record]:
        raw = bytes(payload) if isinstance(payload, msgspec.Raw) else payload
        if stream is not None and "bookTicker" in stream:
            return self._quote(self._ticker.decode(raw), ts_recv)
        try:
            if raw[:1] in ("[", b"["):
                out: list[Record] = []
                for event in self._events.decode(raw):
                    out.extend(self._dispatch(event, ts_recv))
                return out
            return self._dispatch(self._event.decode(raw), ts_recv)
        except msgspec.ValidationError as exc:
            match = _UNKNOWN_TAG.match(str(exc))
            if match is not None:
                self.skipped[f"{match.group(1)} events"] += 1
                return []
            if stream is None and str(exc) == "Object missing required field `e`":
                return self._quote(self._ticker.decode(raw), ts_recv)  # raw spot bookTicker
            raise

    def _dispatch(self, event: wire.Event, ts_recv: int | None) -> list[Record]:
        match event:  # the most frequent events first
            case wire.BookTicker():
                return self._quote(event, ts_recv)
            case wire.Trade() | wire.AggTrade():
                return self._trade(event, ts_recv)
            case wire.DepthUpdate():
                return self._depth(event, ts_recv)
            case wire.ForceOrder():
                return [self._liquidation(event, ts_recv)]
            case wire.MarkPriceUpdate():
                return self._mark(event, ts_recv)
            case wire.Kline():
                return self._bar(event, ts_recv)

    def _template(
        self, cache: dict[str, tuple[_R, float | None]], cls: type[_R], symbol: str
    ) -> tuple[_R, float | None]:
        """A ``cls`` record of ``symbol`` to copy per message, and its inverse contract size.

        ``msgspec.structs.replace`` of a template is about twice as fast as the keyword
        constructor, which matters at a million messages a second. Templates follow the
        symbol's terms, so :meth:`_learn` drops them when exchangeInfo changes the terms.
        """
        terms = self._terms.get(symbol) or self.terms(symbol)
        tmpl = cls(
            ts_event=0, exchange=self.exchange, market=terms.market, symbol=symbol, **_ZERO[cls]
        )
        found = cache[symbol] = (tmpl, terms.inverse_size)
        return found

    def _trade(self, ev: wire.Trade | wire.AggTrade, ts_recv: int | None) -> list[Record]:
        if type(ev) is wire.Trade:
            if ev.X is not None and ev.X != "MARKET":  # insurance-fund / ADL prints: not taker flow
                self.skipped[f"trades with X={ev.X}"] += 1
                return []
            trade_id = ev.t
        else:
            trade_id = ev.a  # type: ignore[union-attr]
        symbol = ev.s
        tmpl, size = self._trades.get(symbol) or self._template(self._trades, Trade, symbol)
        return [
            _replace(
                tmpl,
                ts_event=ev.T * NS_PER_MS,
                ts_recv=ts_recv,
                price=ev.p,
                qty=ev.q if size is None else ev.q * size / ev.p,
                taker_side=_SELL if ev.m else _BUY,  # m: buyer is maker ⇒ taker sold
                trade_id=str(trade_id),
            )
        ]

    def _quote(self, ev: wire.BookTicker, ts_recv: int | None) -> list[Record]:
        ts = ev.T or ev.E
        symbol = ev.s
        tmpl, size = self._quotes.get(symbol) or self._template(self._quotes, Quote, symbol)
        if not ts and self._seen_ticker(symbol, ev.u, ts_recv):
            self.skipped["bookTicker repeats (same u, no exchange time)"] += 1
            return []
        return [
            _replace(
                tmpl,
                ts_event=ts * NS_PER_MS if ts else _need_recv(ts_recv, "bookTicker"),
                ts_recv=ts_recv,
                bid_price=ev.b,
                bid_qty=ev.B if size is None else ev.B * size / ev.b,
                ask_price=ev.a,
                ask_qty=ev.A if size is None else ev.A * size / ev.a,
            )
        ]

    def _seen_ticker(self, symbol: str, update_id: int, ts_recv: int | None) -> bool:
        """Has this spot bookTicker (``u``) been decoded already? Remember it if not.

        Spot bookTicker carries no exchange time, so its ``ts_event`` is the receive time and
        a frame received twice (a reconnect overlap, a resent frame) would be two rows the
        store cannot tell apart. ``u`` (the book update id) identifies the update, so a repeat
        of a recent one is dropped here. Bounded per symbol; a repeat across a process restart
        is not caught.
        """
        _need_recv(ts_recv, "bookTicker")  # no time at all is an error, repeat or not
        seen = self._ticker_ids.get(symbol)
        if seen is None:
            seen = self._ticker_ids[symbol] = (set(), deque())
        ids, order = seen
        if update_id in ids:
            return True
        ids.add(update_id)
        order.append(update_id)
        if len(order) > _TICKER_IDS:
            ids.discard(order.popleft())
        return False

    def _levels(
        self,
        symbol: str,
        ts_event: int,
        ts_recv: int | None,
        sides: tuple[list[wire.Level], list[wire.Level]],
        snapshot: bool,
        ids: tuple[int, int | None, int | None],
    ) -> list[Record]:
        """One :class:`BookDelta` for the message: the decoded level lists, not one row each."""
        bids, asks = sides
        if not (bids or asks):
            return []
        tmpl, size = self._books.get(symbol) or self._template(self._books, BookDelta, symbol)
        if size is not None:  # COIN-M: contracts of ``size`` USD → base units at the level
            bids = [(p, q * size / p) for p, q in bids]
            asks = [(p, q * size / p) for p, q in asks]
        update_id, first_id, prev_id = ids
        return [
            _replace(
                tmpl,
                ts_event=ts_event,
                ts_recv=ts_recv,
                is_snapshot=snapshot,
                bids=bids,
                asks=asks,
                update_id=update_id,
                first_update_id=first_id,
                prev_update_id=prev_id,
            )
        ]

    def _depth(self, ev: wire.DepthUpdate, ts_recv: int | None) -> list[Record]:
        ts_event = (ev.T or ev.E) * NS_PER_MS
        ids = (ev.u, ev.U, ev.pu)
        return self._levels(ev.s, ts_event, ts_recv, (ev.b, ev.a), snapshot=False, ids=ids)

    def _liquidation(self, ev: wire.ForceOrder, ts_recv: int | None) -> Record:
        o = ev.o
        side = _LIQUIDATED.get(o.S)
        if side is None:
            raise ValueError(f"forceOrder side S={o.S!r} is neither BUY nor SELL")
        terms = self.terms(o.s)
        avg = o.ap if o.ap > 0 else None  # "0" until the order has filled
        fill_price = avg if avg is not None else o.p
        if terms.inverse_size is None:
            qty = o.z
            notional = qty * fill_price
        else:  # COIN-M: z contracts of inverse_size USD each; notional is exact in USD
            notional = o.z * terms.inverse_size
            qty = notional / fill_price
        return Liquidation(
            ts_event=o.T * NS_PER_MS,
            exchange=self.exchange,
            market=terms.market,
            symbol=o.s,
            ts_recv=ts_recv,
            side=side,
            price=o.p,
            qty=qty,
            notional=notional,
            venue_side=o.S,
            coverage=Coverage.THROTTLED,  # one print per symbol per 1000 ms (C1)
            avg_price=avg,
            status=o.X,
        )

    def _mark(self, ev: wire.MarkPriceUpdate, ts_recv: int | None) -> list[Record]:
        terms = self.terms(ev.s)
        ts_event = ev.E * NS_PER_MS
        out: list[Record] = [
            MarkPrice(
                ts_event=ts_event,
                exchange=self.exchange,
                market=terms.market,
                symbol=ev.s,
                ts_recv=ts_recv,
                mark_price=ev.p,
                index_price=ev.i if ev.i > 0 else None,  # absent/0 means not published
            )
        ]
        if ev.r:  # "" on delivery contracts (COIN-M Mark-Price-Stream docs)
            out.append(
                Funding(
                    ts_event=ts_event,
                    exchange=self.exchange,
                    market=terms.market,
                    symbol=ev.s,
                    ts_recv=ts_recv,
                    rate=float(ev.r),  # already a fraction per interval (0.00038167)
                    is_settled=False,  # the running interval's current rate (C12)
                    next_funding_ts=ev.T * NS_PER_MS if ev.T > 0 else None,
                    mark_price=ev.p,
                )
            )
        return out

    def _bar(self, ev: wire.Kline, ts_recv: int | None) -> list[Record]:
        k = ev.k
        if not k.x:
            self.skipped["open (unclosed) kline updates"] += 1
            return []
        interval = INTERVALS.get(k.i)
        if interval is None:  # "1M" has no fixed length
            self.skipped[f"klines of interval {k.i}"] += 1
            return []
        terms = self.terms(k.s)
        size = terms.inverse_size
        # spot / USDⓈ-M: v base, q quote, V/Q taker-buy base/quote. COIN-M: v/V are contracts
        # (× size = USD) and q/Q are base (COIN-M Kline-Candlestick-Streams docs).
        vol = (k.v, k.q, k.V, k.Q) if size is None else (k.q, k.v * size, k.Q, k.V * size)
        return [
            Bar(
                ts_event=k.t * NS_PER_MS,  # bars are stamped with their start
                exchange=self.exchange,
                market=terms.market,
                symbol=k.s,
                ts_recv=ts_recv,
                price_kind=PriceKind.TRADE,
                interval_s=interval,
                open=k.o,
                high=k.h,
                low=k.low,
                close=k.c,
                volume_base=vol[0],
                volume_quote=vol[1],
                taker_buy_base=vol[2],
                taker_buy_quote=vol[3],
                trade_count=k.n,
            )
        ]

    # -- REST ------------------------------------------------------------------------------

    def on_http(self, url: str, body: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode a REST body: depth snapshots become rows, exchangeInfo teaches contract terms."""
        parts = urlsplit(url)
        endpoint = parts.path.rsplit("/", 1)[-1]
        if endpoint == "exchangeInfo":
            self._learn(body)
            return []
        if self.exchange == COINM:  # COIN-M history (flushwatch backfill): sizes from exchangeInfo
            from flushwatch.venues.binance import coinm_history

            rows = coinm_history.decode(url, body, ts_recv, self._listed, self._settled)
            if rows is not None:
                return rows
        if endpoint == "openInterest":  # polled: Binance streams no OI (DOMAIN.md C10)
            from flushwatch.venues.binance.rest import open_interest

            return [open_interest(self.exchange, body, ts_recv, self.terms)]
        if endpoint in _HISTORY:  # backfilled history (flushwatch backfill)
            from flushwatch.venues.binance import rest

            if endpoint.endswith("lines"):
                return list(rest.klines(self.exchange, url, body, ts_recv, self.terms))
            if endpoint == "fundingRate":
                return list(rest.funding_history(self.exchange, body, ts_recv, self.terms))
            return list(rest.open_interest_history(self.exchange, body, ts_recv, self.terms))
        if endpoint != "depth":
            self.skipped[f"REST responses of {parts.path}"] += 1
            return []
        snap = self._snapshot.decode(body)
        symbol = snap.symbol or (parse_qs(parts.query).get("symbol") or [""])[0]
        if not symbol:
            raise ValueError(f"depth snapshot from {url} names no symbol (no ?symbol= in the URL)")
        ts = snap.T or snap.E
        ts_event = ts * NS_PER_MS if ts else _need_recv(ts_recv, "spot depth snapshot")
        ids = (snap.lastUpdateId, None, None)
        sides = (snap.bids, snap.asks)
        return self._levels(symbol, ts_event, ts_recv, sides, snapshot=True, ids=ids)


#: REST history endpoints decoded by :mod:`flushwatch.venues.binance.rest`.
_HISTORY = frozenset({"klines", "markPriceKlines", "fundingRate", "openInterestHist"})


def _need_recv(ts_recv: int | None, what: str) -> int:
    if ts_recv is None:
        raise ValueError(f"{what} carries no exchange time, so a receive time is required")
    return ts_recv


def make_decoder(url: str | None = None) -> BinanceDecoder:
    """Build the decoder for the Binance venue that ``url`` belongs to (default: spot)."""
    exchange = exchange_of(url) if url else SPOT
    if exchange is None:
        raise ValueError(f"{url} is not a Binance spot, USDⓈ-M or COIN-M address")
    return BinanceDecoder(exchange)
