"""Source labels: the basis names both legs, liquidations against OI name their venue sets."""

from __future__ import annotations

import pytest

from flushwatch.report.assemble import (
    _basis_label,
    _family,
    _oi_venue,
    _quote,
    _vendor_venues,
    _venue_mix,
)


@pytest.mark.parametrize(
    ("symbol", "quote"),
    [
        ("BTCUSDT", "USDT"),
        ("BTC-USDT-SWAP", "USDT"),
        ("BTCUSD_PERP", "USD"),
        ("BTC-USD-SWAP", "USD"),
        ("BTC/USDT:USDT", "USDT"),
        ("ETHUSDC", "USDC"),
        ("BTC", None),
    ],
)
def test_quote_of_venue_symbols(symbol: str, quote: str | None) -> None:
    assert _quote(symbol) == quote


def test_same_venue_family_and_quote_is_plain() -> None:
    label = _basis_label(
        "binanceusdm perp BTCUSDT",
        "binance spot BTCUSDT bars",
        ("binanceusdm", "BTCUSDT"),
        ("binance", "BTCUSDT"),
    )
    assert label == "binanceusdm perp BTCUSDT close / binance spot BTCUSDT bars close − 1"


def test_coin_margined_perp_against_another_venues_usdt_spot_is_labelled() -> None:
    label = _basis_label(
        "okx perp BTC-USD-SWAP",
        "binance spot BTCUSDT bars",
        ("okx", "BTC-USD-SWAP"),
        ("binance", "BTCUSDT"),
    )
    assert "mixed venues: okx perp vs binance spot" in label
    assert "mixed quotes: USD vs USDT" in label
    assert label.endswith("an estimate)")


def test_liquidations_of_three_venues_against_one_venues_oi_are_labelled_mixed() -> None:
    """Issue 12: CoinGlass liquidations of Binance, Bybit and OKX over Binance-only OI."""
    mixed = _venue_mix(
        _vendor_venues("Binance,Bybit,OKX"), _oi_venue("coinglass", "BTCUSDT-Binance")
    )
    assert mixed is not None
    assert "liquidations of binance, bybit, okx, open interest of binance only" in mixed


def test_one_venues_prints_and_its_own_oi_are_one_market() -> None:
    usdm = frozenset({_family("binanceusdm")})
    assert _venue_mix(usdm, _oi_venue("binanceusdm", "BTCUSDT")) is None
    assert _venue_mix(frozenset({"okx"}), _oi_venue("okx", "BTC-USDT-SWAP")) is None
    unknown = _venue_mix(_vendor_venues("unspecified"), _oi_venue("okx", "BTC-USDT-SWAP"))
    assert unknown is not None
    assert "an unknown venue set" in unknown
