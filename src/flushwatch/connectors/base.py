"""The connector contract every live venue client follows.

A connector is an async context manager whose :meth:`Connector.frames` is an async iterator
of :class:`RawFrame` (exactly the text received, with its local receive time and the URL of
the stream it came on — the same triple the ``ws-lines`` recording format stores) and
:class:`FeedEvent` (connected, disconnected, unreachable, gap, stale, resync, rate limited).
Frames are decoded by the venue decoders in :mod:`flushwatch.venues`
(``decoder_for(exchange, url)``), so the live path and the importers share one normalization.

Capabilities say what a connector can stream; asking for anything else raises
:class:`flushwatch.errors.NotSupported`, never returns nothing.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from enum import StrEnum
from types import TracebackType
from typing import Literal, Protocol

import msgspec


class Capability(StrEnum):
    """What a connector can stream."""

    TRADES = "trades"
    LIQUIDATIONS = "liquidations"
    BOOK = "book"
    QUOTES = "quotes"
    MARK_PRICE = "mark_price"
    FUNDING = "funding"
    OPEN_INTEREST = "open_interest"
    KLINES = "klines"


class RawFrame(msgspec.Struct, frozen=True, kw_only=True):
    """One message exactly as received: the unit of recording and replay."""

    ts_recv: int  # local receive time, ns UTC
    url: str  # the stream (websocket URL) or REST endpoint it came from
    data: str  # the frame text, unmodified
    http: bool = False  # True for REST bodies (depth snapshots, OI polls)


FeedEventKind = Literal[
    "connected",
    "disconnected",
    "unreachable",
    "gap",
    "stale",
    "resync",
    "rate_limited",
    "backpressure",
]


class FeedEvent(msgspec.Struct, frozen=True, kw_only=True):
    """Something about the feed itself, reported rather than papered over."""

    ts: int  # ns UTC
    kind: FeedEventKind
    exchange: str
    stream: str
    detail: str = ""
    #: For gaps: the time span (ns) of data known to be missing, when it can be told.
    gap_start: int | None = None
    gap_end: int | None = None


class Connector(Protocol):
    """A live venue client (see the module docstring)."""

    exchange: str
    capabilities: frozenset[Capability]

    async def __aenter__(self) -> Connector:
        """Open connections and subscribe."""
        ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close every connection."""
        ...

    def frames(self) -> AsyncIterator[RawFrame | FeedEvent]:
        """Frames and feed events in receive order, until closed."""
        ...
