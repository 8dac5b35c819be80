"""`flushwatch update` through the real CLI: the loopback Vision archive for published files,
the loopback Binance REST exchange for the rest (both on 127.0.0.1, both serving real rows).

The store starts with BTCUSDT funding of May 2021 (the real event-window rows, fetched from
the loopback archive's monthly file). Updating "as of" 2021-12-03 must find that month
already imported, list June–October as not published (the loopback holds no such files), and
ask REST for November onwards, where Binance's monthly file is not out yet (first Monday of
December 2021 is the 6th): the real funding rows of 2021-12-01 and 12-02.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.testing.loopback import Faults, LoopbackExchange, shared_history
from flushwatch.testing.loopback_replay import Recording
from flushwatch.testing.loopback_rest_bybit_okx import MULTIVENUE, LoopbackRest, VenueRows
from flushwatch.testing.loopback_vision import (
    FUNDING_MAY_2021,
    LoopbackVision,
    real_vision_tree,
    serve_vision,
)
from flushwatch.testing.threaded import served_in_thread

runner = CliRunner()
NOW = "2021-12-03T00:00Z"
WINDOWS = "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file() and "downloads" not in f.parts
    }


@pytest.fixture
def rest(shared_data: Path) -> Iterator[LoopbackExchange]:
    history = shared_history(shared_data)
    empty = Recording(frames=[], snapshots={})

    def make() -> LoopbackExchange:
        return LoopbackExchange(empty, faults=Faults(retry_after=0.2), history=history)

    with served_in_thread(make) as ex:  # type: ignore[arg-type]
        yield ex


@pytest.fixture
def vision(tmp_path: Path, shared_data: Path) -> Iterator[LoopbackVision]:
    real_vision_tree(tmp_path / "archive", shared_data)
    with serve_vision(tmp_path / "archive") as server:
        yield server


def _config(tmp_path: Path, vision: LoopbackVision, rest: LoopbackExchange) -> Path:
    ws = rest.ws_base
    path = tmp_path / "venue.toml"
    path.write_text(
        f'[binance_vision]\nbase_url = "{vision.base_url}"\n'
        "backoff = { initial = 0.01, maximum = 0.05, timeout = 5 }\n"
        "[binanceusdm]\n"
        f'endpoints = {{ public_ws = "{ws}/public", market_ws = "{ws}/market", '
        f'rest = "{rest.http_base}" }}\n'
        "backoff = { initial = 0.01, maximum = 0.05, timeout = 30 }\n"
    )
    return path


def _seed(tmp_path: Path, config: Path) -> None:
    argv = ["download", "binance-vision", "--venue", "binanceusdm", "--data", "fundingRate"]
    argv += ["--symbols", "BTCUSDT", "--start", "2021-05-01", "--end", "2021-05-31"]
    result = runner.invoke(
        app, [*argv, "--store", str(tmp_path / "store"), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output


def _update(tmp_path: Path, config: Path, *args: str) -> dict[str, object]:
    argv = ["update", "--store", str(tmp_path / "store"), "--config", str(config)]
    result = runner.invoke(app, [*argv, "--now", NOW, "--json", *args])
    assert result.exit_code == 0, result.output
    doc = json.loads(result.stdout)
    assert isinstance(doc, dict)
    return doc


def _december_settlements(shared_data: Path) -> int:
    lo = datetime(2021, 12, 1, tzinfo=UTC).timestamp() * 1000
    hi = datetime(2021, 12, 3, tzinfo=UTC).timestamp() * 1000
    lines = (shared_data / WINDOWS).read_text(encoding="utf-8").splitlines()[1:]
    return sum(lo <= int(ln.split(",")[0]) < hi for ln in lines)


def test_dry_run_lists_and_fetches_nothing(
    tmp_path: Path, vision: LoopbackVision, rest: LoopbackExchange
) -> None:
    config = _config(tmp_path, vision, rest)
    _seed(tmp_path, config)
    sent, before = len(vision.requests), _snapshot(tmp_path / "store")
    doc = _update(tmp_path, config, "--dry-run")
    assert len(vision.requests) == sent
    assert rest.http_log == []
    assert _snapshot(tmp_path / "store") == before
    [target] = doc["targets"]  # type: ignore[misc]
    assert (target["venue"], target["dataset"], target["symbol"]) == (
        "binanceusdm",
        "fundingRate",
        "BTCUSDT",
    )
    planned = doc["planned"]
    assert isinstance(planned, list)
    # May (cached) to October; November's file is not out by 2021-12-03
    assert [p["path"].rsplit("-", 2)[-2:] for p in planned] == [
        ["2021", f"{m:02d}.zip"] for m in range(5, 11)
    ]
    assert [p["cached"] for p in planned] == [True] + [False] * 5
    assert planned[0]["path"] == FUNDING_MAY_2021
    [window] = doc["rest"]  # type: ignore[misc]
    assert window["datasets"] == ["funding"]
    assert window["start_ns"] == int(datetime(2021, 11, 1, tzinfo=UTC).timestamp()) * 10**9


def test_update_uses_archive_then_rest_and_is_idempotent(
    tmp_path: Path, vision: LoopbackVision, rest: LoopbackExchange, shared_data: Path
) -> None:
    config = _config(tmp_path, vision, rest)
    _seed(tmp_path, config)
    sent = len(vision.requests)
    doc = _update(tmp_path, config)
    [dl] = doc["downloads"]  # type: ignore[misc]
    assert (dl["cached"], dl["fetched"], dl["rows_added"]) == (1, 0, 0)
    assert len(dl["missing"]) == 5  # June..October: only sidecars asked for, all 404
    assert len(vision.requests) == sent + 5
    expected = _december_settlements(shared_data)
    assert expected == 6  # 2021-12-01 and 12-02 at 00, 08 and 16 UTC
    assert doc["rest_rows_added"] == {"funding": expected}
    assert doc["rows_added"] == expected
    assert rest.http_log
    assert all(p.startswith("/fapi/v1/fundingRate") for p in rest.http_log)
    assert any("2021-11, 2021-12 are not published yet" in n for n in doc["notes"])  # type: ignore[union-attr]
    again = _update(tmp_path, config)
    assert again["rows_added"] == 0


# -- Bybit: no archive here, REST from each series' last row --------------------------------

BYBIT_SEED_END = datetime(2026, 3, 3, tzinfo=UTC)
BYBIT_NOW = datetime(2026, 3, 5, tzinfo=UTC)


def _bybit_config(tmp_path: Path, ex: LoopbackRest) -> Path:
    ws = ex.ws_base
    path = tmp_path / "bybit.toml"
    path.write_text(
        "[bybit]\n"
        f'endpoints = {{ public_ws = "{ws}", market_ws = "{ws}", rest = "{ex.http_base}" }}\n'
        "backoff = { initial = 0.01, maximum = 0.05, timeout = 30 }\n"
        "[bybit.backfill]\npage_limit = 50\n"
    )
    return path


def _multivenue_rows(shared_data: Path, name: str, lo: datetime, hi: datetime) -> int:
    df = pl.read_parquet(shared_data / MULTIVENUE / name)
    df = df.filter(pl.col("venue") == "bybit", pl.col("coin") == "BTC")
    return df.filter(pl.col("timestamp") >= lo, pl.col("timestamp") < hi).height


def test_update_bybit_over_rest_from_each_last_row(tmp_path: Path, shared_data: Path) -> None:
    rows = VenueRows(shared_data, "bybit")
    with served_in_thread(lambda: LoopbackRest(rows, None)) as ex:  # type: ignore[arg-type]
        config = _bybit_config(tmp_path, ex)
        seed = ["backfill", "--venue", "bybit", "--data", "klines,funding", "--symbols", "BTCUSDT"]
        seed += ["--end", "2026-03-03T00:00Z", "--hours", "24", "--interval", "1h"]
        seed += ["--store", str(tmp_path / "store"), "--recordings", str(tmp_path / "rec")]
        result = runner.invoke(app, [*seed, "--config", str(config)])
        assert result.exit_code == 0, result.output
        argv = ["update", "--store", str(tmp_path / "store"), "--config", str(config)]
        argv += ["--now", "2026-03-05T00:00Z", "--json"]
        result = runner.invoke(app, argv)
        assert result.exit_code == 0, result.output
        doc = json.loads(result.stdout)
        again = json.loads(runner.invoke(app, argv).stdout)
    assert [(t["venue"], t["dataset"], t["via"]) for t in doc["targets"]] == [
        ("bybit", "funding", "rest"),
        ("bybit", "klines", "rest"),
    ]
    [window] = doc["rest"]
    assert (window["symbols"], window["datasets"], window["interval"]) == (
        ["BTCUSDT"],
        ["funding", "klines"],
        "1h",
    )
    assert doc["downloads"] == []  # no archive request for Bybit
    bars = _multivenue_rows(shared_data, "candles.parquet", BYBIT_SEED_END, BYBIT_NOW)
    funding = _multivenue_rows(shared_data, "funding_rates.parquet", BYBIT_SEED_END, BYBIT_NOW)
    assert (bars, funding) == (48, 6)  # every hour and every 8 h settlement of 03-03 and 03-04
    assert doc["rest_rows_added"] == {"bars": bars, "funding": funding}
    assert again["rows_added"] == 0


def test_update_coin_m_series_from_the_archive_only(
    tmp_path: Path, vision: LoopbackVision, rest: LoopbackExchange
) -> None:
    config = _config(tmp_path, vision, rest)
    argv = ["download", "binance-vision", "--venue", "binancecoinm", "--symbols", "BTCUSD_PERP"]
    argv += [
        "--data",
        "metrics,liquidationSnapshot",
        "--start",
        "2023-06-25",
        "--end",
        "2023-06-25",
    ]
    result = runner.invoke(
        app, [*argv, "--store", str(tmp_path / "store"), "--config", str(config)]
    )
    assert result.exit_code == 0, result.output
    sent = len(vision.requests)
    argv = ["update", "--store", str(tmp_path / "store"), "--config", str(config), "--no-rest"]
    result = runner.invoke(app, [*argv, "--now", "2023-06-27T06:00Z"])
    assert result.exit_code == 0, result.output
    # metrics (from OI and ratios) and liquidations: the 25th is in the cache and the ledger,
    # the 26th is not in this archive; --no-rest: the COIN-M REST window (metrics → open
    # interest and ratios) is skipped (tests/live/test_backfill_coinm.py runs it)
    assert len(vision.requests) == sent + 2
    assert rest.http_log == []
    assert "archive: 0 files fetched, 2 not published yet" in result.stdout
    assert "0 rows added" in result.stdout
    assert "come with a later update" in result.stdout
