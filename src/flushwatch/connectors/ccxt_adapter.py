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
from typing import Any

import msgspec

from flushwatch.connectors.base import Capability, FeedEvent, RawFrame
from flushwatch.errors import ConfigError, NotSupported, PermanentError
from flushwatch.venues.ccxt.decode import CcxtDecoder, LiquidationSide, make_decoder

__all__ = [
    "STREAMS",
    "CcxtConfig",
    "CcxtConnector",
    "CcxtDecoder",
    "LiquidationSide",
    "capabilities",
    "make_decoder",
]

#: Stream name → (ccxt ``has`` key and method, capability).
STREAMS: dict[str, tuple[str, str, Capability]] = {
    "trades": ("watchTrades", "watch_trades", Capability.TRADES),
    "book": ("watchOrderBook", "watch_order_book", Capability.BOOK),
    "liquidations": ("watchLiquidations", "watch_liquidations", Capability.LIQUIDATIONS),
}


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
