"""``flushwatch download coinglass`` end to end through the CLI, against the loopback vendor.

The loopback (127.0.0.1 only) answers the v4 endpoints with REAL rows of the shared CoinGlass
BTC regime export, which its exporter fetched from exactly these endpoints. So the API
download and a ``flushwatch import`` of the export must give the same rows under the same
labels: the store's natural keys prove it (importing the export after the download adds no
row of the downloaded hours).
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.api.download_vendors import coinglass_records
from flushwatch.cli.app import app
from flushwatch.connectors.coinglass_api import check_envelope
from flushwatch.connectors.vendor_http import Reply
from flushwatch.domain.records import DepthBand, Funding, LiquidationBucket, OpenInterest
from flushwatch.domain.time import parse_iso
from flushwatch.errors import PermanentError
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.loopback_vendors import REGIME, Row, VendorLoopback, regime_rows, serve

KEY = "cg-test-key-9b3e44d1"
START, END = "2026-02-05T00:00Z", "2026-02-07T00:00Z"
HOURS = 48
runner = CliRunner()


@pytest.fixture(scope="module")
def rows(shared_data: Path) -> list[Row]:
    return regime_rows(shared_data / REGIME)


@pytest.fixture
def window_rows(rows: list[Row]) -> list[Row]:
    lo, hi = parse_iso(START) // 10**6, parse_iso(END) // 10**6
    return [r for r in rows if lo <= r.ts_ms < hi]


@pytest.fixture
def loop(rows: list[Row], request: pytest.FixtureRequest) -> Iterator[VendorLoopback]:
    rate = getattr(request, "param", 1000)
    with serve(VendorLoopback(rows, key=KEY, rate_calls=rate, rate_window_s=1.0)) as lb:
        yield lb


def _args(tmp_path: Path, loop: VendorLoopback, *args: str, plan: str = "standard") -> list[str]:
    cfg = tmp_path / f"vendors-{plan}.toml"
    cfg.write_text(
        f'[coinglass]\nbase_url = "{loop.base}"\nplan = "{plan}"\npage_rows = 20\n'
        "[coinglass.backoff]\ninitial = 0.05\nmaximum = 0.2\ntimeout = 20\n",
        encoding="utf-8",
    )
    return [
        "download",
        "coinglass",
        "--symbol",
        "BTC",
        "--interval",
        "1h",
        "--start",
        START,
        "--end",
        END,
        "--store",
        str(tmp_path / "store"),
        "--config",
        str(cfg),
        *args,
    ]


def _read(store: Path, cls: type, symbol: str) -> pl.DataFrame:
    df = Store.open(store, create=False).read(cls, exchange="coinglass", symbol=symbol)
    return df.drop("ts_recv")


def test_download_matches_the_export_under_the_same_labels(
    tmp_path: Path,
    loop: VendorLoopback,
    window_rows: list[Row],
    shared_data: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    aggregated = runner.invoke(app, _args(tmp_path, loop, "--json"))
    assert aggregated.exit_code == 0, aggregated.output
    stats = json.loads(aggregated.stdout)
    # Aggregated OI over every venue is not in the export: served as no rows, stored as none.
    assert stats["rows"] == {"liquidation_buckets": HOURS, "funding": HOURS}
    assert stats["pages"] == 3
    one_venue = runner.invoke(
        app, _args(tmp_path, loop, "--exchange", "Binance", "--data", "oi,funding", "--json")
    )
    assert one_venue.exit_code == 0, one_venue.output
    assert json.loads(one_venue.stdout)["rows_added"] == {"open_interest": HOURS, "funding": HOURS}
    store = tmp_path / "store"

    ts = [r.ts_ms * 10**6 for r in window_rows]
    liq = _read(store, LiquidationBucket, "BTC")
    assert liq.get_column("ts_event").to_list() == ts
    assert liq.get_column("venues").unique().to_list() == ["Binance,Bybit,OKX"]
    assert liq.get_column("long_usd").to_list() == [float(r.liq_long) for r in window_rows]
    assert liq.get_column("short_usd").to_list() == [float(r.liq_short) for r in window_rows]
    weighted = _read(store, Funding, "BTC")
    assert weighted.get_column("rate").to_list() == [
        float(Decimal(r.oi_weight[0]) / 100) for r in window_rows
    ]
    oi = _read(store, OpenInterest, "BTCUSDT-Binance")
    assert oi.get_column("oi_quote").to_list() == [float(r.oi[0]) for r in window_rows]
    pair = _read(store, Funding, "BTCUSDT-Binance")
    assert pair.get_column("rate").to_list() == [
        float(Decimal(r.funding[0]) / 100) for r in window_rows
    ]
    # Paging within the documented limit, each bucket asked once, only closed buckets.
    asked = loop.served.of("/api/futures/liquidation/aggregated-history")
    assert [int(q["limit"]) for q in asked] == [20, 20, 20]
    assert int(asked[-1]["end_time"]) == parse_iso(END) // 10**6 - 1

    # The export under the same labels: importing it adds none of the downloaded hours.
    export = parse(shared_data / REGIME)
    (summary,) = Store.open(store, create=False).write([export])
    for cls, name in ((LiquidationBucket, "liquidation_buckets"), (OpenInterest, "open_interest")):
        assert summary.rows_added[name] == export.frames[cls].height - HOURS
    funding_rows = export.frames[Funding].height  # two series: BTCUSDT-Binance and BTC
    assert summary.rows_added["funding"] == funding_rows - 2 * HOURS

    # A rerun fetches nothing: every page was imported whole (the page ledger names its URLs;
    # aggregated OI, never served, is not asked again); the key is in no file and no output.
    again = runner.invoke(app, _args(tmp_path, loop, "--json"))
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert (rerun["pages"], rerun["skipped"], rerun["requests"]) == (3, 3, 0)
    for path in store.rglob("*"):
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in aggregated.output + one_venue.output + again.output


def test_missing_key_and_an_interval_the_plan_does_not_serve(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COINGLASS_API_KEY", raising=False)
    missing = runner.invoke(app, _args(tmp_path, loop))
    assert missing.exit_code == 2
    assert missing.stderr.strip().splitlines() == [
        "error: set COINGLASS_API_KEY to your CoinGlass API key "
        "(it is read from the environment only)"
    ]
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    hobbyist = runner.invoke(app, _args(tmp_path, loop, plan="hobbyist"))
    assert hobbyist.exit_code == 2
    (line,) = hobbyist.stderr.strip().splitlines()
    assert "the CoinGlass hobbyist plan serves 4h and longer" in line
    assert loop.served.requests == []


def test_5xx_is_retried_and_a_recording_replays(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    loop.faults["/api/futures/liquidation/aggregated-history"] = [503, 500]
    loop.max_limit_header = 600  # below the professional plan's 1,200 a minute
    args = _args(tmp_path, loop, "--data", "liquidations", "--json", plan="professional")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["rows"] == {"liquidation_buckets": HOURS}
    assert stats["requests"] == 3 + 2  # three pages, the first answered 503 then 500
    assert stats["notes"] == [
        "CoinGlass allows this key 600 requests a minute (API-KEY-MAX-LIMIT): the rate was "
        "lowered to that"
    ]
    (recording,) = (tmp_path / "store" / "downloads" / "coinglass").glob("coinglass_rest_*")
    assert len(recording.read_text(encoding="utf-8").splitlines()) == 3  # 200 bodies only
    monkeypatch.delenv("COINGLASS_API_KEY")
    other = tmp_path / "replayed"
    replayed = runner.invoke(
        app, ["download", "coinglass", "--replay", str(recording), "--store", str(other)]
    )
    assert replayed.exit_code == 0, replayed.output
    assert _read(other, LiquidationBucket, "BTC").equals(
        _read(tmp_path / "store", LiquidationBucket, "BTC")
    )


@pytest.mark.parametrize("loop", [2], indirect=True)
def test_429_is_retried_after_retry_after(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    result = runner.invoke(app, _args(tmp_path, loop, "--data", "liquidations", "--json"))
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["rate_limited"] >= 1
    assert stats["rows"] == {"liquidation_buckets": HOURS}
    times = [(t, s) for _, _, t, s in loop.served.requests]
    for (t0, status), (t1, _) in itertools.pairwise(times):
        if status == 429:
            assert t1 - t0 >= 0.95  # Retry-After: 1 was respected


def test_malformed_body_is_one_line_and_leaves_the_store_as_it_was(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    first = runner.invoke(app, _args(tmp_path, loop, "--data", "liquidations"))
    assert first.exit_code == 0, first.output
    store = tmp_path / "store"

    def files() -> dict[Path, bytes]:
        return {p: p.read_bytes() for p in store.rglob("*") if p.is_file()}

    snapshot = {p: b for p, b in files().items() if "downloads" not in p.parts}
    loop.malformed.add("/api/futures/funding-rate/oi-weight-history")
    bad = runner.invoke(app, _args(tmp_path, loop, "--data", "liquidations,funding"))
    assert bad.exit_code == 2
    (line,) = bad.stderr.strip().splitlines()
    assert "oi-weight-history" in line
    assert "not the documented CoinGlass answer" in line
    assert {p: b for p, b in files().items() if "downloads" not in p.parts} == snapshot


def test_envelope_errors_and_depth_bands() -> None:
    """Bodies in the documented shapes, constructed here (the export holds no depth)."""
    url = "http://127.0.0.1:9/api/futures/orderbook/aggregated-ask-bids-history"
    with pytest.raises(PermanentError, match="CoinGlass code 403: The requested interval"):
        check_envelope(
            url, '{"code":"403","msg":"The requested interval is not available for your plan."}'
        )
    q = "exchange_list=Binance&symbol=BTC&interval=4h&start_time=1714003200000"
    q += "&end_time=1714017599999&limit=1000&range=1"
    body = json.dumps(
        {
            "code": "0",
            "msg": "success",
            "data": [
                {
                    "aggregated_bids_usd": "12679537.0806",
                    "aggregated_bids_quantity": 197.99861,
                    "aggregated_asks_usd": 10985519.9268,
                    "aggregated_asks_quantity": "170.382",
                    "time": 1714003200000,
                }
            ],
        }
    )
    bands = coinglass_records([Reply(f"{url}?{q}", body, 7)])
    assert [
        (b.symbol, b.pct, b.notional, b.depth_base)  # type: ignore[attr-defined]
        for b in bands
        if isinstance(b, DepthBand)
    ] == [("BTC", -1.0, 12679537.0806, 197.99861), ("BTC", 1.0, 10985519.9268, 170.382)]
