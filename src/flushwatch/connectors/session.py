"""A generic reconnecting websocket session and the bounded channel towards the consumer.

Venue-neutral: a venue supplies the URL, the subscribe messages, how to tell a frame's stream
(``stream_of``), the expected interval per stream and a pure ``should_retry(exc) -> bool |
float`` (STYLE item 7: ``True`` retry with backoff, a float retry after that many seconds,
``False`` give up). The session

* stamps every frame with ``ts_recv = time.time_ns()`` and yields it unmodified;
* reconnects with exponential backoff and jitter, reporting ``disconnected`` / ``connected``
  with the span of the gap;
* watches every stream against its expected interval and reports ``stale`` (then reconnects)
  when a connected stream stays silent past it — the legacy-path failure of DOMAIN.md C3;
* reconnects before the venue's 24 h limit with an overlap, dropping frames the new
  connection repeats from the old one;
* writes into a bounded :class:`Channel`: when it is full the reader reports
  ``backpressure`` and waits at most ``stall_timeout``, then gives the connection up (a gap,
  reported) rather than block the socket forever.

Optional hooks for venues with an application-level protocol (Bybit, OKX): ``subscribe`` may
be a callable building the requests afresh for every connection; ``keepalive`` is a text ping
sent every ``keepalive_interval`` seconds (or, with ``keepalive_when_idle``, after that long
without any frame); ``inspect(text, ts)`` sees every frame and returns feed events, requests to
send on that connection (a resubscribe for a fresh snapshot) and whether the frame carried
market data — only those count for the stream ``url`` in ``intervals`` (a ``pong`` does not).
An ``inspect`` raising a :class:`PermanentError` (a rejected subscription) ends the session, a
:class:`TransientError` reconnects, an unreadable frame is reported as a ``gap``.

:class:`VenueStream` drives a :class:`Wire` (a venue's protocol) with one such session, after
fetching its reference REST documents once; it is what the Bybit and OKX connectors run.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Mapping
from typing import Protocol, TypeVar

import httpx
import msgspec
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from flushwatch.connectors.base import FeedEvent, FeedEventKind, RawFrame
from flushwatch.connectors.config import Backoff, ConnectorConfig
from flushwatch.errors import (
    ConnectorError,
    ExchangeUnavailable,
    PermanentError,
    RateLimited,
    TransientError,
)

ShouldRetry = Callable[[BaseException], bool | float]
Tap = Callable[[RawFrame], Iterable[FeedEvent]]
Inspect = Callable[[str, int], tuple[Iterable[FeedEvent], Iterable[str], bool]]
Tasks = tuple[asyncio.Task[None], ...]
Item = RawFrame | FeedEvent
_NS = 1_000_000_000
T = TypeVar("T")


class ConsumerStalled(TransientError):
    """The consumer did not take frames for ``stall_timeout``; the connection is given up."""


def backoff_delay(backoff: Backoff, attempt: int, rng: random.Random) -> float:
    """Return the jittered delay before retry number ``attempt`` (0-based)."""
    base = min(backoff.maximum, backoff.initial * backoff.factor**attempt)
    return base * rng.uniform(1 - backoff.jitter, 1 + backoff.jitter)


def retry_after(header: str | None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds (None when absent or a date)."""
    if not header:
        return None
    try:
        return max(float(header), 0.0)
    except ValueError:
        return None


def map_ws_error(exc: BaseException) -> BaseException:
    """Translate websockets/OS errors into flushwatch's ConnectorError tree (others pass)."""
    if isinstance(exc, ConnectorError):
        return exc
    if isinstance(exc, InvalidStatus):
        status = exc.response.status_code
        if status in (418, 429):
            after = retry_after(exc.response.headers.get("Retry-After"))
            return RateLimited(f"websocket handshake: HTTP {status}", retry_after=after)
        if status >= 500:
            return ExchangeUnavailable(f"websocket handshake: HTTP {status}")
        return PermanentError(f"websocket handshake refused: HTTP {status}")
    if isinstance(exc, ConnectionClosed | InvalidHandshake | OSError | TimeoutError):
        return ExchangeUnavailable(f"{type(exc).__name__}: {exc}")
    return exc


class Channel:
    """Bounded frame buffer between socket readers and one consumer; events never block."""

    def __init__(self, exchange: str, maxsize: int, stall_timeout: float) -> None:
        self.exchange = exchange
        self.maxsize = maxsize
        self.stall_timeout = stall_timeout
        self.frames = 0  # frames currently buffered (events are not counted)
        self.stalls = 0
        self._items: deque[Item] = deque()
        self._wake = asyncio.Event()
        self._space = asyncio.Event()
        self._closed = False

    def event(
        self, kind: FeedEventKind, stream: str, detail: str = "", **gap: int | None
    ) -> FeedEvent:
        """Queue a feed event now (events are rare and must never wait), and return it."""
        ev = FeedEvent(
            ts=time.time_ns(),
            kind=kind,
            exchange=self.exchange,
            stream=stream,
            detail=detail,
            gap_start=gap.get("gap_start"),
            gap_end=gap.get("gap_end"),
        )
        self.put_event(ev)
        return ev

    def put_event(self, ev: FeedEvent) -> None:
        """Queue an already built event."""
        self._items.append(ev)
        self._wake.set()

    async def put(self, frame: RawFrame, stream: str) -> None:
        """Queue a frame, waiting at most ``stall_timeout`` for room (then ConsumerStalled)."""
        if self.frames >= self.maxsize:
            self.stalls += 1
            self.event("backpressure", stream, f"{self.frames} frames waiting for the consumer")
            deadline = time.monotonic() + self.stall_timeout
            while self.frames >= self.maxsize:
                self._space.clear()
                try:
                    await asyncio.wait_for(self._space.wait(), deadline - time.monotonic())
                except TimeoutError:
                    raise ConsumerStalled(
                        f"consumer took no frame for {self.stall_timeout:g} s"
                    ) from None
        self._items.append(frame)
        self.frames += 1
        self._wake.set()

    async def get(self) -> Item | None:
        """Return the next frame or event; None once closed and drained."""
        while not self._items:
            if self._closed:
                return None
            self._wake.clear()
            await self._wake.wait()
        item = self._items.popleft()
        if isinstance(item, RawFrame):
            self.frames -= 1
            self._space.set()
        return item

    def close(self) -> None:
        """Let :meth:`get` return None once the buffer is drained."""
        self._closed = True
        self._wake.set()


class _Link:
    """One open connection and what the watchdog knows about it."""

    def __init__(self, ws: ClientConnection, number: int) -> None:
        self.ws = ws
        self.number = number
        self.opened = time.time_ns()
        self.last: int | None = None
        self.seen: dict[str, int] = {}
        self.stale: set[str] = set()


class WsSession:
    """One venue websocket kept alive: connect, subscribe, read, watch, reconnect."""

    def __init__(
        self,
        *,
        exchange: str,
        url: str,
        subscribe: Iterable[str] | Callable[[], Iterable[str]],
        intervals: Mapping[str, float],
        stream_of: Callable[[str], str | None],
        should_retry: ShouldRetry,
        channel: Channel,
        config: ConnectorConfig,
        tap: Tap | None = None,
        rng: random.Random | None = None,
        keepalive: str | None = None,
        keepalive_interval: float | None = None,
        keepalive_when_idle: bool = False,
        inspect: Inspect | None = None,
    ) -> None:
        self.exchange, self.url = exchange, url
        self._build: Callable[[], Iterable[str]] | None = None
        self.subscribe: tuple[str, ...]
        if callable(subscribe):
            self._build, self.subscribe = subscribe, ()
        else:
            self.subscribe = tuple(subscribe)
        self.keepalive, self.keepalive_interval = keepalive, keepalive_interval
        self.keepalive_when_idle, self.inspect = keepalive_when_idle, inspect
        self.intervals = dict(intervals)
        self.stream_of, self.should_retry = stream_of, should_retry
        self.channel, self.config, self.tap = channel, config, tap
        self.rng = rng or random.Random()
        self.received = 0  # frames read from the socket(s), before de-duplication
        self.deduplicated = 0  # frames dropped because the other connection had them
        self._opened = 0
        self._recent: dict[str, int] = {}  # frame text → link number, during an overlap
        self._dedup_until = 0
        self._stale_streak = 0

    # -- connecting ------------------------------------------------------------------------

    async def _open(self, gap_start: int | None = None) -> _Link:
        attempt = 0
        while True:
            try:
                ws = await connect(
                    self.url,
                    proxy=None,
                    compression=None,
                    max_size=None,
                    open_timeout=self.config.open_timeout,
                    ping_interval=self.config.ping_interval,
                    ping_timeout=self.config.ping_interval,
                    close_timeout=2,
                )
            except Exception as exc:
                delay = self._judge(map_ws_error(exc), attempt)
                attempt += 1
                await asyncio.sleep(delay)
                continue
            self._opened += 1
            link = _Link(ws, self._opened)
            requests = tuple(self._build()) if self._build is not None else self.subscribe
            for message in requests:
                await ws.send(message)
            self.channel.event(
                "connected",
                self.url,
                f"connection {link.number}, {len(requests)} requests",
                gap_start=gap_start,
                gap_end=link.opened if gap_start is not None else None,
            )
            return link

    def _judge(self, exc: BaseException, attempt: int) -> float:
        """Return the delay before the next attempt, or raise ``exc`` when it is final."""
        verdict = self.should_retry(exc)
        if verdict is False:
            self.channel.event("disconnected", self.url, f"giving up: {exc}")
            raise exc
        if isinstance(exc, RateLimited):
            self.channel.event("rate_limited", self.url, str(exc))
        if verdict is True:
            return backoff_delay(self.config.backoff, attempt, self.rng)
        return float(verdict)

    # -- reading ---------------------------------------------------------------------------

    def _duplicate(self, text: str, link: _Link, now: int) -> bool:
        if now > self._dedup_until:
            self._recent.clear()
            return False
        owner = self._recent.get(text)
        if owner is not None and owner != link.number:
            del self._recent[text]
            self.deduplicated += 1
            return True
        self._recent[text] = link.number
        return False

    async def _read(self, link: _Link) -> None:
        async for message in link.ws:
            now = time.time_ns()
            text = message if isinstance(message, str) else message.decode()
            self.received += 1
            link.last = now
            stream = self.stream_of(text) or ""
            if stream:
                link.seen[stream] = now
            if self._dedup_until and self._duplicate(text, link, now):
                continue
            frame = RawFrame(ts_recv=now, url=self.url, data=text)
            await self.channel.put(frame, stream)
            if self.tap is not None:
                for ev in self.tap(frame):
                    self.channel.put_event(ev)
            if self.inspect is not None:
                await self._inspect(link, text, now)

    async def _inspect(self, link: _Link, text: str, now: int) -> None:
        assert self.inspect is not None
        try:
            events, sends, is_data = self.inspect(text, now)
        except ValueError as exc:  # msgspec.DecodeError/ValidationError are ValueErrors
            events, sends, is_data = [self._unreadable(exc, now)], (), True
        for ev in events:
            self.channel.put_event(ev)
        for request in sends:
            await link.ws.send(request)
        if is_data:
            link.seen[self.url] = now

    def _unreadable(self, exc: ValueError, now: int) -> FeedEvent:
        detail = f"unreadable frame: {exc}"
        return FeedEvent(ts=now, kind="gap", exchange=self.exchange, stream=self.url, detail=detail)

    async def _keep_alive(self, link: _Link) -> None:
        if self.keepalive is None or not self.keepalive_interval:
            return
        interval_ns = int(self.keepalive_interval * _NS)
        last_ping = time.time_ns()
        while True:
            base = (
                max(link.last or link.opened, last_ping) if self.keepalive_when_idle else last_ping
            )
            wait = (base + interval_ns - time.time_ns()) / _NS
            if wait > 0:
                await asyncio.sleep(wait)
                continue
            await link.ws.send(self.keepalive)
            last_ping = time.time_ns()

    async def _watch(self, link: _Link) -> None:
        if not self.intervals:
            return
        period = min(self.intervals.values()) / 4
        while not link.stale:
            await asyncio.sleep(period)
            now = time.time_ns()
            for stream, interval in self.intervals.items():
                silent = now - link.seen.get(stream, link.opened)
                if silent > interval * _NS:
                    link.stale.add(stream)
                    self.channel.event(
                        "stale",
                        stream,
                        f"silent {silent / _NS:.1f} s, expected a frame every {interval:g} s",
                        gap_start=link.seen.get(stream, link.opened),
                        gap_end=now,
                    )
        await link.ws.close(1000, "stale stream")

    # -- the loop --------------------------------------------------------------------------

    async def run(self) -> None:
        """Keep the session up until cancelled (raises only on a permanent error)."""
        link = await self._open()
        tasks = self._start(link)
        try:
            while True:
                left = self.config.lifetime - (time.time_ns() - link.opened) / _NS
                done, _ = await asyncio.wait({tasks[0]}, timeout=max(left, 0.0))
                if done:
                    link, tasks = await self._reconnect(link, tasks)
                else:
                    link, tasks = await self._rollover(link, tasks)
        finally:
            await _stop(tasks)
            await link.ws.close()

    def _start(self, link: _Link) -> Tasks:
        return (
            asyncio.create_task(self._read(link)),
            asyncio.create_task(self._watch(link)),
            asyncio.create_task(self._keep_alive(link)),
        )

    async def _reconnect(self, link: _Link, tasks: Tasks) -> tuple[_Link, Tasks]:
        reader = tasks[0]
        exc = None if reader.cancelled() else reader.exception()
        await _stop(tasks)
        if isinstance(exc, TransientError):  # ConsumerStalled, or a venue error frame
            await link.ws.close(
                1000, "consumer too slow" if isinstance(exc, ConsumerStalled) else "error"
            )
        elif exc is not None and not isinstance(exc, ConnectionClosed):
            raise exc
        reason = str(exc) if exc else (link.ws.close_reason or "closed by the venue")
        gap_start = link.last or link.opened
        self.channel.event("disconnected", self.url, reason, gap_start=gap_start)
        if link.stale:
            self._stale_streak += 1
            delay = backoff_delay(self.config.backoff, self._stale_streak, self.rng)
        else:
            self._stale_streak = 0
            delay = backoff_delay(self.config.backoff, 0, self.rng)
        await asyncio.sleep(delay)
        new = await self._open(gap_start=gap_start)
        return new, self._start(new)

    async def _rollover(self, link: _Link, tasks: Tasks) -> tuple[_Link, Tasks]:
        """Planned reconnect: open the successor, run both for ``overlap``, close the old."""
        overlap_ns = int(self.config.overlap * _NS)
        self._dedup_until = time.time_ns() + 3 * overlap_ns
        new = await self._open()
        new_tasks = self._start(new)
        await asyncio.sleep(self.config.overlap)
        await link.ws.close(1000, "planned reconnect")
        await asyncio.wait({tasks[0]}, timeout=self.config.overlap)
        await _stop(tasks)
        self._dedup_until = time.time_ns() + overlap_ns
        return new, new_tasks


async def _stop(tasks: Iterable[asyncio.Task[None]]) -> None:
    for task in tasks:
        task.cancel()
    for task in tasks:
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await task


async def retrying(
    call: Callable[[], Awaitable[T]],
    *,
    on: ShouldRetry,
    backoff: Backoff,
    rng: random.Random,
    channel: Channel | None = None,
    what: str = "",
) -> T:
    """Run ``call`` until it succeeds, ``on(exc)`` says give up, or ``backoff.timeout`` passes.

    ``on`` returning a float (a venue's ``Retry-After``) waits exactly that long; ``True``
    waits the jittered backoff. Rate limits are reported as ``rate_limited`` events.
    """
    deadline = time.monotonic() + backoff.timeout
    attempt = 0
    while True:
        try:
            return await call()
        except ConnectorError as exc:
            verdict = on(exc)
            if verdict is False:
                raise
            delay = backoff_delay(backoff, attempt, rng) if verdict is True else float(verdict)
            if time.monotonic() + delay > deadline:
                raise
            if channel is not None and isinstance(exc, RateLimited):
                channel.event("rate_limited", what, f"{exc}; waiting {delay:g} s")
            attempt += 1
            await asyncio.sleep(delay)


def venue_should_retry(exc: BaseException) -> bool | float:
    """Default retry verdict: wait ``Retry-After`` on a rate limit, back off on transients."""
    if isinstance(exc, RateLimited):
        return exc.retry_after if exc.retry_after is not None else True
    return isinstance(exc, TransientError)


class SessionConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Timing of one :class:`VenueStream` (seconds)."""

    ping_interval: float = 25.0
    #: True: ping after ``ping_interval`` without any message (OKX); False: every interval.
    ping_when_idle: bool = True
    stale_after: float = 60.0
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    open_timeout: float = 10.0
    queue_size: int = 10_000

    def connector_config(self) -> ConnectorConfig:
        """Return the equivalent :class:`ConnectorConfig` (no planned reconnect, no WS ping)."""
        return ConnectorConfig(
            backoff=Backoff(initial=self.backoff_initial, maximum=self.backoff_max),
            queue_size=self.queue_size,
            lifetime=float(2**40),
            ping_interval=None,
            open_timeout=self.open_timeout,
        )


class Wire(Protocol):
    """A venue's application protocol as a :class:`VenueStream` drives it."""

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


class VenueStream:
    """One :class:`WsSession` driven by a :class:`Wire`, after its REST documents (if any)."""

    def __init__(
        self,
        wire: Wire,
        url: str,
        config: SessionConfig,
        *,
        rest_urls: Iterable[str] = (),
        should_retry: ShouldRetry = venue_should_retry,
        rng: random.Random | None = None,
    ) -> None:
        self.wire, self.url, self.config = wire, url, config
        self.rest_urls = tuple(rest_urls)
        self.should_retry = should_retry
        self.rng = rng or random.Random()
        cfg = config.connector_config()
        self.channel = Channel(wire.exchange, cfg.queue_size, cfg.stall_timeout)
        self.session = WsSession(
            exchange=wire.exchange,
            url=url,
            subscribe=self._subscribe,
            intervals={url: config.stale_after},
            stream_of=lambda _text: None,
            should_retry=should_retry,
            channel=self.channel,
            config=cfg,
            rng=self.rng,
            keepalive=wire.keepalive(),
            keepalive_interval=config.ping_interval,
            keepalive_when_idle=config.ping_when_idle,
            inspect=wire.inspect,
        )
        self._task: asyncio.Task[None] | None = None
        self._failure: BaseException | None = None

    def _subscribe(self) -> list[str]:
        self.wire.reset()
        return self.wire.subscribe_messages()

    async def start(self) -> None:
        """Start fetching, connecting and subscribing in the background."""
        self._task = asyncio.create_task(self._run())
        self._task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and task.exception() is not None:
            self._failure = task.exception()
        self.channel.close()

    async def stop(self) -> None:
        """Stop reconnecting and close the connection."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task
        self.channel.close()

    async def frames(self) -> AsyncIterator[RawFrame | FeedEvent]:
        """Yield frames and events; raise the error that stopped the session."""
        while (item := await self.channel.get()) is not None:
            yield item
        if self._failure is not None:
            raise self._failure

    async def _run(self) -> None:
        if self.rest_urls:
            timeout = self.config.open_timeout
            async with httpx.AsyncClient(trust_env=False, timeout=timeout) as client:
                for url in self.rest_urls:
                    body = await retrying(
                        functools.partial(_get, client, url),
                        on=self.should_retry,
                        backoff=self.session.config.backoff,
                        rng=self.rng,
                        channel=self.channel,
                        what=url,
                    )
                    frame = RawFrame(ts_recv=time.time_ns(), url=url, data=body, http=True)
                    await self.channel.put(frame, url)
        await self.session.run()


async def _get(client: httpx.AsyncClient, url: str) -> str:
    """GET ``url``, mapping failures onto the ConnectorError tree."""
    try:
        response = await client.get(url)
    except httpx.TransportError as exc:
        raise ExchangeUnavailable(f"GET {url}: {type(exc).__name__}: {exc}") from exc
    status = response.status_code
    if status in (418, 429):
        after = retry_after(response.headers.get("Retry-After"))
        raise RateLimited(f"GET {url}: HTTP {status}", retry_after=after)
    if status >= 500:
        raise ExchangeUnavailable(f"GET {url}: HTTP {status}")
    if status >= 400:
        raise PermanentError(f"GET {url}: HTTP {status} {response.text[:200]}")
    return response.text
