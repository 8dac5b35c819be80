"""``flushwatch backfill`` through the real CLI against the loopback exchange on 127.0.0.1.

The loopback (its own thread: the command runs ``asyncio.run`` itself) serves klines and
funding from the REAL freqtrade XRPUSDT files and the REAL BTCUSDT funding windows, and open
interest from the REAL Binance Vision HYPEUSDT metrics excerpt, honouring
``startTime``/``endTime``/``limit``. The store must hold exactly what a direct import of the
same files holds over the window, on every field both sources give.
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
from flushwatch.domain.records import Bar, Funding, OpenInterest, Record
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.loopback import Faults, History, LoopbackExchange, shared_history
from flushwatch.testing.loopback_replay import Recording
from flushwatch.testing.threaded import served_in_thread
from flushwatch.venues.binance import rest
from flushwatch.venues.binance.symbols import infer_terms

FT = "freqtrade-binance-xrpusdt-perp-2021-11-12"
BTC_FUNDING = "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"
METRICS = "binance-vision-format-examples/HYPEUSDT-metrics-2025-05-30-excerpt.csv"
NS_MS = 1_000_000
#: Fields both the REST body and the source file give (freqtrade has no quote volume, trade
#: count or taker volume; no source has the funding interval in the REST body's terms).
BAR_COLS = ["ts_event", "exchange", "market", "symbol", "price_kind", "interval_s"]
BAR_COLS += ["open", "high", "low", "close", "volume_base"]
FUNDING_COLS = [
    "ts_event",
    "exchange",
    "market",
    "symbol",
    "rate",
    "is_settled",
    "mark_price",
    "interval_hours",
]
OI_COLS = ["ts_event", "exchange", "market", "symbol", "oi_base", "oi_quote"]


@pytest.fixture(scope="module")
def history(shared_data: Path) -> History:
    return shared_history(shared_data)


@pytest.fixture
def loopback(history: History, request: pytest.FixtureRequest) -> Iterator[LoopbackExchange]:
    limited = getattr(request, "param", 0)
    empty = Recording(frames=[], snapshots={})

    def make() -> LoopbackExchange:
        faults = Faults(retry_after=0.2)
        return LoopbackExchange(empty, faults=faults, history=history, limit_history=limited)

    with served_in_thread(make) as ex:  # type: ignore[arg-type]
        yield ex


def _config(tmp_path: Path, ex: LoopbackExchange, backfill: str = "") -> Path:
    ws = ex.ws_base
    path = tmp_path / "venue.toml"
    path.write_text(
        "[binanceusdm]\n"
        f'endpoints = {{ public_ws = "{ws}/public", market_ws = "{ws}/market", '
        f'rest = "{ex.http_base}" }}\n'
        "backoff = { initial = 0.01, maximum = 0.05, timeout = 30 }\n"
        f"[binanceusdm.backfill]\n{backfill}\n"
    )
    return path


def _backfill(tmp_path: Path, config: Path, *args: str) -> tuple[int, str, dict[str, Any]]:
    argv = ["backfill", "--venue", "binanceusdm", "--json", "--config", str(config)]
    argv += ["--store", str(tmp_path / "store"), "--recordings", str(tmp_path / "rec"), *args]
    result = CliRunner().invoke(app, argv)
    last = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else "{}"
    return result.exit_code, result.output, json.loads(last) if result.exit_code == 0 else {}


def _rows(store: Store, cls: type[Record], cols: list[str], lo: int, hi: int) -> pl.DataFrame:
    df = store.read(cls, exchange="binanceusdm")
    df = df.filter((pl.col("ts_event") >= lo * NS_MS) & (pl.col("ts_event") < hi * NS_MS))
    return df.select(cols).sort(cols)


def test_backfill_equals_a_direct_import_and_is_idempotent(
    loopback: LoopbackExchange, shared_data: Path, tmp_path: Path
) -> None:
    """XRPUSDT 5m bars + funding, BTCUSDT funding over 23 days: paged, stored, idempotent."""
    config = _config(tmp_path, loopback, "funding_limit = 25\n")
    args = ["--symbols", "XRPUSDT,BTCUSDT", "--interval", "5m"]
    args += ["--end", "2021-12-08T00:00Z", "--hours", str(23 * 24)]
    code, out, stats = _backfill(tmp_path, config, *args)
    assert code == 0, out
    lo, hi = 1636934400000, 1638921600000  # 2021-11-15T00:00Z, 2021-12-08T00:00Z
    assert (stats["start"], stats["end"]) == ("2021-11-15T00:00:00Z", "2021-12-08T00:00:00Z")
    # every 5m bar of the file (1999) fits; XRP funding 11-18 00:00 → 12-07 16:00 (60 rows);
    # BTCUSDT funding 12-01 00:00 → 12-07 00:00 (19 rows). No open interest so far back.
    assert stats["rows"] == {"bars": 1999, "funding": 79}
    assert stats["rows_added"] == {"bars": 1999, "funding": 79}
    assert (stats["first"]["bars"], stats["last"]["bars"]) == (
        "2021-11-15T00:00:00Z",
        "2021-11-21T22:30:00Z",
    )
    # Pages: XRP klines 1000 + 999 (short: done); XRP funding 25 + 25 + 10; BTC klines and
    # funding one page each; open interest 552 h = 6624 periods in windows of 500: 14 each.
    assert stats["requests"] == (2 + 3 + 14) + (1 + 1 + 14) == len(loopback.http_log)
    klines = [t for t in loopback.http_log if t.startswith("/fapi/v1/klines")]
    assert klines[:2] == [
        "/fapi/v1/klines?symbol=XRPUSDT&interval=5m&startTime=1636934400000"
        "&endTime=1638921599999&limit=1000",
        "/fapi/v1/klines?symbol=XRPUSDT&interval=5m&startTime=1637234400000"
        "&endTime=1638921599999&limit=1000",
    ]  # the second page starts one interval after the 1000th bar
    assert stats["rate_limited"] == 0

    live = Store.open(tmp_path / "store", create=False)
    clean = Store.open(tmp_path / "clean")
    files = [shared_data / FT / "XRP_USDT_USDT-5m-futures.csv"]
    files += [shared_data / FT / "XRP_USDT_USDT-8h-funding_rate.csv", shared_data / BTC_FUNDING]
    clean.write([parse(f) for f in files])
    got_bars = _rows(live, Bar, BAR_COLS, lo, hi)
    assert got_bars.height == 1999
    assert got_bars.equals(_rows(clean, Bar, BAR_COLS, lo, hi))
    got_funding = _rows(live, Funding, FUNDING_COLS, lo, hi)
    assert got_funding.height == 79
    assert got_funding.equals(_rows(clean, Funding, FUNDING_COLS, lo, hi))
    flush = got_funding.filter(pl.col("ts_event") == 1638604800004 * NS_MS)  # 2021-12-04 08:00
    assert flush.filter(pl.col("symbol") == "XRPUSDT")["rate"].to_list() == [
        pytest.approx(-0.00219334)
    ]  # the month's only negative XRP print (PROVENANCE.md)
    # the body does not state the interval: it is the spacing between settlements (8 h here)
    funding = live.read(Funding, exchange="binanceusdm")
    assert set(funding["interval_hours"].to_list()) == {8.0}

    # A second backfill of the same window adds nothing.
    code, out, again = _backfill(tmp_path, config, *args)
    assert code == 0, out
    assert again["rows_added"] == {"bars": 0, "funding": 0}
    assert again["rows"] == stats["rows"]

    # The REST recordings re-import through `flushwatch import`, adding nothing either.
    recs = sorted((tmp_path / "rec").glob("binanceusdm_rest_*.jsonl.gz"))
    assert len(recs) == 2
    result = CliRunner().invoke(
        app, ["import", str(tmp_path / "rec"), "--store", str(tmp_path / "store"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["failed"] == []
    assert len(report["imported"]) == 2  # both recordings decoded again...
    assert sum(sum(i["rows_read"].values()) for i in report["imported"]) == 2 * (1999 + 79)
    assert report["rows_added"] == 0  # ...and they add nothing
    assert _rows(live, Bar, BAR_COLS, 0, 2**50).height == 1999
    assert _rows(live, Funding, FUNDING_COLS, 0, 2**50).height == 79


@pytest.mark.parametrize("loopback", [2], indirect=True)
def test_open_interest_history_survives_429_and_pages(
    loopback: LoopbackExchange, shared_data: Path, tmp_path: Path
) -> None:
    """HYPEUSDT 5m open interest in windows of 12 periods, after two 429s with Retry-After."""
    config = _config(tmp_path, loopback, "oi_limit = 12\n")
    args = ["--symbols", "HYPEUSDT", "--end", "2025-05-30T13:00Z", "--hours", "3"]
    code, out, stats = _backfill(tmp_path, config, *args)
    assert code == 0, out
    assert stats["rate_limited"] == 2
    # klines (1, empty) and funding (1, empty); open interest 36 periods / 12 = 3 windows
    assert stats["requests"] == 2 + 1 + 1 + 3
    oi_asked = [t for t in loopback.http_log if t.startswith("/futures/data/")]
    assert oi_asked == [
        f"/futures/data/openInterestHist?symbol=HYPEUSDT&period=5m&startTime={s}"
        f"&endTime={s + 3_600_000 - 1}&limit=12"
        for s in (1748599200000, 1748602800000, 1748606400000)
    ]
    assert stats["rows"] == {"open_interest": 30}
    live = Store.open(tmp_path / "store", create=False)
    clean = Store.open(tmp_path / "clean")
    clean.write([parse(shared_data / METRICS)])
    lo, hi = 1748599200000, 1748610000000
    got = _rows(live, OpenInterest, OI_COLS, lo, hi)
    assert got.height == 30
    assert got.equals(_rows(clean, OpenInterest, OI_COLS, lo, hi))
    assert got.row(0)[4:] == (14088.01, 473864.30436)


def test_unknown_symbol_is_one_line_exit_2(loopback: LoopbackExchange, tmp_path: Path) -> None:
    """The venue's -1121 comes back as one line on stderr, exit code 2, nothing stored."""
    config = _config(tmp_path, loopback)
    code, out, _ = _backfill(tmp_path, config, "--symbols", "NOSUCHUSDT", "--hours", "1")
    assert code == 2
    lines = out.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert '"code":-1121' in lines[0]
    assert "/fapi/v1/klines?symbol=NOSUCHUSDT" in lines[0]
    assert not (tmp_path / "store").exists() or not list((tmp_path / "store").rglob("*.parquet"))


def test_klines_drop_the_bar_still_open() -> None:
    """A CONSTRUCTED two-bar body fetched inside the second bar: only the first is kept."""
    url = "http://127.0.0.1:1/fapi/v1/klines?symbol=XRPUSDT&interval=1m"
    row = '[{t},"1.0","1.2","0.9","1.1","10",{c},"11",3,"4","4.4","0"]'
    body = "[" + ",".join(row.format(t=t, c=t + 59_999) for t in (0, 60_000)) + "]"
    terms = lambda s: infer_terms("binanceusdm", s)  # noqa: E731
    at_second = 90_000 * NS_MS
    bars = rest.klines("binanceusdm", url, body, at_second, terms)
    assert [(b.ts_event, b.volume_quote, b.trade_count) for b in bars] == [(0, 11.0, 3)]
    assert len(rest.klines("binanceusdm", url, body, 120_000 * NS_MS, terms)) == 2
