"""The risk box (three invalidation rules) and the verdict on a flush, with its confidence.

Risk box (``fired=None`` with evidence "not available: ..." when an input is missing):

1. ``oi_reloaded_into_weakness``: OI regains ≥ ``oi_reload_pct`` % of what the flush removed
   within ``oi_reload_hours`` while price does not close back above the prior high (highest high
   of the ``prior_high_hours`` before the event) within ``price_window_hours``. After a short
   squeeze OI piling back in is weakness only if price ends that window back below the prior
   high the squeeze broke; a squeeze that holds above it is the clean case.
2. ``funding_without_spot_demand``: checklist funding is ``stays_elevated`` or ``rebounding``
   and ``spot_vs_perp`` is not ``spot_led``. Funding not elevated → not fired whatever spot did.
3. ``btc_support_lost``: a key BTC support (any level kind; round numbers only on the major
   step) is in state ``lost`` (broken and not reclaimed). After a short squeeze the rule is
   mirrored like the checklist's levels item
   (:func:`~flushwatch.analytics.checklist.judged_supports`): the levels the squeeze broke on
   the way up (between its base, the flush low, and the post-squeeze close) were resistances,
   and falling back through them is the squeeze fading, not BTC losing support; only the base
   and the supports below it count. A squeeze that holds above what it broke is the clean
   case; one that falls back below its base and the prior support is the failure (row 2).

Decision table (first matching row wins):

====  ==================================================  ==============================
row   condition                                           verdict
====  ==================================================  ==============================
1     weighted input coverage < ``min_coverage``          inconclusive (too few inputs)
2     rule 3 fired, or the asset lost its flush low       flush_turning_into_trend
3     rule 1 or rule 2 fired                              re_leveraging_into_weakness
4     good weight ≥ ``clean_good_share`` × available      clean_reset
5     otherwise                                           inconclusive (mixed signals)
====  ==================================================  ==============================

Confidence: each checklist item has a weight (OI and funding 3, asset and BTC levels 2, the
rest 1, book 0.5). With ``avail`` the weight of items that were computed (not
``not_available`` or ``pending``) and ``good``/``bad`` the weights by signal,
``confidence = (avail − min(good, bad)) / total``. It starts from the available share and
drops with the weight on the minority side of a conflict. Removing an input never raises it:
``avail`` falls by the item's weight ``w`` and ``min(good, bad)`` by at most ``w``.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.checklist import ChecklistParams, judged_supports, oi_regain
from flushwatch.analytics.levels import event_indices
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import (
    CheckItem,
    FlushEvent,
    KeyLevel,
    RuleResult,
    Verdict,
    VerdictName,
)
from flushwatch.domain.numbers import pct as num_pct

__all__ = ["VerdictParams", "item_weights", "risk_box", "verdict"]

_UNAVAILABLE = ("not_available", "pending")
RuleName = Literal["oi_reloaded_into_weakness", "funding_without_spot_demand", "btc_support_lost"]


#: A verdict weight: zero switches an item off; a negative one would reward a bad signal.
Weight = Annotated[float, msgspec.Meta(ge=0)]


class VerdictParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds of the risk box and weights of the verdict."""

    oi_reload_pct: Annotated[
        float,
        msgspec.Meta(ge=0, description="OI back to ≥ this % of the flushed amount = reloaded"),
    ] = 90.0
    oi_reload_hours: Annotated[
        float,
        msgspec.Meta(gt=0, description="'Quickly' for the OI reload rule, hours after the event"),
    ] = 48.0
    prior_high_hours: Annotated[
        float,
        msgspec.Meta(gt=0, description="Prior high = highest high over these hours before it"),
    ] = 24.0
    price_window_hours: Annotated[
        float,
        msgspec.Meta(gt=0, description="Hours after the event price has to reclaim the prior high"),
    ] = 72.0
    round_major_pct: Annotated[
        float, msgspec.Meta(gt=0, description="Round BTC supports count only on this major step")
    ] = 10.0
    min_coverage: Annotated[
        float,
        msgspec.Meta(ge=0, le=1, description="Below this weighted share of inputs: inconclusive"),
    ] = 0.4
    clean_good_share: Annotated[
        float,
        msgspec.Meta(
            ge=0, le=1, description="Share of available weight that must be good for clean"
        ),
    ] = 0.5
    w_oi_rebuild: Annotated[Weight, msgspec.Meta(description="Weight of OI rebuild")] = 3.0
    w_funding: Annotated[Weight, msgspec.Meta(description="Weight of the funding path")] = 3.0
    w_levels_asset: Annotated[Weight, msgspec.Meta(description="Weight of asset levels")] = 2.0
    w_levels_btc: Annotated[Weight, msgspec.Meta(description="Weight of BTC levels")] = 2.0
    w_levels_eth: Annotated[Weight, msgspec.Meta(description="Weight of ETH levels")] = 1.0
    w_basis: Annotated[Weight, msgspec.Meta(description="Weight of basis compression")] = 1.0
    w_spot_vs_perp: Annotated[Weight, msgspec.Meta(description="Weight of spot/perp flow")] = 1.0
    w_spot_held: Annotated[Weight, msgspec.Meta(description="Weight of spot vs perp move")] = 1.0
    w_book: Annotated[Weight, msgspec.Meta(description="Weight of book recovery")] = 0.5


def item_weights(p: VerdictParams) -> dict[str, float]:
    """Return the weight of each checklist item by name (the denominator of confidence)."""
    return {
        name: float(getattr(p, f"w_{name}"))
        for name in (
            "oi_rebuild",
            "funding",
            "basis",
            "spot_vs_perp",
            "spot_held",
            "levels_asset",
            "levels_btc",
            "levels_eth",
            "book",
        )
    }


def _by_name(checklist: list[CheckItem]) -> dict[str, CheckItem]:
    return {item.name: item for item in checklist}


def _rule_oi(m: MarketSeries, event: FlushEvent, p: VerdictParams) -> RuleResult:
    name: RuleName = "oi_reloaded_into_weakness"
    cp = ChecklistParams(window_hours=p.oi_reload_hours, pre_hours=p.prior_high_hours)
    start, end = event_indices(m, event)
    if end >= m.n - 1:
        return RuleResult(
            name=name, fired=None, evidence=["not available: no bars after the flush"]
        )
    r = oi_regain(m, event, cp)
    if r is None:
        return RuleResult(name=name, fired=None, evidence=["not available: open interest"])
    pre = slice(max(0, start - hours_to_bars(p.prior_high_hours, m.step_s, at_least=1)), start)
    post = m.close[
        end + 1 : min(end + hours_to_bars(p.price_window_hours, m.step_s, at_least=1), m.n - 1) + 1
    ]
    squeeze = event.kind == "short_squeeze"
    ref_series = m.high[pre]
    if not np.any(np.isfinite(ref_series)) or not np.any(np.isfinite(post)):
        return RuleResult(name=name, fired=None, evidence=["not available: prices around flush"])
    ref = float(np.nanmax(ref_series))
    if squeeze:  # weakness after a squeeze: OI piles back in while price sinks under what it
        # broke (the prior high); a squeeze that holds above it is the clean case, not this
        best = float(post[np.isfinite(post)][-1])
        reclaimed = best >= ref
    else:
        best = float(np.nanmax(post))
        reclaimed = best > ref
    reloaded = r.flushed > 0 and r.regained_pct_max >= p.oi_reload_pct
    label = "prior high"
    within = f"within {p.oi_reload_hours:.0f}h (rule: ≥ {p.oi_reload_pct:.0f}% regained)"
    if r.flushed <= 0:
        oi_txt = "OI did not fall during the event: nothing to reload"
    elif r.regained_pct_max < 0:  # never back to the post-flush level: it kept falling
        below = -r.regained_pct_max * r.flushed / r.trough if r.trough > 0 else None
        oi_txt = f"OI kept falling: at best {num_pct(below)} below the flush's low {within}"
    else:
        oi_txt = f"OI regained {r.regained_pct_max:.0f}% of the flushed amount {within}"
    evidence = [
        oi_txt,
        (
            f"close at the end of the window {best:,.6g} vs {label} {ref:,.6g}: "
            + ("held above it" if reclaimed else "back below it")
            if squeeze
            else f"best close after the flush {best:,.6g} vs {label} {ref:,.6g}: "
            + ("reclaimed" if reclaimed else "not reclaimed")
        ),
    ]
    return RuleResult(name=name, fired=bool(reloaded and not reclaimed), evidence=evidence)


def _rule_funding(items: dict[str, CheckItem]) -> RuleResult:
    name: RuleName = "funding_without_spot_demand"
    funding, spot = items.get("funding"), items.get("spot_vs_perp")
    if funding is None or funding.state in _UNAVAILABLE:
        return RuleResult(name=name, fired=None, evidence=["not available: funding"])
    if funding.state not in ("stays_elevated", "rebounding"):
        return RuleResult(name=name, fired=False, evidence=[funding.sentence])
    if spot is None or spot.state in _UNAVAILABLE:
        evidence = [funding.sentence, "not available: spot vs perp volume"]
        return RuleResult(name=name, fired=None, evidence=evidence)
    return RuleResult(
        name=name, fired=spot.state != "spot_led", evidence=[funding.sentence, spot.sentence]
    )


def _rule_btc(btc_levels: list[KeyLevel], p: VerdictParams, squeeze: bool) -> RuleResult:
    name: RuleName = "btc_support_lost"
    if not btc_levels:
        return RuleResult(name=name, fired=None, evidence=["not available: BTC key levels"])
    supports, _ = judged_supports(btc_levels, p.round_major_pct, squeeze=squeeze)
    lost = [lv for lv in supports if lv.state == "lost"]
    if not lost:
        return RuleResult(name=name, fired=False, evidence=["BTC holds its key supports"])
    evidence = [
        f"BTC lost {lv.kind.replace('_', ' ')} {lv.price:,.6g}, not reclaimed" for lv in lost
    ]
    return RuleResult(name=name, fired=True, evidence=evidence)


def risk_box(
    m: MarketSeries,
    event: FlushEvent,
    checklist: list[CheckItem],
    btc_levels: list[KeyLevel],
    p: VerdictParams,
) -> list[RuleResult]:
    """Evaluate the three invalidation rules of the bounce narrative for one flush."""
    items = _by_name(checklist)
    squeeze = event.kind == "short_squeeze"
    return [_rule_oi(m, event, p), _rule_funding(items), _rule_btc(btc_levels, p, squeeze)]


def _confidence(items: dict[str, CheckItem], weights: dict[str, float]) -> tuple[float, ...]:
    total = sum(weights.values())
    avail = good = bad = 0.0
    for name, weight in weights.items():
        item = items.get(name)
        if item is None or item.state in _UNAVAILABLE:
            continue
        avail += weight
        good += weight if item.signal == "good" else 0.0
        bad += weight if item.signal == "bad" else 0.0
    conf = (avail - min(good, bad)) / total if total > 0 else 0.0
    return min(max(conf, 0.0), 1.0), avail / total if total > 0 else 0.0, avail, good, bad


def verdict(checklist: list[CheckItem], rules: list[RuleResult], p: VerdictParams) -> Verdict:
    """Turn the checklist and the risk box into one verdict with an honest confidence."""
    items = _by_name(checklist)
    weights = item_weights(p)
    conf, coverage, avail, good, bad = _confidence(items, weights)
    missing = [n for n in weights if n not in items or items[n].state in _UNAVAILABLE]
    fired = {r.name: r for r in rules if r.fired}
    asset = items.get("levels_asset")
    flush_low_lost = asset is not None and asset.state == "flush_low_lost"
    name: VerdictName
    reasons = [f"Rule {name} fired: " + "; ".join(r.evidence) for name, r in fired.items()]
    if coverage < p.min_coverage:
        name = "inconclusive"
        reasons.insert(0, f"Too few inputs: {coverage:.0%} of the checklist weight available.")
    elif "btc_support_lost" in fired or flush_low_lost:
        name = "flush_turning_into_trend"
        if flush_low_lost and asset is not None:
            reasons.append(asset.sentence)
    elif fired:
        name = "re_leveraging_into_weakness"
    elif good >= p.clean_good_share * avail and good > 0:
        name = "clean_reset"
        reasons += [i.sentence for i in checklist if i.signal == "good"]
    else:
        name = "inconclusive"
        reasons.insert(0, f"Mixed signals: good weight {good:g}, bad weight {bad:g}.")
    if name != "clean_reset":
        reasons += [
            i.sentence for i in checklist if i.signal == "bad" and i.sentence not in reasons
        ]
    return Verdict(name=name, confidence=conf, reasons=reasons, missing_inputs=missing)
