"""Risk box rules and the verdict decision table, with the confidence invariants."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import CheckItem, FlushEvent, KeyLevel, RuleResult
from flushwatch.analytics.verdict import VerdictParams, item_weights, risk_box, verdict
from flushwatch.testing.builders import flush_event, hourly_market

P = VerdictParams()
NAMES = list(item_weights(P))


def market(oi_share: float, best_close: float, n: int = 200, oi: bool = True) -> MarketSeries:
    """Prior high 110.2 (bars 76-99), flush over bars 100-103 with OI 1000 → 600, then a
    rebuild of ``oi_share`` of it at bar 110 and price reaching ``best_close`` at bar 120."""
    close = np.full(n, 110.0)
    close[100:104] = [105.0, 101.0, 100.0, 100.0]
    close[104:] = 100.0
    close[120 : 121 if n > 120 else 0] = best_close
    o = np.full(n, 1000.0)
    o[100:104] = [900.0, 700.0, 600.0, 600.0]
    o[104:] = 600.0
    o[110:] = 600.0 + 400.0 * oi_share
    return hourly_market(close, oi_quote=o if oi else None)


def event(m: MarketSeries, kind: str = "long_flush") -> FlushEvent:
    """The flush of :func:`market`."""
    return flush_event(
        start_ts=int(m.ts[100]),
        peak_ts=int(m.ts[102]),
        end_ts=int(m.ts[103]),
        kind=kind,
        score=3.0,
        liq_long_usd=1.0,
        liq_short_usd=0.0,
        oi_before_quote=1000.0,
        oi_after_quote=600.0,
        oi_drop_quote_pct=40.0,
        price_open=110.0,
        price_close=100.0,
        price_low=99.8,
        price_high=110.2,
        move_pct=-9.0,
        wick_pct=0.2,
    )


def item(name: str, signal: str = "good", state: str = "x") -> CheckItem:
    """A checklist item with a given signal/state."""
    return CheckItem(
        name=name,
        value=1.0,
        threshold=1.0,
        unit="",
        state=state,
        signal=signal,
        sentence=name,  # type: ignore[arg-type]
    )


def checklist(**states: tuple[str, str]) -> list[CheckItem]:
    """All items 'good' except the overrides name=(signal, state)."""
    return [item(n, *states.get(n, ("good", "x"))) for n in NAMES]


def btc(state: str, kind: str = "swing_low", price: float = 60_000.0) -> list[KeyLevel]:
    """A one-level BTC map."""
    return [KeyLevel(asset="BTC", price=price, kind=kind, role="support", state=state)]  # type: ignore[arg-type]


def rules(
    r1: bool | None = False, r2: bool | None = False, r3: bool | None = False
) -> list[RuleResult]:
    """A risk box with given outcomes."""
    names = ["oi_reloaded_into_weakness", "funding_without_spot_demand", "btc_support_lost"]
    return [
        RuleResult(name=n, fired=f, evidence=["e"])
        for n, f in zip(names, (r1, r2, r3), strict=True)
    ]  # type: ignore[arg-type]


def box(
    m: MarketSeries, items: list[CheckItem], levels: list[KeyLevel], **kw: Any
) -> dict[str, RuleResult]:
    """Run the risk box and index it by rule name."""
    return {
        r.name: r
        for r in risk_box(m, event(m, kw.get("kind", "long_flush")), items, levels, kw.get("p", P))
    }


@pytest.mark.parametrize(
    ("share", "best", "fired"),
    [(0.9, 110.0, True), (0.8999, 110.0, False), (0.9, 110.2, True), (0.9, 110.21, False)],
)
def test_rule_oi_reloaded_into_weakness(share: float, best: float, fired: bool) -> None:
    m = market(share, best)
    r = box(m, checklist(), btc("holding"))["oi_reloaded_into_weakness"]
    assert r.fired is fired
    assert any("prior high 110.2" in e for e in r.evidence)


def test_rule_oi_only_counts_quick_reload() -> None:
    m = market(1.0, 100.0)
    m.oi_quote[104:] = 600.0  # type: ignore[index]
    m.oi_quote[103 + 49 :] = 1000.0  # type: ignore[index]  # back 49 h after the end
    assert box(m, checklist(), [])["oi_reloaded_into_weakness"].fired is False
    p = VerdictParams(oi_reload_hours=49.0)
    assert box(m, checklist(), [], p=p)["oi_reloaded_into_weakness"].fired is True


def test_rule_oi_not_available() -> None:
    r = box(market(1.0, 100.0, oi=False), checklist(), [])["oi_reloaded_into_weakness"]
    assert r.fired is None
    assert r.evidence[0].startswith("not available")
    r2 = box(market(1.0, 100.0, n=104), checklist(), [])["oi_reloaded_into_weakness"]
    assert r2.fired is None


@pytest.mark.parametrize(
    ("funding", "spot", "fired"),
    [
        ("stays_elevated", "perp_noise", True),
        ("rebounding", "spot_selling", True),
        ("rebounding", "spot_led", False),
        ("cooled_to_neutral", "perp_noise", False),
        ("flipped_negative", "not_available", False),
        ("stays_elevated", "not_available", None),
        ("not_available", "spot_led", None),
        ("pending", "perp_noise", None),
    ],
)
def test_rule_funding_without_spot_demand(funding: str, spot: str, fired: bool | None) -> None:
    items = checklist(funding=("bad", funding), spot_vs_perp=("neutral", spot))
    r = box(market(0.0, 100.0), items, [])["funding_without_spot_demand"]
    assert r.fired is fired
    if fired is None:
        assert any(e.startswith("not available") for e in r.evidence)


@pytest.mark.parametrize(
    ("levels", "fired"),
    [
        (btc("holding"), False),
        (btc("reclaimed"), False),
        (btc("lost"), True),
        (btc("lost", "round_number", 61_000.0), False),  # a minor round number is not key
        (btc("lost", "round_number", 60_000.0), True),
        ([], None),
    ],
)
def test_rule_btc_support_lost(levels: list[KeyLevel], fired: bool | None) -> None:
    assert box(market(0.0, 100.0), checklist(), levels)["btc_support_lost"].fired is fired


def test_decision_table() -> None:
    good = checklist()
    assert verdict(good, rules(), P).name == "clean_reset"
    assert verdict(good, rules(r1=True), P).name == "re_leveraging_into_weakness"
    assert verdict(good, rules(r2=True), P).name == "re_leveraging_into_weakness"
    assert verdict(good, rules(r3=True), P).name == "flush_turning_into_trend"
    assert verdict(good, rules(r1=True, r3=True), P).name == "flush_turning_into_trend"
    lost_low = checklist(levels_asset=("bad", "flush_low_lost"))
    assert verdict(lost_low, rules(), P).name == "flush_turning_into_trend"
    none = [item(n, "unknown", "not_available") for n in NAMES]
    v = verdict(none, rules(None, None, None), P)
    assert (v.name, v.confidence, v.missing_inputs) == ("inconclusive", 0.0, NAMES)


def test_clean_needs_good_share() -> None:
    w = item_weights(P)
    avail = sum(w.values())
    # Bad on OI + funding + levels_asset (8 of 14.5): good share 6.5/14.5 < 0.5 → inconclusive.
    bad = checklist(
        oi_rebuild=("bad", "fast"), funding=("bad", "stays_elevated"), levels_asset=("bad", "lost")
    )
    assert verdict(bad, rules(), P).name == "inconclusive"
    good_w = avail - 8.0
    at = VerdictParams(clean_good_share=good_w / avail)
    assert verdict(bad, rules(), at).name == "clean_reset"
    above = VerdictParams(clean_good_share=good_w / avail * 1.0001)
    assert verdict(bad, rules(), above).name == "inconclusive"


def test_min_coverage_threshold() -> None:
    w = item_weights(P)
    keep = {"oi_rebuild", "funding"}  # 6 of 14.5
    items = [item(n) if n in keep else item(n, "unknown", "not_available") for n in NAMES]
    cov = 6.0 / sum(w.values())
    assert verdict(items, rules(), VerdictParams(min_coverage=cov)).name == "clean_reset"
    below = verdict(items, rules(), VerdictParams(min_coverage=cov * 1.0001))
    assert below.name == "inconclusive"
    assert below.reasons[0].startswith("Too few inputs")


def test_confidence_formula_and_conflict() -> None:
    total = sum(item_weights(P).values())
    assert verdict(checklist(), rules(), P).confidence == pytest.approx(1.0)
    mixed = checklist(book=("bad", "thin"))
    assert verdict(mixed, rules(), P).confidence == pytest.approx((total - 0.5) / total)
    pending = checklist(oi_rebuild=("unknown", "pending"))
    v = verdict(pending, rules(), P)
    assert v.confidence == pytest.approx((total - 3.0) / total)
    assert "oi_rebuild" in v.missing_inputs


SIGNALS = st.sampled_from(["good", "bad", "neutral"])


@settings(max_examples=200, deadline=None)
@given(
    signals=st.lists(SIGNALS, min_size=len(NAMES), max_size=len(NAMES)),
    present=st.lists(st.booleans(), min_size=len(NAMES), max_size=len(NAMES)),
    drop=st.integers(0, len(NAMES) - 1),
    fired=st.lists(st.sampled_from([True, False, None]), min_size=3, max_size=3),
)
def test_confidence_never_increases_when_an_input_is_removed(
    signals: list[str], present: list[bool], drop: int, fired: list[bool | None]
) -> None:
    def build(mask: list[bool]) -> list[CheckItem]:
        return [
            item(n, s) if keep else item(n, "unknown", "not_available")
            for n, s, keep in zip(NAMES, signals, mask, strict=True)
        ]

    before = verdict(build(present), rules(*fired), P)
    fewer = list(present)
    fewer[drop] = False
    after = verdict(build(fewer), rules(*fired), P)
    assert 0.0 <= after.confidence <= before.confidence <= 1.0
    assert set(before.missing_inputs) <= set(after.missing_inputs)


def squeeze_market(after: float) -> MarketSeries:
    """Price rests at 100 (prior high 101), shorts squeezed to 110 over bars 100-103 with OI
    1000 → 600, OI fully back by bar 110, and price ``after`` from bar 104 on."""
    close = np.full(200, 100.0)
    high = close + 1.0
    close[100:104] = [104.0, 108.0, 110.0, 110.0]
    close[104:] = after
    high[100:] = close[100:] + 0.2
    o = np.full(200, 1000.0)
    o[100:104] = [900.0, 700.0, 600.0, 600.0]
    o[104:110] = 600.0
    o[110:] = 1000.0
    return hourly_market(close, high=high, oi_quote=o)


@pytest.mark.parametrize(("after", "fired"), [(108.0, False), (101.0, False), (100.5, True)])
def test_squeeze_reload_is_weakness_only_once_price_is_back_below_what_it_broke(
    after: float, fired: bool
) -> None:
    """Issue 12: comparing with the prior low called every squeeze that held 'into weakness'."""
    m = squeeze_market(after)
    r = box(m, checklist(), [], kind="short_squeeze")["oi_reloaded_into_weakness"]
    assert r.fired is fired
    assert any("prior high 101" in e for e in r.evidence), r.evidence
    assert any(("back below it" if fired else "held above it") in e for e in r.evidence)
