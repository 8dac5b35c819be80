"""A deterministic perpetual-futures market simulator that produces leverage flushes.

Design (DOMAIN.md sections in brackets):

* **spot and perp tied by arbitrage**: spot (the index) follows noise plus the scenario's
  exogenous path; the perp follows its own order flow through the liquidity provider's book
  and is pulled toward the He–Manela–Ross–von Wachter no-arbitrage price
  ``F = κ/(κ − r_a + r_b)·S`` (§2.1), the arbitrageur's hedge moving spot a little (:mod:`.market`);
* **funding** from the averaged premium with Binance's clamp
  ``F = P + clamp(I − P, −0.05 %, +0.05 %)`` per 8 h and the cap (§5.1, §2.4);
* **traders** (:mod:`.agents`): leveraged cohorts with a documented leverage prior capped by
  the tiers, momentum chasing, crowding before the shock and near obvious (round) levels,
  stops just beyond obvious levels, loss cutting below 50x, a small 75-125x stream;
* **liquidity provider** (:mod:`.book`): depth per level (flat near the touch + the V-shaped
  latent book of the square-root law, §4.1), thinner off-peak, retreating when volatility
  rises (§3.4); market orders walk it;
* **exchange** (:mod:`.engine`): the exact Binance isolated liquidation price for the tier
  (:mod:`flushwatch.analytics.mechanics`, §5.1), triggered by the mark price, filled at the
  bankruptcy price through the book, insurance fund, an exact cash ledger; ADL is not
  simulated (the shortfall it would cover is counted);
* **open interest** from positions: every trader's counterparty is the LP, so
  OI = Σ long sizes = Σ short sizes at every minute.

Scenarios (:mod:`.scenarios`): reset, trend, squeeze, calm. Output (:mod:`.records`): the
product's own records with ``exchange = "simulated"``.
"""

from __future__ import annotations

from flushwatch.sim.compare import FlushFacts, flush_facts
from flushwatch.sim.market import SimResult, simulate
from flushwatch.sim.params import SimParams
from flushwatch.sim.records import EXCHANGE, parsed_from_result, write_result
from flushwatch.sim.scenarios import SCENARIOS, scenario_params

__all__ = [
    "EXCHANGE",
    "SCENARIOS",
    "FlushFacts",
    "SimParams",
    "SimResult",
    "flush_facts",
    "parsed_from_result",
    "scenario_params",
    "simulate",
    "write_result",
]
