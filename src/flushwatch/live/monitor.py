"""Routing of a connector's frames and events to per-symbol live states (split from state.py).

This module does not know :class:`~flushwatch.live.state.LiveState`: it routes to any state
that has the :class:`MonitoredState` shape, so the dependency runs one way (``state`` builds
its :class:`~flushwatch.live.state.LiveMonitor` on :class:`Monitor`, never the reverse).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Generic, Protocol, Self, TypeVar

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.records import Record
from flushwatch.live.bookview import BookSource
from flushwatch.live.feed import FeedLiveness, FrameDecoder, StaleStream
from flushwatch.live.levels_live import REFERENCE_ASSETS
from flushwatch.live.snapshot import LiveSnapshot


class MonitoredState(Protocol):
    """What a monitor needs of a per-symbol state (:class:`~flushwatch.live.state.LiveState`)."""

    #: Reference markets by asset (set by the monitor: the first watched BTC and ETH).
    references: dict[str, Self]
    #: True: bar closes only mark the kernels due; the monitor runs them (``run_pending``).
    deferred: bool
    #: The connector's book of this symbol (None: no book kept).
    book: BookSource | None

    @property
    def symbol(self) -> str: ...

    @property
    def asset(self) -> str: ...

    @property
    def now(self) -> int: ...

    def on_records(self, records: Iterable[Record]) -> None: ...

    def align(self, now: int) -> None: ...

    def run_pending(self) -> None: ...

    def snapshot(
        self, stale: list[StaleStream] | None = None, decode_errors: int = 0
    ) -> LiveSnapshot: ...


S = TypeVar("S", bound=MonitoredState)


class Monitor(Generic[S]):
    """Routes a connector's frames and events to per-symbol states and the liveness tracker.

    The first watched market of each reference asset (BTC, ETH) becomes every state's
    reference, so all checklists read the same BTC and ETH levels; an unwatched reference is
    absent (its checklist items say "not available"). Bars close on one event clock: after
    each batch of records every state is aligned to the latest event time, then the kernels
    that are due run. ``books`` gives a state the connector's kept book of its symbol (depth
    and spread); a symbol without one has no depth ("not available").
    """

    def __init__(
        self,
        states: Iterable[S],
        decoder: FrameDecoder | None = None,
        liveness: FeedLiveness | None = None,
        books: Mapping[str, BookSource] | None = None,
    ) -> None:
        self.states = {s.symbol: s for s in states}
        self.decoder = decoder or FrameDecoder()
        self.liveness = liveness or FeedLiveness()
        self.feed_events: deque[FeedEvent] = deque(maxlen=20)
        refs: dict[str, S] = {}
        for s in self.states.values():
            if s.asset in REFERENCE_ASSETS:
                refs.setdefault(s.asset, s)
        for s in self.states.values():
            s.references = dict(refs)
            s.deferred = True
        self.attach_books(books or {})

    def attach_books(self, books: Mapping[str, BookSource]) -> None:
        """Give each watched symbol in ``books`` its connector's book (others are unchanged)."""
        for symbol, source in books.items():
            if symbol in self.states:
                self.states[symbol].book = source

    def on_records(self, records: Sequence[Record]) -> None:
        """Apply decoded records to every state, align their bars, run the due kernels."""
        for state in self.states.values():
            state.on_records(records)
        if records:
            now = max(s.now for s in self.states.values())
            for state in self.states.values():
                state.align(now)
        self.run_pending()

    def run_pending(self) -> None:
        """Run every state's due kernels (after all rings are closed to the same bar)."""
        for state in self.states.values():
            state.run_pending()

    def on_item(self, item: RawFrame | FeedEvent) -> None:
        """Apply one item from :meth:`Connector.frames`."""
        if isinstance(item, FeedEvent):
            self.feed_events.append(item)
            self.liveness.on_event(item)
            return
        self.liveness.on_frame(item.url, item.ts_recv)
        self.on_records(self.decoder.decode(item))

    def snapshots(self, now: int) -> list[LiveSnapshot]:
        """Snapshots of every market, with the stale episodes open at ``now`` (ns, local)."""
        stale = self.liveness.check(now)
        return [s.snapshot(stale, self.decoder.errors) for s in self.states.values()]


__all__ = ["Monitor", "MonitoredState"]
