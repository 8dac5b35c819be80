"""``flushwatch import`` of ``download coinalyze|coinglass`` recordings, through the real CLI.

Each vendor is downloaded from the loopback vendor (:mod:`flushwatch.testing.loopback_vendors`,
127.0.0.1, REAL hourly rows of the shared CoinGlass BTC regime export), then the recordings
folder is imported into a FRESH store: every row must equal the download's. The receive time
is the one exception: the recording keeps it as float seconds (about 0.2 µs resolution), so it
is compared to within a microsecond. Detection is by content (a renamed recording is still
recognised); a broken body is one line naming the file, the line and the field, and the store
is left unchanged.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.domain.records import Record
from flushwatch.domain.tables import DATASETS
from flushwatch.ingest.registry import detect
from flushwatch.store import Store
from flushwatch.testing.loopback_vendors import REGIME, Row, VendorLoopback, regime_rows, serve

KEY = "vendor-recordings-test-key"
START, END = "2026-02-05T00:00Z", "2026-02-06T00:00Z"  # 24 hours of the BTC long flush
runner = CliRunner()


@pytest.fixture(scope="module")
def rows(shared_data: Path) -> list[Row]:
    return regime_rows(shared_data / REGIME)


@pytest.fixture
def loop(rows: list[Row]) -> Iterator[VendorLoopback]:
    with serve(VendorLoopback(rows, key=KEY, max_rows=20, rate_calls=1000)) as lb:
        yield lb


def _config(tmp_path: Path, loop: VendorLoopback) -> Path:
    path = tmp_path / "vendors.toml"
    path.write_text(
        f'[coinalyze]\nbase_url = "{loop.base}/v1"\npage_rows = 10\n'
        "[coinalyze.backoff]\ninitial = 0.05\nmaximum = 0.2\ntimeout = 20\n"
        f'[coinglass]\nbase_url = "{loop.base}"\nplan = "standard"\npage_rows = 10\n'
        "[coinglass.backoff]\ninitial = 0.05\nmaximum = 0.2\ntimeout = 20\n",
        encoding="utf-8",
    )
    return path


def _download(tmp_path: Path, loop: VendorLoopback, vendor: str, *args: str) -> None:
    argv = ["download", vendor, "--start", START, "--end", END, "--json"]
    argv += ["--store", str(tmp_path / "store"), "--recordings", str(tmp_path / "rec")]
    result = runner.invoke(app, [*argv, "--config", str(_config(tmp_path, loop)), *args])
    assert result.exit_code == 0, result.output


def _tables(root: Path, vendor: str) -> dict[str, pl.DataFrame]:
    store = Store.open(root, create=False)
    out = {}
    for name in store.datasets():
        cls: type[Record] = DATASETS[name]
        df = store.read(cls, exchange=vendor)
        out[name] = df.sort(df.columns[:6])
    return out


def _import(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["import", *args])
    return result.exit_code, result.stdout, result.stderr


def _same(got: dict[str, pl.DataFrame], want: dict[str, pl.DataFrame]) -> None:
    assert got.keys() == want.keys()
    for name, df in want.items():
        assert got[name].drop("ts_recv").equals(df.drop("ts_recv")), name
        drift = (got[name]["ts_recv"] - df["ts_recv"]).abs().max()
        assert isinstance(drift, int), name
        assert drift < 1_000, name


def test_coinalyze_recordings_import_to_the_downloaded_rows(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINALYZE_API_KEY", KEY)
    data = "oi,funding,predicted-funding,liquidations,long-short,ohlcv"
    _download(tmp_path, loop, "coinalyze", "--symbols", "BTCUSDT_PERP.A", "--data", data)
    want = _tables(tmp_path / "store", "coinalyze")
    # the export has no predicted funding or ratios: those are served as no rows (not invented)
    assert {k: v.height for k, v in want.items()} == {
        "bars": 24,
        "funding": 24,
        "liquidation_buckets": 24,
        "open_interest": 24,
    }
    [rec] = sorted((tmp_path / "rec").glob("coinalyze_rest_*.jsonl"))
    renamed = rec.rename(tmp_path / "rec" / "downloaded.jsonl")  # found by content, not name
    assert detect(renamed).name == "coinalyze-recording"
    code, out, err = _import(str(tmp_path / "rec"), "--store", str(tmp_path / "fresh"), "--json")
    assert code == 0, out + err
    report = json.loads(out)
    assert report["failed"] == []
    assert report["rows_added"] == 4 * 24
    _same(_tables(tmp_path / "fresh", "coinalyze"), want)
    assert KEY not in renamed.read_text()
    # a second import adds nothing
    code, out, _ = _import(str(renamed), "--store", str(tmp_path / "fresh"), "--json")
    assert (code, json.loads(out)["rows_added"]) == (0, 0)


def test_coinglass_recordings_import_to_the_downloaded_rows(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    _download(tmp_path, loop, "coinglass", "--symbol", "BTC", "--interval", "1h")
    one = ["--symbol", "BTC", "--interval", "1h", "--exchange", "Binance", "--data", "oi,funding"]
    _download(tmp_path, loop, "coinglass", *one)
    want = _tables(tmp_path / "store", "coinglass")
    assert {k: v.height for k, v in want.items()} == {
        "funding": 48,  # OI-weighted (BTC) and Binance BTCUSDT
        "liquidation_buckets": 24,
        "open_interest": 24,
    }
    recs = sorted((tmp_path / "rec").glob("coinglass_rest_*.jsonl"))
    assert len(recs) == 2
    assert {detect(r).name for r in recs} == {"coinglass-recording"}
    code, out, err = _import(str(tmp_path / "rec"), "--store", str(tmp_path / "fresh"), "--json")
    assert code == 0, out + err
    _same(_tables(tmp_path / "fresh", "coinglass"), want)


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def test_a_broken_body_is_one_line_and_the_store_is_unchanged(
    tmp_path: Path, loop: VendorLoopback, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("COINGLASS_API_KEY", KEY)
    _download(tmp_path, loop, "coinglass", "--symbol", "BTC", "--interval", "1h")
    [rec] = sorted((tmp_path / "rec").glob("coinglass_rest_*.jsonl"))
    lines = rec.read_text().splitlines()
    doc = json.loads(lines[2])
    body = json.loads(doc["data"])
    body["data"][3]["time"] = "soon"  # the fourth row's time is not a number
    doc["data"] = json.dumps(body)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("\n".join([*lines[:2], json.dumps(doc), *lines[3:]]) + "\n")
    store = tmp_path / "store"
    before = _snapshot(store)
    code, _, err = _import(str(bad), "--store", str(store))
    assert code != 0
    [message] = err.strip().splitlines()
    assert f"{bad}, line 3, field '$.data[3].time'" in message
    assert _snapshot(store) == before

    torn = tmp_path / "torn.jsonl"  # a line that is not a recorded body at all
    torn.write_text(lines[0] + "\n" + '{"t": "http", "ts": 1.0, "url": 7, "data": ""}\n')
    code, _, err = _import(str(torn), "--store", str(store))
    assert code != 0
    assert f"{torn}, line 2, field 'url'" in err.strip()
    assert _snapshot(store) == before
