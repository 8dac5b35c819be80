"""OKX v5 public streaming client, and the reconnecting websocket session it shares with Bybit.

OKX keeps its connection alive with the text ``ping`` → ``pong`` ("if there is no message in
30 s the connection breaks": we ping after 25 s without one). Order books (``books``,
``books-l2-tbt``, ``books50-l2-tbt``) arrive as a snapshot then updates, each with a CRC32
``checksum`` of the top 25 levels, "bid1[price:size]:ask1[price:size]:bid2..." (interleaved;
when one side is shorter the other continues alone; the price and size texts exactly as
sent), as a signed 32-bit integer: :func:`checksum`. A mismatch, an update before any snapshot,
or a ``prevSeqId`` that is not the last ``seqId`` is a ``gap``: the book is dropped and the
channel resubscribed, which makes OKX send a fresh snapshot. OKX deprecated the checksum on
2026-06-23 (it is then always 0): a zero checksum is not checked and ``seqId``/``prevSeqId``
carry the continuity check alone.

:class:`WsSession` is the minimal reconnect loop both venues use (written here because
``connectors/session.py`` did not exist yet): exponential backoff with jitter, the venue's
keep-alive, a stale watchdog (no data frame for ``stale_after`` seconds → ``stale`` event and a
reconnect), ``connected``/``disconnected``/``backpressure`` events and one bounded queue.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
import random
import time
import zlib
from collections.abc import AsyncIterator, Iterable, Sequence
from types import TracebackType
from typing import Protocol

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import InvalidStatus, WebSocketException

from flushwatch.connectors.base import Capability, FeedEvent, FeedEventKind, RawFrame
from flushwatch.errors import (
    BadSymbol,
    ConfigError,
    ExchangeUnavailable,
    PermanentError,
)

EXCHANGE = "okx"
_BOOKS = frozenset({"books", "books-l2-tbt", "books50-l2-tbt"})
_CHECKSUM_DEPTH = 25


class SessionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Timing of one websocket session (seconds)."""

    ping_interval: float = 25.0
    #: True: ping after ``ping_interval`` without any message (OKX); False: every interval.
    ping_when_idle: bool = True
    stale_after: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    open_timeout: float = 10.0
    queue_size: int = 10_000


class Wire(Protocol):
    """A venue's protocol as a session drives it."""

    exchange: str

    def subscribe_messages(self) -> list[str]:
        """Requests to send after each (re)connect."""
        ...

    def keepalive(self) -> str:
        """The application-level ping."""
        ...

    def reset(self) -> None:
        """Forget per-connection state (books) before a new connection."""
        ...

    def inspect(self, text: str, ts: int) -> tuple[list[FeedEvent], list[str], bool]:
        """Feed events, requests to send, and whether the frame carried market data."""
        ...


class Book:
    """One order book keyed by price, keeping the price and size texts as sent."""

    __slots__ = ("asks", "bids", "seq")

    def __init__(self) -> None:
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.seq: int | None = None

    def apply(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        """Set (or, at size 0, remove) each level."""
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for level in levels:
                price = float(level[0])
                if float(level[1]) == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = (level[0], level[1])

    def top(self, depth: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Return the best ``depth`` bids (high→low) and asks (low→high)."""
        bids = [self.bids[p] for p in heapq.nlargest(depth, self.bids)]
        asks = [self.asks[p] for p in heapq.nsmallest(depth, self.asks)]
        return bids, asks


def checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Return OKX's book checksum of the given top levels (see the module docstring).

    Examples
    --------
    >>> checksum([("3366.1", "7")], [("3366.8", "9"), ("3368", "8")]) == checksum(
    ...     [("3366.1", "7")], [("3366.8", "9"), ("3368", "8")])
    True
    """
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class WsSession:
    """Keep one websocket subscribed, forever, reporting every break (module docstring)."""

    def __init__(
        self, wire: Wire, url: str, config: SessionConfig, *, rest_urls: Sequence[str] = ()
    ) -> None:
        self.wire, self.url, self.config = wire, url, config
        self.rest_urls = tuple(rest_urls)
        self.connections = 0
        self._queue: asyncio.Queue[RawFrame | FeedEvent | PermanentError | None] = asyncio.Queue(
            config.queue_size
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Start connecting in the background."""
        self._task = asyncio.create_task(self._run())

    async def stop(self) -> None:
        """Stop reconnecting and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def frames(self) -> AsyncIterator[RawFrame | FeedEvent]:
        """Yield frames and events; raise the PermanentError that stopped the session."""
        while True:
            item = await self._queue.get()
            if item is None:
                return
            if isinstance(item, PermanentError):
                raise item
            yield item

    def event(self, kind: FeedEventKind, detail: str = "") -> FeedEvent:
        """Build a feed event about this session's stream."""
        return FeedEvent(
            ts=time.time_ns(),
            kind=kind,
            exchange=self.wire.exchange,
            stream=self.url,
            detail=detail,
        )

    async def _emit(self, item: RawFrame | FeedEvent) -> None:
        if not self._queue.full():
            self._queue.put_nowait(item)
            return
        since = time.monotonic()
        await self._queue.put(item)
        paused = time.monotonic() - since
        await self._queue.put(self.event("backpressure", f"consumer behind: paused {paused:.3f}s"))

    def _backoff(self, attempt: int) -> float:
        cap = min(self.config.backoff_max, self.config.backoff_initial * 2.0 ** min(attempt, 30))
        jitter: float = random.uniform(0.5, 1.0)
        return cap * jitter  # jitter, not cryptography

    async def _run(self) -> None:
        try:
            await self._fetch_rest()
            attempt = 0
            while True:
                try:
                    async with connect(
                        self.url, open_timeout=self.config.open_timeout, ping_interval=None
                    ) as ws:
                        attempt = 0
                        self.connections += 1
                        self.wire.reset()
                        await self._emit(self.event("connected"))
                        for message in self.wire.subscribe_messages():
                            await ws.send(message)
                        await self._pump(ws)
                except InvalidStatus as exc:
                    if 400 <= exc.response.status_code < 500 and exc.response.status_code != 429:
                        raise PermanentError(f"{self.url}: {exc}") from exc
                    await self._emit(self.event("disconnected", str(exc)))
                except (OSError, TimeoutError, WebSocketException, ExchangeUnavailable) as exc:
                    await self._emit(self.event("disconnected", f"{type(exc).__name__}: {exc}"))
                await asyncio.sleep(self._backoff(attempt))
                attempt += 1
        except PermanentError as exc:
            await self._queue.put(exc)

    async def _pump(self, ws: ClientConnection) -> None:
        cfg = self.config
        loop = asyncio.get_running_loop()
        last_data = last_any = last_ping = loop.time()
        while True:
            now = loop.time()
            ping_due = max(last_any, last_ping) if cfg.ping_when_idle else last_ping
            ping_due += cfg.ping_interval
            stale_due = last_data + cfg.stale_after
            if now >= stale_due:
                await self._emit(self.event("stale", f"no data for {now - last_data:.1f}s"))
                raise ExchangeUnavailable(f"{self.url}: stale, reconnecting")
            if now >= ping_due:
                await ws.send(self.wire.keepalive())
                last_ping = now
                continue
            try:
                async with asyncio.timeout(min(ping_due, stale_due) - now):
                    message = await ws.recv()
            except TimeoutError:
                continue
            text = message if isinstance(message, str) else message.decode()
            ts = time.time_ns()
            last_any = loop.time()
            await self._emit(RawFrame(ts_recv=ts, url=self.url, data=text))
            try:
                events, sends, is_data = self.wire.inspect(text, ts)
            except (msgspec.DecodeError, msgspec.ValidationError, ValueError) as exc:
                events, sends, is_data = [self.event("gap", f"unreadable frame: {exc}")], [], True
            for event in events:
                await self._emit(event)
            for request in sends:
                await ws.send(request)
            if is_data:
                last_data = last_any

    async def _fetch_rest(self) -> None:
        if not self.rest_urls:
            return
        async with httpx.AsyncClient(timeout=self.config.open_timeout) as client:
            for url in self.rest_urls:
                await self._get(client, url)

    async def _get(self, client: httpx.AsyncClient, url: str) -> None:
        attempt = 0
        while True:
            try:
                response = await client.get(url)
            except httpx.TransportError as exc:
                await self._emit(self.event("disconnected", f"GET {url}: {exc!r}"))
                delay = self._backoff(attempt)
            else:
                status = response.status_code
                if status < 400:
                    ts = time.time_ns()
                    await self._emit(RawFrame(ts_recv=ts, url=url, data=response.text, http=True))
                    return
                if status in (418, 429):
                    delay = float(response.headers.get("Retry-After") or self._backoff(attempt))
                    await self._emit(self.event("rate_limited", f"GET {url}: HTTP {status}"))
                elif status < 500:
                    raise PermanentError(f"GET {url}: HTTP {status} {response.text[:200]}")
                else:
                    delay = self._backoff(attempt)
            await asyncio.sleep(delay)
            attempt += 1


class OkxConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and what to stream from OKX; tests point ``ws_url``/``rest_base`` at loopback."""

    inst_ids: tuple[str, ...] = ("BTC-USDT-SWAP",)
    channels: tuple[str, ...] = ("books", "trades", "tickers")
    #: ``liquidation-orders`` is subscribed per instrument type, e.g. ("SWAP",).
    liquidation_inst_types: tuple[str, ...] = ()
    ws_url: str = "wss://ws.okx.com:8443/ws/v5/public"
    #: Instruments (contract values) are fetched from here once per start; None: skip.
    rest_base: str | None = "https://www.okx.com"
    session: SessionConfig = SessionConfig()

    def args(self) -> list[dict[str, str]]:
        """Return every subscription argument, in order."""
        out = [{"channel": ch, "instId": i} for i in self.inst_ids for ch in self.channels]
        out += [
            {"channel": "liquidation-orders", "instType": t} for t in self.liquidation_inst_types
        ]
        return out

    def inst_types(self) -> list[str]:
        """Return the instrument types of :attr:`inst_ids` (for the instruments request)."""
        kinds: dict[str, None] = {}
        for inst in self.inst_ids:
            parts = inst.split("-")
            kind = "SPOT" if len(parts) == 2 else "SWAP" if parts[-1] == "SWAP" else "FUTURES"
            kinds[kind] = None
        return list(kinds)


class _Arg(msgspec.Struct):
    channel: str
    instId: str | None = None  # OKX field name


class _Env(msgspec.Struct):
    event: str | None = None
    code: str = ""
    msg: str = ""
    arg: _Arg | None = None
    action: str | None = None
    data: msgspec.Raw = msgspec.Raw()


class _BookData(msgspec.Struct):
    bids: list[list[str]]
    asks: list[list[str]]
    checksum: int | None = None
    seqId: int | None = None  # OKX field name
    prevSeqId: int | None = None  # OKX field name


class OkxWire:
    """OKX's side of a :class:`WsSession`: subscribe messages, pings, book checksums."""

    exchange = EXCHANGE

    def __init__(self, config: OkxConfig) -> None:
        self.config = config
        self.books: dict[tuple[str, str], Book] = {}
        #: Checksums compared so far, and how many matched.
        self.checked = 0
        self.matched = 0
        self._waiting: set[tuple[str, str]] = set()
        self._env = msgspec.json.Decoder(_Env)
        self._data = msgspec.json.Decoder(list[_BookData])

    def subscribe_messages(self) -> list[str]:
        """Return one subscribe request for every channel."""
        return [json.dumps({"op": "subscribe", "args": self.config.args()}, separators=(",", ":"))]

    def keepalive(self) -> str:
        """Return OKX's text ping."""
        return "ping"

    def reset(self) -> None:
        """Forget every book: a new connection starts from fresh snapshots."""
        self.books.clear()
        self._waiting.clear()

    def inspect(self, text: str, ts: int) -> tuple[list[FeedEvent], list[str], bool]:
        """Check one frame: feed events, requests to send, and whether it carried data."""
        if text == "pong":
            return [], [], False
        env = self._env.decode(text)
        if env.event == "error":
            if env.code == "60018":  # "doesn't exist"
                raise BadSymbol(f"okx: {env.msg}")
            raise ExchangeUnavailable(f"okx error {env.code}: {env.msg}")
        if env.event is not None or env.arg is None:
            return [], [], False
        arg = env.arg
        if arg.channel in _BOOKS and arg.instId and env.action and len(env.data) > 0:
            key = (arg.channel, arg.instId)
            resubscribe = False
            events: list[FeedEvent] = []
            for data in self._data.decode(env.data):
                gap = self._on_book(key, env.action == "snapshot", data, ts, events)
                resubscribe = resubscribe or gap
            if resubscribe:
                one = [{"channel": arg.channel, "instId": arg.instId}]
                again = [json.dumps({"op": op, "args": one}) for op in ("unsubscribe", "subscribe")]
                return events, again, True
            return events, [], True
        return [], [], True

    def _on_book(
        self, key: tuple[str, str], snapshot: bool, data: _BookData, ts: int, out: list[FeedEvent]
    ) -> bool:
        book = self.books.get(key)
        if snapshot:
            if key in self._waiting:
                out.append(self._event("resync", key, ts, "snapshot after a gap"))
                self._waiting.discard(key)
            book = self.books[key] = Book()
        elif book is None:
            if key in self._waiting:
                return False
            return self._gap(key, ts, "update before any snapshot", out)
        elif data.prevSeqId is not None and book.seq is not None and data.prevSeqId != book.seq:
            if data.seqId is not None and data.seqId <= book.seq:
                return False  # a replayed update
            return self._gap(key, ts, f"prevSeqId {data.prevSeqId} != seqId {book.seq}", out)
        book.apply(data.bids, data.asks)
        book.seq = data.seqId
        if data.checksum:  # 0: deprecated (module docstring)
            self.checked += 1
            if checksum(*book.top(_CHECKSUM_DEPTH)) != data.checksum:
                return self._gap(key, ts, f"checksum mismatch ({data.checksum})", out)
            self.matched += 1
        return False

    def _gap(self, key: tuple[str, str], ts: int, detail: str, out: list[FeedEvent]) -> bool:
        self.books.pop(key, None)
        self._waiting.add(key)
        out.append(self._event("gap", key, ts, detail))
        return True

    def _event(self, kind: FeedEventKind, key: tuple[str, str], ts: int, detail: str) -> FeedEvent:
        return FeedEvent(
            ts=ts, kind=kind, exchange=EXCHANGE, stream=":".join(key), detail=detail,
            gap_end=ts if kind == "gap" else None,
        )  # fmt: skip


class OkxConnector:
    """Stream OKX v5 public channels (see the module docstring); an async context manager."""

    exchange = EXCHANGE
    capabilities = frozenset(Capability) - {Capability.KLINES}

    def __init__(self, config: OkxConfig) -> None:
        unknown = set(config.channels) - (
            _BOOKS | {"books5", "bbo-tbt", "trades", "tickers", "funding-rate"}
            | {"open-interest", "mark-price", "index-tickers"}
        )  # fmt: skip
        if unknown:
            raise ConfigError(f"unknown or unsupported okx channels: {sorted(unknown)}")
        self.config = config
        self.wire = OkxWire(config)
        rest = []
        if config.rest_base is not None:
            base = f"{config.rest_base}/api/v5/public/instruments?instType="
            rest = [base + kind for kind in config.inst_types()]
        self._session = WsSession(self.wire, config.ws_url, config.session, rest_urls=rest)

    async def __aenter__(self) -> OkxConnector:
        """Start connecting and subscribing in the background."""
        await self._session.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close the connection and stop reconnecting."""
        await self._session.stop()

    def frames(self) -> AsyncIterator[RawFrame | FeedEvent]:
        """Frames and feed events in receive order, until closed."""
        return self._session.frames()


__all__ = [
    "EXCHANGE",
    "Book",
    "OkxConfig",
    "OkxConnector",
    "OkxWire",
    "SessionConfig",
    "Wire",
    "WsSession",
    "checksum",
]
