"""Native Binance connector (spot, USDⓈ-M, COIN-M): raw frames, kept books, feed events.

Streams are routed per DOMAIN.md C3: on USDⓈ-M, ``/market``-tier streams (aggTrade,
markPrice, forceOrder, kline) go to ``Endpoints.market_ws`` and book streams (depth,
bookTicker, trade) to ``Endpoints.public_ws``; one reconnecting session per base. Every frame
is yielded as received (:class:`RawFrame`), and so is every REST body (``http=True``): depth
snapshots, on USDⓈ-M/COIN-M open interest polled every ``oi_interval`` seconds (Binance
streams no OI, DOMAIN.md C10) and, if configured, exchangeInfo once at start (contract terms
the decoder learns), so a recording of the output re-imports into exactly what a consumer
decoded live. REST goes through ccxt (:mod:`flushwatch.connectors.rest_ccxt`, issue 6), the
streams through flushwatch's own sessions. Decoding is left to
:func:`flushwatch.venues.registry.decoder_for`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
import time
from collections.abc import AsyncIterator, Iterable, Sequence
from types import TracebackType

import msgspec

from flushwatch.connectors.base import Capability, FeedEvent, RawFrame
from flushwatch.connectors.book import OrderBook
from flushwatch.connectors.channel import Channel
from flushwatch.connectors.config import DEFAULT_ENDPOINTS, ConnectorConfig, Endpoints
from flushwatch.connectors.rest_ccxt import APIS, CcxtRest, Params
from flushwatch.connectors.retry import retrying
from flushwatch.connectors.session import WsSession
from flushwatch.errors import ConfigError, RateLimited, TransientError
from flushwatch.venues.binance.symbols import infer_terms
from flushwatch.venues.binance.wire import DepthSnapshot, DepthUpdate

_STREAM = re.compile(r'^\{"stream":"([^"]+)"')
_MARKET_TIER = ("aggTrade", "markPrice", "forceOrder", "kline", "continuousKline")
_HAS_OI = ("binanceusdm", "binancecoinm")
_CAPS = {
    "binance": frozenset(
        {Capability.TRADES, Capability.BOOK, Capability.QUOTES, Capability.KLINES}
    ),
    "binanceusdm": frozenset(Capability),  # open interest by REST polling
    "binancecoinm": frozenset(Capability),
}


class _DepthFrame(msgspec.Struct):
    stream: str
    data: DepthUpdate


def stream_of(text: str) -> str | None:
    """Return the stream name of a combined-stream frame, or None (acks, raw frames)."""
    found = _STREAM.match(text)
    return found.group(1) if found else None


def should_retry(exc: BaseException) -> bool | float:
    """Binance's retry verdict: wait ``Retry-After`` on 429/418, back off on transients."""
    if isinstance(exc, RateLimited):
        return exc.retry_after if exc.retry_after is not None else True
    return isinstance(exc, TransientError)


def _kind(stream: str) -> str:
    """``btcusdt@depth@0ms`` → ``depth``; ``btcusdt@kline_1m`` → ``kline``."""
    tail = stream.split("@", 1)[1] if "@" in stream else stream
    return tail.split("@", 1)[0].split("_", 1)[0]


def _is_depth_diff(stream: str) -> bool:
    tail = stream.split("@", 1)[1] if "@" in stream else ""
    return tail == "depth" or tail.startswith("depth@")


class BinanceConnector:
    """Stream Binance market data as raw frames and feed events; keep depth books in sync."""

    def __init__(
        self,
        exchange: str,
        symbols: Sequence[str],
        streams: Sequence[str],
        config: ConnectorConfig | None = None,
        *,
        seed: int | None = None,
    ) -> None:
        if exchange not in _CAPS:
            raise ConfigError(f"not a Binance exchange id: {exchange!r} ({', '.join(_CAPS)})")
        self.exchange = exchange
        self.capabilities = _CAPS[exchange]
        self.config = config or ConnectorConfig()
        self.endpoints: Endpoints = self.config.endpoints or DEFAULT_ENDPOINTS[exchange]
        self.symbols = [s.upper() for s in symbols]
        self.streams = [f"{s.lower()}@{k}" for s in self.symbols for k in streams]
        futures = exchange != "binance"
        self.books = {
            s: OrderBook(s, futures=futures, inverse_size=infer_terms(exchange, s).inverse_size)
            for s in self.symbols
            if any(_is_depth_diff(f"{s.lower()}@{k}") for k in streams)
        }
        #: Frames that are not valid JSON where a depth diff was expected.
        self.malformed = 0
        self._rng = random.Random(seed)
        self._channel = Channel(exchange, self.config.queue_size, self.config.stall_timeout)
        self._want = {s: asyncio.Event() for s in self.books}
        self._pending: set[str] = set()
        self._depth = msgspec.json.Decoder(_DepthFrame, strict=False)
        self._snapshot = msgspec.json.Decoder(DepthSnapshot, strict=False)
        self.sessions: list[WsSession] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._rest: CcxtRest | None = None
        self._failure: BaseException | None = None

    # -- routing ---------------------------------------------------------------------------

    def _base(self, stream: str) -> str:
        market = self.exchange == "binanceusdm" and _kind(stream) in _MARKET_TIER
        return (self.endpoints.market_ws if market else self.endpoints.public_ws).rstrip("/")

    def routes(self) -> dict[str, list[str]]:
        """Return the streams per websocket URL (one session each)."""
        out: dict[str, list[str]] = {}
        for stream in self.streams:
            out.setdefault(f"{self._base(stream)}/stream", []).append(stream)
        return out

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> BinanceConnector:
        """Fetch exchangeInfo if configured, open one session per path tier, start REST workers."""
        self._rest = CcxtRest(self.exchange, self.endpoints.rest, timeout=self.config.open_timeout)
        if self.config.exchange_info:
            try:  # before any stream, so a recording teaches the decoder its terms first
                await self._fetch("exchangeInfo", {})
            except BaseException:
                await self._rest.aclose()
                raise
        intervals = self.config.expected_interval
        for url, streams in self.routes().items():
            request = {"method": "SUBSCRIBE", "params": streams, "id": 1}
            session = WsSession(
                exchange=self.exchange,
                url=url,
                subscribe=[msgspec.json.encode(request).decode()],
                intervals={s: intervals[_kind(s)] for s in streams if _kind(s) in intervals},
                stream_of=stream_of,
                should_retry=should_retry,
                channel=self._channel,
                config=self.config,
                tap=self._tap,
                rng=random.Random(self._rng.random()),
            )
            self.sessions.append(session)
            self._spawn(session.run())
        for symbol in self.books:
            self._spawn(self._snapshots(symbol))
        interval = self.config.oi_interval
        if self.exchange in _HAS_OI and interval is not None:
            for i, symbol in enumerate(self.symbols):  # spread over the interval, not a burst
                self._spawn(self._open_interest(symbol, i * interval / len(self.symbols)))
        return self

    def _spawn(self, coro: object) -> None:
        task: asyncio.Task[None] = asyncio.create_task(coro)  # type: ignore[arg-type]
        task.add_done_callback(self._finished)
        self._tasks.append(task)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()
            self._channel.close()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close every connection and ccxt's HTTP session."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        if self._rest is not None:
            await self._rest.aclose()
        self._channel.close()

    async def frames(self) -> AsyncIterator[RawFrame | FeedEvent]:
        """Yield frames and feed events in receive order until closed."""
        while (item := await self._channel.get()) is not None:
            yield item
        if self._failure is not None:
            raise self._failure

    # -- books -----------------------------------------------------------------------------

    def _tap(self, frame: RawFrame) -> Iterable[FeedEvent]:
        stream = stream_of(frame.data)
        if stream is None or not _is_depth_diff(stream):
            return ()
        try:
            ev = self._depth.decode(frame.data).data
        except msgspec.DecodeError:
            self.malformed += 1
            return ()
        book = self.books.get(ev.s)
        if book is None:
            return ()
        verdict = book.on_diff(ev)
        if verdict == "buffered" and book.snapshot_id < 0:
            self._request(ev.s)
        if verdict == "gap":
            start, end = book.gap_span or (None, None)
            self._request(ev.s)
            return (
                self._event(
                    "gap",
                    stream,
                    f"depth diff chain broken (expected {book.chain_rule})",
                    gap_start=start,
                    gap_end=end,
                ),
                self._event("resync", stream, "fetching a new snapshot"),
            )
        if verdict == "too_old":
            self._request(ev.s)
            return (self._event("resync", stream, "snapshot older than the diff stream"),)
        return ()

    def _request(self, symbol: str) -> None:
        """Ask the snapshot worker for one snapshot (once until it has been applied)."""
        if symbol not in self._pending:
            self._pending.add(symbol)
            self._want[symbol].set()

    def _event(self, kind: str, stream: str, detail: str, **gap: int | None) -> FeedEvent:
        return msgspec.convert(
            {
                "ts": time.time_ns(),
                "kind": kind,
                "exchange": self.exchange,
                "stream": stream,
                "detail": detail,
                **gap,
            },
            FeedEvent,
        )

    async def _snapshots(self, symbol: str) -> None:
        """Fetch a REST snapshot whenever the book asks for one; yield its body as a frame."""
        want = self._want[symbol]
        book = self.books[symbol]
        params: Params = {"symbol": symbol, "limit": self.config.snapshot_limit}
        while True:
            await want.wait()
            want.clear()
            url, body = await self._fetch("depth", params)
            self._pending.discard(symbol)
            if book.on_snapshot(self._snapshot.decode(body)) == "too_old":
                self._channel.put_event(self._event("resync", url, "snapshot too old; again"))
                self._request(symbol)

    async def _open_interest(self, symbol: str, delay: float) -> None:
        """Poll a symbol's open interest; yield each body as a frame (like depth snapshots).

        The next poll starts ``oi_interval`` after the previous body arrived, so answered polls
        are never closer than the interval (a 429/418 is retried after its ``Retry-After``).
        """
        interval = self.config.oi_interval
        assert interval is not None
        await asyncio.sleep(delay)
        while True:
            await self._fetch("openInterest", {"symbol": symbol})
            await asyncio.sleep(interval)

    async def _fetch(self, endpoint: str, params: Params) -> tuple[str, str]:
        """GET one endpoint through ccxt, retrying per :func:`should_retry`; yield the body.

        The frame carries the URL ccxt requested and the body exactly as received.
        """
        rest = self._rest
        assert rest is not None
        path = f"{APIS[self.exchange].prefix}/{endpoint}"
        url, body = await retrying(
            lambda: rest.get(path, params),
            on=should_retry,
            backoff=self.config.backoff,
            rng=self._rng,
            channel=self._channel,
            what=rest.url_for(path, params),
        )
        frame = RawFrame(ts_recv=time.time_ns(), url=url, data=body, http=True)
        await self._channel.put(frame, url)
        return url, body
