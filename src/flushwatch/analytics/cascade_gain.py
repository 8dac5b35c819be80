"""Local cascade gain ``G = λ(p)/b(p)`` per price bin, and the bands where ``G ≥ 1``.

Per bin, ``λ`` is the forced mass (estimated liquidations, plus stops when counted) and
``b`` the book depth between the bin's two edges, both per unit price, so ``G`` is simply
``forced USD in the bin / book USD in the bin``. A bin beyond the end of the known book has
no known depth: its gain is NaN ("not known"), never a guess.
"""

from __future__ import annotations

import msgspec
import numpy as np

from flushwatch.analytics.cascade_core import ForcedFlow
from flushwatch.analytics.depth import DepthCurve
from flushwatch.analytics.market import F64


class GainBand(msgspec.Struct, frozen=True, kw_only=True):
    """A run of adjacent bins where the gain is at least 1 (self-propagating)."""

    price_from: float
    price_to: float
    #: Distances from the start price, percent (positive).
    from_pct: float
    to_pct: float
    max_gain: float
    forced_usd: float
    depth_usd: float


class GainProfile(msgspec.Struct, frozen=True, kw_only=True):
    """Gain per bin on the cascade axis (nearest the price first)."""

    direction: str
    price_lo: F64
    price_hi: F64
    forced_usd: F64
    depth_usd: F64
    gain: F64
    bands: list[GainBand]
    #: Largest finite gain (NaN when no bin has known depth).
    max_gain: float
    #: Total width of the G ≥ 1 bands, percent of the start price.
    width_pct: float
    estimate: bool = True


def _runs(mask: np.ndarray) -> list[tuple[int, int]]:
    """[start, stop) index pairs of the True runs in ``mask``."""
    edges = np.diff(np.concatenate([[0], mask.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def cascade_gain(
    flow: ForcedFlow, depth: DepthCurve, *, mult: float = 1.0, stops: bool = True
) -> GainProfile:
    """Gain of every map bin on the cascade's side of the price, and its ``G ≥ 1`` bands.

    Examples
    --------
    >>> import numpy as np
    >>> from flushwatch.analytics.cascade_core import forced_flow
    >>> from flushwatch.analytics.depth import DepthCurve
    >>> book = DepthCurve(side="bid", reference=100.0, offsets=np.array([0.0, 0.1]),
    ...                   notional=np.array([0.0, 1000.0]), source="test", estimate=False)
    >>> f = forced_flow("down", 100.0, np.array([97.0, 98.0, 99.0]), np.array([5.0, 20.0]))
    >>> g = cascade_gain(f, book)  # 100 USD of book per 1 % bin
    >>> np.round(g.gain, 9).tolist(), g.width_pct
    ([0.0, 0.2, 0.05], 0.0)
    """
    lo, hi = flow.offsets[:-1], flow.offsets[1:]
    forced = flow.liq_bin + (flow.stop_bin if stops else 0.0)
    book = mult * (
        np.interp(hi, depth.offsets, depth.notional) - np.interp(lo, depth.offsets, depth.notional)
    )
    known = hi <= depth.max_offset + 1e-12
    with np.errstate(divide="ignore", invalid="ignore"):
        gain = np.where(known & (book > 0), forced / book, np.nan)
    gain = np.where(known & (book == 0) & (forced > 0), np.inf, gain)
    bands = []
    for a, b in _runs(np.nan_to_num(gain, nan=0.0) >= 1.0):
        bands.append(
            GainBand(
                price_from=float(flow.price(lo[a])),
                price_to=float(flow.price(hi[b - 1])),
                from_pct=float(100 * lo[a]),
                to_pct=float(100 * hi[b - 1]),
                max_gain=float(np.max(gain[a:b])),
                forced_usd=float(forced[a:b].sum()),
                depth_usd=float(book[a:b].sum()),
            )
        )
    finite = gain[np.isfinite(gain)]
    p_lo, p_hi = flow.price(lo), flow.price(hi)
    return GainProfile(
        direction=flow.direction,
        price_lo=np.minimum(p_lo, p_hi),
        price_hi=np.maximum(p_lo, p_hi),
        forced_usd=np.asarray(forced, dtype=np.float64),
        depth_usd=np.where(known, book, np.nan),
        gain=gain,
        bands=bands,
        max_gain=float(finite.max()) if finite.size else float("nan"),
        width_pct=float(sum(b.to_pct - b.from_pct for b in bands)),
    )
