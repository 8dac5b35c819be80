"""The post-flush checklist: what OI, funding, basis, spot, key levels and the book did next.

Each item compares a post-flush window with a causal pre-flush baseline:

* pre-flush window: the ``pre_hours`` before the event's first bar;
* post-flush window: from the bar after the event's last bar to
  ``min(end + window_hours, last bar)``. When it spans less than ``min_window_hours`` the
  window-based items say "too early" (state ``pending``, signal ``unknown``).

Item names (stable, used in the report JSON) and their states:

=============  ===========================================================  ==================
name           states                                                       signal
=============  ===========================================================  ==================
oi_rebuild     fast (≥ oi_fast_pct regained within oi_fast_hours while       bad / neutral /
               price chops) / moderate / slow (< oi_slow_pct) / no_oi_drop   good / neutral
funding        flipped_negative / cooled_to_neutral / stays_elevated /       good / good /
               rebounding                                                    bad / bad
basis          compressing / flat / widening                                 good/neutral/bad
spot_vs_perp   spot_led / perp_noise / spot_selling                          good/neutral/bad
spot_held      spot_held / in_line / spot_weaker (event drawdown, spot−perp) good/neutral/bad
levels_*       held / lost / flush_low_lost (asset, btc, eth); after a short  good / bad / bad
               squeeze also squeeze_faded                                    / neutral
book           recovered / thin                                              good / bad
=============  ===========================================================  ==================

Key levels after a short squeeze (the bounce narrative mirrored). A long flush broke supports
on the way down; the checklist asks whether the market holds the supports it now stands on
(the flush low and below). A squeeze broke *resistances* on the way up; they are now below
price (role "support" in :mod:`.levels`), but falling back through them is the squeeze fading,
not support lost. So for ``event.kind == "short_squeeze"`` the key supports are split at the
squeeze's base (its ``flush_low``, the price it started from):

* ``held`` (good): price holds above the resistances the squeeze broke (and so above the base);
* ``squeeze_faded`` (neutral): it fell back below a broken resistance (not reclaimed) but holds
  the base and every support below it;
* ``lost`` (bad): a key support below the base is lost, the base itself reclaimed;
* ``flush_low_lost`` (bad): price fell back below the base, the flush's whole move given back
  and the prior support lost: the failed squeeze that the verdict calls a trend.

A series that does not exist gives state ``not_available``, signal ``unknown`` and value
``None``. Funding is a fraction per funding interval (``m.funding_interval_h``); basis is a
fraction of spot; OI is judged in coin units when ``oi_base`` exists (price moves then do not
pass for position changes), else in quote units.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.levels import event_indices, is_key_level
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.results import CheckItem, FlushEvent, KeyLevel
from flushwatch.domain.numbers import pct as num_pct
from flushwatch.domain.numbers import signed_num, signed_pct

__all__ = ["ChecklistParams", "OiRegain", "judged_supports", "oi_regain", "post_flush_checklist"]

Signal = Literal["good", "bad", "neutral", "unknown"]


class ChecklistParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds of the post-flush checklist (hours and percent)."""

    window_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Post-flush window judged after the event end")
    ] = 72.0
    min_window_hours: Annotated[
        float,
        msgspec.Meta(ge=0, description="Shorter post-flush windows are 'too early' (pending)"),
    ] = 6.0
    pre_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Trailing pre-flush window for medians and ratios")
    ] = 72.0
    oi_fast_pct: Annotated[
        float,
        msgspec.Meta(ge=0, description="% of flushed OI regained within oi_fast_hours = fast"),
    ] = 50.0
    oi_slow_pct: Annotated[
        float,
        msgspec.Meta(ge=0, description="Less than this % regained within oi_fast_hours = slow"),
    ] = 25.0
    oi_fast_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Horizon after the event for a fast OI rebuild")
    ] = 24.0
    chop_pct: Annotated[
        float,
        msgspec.Meta(ge=0, description="|price move| below this % over the OI horizon = chop"),
    ] = 2.0
    interest_floor_pct_8h: Annotated[
        float, msgspec.Meta(description="Neutral funding: the 0.01 %/8h interest floor")
    ] = 0.01
    neutral_tol_pct_8h: Annotated[
        float, msgspec.Meta(ge=0, description="± band around the floor still called neutral (%/8h)")
    ] = 0.005
    funding_tail_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Funding 'now' = median over the window's last hours")
    ] = 8.0
    rebound_factor: Annotated[
        float, msgspec.Meta(description="Funding back above pre-flush level × this = rebounding")
    ] = 1.0
    basis_tol_bps: Annotated[
        float, msgspec.Meta(ge=0, description="Median basis change beyond ± this (bps) is a move")
    ] = 1.0
    spot_led_ratio: Annotated[
        float,
        msgspec.Meta(gt=0, description="Spot/perp volume ratio ≥ this × pre-flush = spot-led"),
    ] = 1.5
    spot_held_gap_pct: Annotated[
        float, msgspec.Meta(ge=0, description="Spot falling this many points less than perp = held")
    ] = 0.3
    book_recovered_share: Annotated[
        float, msgspec.Meta(ge=0, description="Depth back to ≥ this share of pre-flush median = ok")
    ] = 0.8
    book_tail_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Book 'now' = median over the window's last hours")
    ] = 6.0
    round_major_pct: Annotated[
        float,
        msgspec.Meta(
            gt=0, description="Round supports are key only on this major step (as levels)"
        ),
    ] = 10.0


class OiRegain(msgspec.Struct, frozen=True, kw_only=True):
    """How much of the OI flushed by an event came back, and how fast."""

    unit: str
    before: float
    trough: float
    flushed: float
    regained_pct: float
    regained_pct_fast: float
    regained_pct_max: float
    hours_to_50: float | None
    hours_to_100: float | None
    move_fast_pct: float


def _med(x: F64) -> float | None:
    x = x[np.isfinite(x)]
    return float(np.median(x)) if x.size else None


def _last(x: F64) -> float | None:
    ok = np.flatnonzero(np.isfinite(x))
    return float(x[ok[-1]]) if ok.size else None


def _usd(x: float) -> str:
    for div, suf in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:.1f}{suf}"
    return f"${x:.0f}"


def _item(
    name: str, value: float | None, thr: float | None, unit: str, state: str, sig: Signal, text: str
) -> CheckItem:
    return CheckItem(
        name=name, value=value, threshold=thr, unit=unit, state=state, signal=sig, sentence=text
    )


def _na(name: str, unit: str, what: str) -> CheckItem:
    return _item(name, None, None, unit, "not_available", "unknown", f"{what}: not available.")


class _Win(msgspec.Struct, frozen=True):
    start: int
    end: int
    pre0: int
    w1: int
    hours: float
    early: bool


def _window(m: MarketSeries, event: FlushEvent, p: ChecklistParams) -> _Win:
    start, end = event_indices(m, event)
    w1 = min(end + hours_to_bars(p.window_hours, m.step_s, at_least=1), m.n - 1)
    hours = (w1 - end) * m.step_s / 3600.0  # regular grid: bars × step, whatever ts unit
    pre0 = max(0, start - hours_to_bars(p.pre_hours, m.step_s, at_least=1))
    return _Win(start, end, pre0, w1, hours, hours < p.min_window_hours)


def _pending(name: str, unit: str, w: _Win) -> CheckItem:
    text = f"Too early: only {w.hours:.1f}h since the flush ended."
    return _item(name, None, None, unit, "pending", "unknown", text)


def oi_regain(m: MarketSeries, event: FlushEvent, p: ChecklistParams) -> OiRegain | None:
    """Measure the OI flushed (pre-event value − event trough) and the share regained after."""
    oi, unit = (m.oi_base, "coins") if m.oi_base is not None else (m.oi_quote, "USD")
    if oi is None:
        return None
    w = _window(m, event, p)
    before = _last(oi[w.pre0 : w.start])
    during = oi[w.start : w.end + 1]
    if before is None or not np.any(np.isfinite(during)):
        return None
    trough = float(np.nanmin(during))
    flushed = before - trough
    post = oi[w.end + 1 : w.w1 + 1]
    path = (post - trough) / flushed * 100.0 if flushed > 0 else np.full(post.size, np.nan)
    hours = np.arange(1, post.size + 1) * (m.step_s / 3600.0)
    fast = hours <= p.oi_fast_hours
    ok = np.isfinite(path)
    reached = [hours[ok & (path >= lvl)] for lvl in (50.0, 100.0)]
    fast_i = min(w.end + hours_to_bars(p.oi_fast_hours, m.step_s, at_least=1), w.w1)
    c0, c1 = _last(m.close[: w.end + 1]), _last(m.close[: fast_i + 1])
    return OiRegain(
        unit=unit,
        before=before,
        trough=trough,
        flushed=flushed,
        regained_pct=_last(path) or 0.0,
        regained_pct_fast=float(np.nanmax(path[fast])) if np.any(ok & fast) else 0.0,
        regained_pct_max=float(np.nanmax(path)) if np.any(ok) else 0.0,
        hours_to_50=float(reached[0][0]) if reached[0].size else None,
        hours_to_100=float(reached[1][0]) if reached[1].size else None,
        move_fast_pct=(c1 / c0 - 1.0) * 100.0 if c0 and c1 else 0.0,
    )


def _oi_item(m: MarketSeries, event: FlushEvent, p: ChecklistParams, w: _Win) -> CheckItem:
    unit = "% of flushed OI"
    if m.oi_base is None and m.oi_quote is None:
        return _na("oi_rebuild", unit, "Open interest")
    if w.early:
        return _pending("oi_rebuild", unit, w)
    r = oi_regain(m, event, p)
    if r is None:
        return _na("oi_rebuild", unit, "Open interest around the event")
    if r.flushed <= 0:
        text = "OI did not fall during the event: nothing was flushed to rebuild."
        return _item("oi_rebuild", None, p.oi_fast_pct, unit, "no_oi_drop", "neutral", text)
    amount = _usd(r.flushed) if r.unit == "USD" else f"{r.flushed:,.0f} coins"
    chop = abs(r.move_fast_pct) < p.chop_pct
    state: str
    sig: Signal
    if r.regained_pct_fast >= p.oi_fast_pct and chop:
        state, sig, verdict = "fast", "bad", "fast rebuild while price chops (re-leveraging)"
    elif r.regained_pct_fast < p.oi_slow_pct:
        state, sig, verdict = "slow", "good", "slow rebuild"
    else:
        state, sig, verdict = "moderate", "neutral", "moderate rebuild"
    h50 = f"{r.hours_to_50:.0f}h" if r.hours_to_50 is not None else "not yet"

    def share(pct: float) -> str:
        if pct >= 0:
            return f"{pct:.0f}% regained"
        # Below the event's trough: say how far below it OI fell, in % of that trough level
        # (a share of the flushed amount read as "fell a further 231%", an impossible fall).
        if r.trough <= 0:
            return "fell further below the flush's low"
        return f"fell a further {num_pct(-pct * r.flushed / r.trough)} below the flush's low"

    text = (
        f"Of the {amount} of OI flushed: {share(r.regained_pct_fast)} within "
        f"{p.oi_fast_hours:.0f}h while price moved {signed_pct(r.move_fast_pct)}, "
        f"{share(r.regained_pct)} after {w.hours:.0f}h ({verdict}; half regained: {h50})."
    )
    return _item("oi_rebuild", r.regained_pct, p.oi_fast_pct, unit, state, sig, text)


def _funding_item(m: MarketSeries, p: ChecklistParams, w: _Win) -> CheckItem:
    unit = f"%/{m.funding_interval_h:g}h"
    if m.funding is None:
        return _na("funding", unit, "Funding")
    if w.early:
        return _pending("funding", unit, w)
    scale = m.funding_interval_h / 8.0 / 100.0
    hi = (p.interest_floor_pct_8h + p.neutral_tol_pct_8h) * scale
    pre = _med(m.funding[w.pre0 : w.start])
    post = m.funding[w.end + 1 : w.w1 + 1]
    tail = post[-hours_to_bars(p.funding_tail_hours, m.step_s, at_least=1) :]
    now = _med(tail)
    if now is None:
        return _na("funding", unit, "Funding after the flush")
    # A flip *during* the flush counts ("does it flip, or just cool?"): the low is taken from
    # the event's start; "now" is the tail of the post-flush window.
    since = m.funding[w.start : w.w1 + 1]
    low = float(np.nanmin(since)) if np.isfinite(since).any() else float(np.nanmin(post))
    rebound_at = max(pre * p.rebound_factor, hi) if pre is not None else hi
    state: str
    sig: Signal
    if now > hi and low <= hi and now >= rebound_at:
        state, sig = "rebounding", "bad"
    elif now > hi:
        state, sig = "stays_elevated", "bad"
    elif low < 0:
        state, sig = "flipped_negative", "good"
    else:
        state, sig = "cooled_to_neutral", "good"
    pre_txt = num_pct(None if pre is None else pre * 100, 4)
    text = (
        f"Funding {state.replace('_', ' ')}: pre-flush median {pre_txt}, low since the flush "
        f"{num_pct(low * 100, 4)}, now {num_pct(now * 100, 4)} per {m.funding_interval_h:g}h "
        f"(neutral up to {num_pct(hi * 100, 4)})."
    )
    return _item("funding", now * 100.0, hi * 100.0, unit, state, sig, text)


def _basis_item(m: MarketSeries, p: ChecklistParams, w: _Win) -> CheckItem:
    if m.basis is None:
        return _na("basis", "%", "Basis")
    if w.early:
        return _pending("basis", "%", w)
    pre, post = _med(m.basis[w.pre0 : w.start]), _med(m.basis[w.end + 1 : w.w1 + 1])
    if pre is None or post is None:
        return _na("basis", "%", "Basis around the flush")
    change_bps = (post - pre) * 1e4
    state: str
    sig: Signal
    if change_bps <= -p.basis_tol_bps:
        state, sig = "compressing", "good"
    elif change_bps >= p.basis_tol_bps:
        state, sig = "widening", "bad"
    else:
        state, sig = "flat", "neutral"
    text = (
        f"Basis {state}: median perp premium {num_pct(pre * 100, 3)} before, "
        f"{num_pct(post * 100, 3)} after "
        f"({signed_num(change_bps)} bps)."
    )
    return _item("basis", post * 100.0, pre * 100.0, "%", state, sig, text)


def _spot_perp_item(m: MarketSeries, p: ChecklistParams, w: _Win) -> CheckItem:
    unit = "× pre-flush spot/perp volume"
    if m.volume_quote is None or m.spot_volume_quote is None:
        return _na("spot_vs_perp", unit, "Spot or perp volume")
    if w.early:
        return _pending("spot_vs_perp", unit, w)
    sv, pv = m.spot_volume_quote, m.volume_quote
    ratios = [
        float(np.nansum(sv[a:b])) / float(np.nansum(pv[a:b])) if np.nansum(pv[a:b]) > 0 else None
        for a, b in ((w.pre0, w.start), (w.start, w.end + 1), (w.end + 1, w.w1 + 1))
    ]
    pre, during, post = ratios
    if pre is None or post is None or pre <= 0:
        return _na("spot_vs_perp", unit, "Spot/perp volume around the flush")
    rel = post / pre
    c0, c1 = _last(m.close[: w.end + 1]), _last(m.close[: w.w1 + 1])
    move = (c1 / c0 - 1.0) * 100.0 if c0 and c1 else 0.0
    state: str
    sig: Signal
    if rel >= p.spot_led_ratio and move >= 0:
        state, sig = "spot_led", "good"
    elif rel >= p.spot_led_ratio:
        state, sig = "spot_selling", "bad"
    else:
        state, sig = "perp_noise", "neutral"
    during_txt = f"{during / pre:.2f}×" if during is not None else "n/a"
    text = (
        f"Spot/perp volume after the flush at {rel:.2f}× its pre-flush ratio (during: "
        f"{during_txt}) with price {signed_pct(move)}: {state.replace('_', ' ')}."
    )
    return _item("spot_vs_perp", rel, p.spot_led_ratio, unit, state, sig, text)


def _spot_held_item(m: MarketSeries, event: FlushEvent, p: ChecklistParams, w: _Win) -> CheckItem:
    unit = "points (spot − perp move)"
    if m.spot_close is None:
        return _na("spot_held", unit, "Spot price")
    sign = -1.0 if event.kind == "short_squeeze" else 1.0
    moves: list[float] = []
    for series in (m.spot_close, m.close):
        ref, seg = _last(series[w.pre0 : w.start]), series[w.start : w.end + 1]
        if ref is None or not np.any(np.isfinite(seg)):
            return _na("spot_held", unit, "Spot or perp price around the flush")
        extreme = np.nanmin(seg) if sign > 0 else np.nanmax(seg)
        moves.append((float(extreme) / ref - 1.0) * 100.0)
    gap = (moves[0] - moves[1]) * sign
    state: str
    sig: Signal
    if gap >= p.spot_held_gap_pct:
        state, sig = "spot_held", "good"
    elif gap <= -p.spot_held_gap_pct:
        state, sig = "spot_weaker", "bad"
    else:
        state, sig = "in_line", "neutral"
    text = (
        f"During the flush spot moved {signed_pct(moves[0], 2)} and the perp "
        f"{signed_pct(moves[1], 2)} "
        f"(closes): {state.replace('_', ' ')}."
    )
    return _item("spot_held", gap, p.spot_held_gap_pct, unit, state, sig, text)


def judged_supports(
    levels: list[KeyLevel], round_major_pct: float, *, squeeze: bool = False
) -> tuple[list[KeyLevel], list[KeyLevel]]:
    """Split the key supports into (supports judged, resistances a squeeze broke).

    After a long flush every key support counts. After a short squeeze the key levels
    between the squeeze's base (its ``flush_low``) and the post-squeeze close were
    resistances the squeeze broke: falling back through them is the squeeze fading, not a
    lost support. Only the base and the supports at or below it count as supports. Without a
    ``flush_low`` in ``levels`` (event not over) every support counts.
    """
    supports = [lv for lv in levels if lv.role == "support" and is_key_level(lv, round_major_pct)]
    base = next((lv.price for lv in levels if lv.kind == "flush_low"), None)
    if not squeeze or base is None:
        return supports, []
    below = [lv for lv in supports if lv.price <= base or lv.kind == "flush_low"]
    return below, [lv for lv in supports if lv not in below]


def _levels_item(
    name: str, label: str, levels: list[KeyLevel] | None, p: ChecklistParams, squeeze: bool
) -> CheckItem:
    unit = "key supports lost"
    if not levels:
        return _na(name, unit, f"Key levels for {label}")

    supports, broken = judged_supports(levels, p.round_major_pct, squeeze=squeeze)
    lost = [lv for lv in supports if lv.state == "lost"]
    faded = [lv for lv in broken if lv.state == "lost"]
    state: str
    sig: Signal
    if any(lv.kind == "flush_low" for lv in lost):
        state, sig = "flush_low_lost", "bad"
    elif lost:
        state, sig = "lost", "bad"
    elif faded:
        state, sig = "squeeze_faded", "neutral"
    else:
        state, sig = "held", "good"

    def names(lvs: list[KeyLevel]) -> str:
        return ", ".join(f"{lv.price:,.6g} ({lv.kind.replace('_', ' ')})" for lv in lvs)

    if lost:
        text = f"{label} lost key support and has not reclaimed it: {names(lost)}."
    elif faded:
        text = (
            f"{label} fell back through levels the squeeze broke ({names(faded)}) but holds "
            "the squeeze's base and the supports below it."
        )
    else:
        held = max((lv.price for lv in supports + broken), default=None)
        near = f" (nearest {held:,.6g})" if held is not None else ""
        if broken:
            text = f"{label} holds above the levels the squeeze broke and its supports{near}."
        else:
            text = f"{label} holds its key supports{near}."
    return _item(name, float(len(lost)), 1.0, unit, state, sig, text)


def _book_item(m: MarketSeries, p: ChecklistParams, w: _Win) -> CheckItem:
    unit = "× pre-flush depth"
    if m.depth_1pct is None:
        return _na("book", unit, "Order-book depth")
    if w.early:
        return _pending("book", unit, w)
    tail = slice(
        max(w.end + 1, w.w1 + 1 - hours_to_bars(p.book_tail_hours, m.step_s, at_least=1)), w.w1 + 1
    )
    pre, now = _med(m.depth_1pct[w.pre0 : w.start]), _med(m.depth_1pct[tail])
    if pre is None or now is None or pre <= 0:
        return _na("book", unit, "Order-book depth around the flush")
    ratio = now / pre
    ok = ratio >= p.book_recovered_share
    spread_txt = "spread not available"
    if m.spread_bps is not None:
        s_pre, s_now = _med(m.spread_bps[w.pre0 : w.start]), _med(m.spread_bps[tail])
        if s_pre is not None and s_now is not None:
            ok = ok and s_now * p.book_recovered_share <= s_pre
            spread_txt = f"spread {s_now:.1f} bps vs {s_pre:.1f} bps before"
    state = "recovered" if ok else "thin"
    sig: Signal = "good" if ok else "bad"
    text = (
        f"Book {state}: ±1% depth at {ratio:.0%} of its pre-flush median "
        f"({_usd(now)} vs {_usd(pre)}), {spread_txt}."
    )
    return _item("book", ratio, p.book_recovered_share, unit, state, sig, text)


def post_flush_checklist(
    m: MarketSeries,
    event: FlushEvent,
    levels: list[KeyLevel],
    ref_levels: dict[str, list[KeyLevel]],
    p: ChecklistParams,
) -> list[CheckItem]:
    """Run every checklist item for one flush, so the verdict can weigh what happened next.

    ``ref_levels`` maps "BTC" and "ETH" to their key levels (missing → not available).
    """
    w = _window(m, event, p)
    squeeze = event.kind == "short_squeeze"
    return [
        _oi_item(m, event, p, w),
        _funding_item(m, p, w),
        _basis_item(m, p, w),
        _spot_perp_item(m, p, w),
        _spot_held_item(m, event, p, w),
        _levels_item("levels_asset", m.asset, levels, p, squeeze),
        _levels_item("levels_btc", "BTC", ref_levels.get("BTC"), p, squeeze),
        _levels_item("levels_eth", "ETH", ref_levels.get("ETH"), p, squeeze),
        _book_item(m, p, w),
    ]
