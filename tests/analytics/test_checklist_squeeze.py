"""Key levels after a short squeeze: the bounce narrative mirrored (checklist and risk box).

A constructed squeeze: price rests at 100 (prior low 97, prior high 104), shorts are squeezed
to 110 over four bars, then price settles at ``after``. The levels are found by
:func:`key_levels` on the series, as the report does. The prior high 104 is a resistance the
squeeze broke; the squeeze's base (flush low) is 100. A level is lost on a close more than
``break_pct`` = 0.5 % beyond it.
"""

from __future__ import annotations

import numpy as np
import pytest

from flushwatch.analytics.checklist import ChecklistParams, post_flush_checklist
from flushwatch.analytics.levels import LevelParams, key_levels
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import CheckItem, FlushEvent, KeyLevel
from flushwatch.analytics.verdict import VerdictParams, risk_box, verdict
from flushwatch.testing.builders import flush_event, hourly_market

N = 180
START, END = 100, 103
BROKEN, BASE = 104.0, 100.0


def market(after: float, asset: str = "BTC") -> MarketSeries:
    close = np.full(N, 100.0)
    close[START : END + 1] = [103.0, 107.0, 110.0, 109.0]
    close[END + 1 :] = after
    high, low = close + 0.2, close - 0.2
    low[START] = BASE  # the squeeze starts from 100
    high[60], low[70] = BROKEN, 97.0  # prior high (a resistance before) and prior low
    return hourly_market(close, asset=asset, high=high, low=low)


def squeeze(m: MarketSeries, kind: str = "short_squeeze") -> FlushEvent:
    return flush_event(
        start_ts=int(m.ts[START]),
        peak_ts=int(m.ts[START + 2]),
        end_ts=int(m.ts[END]),
        kind=kind,
        liq_long_usd=1e5,
        liq_short_usd=1e6,
        price_open=100.0,
        price_close=109.0,
        price_low=BASE,
        price_high=110.2,
        move_pct=9.0,
        wick_pct=1.1,
    )


def analyse(after: float, kind: str = "short_squeeze") -> tuple[dict[str, CheckItem], str, bool]:
    """(checklist by name, verdict name, btc_support_lost fired) for a close at ``after``."""
    m = market(after)
    e = squeeze(m, kind)
    levels = key_levels(m, END, LevelParams(), e)
    items = post_flush_checklist(m, e, levels, {"BTC": levels}, ChecklistParams())
    rules = risk_box(m, e, items, levels, VerdictParams())
    v = verdict(items, rules, VerdictParams(min_coverage=0.0))  # only levels exist here
    return {i.name: i for i in items}, v.name, bool(rules[2].fired)


def _levels(after: float) -> list[KeyLevel]:
    m = market(after)
    return key_levels(m, END, LevelParams(), squeeze(m))


def test_the_constructed_levels_are_what_the_tests_assume() -> None:
    by_kind = {lv.kind: lv for lv in _levels(105.0)}
    assert by_kind["flush_low"].price == BASE
    assert by_kind["prior_high"].price == BROKEN
    assert by_kind["prior_high"].role == "support"  # below the post-squeeze close
    assert by_kind["flush_high"].role == "resistance"


# Broken resistance 104: lost on a close below 104 × (1 − 0.5 %) = 103.48.
@pytest.mark.parametrize(
    ("after", "state", "signal"),
    [
        (109.0, "held", "good"),  # holds near the high
        (104.0, "held", "good"),  # back at the broken resistance: a retest, held
        (103.5, "held", "good"),  # just inside the 0.5 % break threshold
        (103.4, "squeeze_faded", "neutral"),  # just beyond it: the breakout faded
        (100.0, "squeeze_faded", "neutral"),  # back at its base: still not a failure
        (99.51, "squeeze_faded", "neutral"),  # base lost only beyond 99.5
        (99.4, "flush_low_lost", "bad"),  # below the base: the squeeze failed
        (96.0, "flush_low_lost", "bad"),  # and the prior low 97 with it
    ],
)
def test_squeeze_levels_states_around_the_thresholds(after: float, state: str, signal: str) -> None:
    items, _, _ = analyse(after)
    for name in ("levels_asset", "levels_btc"):
        assert (items[name].state, items[name].signal) == (state, signal), items[name].sentence


@pytest.mark.parametrize(("after", "fired"), [(105.0, False), (103.4, False), (99.4, True)])
def test_btc_rule_ignores_the_levels_the_squeeze_broke(after: float, fired: bool) -> None:
    assert analyse(after)[2] is fired


@pytest.mark.parametrize("after", [109.0, 104.0, 103.4, 100.0])
def test_a_squeeze_that_keeps_its_base_is_not_a_trend(after: float) -> None:
    assert analyse(after)[1] != "flush_turning_into_trend"


def test_a_squeeze_that_gives_back_its_base_is_a_trend() -> None:
    assert analyse(99.4)[1] == "flush_turning_into_trend"


def test_a_long_flush_still_counts_every_support() -> None:
    # The same levels judged for a long flush: the fall back through 104 is a lost support.
    items, name, fired = analyse(103.4, kind="long_flush")
    assert items["levels_asset"].state == "lost"
    assert fired
    assert name == "flush_turning_into_trend"
