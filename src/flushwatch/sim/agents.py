"""Leveraged traders: who opens what, at which leverage, with which stop, and for how long.

Every open position is one row of :class:`Positions` (a struct of numpy arrays, so the
liquidation engine checks all of them at once). A row is a *cohort* of similar traders, as a
liquidation map treats them (DOMAIN.md §6.2): side, entry, size, isolated margin, the exact
Binance liquidation price for its tier (:mod:`flushwatch.analytics.mechanics`), its bankruptcy
price, an optional stop and the minute it would close on its own.

How a new position is drawn (:func:`draw_positions`):

* side: long with probability ``0.5 + bias + momentum·tanh(recent return / its noise)`` —
  trend chasing (Schmeling et al., DOMAIN.md §2.3: demand for leverage comes from
  trend-chasing small investors);
* notional: log-normal (median ``notional_median_usd``, log-sd ``notional_sigma``);
* leverage: the documented prior :data:`~flushwatch.sim.params.LEVERAGE_WEIGHTS`, capped by
  the tier's maximum leverage for that notional;
* stop (share ``stop_share``): just beyond the nearest *obvious* level (a multiple of
  ``round_step``) at least 0.3 % away, 0.05-0.5 % beyond it (where everyone puts theirs),
  and only when it sits inside the liquidation price;
* holding time: exponential with mean ``hold_hours``.
"""

from __future__ import annotations

import numpy as np

from flushwatch.analytics.market import F64, I64
from flushwatch.analytics.mechanics import TierTable, isolated_liq_price_margin_array
from flushwatch.sim.params import (
    LEVERAGE_LEVELS,
    RETAIL_LEVELS,
    RETAIL_WEIGHTS,
    SimParams,
)

__all__ = ["Positions", "draw_positions", "liq_and_bankruptcy"]

_FIELDS = ("side", "entry", "qty", "margin", "liq", "bkr", "stop", "exit_min")
_STOP_GAP = 0.003  # a stop closer than 0.3 % moves to the next obvious level
#: Stops sit 0.05-0.5 % beyond the level (below a support, above a resistance): a band, not
#: a wall, as everyone has their own idea of "just below".
_STOP_OFFSET = (0.0005, 0.005)


def liq_and_bankruptcy(
    side: F64, entry: F64, qty: F64, margin: F64, tiers: TierTable
) -> tuple[F64, F64]:
    """Exact isolated liquidation and bankruptcy prices per position (DOMAIN.md §5.1)."""
    liq = np.empty_like(entry)
    for sgn, name in ((1.0, "long"), (-1.0, "short")):
        sel = side == sgn
        if sel.any():
            liq[sel] = isolated_liq_price_margin_array(
                name,  # type: ignore[arg-type]
                entry[sel],
                qty[sel],
                margin[sel],
                tiers,
            )
    bkr: F64 = entry - side * margin / qty
    return liq, bkr


class Positions:
    """Open positions as parallel arrays; closed rows are dropped by :meth:`compact`."""

    def __init__(self) -> None:
        """Start empty."""
        self.side: F64 = np.empty(0)
        self.entry: F64 = np.empty(0)
        self.qty: F64 = np.empty(0)
        self.margin: F64 = np.empty(0)
        self.liq: F64 = np.empty(0)
        self.bkr: F64 = np.empty(0)
        self.stop: F64 = np.empty(0)
        self.exit_min: F64 = np.empty(0)
        self.alive: np.ndarray = np.empty(0, dtype=bool)

    def __len__(self) -> int:
        """Rows, alive or not (until the next compaction)."""
        return int(self.side.shape[0])

    def add(self, new: dict[str, F64]) -> None:
        """Append new positions (a dict of arrays named like the fields)."""
        for name in _FIELDS:
            setattr(self, name, np.concatenate([getattr(self, name), new[name]]))
        self.alive = np.concatenate([self.alive, np.ones(new["side"].shape[0], dtype=bool)])

    def compact(self) -> None:
        """Drop closed rows (row indices change)."""
        keep = self.alive
        for name in _FIELDS:
            setattr(self, name, getattr(self, name)[keep])
        self.alive = self.alive[keep]

    def oi(self) -> tuple[float, float]:
        """Base units held long and short by traders (alive rows)."""
        q = self.qty * self.alive
        long = float(np.dot(q, self.side > 0))
        return long, float(q.sum()) - long

    def signed(self) -> float:
        """Net base units traders hold (long − short)."""
        return float(np.dot(self.side * self.qty, self.alive))


def _stops(side: F64, entry: F64, liq: F64, step: float, offset: F64) -> F64:
    below = np.floor(entry * (1 - _STOP_GAP) / step) * step * (1 - offset)
    above = np.ceil(entry * (1 + _STOP_GAP) / step) * step * (1 + offset)
    stop = np.where(side > 0, below, above)
    inside = np.where(side > 0, stop > liq, stop < liq)
    out: F64 = np.where(inside, stop, np.nan)
    return out


def draw_positions(
    rng: np.random.Generator,
    n: int,
    price: F64 | float,
    p_long: float,
    minute: int,
    p: SimParams,
    tiers: TierTable,
    *,
    retail: bool = False,
) -> dict[str, F64]:
    """Draw ``n`` new positions opened at ``price`` (see the module docstring).

    ``retail`` draws the small, very high leverage (75-125x) cohorts whose steady trickle of
    liquidations on ordinary noise is the background every real liquidation feed shows.
    """
    side = np.where(rng.random(n) < p_long, 1.0, -1.0)
    median = p.retail_notional_usd if retail else p.notional_median_usd
    notional = median * np.exp(p.notional_sigma * rng.standard_normal(n))
    levels, weights = (
        (RETAIL_LEVELS, RETAIL_WEIGHTS) if retail else (LEVERAGE_LEVELS, p.leverage_weights)
    )
    cdf = np.cumsum(weights) / sum(weights)
    pick = np.minimum(np.searchsorted(cdf, rng.random(n), side="right"), cdf.shape[0] - 1)
    lev = np.asarray(levels, np.float64)[pick]
    lev = np.minimum(lev, tiers.max_leverage_array(notional))
    entry = np.broadcast_to(np.asarray(price, np.float64), (n,)).copy()
    qty = notional / entry
    margin = notional / lev
    liq, bkr = liq_and_bankruptcy(side, entry, qty, margin, tiers)
    stop = _stops(side, entry, liq, p.round_step, rng.uniform(*_STOP_OFFSET, n))
    stop = np.where(rng.random(n) < p.stop_share, stop, np.nan)
    hours = p.retail_hold_hours if retail else p.hold_hours
    hold: I64 = np.ceil(rng.exponential(hours * 60.0, n)).astype(np.int64)
    return {
        "side": side,
        "entry": entry,
        "qty": qty,
        "margin": margin,
        "liq": liq,
        "bkr": bkr,
        "stop": stop,
        "exit_min": (minute + np.maximum(hold, 1)).astype(np.float64),
    }
