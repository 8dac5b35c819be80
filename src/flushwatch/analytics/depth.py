"""Cumulative book depth as a function of distance from the price: the cascade's "B(p)".

A :class:`DepthCurve` maps a fractional distance from a reference price (``0.01`` = 1 %
away, on one side) to the cumulative quote notional resting between the reference and that
distance. It is piecewise linear between its points: the liquidity of one price level is
spread evenly over the gap to the level before it (a continuous stand-in for the discrete
book walk, exact for a uniform book). Three sources, one shape:

* ``"book"``: a real order book rebuilt from the store's snapshot rows plus incremental
  diffs (:func:`rebuild_book`, :func:`curve_from_book`);
* ``"depth_bands"``: cumulative notional within ±pct of mid (:func:`curve_from_bands`);
* ``"model"``: the square-root impact law when neither exists (:func:`curve_from_model`).
  Tóth et al. (2011, Phys. Rev. X 1, 021006) and, for Bitcoin, Donier & Bonart (2015,
  arXiv:1412.4503) find the impact of a volume Q to be ``Δ = Y σ_D sqrt(Q / V_D)`` with
  ``Y`` of order one; inverted, the depth within Δ is ``Q(Δ) = V_D (Δ / (Y σ_D))²`` (the
  latent order book of DOMAIN.md §4.1). The default ``Y = 1`` is that order-one value, not
  a calibration for the market at hand, and the law describes liquidity that shows up over
  minutes to hours, not the visible book a burst of market orders meets: a ``"model"`` curve
  is an estimate and is labelled so.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from flushwatch.analytics.market import F64

I64 = npt.NDArray[np.int64]
B8 = npt.NDArray[np.bool_]
Side = Literal["bid", "ask"]


class DepthCurve(msgspec.Struct, frozen=True, kw_only=True):
    """Cumulative quote notional against fractional distance from a reference price.

    ``offsets[0] == 0`` and ``notional[0] == 0``; both strictly increase. Beyond
    ``offsets[-1]`` the depth is not known (the end of the known book).
    """

    side: Side
    #: Reference price the offsets are measured from (mid of the book, or the close).
    reference: float
    offsets: F64
    notional: F64
    #: "book", "depth_bands" or "model".
    source: str
    #: True for a model curve (the depth is estimated, not observed).
    estimate: bool
    note: str = ""

    @property
    def max_offset(self) -> float:
        """Distance at which the known book ends."""
        return float(self.offsets[-1])

    @property
    def total(self) -> float:
        """Notional of the whole known curve."""
        return float(self.notional[-1])

    def within(self, offset: float) -> float:
        """Cumulative notional within ``offset`` (capped at the known end)."""
        return float(np.interp(offset, self.offsets, self.notional))


def _clean(offsets: F64, notional: F64) -> tuple[F64, F64]:
    """Prepend (0, 0), sort, and keep only points where both coordinates strictly rise."""
    off = np.concatenate([[0.0], np.asarray(offsets, dtype=np.float64)])
    cum = np.concatenate([[0.0], np.asarray(notional, dtype=np.float64)])
    ok = np.isfinite(off) & np.isfinite(cum) & (off >= 0)
    off, cum = off[ok], cum[ok]
    order = np.argsort(off, kind="stable")
    off, cum = off[order], np.maximum.accumulate(cum[order])
    last = np.ones(off.shape[0], dtype=bool)  # of equal offsets keep the last (largest) sum
    last[:-1] = np.diff(off) > 0
    off, cum = off[last], cum[last]
    rise = np.ones(off.shape[0], dtype=bool)  # a flat stretch (no depth) is dropped: the
    rise[1:] = np.diff(cum) > 0  # inverse B⁻¹ needs strictly rising notional
    return off[rise].astype(np.float64), cum[rise].astype(np.float64)


class Book(msgspec.Struct, frozen=True, kw_only=True):
    """A rebuilt order book: levels sorted from the best price outwards."""

    ts_ns: int
    bid_price: F64
    bid_qty: F64
    ask_price: F64
    ask_qty: F64
    #: Update id of the snapshot the book was built from.
    snapshot_id: int
    #: Incremental events applied on top of the snapshot.
    events_applied: int
    #: Breaks in the ``prev_update_id`` chain (0 = verified continuous; -1 = not checkable).
    gaps: int

    @property
    def best_bid(self) -> float:
        """Highest bid price (NaN when the side is empty)."""
        return float(self.bid_price[0]) if self.bid_price.size else float("nan")

    @property
    def best_ask(self) -> float:
        """Lowest ask price (NaN when the side is empty)."""
        return float(self.ask_price[0]) if self.ask_price.size else float("nan")

    @property
    def mid(self) -> float:
        """Mid price."""
        return 0.5 * (self.best_bid + self.best_ask)


def _chain_gaps(update_id: I64, prev_id: I64, snapshot_id: int, first_id: I64) -> int:
    """Count breaks in the venue's ``pu == previous u`` chain over distinct events."""
    if update_id.size == 0:
        return 0
    u, idx = np.unique(update_id, return_index=True)
    pu = prev_id[idx]
    gaps = int(np.count_nonzero(pu[1:] != u[:-1]))
    # The first event must straddle the snapshot (Binance: U <= lastUpdateId <= u).
    if not (first_id[idx[0]] <= snapshot_id + 1 and u[0] >= snapshot_id):
        gaps += 1
    return gaps


def rebuild_book(
    at_ns: int,
    ts: I64,
    is_bid: B8,
    price: F64,
    qty: F64,
    is_snapshot: B8,
    update_id: I64,
    first_update_id: I64 | None = None,
    prev_update_id: I64 | None = None,
) -> Book:
    """Rebuild the book at ``at_ns`` from one market's snapshot and diff rows (vectorized).

    Take the last snapshot at or before ``at_ns``; apply, in update-id order, every diff
    row stamped at or before ``at_ns`` whose update id is not older than the snapshot (the
    Binance rule: drop events with ``u < lastUpdateId``); the last quantity of each level
    wins and a zero quantity deletes it. When first/previous update ids are given the
    ``pu`` chain is checked and breaks are counted in ``Book.gaps`` (never papered over).
    """
    snap_rows = np.flatnonzero(is_snapshot & (ts <= at_ns))
    if snap_rows.size == 0:
        raise ValueError("no order-book snapshot at or before the requested time")
    last_snap_ts = ts[snap_rows].max()
    snap_rows = snap_rows[ts[snap_rows] == last_snap_ts]
    snap_id = int(update_id[snap_rows].max())
    snap_rows = snap_rows[update_id[snap_rows] == snap_id]
    diff = np.flatnonzero(~is_snapshot & (ts <= at_ns) & (update_id >= snap_id))
    diff = diff[np.argsort(update_id[diff], kind="stable")]
    gaps = -1
    if first_update_id is not None and prev_update_id is not None:
        gaps = _chain_gaps(update_id[diff], prev_update_id[diff], snap_id, first_update_id[diff])
    rows = np.concatenate([snap_rows, diff])
    seq = np.arange(rows.size)  # snapshot first, then diffs in update order
    side, px, q = is_bid[rows], price[rows], qty[rows]
    order = np.lexsort((seq, px, side))
    side, px, q = side[order], px[order], q[order]
    last = np.ones(order.size, dtype=bool)
    last[:-1] = (side[1:] != side[:-1]) | (px[1:] != px[:-1])
    live = last & (q > 0)
    bids, asks = live & side, live & ~side
    return Book(
        ts_ns=int(at_ns),
        bid_price=px[bids][::-1].copy(),
        bid_qty=q[bids][::-1].copy(),
        ask_price=px[asks].copy(),
        ask_qty=q[asks].copy(),
        snapshot_id=snap_id,
        events_applied=int(np.unique(update_id[diff]).size),
        gaps=gaps,
    )


def curve_from_book(book: Book, side: Side, reference: float | None = None) -> DepthCurve:
    """Cumulative notional of one side of a rebuilt book, by distance from ``reference``.

    ``reference`` defaults to the book's mid. Quote notional is ``price × qty`` per level
    (linear contracts: qty in coin units).

    Examples
    --------
    >>> import numpy as np
    >>> b = Book(ts_ns=0, bid_price=np.array([99.0, 98.0]), bid_qty=np.array([1.0, 2.0]),
    ...          ask_price=np.array([101.0]), ask_qty=np.array([1.0]), snapshot_id=1,
    ...          events_applied=0, gaps=0)
    >>> c = curve_from_book(b, "bid")
    >>> c.offsets.tolist(), c.notional.tolist()
    ([0.0, 0.01, 0.02], [0.0, 99.0, 295.0])
    """
    ref = book.mid if reference is None else float(reference)
    if side == "bid":
        px, q = book.bid_price, book.bid_qty
        off = (ref - px) / ref
    else:
        px, q = book.ask_price, book.ask_qty
        off = (px - ref) / ref
    ok = off >= 0
    cum = np.cumsum(px[ok] * q[ok])
    offsets, notional = _clean(np.round(off[ok], 12), cum)
    return DepthCurve(
        side=side,
        reference=ref,
        offsets=offsets,
        notional=notional,
        source="book",
        estimate=False,
        note=f"{int(ok.sum())} {side} levels, to {100 * offsets[-1]:.2f}% from mid",
    )


def curve_from_bands(pct: F64, notional: F64, side: Side, reference: float) -> DepthCurve:
    """Depth curve from depth bands (cumulative notional within ``|pct|`` percent of mid).

    Bands of the other side (negative ``pct`` are bids) are ignored.

    Examples
    --------
    >>> import numpy as np
    >>> c = curve_from_bands(np.array([-1.0, -2.0, 1.0]), np.array([5e6, 8e6, 4e6]), "bid", 100.0)
    >>> c.offsets.tolist(), c.notional.tolist()
    ([0.0, 0.01, 0.02], [0.0, 5000000.0, 8000000.0])
    """
    pct = np.asarray(pct, dtype=np.float64)
    mine = pct < 0 if side == "bid" else pct > 0
    if not mine.any():
        raise ValueError(f"no {side} depth bands")
    offsets, cum = _clean(np.abs(pct[mine]) / 100.0, np.asarray(notional)[mine])
    return DepthCurve(
        side=side,
        reference=float(reference),
        offsets=offsets,
        notional=cum,
        source="depth_bands",
        estimate=False,
        note=f"{offsets.size - 1} bands to ±{100 * offsets[-1]:g}%",
    )


class SqrtLawParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The square-root-law depth model (used only when the store has no depth at all)."""

    y: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Impact prefactor Y; O(1) per Tóth et al. 2011 / Donier & Bonart 2015.",
        ),
    ] = 1.0
    max_offset: Annotated[
        float, msgspec.Meta(gt=0, le=1, description="Model the depth out to this distance (30%).")
    ] = 0.30
    points: Annotated[
        int, msgspec.Meta(ge=8, description="Grid points of the curve (601: one every 0.05%).")
    ] = 601


def sqrt_law_inputs(close: F64, volume_quote: F64, step_s: int) -> tuple[float, float]:
    """Estimate daily volatility σ_D (fraction) and daily quote volume V_D from bars.

    σ_D is the standard deviation of bar log returns scaled by ``sqrt(bars per day)``;
    V_D is the mean bar volume times bars per day. NaN bars are skipped.

    Examples
    --------
    >>> import numpy as np
    >>> s, v = sqrt_law_inputs(np.array([100.0, 101.0, 100.0]), np.array([5.0, 5.0, 5.0]), 86400)
    >>> round(s, 6), v
    (0.014072, 5.0)
    """
    per_day = 86_400.0 / float(step_s)
    r = np.diff(np.log(np.asarray(close, dtype=np.float64)))
    r = r[np.isfinite(r)]
    vol = np.asarray(volume_quote, dtype=np.float64)
    vol = vol[np.isfinite(vol)]
    if r.size < 2 or vol.size == 0:
        raise ValueError("need at least three closes and one volume to estimate σ_D and V_D")
    return float(np.std(r, ddof=1) * np.sqrt(per_day)), float(vol.mean() * per_day)


def curve_from_model(
    sigma_d: float,
    volume_d: float,
    side: Side,
    reference: float,
    params: SqrtLawParams | None = None,
) -> DepthCurve:
    """Latent depth ``Q(Δ) = V_D (Δ / (Y σ_D))²`` on a grid (an estimate, labelled so).

    Examples
    --------
    >>> c = curve_from_model(0.02, 1e9, "bid", 100.0)
    >>> round(c.within(0.01) / 1e6, 3)  # V_D (0.01 / 0.02)² = a quarter of a day's volume
    250.0
    """
    p = params or SqrtLawParams()
    if not (sigma_d > 0 and volume_d > 0):
        raise ValueError("the square-root model needs σ_D > 0 and V_D > 0")
    off = np.linspace(0.0, p.max_offset, p.points)
    cum = volume_d * (off / (p.y * sigma_d)) ** 2
    return DepthCurve(
        side=side,
        reference=float(reference),
        offsets=off,
        notional=cum,
        source="model",
        estimate=True,
        note=(
            f"estimated: square-root law, Y={p.y:g}, σ_D={100 * sigma_d:.2f}%, V_D={volume_d:,.0f}"
        ),
    )


def scaled(curve: DepthCurve, factor: float) -> DepthCurve:
    """The same curve with every notional multiplied by ``factor`` (depth uncertainty)."""
    return msgspec.structs.replace(curve, notional=curve.notional * float(factor))
