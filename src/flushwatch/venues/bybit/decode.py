"""Turn Bybit v5 public websocket frames and REST bodies into domain records.

One decoder serves one category (``linear``, ``inverse``, ``spot``), told by the websocket URL
(``wss://stream.bybit.com/v5/public/linear``); the symbols of different categories collide
(``BTCUSDT`` is both a spot pair and a linear perpetual). Frames are dispatched on the topic
prefix through a table, each payload decoded by a reusable typed decoder.

Normalization rules (each is the one place it happens):

* Times: Bybit sends epoch milliseconds. Trades use ``T`` (trade time), order books ``cts``
  (matching-engine time, "can be correlated with T from public trade") falling back to ``ts``,
  tickers ``ts``, liquidations ``T``/``updatedTime``, bars ``start``.
* Quantities are base units. Inverse sizes are USD contracts of 1 USD each (see
  :mod:`.symbols`): base = size / price, and the liquidation notional is the size itself.
* ``tickers``: deltas are merged with the snapshot, open interest is one-sided and funding
  is the current (unsettled) rate: see :mod:`.tickers`.
* Liquidations: ``S``/``side`` is the POSITION side, "When you receive a Buy update, this means
  that a long position has been liquidated" (https://bybit-exchange.github.io/docs/v5/websocket/
  public/all-liquidation; DOMAIN.md C5), so Buy ⇒ LONG. ``allLiquidation`` "push[es] all
  liquidations that occur on Bybit" every 500 ms (batched, not sampled): COMPLETE. The deprecated
  ``liquidation`` topic "pushes at most one order per second per symbol": THROTTLED (C1, C4).
  The price is the bankruptcy price.
* ``kline``: only closed bars (``confirm: true``) become rows, as for Binance.
* Block trades (``BT: true``) are negotiated off the book, not taker flow: skipped and counted.

Malformed frames raise :class:`msgspec.DecodeError` (broken JSON) or
:class:`msgspec.ValidationError` (missing field, non-numeric price; the message names the
field), and ticker fields that are not numbers raise :class:`ValueError` naming the field; the
recording readers map them to ``ParseError`` with file and line.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec

from flushwatch.domain.enums import Coverage, PositionSide, PriceKind, Side
from flushwatch.domain.records import (
    Bar,
    BookDelta,
    Instrument,
    Liquidation,
    Record,
    Trade,
)
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.bybit import history, wire
from flushwatch.venues.bybit.symbols import (
    CATEGORIES,
    EXCHANGE,
    Terms,
    infer_terms,
    learned_terms,
)
from flushwatch.venues.bybit.tickers import Tickers

#: Bybit kline interval → seconds ("M" has no fixed length and is skipped).
_INTERVAL_S = {
    "1": 60,
    "3": 180,
    "5": 300,
    "15": 900,
    "30": 1800,
    "60": 3600,
    "120": 7200,
    "240": 14400,
    "360": 21600,
    "720": 43200,
    "D": 86400,
    "W": 604800,
}
#: Bybit liquidation side is the POSITION side (module docstring, DOMAIN.md C5).
LIQUIDATED: dict[str, PositionSide] = {"Buy": PositionSide.LONG, "Sell": PositionSide.SHORT}
#: Trade ``S`` is the taker side.
_TAKER: dict[str, Side] = {"Buy": Side.BUY, "Sell": Side.SELL}

Handler = Callable[[wire.Envelope, int | None], list[Record]]


class BybitDecoder:
    """Stateful decoder for one Bybit v5 category: learns contract terms, merges ticker deltas."""

    def __init__(self, category: str) -> None:
        if category not in CATEGORIES:
            raise ValueError(f"not a Bybit v5 category: {category!r}")
        self.category = category
        self.instruments: list[Instrument] = []
        #: Frames or rows that produced no records on purpose, by reason.
        self.skipped: Counter[str] = Counter()
        self._learned: dict[str, Terms] = {}
        self._terms: dict[str, Terms] = {}
        self._tickers = Tickers()
        self._envelope = msgspec.json.Decoder(wire.Envelope)
        self._ticker = msgspec.json.Decoder(wire.Ticker)
        self._book = msgspec.json.Decoder(wire.Book, strict=False)
        self._trades = msgspec.json.Decoder(list[wire.PublicTrade], strict=False)
        self._klines = msgspec.json.Decoder(list[wire.KlineBar], strict=False)
        self._all_liq = msgspec.json.Decoder(list[wire.AllLiquidation], strict=False)
        self._liq = msgspec.json.Decoder(wire.LegacyLiquidation, strict=False)
        self._info = msgspec.json.Decoder(wire.InstrumentsBody)
        self._info_result = msgspec.json.Decoder(wire.InstrumentsResult, strict=False)
        self._handlers: dict[str, Handler] = {
            "tickers": self._on_ticker,
            "orderbook": self._on_book,
            "publicTrade": self._on_trades,
            "kline": self._on_kline,
            "allLiquidation": self._on_all_liquidation,
            "liquidation": self._on_liquidation,
        }

    # -- symbols ---------------------------------------------------------------------------

    def terms(self, symbol: str) -> Terms:
        """Return (and remember, emitting its Instrument once) the terms of ``symbol``."""
        found = self._terms.get(symbol)
        if found is None:
            found = self._learned.get(symbol) or infer_terms(self.category, symbol)
            self._terms[symbol] = found
            if found.instrument is not None:
                self.instruments.append(found.instrument)
        return found

    def _learn(self, body: str | bytes) -> None:
        env = self._info.decode(body)
        if env.retCode != 0:
            self.skipped[f"REST error responses ({env.retMsg})"] += 1
            return
        result = self._info_result.decode(env.result)
        for info in result.items:
            terms = learned_terms(result.category, info)
            if terms is None or result.category != self.category:
                continue
            self._learned[info.symbol] = terms
            old = self._terms.pop(info.symbol, None)
            if old is not None:  # seen before the instruments-info: replace the guessed terms
                if old.instrument is not None:
                    self.instruments.remove(old.instrument)
                self.terms(info.symbol)

    # -- entry points ----------------------------------------------------------------------

    def on_message(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one websocket frame (a topic push or an operation ack)."""
        env = self._envelope.decode(data)
        if env.topic is None:
            if env.success is False:
                self.skipped[f"rejected requests ({env.ret_msg})"] += 1
            else:
                self.skipped["operation acks"] += 1
            return []
        handler = self._handlers.get(env.topic.partition(".")[0])
        if handler is None or self.category == "option":
            self.skipped[f"frames of topic {env.topic.partition('.')[0]}"] += 1
            return []
        return handler(env, ts_recv)

    def on_http(self, url: str, body: str | bytes, ts_recv: int | None) -> list[Record]:
        """Learn contract terms from ``/v5/market/instruments-info``; decode history bodies
        (:mod:`.history`: klines, funding, OI, account ratio); count anything else."""
        path = urlsplit(url).path.rstrip("/")
        if path.endswith("/v5/market/instruments-info"):
            self._learn(body)
            return []
        rows = history.decode(url, body, ts_recv, self.terms)
        if rows is None:
            self.skipped[f"REST responses of {path}"] += 1
        return rows or []

    # -- topics ----------------------------------------------------------------------------

    def _on_ticker(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        tick = self._ticker.decode(env.data)
        terms = self.terms(tick.symbol)
        snapshot = env.type == "snapshot"
        return self._tickers.update(tick, snapshot, terms, _need_ts(env), ts_recv)

    def _on_book(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        book = self._book.decode(env.data)
        terms = self.terms(book.s)
        ts_event = env.cts * NS_PER_MS if env.cts else _need_ts(env)
        bids, asks = book.b, book.a
        if not (bids or asks):
            return []
        if terms.inverse:  # sizes are USD contracts of 1 USD: base = size / price
            bids = [(p, q / p) for p, q in bids]
            asks = [(p, q / p) for p, q in asks]
        return [
            BookDelta(
                ts_event=ts_event,
                exchange=EXCHANGE,
                market=terms.market,
                symbol=book.s,
                ts_recv=ts_recv,
                is_snapshot=env.type == "snapshot",
                bids=bids,
                asks=asks,
                update_id=book.u,
            )
        ]

    def _on_trades(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        out: list[Record] = []
        for t in self._trades.decode(env.data):
            if t.BT:
                self.skipped["block trades (BT=true)"] += 1
                continue
            side = _TAKER.get(t.S)
            if side is None:
                raise ValueError(f"field 'S': trade side {t.S!r} is neither Buy nor Sell")
            terms = self.terms(t.s)
            out.append(
                Trade(
                    ts_event=t.T * NS_PER_MS,
                    exchange=EXCHANGE,
                    market=terms.market,
                    symbol=t.s,
                    ts_recv=ts_recv,
                    price=t.p,
                    qty=t.v / t.p if terms.inverse else t.v,
                    taker_side=side,
                    trade_id=t.i,
                )
            )
        return out

    def _on_kline(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        topic = env.topic or ""
        symbol = topic.rpartition(".")[2]
        terms = self.terms(symbol)
        out: list[Record] = []
        for k in self._klines.decode(env.data):
            if not k.confirm:
                self.skipped["open (unconfirmed) kline updates"] += 1
                continue
            interval = _INTERVAL_S.get(k.interval)
            if interval is None:
                self.skipped[f"klines of interval {k.interval}"] += 1
                continue
            # linear/spot: volume base, turnover quote; inverse: volume USD, turnover coins.
            base, quote = (k.turnover, k.volume) if terms.inverse else (k.volume, k.turnover)
            out.append(
                Bar(
                    ts_event=k.start * NS_PER_MS,  # bars are stamped with their start
                    exchange=EXCHANGE,
                    market=terms.market,
                    symbol=symbol,
                    ts_recv=ts_recv,
                    price_kind=PriceKind.TRADE,
                    interval_s=interval,
                    open=k.open,
                    high=k.high,
                    low=k.low,
                    close=k.close,
                    volume_base=base,
                    volume_quote=quote,
                )
            )
        return out

    def _on_all_liquidation(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        return [
            self._liquidation(x.s, x.S, x.v, x.p, x.T, Coverage.COMPLETE, ts_recv)
            for x in self._all_liq.decode(env.data)
        ]

    def _on_liquidation(self, env: wire.Envelope, ts_recv: int | None) -> list[Record]:
        x = self._liq.decode(env.data)
        ms = x.updatedTime or x.updateTime or env.ts
        if not ms:
            raise ValueError("field 'updatedTime': liquidation carries no time")
        return [
            self._liquidation(x.symbol, x.side, x.size, x.price, ms, Coverage.THROTTLED, ts_recv)
        ]

    def _liquidation(
        self,
        symbol: str,
        venue_side: str,
        size: float,
        price: float,
        ms: int,
        coverage: Coverage,
        ts_recv: int | None,
    ) -> Liquidation:
        side = LIQUIDATED.get(venue_side)
        if side is None:
            raise ValueError(f"field 'S': liquidation side {venue_side!r} is neither Buy nor Sell")
        terms = self.terms(symbol)
        if terms.inverse:  # size is USD: exact notional, base at the bankruptcy price
            qty, notional = size / price, size
        else:
            qty, notional = size, size * price
        return Liquidation(
            ts_event=ms * NS_PER_MS,
            exchange=EXCHANGE,
            market=terms.market,
            symbol=symbol,
            ts_recv=ts_recv,
            side=side,
            price=price,  # bankruptcy price
            qty=qty,
            notional=notional,
            venue_side=venue_side,
            coverage=coverage,
        )


def _need_ts(env: wire.Envelope) -> int:
    if env.ts is None:
        raise ValueError(f"field 'ts': {env.topic} frame carries no time")
    return env.ts * NS_PER_MS


def category_of(url: str) -> str | None:
    """Return the v5 category a Bybit websocket or REST URL serves, or None.

    Examples
    --------
    >>> category_of("wss://stream.bybit.com/v5/public/spot")
    'spot'
    """
    parts = urlsplit(url)
    last = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if last in CATEGORIES:
        return last
    for item in parts.query.split("&"):
        key, _, value = item.partition("=")
        if key == "category" and value in CATEGORIES:
            return value
    return None


def make_decoder(url: str | None = None) -> BybitDecoder:
    """Build the decoder for the Bybit category ``url`` serves (default: linear)."""
    category = category_of(url) if url else "linear"
    if category is None:
        raise ValueError(f"{url} names no Bybit v5 category (linear, inverse, spot, option)")
    return BybitDecoder(category)
