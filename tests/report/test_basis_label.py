"""The basis names both of its legs, and says when they are not one venue and one quote."""

from __future__ import annotations

import pytest

from flushwatch.report.assemble import _basis_label, _quote


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
    label = _basis_label("binanceusdm perp BTCUSDT", "binance spot BTCUSDT bars")
    assert label == "binanceusdm perp BTCUSDT close / binance spot BTCUSDT bars close − 1"


def test_coin_margined_perp_against_another_venues_usdt_spot_is_labelled() -> None:
    label = _basis_label("okx perp BTC-USD-SWAP", "binance spot BTCUSDT bars")
    assert "mixed venues: okx perp vs binance spot" in label
    assert "mixed quotes: USD vs USDT" in label
    assert label.endswith("an estimate)")
