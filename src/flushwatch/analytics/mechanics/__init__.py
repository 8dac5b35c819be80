"""Exact exchange mechanics: leverage tiers, liquidation and bankruptcy prices, funding.

Pure functions (no I/O, no clock); formulas and sources in DOMAIN.md §5 and in each module:
:mod:`.tiers` (tier tables, maintenance margin), :mod:`.binance`, :mod:`.bybit`, :mod:`.okx`,
:mod:`.hyperliquid` (liquidation and bankruptcy prices), :mod:`.funding` (funding rates).
"""

from __future__ import annotations

from flushwatch.analytics.mechanics import binance, bybit, funding, hyperliquid, okx
from flushwatch.analytics.mechanics.binance import (
    isolated_liq_price_array,
    isolated_liq_price_margin_array,
)
from flushwatch.analytics.mechanics.binance import (
    liquidation_price as binance_liquidation_price,
)
from flushwatch.analytics.mechanics.bybit import liquidation_price as bybit_liquidation_price
from flushwatch.analytics.mechanics.hyperliquid import (
    HYPERLIQUID_BTC,
    HYPERLIQUID_ETH,
    HYPERLIQUID_SOL,
    margin_tiers,
)
from flushwatch.analytics.mechanics.hyperliquid import (
    liquidation_price as hyperliquid_liquidation_price,
)
from flushwatch.analytics.mechanics.okx import liquidation_price as okx_liquidation_price
from flushwatch.analytics.mechanics.result import LiqResult, MarginMode, Side
from flushwatch.analytics.mechanics.tiers import (
    BINANCE_BTCUSDT_2021,
    Tier,
    TierError,
    TierIterationError,
    TierTable,
    cum_recursion,
    tier_table_from_document,
)

__all__ = [
    "BINANCE_BTCUSDT_2021",
    "HYPERLIQUID_BTC",
    "HYPERLIQUID_ETH",
    "HYPERLIQUID_SOL",
    "LiqResult",
    "MarginMode",
    "Side",
    "Tier",
    "TierError",
    "TierIterationError",
    "TierTable",
    "binance",
    "binance_liquidation_price",
    "bybit",
    "bybit_liquidation_price",
    "cum_recursion",
    "funding",
    "hyperliquid",
    "hyperliquid_liquidation_price",
    "isolated_liq_price_array",
    "isolated_liq_price_margin_array",
    "margin_tiers",
    "okx",
    "okx_liquidation_price",
    "tier_table_from_document",
]
