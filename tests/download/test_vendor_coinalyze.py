"""``flushwatch download coinalyze`` end to end through the CLI, against the loopback vendor.

The loopback (:mod:`flushwatch.testing.loopback_vendors`, 127.0.0.1 only) serves REAL hourly
rows of the shared CoinGlass BTC regime export in Coinalyze's documented shapes for
``BTCUSDT_PERP.A``; the store must hold exactly those values, labelled ``coinalyze`` /
``BTCUSDT-Binance``.
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

from flushwatch.api.download_vendors import coinalyze_records
from flushwatch.cli.app import app
from flushwatch.connectors.config import load_config
from flushwatch.connectors.vendor_config import vendor_config
from flushwatch.connectors.vendor_http import Reply, TokenBucket, windows
from flushwatch.domain.records import (
    Bar,
    Funding,
    LiquidationBucket,
    LongShortRatio,
    OpenInterest,
)
from flushwatch.domain.time import parse_iso
from flushwatch.errors import ConfigError
from flushwatch.store import Store
from flushwatch.testing.loopback_vendors import REGIME, Row, VendorLoopback, regime_rows, serve
from flushwatch.venues import coinalyze as cz

KEY = "cz-test-key-5f1c0a77"
START, END = "2026-02-05T00:00Z", "2026-02-07T00:00Z"  # the BTC long flush, 48 hours
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
    with serve(
        VendorLoopback(rows, key=KEY, max_rows=20, rate_calls=rate, rate_window_s=1.0)
    ) as lb:
        yield lb


def _config(tmp_path: Path, loop: VendorLoopback, extra: str = "", name: str = "vendors") -> Path:
    path = tmp_path / f"{name}.toml"
    path.write_text(
        f'[coinalyze]\nbase_url = "{loop.base}/v1"\npage_rows = 20\n{extra}'
        "[coinalyze.backoff]\ninitial = 0.05\nmaximum = 0.2\ntimeout = 20\n",
        encoding="utf-8",
    )
    return path


def _download(
    tmp_path: Path, loop: VendorLoopback, *args: str, store: Path | None = None
) -> list[str]:
    return [
        "download",
        "coinalyze",
        "--start",
        START,
        "--end",
        END,
        "--store",
        str(store or tmp_path / "store"),
        "--config",
        str(_config(tmp_path, loop)),
        *args,
    ]


def _frame(store: Path, cls: type) -> pl.DataFrame:
    return Store.open(store, create=False).read(cls, exchange="coinalyze").drop("ts_recv")


def _ts(rows: list[Row]) -> list[int]:
    return [r.ts_ms * 10**6 for r in rows]


def test_download_stores_the_served_rows_exactly_and_a_rerun_adds_nothing(
    tmp_path: Path, loop: VendorLoopback, window_rows: list[Row], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINALYZE_API_KEY", KEY)
    args = _download(
        tmp_path,
        loop,
        "--symbols",
        "BTCUSDT_PERP.A",
        "--data",
        "oi,funding,liquidations,ohlcv",
        "--json",
    )
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["rows"] == {
        "open_interest": HOURS,
        "funding": HOURS,
        "liquidation_buckets": HOURS,
        "bars": HOURS,
    }
    assert stats["rows_added"] == stats["rows"]
    assert stats["pages"] == 3  # 48 hours in windows of 20 intervals (the loopback's maximum)
    store = tmp_path / "store"

    liq = _frame(store, LiquidationBucket)
    assert liq.get_column("ts_event").to_list() == _ts(window_rows)
    assert liq.get_column("symbol").unique().to_list() == ["BTCUSDT-Binance"]
    assert liq.get_column("venues").unique().to_list() == ["Binance"]
    assert liq.get_column("interval_s").unique().to_list() == [3600]
    assert liq.get_column("long_usd").to_list() == [float(r.liq_long) for r in window_rows]
    assert liq.get_column("short_usd").to_list() == [float(r.liq_short) for r in window_rows]
    # The flush's largest hour (PROVENANCE.md: 2026-02-05 20:00 UTC, longs ≈ $134M).
    peak = liq.filter(pl.col("ts_event") == parse_iso("2026-02-05T20:00Z"))
    assert 130e6 < peak.get_column("long_usd")[0] < 140e6

    oi = _frame(store, OpenInterest)
    assert oi.get_column("oi_quote").to_list() == [float(r.oi[0]) for r in window_rows]
    fund = _frame(store, Funding)
    assert fund.get_column("rate").to_list() == [
        float(Decimal(r.funding[0]) / 100) for r in window_rows
    ]
    assert not fund.get_column("is_settled").any()
    bars = _frame(store, Bar)
    assert bars.get_column("close").to_list() == [float(r.price[3]) for r in window_rows]
    assert bars.get_column("volume_base").is_null().all()  # the fixture serves no volume

    # Paging: every request within the vendor's limits, the window covered once.
    hist = loop.served.of("/v1/liquidation-history")
    assert [(int(q["from"]), int(q["to"])) for q in hist] == [
        (t, t + 20 * 3600 - 1) for t in (parse_iso(START) // 10**9 + k * 20 * 3600 for k in (0, 1))
    ] + [(parse_iso(START) // 10**9 + 40 * 3600, parse_iso(END) // 10**9 - 1)]
    assert all(q["convert_to_usd"] == "true" for q in hist)
    assert all("convert_to_usd" not in q for q in loop.served.of("/v1/funding-rate-history"))

    before = {cls: _frame(store, cls) for cls in (LiquidationBucket, OpenInterest, Funding, Bar)}
    again = runner.invoke(app, args)
    assert again.exit_code == 0, again.output
    rerun = json.loads(again.stdout)
    assert (rerun["pages"], rerun["skipped"], rerun["requests"]) == (3, 3, 1)  # markets only
    assert rerun["rows_added"] == {}
    for cls, frame in before.items():
        assert _frame(store, cls).equals(frame)

    # The recording re-imports (no network, no key) into the same rows.
    recordings = list((store / "downloads" / "coinalyze").glob("coinalyze_rest_*.jsonl"))
    assert len(recordings) == 2
    recordings.sort(key=lambda p: -p.stat().st_size)  # the first run's: every body
    monkeypatch.delenv("COINALYZE_API_KEY")
    other = tmp_path / "replayed"
    replayed = runner.invoke(
        app,
        ["download", "coinalyze", "--replay", str(recordings[0]), "--store", str(other), "--json"],
    )
    assert replayed.exit_code == 0, replayed.output
    for cls, frame in before.items():
        assert _frame(other, cls).equals(frame)

    # The key is in no recording, no store file and no output.
    for path in [*store.rglob("*"), *other.rglob("*")]:
        if path.is_file():
            assert KEY.encode() not in path.read_bytes(), path
    assert KEY not in result.output + again.output + replayed.output


def test_a_rerun_fetches_only_the_pages_the_store_lacks(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINALYZE_API_KEY", KEY)
    args = _download(tmp_path, loop, "--symbols", "BTCUSDT_PERP.A", "--data", "oi", "--json")
    day_one = [*args]
    day_one[day_one.index("--end") + 1] = "2026-02-06T00:00Z"
    first = runner.invoke(app, day_one)
    assert first.exit_code == 0, first.output
    assert json.loads(first.stdout)["rows_added"] == {"open_interest": 24}
    loop.served.requests.clear()
    second = runner.invoke(app, args)
    assert second.exit_code == 0, second.output
    stats = json.loads(second.stdout)
    # Hours 0-19 are held whole: skipped; 20-39 (4 held, 16 not) and 40-47 are fetched.
    assert (stats["pages"], stats["skipped"]) == (3, 1)
    assert stats["rows_added"] == {"open_interest": 24}
    assert [int(q["from"]) for q in loop.served.of("/v1/open-interest-history")] == [
        parse_iso(START) // 10**9 + h * 3600 for h in (20, 40)
    ]


def test_rows_missing_at_the_start_are_noted_not_invented(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The export starts 2025-12-04 06:00: asked from midnight, six hours are simply absent."""
    monkeypatch.setenv("COINALYZE_API_KEY", KEY)
    args = _download(tmp_path, loop, "--symbols", "BTCUSDT_PERP.A", "--data", "oi", "--json")
    args[args.index("--start") + 1] = "2025-12-04T00:00Z"
    args[args.index("--end") + 1] = "2025-12-05T00:00Z"
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["rows"] == {"open_interest": 18}
    assert stats["first"]["open_interest"] == "2025-12-04T06:00:00Z"
    assert stats["notes"] == [
        "open_interest: the first row is 2025-12-04T06:00:00Z, after the requested start "
        "2025-12-04T00:00:00Z (the vendor holds no earlier rows at this interval, or none "
        "for this plan)"
    ]


def test_missing_key_is_one_line_naming_the_variable(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("COINALYZE_API_KEY", raising=False)
    result = runner.invoke(app, _download(tmp_path, loop, "--symbols", "BTCUSDT_PERP.A"))
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        "error: set COINALYZE_API_KEY to your Coinalyze API key "
        "(it is read from the environment only)"
    ]
    assert loop.served.requests == []
    assert not (tmp_path / "store").exists()


def test_a_wrong_key_is_refused_without_retrying(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINALYZE_API_KEY", "not-the-key")
    result = runner.invoke(app, _download(tmp_path, loop, "--symbols", "BTCUSDT_PERP.A"))
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "HTTP 401" in line
    assert "$COINALYZE_API_KEY" in line
    assert "not-the-key" not in result.output
    assert len(loop.served.requests) == 1


@pytest.mark.parametrize("loop", [3], indirect=True)
def test_429_is_retried_after_retry_after(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The loopback allows 3 calls a second: the 4th gets 429 + Retry-After: 1 and is retried."""
    monkeypatch.setenv("COINALYZE_API_KEY", KEY)
    args = _download(tmp_path, loop, "--symbols", "BTCUSDT_PERP.A", "--data", "oi", "--json")
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.stdout)
    assert stats["rate_limited"] >= 1
    assert stats["rows"] == {"open_interest": HOURS}
    times = [(t, s) for _, _, t, s in loop.served.requests]
    for (t0, status), (t1, _) in itertools.pairwise(times):
        if status == 429:
            assert t1 - t0 >= 0.95  # nothing went out before Retry-After (1 s) was over


def test_malformed_body_is_one_line_and_leaves_the_store_as_it_was(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINALYZE_API_KEY", KEY)
    store = tmp_path / "store"
    first = runner.invoke(
        app, _download(tmp_path, loop, "--symbols", "BTCUSDT_PERP.A", "--data", "oi")
    )
    assert first.exit_code == 0, first.output
    snapshot = {
        p: p.read_bytes() for p in store.rglob("*") if p.is_file() and "downloads" not in p.parts
    }
    loop.malformed.add("/v1/liquidation-history")
    bad = runner.invoke(
        app,
        _download(tmp_path, loop, "--symbols", "BTCUSDT_PERP.A", "--data", "funding,liquidations"),
    )
    assert bad.exit_code == 2
    (line,) = bad.stderr.strip().splitlines()
    assert "liquidation-history" in line
    assert "not the documented Coinalyze answer" in line
    after = {
        p: p.read_bytes() for p in store.rglob("*") if p.is_file() and "downloads" not in p.parts
    }
    assert after == snapshot


def test_symbols_are_chunked_and_unknown_symbols_refused(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINALYZE_API_KEY", KEY)
    cfg = _config(tmp_path, loop, "symbols_per_call = 1\n", name="one-symbol")
    args = _download(
        tmp_path, loop, "--symbols", "BTCUSDT_PERP.A,ETHUSDT_PERP.A", "--data", "oi", "--json"
    )
    args[args.index("--config") + 1] = str(cfg)
    result = runner.invoke(app, args)
    assert result.exit_code == 0, result.output
    asked = [q["symbols"] for q in loop.served.of("/v1/open-interest-history")]
    assert asked == ["BTCUSDT_PERP.A"] * 3 + ["ETHUSDT_PERP.A"] * 3
    assert json.loads(result.stdout)["rows"] == {"open_interest": HOURS}  # ETH: no rows served

    unknown = runner.invoke(app, _download(tmp_path, loop, "--symbols", "BTCUSDT"))
    assert unknown.exit_code == 2
    assert "Coinalyze lists no future BTCUSDT" in unknown.stderr


def test_predicted_funding_joins_the_funding_of_its_window() -> None:
    """Bodies in the documented shape (constructed here: the export has no predicted rates)."""
    base = "http://127.0.0.1:9/v1"
    q = "symbols=BTCUSDT_PERP.A&interval=1hour&from=1770249600&to=1770256799"
    funding = Reply(
        f"{base}/funding-rate-history?{q}",
        '[{"symbol":"BTCUSDT_PERP.A","history":[{"t":1770249600,"o":0.01,"h":0.01,"l":0.01,"c":0.01},'
        '{"t":1770253200,"o":-0.0137,"h":0,"l":-0.02,"c":0}]}]',
        1,
    )
    predicted = Reply(
        f"{base}/predicted-funding-rate-history?{q}",
        '[{"symbol":"BTCUSDT_PERP.A","history":[{"t":1770253200,"o":0.005,"h":0,"l":0,"c":0}]}]',
        2,
    )
    recs = coinalyze_records([funding, predicted], {})
    assert [(r.ts_event // 10**9, r.rate, r.predicted_rate) for r in recs] == [  # type: ignore[attr-defined]
        (1770249600, 0.0001, None),
        (1770253200, -0.000137, 0.00005),
    ]


def test_long_short_and_ohlcv_volumes_in_the_market_list_unit() -> None:
    """Bodies in the documented shapes (constructed: the export has neither)."""
    q = "symbols=BTCUSDT_PERP.A,BTCUSD_PERP.A&interval=1hour&from=1770249600&to=1770253199"
    base = "http://127.0.0.1:9/v1"
    markets = cz.decode_markets(
        f"{base}/future-markets",
        '[{"symbol":"BTCUSDT_PERP.A","exchange":"A","oi_lq_vol_denominated_in":"BASE_ASSET"},'
        '{"symbol":"BTCUSD_PERP.A","exchange":"A","oi_lq_vol_denominated_in":"QUOTE_ASSET"}]',
    )
    row = '{"t":1770249600,"o":70000,"h":70500,"l":69000,"c":69500,"v":1200.5,"bv":600,"tx":9000}'
    ohlcv = Reply(
        f"{base}/ohlcv-history?{q}",
        f'[{{"symbol":"BTCUSDT_PERP.A","history":[{row}]}},'
        f'{{"symbol":"BTCUSD_PERP.A","history":[{row}]}}]',
        1,
    )
    ratio = Reply(
        f"{base}/long-short-ratio-history?{q}",
        '[{"symbol":"BTCUSDT_PERP.A","history":[{"t":1770249600,"r":1.85,"l":64.9,"s":35.1}]}]',
        1,
    )
    bars = [r for r in coinalyze_records([ohlcv], markets) if isinstance(r, Bar)]
    assert [
        (b.symbol, b.volume_base, b.volume_quote, b.taker_buy_base, b.trade_count) for b in bars
    ] == [
        ("BTCUSDT-Binance", 1200.5, None, 600.0, 9000),
        ("BTCUSD-Binance", None, 1200.5, None, 9000),
    ]
    (lsr,) = coinalyze_records([ratio], markets)
    assert isinstance(lsr, LongShortRatio)
    assert (lsr.symbol, lsr.kind, lsr.ratio) == ("BTCUSDT-Binance", "global_accounts", 1.85)


def test_windows_limiter_and_config() -> None:
    assert windows(3600, 4 * 3600, 3600, 2) == [(3600, 3 * 3600 - 1), (3 * 3600, 4 * 3600 - 1)]
    assert windows(0, 3599, 3600, 10) == []  # no bucket has closed: nothing is asked
    now = [0.0]
    bucket = TokenBucket(40, clock=lambda: now[0])
    bucket.tokens = 0.0
    assert bucket.delay(20) == pytest.approx(30.0)  # 20 calls at 40/min: 30 s
    now[0] = 30.0
    assert bucket.delay(20) == 0.0
    bucket.hold(5.0)
    assert bucket.delay(1) == pytest.approx(5.0)
    with pytest.raises(ConfigError, match="unknown field"):
        vendor_config({"coinalyze": {"base_ulr": "http://127.0.0.1:9"}})
    # A venue's TOML may hold the vendor tables too: the connector config leaves them alone.
    assert load_config({"coinalyze": {"page_rows": 10}}).queue_size > 0
    with pytest.raises(ConfigError, match="symbols_per_call"):
        vendor_config({"coinalyze": {"symbols_per_call": 21}})
