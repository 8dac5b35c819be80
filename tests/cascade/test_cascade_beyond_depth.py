"""Issue 13: runs that exhaust the known depth are "beyond known depth" — excluded from the
Monte Carlo's move probabilities — and liquidated USD never falls as the shock grows."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.cascade import (
    CascadeParams,
    MonteCarloParams,
    cascade_curve,
    forced_flow,
    monte_carlo,
)
from flushwatch.analytics.depth import DepthCurve

EDGES = np.arange(80.0, 120.5, 1.0)


def _book(per_pct: float, to_pct: float) -> DepthCurve:
    offs = np.linspace(0.0, to_pct / 100.0, 41)
    return DepthCurve(
        side="bid", reference=100.0, offsets=offs, notional=offs * 100.0 * per_pct,
        source="test", estimate=False,
    )  # fmt: skip


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    to_pct=st.sampled_from([3.0, 6.0, 15.0]),
    scale=st.floats(100.0, 5000.0),
)
def test_liquidated_usd_is_monotone_in_the_shock(seed: int, to_pct: float, scale: float) -> None:
    liq = np.random.default_rng(seed).gamma(0.5, scale, EDGES.size - 1)
    flow = forced_flow("down", 100.0, EDGES, liq)
    shocks = np.linspace(0.1, 20.0, 120)  # runs far past the end of the book too
    s = cascade_curve(flow, _book(1000.0, to_pct), shocks)
    # monotone up to the solver's stopping rule: a step adding less than
    # max(min_step_usd, tol_frac × flow) is left as residual_usd
    p = CascadeParams()
    tol = np.maximum(p.min_step_usd, p.tol_frac * (s.shock_usd[1:] + s.liquidated_usd[1:]))
    assert np.all(np.diff(s.liquidated_usd) >= -tol)
    assert s.exhausted[-1]  # 20 % is beyond every book here


def test_runs_beyond_known_depth_are_excluded_from_move_probabilities() -> None:
    # A 3 % book against 3,000 USD of longs per 1 % (gain 3): most runs exhaust it.
    liq = np.full(EDGES.size - 1, 3000.0)
    flow = forced_flow("down", 100.0, EDGES, liq)
    mc = monte_carlo(
        flow, _book(1000.0, 3.0), 0.5, [0.5, 1.0, 2.0, 20.0], MonteCarloParams(runs=4000)
    )
    assert 0.0 < mc.prob_book_exhausted < 1.0
    assert mc.runs_within_depth == round(4000 * (1.0 - mc.prob_book_exhausted))
    # no run inside a 3 % book moves 20 %: counting exhausted runs as "beyond" said otherwise
    assert mc.prob_beyond[-1] == 0.0
    assert all(b <= a for a, b in itertools.pairwise(mc.prob_beyond))
    assert abs(mc.move_p05_pct) <= 3.0 + 1e-9
