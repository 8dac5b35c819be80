"""A generic reconnecting websocket session feeding the bounded channel towards the consumer.

Venue-neutral: a venue supplies the URL, the subscribe messages, how to tell a frame's stream
(``stream_of``), the expected interval per stream and a pure ``should_retry(exc) -> bool |
float`` (STYLE item 7: ``True`` retry with backoff, a float retry after that many seconds,
``False`` give up). The session

* stamps every frame with ``ts_recv = time.time_ns()`` and yields it unmodified;
* reconnects with exponential backoff and jitter, reporting ``disconnected`` / ``connected``
  with the span of the gap, and ``unreachable`` when a connection attempt fails (on attempts
  1, 2, 4, 8, ...), so an endpoint nobody listens on is said, never waited on in silence;
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

The bounded :class:`~.channel.Channel` lives in :mod:`.channel`, the retry helpers in
:mod:`.retry` and :class:`~.venue_stream.VenueStream` (what the Bybit and OKX connectors run)
in :mod:`.venue_stream`.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Iterable, Mapping

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.connectors.channel import Channel, ConsumerStalled
from flushwatch.connectors.config import ConnectorConfig
from flushwatch.connectors.retry import ShouldRetry, backoff_delay, map_ws_error
from flushwatch.errors import RateLimited, TransientError

Tap = Callable[[RawFrame], Iterable[FeedEvent]]
Inspect = Callable[[str, int], tuple[Iterable[FeedEvent], Iterable[str], bool]]
Tasks = tuple[asyncio.Task[None], ...]
_NS = 1_000_000_000


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
                mapped = map_ws_error(exc)
                if attempt & (attempt + 1) == 0:  # attempts 1, 2, 4, 8, ...: said, not spammed
                    self.channel.event(
                        "unreachable",
                        self.url,
                        f"cannot connect (attempt {attempt + 1}): {mapped}",
                        gap_start=gap_start,
                    )
                delay = self._judge(mapped, attempt)
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
