"""Binance open-interest REST bodies → :class:`OpenInterest` records, from the docs' examples.

Examples are the ones on the USDⓈ-M and COIN-M "Open Interest" REST pages; the perpetual and
altcoin COIN-M bodies are the documented layout with other values (constructed, labelled).
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import msgspec
import pytest

from flushwatch.domain.enums import Market
from flushwatch.domain.records import OpenInterest
from flushwatch.errors import InputError
from flushwatch.ingest.registry import parse
from flushwatch.venues.registry import decoder_for

USDM_URL = "https://fapi.binance.com/fapi/v1/openInterest?symbol=BTCUSDT"
USDM_DOC = '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'
COINM_DOC = (
    '{"symbol":"BTCUSD_200626","pair":"BTCUSD","openInterest":"15004",'
    '"contractType":"CURRENT_QUARTER","time":1591261042378}'
)


def test_usdm_documented_example_is_base_coins() -> None:
    """USDⓈ-M counts base coins: oi_base is the figure, no price is guessed for oi_quote."""
    (oi,) = decoder_for("binanceusdm").on_http(USDM_URL, USDM_DOC, 7)
    assert oi == OpenInterest(
        ts_event=1_589_437_530_011_000_000,
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        ts_recv=7,
        oi_base=10659.509,
        oi_quote=None,
    )


def test_coinm_documented_example_is_contracts_of_100_usd() -> None:
    """COIN-M counts contracts: 15004 BTC contracts of 100 USD are 1,500,400 USD."""
    url = "https://dapi.binance.com/dapi/v1/openInterest?symbol=BTCUSD_200626"
    (oi,) = decoder_for("binancecoinm").on_http(url, COINM_DOC, None)
    assert oi == OpenInterest(
        ts_event=1_591_261_042_378_000_000,
        exchange="binancecoinm",
        market=Market.FUTURE,  # a quarterly
        symbol="BTCUSD_200626",
        oi_base=None,  # would need a price
        oi_quote=1_500_400.0,
    )


@pytest.mark.parametrize(
    ("symbol", "contracts", "usd"),
    [("BTCUSD_PERP", "517655", 51_765_500.0), ("ETHUSD_PERP", "1234", 12_340.0)],
)
def test_coinm_perpetuals_use_the_contract_size(symbol: str, contracts: str, usd: float) -> None:
    """Constructed bodies in the documented layout: BTC contracts are 100 USD, others 10 USD."""
    body = json.dumps(
        {
            "symbol": symbol,
            "pair": symbol.partition("_")[0],
            "openInterest": contracts,
            "contractType": "PERPETUAL",
            "time": 1591261042378,
        }
    )
    url = f"https://dapi.binance.com/dapi/v1/openInterest?symbol={symbol}"
    (oi,) = decoder_for("binancecoinm").on_http(url, body, None)
    assert (oi.market, oi.oi_base, oi.oi_quote) == (Market.PERP, None, usd)


def test_learned_contract_size_wins_over_the_name() -> None:
    """An exchangeInfo body seen first (contractSize 10 for a BTC contract) sets the size."""
    dec = decoder_for("binancecoinm")
    info = {
        "symbols": [
            {
                "symbol": "BTCUSD_PERP",
                "baseAsset": "BTC",
                "quoteAsset": "USD",
                "contractType": "PERPETUAL",
                "marginAsset": "BTC",
                "contractSize": 10,  # constructed, to tell learned from inferred
            }
        ]
    }
    dec.on_http("https://dapi.binance.com/dapi/v1/exchangeInfo", json.dumps(info), None)
    body = COINM_DOC.replace("BTCUSD_200626", "BTCUSD_PERP")
    (oi,) = dec.on_http("https://dapi.binance.com/dapi/v1/openInterest", body, None)
    assert oi.oi_quote == 150_040.0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ('{"openInterest":"10659.509","symbol":"BTCUSDT"}', "missing required field `time`"),
        ('{"openInterest":"lots","symbol":"BTCUSDT","time":1}', r"at `\$\.openInterest`"),
        ('{"openInterest":"1","symbol":7,"time":1}', r"at `\$\.symbol`"),
    ],
)
def test_bad_body_names_the_field(body: str, field: str) -> None:
    """A malformed body is an error naming the field, not a silent row."""
    with pytest.raises(msgspec.ValidationError, match=field):
        decoder_for("binanceusdm").on_http(USDM_URL, body, None)


def test_spot_has_no_open_interest() -> None:
    with pytest.raises(ValueError, match="spot symbol 'BTCUSDT'"):
        decoder_for("binance").on_http("https://api.binance.com/openInterest", USDM_DOC, 1)


def _cryptofeed_rest(path: Path, exchange: str, bodies: list[tuple[str, str]]) -> Path:
    lines = [{"t": "header", "exchange": exchange, "format": 2}]
    lines += [
        {"t": "http", "ts": f"1589437531.{i:06d}", "url": url, "data": body}
        for i, (url, body) in enumerate(bodies)
    ]
    with gzip.open(path, "wt") as fh:
        fh.writelines(json.dumps(line) + "\n" for line in lines)
    return path


def test_recorded_bodies_import(tmp_path: Path) -> None:
    """A recording of polls (cryptofeed format 2, as the recorder writes) imports its rows."""
    src = _cryptofeed_rest(
        tmp_path / "binanceusdm_rest_x.jsonl.gz", "BINANCE_FUTURES", [(USDM_URL, USDM_DOC)]
    )
    frames = parse(src).frames
    df = frames[OpenInterest]
    assert df["oi_base"].to_list() == [10659.509]
    assert df["ts_event"].to_list() == [1_589_437_530_011_000_000]


def test_bad_recorded_body_names_file_line_and_field(tmp_path: Path) -> None:
    bad = USDM_DOC.replace('"10659.509"', '"n/a"')
    src = _cryptofeed_rest(
        tmp_path / "binanceusdm_rest_y.jsonl.gz",
        "BINANCE_FUTURES",
        [(USDM_URL, USDM_DOC), (USDM_URL, bad)],
    )
    with pytest.raises(InputError) as info:
        parse(src)
    text = str(info.value)
    assert str(src) in text
    assert "line 3" in text
    assert "openInterest" in text
