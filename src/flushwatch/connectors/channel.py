"""The bounded buffer between a venue's socket readers and the one consumer of its frames.

Split out of :mod:`flushwatch.connectors.session` so the backpressure policy can be read on its
own: frames wait at most ``stall_timeout`` for room (then :class:`ConsumerStalled`, and the
session gives that connection up as a reported gap), while feed events never block.
"""

from __future__ import annotations

import asyncio
import time
from collections import deque

from flushwatch.connectors.base import FeedEvent, FeedEventKind, RawFrame
from flushwatch.errors import TransientError

Item = RawFrame | FeedEvent


class ConsumerStalled(TransientError):
    """The consumer did not take frames for ``stall_timeout``; the connection is given up."""


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
