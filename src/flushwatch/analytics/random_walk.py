"""The volatility-band baseline's one formula, shared by the scorecard and the map forecast."""

from __future__ import annotations

import math


def touch_probability(distance: float, sigma: float) -> float:
    """P(a driftless random walk touches a level ``distance`` away within the horizon).

    ``distance`` in log price, ``sigma`` the standard deviation of log price over the whole
    horizon; by the reflection principle ``2·Φ(−|d|/σ) = erfc(|d| / (σ√2))``.

    Examples
    --------
    >>> touch_probability(0.0, 0.02), round(touch_probability(0.02, 0.02), 4)
    (1.0, 0.3173)
    """
    return math.erfc(abs(distance) / (sigma * math.sqrt(2.0)))
