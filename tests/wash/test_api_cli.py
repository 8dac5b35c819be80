"""``Workspace.wash`` and ``flushwatch wash`` on the real prints: point in time, per venue,
inverse contracts in their own unit, missing series named, one-line errors."""

from __future__ import annotations

import json

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.api.wash import wash_suspicion
from flushwatch.api.workspace import Workspace
from flushwatch.cli.app import app
from flushwatch.domain.records import Trade
from flushwatch.errors import ConfigError, InputError
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore

from .conftest import CUT_NS

AT = "2024-08-08T23:57:00Z"  # == CUT_NS
WINDOW_NS = 120 * 10**9


def test_as_of_answers_equal_a_store_cut_at_that_time(wash_stores: tuple[Store, Store]) -> None:
    whole, cut = wash_stores
    a = Workspace(whole).wash("BTC", at=AT, window="2m").to_dict()
    b = Workspace(cut).wash("btc", at=AT, window="2m").to_dict()
    assert a == b
    assert a["as_of_ts"] == CUT_NS
    assert a["label"] == "suspicion"
    trades = whole.read(Trade, asset="BTC").filter(
        (pl.col("ts_event") > CUT_NS - WINDOW_NS) & (pl.col("ts_event") <= CUT_NS)
    )
    per_venue = dict(trades.group_by("exchange").len().iter_rows())
    assert {v["exchange"]: v["prints"] for v in a["venues"]} == per_venue
    assert len(per_venue) == 3  # USD-M, spot and COIN-M


def test_inverse_contracts_and_missing_series(wash_store: Store) -> None:
    doc = Workspace(wash_store).wash("BTC", window="10m").to_dict()  # the whole recording
    venues = {v["exchange"]: v for v in doc["venues"]}
    coinm = venues["binancecoinm"]
    assert coinm["size_unit"] == "quote (inverse contracts)"
    assert coinm["prints"] == 2_286  # the recording's trade messages (PROVENANCE.md)
    tests = {t["name"]: t for t in coinm["tests"]}
    # Binance COIN-M BTCUSD_PERP trades whole 100-USD contracts: a round lot is 100 of them.
    assert tests["round_lot_excess"]["detail"]["step"] == 100.0
    assert tests["round_lot_excess"]["detail"]["round_lot"] == 10_000.0
    for v in doc["venues"]:
        oi = next(t for t in v["tests"] if t["name"] == "volume_vs_oi")
        assert oi["available"] is False
        assert oi["p_holm"] is None
        assert oi["note"] == "not available: no open interest in the store"
        assert v["depth_source"] == "top of book (quotes)"
        assert v["correction"].startswith("Holm step-down over")
    assert doc["score"] == max(v["score"] for v in doc["venues"])


def test_one_score_per_asset_for_a_ranking(wash_store: Store) -> None:
    reader = AsOfStore(wash_store, CUT_NS)
    score = wash_suspicion(reader, "BTC", as_of_ns=CUT_NS, window_s=120)
    assert score == Workspace(wash_store).wash("BTC", at=AT, window="2m").score
    assert score is not None
    assert 0 < score <= 1
    assert wash_suspicion(reader, "XRP", as_of_ns=CUT_NS) is None  # not available, not 0


def test_venue_filter_and_errors(wash_store: Store) -> None:
    ws = Workspace(wash_store)
    only = ws.wash("BTC", at=AT, window="2m", venue="binance").to_dict()
    assert [v["exchange"] for v in only["venues"]] == ["binance"]
    none = ws.wash("BTC", at=AT, window="2m", venue="okx").to_dict()
    assert none["venues"] == []
    assert none["score"] is None
    assert none["notes"] == ["not available: no BTC trade prints on okx in the window"]
    with pytest.raises(InputError, match="holds no XRP trade prints"):
        ws.wash("XRP")
    with pytest.raises(InputError, match="before the store's ETH trade prints"):
        ws.wash("ETH", at="2024-08-08T23:00:00Z")
    for bad in ("abc", "0m", 0):
        with pytest.raises(ConfigError, match=r"--window .*: use a duration such as 30m"):
            ws.wash("BTC", window=bad)


def test_cli_json_and_one_line_error(wash_store: Store) -> None:
    runner = CliRunner()
    store = str(wash_store.root)
    ok = runner.invoke(
        app, ["wash", "ETH", "--store", store, "--at", AT, "--window", "3m", "--json"]
    )
    assert ok.exit_code == 0, ok.output
    doc = json.loads(ok.stdout)
    assert doc["asset"] == "ETH"
    assert doc["window_s"] == 180
    assert [v["symbol"] for v in doc["venues"]] == ["ETHUSDT"]
    assert [t["name"] for t in doc["venues"][0]["tests"]][:4] == [
        "benford_first_digit",
        "round_lot_excess",
        "size_tail_exponent",
        "matched_pairs",
    ]
    text = runner.invoke(app, ["wash", "BTC", "--store", store, "--at", AT, "--window", "2m"])
    assert text.exit_code == 0
    assert "Trade-print suspicion for BTC" in text.stdout
    assert "not a finding of wash trading" in text.stdout
    bad = runner.invoke(app, ["wash", "DOGE", "--store", store])
    assert bad.exit_code == 2
    assert bad.stderr.startswith("error: the store at ")
    assert len(bad.stderr.strip().splitlines()) == 1
