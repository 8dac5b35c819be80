"""Funding rates from the premium index: clamps, caps, interval rules, annualisation.

Sources (DOMAIN.md §2.4, §5.1–5.4):

* Binance (FAQ *Introduction to Binance Futures Funding Rates*)::

      P_i = [max(0, ImpactBid − Index) − max(0, Index − ImpactAsk)] / Index
      F   = P + clamp(I − P, −0.05 %, +0.05 %)            I = 0.01 % per 8 h by default
      from 2025-09-18: F = [P + clamp(I − P, ±0.05 %)] / (8 / N),  N = interval hours
      capped F = clamp(F, −k·MMR₁, +k·MMR₁)  (k = 0.75 historically, 1 since Nov 2021;
      some symbols have explicit caps; live values in /fapi/v1/fundingInfo)

* Bybit: the same clamp on a linearly weighted average premium, weights 1..n.
* OKX: F = clamp(mean(premium index − 0), floor, cap), premium from the mid, no interest leg.
* Hyperliquid: F_8h = P + clamp(0.0001 − P, ±0.0005), paid hourly at F_8h/8, capped 4 %/h.

Rates are fractions per funding interval (0.0001 = 0.01 %). Inputs broadcast as numpy arrays.
"""

from __future__ import annotations

import numpy as np

from flushwatch.analytics.market import F64
from flushwatch.errors import ConfigError

#: Default interest leg, per 8 hours (Binance, Bybit, Hyperliquid).
DEFAULT_INTEREST_8H = 0.0001
#: Clamp on (I − P), per 8 hours.
CLAMP_8H = 0.0005
#: Funding intervals the venues use, in hours.
VALID_INTERVALS_H = (1.0, 2.0, 4.0, 8.0)
#: Binance cap multiplier on the first tier's maintenance rate since Nov 2021 (0.75 before).
BINANCE_CAP_K = 1.0
#: Hyperliquid hourly cap.
HYPERLIQUID_HOURLY_CAP = 0.04
#: OKX caps per funding interval quoted on the help page (as read; per symbol, may change).
OKX_CAP_BTC = 0.00375
OKX_CAP_MAJORS = 0.0075
OKX_CAP_OTHERS = 0.015


def check_interval(interval_h: float) -> float:
    """Reject a funding interval no venue uses (1, 2, 4 or 8 hours)."""
    if interval_h not in VALID_INTERVALS_H:
        raise ConfigError(f"funding interval {interval_h:g} h is not one of 1, 2, 4, 8")
    return float(interval_h)


def premium_index(impact_bid: F64, impact_ask: F64, index: F64) -> F64:
    """Binance/Hyperliquid premium: how far the impact bid/ask sit outside the index.

    Examples
    --------
    >>> import numpy as np
    >>> premium_index(np.array([100.2]), np.array([100.3]), np.array([100.0]))
    array([0.002])
    """
    ib, ia, ix = (np.asarray(a, np.float64) for a in (impact_bid, impact_ask, index))
    out: F64 = (np.maximum(0.0, ib - ix) - np.maximum(0.0, ix - ia)) / ix
    return out


def linear_weighted_average(premiums: F64) -> float:
    """Bybit's average premium: weights 1..n, the latest sample weighing most."""
    p = np.asarray(premiums, np.float64)
    w = np.arange(1, p.shape[0] + 1, dtype=np.float64)
    return float((w * p).sum() / w.sum())


def clamp_funding(
    avg_premium: F64 | float,
    *,
    interest: float = DEFAULT_INTEREST_8H,
    clamp: float = CLAMP_8H,
) -> F64:
    """F = P + clamp(I − P, −c, +c): the interest leg pulls F to I while |P − I| ≤ c.

    Examples
    --------
    >>> import numpy as np
    >>> clamp_funding(np.array([0.0, 0.0003, 0.002, -0.002])) * 1e4  # in basis points
    array([  1.,   1.,  15., -15.])
    """
    p = np.asarray(avg_premium, np.float64)
    out: F64 = p + np.clip(interest - p, -clamp, clamp)
    return out


def binance_funding_rate(
    avg_premium: F64 | float,
    *,
    interval_h: float = 8.0,
    interest_8h: float = DEFAULT_INTEREST_8H,
    cap: float | None = None,
    floor: float | None = None,
    scale_to_interval: bool = True,
) -> F64:
    """Binance funding per settlement, with the 2025 interval scaling and the symbol cap.

    ``scale_to_interval=False`` reproduces the rule before 2025-09-18 (no division by 8/N).
    ``cap``/``floor`` default to ±cap when only ``cap`` is given; see :func:`binance_cap`.
    """
    n = check_interval(interval_h)
    f = clamp_funding(avg_premium, interest=interest_8h, clamp=CLAMP_8H)
    if scale_to_interval:
        f = f / (8.0 / n)
    if cap is not None:
        lo = -cap if floor is None else floor
        f = np.clip(f, lo, cap)
    return f


def binance_cap(first_tier_mmr: float, k: float = BINANCE_CAP_K) -> float:
    """Binance funding cap = k × maintenance rate of the first (max-leverage) tier."""
    return k * first_tier_mmr


def bybit_funding_rate(
    premiums: F64,
    *,
    interest_8h: float = DEFAULT_INTEREST_8H,
    cap: float | None = None,
) -> float:
    """Bybit funding for one interval from its minute premium samples (linear weights)."""
    f = float(clamp_funding(linear_weighted_average(premiums), interest=interest_8h))
    if cap is not None:
        f = min(max(f, -cap), cap)
    return f


def okx_funding_rate(premiums: F64, *, cap: float = OKX_CAP_OTHERS) -> float:
    """OKX funding: the average mid-premium over the interval, clamped to ±cap (no interest)."""
    p = np.asarray(premiums, np.float64)
    return float(np.clip(p.mean(), -cap, cap))


def hyperliquid_hourly_rate(avg_premium: F64 | float) -> F64:
    """Hyperliquid hourly funding: the 8-h clamp formula divided by 8, capped at 4 %/h."""
    f8 = clamp_funding(avg_premium, interest=DEFAULT_INTEREST_8H, clamp=CLAMP_8H)
    out: F64 = np.clip(f8 / 8.0, -HYPERLIQUID_HOURLY_CAP, HYPERLIQUID_HOURLY_CAP)
    return out


def annualize(rate: F64 | float, interval_h: float, *, compound: bool = False) -> F64:
    """Annualised funding: rate × 8760/h (simple) or (1 + rate)^(8760/h) − 1 (compounded).

    Examples
    --------
    >>> round(float(annualize(0.0001, 8.0)), 4)
    0.1095
    >>> round(float(annualize(0.0001, 8.0, compound=True)), 4)
    0.1157
    """
    if not interval_h > 0:
        raise ConfigError(f"funding interval must be > 0 hours, not {interval_h:g}")
    periods = 8760.0 / interval_h
    r = np.asarray(rate, np.float64)
    out: F64 = np.power(1.0 + r, periods) - 1.0 if compound else r * periods
    return out


def funding_payment(mark: F64 | float, size: F64 | float, rate: F64 | float) -> F64:
    """Payment from longs to shorts (negative: shorts pay): mark × size × rate."""
    out: F64 = np.asarray(mark, np.float64) * np.asarray(size, np.float64) * rate
    return out
