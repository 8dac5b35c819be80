"""The wash kernel on the real Binance prints, each statistic recomputed here independently
(string digits, Decimal lots, a plain loop over pairs), and its distributions checked against
textbook values."""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pytest

from flushwatch.analytics import wash
from flushwatch.domain.records import Trade
from flushwatch.store import Store

BENFORD = [math.log10(1 + 1 / d) for d in range(1, 10)]


def _prints(store: Store, exchange: str, symbol: str) -> dict[str, np.ndarray]:
    df = store.read(Trade, exchange=exchange, symbol=symbol)
    return {
        "ts": df.get_column("ts_event").to_numpy(),
        "price": df.get_column("price").to_numpy(),
        "qty": df.get_column("qty").to_numpy(),
        "buy": (df.get_column("taker_side") == "buy").to_numpy(),
    }


@pytest.mark.parametrize(
    ("exchange", "symbol", "prints", "step"),
    [
        # message counts from the recording's PROVENANCE.md
        ("binanceusdm", "BTCUSDT", 21_313, 0.001),
        ("binanceusdm", "ETHUSDT", 14_076, 0.001),
        ("binance", "BTCUSDT", 9_757, 1e-5),
    ],
)
def test_benford_chi2_equals_an_independent_count(
    wash_store: Store, exchange: str, symbol: str, prints: int, step: float
) -> None:
    p = _prints(wash_store, exchange, symbol)
    assert p["qty"].size == prints
    assert wash.lot_step(p["qty"]) == step
    notional = p["price"] * p["qty"]
    digits = [int(f"{x:.12e}"[0]) for x in notional.tolist()]
    counts = [digits.count(d) for d in range(1, 10)]
    chi2 = sum((c - b * prints) ** 2 / (b * prints) for c, b in zip(counts, BENFORD, strict=True))
    mad = sum(abs(c / prints - b) for c, b in zip(counts, BENFORD, strict=True)) / 9
    got = wash.benford_test(notional)
    assert got.statistic == pytest.approx(chi2, rel=1e-12)
    assert got.detail["mad"] == pytest.approx(mad, rel=1e-12)
    # Real Binance prints do not follow Benford over six minutes (MAD well past Nigrini's
    # 0.015): minimum-notional lots and bots' fixed sizes crowd a few digits.
    assert got.detail["mad"] > 0.03
    assert got.p_value == 0.0


def test_round_lots_equal_a_decimal_count(wash_store: Store) -> None:
    p = _prints(wash_store, "binanceusdm", "BTCUSDT")
    lots = [Decimal(str(q)) / Decimal("0.001") for q in p["qty"].tolist()]
    units = [int(u) for u in lots]
    assert all(Decimal(u) == v for u, v in zip(units, lots, strict=True))
    at_round = sum(1 for u in units if u % 100 == 0)
    near = sum(1 for u in units if u > 5 and min(u % 100, 100 - u % 100) <= 5)
    got = wash.round_lot_test(p["qty"])
    assert (got.detail["at_round"], got.n) == (at_round, near)
    assert got.detail["round_lot"] == pytest.approx(0.1)
    expected = (near - at_round) / 10
    assert got.statistic == pytest.approx(at_round / expected)
    # Genuine traders round: 0.1, 0.2, ... 1 BTC are far more common than their neighbours.
    assert got.statistic > 4
    assert got.suspicious is False  # only the corrected assessment marks a test


def test_matched_pairs_equal_a_plain_loop(wash_store: Store) -> None:
    p = _prints(wash_store, "binanceusdm", "BTCUSDT")
    order = np.argsort(p["ts"], kind="stable")
    ts, qty, buy = p["ts"][order].tolist(), p["qty"][order].tolist(), p["buy"][order].tolist()
    opposite = same = 0
    for i in range(1, len(ts)):
        if ts[i] - ts[i - 1] <= 10**9 and buy[i] != buy[i - 1]:
            opposite += 1
            same += qty[i] == qty[i - 1]
    counts: dict[float, int] = {}
    for q in qty:
        counts[q] = counts.get(q, 0) + 1
    n = len(qty)
    expected = opposite * sum(c * (c - 1) for c in counts.values()) / (n * (n - 1))
    got = wash.matched_pairs_test(p["ts"], p["qty"], p["buy"])
    assert (got.detail["observed"], got.n) == (same, opposite)
    assert got.detail["expected"] == pytest.approx(expected, rel=1e-12)
    # Genuine prints: no more equal-size opposite-side pairs than chance gives.
    assert got.statistic < 1
    assert got.p_value is not None
    assert got.p_value > 0.5


def test_tail_exponent_recovers_a_simulated_pareto() -> None:
    """SIMULATED Pareto sizes (fixed seed): ζ is recovered within three standard errors."""
    rng = np.random.default_rng(11)
    for zeta in (1.5, 2.0):
        x = 0.002 * (1 - rng.random(20_000)) ** (-1 / zeta)
        est, se, xmin, n, _ = wash.tail_exponent(x)
        assert abs(est - zeta) < 3 * se
        assert n >= 50
        assert xmin >= 0.002
    heavy = wash.tail_test(0.002 * (1 - rng.random(20_000)) ** (-1 / 0.8))
    assert heavy.statistic is not None
    assert heavy.statistic < 1.0
    assert heavy.p_value is not None
    assert heavy.p_value < 1e-6  # far outside the genuine band [1.5, 2.5]


def test_distributions_match_textbook_values() -> None:
    # χ² (8 df) critical values 15.507 (5 %) and 20.090 (1 %) from standard tables.
    assert wash.chi2_sf_even(15.5073, 8) == pytest.approx(0.05, abs=1e-5)
    assert wash.chi2_sf_even(20.0902, 8) == pytest.approx(0.01, abs=1e-5)
    n, p = 40, 1 / 11
    exact = sum(math.comb(n, k) * p**k * (1 - p) ** (n - k) for k in range(9, n + 1))
    assert wash.binom_sf(9, n, p) == pytest.approx(exact, rel=1e-10)
    mu = 3.7
    lower = sum(math.exp(-mu) * mu**k / math.factorial(k) for k in range(7))
    assert wash.poisson_sf(7, mu) == pytest.approx(1 - lower, rel=1e-10)
    assert wash.holm([0.001, 0.2, 0.012, 0.04]) == [0.004, 0.2, 0.036, 0.08]


def test_holm_marks_only_corrected_rejections() -> None:
    tests = [
        wash.WashTest(name="a", available=True, p_value=0.02),
        wash.WashTest(name="b", available=True, p_value=0.03),
        wash.WashTest(name="c", available=False),
    ]
    out = wash.corrected(tests, prints=0)
    assert [t.p_holm for t in out.tests] == [0.04, 0.04, None]
    assert [t.suspicious for t in out.tests] == [True, True, False]
    assert out.score == 1.0
    assert out.label == "suspicion"
    assert wash.corrected([tests[2]], prints=0).score is None


def test_turnover_flags_volume_that_outgrew_its_liquidity() -> None:
    """SIMULATED buckets (fixed seed): volume 3× its history against flat OI is flagged; the
    same volume with OI grown alike is not; too little history is "not available"."""
    rng = np.random.default_rng(5)
    n_hist, n_win = 84, 12
    liq = 1e9 * np.exp(rng.normal(0, 0.05, n_hist + n_win))
    vol = 2e8 * np.exp(rng.normal(0, 0.3, n_hist + n_win))
    in_window = np.r_[np.zeros(n_hist, bool), np.ones(n_win, bool)]
    inflated = np.where(in_window, 3 * vol, vol)
    hot = wash.turnover_test(
        "volume_vs_oi", wash.Turnover(volume=inflated, liquidity=liq, in_window=in_window), "OI"
    )
    assert hot.p_value is not None
    assert hot.p_value < 1e-4
    assert hot.detail["ratio_multiple"] == pytest.approx(3.0, rel=0.35)
    grown = np.where(in_window, 3 * liq, liq)
    calm = wash.turnover_test(
        "volume_vs_oi", wash.Turnover(volume=inflated, liquidity=grown, in_window=in_window), "OI"
    )
    assert calm.p_value is not None
    assert calm.p_value > 0.05
    short = wash.turnover_test(
        "volume_vs_depth",
        wash.Turnover(volume=vol[-15:], liquidity=liq[-15:], in_window=in_window[-15:]),
        "depth",
    )
    assert short.available is False
    assert short.note.startswith("not available: 12 window and 3 history buckets")
