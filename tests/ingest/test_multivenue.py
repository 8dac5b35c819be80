"""Multi-venue Parquet tables: every real file imports with its traps handled; ETH end to end.

Data: ``shared/data/multivenue-hourly-candles-funding-oi-liqprints-2025-2026`` (PROVENANCE.md:
row counts per file, the OKX ``size_usd`` = contracts × price trap, daily Hyperliquid
liquidation volume, the undated order-book snapshot) and the freqtrade ETH files.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

import flushwatch
from flushwatch.domain.records import (
    Bar,
    Funding,
    Liquidation,
    LiquidationBucket,
    OpenInterest,
)
from flushwatch.errors import ParseError
from flushwatch.ingest.registry import detect, parse
from flushwatch.store import Store

MV = "multivenue-hourly-candles-funding-oi-liqprints-2025-2026"
FT = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
MS = 1_000_000


@pytest.fixture(scope="module")
def folder(shared_data: Path) -> Path:
    return shared_data / MV


def test_row_counts_match_the_provenance(folder: Path) -> None:
    """Rows per table as PROVENANCE.md's contents table lists them."""
    counts = {
        "candles.parquet": (Bar, 121_122),
        "funding_rates.parquet": (Funding, 115_218),
        "open_interest.parquet": (OpenInterest, 18_477),
        "open_interest__commit_fadd49d.parquet": (OpenInterest, 10_025),
        "liquidation_volume.parquet": (LiquidationBucket, 173),
        "liquidations__commit_fadd49d.parquet": (Liquidation, 8_059),
    }
    for name, (cls, rows) in counts.items():
        assert detect(folder / name).name == "multivenue-parquet"
        parsed = parse(folder / name)
        assert parsed.frames[cls].height == rows, name


def test_the_undated_depth_snapshot_is_not_invented_into_a_time(folder: Path) -> None:
    parsed = parse(folder / "orderbook_depth.parquet")
    assert parsed.rows == 0
    assert any("no timestamp" in n for n in parsed.notes)


def test_okx_print_is_converted_from_contracts(folder: Path) -> None:
    """OKX 2026-03-04 22:45:43.781 BTC sell print: the file's size_usd 15,210.594 is
    0.21 contracts × bkPx 72,431.4; × ctVal 0.01 gives 152.10594 USD, a long liquidated."""
    liq = parse(folder / "liquidations__commit_fadd49d.parquet").frames[Liquidation]
    row = liq.filter(
        (pl.col("exchange") == "okx")
        & (pl.col("symbol") == "BTC-USDT-SWAP")
        & (pl.col("ts_event") == 1_772_664_343_781 * MS)
    )
    assert row.height == 1
    assert row.get_column("notional")[0] == pytest.approx(152.10594, rel=1e-12)
    assert row.get_column("qty")[0] == pytest.approx(0.0021, rel=1e-9)
    assert row.get_column("price")[0] == 72_431.4
    assert row.get_column("side")[0] == "long"
    assert row.get_column("venue_side")[0] == "sell"
    assert row.get_column("coverage")[0] == "throttled"
    # per venue: the OKX/Hyperliquid split of PROVENANCE.md (5,816 / 2,243)
    per = dict(liq.group_by("exchange").len().iter_rows())
    assert per == {"okx": 5_816, "hyperliquid": 2_243}


def test_units_and_intervals_come_from_the_data(folder: Path) -> None:
    bars = parse(folder / "candles.parquet").frames[Bar]
    kraken = bars.filter(pl.col("exchange") == "krakenfutures")
    assert kraken.height > 0
    assert kraken.get_column("volume_base").null_count() == kraken.height  # unit unknown
    assert set(kraken.get_column("symbol").unique()) >= {"PF_XBTUSD", "PF_ETHUSD"}
    fund = parse(folder / "funding_rates.parquet").frames[Funding]
    hours = dict(
        fund.group_by("exchange", "symbol")
        .agg(pl.col("interval_hours").first())
        .select(pl.concat_str("exchange", "symbol", separator=":"), "interval_hours")
        .iter_rows()
    )
    assert hours["binanceusdm:BTCUSDT"] == 8
    assert hours["bybit:ETHUSDT"] == 8
    assert hours["hyperliquid:BTC"] == 1
    buckets = parse(folder / "liquidation_volume.parquet").frames[LiquidationBucket]
    assert set(buckets.get_column("interval_s").unique()) == {86_400}  # daily, not the 1h asked


def test_unknown_venue_names_its_row(folder: Path, tmp_path: Path) -> None:
    df = pl.read_parquet(folder / "funding_rates.parquet").head(5)
    bad = df.with_columns(
        pl.when(pl.int_range(pl.len()) == 3)
        .then(pl.lit("mexc"))
        .otherwise(pl.col("venue"))
        .alias("venue")
    )
    path = tmp_path / "funding_rates.parquet"
    bad.write_parquet(path)
    with pytest.raises(ParseError) as err:
        parse(path)
    assert err.value.line == 4
    assert err.value.field == "venue"
    assert "mexc" in str(err.value)


@pytest.fixture(scope="module")
def eth_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """ETH perp, funding and spot (freqtrade) beside the multivenue tables."""
    from flushwatch.ingest.registry import parse as parse_file

    root = tmp_path_factory.mktemp("eth") / "store"
    ft = shared_data / FT
    files = [
        ft / "futures" / "ETH_USDT_USDT-1h-futures.feather",
        ft / "futures" / "ETH_USDT_USDT-8h-funding_rate.feather",
        ft / "spot" / "ETH_USDT-1h.feather",
        *(
            shared_data / MV / f
            for f in ("candles.parquet", "funding_rates.parquet", "open_interest.parquet")
        ),
    ]
    Store.open(root).write([parse_file(f) for f in files])
    return root


def test_eth_report_has_funding_and_spot_volume(eth_store: Path) -> None:
    """Issue 11's done-when: funding and spot-vs-perp volume available on ETH's report."""
    doc = flushwatch.open(eth_store).report("ETH", at="2026-02-06T12:00Z").to_dict()
    items = {c["name"]: c for c in doc["checklist"]}
    assert items["spot_vs_perp"]["state"] != "not_available"
    assert items["funding"]["state"] != "not_available"
    assert "oi" in doc["sources"]
    assert "hyperliquid" in doc["sources"]["oi"]
    assert "estimate" in doc["sources"]["spot"]  # spot volume is base × close
    later = flushwatch.open(eth_store).report("ETH", at="2026-02-07T12:00Z").to_dict()
    states = {c["name"]: c["state"] for c in later["checklist"]}
    assert states["spot_vs_perp"] in ("spot_led", "perp_noise", "mixed")
    assert states["funding"] != "not_available"


def test_eth_map_works(eth_store: Path) -> None:
    doc = flushwatch.open(eth_store).map("ETH", at="2026-02-05T12:00Z").to_dict()
    assert doc["asset"] == "ETH"
    assert doc["bands"]["long"]
    assert doc["bands"]["short"]
    assert doc["totals"]["long_usd"] > 0  # OI from Hyperliquid: the map has something to spread
