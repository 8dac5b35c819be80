"""OHLCV bars with taker flow and CVD, built from individual trades (arrays in, arrays out).

Where a store holds only trades (aggTrades, tardis trades, websocket recordings) the report
still needs bars: the perp price grid, the spot close for the basis and spot volume for
"spot vs perp". Each bar is ``[start, start + interval)`` and holds the trades stamped inside
it. A bar is known only once it has closed: bars whose close is after ``known_at_ns`` are
dropped, so a report as of T never sees a half-built bar. An interval with no trade has no
bar (a gap, never an invented flat bar).

Taker flow follows the trade's aggressor side: ``taker_buy`` sums the quantity of trades whose
taker bought, ``taker_sell`` the rest; the CVD is the running sum of (buy − sell) base volume
over the bars returned, starting at 0 before the first one (a CVD level depends on where it
starts; its changes are what carries information).
"""

from __future__ import annotations

import msgspec
import numpy as np
import numpy.typing as npt

from flushwatch.analytics.market import F64, I64

BOOL = npt.NDArray[np.bool_]


class TradeBars(msgspec.Struct, kw_only=True, frozen=True):
    """Aligned per-bar arrays; ``ts`` is each bar's start (ns, UTC)."""

    interval_s: int
    ts: I64
    open: F64
    high: F64
    low: F64
    close: F64
    volume_base: F64
    volume_quote: F64
    taker_buy_base: F64
    taker_buy_quote: F64
    taker_sell_base: F64
    trade_count: I64
    #: Running sum of taker buy − taker sell base volume, at each bar's close.
    cvd: F64

    @property
    def n(self) -> int:
        """Number of bars."""
        return int(self.ts.shape[0])


def trade_bars(
    ts_ns: I64,
    price: F64,
    qty: F64,
    taker_buy: BOOL,
    interval_s: int,
    *,
    known_at_ns: int | None = None,
) -> TradeBars:
    """Aggregate trades into bars of ``interval_s`` seconds.

    Trades need not be sorted; ties in time keep their input order (the venue's order), so
    open and close are the first and last trade of the bar as sent. ``known_at_ns`` drops
    every bar that had not closed by then (its close is ``start + interval``).
    """
    if interval_s <= 0:
        raise ValueError(f"interval_s must be positive, got {interval_s}")
    step = np.int64(interval_s) * np.int64(10**9)
    ts = np.asarray(ts_ns, dtype=np.int64)
    order = np.argsort(ts, kind="stable")
    ts = ts[order]
    px = np.asarray(price, dtype=np.float64)[order]
    q = np.asarray(qty, dtype=np.float64)[order]
    buy = np.asarray(taker_buy, dtype=np.bool_)[order]
    start = (ts // step) * step
    if known_at_ns is not None:
        keep = start + step <= known_at_ns
        ts, px, q, buy, start = ts[keep], px[keep], q[keep], buy[keep], start[keep]
    if start.size == 0:
        return _empty(interval_s)
    first = np.flatnonzero(np.r_[True, start[1:] != start[:-1]])
    last = np.r_[first[1:] - 1, start.size - 1]
    notional = px * q
    buy_q = np.where(buy, q, 0.0)
    buy_base = np.add.reduceat(buy_q, first)
    vol_base = np.add.reduceat(q, first)
    sell_base = vol_base - buy_base
    return TradeBars(
        interval_s=interval_s,
        ts=start[first],
        open=px[first],
        high=np.maximum.reduceat(px, first),
        low=np.minimum.reduceat(px, first),
        close=px[last],
        volume_base=vol_base,
        volume_quote=np.add.reduceat(notional, first),
        taker_buy_base=buy_base,
        taker_buy_quote=np.add.reduceat(np.where(buy, notional, 0.0), first),
        taker_sell_base=sell_base,
        trade_count=(last - first + 1).astype(np.int64),
        cvd=np.cumsum(buy_base - sell_base),
    )


def _empty(interval_s: int) -> TradeBars:
    f = np.empty(0, dtype=np.float64)
    i = np.empty(0, dtype=np.int64)
    return TradeBars(
        interval_s=interval_s,
        ts=i,
        open=f,
        high=f,
        low=f,
        close=f,
        volume_base=f,
        volume_quote=f,
        taker_buy_base=f,
        taker_buy_quote=f,
        taker_sell_base=f,
        trade_count=i,
        cvd=f,
    )
