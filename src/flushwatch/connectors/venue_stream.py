"""A venue's application protocol (:class:`Wire`) driven by one reconnecting session.

Split out of :mod:`flushwatch.connectors.session` because it is the layer the Bybit and OKX
connectors share on top of the generic :class:`~.session.WsSession`: :class:`VenueStream`
fetches a venue's reference REST documents once (through ccxt, :mod:`.rest_ccxt`; each body
recorded verbatim), then runs the session with the wire's subscribe requests, keep-alive and
``inspect``; :class:`SessionConfig` is its timing.
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
from urllib.parse import parse_qsl, urlsplit

import msgspec

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.connectors.channel import Channel
from flushwatch.connectors.config import Backoff, ConnectorConfig
from flushwatch.connectors.rest_ccxt import CcxtRest
from flushwatch.connectors.retry import ShouldRetry, retrying, venue_should_retry
from flushwatch.connectors.session import WsSession


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
        clients: dict[str, CcxtRest] = {}
        try:
            for url in self.rest_urls:
                parts = urlsplit(url)
                base = f"{parts.scheme}://{parts.netloc}"
                if base not in clients:
                    timeout = self.config.open_timeout
                    clients[base] = CcxtRest(self.wire.exchange, base, timeout=timeout)
                rest, params = clients[base], dict(parse_qsl(parts.query))
                got, body = await retrying(
                    functools.partial(rest.get, parts.path, params),
                    on=self.should_retry,
                    backoff=self.session.config.backoff,
                    rng=self.rng,
                    channel=self.channel,
                    what=url,
                )
                frame = RawFrame(ts_recv=time.time_ns(), url=got, data=body, http=True)
                await self.channel.put(frame, got)
        finally:
            for rest in clients.values():
                await rest.aclose()
        await self.session.run()


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
