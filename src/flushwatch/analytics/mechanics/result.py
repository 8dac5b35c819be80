"""What a liquidation-price calculation returns, the same shape for every venue."""

from __future__ import annotations

from typing import Literal

import msgspec

from flushwatch.analytics.mechanics.tiers import Tier

Side = Literal["long", "short"]
MarginMode = Literal["isolated", "cross"]


def side_sign(side: Side) -> float:
    """+1 for a long, −1 for a short (the ``Side1BOTH`` of Binance's formula)."""
    if side == "long":
        return 1.0
    if side == "short":
        return -1.0
    msg = f"side must be 'long' or 'short', not {side!r}"
    raise ValueError(msg)


class LiqResult(msgspec.Struct, frozen=True, kw_only=True):
    """Liquidation and bankruptcy price of one position, with the tier that produced them."""

    venue: str
    side: Side
    mode: MarginMode
    entry: float
    size: float  #: base units (contracts × contract size)
    notional: float  #: size × entry, quote units
    margin: float  #: isolated margin, or the cross wallet balance used
    liquidation_price: float  #: ≤ 0 for a long that cannot be liquidated
    bankruptcy_price: float  #: where the margin (plus PnL) is exhausted
    tier: Tier  #: tier applied (at the liquidation price where the venue says so)
    tier_number: int  #: 1-based
    entry_tier: Tier  #: tier of the notional at entry
    entry_tier_number: int
    iterations: int  #: tier re-evaluations until the fixed point (1 = the entry tier held)
    source: str  #: where the formula comes from

    @property
    def tier_changed(self) -> bool:
        """Whether the tier at the liquidation price differs from the tier at entry."""
        return self.tier_number != self.entry_tier_number

    @property
    def distance_pct(self) -> float:
        """Signed move from entry to the liquidation price, in percent of entry."""
        return (self.liquidation_price / self.entry - 1.0) * 100.0
