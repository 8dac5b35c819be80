"""An order book kept with Binance's sequence rules; a break is a gap and a resync, never hidden.

The procedure (Binance "How to manage a local order book correctly", spot and futures):

1. buffer the diff stream; fetch a REST snapshot (``lastUpdateId`` = L);
2. drop buffered diffs with ``u < L`` (spot: ``u <= L``);
3. the first diff applied must straddle the snapshot: futures ``U <= L <= u``, spot
   ``U <= L + 1 <= u``; if the oldest remaining diff is newer than that, the snapshot is too
   old: fetch another;
4. afterwards each diff must continue the chain: futures ``pu == previous u``, spot
   ``U == previous u + 1``. Diffs already covered (``u <= previous u``: duplicates, overlap
   of a reconnect) are dropped. A diff that skips ahead is held for a few frames in case its
   predecessor is only late (reordered); if the predecessor does not come, the chain is
   broken: a gap is counted and the book goes back to step 1.

Prices and quantities are floats parsed from the venue's strings. The book keeps the venue's
units (COIN-M: contracts); :meth:`OrderBook.top_base` converts them exactly as the decoder
converts rows (``contracts × contract_size / price``), so the live book and the offline
:func:`flushwatch.analytics.depth.rebuild_book` over decoded rows compare float for float.
"""

from __future__ import annotations

from typing import Literal

from flushwatch.venues.binance.wire import DepthSnapshot, DepthUpdate

State = Literal["syncing", "bridging", "live"]
Verdict = Literal["buffered", "applied", "old", "held", "gap", "too_old"]
_NS_PER_MS = 1_000_000


class OrderBook:
    """One symbol's book, maintained from diffs and REST snapshots with the venue's rules."""

    def __init__(
        self,
        symbol: str,
        *,
        futures: bool,
        window: int = 32,
        inverse_size: float | None = None,
    ) -> None:
        self.symbol = symbol
        self.futures = futures
        #: USD per contract on COIN-M (quantities are contracts), None when they are base units.
        self.inverse_size = inverse_size
        self.window = window
        self.state: State = "syncing"
        self.bids: dict[float, float] = {}
        self.asks: dict[float, float] = {}
        self.snapshot_id = -1
        self.last_u = -1
        self.last_ts = 0  # event time (ns) of the last diff applied
        self.gaps = 0
        self.resyncs = 0
        self.applied = 0
        self.old = 0
        #: (last event time applied, event time of the diff that showed the break), ns.
        self.gap_span: tuple[int, int] | None = None
        self._buffer: list[DepthUpdate] = []
        self._held: dict[int, DepthUpdate] = {}

    # -- rules -----------------------------------------------------------------------------

    def _prev(self, ev: DepthUpdate) -> int:
        if self.futures and ev.pu is not None:
            return ev.pu
        return ev.U - 1

    def _covered(self, ev: DepthUpdate) -> bool:
        """Is the diff older than the snapshot (dropped in step 2)?"""
        return ev.u < self.snapshot_id if self.futures else ev.u <= self.snapshot_id

    def _straddles(self, ev: DepthUpdate) -> bool:
        first = self.snapshot_id if self.futures else self.snapshot_id + 1
        return ev.U <= first <= ev.u

    # -- input -----------------------------------------------------------------------------

    def on_diff(self, ev: DepthUpdate) -> Verdict:
        """Take one diff; the verdict tells the connector what happened (gap, too_old)."""
        if self.state == "syncing":
            self._buffer.append(ev)
            return "buffered"
        if self.state == "bridging":
            if self._covered(ev):
                self.old += 1
                return "old"
            if not self._straddles(ev):
                self._restart([ev])
                return "too_old"
            self._apply(ev)
            self.state = "live"
            return "applied"
        if ev.u <= self.last_u:
            self.old += 1
            return "old"
        if self._prev(ev) == self.last_u:
            self._apply(ev)
            self._drain()
            return "applied"
        self._held[self._prev(ev)] = ev
        if len(self._held) <= self.window:
            return "held"
        self.gaps += 1
        first = min(self._held.values(), key=lambda e: e.u)
        self.gap_span = (self.last_ts, _event_ns(first))
        self._restart(sorted(self._held.values(), key=lambda e: e.u))
        return "gap"

    def on_snapshot(self, snap: DepthSnapshot) -> Verdict:
        """Load a REST snapshot and replay the buffered diffs on top of it."""
        self.bids = {p: q for p, q in snap.bids if q > 0}
        self.asks = {p: q for p, q in snap.asks if q > 0}
        self.snapshot_id = self.last_u = snap.lastUpdateId
        self.state = "bridging"
        buffered, self._buffer = self._buffer, []
        verdict: Verdict = "buffered"
        for ev in sorted(buffered, key=lambda e: e.u):
            if self._syncing():  # too old: keep the rest for the next snapshot
                self._buffer.append(ev)
                continue
            verdict = self.on_diff(ev)
        return "too_old" if self._syncing() else verdict

    def _syncing(self) -> bool:
        return self.state == "syncing"

    def _restart(self, keep: list[DepthUpdate]) -> None:
        self.state = "syncing"
        self.resyncs += 1
        self._held.clear()
        self._buffer = keep

    def _apply(self, ev: DepthUpdate) -> None:
        for side, levels in ((self.bids, ev.b), (self.asks, ev.a)):
            for price, qty in levels:
                if qty > 0:
                    side[price] = qty
                else:
                    side.pop(price, None)
        self.last_u = ev.u
        self.last_ts = _event_ns(ev)
        self.applied += 1

    def _drain(self) -> None:
        while self._held:
            nxt = self._held.pop(self.last_u, None)
            if nxt is None:
                # drop held diffs the chain has already passed
                for key in [k for k, e in self._held.items() if e.u <= self.last_u]:
                    del self._held[key]
                return
            self._apply(nxt)

    # -- output ----------------------------------------------------------------------------

    def top(self, n: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Return the best ``n`` bid and ask levels as ``(price, qty)``, best first."""
        bids = sorted(self.bids.items(), key=lambda kv: -kv[0])[:n]
        asks = sorted(self.asks.items())[:n]
        return bids, asks

    def top_base(self, n: int) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
        """Return :meth:`top` with quantities in base units, converted as the decoder does."""
        bids, asks = self.top(n)
        size = self.inverse_size
        if size is None:
            return bids, asks
        return [(p, q * size / p) for p, q in bids], [(p, q * size / p) for p, q in asks]

    @property
    def chain_rule(self) -> str:
        """The continuity rule this book checks (for gap reports)."""
        return "pu == previous u" if self.futures else "U == previous u + 1"


def _event_ns(ev: DepthUpdate) -> int:
    return (ev.T or ev.E) * _NS_PER_MS
