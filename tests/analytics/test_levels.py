"""Key levels: where they come from, how they merge, and each state pinned at its threshold."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.levels import (
    LevelParams,
    is_key_level,
    key_levels,
    nearest_support,
    round_steps,
)
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import FlushEvent, KeyLevel
from flushwatch.testing.builders import flush_event

T0 = 1_700_000_000 * 10**9  # ns, like the assembler's grid
HOUR = 3600 * 10**9
#: Only the flush extremes and prior high/low: isolates the state machine.
BARE = LevelParams(
    round_minor_per_side=0, round_major_per_side=0, pivots_per_side=0, profile_nodes=0
)


def series(close: Any, low: Any = None, high: Any = None, volume: Any = None) -> MarketSeries:
    """Hourly bars from closes (high/low default to close ± 0.2)."""
    c = np.asarray(close, dtype=np.float64)
    return MarketSeries(
        asset="TEST",
        sources={},
        ts=(T0 + HOUR * np.arange(c.size)).astype(np.int64),
        step_s=3600,
        open=c.copy(),
        high=c + 0.2 if high is None else np.asarray(high, dtype=np.float64),
        low=c - 0.2 if low is None else np.asarray(low, dtype=np.float64),
        close=c,
        volume_quote=None if volume is None else np.asarray(volume, dtype=np.float64),
    )


def flush(m: MarketSeries, start: int, end: int, low: float, high: float, kind: str) -> FlushEvent:
    """A FlushEvent over bars [start, end] with the given extremes."""
    return flush_event(
        start_ts=int(m.ts[start]),
        end_ts=int(m.ts[end]),
        kind=kind,
        detected_by="price_volume",
        score=1.0,
        price_open=float(m.close[start - 1]),
        price_close=float(m.close[end]),
        price_low=low,
        price_high=high,
    )


def flush_low_state(post: list[float], post_low: list[float] | None = None) -> KeyLevel:
    """Flat 110, a flush to a 100 low over bars 20-22, then ``post`` closes; the flush-low level."""
    close = [110.0] * 20 + [105.0, 101.0, 102.0] + post
    low = [c - 0.2 for c in close]
    low[21] = 100.0
    if post_low is not None:
        low[23:] = post_low
    m = series(close, low=low)
    levels = key_levels(m, 22, BARE, flush(m, 20, 22, 100.0, 110.2, "long_flush"))
    (lv,) = [lv for lv in levels if lv.kind == "flush_low"]
    assert lv.role == "support"
    return lv


@pytest.mark.parametrize(
    ("price", "steps"),
    [
        (60_000.0, (1000.0, 5000.0)),
        (100_000.0, (2000.0, 10_000.0)),
        (3000.0, (50.0, 200.0)),
        (0.6, (0.01, 0.05)),
    ],
)
def test_round_steps(price: float, steps: tuple[float, float]) -> None:
    assert round_steps(price, LevelParams()) == pytest.approx(steps)


def test_round_numbers_nearest_few_each_side() -> None:
    m = series([60_500.0] * 30)
    p = LevelParams(pivots_per_side=0, profile_nodes=0)
    rounds = sorted(lv.price for lv in key_levels(m, 29, p) if lv.kind == "round_number")
    assert rounds == [59_000.0, 60_000.0, 61_000.0, 62_000.0, 65_000.0]
    roles = {lv.price: lv.role for lv in key_levels(m, 29, p)}
    assert roles[60_000.0] == "support"
    assert roles[61_000.0] == "resistance"


@pytest.mark.parametrize(
    ("post", "post_low", "state"),
    [
        ([103.0] * 5, [101.0001] * 5, "not_tested"),  # never within 1 % of 100
        ([103.0] * 5, [101.0] * 5, "holding"),  # a low at exactly +1 % is a test
        ([99.5, 103.0], None, "holding"),  # a close exactly 0.5 % below does not lose it
        ([99.49, 99.0], None, "lost"),  # more than 0.5 % below: lost
        ([99.49, 101.0, 99.9], None, "lost"),  # one close back above is not a reclaim
        ([99.49, 100.0, 101.0], None, "lost"),  # a close AT the level is not above it
        ([99.49, 101.0, 101.0], None, "reclaimed"),  # two closes back above
        ([99.49, 101.0, 101.0, 99.0], None, "lost"),  # lost again after the reclaim
    ],
)
def test_support_states(post: list[float], post_low: list[float] | None, state: str) -> None:
    assert flush_low_state(post, post_low).state == state


def test_lost_and_reclaimed_timestamps() -> None:
    lv = flush_low_state([103.0, 99.0, 101.0, 101.0])
    assert (lv.lost_ts, lv.reclaimed_ts) == (T0 + HOUR * 24, T0 + HOUR * 26)
    again = flush_low_state([99.0, 101.0, 101.0, 98.0])
    assert (again.state, again.lost_ts, again.reclaimed_ts) == ("lost", T0 + HOUR * 26, None)


def test_nan_bars_are_skipped() -> None:
    assert flush_low_state([np.nan, 99.0, np.nan, 98.0]).state == "lost"


def test_reclaim_bars_param() -> None:
    close = [110.0] * 20 + [105.0, 101.0, 102.0, 99.0, 101.0]
    m = series(close)
    ev = flush(m, 20, 22, 100.0, 110.2, "long_flush")
    p1 = LevelParams(round_minor_per_side=0, round_major_per_side=0, reclaim_bars=1)
    (lv,) = [lv for lv in key_levels(m, 22, p1, ev) if lv.kind == "flush_low"]
    assert lv.state == "reclaimed"


@pytest.mark.parametrize(
    ("post", "state"),
    [([115.0], "not_tested"), ([119.0, 120.6], "holding"), ([120.61], "lost"),
     ([120.61, 119.0, 119.0], "reclaimed")],
)  # fmt: skip
def test_resistance_mirrors_support(post: list[float], state: str) -> None:
    close = [110.0] * 20 + [115.0, 119.0, 118.0, *post]
    high = [c + 0.2 for c in close]
    high[21] = 120.0
    m = series(close, high=high)
    levels = key_levels(m, 22, BARE, flush(m, 20, 22, 109.8, 120.0, "short_squeeze"))
    (lv,) = [lv for lv in levels if lv.kind == "flush_high"]
    assert (lv.role, lv.state) == ("resistance", state)


def test_flush_low_only_once_event_ended() -> None:
    close = [110.0] * 20 + [105.0, 101.0, 102.0, 103.0]
    m = series(close)
    ev = flush(m, 20, 22, 100.0, 110.2, "long_flush")
    assert not [lv for lv in key_levels(m, 21, BARE, ev) if lv.kind == "flush_low"]
    assert [lv for lv in key_levels(m, 22, BARE, ev) if lv.kind == "flush_low"]


def test_prior_high_low_window_before_event() -> None:
    close = [100.0] * 60
    close[5] = 130.0  # outside a 24 h look-back before bar 50
    close[40] = 120.0
    close[45] = 90.0
    close[55] = 140.0  # after the event start: not a prior high
    m = series(close)
    ev = flush(m, 50, 52, 99.8, 100.2, "long_flush")
    p = LevelParams(round_minor_per_side=0, round_major_per_side=0, prior_hours=24.0)
    kinds = {lv.kind: lv.price for lv in key_levels(m, 52, p, ev)}
    assert kinds["prior_high"] == pytest.approx(120.2)
    assert kinds["prior_low"] == pytest.approx(89.8)


def test_swing_pivots_are_strict_fractals() -> None:
    close = [100.0, 101.0, 102.0, 106.0, 102.0, 101.0, 100.0, 100.5, 104.0, 101.0, 100.0, 99.0,
             99.5, 100.0, 100.0, 100.0, 100.0, 100.0]  # fmt: skip
    m = series(close)
    p = LevelParams(round_minor_per_side=0, round_major_per_side=0, pivot_bars=3, merge_pct=0.01)
    found = {(lv.kind, round(lv.price, 1)) for lv in key_levels(m, m.n - 1, p)}
    assert ("swing_high", 104.2) in found  # 104 beats 3 bars each side
    assert ("prior_high", 106.2) in found  # 106 is also the window high (more significant)
    assert ("swing_low", 99.8) in found
    assert ("prior_low", 98.8) in found  # the lowest swing is the window low: merged into it
    close[7] = 104.0  # a tie with a neighbour: no longer a strict pivot
    found = {(lv.kind, round(lv.price, 1)) for lv in key_levels(series(close), m.n - 1, p)}
    assert ("swing_high", 104.2) not in found


def test_unconfirmed_pivot_is_not_used() -> None:
    close = [100.0] * 10 + [100.0, 100.0, 104.0, 100.0, 100.0]
    m = series(close)
    p = LevelParams(round_minor_per_side=0, round_major_per_side=0, pivot_bars=3)
    assert all(lv.kind != "swing_high" for lv in key_levels(m, m.n - 1, p))


def test_volume_nodes() -> None:
    close = np.concatenate([np.full(20, 105.0), np.linspace(100.0, 120.0, 20)])
    vol = np.concatenate([np.full(20, 1e6), np.full(20, 1e3)])
    p = LevelParams(round_minor_per_side=0, round_major_per_side=0, pivots_per_side=0)
    nodes = [lv for lv in key_levels(series(close, volume=vol), 39, p) if lv.kind == "volume_node"]
    assert nodes
    assert min(abs(lv.price - 105.0) for lv in nodes) < 0.5
    assert all(lv.kind != "volume_node" for lv in key_levels(series(close), 39, p))


def test_merge_keeps_most_significant() -> None:
    close = [60_500.0] * 30
    close[10] = 60_050.0  # prior low 60,049.8 sits 0.08 % from the 60,000 round number
    p = LevelParams(pivots_per_side=0, profile_nodes=0)
    levels = key_levels(series(close), 29, p)
    near = [lv for lv in levels if abs(lv.price - 60_000.0) < 200.0]
    assert [lv.kind for lv in near] == ["prior_low"]


def test_nearest_support_and_key() -> None:
    lv = [
        KeyLevel(asset="X", price=95.0, kind="swing_low", role="support", state="holding"),
        KeyLevel(asset="X", price=98.0, kind="swing_low", role="support", state="lost"),
        KeyLevel(asset="X", price=97.0, kind="prior_low", role="support", state="reclaimed"),
        KeyLevel(asset="X", price=105.0, kind="swing_high", role="resistance", state="holding"),
    ]
    nearest = nearest_support(lv, 100.0)
    assert nearest is not None
    assert nearest.price == 97.0
    assert nearest_support(lv, 90.0) is None
    rn = KeyLevel(asset="X", price=60_000.0, kind="round_number", role="support", state="holding")
    assert is_key_level(rn, 10.0)
    assert not is_key_level(KeyLevel(**{**_fields(rn), "price": 61_000.0}), 10.0)
    assert is_key_level(lv[0], 10.0)


def _fields(lv: KeyLevel) -> dict[str, Any]:
    return {f: getattr(lv, f) for f in lv.__struct_fields__}


@settings(max_examples=30, deadline=None)
@given(future=st.lists(st.floats(min_value=50.0, max_value=200.0), min_size=1, max_size=30))
def test_levels_found_without_look_ahead(future: list[float]) -> None:
    rng = np.random.default_rng(1)
    past = list(100.0 + np.cumsum(rng.normal(0, 1, 60)))
    vol = np.full(60 + len(future), 1e6)
    a = key_levels(series(past + future, volume=vol), 59, LevelParams())
    b = key_levels(series(past + [100.0] * len(future), volume=vol), 59, LevelParams())
    assert [(x.price, x.kind, x.role) for x in a] == [(x.price, x.kind, x.role) for x in b]


@settings(max_examples=20, deadline=None)
@given(k=st.integers(min_value=-3, max_value=3), seed=st.integers(0, 1000))
def test_scaling_price_by_power_of_ten_scales_levels(k: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    close = 600.0 + np.cumsum(rng.normal(0, 5, 80))
    f = 10.0**k
    base = key_levels(series(close, low=close * 0.998, high=close * 1.002), 59, LevelParams())
    scaled = key_levels(
        series(close * f, low=close * 0.998 * f, high=close * 1.002 * f), 59, LevelParams()
    )
    assert [(x.kind, x.state) for x in scaled] == [(x.kind, x.state) for x in base]
    assert [x.price for x in scaled] == pytest.approx([x.price * 10.0**k for x in base])
