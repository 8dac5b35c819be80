"""Exact values of the backtest metrics on constructed arrays (hand computations inline)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.backtest_map import (
    betainc_reg,
    bootstrap_top_share,
    level_capture,
    naive_baseline,
    partial_r,
    partial_spearman,
    rankdata,
    score_side,
    spearman,
    spearman_test,
    spread_over_bins,
    t_two_sided_p,
    top_share,
    top_weights,
)


def a(*xs: float) -> np.ndarray:
    return np.array(xs, dtype=np.float64)


# --- baseline and capture -------------------------------------------------------------


def test_naive_baseline_is_relative_range_times_oi() -> None:
    lo, sh = naive_baseline(a(100.0, 50.0), a(101.0, 55.0), a(90.0, 50.0), a(2e9, 1e9))
    assert lo.tolist() == [0.1 * 2e9, 0.0]
    assert sh.tolist() == pytest.approx([0.01 * 2e9, 0.1 * 1e9], rel=1e-15)


def test_top_share_exact() -> None:
    # 8 hours, top quarter = the 2 highest predictions (hours 2 and 5): (30 + 10) / 100.
    pred = a(1, 2, 9, 3, 4, 8, 0, 5)
    real = a(10, 5, 30, 5, 20, 10, 10, 10)
    assert top_share(pred, real) == pytest.approx(0.4, abs=1e-15)
    assert top_share(pred, real, q=0.5) == pytest.approx((30 + 10 + 10 + 20) / 100, abs=1e-15)


def test_top_share_ties_are_shared_pro_rata() -> None:
    # k = 1 of 4; hours 0 and 1 tie at the top: each counts half.
    assert top_share(a(5, 5, 1, 0), a(10, 30, 40, 20)) == pytest.approx(20 / 100)
    # a constant predictor scores exactly the chance level, whatever the order
    real = a(7, 1, 100, 3, 0, 9, 2, 5)
    assert top_share(np.zeros(8), real) == pytest.approx(0.25, abs=1e-15)
    assert top_weights(a(3, 3, 3), 0.25).tolist() == pytest.approx([0.25] * 3)


def test_top_share_without_realized_usd_is_nan() -> None:
    assert math.isnan(top_share(a(1, 2), a(0, 0)))


@given(st.lists(st.floats(0, 1e6), min_size=4, max_size=60), st.floats(0.05, 0.95))
def test_top_weights_sum_to_k(pred: list[float], q: float) -> None:
    w = top_weights(np.array(pred), q)
    assert w.sum() == pytest.approx(q * len(pred))
    assert ((w >= 0) & (w <= 1 + 1e-12)).all()


def test_bootstrap_is_seeded_and_constant_predictor_has_no_spread() -> None:
    rng = np.random.default_rng(1)
    real = rng.exponential(size=240)
    assert bootstrap_top_share(np.zeros(240), real) == pytest.approx((0.25, 0.25))
    pred = real + rng.normal(size=240)
    one = bootstrap_top_share(pred, real, seed=3)
    assert one == bootstrap_top_share(pred, real, seed=3)
    assert one[0] <= top_share(pred, real) <= one[1]


# --- ranks and correlations -----------------------------------------------------------


def test_rankdata_average_ties() -> None:
    assert rankdata(a(10, 20, 20, 5, 20)).tolist() == [2.0, 4.0, 4.0, 1.0, 4.0]


def test_spearman_hand_computed() -> None:
    # d = (-1, 1, -1, 1, 0): rho = 1 - 6·4 / (5·24) = 0.8
    assert spearman(a(1, 2, 3, 4, 5), a(2, 1, 4, 3, 5)) == pytest.approx(0.8, abs=1e-15)
    assert spearman(a(1, 2, 3), a(30, 20, 10)) == pytest.approx(-1.0)


def test_partial_spearman_hand_computed() -> None:
    x, y, z = a(1, 2, 3, 4, 5), a(2, 1, 4, 3, 5), a(1, 3, 2, 5, 4)
    # r_xy = 0.8 (above); r_xz: d = (0,-1,1,-1,1) → 0.8; r_yz: d = (1,-2,2,-2,1) → 1 - 84/120 = 0.3
    expected = (0.8 - 0.8 * 0.3) / math.sqrt((1 - 0.8**2) * (1 - 0.3**2))
    res = partial_spearman(x, y, z)
    assert res.r == pytest.approx(expected, abs=1e-12)
    assert res.n == 5
    # df = n - 3 = 2, where P(|T| > t) = 1 - t / sqrt(2 + t²)
    t = expected * math.sqrt(2 / (1 - expected**2))
    assert res.p == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-12)
    assert res.ci_low < res.r < res.ci_high
    assert partial_r(0.5, 0.0, 0.0) == 0.5


@settings(max_examples=50, deadline=None)
@given(st.integers(0, 2**32 - 1))
def test_partial_equals_correlation_of_rank_residuals(seed: int) -> None:
    rng = np.random.default_rng(seed)
    z = rng.normal(size=50)
    x = z + rng.normal(size=50)
    y = z + rng.normal(size=50)
    rx, ry, rz = rankdata(x), rankdata(y), rankdata(z)
    design = np.c_[np.ones(50), rz]
    ex = rx - design @ np.linalg.lstsq(design, rx, rcond=None)[0]
    ey = ry - design @ np.linalg.lstsq(design, ry, rcond=None)[0]
    assert partial_spearman(x, y, z).r == pytest.approx(np.corrcoef(ex, ey)[0, 1], abs=1e-10)


def test_spearman_test_p_uses_n_minus_2() -> None:
    res = spearman_test(a(1, 2, 3, 4, 5), a(2, 1, 4, 3, 5))
    t = 0.8 * math.sqrt(3 / (1 - 0.64))
    # no closed form for 3 df in this file: compare with the table value band instead
    assert res.p == pytest.approx(t_two_sided_p(t, 3))
    assert 0.10 < res.p < 0.11  # t = 2.309, df 3: two-sided p = 0.104 (t table)


# --- Student t and the incomplete beta ------------------------------------------------


@pytest.mark.parametrize("t", [0.0, 0.1, 0.5, 1.0, 2.0, 3.5, 8.0, 40.0])
def test_t_p_closed_forms(t: float) -> None:
    assert t_two_sided_p(t, 1) == pytest.approx(1 - 2 * math.atan(t) / math.pi, rel=1e-12)
    assert t_two_sided_p(t, 2) == pytest.approx(1 - t / math.sqrt(2 + t * t), rel=1e-10)
    x = t / math.sqrt(4 + t * t)
    assert t_two_sided_p(t, 4) == pytest.approx(1 - x * (3 - x * x) / 2, rel=1e-10)


@pytest.mark.parametrize(
    ("t", "df", "p"),
    [
        # two-sided 5 % critical values from the t table (any statistics text, e.g. NIST
        # e-Handbook 1.3.6.7.2); 12.706 at df 1, 2.228 at 10, 2.042 at 30, 1.984 at 100
        (12.706204736174698, 1, 0.05),
        (2.2281388519649385, 10, 0.05),
        (2.0422724563012373, 30, 0.05),
        (1.9839715184496334, 100, 0.05),
        (2.5758293035489004, 1e9, 0.01),  # normal limit
    ],
)
def test_t_p_table_values(t: float, df: float, p: float) -> None:
    assert t_two_sided_p(t, df) == pytest.approx(p, rel=1e-6)


def test_t_p_large_df_tends_to_normal() -> None:
    for t in (0.5, 1.0, 2.0, 3.0):
        assert t_two_sided_p(t, 4000) == pytest.approx(math.erfc(t / math.sqrt(2)), rel=2e-2)


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 25), st.integers(1, 25), st.floats(0.001, 0.999))
def test_betainc_matches_binomial_sum(a_: int, b_: int, x: float) -> None:
    # For integers, I_x(a, b) = P(Binomial(a+b-1, x) ≥ a).
    n = a_ + b_ - 1
    exact = sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a_, n + 1))
    assert betainc_reg(a_, b_, x) == pytest.approx(exact, rel=1e-9, abs=1e-14)


def test_betainc_rejects_x_outside_unit_interval() -> None:
    with pytest.raises(ValueError, match="outside"):
        betainc_reg(1.0, 1.0, 1.5)


# --- the level version ------------------------------------------------------------------


def test_spread_over_bins_uniform_in_price() -> None:
    edges = a(0, 10, 20, 30, 40)
    # 30 USD over [5, 35]: 5/30, 10/30, 10/30, 5/30; 8 USD at the point 22 → bin 2
    usd = spread_over_bins(edges, a(5, 22), a(35, 22), a(30, 8))
    assert usd.tolist() == pytest.approx([5.0, 10.0, 18.0, 5.0])


@given(st.floats(0, 99), st.floats(0, 99), st.floats(0, 1e9))
def test_spread_conserves_usd_inside_the_edges(p: float, q: float, usd: float) -> None:
    lo, hi = min(p, q), max(p, q)
    out = spread_over_bins(np.linspace(0.0, 100.0, 21), a(lo), a(hi), a(usd))
    assert out.sum() == pytest.approx(usd, rel=1e-9, abs=1e-6)


def test_level_capture_one_day() -> None:
    edges = a(90, 92, 94, 96, 98, 100, 102, 104)  # 7 bins
    # two bars: open 100 → low 96 (long 40 USD over bins 3,4), open 98 → low 94 (long 20 over 2,3)
    open_, high, low = a(100, 98), a(101, 99), a(96, 94)
    liq = a(40, 20)
    dens = a(0, 0, 0, 5, 1, 0, 0)  # the map ranks bin 3 ([96, 98]) first
    day = level_capture(edges, dens, open_, high, low, liq, side="long")
    # universe: bins overlapping [94, 101] → bins 2..5 (4 bins); top quarter = 1 bin: bin 3
    assert day.bins == 4
    bin3 = 20.0 + 10.0  # 40 over [96, 100]: 20 in [96, 98]; 20 over [94, 98]: 10 in [96, 98]
    bin4 = 20.0
    assert day.total == pytest.approx(60.0)
    assert day.captured == pytest.approx(bin3)
    # baseline: bins below the first open (100), nearest first → bin 4 ([98, 100], mid 99)
    assert day.captured_baseline == pytest.approx(bin4)
    short = level_capture(edges, dens, open_, high, low, a(0, 10), side="short")
    # short USD 10 over [98, 99] → bin 4; nearest bin *above* 100 is bin 5: nothing there
    assert (short.total, short.captured_baseline, short.captured) == (10.0, 0.0, 0.0)
    with pytest.raises(ValueError, match="side"):
        level_capture(edges, dens, open_, high, low, liq, side="up")


# --- one side's table row ---------------------------------------------------------------


def test_score_side_drops_non_finite_rows() -> None:
    rng = np.random.default_rng(0)
    real = rng.exponential(size=200)
    base = real * rng.uniform(0.5, 1.5, size=200)
    mp = base.copy()
    mp[:10] = np.nan
    s = score_side(mp, base, real, side="long", n_boot=50)
    assert s.n == 190
    assert s.chance == 0.25
    assert s.map_capture.share == pytest.approx(top_share(base[10:], real[10:]))
    # the map is the baseline here: nothing beyond it
    assert s.partial.r == pytest.approx(0.0, abs=1e-12) or math.isnan(s.partial.r)
