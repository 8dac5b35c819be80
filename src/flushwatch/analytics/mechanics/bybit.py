"""Bybit liquidation and bankruptcy prices, isolated margin (USDT linear and inverse).

Sources (DOMAIN.md §5.2): Bybit help *Liquidation Price (USDT Contract)* and *Liquidation
Price Calculation under Isolated Mode (Unified Trading Account)*::

    Long:  LP = EP − (IM − MM)/Qty − ExtraMargin/Qty
    Short: LP = EP + (IM − MM)/Qty + ExtraMargin/Qty
    IM = PositionValue / Leverage,  MM = PositionValue × MMR − MM_Deduction

Unlike Binance, Bybit charges MM on the position value **at entry** (the risk-limit tier is
chosen by the position value, not by the mark), so there is no tier search: the tier at entry
is the tier at liquidation. Bybit's UTA formulas add an "estimated fee to close" to both IM
and MM; it cancels in IM − MM, so it is left out.

Bankruptcy price (Bybit help *Bankruptcy Price (USDT Contract)*): Long EP × (1 − IMR),
Short EP × (1 + IMR), IMR = 1/leverage; extra margin moves it like the liquidation price.

Inverse (coin-margined, UTA isolated)::

    Long LP  = Size×(MMR+1) / [Size/EP + Size/EP/Lev + Extra/(1+TakerFee) + MM_Deduction]
    Short LP = Size×(1−MMR) / [Size/EP − Size/EP/Lev − Extra/(1−TakerFee) − MM_Deduction]

with Size in USD contracts and the deduction in coin.
"""

from __future__ import annotations

from flushwatch.analytics.mechanics.binance import check_position
from flushwatch.analytics.mechanics.result import LiqResult, Side, side_sign
from flushwatch.analytics.mechanics.tiers import TierTable
from flushwatch.errors import ConfigError

SOURCE = (
    "Bybit help 'Liquidation Price (USDT Contract)' and 'Liquidation Price Calculation "
    "under Isolated Mode (Unified Trading Account)'"
)


def linear_isolated_liq_price(
    side: Side,
    entry: float,
    size: float,
    leverage: float,
    mmr: float,
    mm_deduction: float = 0.0,
    extra_margin: float = 0.0,
) -> float:
    """Bybit USDT-linear isolated LP for a given risk-limit tier.

    Examples
    --------
    Bybit's Example 1: long 1 BTC at 20,000 USDT, 50x, MMR 0.5 %:

    >>> linear_isolated_liq_price("long", 20_000.0, 1.0, 50.0, 0.005)
    19700.0
    """
    s = side_sign(side)
    value = size * entry
    im = value / leverage
    mm = value * mmr - mm_deduction
    return entry - s * (im - mm) / size - s * extra_margin / size


def linear_bankruptcy_price(
    side: Side, entry: float, size: float, leverage: float, extra_margin: float = 0.0
) -> float:
    """Price where the isolated margin (initial + extra) is exhausted."""
    s = side_sign(side)
    return entry * (1.0 - s / leverage) - s * extra_margin / size


def liquidation_price(
    side: Side,
    entry: float,
    size: float,
    leverage: float,
    tiers: TierTable,
    *,
    extra_margin: float = 0.0,
) -> LiqResult:
    """Bybit USDT-linear isolated LP and bankruptcy price, tier by position value at entry."""
    check_position(entry, size)
    if not leverage > 0:
        raise ConfigError(f"leverage must be > 0, not {leverage:g}")
    idx = tiers.tier_index(size * entry)
    tier = tiers.tiers[idx]
    lp = linear_isolated_liq_price(side, entry, size, leverage, tier.mmr, tier.cum, extra_margin)
    return LiqResult(
        venue="bybit",
        side=side,
        mode="isolated",
        entry=entry,
        size=size,
        notional=size * entry,
        margin=size * entry / leverage + extra_margin,
        liquidation_price=lp,
        bankruptcy_price=linear_bankruptcy_price(side, entry, size, leverage, extra_margin),
        tier=tier,
        tier_number=idx + 1,
        entry_tier=tier,
        entry_tier_number=idx + 1,
        iterations=1,
        source=SOURCE,
    )


def inverse_isolated_liq_price(
    side: Side,
    entry: float,
    contracts_usd: float,
    leverage: float,
    mmr: float,
    mm_deduction: float = 0.0,
    extra_margin: float = 0.0,
    taker_fee: float = 0.00055,
) -> float:
    """Bybit inverse (coin-margined) isolated LP, UTA formula; size in USD contracts."""
    size = contracts_usd
    if side == "long":
        den = size / entry + size / entry / leverage + extra_margin / (1 + taker_fee)
        return size * (mmr + 1) / (den + mm_deduction)
    den = size / entry - size / entry / leverage - extra_margin / (1 - taker_fee)
    return size * (1 - mmr) / (den - mm_deduction)
