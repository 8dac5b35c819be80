"""Evaluate alert rules on a live snapshot: pure functions, no clock, no I/O.

Each alert carries a ``key`` naming *what* it is about (rule, symbol, side, the flush's start,
the stale episode's start); the dispatcher sends one alert per key per ``repeat_after_s``.
So a rule may fire on every evaluation while its condition holds and still reach a webhook
once.

``cascade_gain_above`` reads gain profiles the caller passes in
(:func:`flushwatch.analytics.cascade_gain.cascade_gain` on a liquidation map and a depth
curve); the live state does not build a map itself, because the map needs OI history and
leverage tiers from the store. Without profiles the rule stays silent.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import msgspec

from flushwatch.alerts.config import (
    CascadeGainAbove,
    FeedStale,
    FlushDetected,
    InvalidationFired,
    LiquidationsOver,
    ProbabilityAbove,
    Rule,
)
from flushwatch.analytics.cascade_gain import GainBand, GainProfile
from flushwatch.analytics.flushes import describe_flush, episode_note
from flushwatch.analytics.outcomes import OUTCOME_TEXT
from flushwatch.analytics.results import FlushEvent, Probability
from flushwatch.domain.numbers import flush_name, odds
from flushwatch.domain.time import iso
from flushwatch.live.state import LiveSnapshot


class Alert(msgspec.Struct, frozen=True, kw_only=True):
    """One alert: what fired, about what, and a sentence a trader can act on."""

    rule: str
    kind: str
    key: str
    symbol: str
    ts: int  # ns UTC, the snapshot's event time
    title: str
    text: str
    value: float | None = None
    threshold: float | None = None


def _usd(x: float) -> str:
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.2f}{suf}"
    return f"${x:,.0f}"


def _alert(rule: Rule, s: LiveSnapshot, suffix: str, title: str, text: str, **kw: float) -> Alert:
    key = f"{rule.name}|{s.symbol}|{suffix}"
    return Alert(
        rule=rule.name,
        kind=str(rule.__struct_config__.tag),
        key=key,
        symbol=s.symbol,
        ts=s.ts,
        title=title,
        text=text,
        value=kw.get("value"),
        threshold=kw.get("threshold"),
    )


def _liquidations(rule: LiquidationsOver, s: LiveSnapshot) -> list[Alert]:
    w = s.window(rule.minutes)
    if w is None:
        return []
    value = {"long": w.long_usd, "short": w.short_usd, "total": w.total_usd}[rule.side]
    if value < rule.usd:
        return []
    floor = " (at least: the feed is throttled)" if w.lower_bound else ""
    what = "liquidations" if rule.side == "total" else f"{rule.side} liquidations"
    text = (
        f"{s.symbol}: {_usd(value)} of {what} in the last {rule.minutes} min{floor} "
        f"(rule: ≥ {_usd(rule.usd)}); longs {_usd(w.long_usd)}, shorts {_usd(w.short_usd)}."
    )
    title = f"{s.symbol} {what} over {_usd(rule.usd)}/{rule.minutes}m"
    # Keyed by side: a burst that stays over the line is one alert per repeat_after_s.
    return [_alert(rule, s, rule.side, title, text, value=value, threshold=rule.usd)]


def _flush(rule: FlushDetected, s: LiveSnapshot) -> list[Alert]:
    out = []
    for e in s.events:
        if e.score < rule.min_score:
            continue
        title = f"{s.symbol} {e.kind.replace('_', ' ')} detected"
        out.append(_alert(rule, s, str(e.start_ts), title, describe_flush(e), value=e.score))
    return out[-1:]  # the latest event only; older ones were alerted when they were new


def _invalidation(rule: InvalidationFired, s: LiveSnapshot) -> list[Alert]:
    if not s.events:
        return []
    start = s.events[-1].start_ts
    out = []
    for r in s.risk:
        if r.fired is True and (not rule.rules or r.name in rule.rules):
            title = f"{s.symbol} invalidation: {r.name.replace('_', ' ')}"
            text = f"{title} (flush of {iso(start)}): " + "; ".join(r.evidence)
            out.append(_alert(rule, s, f"{r.name}|{start}", title, text))
    return out


def _stale(rule: FeedStale, s: LiveSnapshot) -> list[Alert]:
    out = []
    for st in s.stale:
        title = f"feed stale: {st.stream}"
        text = f"{st.stream} is stale since {iso(st.since)}: {st.reason}."
        # Keyed by stream and episode start, not by symbol: one silent socket, one alert.
        out.append(
            Alert(
                rule=rule.name,
                kind="feed_stale",
                key=f"{rule.name}|{st.stream}|{st.since}",
                symbol=s.symbol,
                ts=s.ts,
                title=title,
                text=text,
            )
        )
    return out


def _cascade(
    rule: CascadeGainAbove, s: LiveSnapshot, profiles: Sequence[GainProfile]
) -> list[Alert]:
    out: list[Alert] = []
    price = s.last_price or s.mark_price
    for prof in profiles:
        for band in prof.bands:
            away = band.from_pct if price is None else _distance_pct(prof.direction, band, price)
            if band.max_gain >= rule.gain and away is not None and away <= rule.within_pct:
                title = f"{s.symbol} cascade gain {band.max_gain:.2f} {prof.direction}"
                text = (
                    f"{title}: G ≥ {rule.gain:g} from {band.price_from:,.6g} to "
                    f"{band.price_to:,.6g} ({away:.2f}% from the price"
                    f"{'' if price is None else f' {price:,.6g}'}; forced "
                    f"{_usd(band.forced_usd)} vs book {_usd(band.depth_usd)}; an estimate)."
                )
                suffix = f"{prof.direction}|{round(band.from_pct, 1)}"
                out.append(_alert(rule, s, suffix, title, text, value=band.max_gain))
                break  # the nearest band per direction
    return out


def _distance_pct(direction: str, band: GainBand, price: float) -> float | None:
    """How far the live price is from the band's near edge, percent (0 inside the band).

    Profiles are computed once, at the price of their start; the price then moves, so the
    distance is measured from the live price. None once the price has run through the whole
    band: it is behind the move, not ahead of it.
    """
    if direction == "down":
        if price <= band.price_to:
            return None
        return max(price - band.price_from, 0.0) / price * 100.0
    if price >= band.price_to:
        return None
    return max(band.price_from - price, 0.0) / price * 100.0


def probability_alert(
    rule: ProbabilityAbove,
    symbol: str,
    at_ns: int,
    focus: FlushEvent | None,
    probs: Mapping[str, Probability],
) -> tuple[Alert | None, str]:
    """The alert ``rule`` raises on a report's odds as of ``at_ns``, or why it stays silent.

    It fires only on an estimate that has shown skill: the same procedure beat its base rate
    on the earlier flushes it could be scored on (block-bootstrap CI below zero) and did not
    fall back to that base rate. Keyed by the flush: one alert per flush and outcome.
    """
    oid, when = rule.outcome, iso(at_ns)
    prob = probs.get(oid)
    if focus is None:
        return None, f"{symbol} {oid}: silent, no flush judged as of {when}"
    if prob is None or prob.p is None or prob.base_rate is None:
        return None, f"{symbol} {oid}: silent, not available as of {when} (too few past flushes)"
    if prob.fell_back:
        return None, (
            f"{symbol} {oid}: silent, the model did worse than its base rate on past flushes, "
            f"so the estimate is the base rate ({prob.base_rate:.0%})"
        )
    if prob.beats_base_rate is not True:
        why = "has not beaten" if prob.beats_base_rate is False else "too few flushes to tell if"
        return None, (
            f"{symbol} {oid}: silent, the estimate {why} its base rate on "
            f"{prob.track_n} scored past flushes"
        )
    if prob.p < rule.above:
        return None, f"{symbol} {oid}: P = {odds(prob.p)} < {rule.above:.0%} as of {when}"
    name, horizon = oid.rsplit("_", 1)
    title = f"{symbol} P({name.replace('_', ' ')} {horizon}) {odds(prob.p)}"
    text = (
        f"{symbol}: P({OUTCOME_TEXT[name]} within {horizon}) = {odds(prob.p)} (rule: ≥ "
        f"{rule.above:.0%}) for the {flush_name(focus.kind)} of {iso(focus.start_ts)}"
        f"{'' if (note := episode_note(focus)) is None else f' ({note})'}, "
        f"as of {when}; base rate {prob.base_rate:.0%} over {prob.n_train} past flushes "
        f"({prob.rate_source}); it beat that base rate on {prob.track_n} scored past flushes. "
        "An estimate."
    )
    alert = Alert(
        rule=rule.name, kind="probability", key=f"{rule.name}|{symbol}|{oid}|{focus.start_ts}",
        symbol=symbol, ts=at_ns, title=title, text=text, value=prob.p, threshold=rule.above,
    )  # fmt: skip
    return alert, f"{symbol} {oid}: fired, P = {odds(prob.p)} ≥ {rule.above:.0%} as of {when}"


def evaluate(
    rules: Sequence[Rule],
    snapshot: LiveSnapshot,
    gain_profiles: Mapping[str, Sequence[GainProfile]] | None = None,
) -> list[Alert]:
    """Return the alerts ``rules`` raise on ``snapshot`` (the dispatcher de-duplicates them).

    ``gain_profiles`` maps a symbol to its cascade gain profiles (down and up), when known.
    """
    out: list[Alert] = []
    for rule in rules:
        if rule.symbols and snapshot.symbol not in rule.symbols:
            continue
        if isinstance(rule, LiquidationsOver):
            out += _liquidations(rule, snapshot)
        elif isinstance(rule, FlushDetected):
            out += _flush(rule, snapshot)
        elif isinstance(rule, InvalidationFired):
            out += _invalidation(rule, snapshot)
        elif isinstance(rule, FeedStale):
            out += _stale(rule, snapshot)
        elif isinstance(rule, ProbabilityAbove):
            continue  # the store's report each closed hour (flushwatch.alerts.hourly)
        else:
            profiles = (gain_profiles or {}).get(snapshot.symbol, ())
            out += _cascade(rule, snapshot, profiles)
    return out
