"""Bid depth near the mid at each bar's close, from recorded order-book rows.

Where the store has no depth bands but holds a recorded book (a snapshot plus diffs, from
websocket recordings), the report's book item reads the book itself: rebuilt as of each
bar's close by :func:`flushwatch.analytics.depth.rebuild_book` from rows stamped by then only.
A bar is NaN (unknown, never 0) when no snapshot precedes its close, when the book's last row
is older than ``max_age_ns`` at the close, or when the known book ends short of ``pct``.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from flushwatch.analytics.depth import curve_from_book, rebuild_book
from flushwatch.analytics.market import F64, I64

#: At most this many books are rebuilt per report (each rebuild reads every row up to its
#: close): beyond it, evenly spaced bars are measured and the rest stay NaN (said in the note).
MAX_REBUILDS = 240


def bid_depth_at_closes(
    rows: pl.DataFrame, closes: I64, pct: float, max_age_ns: int
) -> tuple[F64 | None, str]:
    """Quote notional of bids within ``pct`` (0.01 = 1 %) of mid at each close, and a note.

    ``rows`` are one market's ``book`` rows. Returns (None, "") when no bar can be measured.
    """
    ts = rows.get_column("ts_event").to_numpy().astype(np.int64)
    snap = rows.get_column("is_snapshot").to_numpy()
    if not snap.any():
        return None, ""

    def ids(name: str) -> I64:
        return rows.get_column(name).fill_null(-1).to_numpy().astype(np.int64)

    is_bid = (rows.get_column("side") == "bid").to_numpy()
    price = rows.get_column("price").to_numpy().astype(np.float64)
    qty = rows.get_column("qty").to_numpy().astype(np.float64)
    update, first, prev = ids("update_id"), ids("first_update_id"), ids("prev_update_id")
    order = np.argsort(ts, kind="stable")
    sorted_ts = ts[order]
    first_snap = int(ts[snap].min())
    out = np.full(closes.shape[0], np.nan)
    known = np.searchsorted(sorted_ts, closes, side="right")
    last_row = sorted_ts[np.maximum(known - 1, 0)]
    covered = np.flatnonzero(
        (closes >= first_snap) & (known > 0) & (closes - last_row <= max_age_ns)
    )
    every = -(-covered.size // MAX_REBUILDS)  # 1 unless the book spans more bars than the cap
    gaps: list[int] = []
    for i in covered[::-1][::every][::-1].tolist():  # the latest close is always measured
        close = int(closes[i])
        book = rebuild_book(close, ts, is_bid, price, qty, snap, update, first, prev)
        curve = curve_from_book(book, "bid")
        if curve.max_offset >= pct:
            out[i] = curve.within(pct)
            gaps.append(book.gaps)
    if not gaps:
        return None, ""
    if min(gaps) < 0:
        seq = "sequence not checkable"
    elif max(gaps) == 0:
        seq = "sequence verified"
    else:
        seq = f"up to {max(gaps)} sequence gap(s): levels may be stale"
    which = "each bar's close" if every == 1 else f"every {every}th bar's close (cap)"
    return out, f"book rebuilt at {which} ({len(gaps)} bars; {seq})"
