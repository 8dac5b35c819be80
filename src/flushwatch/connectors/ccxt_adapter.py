"""Breadth through ccxt.pro: any venue ccxt can watch, behind the same connector contract.

The adapter is labelled ``ccxt`` and is slower than the native clients (on the same real
Binance frames ccxt.pro's handlers reach ~36k msgs/s against ~1.4M for the msgspec decoders,
and ~14k depth diffs/s with a full book: issue 6), so the major venues use
:mod:`flushwatch.connectors.binance`, :mod:`.bybit` and :mod:`.okx`; this is for the rest.

Each ``watch_trades`` / ``watch_order_book`` / ``watch_liquidations`` result becomes one
:class:`~flushwatch.connectors.base.RawFrame` whose ``url`` is ``ccxt:<exchange id>`` and whose
``data`` is ccxt's normalized JSON wrapped as ``{"stream", "symbol", "id", "type", "data"}``, so a
recording of it replays through :class:`CcxtDecoder` like any venue's frames. Capabilities come
from ``exchange.has``; asking for a stream ccxt lacks raises
:class:`~flushwatch.errors.NotSupported`.

Liquidation sides: ccxt passes the venue's raw ``side`` through (DOMAIN.md C5: Binance and OKX
send the order side, Bybit the position side), so the decoder must be told which one the venue
sends (``liquidation_side``); coverage is UNKNOWN (ccxt does not say whether the feed is sampled).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from types import TracebackType
from typing import Any, Literal

import msgspec

from flushwatch.connectors.base import Capability, FeedEvent, RawFrame
from flushwatch.domain.enums import BookSide, Coverage, Market, PositionSide, Side
from flushwatch.domain.records import BookUpdate, Instrument, Liquidation, Record, Trade
from flushwatch.errors import ConfigError, NotSupported, PermanentError

#: Stream name → (ccxt ``has`` key and method, capability).
STREAMS: dict[str, tuple[str, str, Capability]] = {
    "trades": ("watchTrades", "watch_trades", Capability.TRADES),
    "book": ("watchOrderBook", "watch_order_book", Capability.BOOK),
    "liquidations": ("watchLiquidations", "watch_liquidations", Capability.LIQUIDATIONS),
}
_MARKETS = {"spot": Market.SPOT, "swap": Market.PERP, "future": Market.FUTURE}
LiquidationSide = Literal["order", "position"]


def capabilities(has: Mapping[str, object]) -> frozenset[Capability]:
    """Return what a ccxt exchange can stream, from its ``has`` table ('emulated' counts)."""
    return frozenset(cap for key, _, cap in STREAMS.values() if has.get(key))


class CcxtConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which ccxt.pro exchange, symbols (ccxt unified) and streams to watch."""

    exchange: str
    symbols: tuple[str, ...]
    streams: tuple[str, ...] = ("trades",)
    #: Passed to the ccxt exchange constructor (options, urls overrides for tests).
    params: dict[str, Any] = msgspec.field(default_factory=dict)
    book_depth: int = 50
    queue_size: int = 10_000


class CcxtDecoder:
    """Turn the adapter's frames (ccxt-normalized JSON) into domain records."""

    def __init__(self, exchange: str, liquidation_side: LiquidationSide | None = None) -> None:
        self.exchange = exchange
        self.liquidation_side = liquidation_side
        self.instruments: list[Instrument] = []

    def on_http(self, url: str, body: str | bytes, ts_recv: int | None) -> list[Record]:
        """The adapter sends no REST bodies."""
        return []

    def on_message(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one adapter frame."""
        msg = json.loads(data)
        market = _MARKETS.get(msg.get("type") or "", Market.PERP)
        symbol, payload = msg["id"], msg["data"]
        if msg["stream"] == "trades":
            return [self._trade(t, market, symbol, ts_recv) for t in payload]
        if msg["stream"] == "book":
            return self._book(payload, market, symbol, ts_recv)
        return [self._liquidation(x, market, symbol, ts_recv) for x in payload]

    def _trade(self, t: dict[str, Any], market: Market, symbol: str, ts: int | None) -> Trade:
        return Trade(
            ts_event=int(t["timestamp"]) * 1_000_000,
            exchange=self.exchange,
            market=market,
            symbol=symbol,
            ts_recv=ts,
            price=float(t["price"]),
            qty=float(t["amount"]) * float(t.get("contractSize") or 1.0)
            if market != Market.SPOT
            else float(t["amount"]),
            taker_side=Side(t["side"]),
            trade_id=None if t.get("id") is None else str(t["id"]),
        )

    def _book(
        self, book: dict[str, Any], market: Market, symbol: str, ts: int | None
    ) -> list[Record]:
        ts_event = int(book.get("timestamp") or (ts or 0) // 1_000_000) * 1_000_000
        nonce = book.get("nonce")
        return [
            BookUpdate(
                ts_event=ts_event,
                exchange=self.exchange,
                market=market,
                symbol=symbol,
                ts_recv=ts,
                side=side,
                price=float(level[0]),
                qty=float(level[1]),
                is_snapshot=True,  # ccxt hands over the whole (top of) book each time
                update_id=int(nonce) if nonce is not None else None,
            )
            for side, key in ((BookSide.BID, "bids"), (BookSide.ASK, "asks"))
            for level in book[key]
        ]

    def _liquidation(
        self, x: dict[str, Any], market: Market, symbol: str, ts: int | None
    ) -> Liquidation:
        venue_side = str((x.get("info") or {}).get("side") or x.get("side") or "")
        if self.liquidation_side is None:
            raise NotSupported(
                f"{self.exchange}: tell the decoder whether ccxt's liquidation side is the order"
                " or the position side (DOMAIN.md C5)"
            )
        buy = venue_side.lower() == "buy"
        long = buy if self.liquidation_side == "position" else not buy
        price = float(x["price"])
        qty = float(x.get("baseValue") or float(x["contracts"]) * float(x.get("contractSize") or 1))
        return Liquidation(
            ts_event=int(x["timestamp"]) * 1_000_000,
            exchange=self.exchange,
            market=market,
            symbol=symbol,
            ts_recv=ts,
            side=PositionSide.LONG if long else PositionSide.SHORT,
            price=price,
            qty=qty,
            notional=float(x.get("quoteValue") or qty * price),
            venue_side=venue_side,
            coverage=Coverage.UNKNOWN,
        )


def make_decoder(url: str, liquidation_side: LiquidationSide | None = None) -> CcxtDecoder:
    """Build the decoder for frames whose url is ``ccxt:<exchange id>``."""
    scheme, _, exchange = url.partition(":")
    if scheme != "ccxt" or not exchange:
        raise ValueError(f"not a ccxt adapter url: {url!r}")
    return CcxtDecoder(exchange, liquidation_side)


class CcxtConnector:
    """Watch streams of one ccxt.pro exchange (module docstring); an async context manager."""

    def __init__(self, config: CcxtConfig, exchange: Any | None = None) -> None:
        unknown = set(config.streams) - set(STREAMS)
        if unknown:
            raise ConfigError(f"unknown ccxt streams {sorted(unknown)}; known: {sorted(STREAMS)}")
        if exchange is None:
            import ccxt.pro  # heavy: imported only when a ccxt connector is built

            factory = getattr(ccxt.pro, config.exchange, None)
            if factory is None:
                raise NotSupported(f"ccxt.pro has no exchange {config.exchange!r}")
            exchange = factory(config.params)
        self.ccxt = exchange
        self.exchange = f"ccxt:{config.exchange}"
        self.capabilities = capabilities(exchange.has)
        for stream in config.streams:
            if STREAMS[stream][2] not in self.capabilities:
                raise NotSupported(f"ccxt {config.exchange} cannot {STREAMS[stream][1]}")
        self.config = config
        self._queue: asyncio.Queue[RawFrame | FeedEvent | PermanentError] = asyncio.Queue(
            config.queue_size
        )
        self._tasks: list[asyncio.Task[None]] = []

    async def __aenter__(self) -> CcxtConnector:
        """Start one watcher task per stream and symbol."""
        for stream in self.config.streams:
            for symbol in self.config.symbols:
                self._tasks.append(asyncio.create_task(self._watch(stream, symbol)))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the watchers and close ccxt's connections."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await self.ccxt.close()

    async def frames(self) -> AsyncIterator[RawFrame | FeedEvent]:
        """Frames (ccxt JSON) and feed events, until closed."""
        while True:
            item = await self._queue.get()
            if isinstance(item, PermanentError):
                raise item
            yield item

    def frame(self, stream: str, symbol: str, payload: object) -> RawFrame:
        """Wrap one ccxt result as a frame (see the module docstring)."""
        market = self.ccxt.market(symbol)
        body = {"stream": stream, "symbol": symbol, "id": market["id"], "type": market["type"]}
        body["data"] = payload
        return RawFrame(ts_recv=time.time_ns(), url=self.exchange, data=json.dumps(body))

    async def _watch(self, stream: str, symbol: str) -> None:
        import ccxt  # see __init__

        method = getattr(self.ccxt, STREAMS[stream][1])
        while True:
            try:
                if stream == "book":
                    book = await method(symbol, self.config.book_depth)
                    payload: object = {
                        k: book.get(k) for k in ("bids", "asks", "timestamp", "nonce")
                    }
                else:
                    payload = list(await method(symbol))
            except (ccxt.NetworkError, ccxt.ExchangeNotAvailable) as exc:
                event = FeedEvent(
                    ts=time.time_ns(), kind="disconnected", exchange=self.exchange,
                    stream=f"{stream}:{symbol}", detail=str(exc),
                )  # fmt: skip
                await self._queue.put(event)
                await asyncio.sleep(1.0)
                continue
            except ccxt.BaseError as exc:
                await self._queue.put(PermanentError(f"{self.exchange} {stream} {symbol}: {exc}"))
                return
            await self._queue.put(self.frame(stream, symbol, payload))


__all__ = [
    "STREAMS",
    "CcxtConfig",
    "CcxtConnector",
    "CcxtDecoder",
    "capabilities",
    "make_decoder",
]
