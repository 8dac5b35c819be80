"""Venue-neutral retry helpers: backoff with jitter, ``Retry-After``, error mapping, ``retrying``.

Split out of :mod:`flushwatch.connectors.session` because these are shared by the websocket
session, the REST fetches of every connector and :class:`~.venue_stream.VenueStream`; none of
them knows about a particular venue. A ``should_retry(exc) -> bool | float`` verdict is
STYLE item 7: ``True`` retry with backoff, a float retry after that many seconds, ``False``
give up.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from flushwatch.connectors.channel import Channel
from flushwatch.connectors.config import Backoff
from flushwatch.errors import (
    ConnectorError,
    ExchangeUnavailable,
    PermanentError,
    RateLimited,
    TransientError,
)

ShouldRetry = Callable[[BaseException], bool | float]
T = TypeVar("T")


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
