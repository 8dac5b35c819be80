"""The liquidity provider's book: depth per price level, walked by market orders.

Cumulative depth on one side within a fractional distance ``x`` of mid (``u = x / 1 %``)::

    D(u) = D1 · (c·u + (1 − c)·u²)

a flat part near the touch (weight ``c``) plus the V-shaped latent book of the square-root
law (density ∝ distance, DOMAIN.md §4.1: Q = L·Δ²/2, so Δ ∝ √Q for large orders). ``D1`` is
the depth within 1 % of mid. A market order of notional Q walks the side to the distance
``u*`` with ``D(u*) = Q`` and fills at the depth-weighted average distance. The book is
re-quoted around the new mid every step (so impact is permanent until arbitrage or spot
move it back), and ``D1`` thins off-peak and when volatility rises (the simulator sets it).
"""

from __future__ import annotations

import numpy as np

from flushwatch.analytics.market import F64

__all__ = ["avg_distance", "cum_depth", "level_quantities", "walk_distance"]

_PCT = 0.01


def cum_depth(x: F64 | float, d1: float, c: float) -> F64:
    """Cumulative notional within fractional distance ``x`` of mid (one side)."""
    u = np.abs(np.asarray(x, np.float64)) / _PCT
    out: F64 = d1 * (c * u + (1.0 - c) * u * u)
    return out


def walk_distance(q_usd: float, d1: float, c: float) -> float:
    """Fractional distance a market order of ``q_usd`` pushes price (inverse of D)."""
    if q_usd <= 0.0:
        return 0.0
    r = q_usd / d1
    if c >= 1.0:
        return r * _PCT
    u = (-c + np.sqrt(c * c + 4.0 * (1.0 - c) * r)) / (2.0 * (1.0 - c))
    return float(u) * _PCT


def avg_distance(x_end: float, c: float) -> float:
    """Depth-weighted mean distance of the fills of a walk that ended at ``x_end``."""
    u = abs(x_end) / _PCT
    if u <= 0.0:
        return 0.0
    num = c * u * u / 2.0 + 2.0 * (1.0 - c) * u**3 / 3.0
    den = c * u + (1.0 - c) * u * u
    return num / den * _PCT


def level_quantities(mid: float, d1: float, c: float, levels: int, tick: float) -> F64:
    """Base quantity resting at each of ``levels`` levels spaced ``tick`` (fraction) from mid.

    Level ``i`` (0-based) holds the depth between ``i·tick`` and ``(i + 1)·tick``; its price is
    ``mid·(1 ∓ (i + 1)·tick)``. The same quantities serve both sides (the book is symmetric).
    """
    edges = np.arange(levels + 1, dtype=np.float64) * tick
    notional = np.diff(cum_depth(edges, d1, c))
    out: F64 = notional / mid
    return out
