"""Hyperliquid margin tiers and liquidation prices (isolated and cross).

Source (DOMAIN.md §5.4): https://hyperliquid.gitbook.io/hyperliquid-docs/trading/liquidations
and /margin-tiers::

    liq_price = price − side × margin_available / position_size / (1 − l × side)
    l = mmr = 1 / (2 × max_leverage of the tier)      ("half of the initial margin at max leverage")
    margin_available = isolated_margin (or account_value) − maintenance_margin_required
    maintenance_margin = notional × mmr − deduction,  deduction by the same recursion as cum

Expanding ``margin_available`` with the entry notional shows this is exactly Binance's equation
``margin + s·Q·(P − EP) = Q·P·mmr − deduction`` (equity equals maintenance at P), so the
solver is shared and the tier is the one at the liquidation notional. freqtrade checked the
single-tier form against 196 live positions (mean deviation 0.0003 %).
"""

from __future__ import annotations

from collections.abc import Sequence

from flushwatch.analytics.mechanics.binance import solve_tiered
from flushwatch.analytics.mechanics.result import LiqResult, MarginMode, Side
from flushwatch.analytics.mechanics.tiers import TierTable

SOURCE = "Hyperliquid docs, trading/liquidations and trading/margin-tiers"


def margin_tiers(bands: Sequence[tuple[float, float]], *, source: str = "") -> TierTable:
    """Tier table from ``(lower_bound_notional, max_leverage)`` bands, mmr = 1/(2·max_lev).

    Examples
    --------
    >>> t = margin_tiers([(0, 40), (150e6, 20)])
    >>> t.tiers[1].mmr, t.tiers[1].cum
    (0.025, 1875000.0)
    """
    rows: list[tuple[float, float, float, float, float | None]] = []
    for n, (lower, lev) in enumerate(bands):
        upper = bands[n + 1][0] if n + 1 < len(bands) else float("inf")
        rows.append((lower, upper, 1.0 / (2.0 * lev), lev, None))
    return TierTable.build(rows, source=source or SOURCE)


#: Mainnet tiers as published (DOMAIN.md §5.4); check the ``meta`` endpoint for current values.
HYPERLIQUID_BTC = margin_tiers([(0, 40), (150e6, 20)], source=f"{SOURCE} (BTC)")
HYPERLIQUID_ETH = margin_tiers([(0, 25), (100e6, 15)], source=f"{SOURCE} (ETH)")
HYPERLIQUID_SOL = margin_tiers([(0, 20), (70e6, 10)], source=f"{SOURCE} (SOL)")


def liq_price_doc_form(
    side: Side, price: float, size: float, margin: float, max_leverage: float
) -> float:
    """The docs' single-tier formula, written as published (used to cross-check the solver)."""
    s = 1.0 if side == "long" else -1.0
    mm_required = price * size / max_leverage / 2.0
    margin_available = margin - mm_required
    ll = 1.0 / (2.0 * max_leverage)
    return price - s * margin_available / size / (1.0 - ll * s)


def liquidation_price(
    side: Side,
    entry: float,
    size: float,
    margin: float,
    tiers: TierTable,
    *,
    mode: MarginMode = "isolated",
) -> LiqResult:
    """Hyperliquid LP: ``margin`` is the isolated margin, or the account value in cross."""
    return solve_tiered("hyperliquid", SOURCE, side, entry, size, margin, tiers, mode=mode)
