"""An estimated liquidation map: where leveraged positions would be force-closed.

Model (DOMAIN.md §6.2: OI-delta attribution + tier-aware liquidation prices + consumption).
Every output is an **estimate**; parameters and priors are in
:mod:`flushwatch.analytics.liqmap_params`. Bar by bar, in time order:

1. **Consumption** (first, with the mass known before the bar): long mass whose liquidation
   price lies in a bin the bar's low reaches is removed (inclusive: bin of the low and every
   bin above it), short mass in the bin of the high and every bin below it. That mass is
   "liquidated": it is what the bar's range *predicts* as liquidations.
2. **Closures**: when open interest falls by more than the consumed notional, the rest is
   taken as positions closed by their owners and removed *proportionally* from all remaining
   mass (both sides). ``closures="own"`` (default) takes the whole fall from the mapped mass;
   ``"pro_rata"`` takes only the mapped mass's share of it (the fall in coins over the coins
   open before), since positions opened before the window close too: without it a long
   window whose OI ends below its start empties the map (DOGE, February 2026). Then the
   optional decay (``half_life_hours``) shrinks all mass.
3. **New positions**, added after the bar's own extremes (the order inside a bar is unknown;
   a position opened in a bar can be liquidated from the next bar on). Open interest is
   converted to coins with the bar's close (``oi_quote / close``), so a price move alone
   creates no position; a rise in coins × entry price is new notional (× ``oi_fraction``).
   Entry price: the bar's VWAP if given, else the typical price (H+L+C)/3.
   Split: every new contract has a long and a short; the map keeps both, and splits the new
   notional by which side was the *aggressor* (taken as the leveraged, liquidatable one): the
   long share is the taker-buy share of the bar's volume when given (aoki-h-jp: a taker buy
   opens a long), else ``ratio / (1 + ratio)`` of the long/short account ratio, else 50/50.
   Each side is spread over the leverage buckets π(L) (capped by the tier table) and each
   (entry, L, side) is placed at the **exact** isolated liquidation price of the venue
   (``flushwatch.analytics.mechanics.isolated_liq_price_array``, tier iterated at the
   liquidation price), never at p·(1 ∓ 1/L).

Only positions opened inside the window are known (OI that existed before the first bar has
no entry price): start the window early enough. Accounting is exact: per bar
``added − consumed − closed − decayed`` is the change of the total mass.

Stable API (used by the backtest, ``flushwatch backtest-map``)::

    build_map(ts, open, high, low, close, oi_quote, params, tiers,
              taker_buy_share=None, ls_ratio=None, upto=None, *,
              vwap=None, edges=None, snapshot_every=0, sink=None, accounting=True,
              chunk_bars=0) -> LiqMapState
    predicted_in_range(state, lo, hi, side) -> float | F64
    RangeSink(edges, {side: (lo, hi)}, window)  # predicted_in_range per bar, streamed

``build_map(..., upto=t)`` uses bars ``[0, t)`` only: the map "as of the start of bar t".
``state.consumed_long[t]`` is the long mass that bar t's range crossed, predicted with bars
before t. With ``snapshot_every=k`` the state keeps the map at the start of bars 0, k, 2k, ...
(``snap_index``); ``predicted_in_range`` with arrays ``lo``/``hi`` (one per snapshot) answers
for every snapshot at once.
A snapshot per bar is bars × bins (GBs over months of 1-minute bars): over long histories
pass a ``sink`` instead, shown the map at the start of every bar (issue 16).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal, cast

import numpy as np

from flushwatch.analytics.liqmap_params import LiqMapParams, effective_leverage, grid_edges
from flushwatch.analytics.liqmap_query import (
    LiqMapState,
    MapView,
    RangeSink,
    bands,
    cumulative_if_price_reaches,
    map_at,
    moves_totals,
    predicted_in_range,
)
from flushwatch.analytics.market import F64, I64
from flushwatch.analytics.mechanics import TierTable, isolated_liq_price_array

__all__ = [
    "LiqMapParams",
    "LiqMapState",
    "MapView",
    "RangeSink",
    "RowSink",
    "bands",
    "build_map",
    "cumulative_if_price_reaches",
    "map_at",
    "moves_totals",
    "predicted_in_range",
]

Side = Literal["long", "short"]
_RENORM = 1e-150  # rescale the lazy factor before it underflows
#: Bars prepared at a time (entries, bins, flows): bounded working memory, same result.
CHUNK_BARS = 1 << 14
#: Shown the map at the start of bar ``t``: ``(t, long, short, g)`` with the map equal to
#: ``long × g`` and ``short × g``; the arrays are the builder's own, to be read, not kept.
RowSink = Callable[[int, F64, F64, float], None]


def _long_share(n: int, taker_buy_share: F64 | None, ls_ratio: F64 | None) -> tuple[F64, str]:
    if taker_buy_share is not None:
        s = np.asarray(taker_buy_share, dtype=np.float64)[:n]
        src = "taker_flow"
    elif ls_ratio is not None:
        r = np.asarray(ls_ratio, dtype=np.float64)[:n]
        with np.errstate(invalid="ignore", divide="ignore"):
            s = r / (1.0 + r)
        src = "long_short_ratio"
    else:
        return np.full(n, 0.5), "even"
    s = np.where(np.isfinite(s), np.clip(s, 0.0, 1.0), 0.5)
    return s, src


def _coins(oi_quote: F64, close: F64, prev: float) -> F64:
    """Open interest in coins, forward-filled (``prev``: the filled value before the chunk)."""
    with np.errstate(invalid="ignore", divide="ignore"):
        coins = oi_quote / close
    n = coins.shape[0]
    last = np.maximum.accumulate(np.where(np.isfinite(coins), np.arange(n), -1))
    return np.where(last >= 0, coins[np.maximum(last, 0)], prev)


def _flows(
    high: F64, low: F64, close: F64, filled: F64, vwap: F64 | None, prev: float
) -> tuple[F64, F64, F64, str]:
    """Entry price, new notional and closed notional per bar of one chunk.

    ``filled`` is :func:`_coins` of the chunk; ``prev`` the filled coins before it (NaN at
    the first bar, which therefore adds and closes nothing).
    """
    typical = (high + low + close) / 3.0
    entry, src = typical, "typical_price"
    if vwap is not None:
        v = np.asarray(vwap, dtype=np.float64)
        entry = np.where(np.isfinite(v) & (v > 0), v, typical)
        src = "vwap"
    delta = filled - np.r_[prev, filled[:-1]]
    ok = np.isfinite(delta) & np.isfinite(entry)
    delta, px = np.where(ok, delta, 0.0), np.where(ok, entry, 0.0)
    return entry, np.maximum(delta, 0.0) * px, np.maximum(-delta, 0.0) * px, src


def _closed_share(filled: F64, prev: float) -> F64:
    """Share of the open contracts that closed in each bar (the fall in coins / coins before)."""
    before = np.r_[prev, filled[:-1]]
    with np.errstate(invalid="ignore", divide="ignore"):
        share = np.maximum(before - filled, 0.0) / before
    return np.where(np.isfinite(share), np.clip(share, 0.0, 1.0), 0.0)


def _entries(
    side: Side,
    bar_new: F64,
    entry: F64,
    lev: F64,
    w: F64,
    notional: float,
    edges: F64,
    tiers: TierTable,
) -> tuple[I64, F64, I64, F64]:
    """Unique (bar, bin) placements of one side: bins, weights, per-bar starts and sums."""
    n, nb = bar_new.shape[0], edges.shape[0] - 1
    bars = np.flatnonzero(bar_new > 0)
    k = lev.shape[0]
    ep = np.repeat(entry[bars], k)
    lp = np.asarray(
        isolated_liq_price_array(
            side, ep, np.tile(lev, bars.size), np.full(ep.shape, notional), tiers
        ),
        dtype=np.float64,
    )
    mass = np.repeat(bar_new[bars], k) * np.tile(w, bars.size)
    ok = np.isfinite(lp) & (lp > 0) & (mass > 0)  # a long at ≤ 1x cannot be liquidated
    b = np.clip(np.searchsorted(edges, lp[ok], side="right") - 1, 0, nb - 1)
    key = np.repeat(bars, k)[ok].astype(np.int64) * nb + b
    uniq, inv = np.unique(key, return_inverse=True)
    weights = np.asarray(np.bincount(inv, weights=mass[ok], minlength=uniq.size), np.float64)
    bar_of = uniq // nb
    starts = np.searchsorted(bar_of, np.arange(n + 1)).astype(np.int64)
    per_bar = np.asarray(np.bincount(bar_of, weights=weights, minlength=n), np.float64)
    return (uniq % nb).astype(np.int64), weights, starts, per_bar


def _bin_of(x: F64, edges: F64, missing: int) -> list[int]:
    nb = edges.shape[0] - 1
    b = np.clip(np.searchsorted(edges, x, side="right") - 1, 0, nb - 1)
    return cast(list[int], np.where(np.isfinite(x), b, missing).tolist())


class _Book:
    """Unscaled per-bin mass with one lazy factor ``g`` (actual = unscaled × g), so a
    proportional removal is O(1) and a crossing touches only the bins price moved through."""

    def __init__(self, nb: int) -> None:
        self.ul = np.zeros(nb)
        self.us = np.zeros(nb)
        self.g = 1.0
        self.tl = 0.0
        self.ts = 0.0
        self.top = -1  # highest bin that may hold long mass
        self.bot = nb  # lowest bin that may hold short mass

    def consume(self, kl: int, kh: int) -> tuple[float, float]:
        cl = cs = 0.0
        if kl <= self.top:
            seg = self.ul[kl : self.top + 1]
            cl = float(seg.sum())
            seg[:] = 0.0
            self.top, self.tl = kl - 1, self.tl - cl
        if kh >= self.bot:
            seg = self.us[self.bot : kh + 1]
            cs = float(seg.sum())
            seg[:] = 0.0
            self.bot, self.ts = kh + 1, self.ts - cs
        return cl * self.g, cs * self.g

    def scale(self, f: float) -> None:
        if f <= 0.0 or self.tl + self.ts <= 0.0:
            self.ul[:] = 0.0
            self.us[:] = 0.0
            self.g, self.tl, self.ts = 1.0, 0.0, 0.0
            return
        self.g *= f
        if self.g < _RENORM:
            self.ul *= self.g
            self.us *= self.g
            self.tl, self.ts, self.g = self.tl * self.g, self.ts * self.g, 1.0


def build_map(
    ts: I64,
    open: F64,
    high: F64,
    low: F64,
    close: F64,
    oi_quote: F64,
    params: LiqMapParams,
    tiers: TierTable,
    taker_buy_share: F64 | None = None,
    ls_ratio: F64 | None = None,
    upto: int | None = None,
    *,
    vwap: F64 | None = None,
    edges: F64 | None = None,
    snapshot_every: int = 0,
    sink: RowSink | None = None,
    accounting: bool = True,
    chunk_bars: int = 0,
) -> LiqMapState:
    """Estimate the liquidation map from bars ``[0, upto)`` (causal; see the module docstring).

    ``edges`` fixes the price grid (default: from the bars used); ``snapshot_every=k`` keeps
    the map at the start of every k-th bar (the heatmap). ``sink`` is shown the map at the
    start of every bar instead (a backtest over long histories keeps what it needs, never
    bars × bins); ``accounting=False`` leaves the per-bar accounting arrays empty. The bars
    are prepared :data:`CHUNK_BARS` at a time, so the working memory does not grow with the
    history beyond the inputs and the kept snapshots (``chunk_bars`` overrides it: the result
    does not depend on it).
    """
    del open  # the open plays no part: entries use VWAP or the typical price
    n = int(ts.shape[0]) if upto is None else min(max(int(upto), 0), int(ts.shape[0]))
    lev, w = effective_leverage(params, tiers)
    hi_a, lo_a, cl_a = (np.asarray(a, dtype=np.float64) for a in (high, low, close))
    oi = np.asarray(oi_quote, dtype=np.float64)
    if edges is None:
        last = cl_a[:n][np.isfinite(cl_a[:n])]
        edges = grid_edges(lo_a[:n], hi_a[:n], float(last[-1]) if last.size else np.nan, params)
    edges = np.asarray(edges, dtype=np.float64)
    nb = edges.shape[0] - 1
    step_s = float(np.median(np.diff(ts[: max(n, 2)]))) / 1e9 if ts.shape[0] > 1 else 60.0
    keep = 1.0
    if params.half_life_hours > 0:
        keep = 0.5 ** (step_s / 3600.0 / params.half_life_hours)
    every = max(int(snapshot_every), 0)
    snap_idx = np.arange(0, n, every, dtype=np.int64) if every else np.zeros(0, np.int64)
    snap_l = np.zeros((snap_idx.size, nb)) if every else None
    snap_s = np.zeros((snap_idx.size, nb)) if every else None
    book = _Book(nb)
    cols: dict[str, F64] = {k: np.zeros(n if accounting else 0) for k in _COLUMNS}
    prev = np.nan
    entry_src, split_src = "vwap" if vwap is not None else "typical_price", "even"
    size = int(chunk_bars) if chunk_bars > 0 else CHUNK_BARS
    for c0 in range(0, n, size):
        c = slice(c0, min(n, c0 + size))
        filled = _coins(oi[c], cl_a[c], prev)
        vw = None if vwap is None else np.asarray(vwap, dtype=np.float64)[c]
        entry, new, dec, entry_src = _flows(hi_a[c], lo_a[c], cl_a[c], filled, vw, prev)
        m = entry.shape[0]
        share, split_src = _long_share(
            m,
            None if taker_buy_share is None else np.asarray(taker_buy_share)[c],
            None if ls_ratio is None else np.asarray(ls_ratio)[c],
        )
        new = new * params.oi_fraction
        pn = params.position_notional
        frac = _closed_share(filled, prev).tolist() if params.closures == "pro_rata" else None
        prev = float(filled[-1])
        part = _loop(
            book,
            c0,
            _bin_of(lo_a[c], edges, nb),  # NaN low: crosses nothing
            _bin_of(hi_a[c], edges, -1),
            dec.tolist(),
            _entries("long", new * share, entry, lev, w, pn, edges, tiers),
            _entries("short", new * (1.0 - share), entry, lev, w, pn, edges, tiers),
            keep,
            (every, snap_l, snap_s, sink),
            frac,
        )
        if accounting:
            for k, v in part.items():
                cols[k][c] = v
    end_ts = int(ts[n]) if n < ts.shape[0] else int(ts[-1]) + int(step_s * 1e9)
    closes = cl_a[:n][np.isfinite(cl_a[:n])]
    return LiqMapState(
        edges=edges,
        centres=(edges[:-1] + edges[1:]) / 2.0,
        long=book.ul * book.g,
        short=book.us * book.g,
        asof_index=n,
        asof_ts=end_ts if n > 0 else int(ts[0]) if ts.shape[0] else 0,
        price=float(closes[-1]) if closes.size else float("nan"),
        leverages=lev,
        weights=w,
        split_source=split_src,
        entry_source=entry_src,
        snap_index=snap_idx,
        snap_long=snap_l,
        snap_short=snap_s,
        added_long=cols["added_long"],
        added_short=cols["added_short"],
        consumed_long=cols["consumed_long"],
        consumed_short=cols["consumed_short"],
        closed=cols["closed"],
        decayed=cols["decayed"],
        total_long=cols["total_long"],
        total_short=cols["total_short"],
    )


_COLUMNS = (
    "added_long",
    "added_short",
    "consumed_long",
    "consumed_short",
    "closed",
    "decayed",
    "total_long",
    "total_short",
)


def _loop(
    book: _Book,
    t0: int,
    kl: list[int],
    kh: list[int],
    dec: list[float],
    longs: tuple[I64, F64, I64, F64],
    shorts: tuple[I64, F64, I64, F64],
    keep: float,
    snaps: tuple[int, F64 | None, F64 | None, RowSink | None],
    frac: list[float] | None = None,
) -> dict[str, list[float]]:
    """The sequential part: one pass over a chunk of bars (global index ``t0 + t``).

    ``frac`` (``closures="pro_rata"``): the share of all open contracts that closed in each
    bar; the mapped mass loses that share (its liquidations counted first) instead of the
    whole fall in OI.
    """
    every, snap_l, snap_s, sink = snaps
    n = len(kl)
    cols: dict[str, list[float]] = {k: [0.0] * n for k in _COLUMNS}
    bl, wl, sl, add_l = longs
    bs, ws, ss, add_s = shorts
    sl_l, ss_l = sl.tolist(), ss.tolist()
    for t in range(n):
        tg = t0 + t
        if every and snap_l is not None and snap_s is not None and tg % every == 0:
            snap_l[tg // every] = book.ul * book.g
            snap_s[tg // every] = book.us * book.g
        if sink is not None:
            sink(tg, book.ul, book.us, book.g)
        before = (book.tl + book.ts) * book.g if frac is not None else 0.0
        cl, cs = book.consume(kl[t], kh[t])
        total = (book.tl + book.ts) * book.g
        want = frac[t] * before if frac is not None else dec[t]
        closed = min(max(want - cl - cs, 0.0), total)
        f = 1.0 - closed / total if total > 0 else 1.0
        decayed = total * f * (1.0 - keep)
        book.scale(f * keep)
        a, b = sl_l[t], sl_l[t + 1]
        if b > a:
            inv = 1.0 / book.g
            book.ul[bl[a:b]] += wl[a:b] * inv
            book.tl += float(add_l[t]) * inv
            book.top = max(book.top, int(bl[b - 1]))
            cols["added_long"][t] = float(add_l[t])
        a, b = ss_l[t], ss_l[t + 1]
        if b > a:
            inv = 1.0 / book.g
            book.us[bs[a:b]] += ws[a:b] * inv
            book.ts += float(add_s[t]) * inv
            book.bot = min(book.bot, int(bs[a]))
            cols["added_short"][t] = float(add_s[t])
        cols["consumed_long"][t], cols["consumed_short"][t] = cl, cs
        cols["closed"][t], cols["decayed"][t] = closed, decayed
        cols["total_long"][t], cols["total_short"][t] = book.tl * book.g, book.ts * book.g
    return cols
