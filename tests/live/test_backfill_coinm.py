"""``flushwatch backfill --venue binancecoinm`` and ``update`` through the real CLI.

The loopback (:mod:`flushwatch.testing.loopback_rest_binance_coinm`, 127.0.0.1, its own thread)
serves the REAL COIN-M exchangeInfo body cryptofeed recorded (contractSize 100 for BTCUSD_PERP),
the REAL Vision kline rows of BTCUSD_PERP 2023-10-27 and the REAL metrics rows of 2023-06-25 as
openInterestHist; funding, mark/index/premium klines and ratios are SIMULATED there (no real
COIN-M rows exist) and checked for exact decoding and paging only. The stored rows must equal a
direct import of the same Vision files, and the recordings must re-import to identical rows.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.domain.records import Bar, Funding, LongShortRatio, OpenInterest, Record
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.loopback_rest_binance_coinm import (
    KLINES_FILE,
    METRICS_FILE,
    CoinmFaults,
    CoinmRows,
    LoopbackCoinm,
)
from flushwatch.testing.threaded import served_in_thread

runner = CliRunner()
KLINE_DAY = ["--end", "2023-10-27T03:00Z", "--hours", "3", "--interval", "1h"]
ALL_KLINES = "klines,mark_klines,index_klines,premium_klines"
BAR_COLS = ["ts_event", "exchange", "market", "symbol", "price_kind", "interval_s", "open"]
BAR_COLS += ["high", "low", "close", "volume_base", "volume_quote", "taker_buy_base"]
BAR_COLS += ["taker_buy_quote", "trade_count"]
OI_COLS = ["ts_event", "exchange", "market", "symbol", "oi_base", "oi_quote"]
KEYS = {Bar: BAR_COLS, OpenInterest: OI_COLS, Funding: ["ts_event", "symbol", "rate"]}
KEYS[LongShortRatio] = ["ts_event", "symbol", "kind", "ratio"]


@pytest.fixture(scope="module")
def rows(shared_data: Path) -> CoinmRows:
    return CoinmRows(shared_data)


@pytest.fixture
def loopback(rows: CoinmRows) -> Iterator[LoopbackCoinm]:
    faults = CoinmFaults(rate_limited={"/dapi/v1/klines": 1})
    with served_in_thread(lambda: LoopbackCoinm(rows, faults)) as ex:  # type: ignore[arg-type]
        yield ex


def _config(tmp_path: Path, ex: LoopbackCoinm, backfill: str) -> Path:
    ws = ex.ws_base
    path = tmp_path / "coinm.toml"
    path.write_text(
        f'[binance_vision]\nbase_url = "{ex.http_base}"\n'
        "[binancecoinm]\n"
        f'endpoints = {{ public_ws = "{ws}", market_ws = "{ws}", rest = "{ex.http_base}" }}\n'
        "backoff = { initial = 0.01, maximum = 0.05, timeout = 30 }\n"
        f"[binancecoinm.backfill]\n{backfill}\n"
    )
    return path


def _backfill(
    tmp_path: Path, config: Path, *args: str, store: str = "store"
) -> tuple[int, str, dict[str, Any]]:
    argv = ["backfill", "--venue", "binancecoinm", "--json", "--config", str(config)]
    argv += ["--store", str(tmp_path / store), "--recordings", str(tmp_path / "rec"), *args]
    result = runner.invoke(app, argv)
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    return result.exit_code, result.output, json.loads(last) if result.exit_code == 0 else {}


def _rows(store: Store, cls: type[Record], kind: str | None = None) -> pl.DataFrame:
    df = store.read(cls, exchange="binancecoinm")
    if kind is not None:
        df = df.filter(pl.col("price_kind") == kind)
    return df.select(KEYS[cls]).sort(KEYS[cls])


def test_klines_equal_the_vision_file_and_recordings_reimport(
    loopback: LoopbackCoinm, shared_data: Path, tmp_path: Path
) -> None:
    """Trade, mark, index and premium klines in windows of 2 bars, after a 429 on klines."""
    config = _config(tmp_path, loopback, 'page_limit = 2\nstats_period = "5m"')
    args = ["--symbols", "BTCUSD_PERP", "--data", ALL_KLINES, *KLINE_DAY]
    code, out, stats = _backfill(tmp_path, config, *args)
    assert code == 0, out
    assert stats["rate_limited"] == 1
    assert stats["rows"] == {"bars": 12} == stats["rows_added"]  # 3 hours × 4 price kinds
    # exchangeInfo once, then 2 windows of 2 hours per kline kind (+1 for the 429)
    assert stats["requests"] == 1 + 4 * 2 + 1 == len(loopback.http_log)
    assert loopback.http_log[:2] == [
        "/dapi/v1/exchangeInfo",
        "/dapi/v1/klines?symbol=BTCUSD_PERP&interval=1h&limit=2&startTime=1698364800000"
        "&endTime=1698371999999",
    ]
    assert "/dapi/v1/indexPriceKlines?pair=BTCUSD&interval=1h&limit=2" in "".join(loopback.http_log)

    live = Store.open(tmp_path / "store", create=False)
    clean = Store.open(tmp_path / "clean")
    clean.write([parse(shared_data / KLINES_FILE)])
    trade = _rows(live, Bar, "trade")
    assert trade.equals(_rows(clean, Bar, "trade"))
    # contracts × 100 USD (contractSize of the real exchangeInfo); the "quote" column is BTC
    first = trade.row(0, named=True)
    assert (first["volume_quote"], first["volume_base"]) == (40_995_300.0, 1202.97118037)
    assert (first["taker_buy_quote"], first["trade_count"]) == (19_222_000.0, 15095)
    insts = [i for i in live.instruments() if i.exchange == "binancecoinm"]
    assert [(i.symbol, i.contract_size) for i in insts] == [("BTCUSD_PERP", 100.0)]
    # SIMULATED mark/index/premium bars: prices only, the index under its pair
    index = _rows(live, Bar, "index")
    assert set(index["symbol"]) == {"BTCUSD"}
    assert index["close"].to_list() == [34023.7, 33847.9, 34093.7]  # real close − 0.5
    assert _rows(live, Bar, "mark")["volume_base"].null_count() == 3
    assert _rows(live, Bar, "premium")["close"].to_list() == [0.0001, 0.0002, 0.0003]

    code, out, again = _backfill(tmp_path, config, *args)
    assert code == 0, out
    assert again["rows_added"] == {"bars": 0}

    recs = sorted((tmp_path / "rec").glob("binancecoinm_rest_*.jsonl.gz"))
    assert len(recs) == 2
    result = runner.invoke(app, ["import", str(recs[0]), "--store", str(tmp_path / "fresh")])
    assert result.exit_code == 0, result.output
    fresh = Store.open(tmp_path / "fresh", create=False)
    for kind in ("trade", "mark", "index", "premium"):
        assert _rows(fresh, Bar, kind).equals(_rows(live, Bar, kind))


def test_open_interest_and_ratios(
    loopback: LoopbackCoinm, shared_data: Path, tmp_path: Path
) -> None:
    """openInterestHist by pair + PERPETUAL equals the Vision metrics rows; three ratios."""
    config = _config(tmp_path, loopback, 'page_limit = 2\nstats_period = "5m"')
    args = ["--symbols", "BTCUSD_PERP", "--data", "open_interest,long_short_ratio"]
    args += ["--end", "2023-06-25T00:15Z", "--hours", "0.25"]
    code, out, stats = _backfill(tmp_path, config, *args)
    assert code == 0, out
    assert stats["rows"] == {"long_short_ratio": 9, "open_interest": 3}
    assert stats["requests"] == 1 + 4 * 2  # windows of 2 periods (10 min) per endpoint
    assert loopback.http_log[1] == (
        "/futures/data/openInterestHist?pair=BTCUSD&contractType=PERPETUAL&period=5m"
        "&limit=2&startTime=1687651200000&endTime=1687651799999"
    )
    live = Store.open(tmp_path / "store", create=False)
    clean = Store.open(tmp_path / "clean")
    clean.write([parse(shared_data / METRICS_FILE)])
    got = _rows(live, OpenInterest)
    assert got.equals(_rows(clean, OpenInterest))
    # 5578700 contracts × 100 USD; sumOpenInterestValue is BTC
    assert got.row(0)[4:] == (18265.00911826, 557_870_000.0)
    ratios = _rows(live, LongShortRatio)
    assert ratios.group_by("kind").len().sort("kind").rows() == [
        ("global_accounts", 3),
        ("top_trader_accounts", 3),
        ("top_trader_positions", 3),
    ]
    assert set(ratios["symbol"]) == {"BTCUSD_PERP"}


def test_funding_windows_and_errors(loopback: LoopbackCoinm, tmp_path: Path) -> None:
    """Funding in windows of ``limit`` hours; bad symbols are one line, exit 2, nothing stored."""
    config = _config(tmp_path, loopback, "page_limit = 10")
    args = ["--symbols", "BTCUSD_PERP", "--data", "funding"]
    code, out, stats = _backfill(
        tmp_path, config, *args, "--end", "2023-10-27T01:00Z", "--hours", "100"
    )
    assert code == 0, out
    assert stats["requests"] == 1 + 10  # 100 h in windows of 10 h
    live = Store.open(tmp_path / "store", create=False)
    funding = live.read(Funding, exchange="binancecoinm")
    assert funding.height == 13  # SIMULATED: every 8 h from 10-23 00:00 to 10-27 00:00
    # 10 h windows hold one or two settlements: a lone one takes the previous page's spacing;
    # the very first has no earlier settlement, so its interval stays unknown
    assert funding.sort("ts_event")["interval_hours"].to_list() == [None] + [8.0] * 12

    before = live.read(Funding, exchange="binancecoinm").height
    for symbol, data, why in (
        ("BTCUSD_240927", "open_interest", "per pair and contract type"),
        ("FOOUSD_PERP", "klines", "Invalid symbol"),
    ):
        result = runner.invoke(
            app,
            [
                "backfill",
                "--venue",
                "binancecoinm",
                "--symbols",
                symbol,
                "--data",
                data,
                "--config",
                str(config),
                "--store",
                str(tmp_path / "store"),
                "--recordings",
                str(tmp_path / "rec"),
                *KLINE_DAY,
            ],
        )
        assert result.exit_code == 2, result.output
        assert why in result.output
        assert len(result.stderr.strip().splitlines()) == 1
    assert Store.open(tmp_path / "store", create=False).read(Funding).height == before


def test_update_continues_coin_m_series(loopback: LoopbackCoinm, tmp_path: Path) -> None:
    """A store holding two hours of COIN-M bars gets the third from ``update`` over REST."""
    config = _config(tmp_path, loopback, "page_limit = 2")
    args = ["--symbols", "BTCUSD_PERP", "--data", "klines,index_klines"]
    args += ["--end", "2023-10-27T02:00Z", "--hours", "2", "--interval", "1h"]
    code, out, stats = _backfill(tmp_path, config, *args)
    assert code == 0, out
    assert stats["rows_added"] == {"bars": 4}
    argv = ["update", "--store", str(tmp_path / "store"), "--config", str(config)]
    argv += ["--now", "2023-10-27T03:00Z", "--json", "--recordings", str(tmp_path / "rec2")]
    result = runner.invoke(app, argv)
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert [(w["symbols"], w["datasets"]) for w in doc["rest"]] == [
        (["BTCUSD"], ["index_klines"]),
        (["BTCUSD_PERP"], ["klines"]),
    ]
    assert doc["rest_rows_added"] == {"bars": 2}  # the 02:00 bar of each series
    live = Store.open(tmp_path / "store", create=False)
    assert _rows(live, Bar, "trade").height == 3
    assert _rows(live, Bar, "index").height == 3


def test_update_asks_rest_for_a_perpetual_s_statistics_only() -> None:
    """COIN-M statistics are per pair + PERPETUAL: a delivery's metrics stay archive-only."""
    from datetime import date

    from flushwatch.api.update import Target, rest_windows

    day = 1_698_364_800_000_000_000  # 2023-10-27T00:00Z
    found = [
        Target(venue="binancecoinm", dataset="metrics", symbol=s, interval=None, last_ts=day)
        for s in ("BTCUSD_PERP", "BTCUSD_231229")
    ]
    windows = rest_windows(found, date(2023, 10, 27), day + 3_600 * 10**9)
    assert [(w.symbols, w.datasets) for w in windows] == [
        (["BTCUSD_PERP"], ["long_short_ratio", "open_interest"])
    ]
