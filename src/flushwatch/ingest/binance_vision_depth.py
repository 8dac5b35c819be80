"""Sanity checks for Binance Vision bookDepth snapshots (binance-public-data#431).

A bookDepth row is the cumulative depth between mid and ``percentage`` % away, in coin
(``depth``) and quote (``notional``) terms (binance-public-data#447). Some files hold snapshots
whose notional/depth is ~20 % away from the traded price (#431: ≈83k while BTC traded ≈103k).
Such a snapshot is still internally consistent (it looks like a book of another moment), so
two checks are made and reported as notes; rows are imported either way:

1. **Internal**: the marginal band between two edges (e.g. -2 % .. -1 %) holds orders priced
   between ``mid × 0.98`` and ``mid × 0.99``, so its average price ``Δnotional / Δdepth``
   bounds the mid. Every band of a snapshot must admit one common mid, within 1 % (rounding,
   levels sitting exactly on an edge). A snapshot that does not, or whose cumulative depth
   shrinks away from mid, is reported as inconsistent. A naive "notional/depth equal across
   bands" test would be wrong: band averages legitimately spread by up to ±5 %.
2. **External**: when the same day's ``markPriceKlines`` or ``klines`` of the symbol sit in the
   same data.binance.vision folder tree, the implied mid must fall inside the covering bar's
   low..high (±1 %). Otherwise the note gives the implied mid so the user can compare.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

import polars as pl

from flushwatch.domain.records import Bar
from flushwatch.domain.time import iso
from flushwatch.errors import InputError
from flushwatch.ingest.base import Hints
from flushwatch.ingest.binance_vision_bars import BinanceVisionKlines

#: Relative slack allowed by both checks.
TOLERANCE = 0.01
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


def _bounds(bands: Iterable[tuple[float, float, float]]) -> tuple[float, float] | None:
    """Mid range admitted by the cumulative bands (pct, depth, notional) of one side."""
    lower, upper = 0.0, float("inf")
    prev_pct = prev_depth = prev_notional = 0.0
    for pct, depth, notional in sorted(bands, key=lambda b: abs(b[0])):
        d, n = depth - prev_depth, notional - prev_notional
        if d < 0 or n < 0:
            return None  # cumulative depth shrinking away from mid
        if d > 0:
            avg = n / d
            edges = sorted((1 + prev_pct / 100, 1 + pct / 100))
            lower, upper = max(lower, avg / edges[1]), min(upper, avg / edges[0])
        prev_pct, prev_depth, prev_notional = pct, depth, notional
    return lower, upper


def implied_mid(rows: list[tuple[float, float, float]]) -> tuple[float, float] | None:
    """Return the (low, high) mid admitted by all bands of one snapshot, None if none is."""
    bids = _bounds(r for r in rows if r[0] < 0)
    asks = _bounds(r for r in rows if r[0] > 0)
    if bids is None or asks is None:
        return None
    lower, upper = max(bids[0], asks[0]), min(bids[1], asks[1])
    if lower > upper * (1 + TOLERANCE) or upper == float("inf"):
        return None
    return lower, upper


def _reference_bars(path: Path, exchange: str, symbol: str) -> pl.DataFrame | None:
    parts = path.parts
    date = _DATE.search(path.name)
    if "bookDepth" not in parts or date is None:
        return None
    root = Path(*parts[: parts.index("bookDepth")])
    for folder in ("markPriceKlines", "klines"):
        for candidate in sorted((root / folder / symbol).glob(f"*/{symbol}-*-{date[0]}.*")):
            if candidate.name.endswith(".CHECKSUM"):
                continue
            try:
                parsed = BinanceVisionKlines().read(
                    candidate, Hints(exchange=exchange, symbol=symbol)
                )
            except InputError:
                continue
            bars = parsed.frames.get(Bar)
            if bars is not None:
                return bars
    return None


def _covering(bars: pl.DataFrame, ts: int) -> tuple[float, float] | None:
    hit = bars.filter(
        (pl.col("ts_event") <= ts) & (pl.col("ts_event") + pl.col("interval_s") * 10**9 > ts)
    )
    if hit.height == 0:
        return None
    return float(hit.get_column("low").min()), float(hit.get_column("high").max())  # type: ignore[arg-type]


def depth_notes(df: pl.DataFrame, path: Path) -> list[str]:
    """Return notes on inconsistent or off-price snapshots of a parsed bookDepth frame."""
    snaps: dict[int, list[tuple[float, float, float]]] = {}
    for ts, pct, depth, notional in df.select(
        "ts_event", "pct", "depth_base", "notional"
    ).iter_rows():
        if None not in (pct, depth, notional):
            snaps.setdefault(ts, []).append((pct, depth, notional))
    mids: dict[int, tuple[float, float]] = {}
    bad: list[int] = []
    for ts, rows in snaps.items():
        mid = implied_mid(rows)
        if mid is None:
            bad.append(ts)
        else:
            mids[ts] = mid
    notes = []
    if bad:
        notes.append(
            f"WARNING: {len(bad)} of {len(snaps)} bookDepth snapshots are inconsistent (their "
            "bands admit no common mid price within 1 %, or depth shrinks away from mid), "
            f"first at {iso(bad[0])}; treat their depth with caution"
        )
    if not mids:
        return notes
    centre = [(lo + hi) / 2 for lo, hi in mids.values()]
    implied = f"{min(centre):,.0f}" + (f"–{max(centre):,.0f}" if len(centre) > 1 else "")
    exchange, symbol = str(df.get_column("exchange")[0]), str(df.get_column("symbol")[0])
    bars = _reference_bars(path, exchange, symbol)
    if bars is None:
        notes.append(
            f"bookDepth mid price implied by notional/depth: {implied} over {len(mids)} "
            "snapshot(s); no klines of that day beside the file to cross-check it: compare with "
            "the traded price (binance-public-data#431 reports snapshots ~20 % off)"
        )
        return notes
    off = []
    for ts, (lo, hi) in mids.items():
        ref = _covering(bars, ts)
        if ref is not None and (hi < ref[0] * (1 - TOLERANCE) or lo > ref[1] * (1 + TOLERANCE)):
            off.append((ts, (lo + hi) / 2, ref))
    if off:
        first, centre_px, (low, high) = off[0]
        notes.append(
            f"WARNING: {len(off)} of {len(mids)} bookDepth snapshots imply a mid price outside "
            f"the traded range of the same day's klines, first at {iso(first)}: "
            f"{centre_px:,.0f} vs {low:,.0f}–{high:,.0f} (binance-public-data#431); treat "
            "their depth with caution"
        )
    return notes
