"""Parameters of the market simulator: one frozen struct, every field documented, typos rejected.

Units are the ones a trader uses: percent, hours, USD, positions per minute. The defaults are a
BTC-like USDT perpetual on a large venue, tuned so that the ``reset`` scenario's flush lands
within a factor of two of real BTC flushes on the stylized facts of ``flushwatch simulate
--compare`` (liquidations / OI, OI drop, wick, funding reset, OI rebuild): checked against
the CoinGlass BTC flush of 2026-02-05 by ``tests/sim/test_stylized_facts.py``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec

__all__ = ["LEVERAGE_LEVELS", "LEVERAGE_WEIGHTS", "RETAIL_LEVELS", "RETAIL_WEIGHTS", "SimParams"]

#: Leverage a new position picks (then capped by the tier of its notional).
LEVERAGE_LEVELS: tuple[float, ...] = (2.0, 3.0, 5.0, 10.0, 20.0, 25.0, 50.0, 75.0, 100.0, 125.0)
#: Prior weights of those leverages. Not measured on any venue (none publishes it): a
#: documented guess shaped like the leverage distributions liquidation-map vendors describe
#: (DOMAIN.md §6.1): most notional at 2-10x (hedged basis books and swing traders sit at
#: 2-5x), a thin 20x tail (tuned so the reset flush's liquidations / OI match real BTC);
#: the 75-125x gamblers are the separate small ``retail`` stream whose liquidations on
#: ordinary noise give the detector its background.
LEVERAGE_WEIGHTS: tuple[float, ...] = (30.0, 25.0, 25.0, 15.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0)

#: The small high-leverage stream (``retail_rate``): 75-125x, mostly the maximum.
RETAIL_LEVELS: tuple[float, ...] = (75.0, 100.0, 125.0)
RETAIL_WEIGHTS: tuple[float, ...] = (1.0, 2.0, 3.0)


def _f(description: str, **bounds: float) -> msgspec.Meta:
    meta: msgspec.Meta = msgspec.Meta(description=description, **bounds)  # type: ignore[call-overload]
    return meta


class SimParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Everything the simulator needs; a scenario is a set of overrides of these defaults."""

    symbol: str = "BTCUSDT"
    start: Annotated[str, _f("First simulated day, ISO date (UTC midnight).")] = "2026-03-02"
    seed: Annotated[int, _f("Seed of the numpy Generator: same seed, same records.")] = 7
    baseline_days: Annotated[
        int, _f("Whole days before the shock day (≥ 2: the detector's baseline).", ge=1)
    ] = 2
    hours_after: Annotated[float, _f("Hours simulated after the shock.", ge=1)] = 40.0
    shock_hour_utc: Annotated[
        float,
        _f("Time of day of the shock, UTC hours (off-peak books are thinner).", ge=0, lt=24),
    ] = 8.0
    price0: Annotated[float, _f("Spot price at the start.", gt=0)] = 66_300.0
    vol_daily_pct: Annotated[float, _f("Daily volatility of spot noise, % (BTC ≈ 2-3).")] = 2.0
    # -- the shock and what follows -------------------------------------------------------
    shock_pct: Annotated[
        float, _f("Exogenous spot move of the shock, % (negative = down, 0 = none).")
    ] = -7.0
    shock_minutes: Annotated[int, _f("Minutes over which the exogenous shock unfolds.", ge=1)] = 20
    snapback_share: Annotated[
        float,
        _f("Share of the shock spot retraces right after the low (the wick: dip buyers).", ge=0),
    ] = 0.7
    snapback_minutes: Annotated[
        float, _f("e-folding time of that snap-back, minutes (a wick inside the hour).", gt=0)
    ] = 12.0
    recovery_share: Annotated[
        float, _f("Share of the shock spot retraces afterwards (negative: keeps going).")
    ] = 0.3
    recovery_hours: Annotated[float, _f("e-folding time of that retracement, hours.", gt=0)] = 6.0
    post_drift_pct_day: Annotated[float, _f("Spot drift after the shock, % per day.")] = 0.0
    # -- traders ---------------------------------------------------------------------------
    open_rate: Annotated[
        float, _f("New position cohorts per minute (before time-of-day and regime).", gt=0)
    ] = 6.0
    notional_median_usd: Annotated[float, _f("Median notional of a new cohort.", gt=0)] = 500_000
    retail_rate: Annotated[
        float, _f("Small 75-125x cohorts per minute (the background liquidations).", ge=0)
    ] = 2.5
    retail_notional_usd: Annotated[
        float, _f("Median notional of a small high-leverage cohort.", gt=0)
    ] = 20_000
    retail_hold_hours: Annotated[
        float, _f("Mean holding time of a small high-leverage cohort.", gt=0)
    ] = 3.0
    leverage_weights: Annotated[
        tuple[float, ...],
        _f("Weights of LEVERAGE_LEVELS (2,3,5,10,20,25,50,75,100,125x) for new cohorts."),
    ] = LEVERAGE_WEIGHTS
    notional_sigma: Annotated[float, _f("Log-sd of position notionals (heavy tail).", ge=0)] = 1.0
    hold_hours: Annotated[float, _f("Mean holding time of a voluntary position.", gt=0)] = 16.0
    long_bias: Annotated[float, _f("P(long) − 0.5 in normal times.", ge=-0.45, le=0.45)] = 0.0
    crowd_bias: Annotated[
        float, _f("Extra long share while the book crowds before the shock.", ge=-0.45, le=0.45)
    ] = 0.06
    crowd_hours: Annotated[float, _f("Hours of crowding before the shock.", ge=0)] = 20.0
    crowd_rate: Annotated[float, _f("Open-rate multiplier while crowding.", ge=0)] = 1.3
    momentum: Annotated[
        float, _f("Extra P(long) per unit of recent return / its noise (chasing).", ge=0)
    ] = 0.05
    cut_loss: Annotated[
        float, _f("Loss / margin beyond which a trader below 50x may cut the position.", gt=0)
    ] = 0.4
    cut_hazard: Annotated[
        float, _f("Per-minute probability such a trader cuts (most do before liquidation).", ge=0)
    ] = 0.03
    round_step: Annotated[float, _f("Obvious levels: multiples of this price.", gt=0)] = 1000.0
    round_crowding: Annotated[
        float, _f("Open-rate boost at an obvious level (decays over 0.2 %).", ge=0)
    ] = 0.5
    stop_share: Annotated[
        float, _f("Share of new positions with a stop just beyond an obvious level.", ge=0, le=1)
    ] = 0.05
    post_open_mult: Annotated[
        float, _f("Open-rate multiplier right after the flush (burned traders).", ge=0)
    ] = 0.65
    rebuild_hours: Annotated[
        float, _f("e-folding time for the open rate to return to normal, hours.", gt=0)
    ] = 36.0
    post_bias: Annotated[
        float, _f("Long bias after the flush (dip buyers > 0).", ge=-0.45, le=0.45)
    ] = -0.02
    # -- liquidity provider, arbitrage, exchange ---------------------------------------------
    depth_usd_1pct: Annotated[
        float, _f("Perp bid (= ask) depth within 1 % of mid at peak hours, USD.", gt=0)
    ] = 150e6
    near_share: Annotated[
        float, _f("Flat part of the book profile (rest grows linearly away from mid).", ge=0, le=1)
    ] = 0.3
    spot_depth_ratio: Annotated[float, _f("Spot depth / perp depth.", gt=0)] = 0.6
    tod_amplitude: Annotated[
        float, _f("Depth swing over the day: peak × (1 ± this).", ge=0, lt=1)
    ] = 0.35
    peak_hour_utc: Annotated[float, _f("Hour of deepest books (US/EU overlap).")] = 15.0
    vol_retreat: Annotated[
        float, _f("Depth / (1 + this × excess of short vol over normal): LP retreat.", ge=0)
    ] = 0.3
    max_retreat: Annotated[
        float, _f("The LP never quotes less than this share of its normal depth.", gt=0, le=1)
    ] = 0.5
    arb_speed: Annotated[
        float, _f("Share of the basis gap to the no-arbitrage price closed per minute.", gt=0, le=1)
    ] = 0.65
    spot_arb_share: Annotated[
        float, _f("Share of each arbitrage correction that moves spot (hedges).", ge=0, le=1)
    ] = 0.15
    spot_volume_usd_min: Annotated[
        float, _f("Background spot volume per minute at peak hours, USD.", ge=0)
    ] = 1.5e6
    insurance_fund_usd: Annotated[float, _f("Insurance fund at the start, USD.", ge=0)] = 5e7
    interest_8h: Annotated[float, _f("Funding interest rate I per 8 h (Binance 0.01 %).")] = 1e-4
    funding_clamp: Annotated[float, _f("Clamp on I − P per 8 h (Binance ±0.05 %).", ge=0)] = 5e-4
    funding_cap: Annotated[
        float, _f("Cap on the rate: 0.75 × tier-1 MMR 0.4 % (DOMAIN.md §5.1).", ge=0)
    ] = 3e-3
    cascade_rounds: Annotated[
        int, _f("Liquidation rounds per minute (mark re-checked each round).", ge=1)
    ] = 6
    snapshot_minutes: Annotated[int, _f("Book snapshot / depth-band period, minutes.", ge=1)] = 5
    book_levels: Annotated[int, _f("Levels per side in each book snapshot.", ge=1)] = 50
    tick_bps: Annotated[float, _f("Spacing of snapshot levels, basis points.", gt=0)] = 2.0
    bar_minutes: Annotated[int, _f("Bar size written to the store, minutes.", ge=1)] = 5

    def __post_init__(self) -> None:
        """The leverage mix must name one weight per level, not all zero."""
        w = self.leverage_weights
        if len(w) != len(LEVERAGE_LEVELS) or min(w) < 0 or sum(w) <= 0:
            raise ValueError(
                f"leverage_weights needs {len(LEVERAGE_LEVELS)} non-negative weights, not all 0"
            )

    @property
    def minutes(self) -> int:
        """Total simulated minutes."""
        return self.shock_minute + round(self.hours_after * 60)

    @property
    def shock_minute(self) -> int:
        """Index of the shock's first minute."""
        return round((self.baseline_days * 24 + self.shock_hour_utc) * 60)
