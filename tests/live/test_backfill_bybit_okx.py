"""``flushwatch backfill --venue bybit|okx`` through the real CLI against a loopback REST server.

The loopback (:mod:`flushwatch.testing.loopback_rest_bybit_okx`, on 127.0.0.1 in its own
thread) answers in the venues' documented shapes from the REAL multivenue Parquet rows (OKX and
Bybit hourly candles and funding, OKX liquidation prints); open interest and long/short ratios
are simulated there (no real rows exist) and are checked for exact decoding only. Expected
values are computed here from the same Parquet files with polars, independently of the server.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.domain.records import (
    Bar,
    Funding,
    Liquidation,
    LongShortRatio,
    OpenInterest,
    Record,
)
from flushwatch.store import Store
from flushwatch.testing.loopback_rest_bybit_okx import (
    CT_VAL,
    MULTIVENUE,
    LoopbackRest,
    RestFaults,
    VenueRows,
)
from flushwatch.testing.threaded import served_in_thread

NS_MS = 1_000_000
LO, HI = 1772409600000, 1772668800000  # 2026-03-02T00:00Z, 2026-03-05T00:00Z
WINDOW = ["--end", "2026-03-05T00:00Z", "--hours", "72", "--interval", "1h"]


@pytest.fixture(scope="module")
def okx_rows(shared_data: Path) -> VenueRows:
    return VenueRows(shared_data, "okx")


@pytest.fixture(scope="module")
def bybit_rows(shared_data: Path) -> VenueRows:
    return VenueRows(shared_data, "bybit")


@contextmanager
def _serve(rows: VenueRows, faults: RestFaults | None = None) -> Iterator[LoopbackRest]:
    with served_in_thread(lambda: LoopbackRest(rows, faults)) as ex:  # type: ignore[arg-type]
        yield ex


def _config(tmp_path: Path, ex: LoopbackRest, backfill: str = "page_limit = 50") -> Path:
    v, ws = ex.venue, ex.ws_base
    path = tmp_path / f"{v}.toml"
    path.write_text(
        f"[{v}]\n"
        f'endpoints = {{ public_ws = "{ws}", market_ws = "{ws}", rest = "{ex.http_base}" }}\n'
        "backoff = { initial = 0.01, maximum = 0.05, timeout = 30 }\n"
        f"[{v}.backfill]\n{backfill}\n"
    )
    return path


def _backfill(tmp_path: Path, ex: LoopbackRest, *args: str) -> tuple[int, str, dict[str, Any]]:
    argv = ["backfill", "--venue", ex.venue, "--json", "--config", str(_config(tmp_path, ex))]
    argv += ["--store", str(tmp_path / "store"), "--recordings", str(tmp_path / "rec"), *args]
    result = CliRunner().invoke(app, argv)
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    return result.exit_code, result.output, json.loads(last) if result.exit_code == 0 else {}


def _parquet(shared: Path, name: str, venue: str, coin: str) -> pl.DataFrame:
    df = pl.read_parquet(shared / MULTIVENUE / name)
    df = df.filter(pl.col("venue") == venue, pl.col("coin") == coin)
    df = df.with_columns(pl.col("timestamp").dt.epoch("ms").alias("ms"))
    return df.filter(pl.col("ms") >= LO, pl.col("ms") < HI).sort("ms")


def _read(store: Store, cls: type[Record], venue: str, symbol: str) -> pl.DataFrame:
    df = store.read(cls, exchange=venue)
    return df.filter(pl.col("symbol") == symbol).sort("ts_event")


def test_okx_backfill_pages_converts_contracts_and_reimports(
    okx_rows: VenueRows, shared_data: Path, tmp_path: Path
) -> None:
    """BTC and DOGE swaps, 72 h, pages of 50, two 429s on candles: the store holds the
    served rows exactly, sizes in coins (contracts × ctVal), and the recordings re-import."""
    faults = RestFaults(rate_limited={"/api/v5/market/history-candles": 2})
    with _serve(okx_rows, faults) as ex:
        args = ["--symbols", "BTC-USDT-SWAP,DOGE-USDT-SWAP", *WINDOW]
        code, out, stats = _backfill(tmp_path, ex, *args)
        assert code == 0, out
        log = list(ex.http_log)
    liq_btc = _parquet(shared_data, "liquidations__commit_fadd49d.parquet", "okx", "BTC")
    liq_doge = _parquet(shared_data, "liquidations__commit_fadd49d.parquet", "okx", "DOGE")
    assert (liq_btc.height, liq_doge.height) == (65, 1163)
    assert stats["rows"] == {
        "bars": 2 * 72,
        "funding": 2 * 9,
        "liquidations": 65 + 1163,
        "long_short_ratio": 2 * 72,
        "open_interest": 2 * 72,
    }
    assert stats["rows_added"] == stats["rows"]
    assert stats["rate_limited"] == 2
    assert stats["requests"] == len(log)
    # Per symbol: instruments 1, candles 72/50 → 2, funding 1, OI 2, ratio 2; liquidations
    # 65/50 → 2 (BTC), 1163/50 → 24 (DOGE); plus the two rate-limited candle requests.
    assert len(log) == (1 + 2 + 1 + 2 + 2 + 2) + (1 + 2 + 1 + 2 + 2 + 24) + 2
    candles = [t for t in log if t.startswith("/api/v5/market/history-candles")]
    assert candles[2:4] == [  # the first two were answered 429: the same page again
        "/api/v5/market/history-candles?instId=BTC-USDT-SWAP&bar=1H&limit=50"
        f"&after={HI}&before={LO - 1}",
        "/api/v5/market/history-candles?instId=BTC-USDT-SWAP&bar=1H&limit=50"
        f"&after={HI - 50 * 3_600_000}&before={LO - 1}",
    ]  # newest first: the second page is older than the first page's oldest bar

    store = Store.open(tmp_path / "store", create=False)
    for coin, sym in (("BTC", "BTC-USDT-SWAP"), ("DOGE", "DOGE-USDT-SWAP")):
        want = _parquet(shared_data, "candles.parquet", "okx", coin)
        bars = _read(store, Bar, "okx", sym)
        assert bars["ts_event"].to_list() == [ms * NS_MS for ms in want["ms"]]
        for col, src in (("open", "o"), ("high", "h"), ("low", "l"), ("close", "c")):
            assert bars[col].to_list() == want[src].to_list()
        # OKX candle volume is contracts: coins = contracts × ctVal (PROVENANCE.md)
        assert bars["volume_base"].to_list() == [v * CT_VAL[coin] for v in want["v"]]
        assert bars["volume_quote"].null_count() == bars.height  # the file has none
        rates = _parquet(shared_data, "funding_rates.parquet", "okx", coin)
        funding = _read(store, Funding, "okx", sym)
        assert funding["rate"].to_list() == rates["funding_rate"].to_list()
        assert funding["ts_event"].to_list() == [ms * NS_MS for ms in rates["ms"]]
        assert set(funding["interval_hours"].to_list()) == {8.0}
        assert funding["is_settled"].all()
    doge = _read(store, Bar, "okx", "DOGE-USDT-SWAP").row(0, named=True)
    assert (doge["close"], doge["volume_base"]) == (0.09298, 124056.24 * 1000)

    liq = _read(store, Liquidation, "okx", "BTC-USDT-SWAP")
    assert liq.height == 65
    first = liq.row(0, named=True)  # 2026-03-04 22:45:43.781, sell 0.21 contracts at 72431.4
    assert first["ts_event"] == 1772664343781 * NS_MS
    assert (first["side"], first["price"], first["venue_side"]) == ("long", 72431.4, "sell/net")
    assert first["qty"] == pytest.approx(0.21 * 0.01)
    assert first["notional"] == pytest.approx(0.21 * 0.01 * 72431.4)  # not the file's 15210.594
    assert first["notional"] == pytest.approx(152.10594)
    doge_liq = _read(store, Liquidation, "okx", "DOGE-USDT-SWAP")
    assert doge_liq.height == 1163  # every print, across 24 pages
    sz = (liq_doge["size_usd"] / liq_doge["price"]).round(2)
    assert doge_liq["notional"].sum() == pytest.approx((sz * 1000 * liq_doge["price"]).sum())
    sides = {"sell": "long", "buy": "short"}
    assert sorted(doge_liq["side"].to_list()) == sorted(sides[s] for s in liq_doge["side"])

    # Simulated OI and ratios: decoded exactly as served (one-sided coins and USD).
    oi = _read(store, OpenInterest, "okx", "DOGE-USDT-SWAP")
    served_oi = [r for r in okx_rows.oi["DOGE-USDT-SWAP"] if LO <= r[0] < HI]
    assert oi["oi_base"].to_list() == [r[2] for r in served_oi]
    assert oi["oi_quote"].to_list() == [r[3] for r in served_oi]
    ratio = _read(store, LongShortRatio, "okx", "BTC-USDT-SWAP")
    served = [r for r in okx_rows.ratio["BTC-USDT-SWAP"] if LO <= r[0] < HI]
    assert ratio["ratio"].to_list() == [round(lg / sh, 4) for _, lg, sh in served]
    assert set(ratio["kind"].to_list()) == {"global_accounts"}

    # The REST recordings re-import through `flushwatch import`, adding nothing.
    result = CliRunner().invoke(
        app, ["import", str(tmp_path / "rec"), "--store", str(tmp_path / "store"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["failed"] == []
    assert sum(sum(i["rows_read"].values()) for i in report["imported"]) == sum(
        stats["rows"].values()
    )
    assert report["rows_added"] == 0


def test_bybit_backfill_pages_by_window_time_and_cursor(
    bybit_rows: VenueRows, shared_data: Path, tmp_path: Path
) -> None:
    """BTCUSDT 72 h, pages of 50: klines in windows, funding by endTime, OI and ratio by
    Bybit's cursor; two retCode 10006 answers waited out; values exact."""
    faults = RestFaults(rate_limited={"/v5/market/kline": 2})
    with _serve(bybit_rows, faults) as ex:
        code, out, stats = _backfill(tmp_path, ex, "--symbols", "BTCUSDT", *WINDOW)
        assert code == 0, out
        log = list(ex.http_log)
    assert stats["rows"] == {
        "bars": 72,
        "funding": 9,
        "long_short_ratio": 72,
        "open_interest": 72,
    }
    assert stats["rate_limited"] == 2
    # instruments 1, klines 72/50 → 2 windows (+2 limited), funding 1, OI 2, ratio 2
    assert len(log) == stats["requests"] == 1 + 2 + 2 + 1 + 2 + 2
    oi_asked = [t for t in log if t.startswith("/v5/market/open-interest")]
    assert oi_asked[1].endswith("&cursor=lastid%3D50")  # the body's nextPageCursor, as sent
    store = Store.open(tmp_path / "store", create=False)
    want = _parquet(shared_data, "candles.parquet", "bybit", "BTC")
    bars = _read(store, Bar, "bybit", "BTCUSDT")
    assert bars["ts_event"].to_list() == [ms * NS_MS for ms in want["ms"]]
    assert bars["close"].to_list() == want["c"].to_list()
    assert bars["volume_base"].to_list() == want["v"].to_list()  # linear: base coins
    rates = _parquet(shared_data, "funding_rates.parquet", "bybit", "BTC")
    funding = _read(store, Funding, "bybit", "BTCUSDT")
    assert funding["rate"].to_list() == rates["funding_rate"].to_list()
    assert set(funding["interval_hours"].to_list()) == {8.0}  # fundingInterval 480 min
    oi = _read(store, OpenInterest, "bybit", "BTCUSDT")
    served = [r for r in bybit_rows.oi["BTCUSDT"] if LO <= r[0] < HI]
    assert oi["oi_base"].to_list() == [r[2] for r in served]  # one side, not the doubled sum
    ratio = _read(store, LongShortRatio, "bybit", "BTCUSDT")
    served_r = [r for r in bybit_rows.ratio["BTCUSDT"] if LO <= r[0] < HI]
    assert ratio["ratio"].to_list() == [lg / sh for _, lg, sh in served_r]


def test_malformed_body_is_one_line_and_the_store_is_unchanged(
    okx_rows: VenueRows, tmp_path: Path
) -> None:
    """A funding body cut in half: exit 2, one line naming the URL; what the store held
    before (an earlier klines backfill) is all it holds after."""
    faults = RestFaults(malformed=("/api/v5/public/funding-rate-history",))
    with _serve(okx_rows, faults) as ex:
        args = ["--symbols", "SOL-USDT-SWAP", *WINDOW]
        code, out, _ = _backfill(tmp_path, ex, *args, "--data", "klines")
        assert code == 0, out
        code, out, _ = _backfill(tmp_path, ex, *args, "--data", "klines,funding")
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "/api/v5/public/funding-rate-history?instId=SOL-USDT-SWAP" in lines[0]
    store = Store.open(tmp_path / "store", create=False)
    assert store.read(Bar, exchange="okx").height == 72
    assert store.read(Funding, exchange="okx").height == 0


def test_unknown_instrument_and_unknown_dataset_are_one_line(
    okx_rows: VenueRows, tmp_path: Path
) -> None:
    """OKX's 51001 on the instruments request, and --data the venue lacks: one line each."""
    with _serve(okx_rows) as ex:
        code, out, _ = _backfill(tmp_path, ex, "--symbols", "NOPE-USDT-SWAP", *WINDOW)
        assert code == 2
        assert out.strip().count("\n") == 0
        assert "51001" in out
        assert ex.http_log == ["/api/v5/public/instruments?instType=SWAP&instId=NOPE-USDT-SWAP"]
        code, out, _ = _backfill(tmp_path, ex, "--symbols", "BTC-USDT-SWAP", "--data", "trades")
    assert code == 2
    assert out.strip() == (
        "error: --data trades: okx backfills klines, funding, open_interest, "
        "long_short_ratio, liquidations"
    )
