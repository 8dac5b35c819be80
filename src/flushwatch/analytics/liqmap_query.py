"""The liquidation map's state and the questions asked of it (all answers are estimates).

* :func:`map_at`: the price-binned map, long and short, in absolute USD notional;
* :func:`cumulative_if_price_reaches`: "long notional liquidated if price falls to X" (a
  suffix sum below price) and "short notional liquidated if it rises to X" (a prefix sum);
* :func:`predicted_in_range`: the mass of one side inside a price range, on the final map or
  on every snapshot at once (what the backtest compares with realised liquidations);
* :func:`bands`: the map regrouped into bands of a fixed % distance from price;
* :class:`RangeSink`: :func:`predicted_in_range` for every bar of a long history, streamed
  while the map is built (bounded memory).

Ranges follow the consumption rule of the builder: a range reaching into a bin takes the
whole bin (inclusive), so the prediction for a bar's traded range is exactly what the bar
would consume.
"""

from __future__ import annotations

from typing import Literal, overload

import msgspec
import numpy as np

from flushwatch.analytics.market import F64, I64

Side = Literal["long", "short"]

__all__ = [
    "Band",
    "LiqMapState",
    "MapView",
    "RangeSink",
    "bands",
    "cumulative_if_price_reaches",
    "map_at",
    "moves_totals",
    "predicted_in_range",
]


class LiqMapState(msgspec.Struct, kw_only=True, frozen=True):
    """The map as of the start of bar ``asof_index`` and its per-bar accounting (estimates)."""

    edges: F64
    centres: F64
    #: Estimated notional (USD) that would be liquidated in each bin, per side.
    long: F64
    short: F64
    asof_index: int
    #: Start time (ns) of bar ``asof_index`` (end of the last bar used).
    asof_ts: int
    price: float
    leverages: F64
    weights: F64
    split_source: str
    entry_source: str
    #: Per bar of ``[0, asof_index)``: notional added, consumed (crossed by the range),
    #: closed (OI fall beyond consumption), decayed, and the totals after the bar.
    added_long: F64
    added_short: F64
    consumed_long: F64
    consumed_short: F64
    closed: F64
    decayed: F64
    total_long: F64
    total_short: F64
    snap_index: I64
    snap_long: F64 | None = None
    snap_short: F64 | None = None
    estimate: bool = True


class MapView(msgspec.Struct, kw_only=True, frozen=True):
    """One map: bins and estimated notional (USD) that would be liquidated per side."""

    edges: F64
    centres: F64
    long: F64
    short: F64
    price: float
    asof_ts: int
    estimate: bool = True


class Band(msgspec.Struct, kw_only=True, frozen=True):
    """Estimated liquidation notional between two prices, and how far it is from price."""

    side: Side
    lo: float
    hi: float
    notional: float
    distance_pct: float


def map_at(state: LiqMapState, row: int | None = None) -> MapView:
    """Return the map at the end of the build, or at snapshot ``row`` (the heatmap's rows)."""
    if row is None:
        return MapView(
            edges=state.edges,
            centres=state.centres,
            long=state.long,
            short=state.short,
            price=state.price,
            asof_ts=state.asof_ts,
        )
    if state.snap_long is None or state.snap_short is None:
        raise ValueError("this map was built without snapshots (snapshot_every=0)")
    return MapView(
        edges=state.edges,
        centres=state.centres,
        long=state.snap_long[row],
        short=state.snap_short[row],
        price=float("nan"),
        asof_ts=-1,
    )


def _bin(edges: F64, x: F64 | float) -> I64:
    nb = edges.shape[0] - 1
    b = np.searchsorted(edges, np.asarray(x, dtype=np.float64), side="right") - 1
    return np.clip(b, 0, nb - 1).astype(np.int64)


def cumulative_if_price_reaches(edges: F64, long: F64, short: F64, price: float) -> tuple[F64, F64]:
    """Per bin, the notional liquidated if price moves there from ``price`` (monotone curves).

    ``long_cum[j]``: longs in bin j and every bin above it, for bins at or below price's bin
    (0 above); ``short_cum[j]``: shorts in bin j and every bin below, at or above price's bin.
    """
    p = int(_bin(edges, price))
    suffix = np.cumsum(long[::-1])[::-1]
    prefix = np.cumsum(short)
    idx = np.arange(long.shape[0])
    return np.where(idx <= p, suffix, 0.0), np.where(idx >= p, prefix, 0.0)


def moves_totals(view: MapView, pcts: tuple[float, ...]) -> list[tuple[float, float, float]]:
    """For each move of ``pct`` %, return (pct, longs liquidated by −pct, shorts by +pct)."""
    out = []
    for pct in pcts:
        down = int(_bin(view.edges, view.price * (1.0 - pct / 100.0)))
        up = int(_bin(view.edges, view.price * (1.0 + pct / 100.0)))
        out.append((pct, float(view.long[down:].sum()), float(view.short[: up + 1].sum())))
    return out


@overload
def predicted_in_range(state: LiqMapState, lo: float, hi: float, side: Side) -> float: ...
@overload
def predicted_in_range(state: LiqMapState, lo: F64, hi: F64, side: Side) -> F64: ...
def predicted_in_range(
    state: LiqMapState, lo: float | F64, hi: float | F64, side: Side
) -> float | F64:
    """Estimated notional of ``side`` with liquidation prices in ``[lo, hi]`` (bins inclusive).

    Scalars ask the final map. Arrays (one value per snapshot) ask every snapshot row: row k
    is the map at the start of bar ``state.snap_index[k]``, built from earlier bars only, so
    ``lo=low[snap_index], hi=open[snap_index]`` gives the causal prediction for each bar's
    move below its open. NaN bounds give NaN.
    """
    if np.ndim(lo) == 0 and np.ndim(hi) == 0:
        return _range_final(state, float(lo), float(hi), side)
    return _range_rows(state, np.asarray(lo, np.float64), np.asarray(hi, np.float64), side)


def _range_final(state: LiqMapState, lo: float, hi: float, side: Side) -> float:
    a, b = min(lo, hi), max(lo, hi)
    if not (np.isfinite(a) and np.isfinite(b)):
        return float("nan")
    mass = state.long if side == "long" else state.short
    i, j = int(_bin(state.edges, a)), int(_bin(state.edges, b))
    return float(mass[i : j + 1].sum())


def _range_rows(state: LiqMapState, lo: F64, hi: F64, side: Side) -> F64:
    rows = state.snap_long if side == "long" else state.snap_short
    if rows is None:
        raise ValueError("predicted_in_range over arrays needs snapshots (snapshot_every > 0)")
    if lo.shape != (rows.shape[0],) or hi.shape != lo.shape:
        raise ValueError("lo and hi need one value per snapshot")
    a, b = np.minimum(lo, hi), np.maximum(lo, hi)
    ok = np.isfinite(a) & np.isfinite(b)
    i = _bin(state.edges, np.where(ok, a, 0.0))
    j = _bin(state.edges, np.where(ok, b, 0.0))
    cum = np.zeros((rows.shape[0], rows.shape[1] + 1))
    np.cumsum(rows, axis=1, out=cum[:, 1:])
    r = np.arange(rows.shape[0])
    return np.asarray(np.where(ok, cum[r, j + 1] - cum[r, i], np.nan), dtype=np.float64)


def bands(view: MapView, side: Side, width_pct: float, count: int) -> list[Band]:
    """Group one side into bands ``width_pct`` % wide, from price outwards; nearest first.

    Longs are read below price, shorts above it; empty bands are skipped.
    """
    sign = -1.0 if side == "long" else 1.0
    mass = view.long if side == "long" else view.short
    dist = sign * (view.centres - view.price) / view.price * 100.0
    sel = (dist >= 0) & (mass > 0)
    if not np.any(sel):
        return []
    k = np.floor(dist[sel] / width_pct).astype(np.int64)
    sums = np.bincount(k, weights=mass[sel])
    out: list[Band] = []
    for band in np.flatnonzero(sums > 0)[:count]:
        near = view.price * (1.0 + sign * band * width_pct / 100.0)
        far = view.price * (1.0 + sign * (band + 1) * width_pct / 100.0)
        out.append(
            Band(
                side=side,
                lo=float(min(near, far)),
                hi=float(max(near, far)),
                notional=float(sums[band]),
                distance_pct=float(band * width_pct),
            )
        )
    return out


class RangeSink:
    """Each bar's mass of each side in a price range, on the map at the start of the bar.

    A :data:`~flushwatch.analytics.liqmap.RowSink` for ``build_map``: the same prefix sums,
    over the same bins in the same order, as :func:`predicted_in_range` over a snapshot at
    every bar (so the same numbers), but it holds at most ``window`` rows at a time, each cut
    after the highest bin a range of its window reaches. Memory is window × bins whatever
    the history, instead of bars × bins.
    """

    def __init__(self, edges: F64, ranges: dict[Side, tuple[F64, F64]], window: int = 1024):
        self.edges = np.asarray(edges, np.float64)
        self.ranges = {
            s: (np.asarray(a, np.float64), np.asarray(b, np.float64))
            for s, (a, b) in ranges.items()
        }
        self.n = min(int(a.shape[0]) for a, _ in self.ranges.values())
        self.out: dict[Side, F64] = {s: np.full(self.n, np.nan) for s in self.ranges}
        self.window = max(int(window), 1)
        self._t0 = self._k = self._m = 0
        self._part: dict[Side, tuple[F64, I64, I64, F64]] = {}

    def __call__(self, t: int, long: F64, short: F64, g: float) -> None:
        if t >= self.n:
            return
        if self._k == 0:
            self._start(t)
        for side, row in (("long", long), ("short", short)):
            if side in self._part:
                buf = self._part[side][3]
                np.multiply(row[: buf.shape[1]], g, out=buf[self._k])
        self._k += 1
        if self._k == self._m:
            self.finish()

    def _start(self, t: int) -> None:
        self._t0, self._k, self._m = t, 0, min(self.window, self.n - t)
        for side, (lo_all, hi_all) in self.ranges.items():
            lo, hi = lo_all[t : t + self._m], hi_all[t : t + self._m]
            a, b = np.minimum(lo, hi), np.maximum(lo, hi)
            ok = np.isfinite(a) & np.isfinite(b)
            i = _bin(self.edges, np.where(ok, a, 0.0))
            j = _bin(self.edges, np.where(ok, b, 0.0))
            cols = int(j.max()) + 1 if j.size else 1
            self._part[side] = (ok.astype(np.float64), i, j, np.empty((self._m, cols)))

    def finish(self) -> None:
        """Answer the rows held (called by itself when a window is full)."""
        k, t0 = self._k, self._t0
        for side, (ok, i, j, buf) in self._part.items():
            cum = np.zeros((k, buf.shape[1] + 1))
            np.cumsum(buf[:k], axis=1, out=cum[:, 1:])
            r = np.arange(k)
            got = cum[r, j[:k] + 1] - cum[r, i[:k]]
            self.out[side][t0 : t0 + k] = np.where(ok[:k] > 0, got, np.nan)
        self._k = 0
        self._part = {}
