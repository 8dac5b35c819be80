"""Result records of the flush report; their field names are the report's JSON schema.

Values that could not be computed are ``None`` and come with a ``state`` of
``"not_available"``: a missing input is never filled with a guess.
"""

from __future__ import annotations

from typing import Literal

import msgspec

FlushKind = Literal["long_flush", "short_squeeze", "two_sided"]
LevelKind = Literal[
    "round_number",
    "prior_high",
    "prior_low",
    "swing_high",
    "swing_low",
    "volume_node",
    "flush_low",
    "flush_high",
]
LevelState = Literal["holding", "lost", "reclaimed", "not_tested"]
VerdictName = Literal[
    "clean_reset", "re_leveraging_into_weakness", "flush_turning_into_trend", "inconclusive"
]


class FlushEvent(msgspec.Struct, frozen=True, kw_only=True):
    """One detected flush: when, which side, and how big, with the numbers behind it."""

    start_ts: int
    peak_ts: int
    end_ts: int
    kind: FlushKind
    #: What found it: "liquidations" (robust burst in liquidation USD) or "price_volume"
    #: (range and volume burst; used when no liquidation series exists, lower confidence).
    detected_by: Literal["liquidations", "price_volume"]
    score: float
    liq_long_usd: float | None
    liq_short_usd: float | None
    #: True when the liquidation totals are lower bounds (throttled venue feeds).
    liq_lower_bound: bool
    oi_before_quote: float | None
    oi_after_quote: float | None
    oi_drop_quote_pct: float | None
    oi_drop_base_pct: float | None
    price_open: float
    price_close: float
    price_low: float
    price_high: float
    move_pct: float
    #: Extreme excursion beyond the close of the event, as % of the open (the wick).
    wick_pct: float
    liq_to_oi_pct: float | None
    #: Start of the flush that opened this one's episode (its own ``start_ts`` when it opened
    #: it): a flush starting within ``FlushParams.episode_gap_hours`` of the previous one's end
    #: re-flares that cascade rather than being a new one. Known when the flush starts.
    episode_start_ts: int | None = None
    #: Which flush of its episode this is: 1 opened it, 2 is its first re-flare, ...
    episode_flush: int = 1


class TrapFlag(msgspec.Struct, frozen=True, kw_only=True):
    """A pre-flush condition evaluated at one time."""

    name: Literal["oi_elevated", "funding_overheated", "crowded_above_level"]
    ts: int
    value: float | None
    threshold: float
    fired: bool
    sentence: str


class KeyLevel(msgspec.Struct, frozen=True, kw_only=True):
    """A price level traders watch, and what price has done around it since."""

    asset: str
    price: float
    kind: LevelKind
    role: Literal["support", "resistance"]
    state: LevelState
    #: When price first closed beyond the level (lost) and back (reclaimed), if it did.
    lost_ts: int | None = None
    reclaimed_ts: int | None = None


class CheckItem(msgspec.Struct, frozen=True, kw_only=True):
    """One line of the post-flush checklist: a metric, its threshold, a state, a sentence."""

    name: str
    value: float | None
    threshold: float | None
    unit: str
    state: str
    #: "good" supports a clean reset, "bad" argues against it, "neutral" or "unknown".
    signal: Literal["good", "bad", "neutral", "unknown"]
    sentence: str


class RuleResult(msgspec.Struct, frozen=True, kw_only=True):
    """One invalidation rule of the risk box, with its evidence."""

    name: Literal["oi_reloaded_into_weakness", "funding_without_spot_demand", "btc_support_lost"]
    fired: bool | None  # None: could not be evaluated (inputs not available)
    evidence: list[str]


class Probability(msgspec.Struct, frozen=True, kw_only=True):
    """P(outcome) for one event, with the base rate it must beat and how it was made."""

    #: The model's probability (the base rate while too few events exist to fit it).
    p: float | None
    #: Walk-forward base rate of the outcome (Laplace-smoothed share of past positives).
    base_rate: float | None
    #: Past events with a known outcome the numbers were computed from.
    n_train: int
    #: "model" (fitted walk-forward), "vol_band" (too few events to fit; the band's own
    #: probability, new_extreme only), "base_rate" (too few events) or "not_available".
    method: str
    #: Volatility-band probability (``new_extreme`` only; random walk reaching the extreme).
    p_band: float | None = None
    #: Past flushes whose walk-forward prediction of this outcome is already scored.
    track_n: int = 0
    #: Did those predictions beat the base rate (block-bootstrap CI of the Brier difference
    #: below zero)? None: too few to tell.
    beats_base_rate: bool | None = None
    #: Which base rate: "own" (the asset's flushes only), "pooled" (every asset's; this one
    #: has none yet) or "shrunk" (the asset's, shrunk toward the pool); None: no base rate.
    rate_source: str | None = None
    #: The model's walk-forward record was worse than the base rate: ``p`` is the base rate.
    fell_back: bool = False


class Verdict(msgspec.Struct, frozen=True, kw_only=True):
    """The conclusion, how sure it is, and why."""

    name: VerdictName
    confidence: float
    reasons: list[str]
    missing_inputs: list[str]
    #: Walk-forward probabilities of concrete outcomes by id (``new_extreme_3d``, ...), each
    #: with the base rate it must beat; empty where the report does not judge a flush.
    probabilities: dict[str, Probability] = msgspec.field(default_factory=dict)
