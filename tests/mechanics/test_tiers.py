"""Leverage-tier tables: the cum recursion, validation, ccxt and file shapes, look-ups."""

from __future__ import annotations

import json
import tomllib

import numpy as np
import pytest

import flushwatch.analytics.mechanics as mech
from flushwatch.analytics.mechanics import (
    BINANCE_BTCUSDT_2021,
    TierError,
    TierTable,
    tier_table_from_document,
)
from flushwatch.errors import ConfigError

# The ccxt shape of exchange.fetch_leverage_tiers()["ZEC/USDT"] on Binance, as freqtrade's
# tests/exchange/test_binance.py (test_fill_leverage_tiers_binance) records it.
ZEC_CCXT = [
    {
        "tier": n + 1,
        "currency": "USDT",
        "minNotional": lo,
        "maxNotional": hi,
        "maintenanceMarginRate": mmr,
        "maxLeverage": lev,
        "info": {"bracket": str(n + 1), "cum": f"{cum:.1f}", "maintMarginRatio": str(mmr)},
    }
    for n, (lo, hi, mmr, lev, cum) in enumerate(
        [
            (0, 50_000, 0.01, 50, 0.0),
            (50_000, 150_000, 0.025, 20, 750.0),
            (150_000, 250_000, 0.05, 10, 4_500.0),
            (250_000, 500_000, 0.1, 5, 17_000.0),
            (500_000, 1_000_000, 0.125, 4, 29_500.0),
            (1_000_000, 2_000_000, 0.25, 2, 154_500.0),
            (2_000_000, 30_000_000, 0.5, 1, 654_500.0),
        ]
    )
]


def test_public_surface_is_explicit() -> None:
    assert sorted(mech.__all__) == sorted(set(mech.__all__))
    for name in mech.__all__:
        assert hasattr(mech, name), name
    assert "isolated_liq_price_array" in mech.__all__


def test_binance_2021_table_cum_matches_the_documented_column() -> None:
    # DOMAIN.md §5.1 table (Binance announcement 2021-03-18), cum column.
    assert [t.cum for t in BINANCE_BTCUSDT_2021.tiers] == [
        0,
        50,
        1_300,
        16_300,
        266_300,
        1_266_300,
        2_516_300,
        5_016_300,
        25_016_300,
        100_016_300,
    ]
    assert [t.max_leverage for t in BINANCE_BTCUSDT_2021.tiers][:3] == [125, 100, 50]


def test_coin_m_faq_cum_example() -> None:
    # Binance COIN-M FAQ: 50 BTC × (5% − 2.5%) + 0.56 = 1.81 BTC. A table (in BTC) whose
    # 2.5% tier has cum 0.56 and whose 5% tier starts at 50 BTC reproduces the step.
    t = TierTable.build(
        [(0, 28, 0.005, 125, None), (28, 50, 0.025, 50, None), (50, 100, 0.05, 20, None)]
    )
    assert t.tiers[1].cum == pytest.approx(0.56)
    assert round(t.tiers[2].cum, 2) == 1.81
    assert t.tiers[2].cum == pytest.approx(50 * (0.05 - 0.025) + 0.56)


def test_mm_is_continuous_at_every_boundary() -> None:
    t = BINANCE_BTCUSDT_2021
    for lower, upper in zip(t.tiers, t.tiers[1:], strict=False):
        b = upper.floor
        assert lower.maintenance_margin(b) == pytest.approx(upper.maintenance_margin(b))
        # cap-inclusive: the boundary belongs to the lower tier
        assert t.tier_for(b) == lower
        assert t.tier_for(np.nextafter(b, np.inf)) == upper


def test_maintenance_margin_values() -> None:
    t = BINANCE_BTCUSDT_2021
    assert t.maintenance_margin(10_000) == pytest.approx(40.0)
    assert t.maintenance_margin(100_000) == pytest.approx(450.0)  # 0.5% × 100k − 50
    assert t.maintenance_margin(3_556_387.02624) == pytest.approx(3_556_387.02624 * 0.025 - 16_300)


def test_vectorised_lookups_match_scalar() -> None:
    t = BINANCE_BTCUSDT_2021
    n = np.array([-1.0, 0.0, 1.0, 50_000, 50_001, 2e6, 4.99e8, 6e8])
    idx = t.tier_index_array(n)
    assert list(idx) == [t.tier_index(float(x)) for x in n]
    assert list(idx) == [0, 0, 0, 0, 1, 3, 9, 9]
    mm = t.maintenance_margin_array(n)
    assert mm[3:] == pytest.approx([t.maintenance_margin(float(x)) for x in n[3:]])
    assert t.max_leverage_array(np.array([1e3, 3e5]))[1] == 50.0


def test_from_ccxt_reads_cum_from_info() -> None:
    t = TierTable.from_ccxt(list(reversed(ZEC_CCXT)))  # order does not matter
    assert len(t) == 7
    assert t.tiers[6].cum == 654_500.0
    assert t.tiers[3].mmr == 0.1
    assert t.tiers[0].max_leverage == 50


def test_from_ccxt_computes_missing_cum_and_open_last_tier() -> None:
    rows = [dict(r, info={}) for r in ZEC_CCXT]
    rows[-1]["maxNotional"] = None
    t = TierTable.from_ccxt(rows)
    assert t.tiers[6].cum == pytest.approx(654_500.0)
    assert t.tiers[6].cap == float("inf")


def test_from_ccxt_bad_cum_is_a_clear_error() -> None:
    rows = [dict(r) for r in ZEC_CCXT]
    rows[2] = dict(rows[2], info={"cum": "4400.0"})
    with pytest.raises(TierError, match=r"tier 3: maintenance amount 4400 .* 4500"):
        TierTable.from_ccxt(rows)


def test_from_ccxt_missing_field() -> None:
    rows = [{k: v for k, v in r.items() if k != "maintenanceMarginRate"} for r in ZEC_CCXT]
    with pytest.raises(TierError, match="maintenanceMarginRate"):
        TierTable.from_ccxt(rows)


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ([], "at least one tier"),
        ([(10, 20, 0.01, 10, None)], "start at notional 0"),
        ([(0, 10, 0.01, 10, None), (12, 20, 0.02, 5, None)], "not contiguous"),
        ([(0, 10, 0.02, 10, None), (10, 20, 0.01, 5, None)], "falls below"),
        ([(0, 10, 0.01, 10, None), (10, 20, 0.02, 20, None)], "rises above"),
        ([(0, 10, 1.2, 10, None)], r"must be in \[0, 1\)"),
        ([(0, 0, 0.01, 10, None)], "must be above floor"),
        ([(0, 10, 0.01, 0.5, None)], "must be ≥ 1"),
        ([(0, 10, 0.01, 10, 5.0)], "does not match the recursion"),
    ],
)
def test_validation_errors(
    rows: list[tuple[float, float, float, float, float | None]], message: str
) -> None:
    with pytest.raises(TierError, match=message):
        TierTable.build(rows)
    assert issubclass(TierError, ConfigError)


def test_document_shapes() -> None:
    whole = {"ZEC/USDT:USDT": ZEC_CCXT}
    assert tier_table_from_document(whole).tiers[1].cum == 750.0
    assert tier_table_from_document(ZEC_CCXT).tiers[1].cum == 750.0
    two = {"A": ZEC_CCXT, "B": ZEC_CCXT}
    with pytest.raises(TierError, match="holds 2 symbols"):
        tier_table_from_document(two)
    assert len(tier_table_from_document(two, symbol="B")) == 7
    with pytest.raises(TierError, match="not in the tiers document"):
        tier_table_from_document(two, symbol="C")
    toml_text = """
    [[tiers]]
    floor = 0
    cap = 50000
    mmr = 0.004
    max_leverage = 125
    [[tiers]]
    floor = 50000
    cap = 250000
    mmr = 0.005
    max_leverage = 100
    cum = 50
    """
    t = tier_table_from_document(tomllib.loads(toml_text))
    assert t.tiers[1].cum == 50.0
    native = json.loads('{"tiers": [{"floor": 0, "cap": 1e4, "mmr": 0.01, "max_lev": 10}]}')
    with pytest.raises(TierError, match="unknown keys"):
        tier_table_from_document(native)
    with pytest.raises(TierError, match="non-empty list"):
        tier_table_from_document({"tiers": []})
