"""The cascade walk on constructed books: exact walks, conservation, gain, Monte Carlo."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.cascade import (
    CascadeParams,
    MonteCarloParams,
    cascade_curve,
    cascade_gain,
    forced_flow,
    monte_carlo,
    simulate,
)
from flushwatch.analytics.depth import DepthCurve


def uniform(per_pct: float, to_pct: float = 20.0, side: str = "bid") -> DepthCurve:
    """A book holding ``per_pct`` USD per 1 % of price, out to ``to_pct`` %."""
    return DepthCurve(
        side=side,  # type: ignore[arg-type]
        reference=100.0,
        offsets=np.array([0.0, to_pct / 100]),
        notional=np.array([0.0, per_pct * to_pct]),
        source="test",
        estimate=False,
    )


EDGES = np.arange(80.0, 120.5, 1.0)  # 1-wide bins from 80 to 120


def band(lo: float, usd: float, edges: np.ndarray = EDGES) -> np.ndarray:
    out = np.zeros(edges.size - 1)
    out[int(np.flatnonzero(edges == lo)[0])] = usd
    return out


def test_uniform_book_one_band_crossed_whole_gives_exact_final_price() -> None:
    # 1,000 USD per 1 %; a 5 % shock (5,000 USD) crosses the 96–97 band (2,000 USD of longs):
    # the flow then totals 7,000 USD → 7 % down, where no more longs sit.
    r = simulate("down", 100.0, EDGES, band(96.0, 2000.0), None, uniform(1000.0), shock_pct=5.0)
    assert r.final_move_pct == pytest.approx(-7.0, abs=1e-12)
    assert r.final_price == pytest.approx(93.0, abs=1e-10)
    assert r.liquidated_usd == pytest.approx(2000.0, abs=1e-9)
    assert r.amplification == pytest.approx(1.4, abs=1e-12)
    assert r.steps == 2
    assert r.converged
    assert not r.book_exhausted
    assert r.path.price.tolist() == pytest.approx([95.0, 93.0])
    assert [(t.price_from, t.price_to, t.liquidated_usd) for t in r.triggers] == [
        pytest.approx((97.0, 96.0, 2000.0))
    ]


def test_shock_short_of_the_band_triggers_nothing() -> None:
    r = simulate("down", 100.0, EDGES, band(96.0, 2000.0), None, uniform(1000.0), shock_pct=2.5)
    assert r.final_move_pct == pytest.approx(-2.5)
    assert r.liquidated_usd == 0.0
    assert r.amplification == pytest.approx(1.0)


def test_partial_band_converges_to_the_analytic_fixed_point() -> None:
    # Band 96–97 holds 400 USD of longs against 1,000 USD of book (G = 0.4). A 3.5 % shock
    # half-crosses it and the cascade settles where the book taken equals the flow released:
    # 1000·x = 3500 + 400·(x − 3)  →  x = 2300 / 600 = 3.8333… %.
    fine = CascadeParams(min_step_usd=0.0, tol_frac=1e-12)
    liq = band(96.0, 400.0)
    r = simulate("down", 100.0, EDGES, liq, None, uniform(1000.0), shock_pct=3.5, params=fine)
    assert r.final_move_pct == pytest.approx(-2300 / 600, rel=1e-9)
    assert r.liquidated_usd == pytest.approx(400.0 * (2300 / 600 - 3), rel=1e-9)
    assert r.converged
    # The default dust floor (1 USD a step) stops within a dollar's worth of book of it.
    coarse = simulate("down", 100.0, EDGES, liq, None, uniform(1000.0), shock_pct=3.5)
    assert coarse.final_move_pct == pytest.approx(-2300 / 600, abs=0.002)


def test_zero_liquidations_leave_the_shock_alone() -> None:
    zeros = np.zeros(EDGES.size - 1)
    r = simulate("down", 100.0, EDGES, zeros, zeros, uniform(1000.0), shock_usd=3210.0)
    assert r.final_move_pct == pytest.approx(r.shock_move_pct)
    assert r.shock_move_pct == pytest.approx(-3.21)
    assert r.amplification == pytest.approx(1.0)
    assert r.steps == 1


def test_squeeze_mirrors_the_flush() -> None:
    shorts = band(103.0, 2000.0)  # 103–104: 3–4 % above
    r = simulate("up", 100.0, EDGES, shorts, None, uniform(1000.0, side="ask"), shock_pct=5.0)
    assert r.final_move_pct == pytest.approx(7.0)
    assert r.final_price == pytest.approx(107.0)
    # Mass on the wrong side of the price is ignored by the other direction.
    down = simulate("down", 100.0, EDGES, shorts, None, uniform(1000.0), shock_pct=5.0)
    assert down.final_move_pct == pytest.approx(-5.0)


def test_stops_count_as_forced_flow_unless_switched_off() -> None:
    stops = band(95.0, 1000.0)
    liq = band(96.0, 2000.0)
    r = simulate("down", 100.0, EDGES, liq, stops, uniform(1000.0), shock_pct=5.0)
    assert (r.liquidated_usd, r.stops_usd) == pytest.approx((2000.0, 1000.0))
    assert r.final_move_pct == pytest.approx(-8.0)
    off = CascadeParams(include_stops=False)
    r2 = simulate("down", 100.0, EDGES, liq, stops, uniform(1000.0), shock_pct=5.0, params=off)
    assert (r2.final_move_pct, r2.stops_usd) == pytest.approx((-7.0, 0.0))


def test_runaway_cascade_hits_the_end_of_the_known_book() -> None:
    liq = np.full(EDGES.size - 1, 3000.0)  # 3,000 USD of longs per 1 % vs 1,000 of book: G = 3
    r = simulate("down", 100.0, EDGES, liq, None, uniform(1000.0, to_pct=10.0), shock_pct=1.0)
    assert r.book_exhausted
    assert r.final_move_pct == pytest.approx(-10.0)
    # Conservation at the end of the book: depth taken + unabsorbed = shock + forced flow.
    assert 10_000.0 + r.unabsorbed_usd == pytest.approx(r.shock_usd + r.liquidated_usd)


def test_gain_is_forced_mass_over_depth_per_bin() -> None:
    liq = band(96.0, 2500.0) + band(90.0, 400.0)
    flow = forced_flow("down", 100.0, EDGES, liq, band(96.0, 500.0))
    g = cascade_gain(flow, uniform(1000.0, to_pct=15.0))
    by_price = dict(zip(g.price_lo.tolist(), g.gain.tolist(), strict=True))
    assert by_price[96.0] == pytest.approx(3.0)  # (2,500 + 500) / 1,000
    assert by_price[90.0] == pytest.approx(0.4)
    assert by_price[95.0] == 0.0
    assert np.isnan(by_price[80.0])  # 15–20 % below: beyond the known book
    assert [(b.price_from, b.price_to) for b in g.bands] == [pytest.approx((97.0, 96.0))]
    assert g.max_gain == pytest.approx(3.0)
    assert g.width_pct == pytest.approx(1.0)


def test_refill_can_only_shorten_the_cascade() -> None:
    liq = np.full(EDGES.size - 1, 600.0)
    base = simulate("down", 100.0, EDGES, liq, None, uniform(1000.0), shock_pct=2.0)
    slow = CascadeParams(resilience_per_s=0.2)
    r = simulate("down", 100.0, EDGES, liq, None, uniform(1000.0), shock_pct=2.0, params=slow)
    assert abs(r.extreme_move_pct) < abs(base.final_move_pct)
    assert r.refilled_usd > 0
    # Displaced depth + refilled depth = everything executed.
    displaced = 1000.0 * abs(r.final_move_pct)
    executed = r.shock_usd + r.liquidated_usd
    assert displaced + r.refilled_usd == pytest.approx(executed, rel=1e-9)


@settings(max_examples=60, deadline=None)
@given(
    masses=st.lists(st.floats(0, 5000), min_size=40, max_size=40),
    stops=st.lists(st.floats(0, 2000), min_size=40, max_size=40),
    shock=st.floats(0.05, 15.0),
    per_pct=st.floats(200.0, 5000.0),
)
def test_flow_is_conserved(
    masses: list[float], stops: list[float], shock: float, per_pct: float
) -> None:
    """Book depth consumed = shock + liquidations + stops triggered (no refill)."""
    depth = uniform(per_pct, to_pct=25.0)
    r = simulate("down", 100.0, EDGES, np.array(masses), np.array(stops), depth, shock_pct=shock)
    consumed = depth.within(abs(r.final_move_pct) / 100) + r.unabsorbed_usd
    assert consumed == pytest.approx(r.shock_usd + r.liquidated_usd + r.stops_usd, rel=1e-9)
    assert abs(r.final_move_pct) >= abs(r.shock_move_pct) - 1e-12
    assert r.converged or r.book_exhausted


def test_cascade_curve_is_monotone_in_the_shock() -> None:
    rng = np.random.default_rng(7)
    liq = rng.gamma(0.5, 600.0, EDGES.size - 1)
    flow = forced_flow("down", 100.0, EDGES, liq)
    shocks = np.linspace(0.1, 12.0, 200)
    st_ = cascade_curve(flow, uniform(1000.0), shocks)
    assert np.all(np.diff(st_.final) >= -1e-9)
    assert np.all(st_.final >= st_.shock_move - 1e-12)


def _mc(shock: float, seed: int = 3) -> list[float]:
    rng = np.random.default_rng(11)
    liq = rng.gamma(0.5, 800.0, EDGES.size - 1)
    flow = forced_flow("down", 100.0, EDGES, liq)
    mc = MonteCarloParams(runs=2000, seed=seed)
    return monte_carlo(flow, uniform(1000.0), shock, [1.0, 3.0, 5.0, 10.0], mc).prob_beyond


def test_monte_carlo_is_deterministic_for_a_seed() -> None:
    assert _mc(2.0) == _mc(2.0)
    assert _mc(2.0) != _mc(2.0, seed=4)


def test_bigger_shocks_make_big_moves_more_likely() -> None:
    curves = [_mc(s) for s in (0.5, 1.0, 2.0, 4.0)]
    for small, big in itertools.pairwise(curves):
        assert all(b >= a for a, b in zip(small, big, strict=True))
    assert curves[-1][1] > curves[0][1]
    for c in curves:  # P(move ≥ X) falls with X
        assert all(b <= a for a, b in itertools.pairwise(c))
