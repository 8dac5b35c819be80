"""The exchange: liquidation engine, insurance fund, funding, and a cash ledger that balances.

Liquidation (Binance rules, DOMAIN.md §5.1): a position is liquidated when the **mark** price
crosses its liquidation price (the exact isolated price for its tier). Its isolated margin is
lost; the liquidation order is an IOC at the **bankruptcy price** that the engine sends into
the book; it fills at the book's average price ``fill``. The insurance fund takes the
difference ``side · qty · (fill − bankruptcy)`` — positive when the book was deep enough to
fill better than bankruptcy, negative when it paid for a fill beyond it. Auto-deleveraging is
**not simulated**: when the fund would go below zero the run counts the shortfall in
``Ledger.adl_shortfall`` (the amount ADL would have taken from profitable opposite
positions, DOMAIN.md §5.1 ADL ranking); the shipped scenarios never get there.

The counterparty of every trader is the liquidity provider (LP), whose book all market orders
walk; its inventory is minus the traders' net position, so open interest is exactly
``Σ long sizes = Σ short sizes`` with the LP counted on its side.

Cash ledger (every transfer has two sides, so ``balance()`` is zero to rounding):

* open: trader deposits margin → ``locked``;
* voluntary or stop close at ``x``: trader receives ``margin + side·qty·(x − entry)`` (a
  negative remainder is paid by the insurance fund), the LP pays the PnL;
* liquidation at ``fill``: the margin is lost, the LP pays the position's PnL at ``fill``,
  and what is left (``margin + PnL``, which equals ``side·qty·(fill − bankruptcy)``) goes to
  the insurance fund;
* funding at settlement: each position pays ``side·qty·mark·F`` from its isolated margin, the
  LP (holding the opposite net position) receives the sum.
"""

from __future__ import annotations

import msgspec
import numpy as np

from flushwatch.analytics.market import F64
from flushwatch.analytics.mechanics import TierTable
from flushwatch.sim.agents import Positions, liq_and_bankruptcy

__all__ = ["Ledger", "close_positions", "settle_funding"]


class Ledger(msgspec.Struct, kw_only=True):
    """Running cash totals of the simulated exchange (USD)."""

    deposited: float = 0.0
    paid_out: float = 0.0
    locked: float = 0.0
    lp_cash: float = 0.0
    insurance0: float = 0.0
    insurance: float = 0.0
    #: Σ margin of liquidated positions at the moment of liquidation.
    liq_margin: float = 0.0
    #: Σ PnL at the fill price of liquidated positions.
    liq_pnl: float = 0.0
    #: Σ side·qty·(fill − bankruptcy) over liquidations (the engine's insurance entries).
    liq_to_fund: float = 0.0
    #: Deficits of non-liquidation closes beyond bankruptcy, paid by the fund.
    close_deficit: float = 0.0
    adl_shortfall: float = 0.0
    funding_to_lp: float = 0.0

    def balance(self) -> float:
        """Cash in minus cash everywhere else: zero when every transfer was booked twice."""
        return (self.deposited - self.paid_out) - (
            self.locked + self.lp_cash + (self.insurance - self.insurance0)
        )


def close_positions(
    pos: Positions, idx: np.ndarray, fill: float, ledger: Ledger, *, liquidated: bool
) -> F64:
    """Close rows ``idx`` at ``fill``; book the cash; return each row's PnL at the fill."""
    side, qty, entry, margin = pos.side[idx], pos.qty[idx], pos.entry[idx], pos.margin[idx]
    pnl: F64 = side * qty * (fill - entry)
    ledger.locked -= float(margin.sum())
    ledger.lp_cash -= float(pnl.sum())
    if liquidated:
        to_fund = float((side * qty * (fill - pos.bkr[idx])).sum())
        ledger.liq_margin += float(margin.sum())
        ledger.liq_pnl += float(pnl.sum())
        ledger.liq_to_fund += to_fund
        ledger.insurance += float((margin + pnl).sum())
    else:
        equity = margin + pnl
        ledger.paid_out += float(np.maximum(equity, 0.0).sum())
        deficit = float(np.minimum(equity, 0.0).sum())
        ledger.close_deficit += deficit
        ledger.insurance += deficit
    if ledger.insurance < 0.0:
        ledger.adl_shortfall = max(ledger.adl_shortfall, -ledger.insurance)
    pos.alive[idx] = False
    return pnl


def settle_funding(
    pos: Positions, rate: float, mark: float, ledger: Ledger, tiers: TierTable
) -> None:
    """Pay funding ``rate`` at ``mark`` from isolated margins; re-price liquidations."""
    live = np.flatnonzero(pos.alive)
    if live.size == 0 or rate == 0.0:
        return
    pay = pos.side[live] * pos.qty[live] * mark * rate
    pos.margin[live] -= pay
    ledger.locked -= float(pay.sum())
    ledger.lp_cash += float(pay.sum())
    ledger.funding_to_lp += float(pay.sum())
    liq, bkr = liq_and_bankruptcy(
        pos.side[live], pos.entry[live], pos.qty[live], pos.margin[live], tiers
    )
    pos.liq[live] = liq
    pos.bkr[live] = bkr
