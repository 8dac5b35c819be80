"""Cross-asset fragility: how much forced flow sits near the price against how much depth.

Per market (DOMAIN.md §9), from inputs the caller assembled:

* ``lev_to_depth``: estimated liquidation notional within ±``near_pct`` of price (both sides)
  over book depth within ±``near_pct`` (both sides);
* ``oi_to_depth``: open interest over depth within ±``near_pct``;
* ``oi_to_volume``: open interest over one day's quote volume;
* ``funding_z``: |z-score| of the latest funding against its trailing window (crowding);
* ``max_gain`` and ``gain_width_pct``: the largest local cascade gain and the width of the
  ``G ≥ 1`` bands (both directions, :mod:`flushwatch.analytics.cascade_gain`).

Each available component is turned into ``c / (c + ref)`` (0 → 0, ``ref`` → 0.5, large → 1)
with ``ref`` the documented level we call "elevated"; the score is the mean of the available
components. A missing input is "not available": it is left out of the score and named in
``missing``, never guessed. The score is a heuristic ranking aid (an estimate), not a
probability.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np

from flushwatch.analytics.market import F64


class FragilityParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Reference ("elevated") levels of each component; each scores 0.5 at its reference."""

    near_pct: Annotated[
        float, msgspec.Meta(gt=0, description="Band around price: ±2% (Kaiko's depth band).")
    ] = 2.0
    ref_lev_to_depth: Annotated[
        float,
        msgspec.Meta(gt=0, description="Forced flow equal to the depth it must cross: G ≈ 1."),
    ] = 1.0
    ref_oi_to_depth: Annotated[
        float, msgspec.Meta(gt=0, description="OI 50× the ±2% book: a thin book for its OI.")
    ] = 50.0
    ref_oi_to_volume: Annotated[
        float, msgspec.Meta(gt=0, description="OI equal to a full day's volume.")
    ] = 1.0
    ref_funding_z: Annotated[
        float, msgspec.Meta(gt=0, description="Funding 2 trailing sd from its mean.")
    ] = 2.0
    ref_max_gain: Annotated[
        float, msgspec.Meta(gt=0, description="A band where forced flow equals depth.")
    ] = 1.0
    ref_gain_width_pct: Annotated[
        float, msgspec.Meta(gt=0, description="1% of price where the cascade self-propagates.")
    ] = 1.0
    funding_window: Annotated[
        int, msgspec.Meta(ge=3, description="Trailing funding observations for the z-score.")
    ] = 90


class FragilityInput(msgspec.Struct, frozen=True, kw_only=True):
    """What is known about one market; ``None`` = not available."""

    asset: str
    price: float
    liq_near_usd: float | None = None
    depth_near_usd: float | None = None
    oi_usd: float | None = None
    volume_day_usd: float | None = None
    funding: F64 | None = None
    max_gain: float | None = None
    gain_width_pct: float | None = None
    depth_source: str | None = None


class Fragility(msgspec.Struct, frozen=True, kw_only=True):
    """Components, score and rank of one market (all estimates)."""

    asset: str
    components: dict[str, float]
    scores: dict[str, float]
    missing: list[str]
    score: float
    rank: int = 0
    depth_source: str | None = None
    estimate: bool = True


def funding_z(funding: F64, window: int) -> float | None:
    """Z-score of the last finite funding value against the ``window`` values before it.

    Examples
    --------
    >>> import numpy as np
    >>> funding_z(np.array([1.0, 2.0, 3.0, 6.0]), 3)
    4.0
    """
    f = np.asarray(funding, dtype=np.float64)
    f = f[np.isfinite(f)]
    if f.size < 4:
        return None
    base = f[-window - 1 : -1]
    sd = float(np.std(base, ddof=1))
    if not sd > 0:
        return None
    return float((f[-1] - base.mean()) / sd)


def _ratio(a: float | None, b: float | None) -> float | None:
    if a is None or b is None or not np.isfinite(a) or not np.isfinite(b) or b <= 0:
        return None
    return float(a / b)


def assess(m: FragilityInput, params: FragilityParams | None = None) -> Fragility:
    """Compute one market's components and heuristic score (missing inputs are excluded)."""
    p = params or FragilityParams()
    fz = funding_z(m.funding, p.funding_window) if m.funding is not None else None
    comps: dict[str, float | None] = {
        "lev_to_depth": _ratio(m.liq_near_usd, m.depth_near_usd),
        "oi_to_depth": _ratio(m.oi_usd, m.depth_near_usd),
        "oi_to_volume": _ratio(m.oi_usd, m.volume_day_usd),
        "funding_z": None if fz is None else abs(fz),
        "max_gain": m.max_gain if m.max_gain is not None and np.isfinite(m.max_gain) else None,
        "gain_width_pct": m.gain_width_pct,
    }
    refs = {
        "lev_to_depth": p.ref_lev_to_depth,
        "oi_to_depth": p.ref_oi_to_depth,
        "oi_to_volume": p.ref_oi_to_volume,
        "funding_z": p.ref_funding_z,
        "max_gain": p.ref_max_gain,
        "gain_width_pct": p.ref_gain_width_pct,
    }
    have = {k: v for k, v in comps.items() if v is not None}
    scores = {k: v / (v + refs[k]) for k, v in have.items()}
    return Fragility(
        asset=m.asset,
        components=have,
        scores=scores,
        missing=[k for k, v in comps.items() if v is None],
        score=float(np.mean(list(scores.values()))) if scores else float("nan"),
        depth_source=m.depth_source,
    )


def rank(markets: list[FragilityInput], params: FragilityParams | None = None) -> list[Fragility]:
    """Score every market and rank them, most fragile first (unscorable markets last).

    Examples
    --------
    >>> a = FragilityInput(asset="BTC", price=1.0, oi_usd=1e9, depth_near_usd=1e9)
    >>> b = FragilityInput(asset="SUI", price=1.0, oi_usd=1e8, depth_near_usd=1e6)
    >>> [(f.asset, f.rank) for f in rank([a, b])]
    [('SUI', 1), ('BTC', 2)]
    """
    out = [assess(m, params) for m in markets]
    out.sort(key=lambda f: (not np.isfinite(f.score), -np.nan_to_num(f.score), f.asset))
    return [msgspec.structs.replace(f, rank=i + 1) for i, f in enumerate(out)]


def liq_near(edges: F64, long_usd: F64, short_usd: F64, price: float, near_pct: float) -> float:
    """Map notional within ±``near_pct`` of ``price``: longs below it, shorts above it.

    Bins partly inside the band count pro rata (mass spread evenly over a bin).

    Examples
    --------
    >>> import numpy as np
    >>> liq_near(np.array([97.0, 99.0, 101.0, 103.0]), np.array([10.0, 4.0, 0.0]),
    ...          np.array([0.0, 6.0, 8.0]), 100.0, 2.0)
    14.0
    """
    e = np.asarray(edges, dtype=np.float64)
    lo, hi = e[:-1], e[1:]
    width = hi - lo
    band_lo, band_hi = price * (1 - near_pct / 100), price * (1 + near_pct / 100)
    below = np.clip(np.minimum(hi, price) - np.maximum(lo, band_lo), 0.0, None) / width
    above = np.clip(np.minimum(hi, band_hi) - np.maximum(lo, price), 0.0, None) / width
    return float(np.nansum(long_usd * below) + np.nansum(short_usd * above))
