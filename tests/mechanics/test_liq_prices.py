"""Liquidation and bankruptcy prices: documented worked examples, the tier fixed point,
invariants."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.analytics.mechanics import (
    BINANCE_BTCUSDT_2021,
    TierIterationError,
    TierTable,
    binance,
    bybit,
    hyperliquid,
    isolated_liq_price_array,
    okx,
)
from flushwatch.analytics.mechanics.result import Side
from flushwatch.errors import ConfigError

T = BINANCE_BTCUSDT_2021

# --- Binance FAQ "How to Calculate Liquidation Price of USDⓈ-M Futures Contracts"
# (binance.com/en/support/faq/b3c689c1f50a44cabb3a84e663b81d93); the same numbers are
# freqtrade's tests/exchange/test_binance.py "# From calc example" vectors.
WB = 1_535_443.01
BTC = {"entry": 32_481.98, "size": 109.488, "mark": 31_967.27, "mmr": 0.025, "cum": 16_300.0}
ETH = {"entry": 1_456.84, "size": 3_683.979, "mark": 1_335.18, "mmr": 0.10, "cum": 135_365.0}


def _mm_upnl(p: dict[str, float]) -> tuple[float, float]:
    return p["size"] * p["mark"] * p["mmr"] - p["cum"], p["size"] * (p["mark"] - p["entry"])


@pytest.mark.parametrize(
    ("pos", "other", "expected"),
    [
        (ETH, None, 1_114.78),  # isolated ETHUSDT
        (BTC, None, 18_778.73),  # isolated BTCUSDT
        (ETH, BTC, 1_153.26),  # cross ETHUSDT, BTCUSDT the other contract
        (BTC, ETH, 26_316.89),  # cross BTCUSDT, ETHUSDT the other contract
    ],
)
def test_binance_faq_examples_to_the_cent(
    pos: dict[str, float], other: dict[str, float] | None, expected: float
) -> None:
    tmm, upnl = _mm_upnl(other) if other is not None else (0.0, 0.0)
    lp = binance.liq_price_formula(
        "long",
        pos["entry"],
        pos["size"],
        WB,
        pos["mmr"],
        pos["cum"],
        other_maintenance=tmm,
        other_upnl=upnl,
    )
    assert round(lp, 2) == expected


def test_binance_faq_btc_example_with_the_2021_table_keeps_its_tier() -> None:
    # The FAQ's BTCUSDT tier (2.5 %, cum 16,300) is tier 4 of the 2021 table, at entry and at LP.
    r = binance.liquidation_price("long", BTC["entry"], BTC["size"], WB, T)
    assert round(r.liquidation_price, 2) == 18_778.73
    assert (r.tier_number, r.entry_tier_number, r.tier_changed) == (4, 4, False)
    eth_mm, eth_upnl = _mm_upnl(ETH)
    cross = binance.liquidation_price(
        "long",
        BTC["entry"],
        BTC["size"],
        WB,
        T,
        mode="cross",
        other_maintenance=eth_mm,
        other_upnl=eth_upnl,
    )
    assert round(cross.liquidation_price, 2) == 26_316.89


def _equity_minus_mm(side: Side, entry: float, size: float, wallet: float, lp: float) -> float:
    s = 1.0 if side == "long" else -1.0
    return wallet + s * size * (lp - entry) - T.maintenance_margin(size * lp)


@pytest.mark.parametrize(
    ("side", "notional", "leverage", "naive", "expected", "tiers"),
    [
        # long 260k USDT at 50,000, 20x: entry notional in tier 3 (1 %, cum 1,300); at the
        # tier-3 answer 47,727.27 the notional is 248,182 → tier 2 (0.5 %, cum 50).
        ("long", 260_000.0, 20.0, 47_727.2727, 47_729.0298, (3, 2)),
        # short 240k at 50,000, 20x: entry in tier 2; the tier-2 answer 52,249.17 has notional
        # 250,796 → tier 3.
        ("short", 240_000.0, 20.0, 52_249.1708, 52_248.3498, (2, 3)),
    ],
)
def test_tier_at_liquidation_differs_from_entry_tier(
    side: Side,
    notional: float,
    leverage: float,
    naive: float,
    expected: float,
    tiers: tuple[int, int],
) -> None:
    entry = 50_000.0
    size, margin = notional / entry, notional / leverage
    entry_tier = T.tier_for(notional)
    lp_naive = binance.liq_price_formula(side, entry, size, margin, entry_tier.mmr, entry_tier.cum)
    assert lp_naive == pytest.approx(naive, abs=1e-4)
    r = binance.liquidation_price(side, entry, size, margin, T)
    assert r.liquidation_price == pytest.approx(expected, abs=1e-4)
    assert (r.entry_tier_number, r.tier_number) == tiers
    assert r.tier_changed
    assert r.iterations == 2
    assert r.liquidation_price != pytest.approx(lp_naive, abs=0.5)
    # the defining equation: at LP, wallet + unrealised PnL == MM at LP's notional
    gap = _equity_minus_mm(side, entry, size, margin, r.liquidation_price)
    assert abs(gap) <= 1e-9 * T.maintenance_margin(size * r.liquidation_price)
    # the naive answer violates it
    assert abs(_equity_minus_mm(side, entry, size, margin, lp_naive)) > 1.0
    # the vectorised kernel agrees
    arr = isolated_liq_price_array(
        side, np.array([entry]), np.array([leverage]), np.array([notional]), T
    )
    assert arr[0] == pytest.approx(r.liquidation_price, rel=1e-15)


def test_iteration_refuses_an_inconsistent_table() -> None:
    bad = TierTable.build([(0, 100.0, 0.01, 50, None), (100.0, 1e9, 0.5, 1, None)])
    object.__setattr__(bad, "_cum", np.array([0.0, -1e7]))  # corrupt it past validation
    with pytest.raises(TierIterationError):
        isolated_liq_price_array("short", np.array([1.0]), np.array([1.0]), np.array([99.0]), bad)


def test_bankruptcy_and_errors() -> None:
    r = binance.liquidation_price("long", 100.0, 10.0, 100.0, T)
    assert r.bankruptcy_price == pytest.approx(90.0)
    assert r.bankruptcy_price < r.liquidation_price < r.entry
    with pytest.raises(ConfigError, match="cross mode only"):
        binance.liquidation_price("long", 100.0, 10.0, 100.0, T, other_upnl=1.0)
    with pytest.raises(ConfigError, match="entry price"):
        binance.liquidation_price("long", 0.0, 10.0, 100.0, T)
    with pytest.raises(ValueError, match="side"):
        binance.liquidation_price("up", 100.0, 10.0, 100.0, T)  # type: ignore[arg-type]


# --- Bybit help "Liquidation Price (USDT Contract)", isolated, Example 1.
def test_bybit_example_long() -> None:
    # Long 1 BTC at 20,000 USDT, 50x, MMR 0.5 %: IM 400, MM 100, LP 19,700.
    assert bybit.linear_isolated_liq_price("long", 20_000.0, 1.0, 50.0, 0.005) == 19_700.0
    # mirror for a short (constructed, same formula): 20,300
    assert bybit.linear_isolated_liq_price("short", 20_000.0, 1.0, 50.0, 0.005) == 20_300.0
    # bankruptcy price, Bybit help "Bankruptcy Price (USDT Contract)": EP × (1 ∓ 1/lev)
    assert bybit.linear_bankruptcy_price("long", 20_000.0, 1.0, 50.0) == pytest.approx(19_600.0)
    one_tier = TierTable.build([(0, 1e12, 0.005, 100, None)])
    r = bybit.liquidation_price("long", 20_000.0, 1.0, 50.0, one_tier, extra_margin=100.0)
    assert r.liquidation_price == pytest.approx(19_600.0)
    assert r.bankruptcy_price == pytest.approx(19_500.0)


def test_bybit_inverse_matches_its_defining_equation() -> None:
    # Inverse long, 60,000 USD at 50,000, 10x, MMR 0.5 % (Bybit UTA isolated page's example
    # inputs): at LP the coin margin + PnL equals MM = value × MMR (no fee, no deduction).
    lp = bybit.inverse_isolated_liq_price("long", 50_000.0, 60_000.0, 10.0, 0.005, taker_fee=0.0)
    pnl = 60_000.0 * (1 / 50_000.0 - 1 / lp)
    assert 1.2 / 10 + pnl == pytest.approx(60_000.0 / lp * 0.005, rel=1e-12)
    assert round(lp, 2) == 45_681.82  # 60,300 / 1.32


# --- Hyperliquid: live ccxt positions recorded in freqtrade tests/exchange/test_hyperliquid.py
# (max leverage then BTC/ETH 50x, SOL/DOGE 20x); the docs' formula reproduces them.
@pytest.mark.parametrize(
    ("side", "entry", "size", "margin", "max_lev", "expected"),
    [
        ("long", 2_459.5, 0.0199, 24.454895, 50, 1_243.0411908),
        ("long", 62_739.0, 0.00077, 24.137992, 50, 31_708.03843631),
        ("short", 2_642.8, 0.019, 25.091876, 50, 3_924.18322043),
        ("short", 155.89, 0.32, 24.924941, 20, 228.07847866),
        ("long", 0.11586, 437.0, 25.29769, 20, 0.05945697),
        ("short", 68_139.0, 0.00145, 19.72573, 50, 80_933.61590987),
        ("long", 250.0, 0.5, 25.0, 10, 210.5263157894737),
    ],
)
def test_hyperliquid_live_positions(
    side: Side, entry: float, size: float, margin: float, max_lev: float, expected: float
) -> None:
    tiers = hyperliquid.margin_tiers([(0, max_lev)])
    for mode in ("isolated", "cross"):
        r = hyperliquid.liquidation_price(side, entry, size, margin, tiers, mode=mode)
        assert r.liquidation_price == pytest.approx(expected, rel=2e-4)
    doc = hyperliquid.liq_price_doc_form(side, entry, size, margin, max_lev)
    assert r.liquidation_price == pytest.approx(doc, rel=1e-12)


def test_hyperliquid_tier_table() -> None:
    t = hyperliquid.HYPERLIQUID_BTC
    assert [x.mmr for x in t.tiers] == [0.0125, 0.025]
    big = hyperliquid.liquidation_price("long", 100_000.0, 2_000.0, 20e6, t)  # 200M notional
    assert big.tier_number == 2


# --- OKX: maintenance margin ratio = 100 % (DOMAIN.md §5.3)
def test_okx_linear_defining_equation() -> None:
    for side, s in (("long", 1.0), ("short", -1.0)):
        lp = okx.linear_liq_price(side, 20_000.0, 2.0, 800.0, 0.004, 0.0005)  # type: ignore[arg-type]
        ratio = (800.0 + s * 2.0 * (lp - 20_000.0)) / (2.0 * lp * (0.004 + 0.0005))
        assert ratio == pytest.approx(1.0, rel=1e-12)


def test_okx_inverse_defining_equation() -> None:
    # 100 contracts × 100 USD face at 50,000, 0.02 BTC margin (10x), MMR 0.5 %, fee 0.05 %
    for side, s in (("long", 1.0), ("short", -1.0)):
        lp = okx.inverse_liq_price(side, 50_000.0, 100.0, 100.0, 0.02, 0.005, 0.0005)  # type: ignore[arg-type]
        pnl = s * 100.0 * 100.0 * (1 / 50_000.0 - 1 / lp)
        ratio = (0.02 + pnl) / (100.0 * 100.0 / lp * 0.0055)
        assert ratio == pytest.approx(1.0, rel=1e-12)


# --- invariants
pos = st.fixed_dictionaries(
    {
        "entry": st.floats(1.0, 200_000.0),
        "notional": st.floats(100.0, 4e8),
        "lev": st.floats(1.0, 100.0),
    }
)


@settings(max_examples=150, deadline=None)
@given(p=pos, bump=st.floats(1.01, 3.0))
def test_monotone_in_leverage_and_margin(p: dict[str, float], bump: float) -> None:
    e, n, lev = p["entry"], p["notional"], p["lev"]
    size = n / e
    for side in ("long", "short"):
        lo = binance.liquidation_price(side, e, size, n / lev, T).liquidation_price
        hi = binance.liquidation_price(side, e, size, n / (lev * bump), T).liquidation_price
        more = binance.liquidation_price(side, e, size, n / lev * bump, T).liquidation_price
        if side == "long":
            assert hi >= lo  # more leverage: a long is liquidated sooner (higher LP)
            assert more <= lo  # more margin: later
        else:
            assert hi <= lo
            assert more >= lo


@settings(max_examples=150, deadline=None)
@given(p=pos)
def test_ordering_and_bankruptcy(p: dict[str, float]) -> None:
    e, n, lev = p["entry"], p["notional"], p["lev"]
    lev = min(lev, T.tier_for(n).max_leverage)  # a position the venue would accept
    long_ = binance.liquidation_price("long", e, n / e, n / lev, T)
    short = binance.liquidation_price("short", e, n / e, n / lev, T)
    assert long_.liquidation_price < e < short.liquidation_price
    tol = 1e-9 * e  # a 1x long with cum 0 has LP = bankruptcy = 0 up to rounding
    assert long_.bankruptcy_price <= long_.liquidation_price + tol
    assert short.bankruptcy_price >= short.liquidation_price - tol


@settings(max_examples=60, deadline=None)
@given(
    entries=st.lists(st.floats(1.0, 1e5), min_size=1, max_size=40),
    lev=st.floats(1.0, 125.0),
    scale=st.floats(1e2, 4e8),
    side=st.sampled_from(["long", "short"]),
)
def test_vectorised_equals_scalar(
    entries: list[float], lev: float, scale: float, side: Side
) -> None:
    e = np.array(entries)
    n = scale * np.linspace(0.1, 1.0, e.shape[0])
    arr = isolated_liq_price_array(side, e, np.full_like(e, lev), n, T)
    one = [
        binance.liquidation_price(side, ei, ni / ei, ni / lev, T).liquidation_price
        for ei, ni in zip(e, n, strict=True)
    ]
    assert arr == pytest.approx(one, rel=1e-12)


def test_vectorised_handles_nan_and_broadcast() -> None:
    out = isolated_liq_price_array(
        "long", np.array([np.nan, 100.0]), np.array(10.0), np.array(1e4), T
    )
    assert np.isnan(out[0])
    assert out[1] == pytest.approx(90.36144578)
