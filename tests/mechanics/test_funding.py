"""Funding: premium index, clamp, caps, interval scaling, annualisation (DOMAIN.md §2.4, §5)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from flushwatch.analytics.mechanics import funding as fu
from flushwatch.errors import ConfigError


def test_annualisation_check_values() -> None:
    # DOMAIN.md §2.4: 0.01 % per 8 h is 10.95 % simple, 11.57 % compounded.
    assert float(fu.annualize(0.0001, 8.0)) == pytest.approx(0.1095)
    assert round(float(fu.annualize(0.0001, 8.0, compound=True)), 4) == 0.1157
    assert float(fu.annualize(0.0001 / 8, 1.0)) == pytest.approx(0.1095)
    with pytest.raises(ConfigError):
        fu.annualize(0.0001, 0.0)


def test_premium_index() -> None:
    # impact bid above index → positive; impact ask below index → negative; inside → 0
    p = fu.premium_index(np.array([101.0, 99.0, 99.5]), np.array([102.0, 99.5, 100.5]), 100.0)
    assert p == pytest.approx([0.01, -0.005, 0.0])


def test_clamp_pins_to_interest_inside_the_band() -> None:
    f = fu.clamp_funding(np.array([-0.0004, 0.0, 0.00059, 0.0006, 0.001]))
    assert f == pytest.approx([0.0001, 0.0001, 0.0001, 0.0001, 0.0005])


def test_binance_interval_scaling_and_cap() -> None:
    # a 4-h contract divides by 8/4 = 2 since 2025-09-18; before, it did not
    assert float(fu.binance_funding_rate(0.0, interval_h=4.0)) == pytest.approx(0.00005)
    old = fu.binance_funding_rate(0.0, interval_h=4.0, scale_to_interval=False)
    assert float(old) == pytest.approx(0.0001)
    # cap = k × first-tier MMR: BTCUSDT 0.4 % × 0.75 = 0.3 % (pre-Nov 2021 k)
    cap = fu.binance_cap(0.004, k=0.75)
    assert cap == pytest.approx(0.003)
    assert float(fu.binance_funding_rate(0.01, cap=cap)) == pytest.approx(0.003)
    assert float(fu.binance_funding_rate(-0.01, cap=cap, floor=-0.002)) == pytest.approx(-0.002)
    with pytest.raises(ConfigError, match="not one of"):
        fu.binance_funding_rate(0.0, interval_h=3.0)


def test_bybit_linear_weights() -> None:
    # weights 1..n: the latest sample weighs most
    assert fu.linear_weighted_average(np.array([0.0, 0.0, 0.003])) == pytest.approx(0.0015)
    assert fu.bybit_funding_rate(np.array([0.0, 0.0, 0.003])) == pytest.approx(0.001)
    assert fu.bybit_funding_rate(np.array([0.01]), cap=0.0075) == pytest.approx(0.0075)


def test_okx_and_hyperliquid() -> None:
    assert fu.okx_funding_rate(np.array([0.001, 0.003]), cap=fu.OKX_CAP_BTC) == pytest.approx(0.002)
    assert fu.okx_funding_rate(np.array([0.01]), cap=fu.OKX_CAP_BTC) == pytest.approx(0.00375)
    # 0 premium → 0.01 %/8h → 0.00125 %/h
    assert float(fu.hyperliquid_hourly_rate(0.0)) == pytest.approx(0.0000125)
    assert float(fu.hyperliquid_hourly_rate(1.0)) == pytest.approx(0.04)  # 4 %/h cap
    assert float(fu.funding_payment(50_000.0, 2.0, 0.0001)) == pytest.approx(10.0)


@given(st.floats(-0.05, 0.05))
def test_clamp_stays_within_band_of_premium(p: float) -> None:
    f = float(fu.clamp_funding(p))
    assert abs(f - p) <= fu.CLAMP_8H + 1e-15
    if abs(p - fu.DEFAULT_INTEREST_8H) <= fu.CLAMP_8H:
        assert f == pytest.approx(fu.DEFAULT_INTEREST_8H)
