"""Garbled numbers: one sign, no negative zero, no impossible fall ("fell a further 231%")."""

from __future__ import annotations

import math

import numpy as np
import pytest

from flushwatch.analytics.checklist import ChecklistParams, post_flush_checklist
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import FlushEvent
from flushwatch.analytics.verdict import VerdictParams, risk_box
from flushwatch.domain.numbers import num, pct, signed_num, signed_pct
from flushwatch.testing.builders import flush_event, hourly_market

N, START, END = 180, 100, 103


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (-0.4, 1, "-0.4%"),
        (0.4, 1, "+0.4%"),
        (-0.04, 1, "0.0%"),  # rounds to zero: no sign, never "-0.0%"
        (-0.0004, 3, "0.000%"),
        (-0.0, 2, "0.00%"),
        (-17.44, 1, "-17.4%"),
        (math.nan, 1, "n/a"),
        (None, 1, "n/a"),
    ],
)
def test_signed_pct_has_one_sign_and_no_negative_zero(
    value: float | None, digits: int, text: str
) -> None:
    assert signed_pct(value, digits) == text


def test_plain_numbers_drop_the_negative_zero() -> None:
    assert pct(-0.0001, 3) == "0.000%"
    assert pct(-1.25, 1) == "-1.2%"  # round half to even, as Python formats
    assert num(-0.04) == "0.0"
    assert signed_num(-0.04) == "0.0"
    assert signed_num(1.54) == "+1.5"


def _market(oi: np.ndarray) -> MarketSeries:
    """A long flush 110 → 100 whose OI is ``oi``; basis flat at exactly the same premium."""
    close = np.full(N, 110.0)
    close[START : END + 1] = [108.0, 103.0, 100.0, 100.0]
    close[END + 1 :] = 100.0
    return hourly_market(
        close,
        volume_quote=np.full(N, 1000.0),
        oi_quote=oi,
        # a premium of -0.0004 % both sides: its change is -0.0 bps before the fix
        basis=np.full(N, -4e-6) + np.r_[np.zeros(START), np.full(N - START, -1e-9)],
    )


def _event(m: MarketSeries) -> FlushEvent:
    return flush_event(
        start_ts=int(m.ts[START]),
        peak_ts=int(m.ts[START + 2]),
        end_ts=int(m.ts[END]),
        kind="long_flush",
        liq_long_usd=1e6,
        liq_short_usd=1e5,
        oi_before_quote=1000.0,
        oi_after_quote=990.0,
        oi_drop_quote_pct=1.0,
        price_open=110.0,
        price_close=100.0,
        price_low=99.8,
        price_high=110.2,
        move_pct=-9.1,
        wick_pct=0.2,
        liq_to_oi_pct=0.1,
    )


def test_oi_falling_below_the_flush_low_is_said_as_a_possible_fall() -> None:
    # OI 1,000 → 990 during the flush (10 flushed), then 967.1 after: 229 % of the flushed
    # amount, which used to read "fell a further 229%". It is 2.3 % below the trough.
    oi = np.full(N, 1000.0)
    oi[START : END + 1] = [995.0, 990.0, 990.0, 990.0]
    oi[END + 1 :] = 967.1
    m = _market(oi)
    ev = _event(m)
    checklist = post_flush_checklist(m, ev, [], {}, ChecklistParams())
    items = {i.name: i for i in checklist}
    sentence = items["oi_rebuild"].sentence
    assert "fell a further 2.3% below the flush's low" in sentence, sentence
    assert "229%" not in sentence
    assert "(0.0 bps)" in items["basis"].sentence, items["basis"].sentence
    rules = risk_box(m, ev, checklist, [], VerdictParams())
    reload = next(r for r in rules if r.name == "oi_reloaded_into_weakness")
    assert reload.evidence[0].startswith("OI kept falling: at best 2.3% below the flush's low")
