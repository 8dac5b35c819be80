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
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from typing import TypeVar

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
        subscribe: Iterable[str],
        intervals: Mapping[str, float],
        stream_of: Callable[[str], str | None],
        should_retry: ShouldRetry,
        channel: Channel,
        config: ConnectorConfig,
        tap: Tap | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.exchange, self.url = exchange, url
        self.subscribe = tuple(subscribe)
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
            for message in self.subscribe:
                await ws.send(message)
            self.channel.event(
                "connected",
                self.url,
                f"connection {link.number}, {len(self.subscribe)} requests",
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

    def _start(self, link: _Link) -> tuple[asyncio.Task[None], asyncio.Task[None]]:
        return asyncio.create_task(self._read(link)), asyncio.create_task(self._watch(link))

    async def _reconnect(
        self, link: _Link, tasks: tuple[asyncio.Task[None], asyncio.Task[None]]
    ) -> tuple[_Link, tuple[asyncio.Task[None], asyncio.Task[None]]]:
        reader = tasks[0]
        exc = None if reader.cancelled() else reader.exception()
        await _stop(tasks)
        if isinstance(exc, ConsumerStalled):
            await link.ws.close(1000, "consumer too slow")
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

    async def _rollover(
        self, link: _Link, tasks: tuple[asyncio.Task[None], asyncio.Task[None]]
    ) -> tuple[_Link, tuple[asyncio.Task[None], asyncio.Task[None]]]:
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
