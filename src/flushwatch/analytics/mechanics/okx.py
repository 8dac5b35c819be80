"""OKX perpetual-swap liquidation and bankruptcy prices, isolated margin.

Source (DOMAIN.md §5.3): OKX help *Liquidation* / *maintenance margin ratio*: an isolated
position is liquidated when its maintenance margin ratio falls to 100 %::

    USDT-margined: (margin + PnL) / (face × |contracts| × mark × (tiered MMR + fee rate)) ≤ 1
    coin-margined: (margin + PnL) / (face × |contracts| / mark × (tiered MMR + fee rate)) ≤ 1

Solving at equality gives, with r = MMR + fee rate and s = ±1::

    linear:  LP = (s·Q·EP − margin) / (Q·(s − r))            Q in base units
    inverse: long  LP = (1 + r) / (1/EP + margin/(face·N))
             short LP = (1 − r) / (1/EP − margin/(face·N))    margin in coin, N contracts

OKX tiers are set by position *size in contracts*, which a price move does not change, and
OKX charges the tier's rate on the whole position (no deduction), so the tier at entry is the
tier at liquidation. Large positions are then reduced tier by tier; that is a process, not a
different price. Bankruptcy: margin + PnL = 0 (remainder auctioned there).
"""

from __future__ import annotations

from flushwatch.analytics.mechanics.binance import check_position
from flushwatch.analytics.mechanics.result import LiqResult, Side, side_sign
from flushwatch.analytics.mechanics.tiers import TierTable
from flushwatch.errors import ConfigError

SOURCE = "OKX help 'Liquidation' (maintenance margin ratio ≤ 100 %), isolated margin mode"
#: OKX regular-user taker fee on perpetual swaps (0.05 %), used as the liquidation fee rate.
DEFAULT_FEE_RATE = 0.0005


def linear_liq_price(
    side: Side, entry: float, size: float, margin: float, mmr: float, fee_rate: float
) -> float:
    """OKX USDT-margined isolated LP: margin + PnL = Q·P·(MMR + fee).

    Examples
    --------
    >>> round(linear_liq_price("long", 20_000.0, 1.0, 400.0, 0.004, 0.0005), 4)
    19688.5987
    """
    s = side_sign(side)
    r = mmr + fee_rate
    return (s * size * entry - margin) / (size * (s - r))


def inverse_liq_price(
    side: Side,
    entry: float,
    contracts: float,
    face_value: float,
    margin_coin: float,
    mmr: float,
    fee_rate: float,
) -> float:
    """OKX coin-margined isolated LP (face value in USD per contract, margin in coin)."""
    r = mmr + fee_rate
    k = margin_coin / (face_value * contracts)
    if side == "long":
        return (1.0 + r) / (1.0 / entry + k)
    return (1.0 - r) / (1.0 / entry - k)


def linear_bankruptcy_price(side: Side, entry: float, size: float, margin: float) -> float:
    """Price where margin + PnL = 0."""
    return entry - side_sign(side) * margin / size


def liquidation_price(
    side: Side,
    entry: float,
    size: float,
    margin: float,
    tiers: TierTable,
    *,
    fee_rate: float = DEFAULT_FEE_RATE,
) -> LiqResult:
    """OKX USDT-margined isolated LP and bankruptcy price, tier by size at entry."""
    check_position(entry, size)
    if margin < 0:
        raise ConfigError(f"margin must be ≥ 0, not {margin:g}")
    idx = tiers.tier_index(size * entry)
    tier = tiers.tiers[idx]
    return LiqResult(
        venue="okx",
        side=side,
        mode="isolated",
        entry=entry,
        size=size,
        notional=size * entry,
        margin=margin,
        liquidation_price=linear_liq_price(side, entry, size, margin, tier.mmr, fee_rate),
        bankruptcy_price=linear_bankruptcy_price(side, entry, size, margin),
        tier=tier,
        tier_number=idx + 1,
        entry_tier=tier,
        entry_tier_number=idx + 1,
        iterations=1,
        source=f"{SOURCE}; fee rate {fee_rate:.4%}",
    )
