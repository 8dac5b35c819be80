"""Order-book depth and spread for the live checklist, read from a connector's kept book.

The connectors keep their books with each venue's sequence rules (Binance ``pu`` chain, Bybit
``u``, OKX ``seqId`` and checksum): a break is a resync, never papered over. The live state
must not rebuild a book from ``BookDelta`` records (they carry no such check), so it reads the
connector's book through a :class:`BookView`, once per bar close and once per view refresh,
never per message. A view is one *sample*: its levels are copied once when it is made, and
only the levels inside the 1 % band are sorted.

Depth follows the offline ``depth_1pct`` exactly: the assembler reads the ``pct == -1`` depth
band (Binance bookDepth: cumulative quote notional between mid and 1 % away, a level on the
edge included, binance-public-data#447), and :func:`~flushwatch.analytics.depth.curve_from_book`
measures the same on a rebuilt book: ``Σ price × base qty`` of one side's levels whose distance
from mid, ``(mid − price) / mid`` rounded to 12 digits, is at most ``pct / 100``, summed best
first. Mid is ``(best bid + best ask) / 2`` and the spread ``(ask − bid) / mid`` in bps.
Quantities are converted to base units as the decoders convert rows (COIN-M contracts:
``contracts × size / price``), so the live and offline books compare float for float.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Literal, Protocol

import msgspec
import numpy as np

from flushwatch.analytics.market import F64

if TYPE_CHECKING:
    from flushwatch.connectors.book import OrderBook

Side = Literal["bid", "ask"]
Level = tuple[float, float]
#: ``curve_from_book`` rounds offsets to 12 digits: a level exactly on the edge counts.
_OFFSET_DIGITS = 12
_EMPTY = np.empty(0, dtype=np.float64)


class BookView(Protocol):
    """One read-only sample of a kept order book."""

    #: False while the book resyncs (no snapshot yet, or a gap was found): read nothing.
    in_sync: bool
    #: Event time (ns) of the last update applied, when the venue's book records it.
    ts: int | None

    def mid(self) -> float | None:
        """Mid price, None when a side is empty or the book is not in sync."""
        ...

    def depth_within(self, pct: float, side: Side) -> float | None:
        """Quote notional of ``side`` within ``pct`` % of mid (None: not available)."""
        ...

    def spread_bps(self) -> float | None:
        """Best ask minus best bid over mid, in bps (None: not available)."""
        ...


#: What a live state is given per symbol: the current view of the connector's book.
BookSource = Callable[[], BookView | None]


class BookSample(msgspec.Struct, frozen=True, kw_only=True):
    """Depth within 1 % on each side and the spread of one in-sync view."""

    depth_bid: float
    depth_ask: float
    spread_bps: float
    ts: int | None  # the view's event time, if known


def side_arrays(
    levels: Mapping[float, float], *, contract: float = 1.0, inverse: bool = False
) -> tuple[F64, F64]:
    """Return one side's prices and base quantities (a copy, in the map's order: unsorted).

    ``contract`` is the size of one quantity unit: base units on linear contracts, quote units
    when ``inverse`` (base = qty × contract / price, as the decoders convert COIN-M rows).

    Examples
    --------
    >>> px, q = side_arrays({99.0: 2.0, 99.5: 1.0})
    >>> px.tolist(), q.tolist()
    ([99.0, 99.5], [2.0, 1.0])
    >>> side_arrays({100.0: 3.0}, contract=100.0, inverse=True)[1].tolist()
    [3.0]
    """
    px = np.fromiter(levels.keys(), np.float64, len(levels))
    qty = np.fromiter(levels.values(), np.float64, len(levels))
    if inverse:
        return px, qty * contract / px
    return px, (qty * contract if contract != 1.0 else qty)


def book_mid(best_bid: float | None, best_ask: float | None) -> float | None:
    """Return the mid, or None for an empty side or a crossed book (no market to measure).

    Examples
    --------
    >>> book_mid(99.0, 101.0), book_mid(None, 101.0), book_mid(101.0, 99.0)
    (100.0, None, None)
    """
    if best_bid is None or best_ask is None or not best_bid < best_ask:
        return None
    return 0.5 * (best_bid + best_ask)


def depth_within(price: F64, qty: F64, mid: float, pct: float, side: Side) -> float:
    """Return the quote notional of one side's levels within ``pct`` % of ``mid``.

    The levels may come in any order; only those inside the band are sorted (best first) and
    summed in that order, as ``curve_from_book``'s cumsum sums them: O(levels) per call.

    Examples
    --------
    >>> import numpy as np
    >>> px, q = np.array([99.0, 98.0, 99.5]), np.array([1.0, 5.0, 2.0])
    >>> depth_within(px, q, 100.0, 1.0, "bid")  # 99.5 × 2 + 99 × 1; 98 is 2 % away
    298.0
    """
    off = (mid - price) / mid if side == "bid" else (price - mid) / mid
    inside = np.flatnonzero((off >= 0) & (np.round(off, _OFFSET_DIGITS) <= pct / 100.0))
    if not inside.size:
        return 0.0
    order = inside[np.argsort(-price[inside] if side == "bid" else price[inside], kind="stable")]
    # A sequential sum best first (np.sum would pair terms, and differ in the last bits).
    return float(np.cumsum(price[order] * qty[order])[-1])


def spread_bps(best_bid: float, best_ask: float) -> float | None:
    """Return ``(ask − bid) / mid`` in bps, None for a crossed or empty book.

    Examples
    --------
    >>> spread_bps(99.0, 101.0)
    200.0
    """
    mid = book_mid(best_bid, best_ask)
    return None if mid is None else (best_ask - best_bid) / mid * 1e4


class LevelsView:
    """A :class:`BookView` over price → quantity maps, copied once when made (one sample).

    The copy is O(levels); the best prices are a max/min over it, and each depth question
    sorts only the levels inside its band, so a sample never sorts the whole book.
    """

    __slots__ = ("_ask", "_bid", "in_sync", "ts")

    def __init__(
        self,
        bids: Mapping[float, float],
        asks: Mapping[float, float],
        *,
        in_sync: bool,
        ts: int | None = None,
        contract: float = 1.0,
        inverse: bool = False,
    ) -> None:
        self.in_sync = in_sync
        self.ts = ts
        self._bid = self._ask = (_EMPTY, _EMPTY)
        if in_sync:  # a resyncing book is never read, not even copied
            self._bid = side_arrays(bids, contract=contract, inverse=inverse)
            self._ask = side_arrays(asks, contract=contract, inverse=inverse)

    def _best(self) -> tuple[float | None, float | None]:
        bid = float(self._bid[0].max()) if self._bid[0].size else None
        ask = float(self._ask[0].min()) if self._ask[0].size else None
        return bid, ask

    def mid(self) -> float | None:
        """Mid price (None: empty side, crossed, or not in sync)."""
        return book_mid(*self._best())

    def depth_within(self, pct: float, side: Side) -> float | None:
        """Quote notional of ``side`` within ``pct`` % of mid."""
        mid = self.mid()
        if mid is None:
            return None
        px, qty = self._bid if side == "bid" else self._ask
        return depth_within(px, qty, mid, pct, side)

    def spread_bps(self) -> float | None:
        """Spread in bps (None: empty side, crossed, or not in sync)."""
        bid, ask = self._best()
        return None if bid is None or ask is None else spread_bps(bid, ask)


def sample(view: BookView | None, pct: float = 1.0) -> BookSample | None:
    """Return the view's depth within ``pct`` % and spread, None unless it is in sync."""
    if view is None or not view.in_sync:
        return None
    bid, ask = view.depth_within(pct, "bid"), view.depth_within(pct, "ask")
    spread = view.spread_bps()
    if bid is None or ask is None or spread is None:
        return None
    return BookSample(depth_bid=bid, depth_ask=ask, spread_bps=spread, ts=view.ts)


# -- the connectors' books -------------------------------------------------------------------


def binance_view(book: OrderBook) -> LevelsView:
    """View a Binance :class:`~flushwatch.connectors.book.OrderBook` (in sync when ``live``)."""
    size = book.inverse_size
    return LevelsView(
        book.bids,
        book.asks,
        in_sync=book.state == "live",
        ts=book.last_ts or None,
        contract=1.0 if size is None else size,
        inverse=size is not None,
    )


def binance_source(book: OrderBook) -> BookSource:
    """The book source of one Binance connector book (the object survives its resyncs)."""
    return lambda: binance_view(book)


class TextBook(Protocol):
    """The Bybit/OKX connectors' book: price → (price text, size text) as sent."""

    bids: dict[float, tuple[str, str]]
    asks: dict[float, tuple[str, str]]


def text_book_view(
    book: TextBook | None, *, contract: float = 1.0, inverse: bool = False
) -> LevelsView:
    """View a Bybit/OKX book; a missing book (dropped on a gap, no snapshot yet) is not in sync.

    Sizes are in the venue's units: Bybit linear base coin, Bybit inverse USD (``contract=1``,
    ``inverse=True``), OKX contracts of ``ctVal`` (``contract=ctVal``; inverse for coin-margined).
    """
    if book is None:
        return LevelsView({}, {}, in_sync=False)

    def floats(side: dict[float, tuple[str, str]]) -> dict[float, float]:
        return {p: float(size) for p, (_, size) in side.items()}

    return LevelsView(
        floats(book.bids), floats(book.asks), in_sync=True, contract=contract, inverse=inverse
    )


def bar_values(
    s: BookSample | None, close_ns: int, now: int, max_lead_ns: int
) -> tuple[float, float]:
    """Return a bar's ``(depth_1pct, spread_bps)`` from a sample taken when it closed.

    The sample describes the book at its event time ``s.ts`` (or ``now``, the event clock, when
    the venue's book keeps no time). A book that changed more than ``max_lead_ns`` after the
    bar's close describes a later moment: the bar gets NaN, as it does while the book resyncs.
    A value is never carried from an earlier sample.

    Examples
    --------
    >>> s = BookSample(depth_bid=5e6, depth_ask=4e6, spread_bps=0.5, ts=61)
    >>> bar_values(s, 60, 61, 2), bar_values(s, 58, 61, 2), bar_values(None, 60, 61, 2)
    ((5000000.0, 0.5), (nan, nan), (nan, nan))
    """
    if s is None:
        return math.nan, math.nan
    moment = now if s.ts is None else s.ts
    if moment > close_ns + max_lead_ns:
        return math.nan, math.nan
    return s.depth_bid, s.spread_bps


__all__ = [
    "BookSample",
    "BookSource",
    "BookView",
    "LevelsView",
    "TextBook",
    "bar_values",
    "binance_source",
    "binance_view",
    "book_mid",
    "depth_within",
    "sample",
    "side_arrays",
    "spread_bps",
    "text_book_view",
]
