"""Binance USDⓈ-M liquidation and bankruptcy prices (one-way mode, isolated and cross).

Source: Binance FAQ *How to Calculate Liquidation Price of USDⓈ-M Futures Contracts*
(https://www.binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93), DOMAIN.md §5.1.
For one position in one-way mode the general formula reduces to::

    LP = (WB − TMM1 + UPNL1 + cum − s·Q·EP) / (Q·MMR − s·Q)        s = +1 long, −1 short

WB is the isolated margin (isolated) or the cross wallet balance (cross); TMM1 and UPNL1 are the
maintenance margin and unrealised PnL of the *other* contracts (0 in isolated mode). It is the
price P where ``WB − TMM1 + UPNL1 + s·Q·(P − EP) = Q·P·MMR − cum``: equity equals maintenance.

**The tier is the one of the notional at the liquidation price** (``Q × LP``), not at entry:
compute with the entry tier, look up the tier at the result, redo until it stops changing.
Since MM is continuous and convex in notional (:mod:`.tiers`), each redo moves LP monotonically
toward the unique root (up for a long, down for a short), so the iteration ends in at most
one pass per tier; a table that does not (an inconsistent ``cum``) raises
:class:`~flushwatch.analytics.mechanics.tiers.TierIterationError`.

Bankruptcy price: where ``WB + UPNL1 + s·Q·(P − EP) = 0``; Binance fills liquidation orders
there (IOC), the insurance fund keeps the difference.
"""

from __future__ import annotations

import numpy as np

from flushwatch.analytics.market import F64
from flushwatch.analytics.mechanics.result import LiqResult, MarginMode, Side, side_sign
from flushwatch.analytics.mechanics.tiers import TierIterationError, TierTable
from flushwatch.errors import ConfigError

SOURCE = (
    "Binance FAQ 'How to Calculate Liquidation Price of USDⓈ-M Futures Contracts' "
    "(binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93)"
)


def liq_price_formula(
    side: Side,
    entry: float,
    size: float,
    wallet: float,
    mmr: float,
    cum: float,
    *,
    other_maintenance: float = 0.0,
    other_upnl: float = 0.0,
) -> float:
    """Binance one-way LP for a given tier (MMR, cum): the FAQ formula, no tier search.

    Examples
    --------
    The FAQ's isolated BTCUSDT example (as in freqtrade's tests):

    >>> round(liq_price_formula("long", 32481.98, 109.488, 1535443.01, 0.025, 16300.0), 2)
    18778.73
    """
    s = side_sign(side)
    num = wallet - other_maintenance + other_upnl + cum - s * size * entry
    return num / (size * mmr - s * size)


def bankruptcy_price(
    side: Side, entry: float, size: float, wallet: float, *, other_upnl: float = 0.0
) -> float:
    """Price where the position's margin (plus other contracts' PnL in cross) is gone."""
    return entry - side_sign(side) * (wallet + other_upnl) / size


def liquidation_price(
    side: Side,
    entry: float,
    size: float,
    wallet: float,
    tiers: TierTable,
    *,
    mode: MarginMode = "isolated",
    other_maintenance: float = 0.0,
    other_upnl: float = 0.0,
) -> LiqResult:
    """Binance one-way LP with the tier at the liquidation price (fixed-point iteration).

    ``wallet`` is the isolated margin (initial + added) in isolated mode and the cross wallet
    balance in cross mode; ``other_*`` describe the account's other contracts (cross only).

    Examples
    --------
    >>> from flushwatch.analytics.mechanics.tiers import BINANCE_BTCUSDT_2021
    >>> r = liquidation_price("long", 32481.98, 109.488, 1535443.01, BINANCE_BTCUSDT_2021)
    >>> round(r.liquidation_price, 2), r.tier_number
    (18778.73, 4)
    """
    return solve_tiered(
        "binance",
        SOURCE,
        side,
        entry,
        size,
        wallet,
        tiers,
        mode=mode,
        other_maintenance=other_maintenance,
        other_upnl=other_upnl,
    )


def solve_tiered(
    venue: str,
    source: str,
    side: Side,
    entry: float,
    size: float,
    wallet: float,
    tiers: TierTable,
    *,
    mode: MarginMode = "isolated",
    other_maintenance: float = 0.0,
    other_upnl: float = 0.0,
) -> LiqResult:
    """Solve equity = MM(notional at P) by re-picking the tier at the result until stable.

    Shared by every venue whose maintenance margin is charged on the mark-price notional with
    a continuous tier schedule (Binance, Hyperliquid).
    """
    check_position(entry, size)
    if wallet < 0:
        raise ConfigError(f"wallet/margin must be ≥ 0, not {wallet:g}")
    if mode == "isolated" and (other_maintenance != 0.0 or other_upnl != 0.0):
        raise ConfigError("other contracts' maintenance and PnL apply in cross mode only")
    entry_idx = tiers.tier_index(size * entry)
    idx = entry_idx
    for iteration in range(1, len(tiers) + 2):
        tier = tiers.tiers[idx]
        lp = liq_price_formula(
            side,
            entry,
            size,
            wallet,
            tier.mmr,
            tier.cum,
            other_maintenance=other_maintenance,
            other_upnl=other_upnl,
        )
        new_idx = tiers.tier_index(size * max(lp, 0.0))
        if new_idx == idx:
            return LiqResult(
                venue=venue,
                side=side,
                mode=mode,
                entry=entry,
                size=size,
                notional=size * entry,
                margin=wallet,
                liquidation_price=lp,
                bankruptcy_price=bankruptcy_price(side, entry, size, wallet, other_upnl=other_upnl),
                tier=tier,
                tier_number=idx + 1,
                entry_tier=tiers.tiers[entry_idx],
                entry_tier_number=entry_idx + 1,
                iterations=iteration,
                source=source,
            )
        idx = new_idx
    raise TierIterationError(
        f"the tier at the liquidation price did not settle after {len(tiers) + 1} passes; "
        "the tier table is inconsistent"
    )


def isolated_liq_price_array(
    side: Side, entry: F64, leverage: F64, notional: F64, tiers: TierTable
) -> F64:
    """Binance isolated LP per position, margin = notional / leverage, tier at the LP.

    Inputs broadcast together; a long whose result is ≤ 0 cannot be liquidated (e.g. 1x).
    NaN inputs give NaN.

    Examples
    --------
    >>> import numpy as np
    >>> from flushwatch.analytics.mechanics.tiers import BINANCE_BTCUSDT_2021 as T
    >>> lp = isolated_liq_price_array("long", np.array([100.0]), np.array([10.0]),
    ...                               np.array([10_000.0]), T)
    >>> round(float(lp[0]), 4)
    90.3614
    """
    e, lev, n = np.broadcast_arrays(
        np.asarray(entry, np.float64),
        np.asarray(leverage, np.float64),
        np.asarray(notional, np.float64),
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        return isolated_liq_price_margin_array(side, e, n / e, n / lev, tiers)


def isolated_liq_price_margin_array(
    side: Side, entry: F64, size: F64, margin: F64, tiers: TierTable
) -> F64:
    """Binance isolated LP per position from size (base units) and isolated margin."""
    s = side_sign(side)
    e, q, m = np.broadcast_arrays(
        np.asarray(entry, np.float64),
        np.asarray(size, np.float64),
        np.asarray(margin, np.float64),
    )
    mmr_col, cum_col = tiers.mmr_column, tiers.cum_column
    with np.errstate(divide="ignore", invalid="ignore"):
        idx = tiers.tier_index_array(q * e)
        for _ in range(len(tiers) + 1):
            mmr, cum = mmr_col[idx], cum_col[idx]
            lp: F64 = (m + cum - s * q * e) / (q * mmr - s * q)
            new_idx = tiers.tier_index_array(q * np.maximum(lp, 0.0))
            if np.array_equal(new_idx, idx):
                return lp
            idx = new_idx
    raise TierIterationError(
        f"the tier at the liquidation price did not settle after {len(tiers) + 1} passes; "
        "the tier table is inconsistent"
    )


def check_position(entry: float, size: float) -> None:
    """Reject a non-positive entry price or size with a clear message."""
    if not (entry > 0):
        raise ConfigError(f"entry price must be > 0, not {entry:g}")
    if not (size > 0):
        raise ConfigError(f"position size must be > 0, not {size:g}")
