"""Parameters of the liquidation map, its price grid and its leverage distribution.

Every number here is a *prior*: the map is an estimate (see :mod:`flushwatch.analytics.liqmap`
for the model). The defaults and where they come from:

* **Leverage buckets and weights π(L)** (``leverages``, ``weights``): 2, 3, 5, 10, 20, 25, 50,
  75, 100, 125x with 10/15/20/20/12/8/7/4/3/1 %. About half the mass sits at 5x or less, as in
  Hyperliquid's public open interest by leverage (most of its OI at 0–7x, e.g. $3.7B of $7.63B
  at 3–7x; DOMAIN.md §6.2 point 2); the thinner tail at 10–100x keeps the buckets that the
  open reference implementation aoki-h-jp/py-liquidation-map uses ({10, 25, 50, 100},
  ``liqmap/mapping.py``) and that Hyblock calls "high leverage" (25/50/100x, DOMAIN.md §6.1).
* **Cap by the tier table**: a bucket above the venue's maximum leverage at the
  representative notional (Binance BTCUSDT 2021: 125x up to 50k USDT, 100x to 250k, 50x to
  1M, ...; DOMAIN.md §5.1) is moved onto that maximum, so no mass is lost.
* **Representative position notional** (``position_notional``): 10,000 USD, a retail-sized
  position in the first Binance tier; it selects the tier (MMR and maintenance amount) used by
  the exact liquidation formula. Mass is *not* counted in positions: only this choice of tier
  depends on it.
* **Grid**: ``n_bins`` linear bins from the lowest low × (1 − ``range_pct`` %) to the highest
  high × (1 + ``range_pct`` %) of the bars used, wide enough that a 2x position (liquidated
  about 50 % away) still lands inside; ``bin_width`` (absolute) or ``bin_width_pct`` (% of the
  last close) replace ``n_bins`` when set. Liquidation prices outside the grid are put into
  the edge bins.
* **Closures** (``closures``): ``pro_rata`` (default), an OI fall removes the mapped mass's
  share of it (positions opened before the window close too; otherwise a window whose OI
  ends below its start is emptied: SOL and DOGE on 2026-02-05). ``own`` takes the whole fall
  from the mapped mass (the older rule; it scores higher in sample on CoinGlass BTC, and the
  forecast's walk-forward may choose it).
* **Tiers** (:func:`tiers_for`): the table of the venue whose OI is spread where one is
  shipped (Hyperliquid BTC/ETH/SOL, DOMAIN.md §5.4), else Binance BTCUSDT 2021.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec
import numpy as np

from flushwatch.analytics.market import F64
from flushwatch.analytics.mechanics import TierTable

_MAX_BINS = 200_000  # a grid finer than this is a mistake (memory), not a wish

DEFAULT_LEVERAGES = (2.0, 3.0, 5.0, 10.0, 20.0, 25.0, 50.0, 75.0, 100.0, 125.0)
DEFAULT_WEIGHTS = (0.10, 0.15, 0.20, 0.20, 0.12, 0.08, 0.07, 0.04, 0.03, 0.01)


class LiqMapParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The documented priors of the liquidation map (see the module docstring)."""

    leverages: Annotated[
        tuple[float, ...],
        msgspec.Meta(description="Leverage buckets L; the exact formula is run for each one."),
    ] = DEFAULT_LEVERAGES
    weights: Annotated[
        tuple[float, ...],
        msgspec.Meta(description="Prior share π(L) of new notional per bucket (Hyperliquid-like)."),
    ] = DEFAULT_WEIGHTS
    position_notional: Annotated[
        float,
        msgspec.Meta(gt=0, description="Representative position (USD): picks the margin tier."),
    ] = 10_000.0
    oi_fraction: Annotated[
        float,
        msgspec.Meta(gt=0, le=1, description="Share of new OI that is leveraged and mapped."),
    ] = 1.0
    closures: Annotated[
        Literal["own", "pro_rata"],
        msgspec.Meta(
            description="OI falls close mapped mass: all of it (own) or its share (pro_rata)."
        ),
    ] = "pro_rata"
    half_life_hours: Annotated[
        float,
        msgspec.Meta(ge=0, description="Optional decay of all mass (0 = off): stale positions."),
    ] = 0.0
    n_bins: Annotated[
        int, msgspec.Meta(gt=0, description="Price bins of the map (the issue's benchmark: 2,000).")
    ] = 2000
    range_pct: Annotated[
        float,
        msgspec.Meta(gt=0, lt=100, description="Grid margin beyond the traded range: 2x fits."),
    ] = 55.0
    bin_width: Annotated[
        float, msgspec.Meta(ge=0, description="Absolute bin width; replaces n_bins when > 0.")
    ] = 0.0
    bin_width_pct: Annotated[
        float,
        msgspec.Meta(ge=0, description="Bin width in % of the last close; replaces n_bins if > 0."),
    ] = 0.0


def tiers_for(asset: str, oi_source: str | None) -> TierTable:
    """The margin tiers of the venue whose open interest the map spreads, where one is shipped.

    Hyperliquid's published BTC, ETH and SOL tables (DOMAIN.md §5.4: 40x, 25x, 20x) when the
    OI is Hyperliquid's (the source description starts with the exchange, as
    :func:`flushwatch.report.assemble.assemble` writes it); otherwise the Binance BTCUSDT
    2021 table, the only Binance table shipped (its ``source`` names it in every output).

    Examples
    --------
    >>> tiers_for("ETH", "hyperliquid perp ETH (coin units derived from USD / price)").source
    'Hyperliquid docs, trading/liquidations and trading/margin-tiers (ETH)'
    >>> tiers_for("DOGE", "hyperliquid perp DOGE").source.startswith("Binance BTCUSDT")
    True
    """
    from flushwatch.analytics.mechanics import (
        BINANCE_BTCUSDT_2021,
        HYPERLIQUID_BTC,
        HYPERLIQUID_ETH,
        HYPERLIQUID_SOL,
    )

    venue = (oi_source or "").split(" ", 1)[0].lower()
    shipped = {"BTC": HYPERLIQUID_BTC, "ETH": HYPERLIQUID_ETH, "SOL": HYPERLIQUID_SOL}
    if venue == "hyperliquid" and asset.upper() in shipped:
        return shipped[asset.upper()]
    return BINANCE_BTCUSDT_2021


def check_params(p: LiqMapParams) -> None:
    """Reject a leverage prior that cannot be used, so a typo fails before any work."""
    if len(p.leverages) == 0 or len(p.leverages) != len(p.weights):
        raise ValueError("leverages and weights must be non-empty and of the same length")
    if min(p.leverages) < 1 or min(p.weights) < 0 or sum(p.weights) <= 0:
        raise ValueError("leverages must be >= 1 and weights >= 0 with a positive sum")


def grid_edges(low: F64, high: F64, last_close: float, p: LiqMapParams) -> F64:
    """Return the bin edges for the bars used (see the module docstring for the rule)."""
    lo_px = float(np.nanmin(low)) if np.any(np.isfinite(low)) else float("nan")
    hi_px = float(np.nanmax(high)) if np.any(np.isfinite(high)) else float("nan")
    if not (math.isfinite(lo_px) and math.isfinite(hi_px)) or hi_px <= 0:
        raise ValueError("the map needs at least one bar with a finite high and low")
    lo = max(lo_px * (1.0 - p.range_pct / 100.0), 1e-12)
    hi = hi_px * (1.0 + p.range_pct / 100.0)
    width = p.bin_width
    if p.bin_width_pct > 0 and math.isfinite(last_close):
        width = last_close * p.bin_width_pct / 100.0
    n = p.n_bins if width <= 0 else math.ceil((hi - lo) / width)
    n = min(max(n, 1), _MAX_BINS)
    return np.linspace(lo, hi, n + 1)


def effective_leverage(p: LiqMapParams, tiers: TierTable) -> tuple[F64, F64]:
    """Return the leverage buckets capped by the tiers, merged, with normalised weights."""
    check_params(p)
    cap = tiers.tier_for(p.position_notional).max_leverage
    lev = np.minimum(np.asarray(p.leverages, dtype=np.float64), cap)
    w = np.asarray(p.weights, dtype=np.float64)
    uniq, inv = np.unique(lev, return_inverse=True)
    merged = np.bincount(inv, weights=w, minlength=uniq.size)
    keep = merged > 0
    return uniq[keep], merged[keep] / merged.sum()
