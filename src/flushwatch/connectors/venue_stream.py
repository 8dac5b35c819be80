"""A venue's application protocol (:class:`Wire`) driven by one reconnecting session.

Split out of :mod:`flushwatch.connectors.session` because it is the layer the Bybit and OKX
connectors share on top of the generic :class:`~.session.WsSession`: :class:`VenueStream`
fetches a venue's reference REST documents once, then runs the session with the wire's
subscribe requests, keep-alive and ``inspect``; :class:`SessionConfig` is its timing.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import random
import time
from collections.abc import AsyncIterator, Iterable
from types import TracebackType
from typing import Protocol, Self

import httpx
import msgspec

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.connectors.channel import Channel
from flushwatch.connectors.config import Backoff, ConnectorConfig
from flushwatch.connectors.retry import ShouldRetry, retry_after, retrying, venue_should_retry
from flushwatch.connectors.session import WsSession
from flushwatch.errors import ExchangeUnavailable, PermanentError, RateLimited


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


class StreamConnector:
    """The connector contract for a venue served by one :class:`VenueStream`.

    Subclasses build ``self._session`` in ``__init__``; entering starts it, leaving stops it.
    """

    _session: VenueStream

    async def __aenter__(self) -> Self:
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
