"""`flushwatch download binance-vision` end to end against a loopback archive on 127.0.0.1.

The archive is built in ``tmp_path`` from real rows (the Vision excerpts and the BTCUSDT
funding windows in ``shared/data``, see :mod:`flushwatch.testing.loopback_vision`), zipped
and check-summed the way data.binance.vision does. Expected row counts are read from the
CSV files with plain Python, never through the importer.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flushwatch.api.vision_plan import monthly_published, plan
from flushwatch.cli.app import app
from flushwatch.errors import ConfigError
from flushwatch.testing.loopback_vision import (
    EXAMPLES,
    FUNDING_MAY_2021,
    LoopbackVision,
    funding_rows,
    real_vision_tree,
    serve_vision,
    write_vision_file,
)

runner = CliRunner()
CM_METRICS = EXAMPLES["cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv"]
CM_LIQ = EXAMPLES["cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv"]
EXCERPTS = "binance-vision-format-examples"


def _data_lines(path: Path) -> list[str]:
    return [ln for ln in path.read_text(encoding="utf-8").splitlines()[1:] if ln.strip()]


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


@pytest.fixture
def tree(tmp_path: Path, shared_data: Path) -> Path:
    root = tmp_path / "archive"
    real_vision_tree(root, shared_data)
    return root


def _download(
    server: LoopbackVision, tmp_path: Path, *args: str, cache: bool = True
) -> tuple[int, str, str]:
    cfg = tmp_path / "venue.toml"
    cfg.write_text(
        f'[binance_vision]\nbase_url = "{server.base_url}"\n'
        "backoff = { initial = 0.01, maximum = 0.05, timeout = 5 }\n"
    )
    extra = ["--cache", str(tmp_path / "cache")] if cache else []
    result = runner.invoke(
        app,
        [
            "download",
            "binance-vision",
            "--store",
            str(tmp_path / "store"),
            "--config",
            str(cfg),
            *extra,
            *args,
        ],
    )
    return result.exit_code, result.stdout, result.stderr


CM_DAY = (
    "--venue",
    "binancecoinm",
    "--data",
    "metrics,liquidationSnapshot",
    "--symbols",
    "BTCUSD_PERP",
    "--start",
    "2023-06-25",
    "--end",
    "2023-06-25",
)


def test_fetch_verify_import_with_exact_rows(tree: Path, tmp_path: Path, shared_data: Path) -> None:
    metrics = _data_lines(shared_data / EXCERPTS / "cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv")
    liq = _data_lines(
        shared_data / EXCERPTS / "cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv"
    )
    # each metrics row has open interest and one ratio (the taker ratio; the others are "")
    assert [ln.count('""') for ln in metrics] == [3, 3, 3]
    with serve_vision(tree) as server:
        code, out, err = _download(server, tmp_path, *CM_DAY, "--json", cache=False)
    assert code == 0, err
    doc = json.loads(out)
    assert doc["planned"] == 2
    assert doc["fetched"] == doc["imported"] == 2
    assert doc["missing"] == doc["failed"] == []
    by_path = {f["path"]: f for f in doc["files"]}
    assert by_path[CM_METRICS]["rows_added"] == {
        "open_interest": len(metrics),
        "long_short_ratio": len(metrics),
    }
    # the first liquidation row is repeated verbatim in the file (PROVENANCE.md): stored once
    assert by_path[CM_LIQ]["rows_read"] == {"liquidations": len(liq)}
    assert by_path[CM_LIQ]["rows_added"] == {"liquidations": len(set(liq))} == {"liquidations": 2}
    assert doc["rows_added"] == 2 * len(metrics) + 2
    # each zip and its sidecar were asked for once; the default cache sits under the store
    assert sorted(server.requests) == sorted(
        f"/{p}{s}" for p in (CM_METRICS, CM_LIQ) for s in ("", ".CHECKSUM")
    )
    cached = tmp_path / "store" / "downloads" / "vision" / CM_METRICS
    assert cached.read_bytes() == (tree / CM_METRICS).read_bytes()


def test_rerun_fetches_and_imports_nothing(tree: Path, tmp_path: Path) -> None:
    with serve_vision(tree) as server:
        assert _download(server, tmp_path, *CM_DAY)[0] == 0
        first = len(server.requests)
        store_before = _snapshot(tmp_path / "store")
        code, out, _ = _download(server, tmp_path, *CM_DAY, "--json")
        assert len(server.requests) == first == 4  # the rerun sent no request
    doc = json.loads(out)
    assert code == 0
    assert (doc["fetched"], doc["cached"], doc["imported"], doc["rows_added"]) == (0, 2, 0, 0)
    assert {f["status"] for f in doc["files"]} == {"already imported"}
    assert _snapshot(tmp_path / "store") == store_before


def test_missing_file_is_listed_not_fatal(tree: Path, tmp_path: Path) -> None:
    args = list(CM_DAY)
    args[args.index("--end") + 1] = "2023-06-26"  # nothing published for the 26th here
    with serve_vision(tree) as server:
        code, out, err = _download(server, tmp_path, *args)
    assert code == 0, err
    assert "4 files planned" in out
    assert "2 imported, 2 not published, 0 failed" in out
    assert (
        "not published (HTTP 404): data/futures/cm/daily/metrics/BTCUSD_PERP/"
        "BTCUSD_PERP-metrics-2023-06-26.zip" in out
    )


@pytest.mark.parametrize("fault", ["wrong checksum", "corrupt zip"])
def test_bad_file_is_one_line_error_and_store_unchanged(
    fault: str, tmp_path: Path, shared_data: Path
) -> None:
    root = tmp_path / "archive"
    examples = shared_data / EXCERPTS
    csv = (examples / "cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv").read_bytes()
    if fault == "wrong checksum":
        write_vision_file(root, CM_METRICS, csv, checksum="0" * 64)
    else:  # the sidecar matches, the archive is cut in half
        write_vision_file(root, CM_METRICS, csv, corrupt=True)
    liq_csv = examples / "cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv"
    write_vision_file(root, CM_LIQ, liq_csv.read_bytes())
    cm = ("--venue", "binancecoinm", "--symbols", "BTCUSD_PERP")
    days = ("--start", "2023-06-25", "--end", "2023-06-25")
    store = tmp_path / "store"
    with serve_vision(root) as server:
        # a store holding other data already: the bad file must not change a byte of it
        code, _, err = _download(server, tmp_path, *cm, "--data", "liquidationSnapshot", *days)
        assert code == 0, err
        before = _snapshot(store)
        code, _, err = _download(server, tmp_path, *cm, "--data", "metrics", *days)
    assert code == 1
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert "BTCUSD_PERP-metrics-2023-06-25.zip" in lines[0]
    assert ("SHA-256" if fault == "wrong checksum" else "corrupt") in lines[0]
    assert _snapshot(store) == before
    cached = tmp_path / "cache" / CM_METRICS
    assert not cached.exists()  # deleted: a rerun fetches it again
    assert not cached.with_name(cached.name + ".part").exists()


def test_partial_download_is_restarted(tree: Path, tmp_path: Path) -> None:
    part = tmp_path / "cache" / (CM_METRICS + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"PK\x03\x04 half of a zip from a killed run")
    with serve_vision(tree) as server:
        code, out, err = _download(server, tmp_path, *CM_DAY, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["imported"] == 2
    assert not part.exists()
    assert (tmp_path / "cache" / CM_METRICS).read_bytes() == (tree / CM_METRICS).read_bytes()


def test_changed_cached_zip_is_fetched_again(tree: Path, tmp_path: Path) -> None:
    with serve_vision(tree) as server:
        assert _download(server, tmp_path, *CM_DAY)[0] == 0
        cached = tmp_path / "cache" / CM_METRICS
        cached.write_bytes(cached.read_bytes()[:-5])  # bit rot or an edit: no longer verifies
        n = len(server.requests)
        code, out, _ = _download(server, tmp_path, *CM_DAY, "--json")
        assert code == 0
        assert server.requests[n:] == [f"/{CM_METRICS}.CHECKSUM", f"/{CM_METRICS}"]
    doc = json.loads(out)
    assert (doc["fetched"], doc["cached"], doc["rows_added"]) == (1, 1, 0)


def test_monthly_funding_and_concurrency_bound(
    tree: Path, tmp_path: Path, shared_data: Path
) -> None:
    rows = funding_rows(shared_data, "2021-05").decode().splitlines()[1:]
    # the event-window file holds 2021-05-15 → 2021-05-25: 30 settlements every 8 h, + the last
    assert len(rows) == 31
    args = ("--venue", "binanceusdm", "--data", "fundingRate,metrics", "--symbols", "BTCUSDT")
    days = ("--start", "2021-05-01", "--end", "2021-05-31", "--concurrency", "3", "--json")
    with serve_vision(tree, delay=0.02) as server:
        code, out, err = _download(server, tmp_path, *args, *days)
        peak = server.max_in_flight
    assert code == 0, err
    doc = json.loads(out)
    assert doc["planned"] == 1 + 31  # one monthly fundingRate file, 31 daily metrics files
    funding = next(f for f in doc["files"] if f["path"] == FUNDING_MAY_2021)
    assert funding["rows_added"] == {"funding": len(rows)}
    assert len(doc["missing"]) == 31
    assert 2 <= peak <= 3  # concurrent, and never more than --concurrency


def test_monthly_file_not_out_falls_back_to_daily_files(
    tree: Path, tmp_path: Path, shared_data: Path
) -> None:
    bars = _data_lines(shared_data / EXCERPTS / "cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv")
    args = ("--venue", "binancecoinm", "--data", "klines", "--symbols", "BTCUSD_PERP")
    with serve_vision(tree) as server:
        code, out, err = _download(
            server, tmp_path, *args, "--start", "2023-10-01", "--end", "2023-10-31", "--json"
        )
        sent = server.requests
    assert code == 0, err
    doc = json.loads(out)
    monthly = "data/futures/cm/monthly/klines/BTCUSD_PERP/1h/BTCUSD_PERP-1h-2023-10.zip"
    assert sent[0] == f"/{monthly}.CHECKSUM"
    assert len(sent) == 1 + 31 + 1  # the month's sidecar, every day's sidecar, the one zip
    assert doc["planned"] == 1 + 31
    assert doc["files"][0]["notes"] == ["not published: its 31 daily files were asked for instead"]
    assert doc["imported"] == 1
    assert doc["rows_added"] == len(bars) == 3
    assert len(doc["missing"]) == 1 + 30


def test_transient_errors_are_retried(tree: Path, tmp_path: Path) -> None:
    with serve_vision(tree, faults=[503, 503]) as server:
        code, out, err = _download(server, tmp_path, *CM_DAY, "--json")
    assert code == 0, err
    doc = json.loads(out)
    assert doc["imported"] == 2
    assert doc["requests"] == len(server.requests) == 4 + 2


def test_refusal_stops_the_run_with_one_line(tree: Path, tmp_path: Path) -> None:
    with serve_vision(tree, faults=[403] * 10) as server:
        code, _, err = _download(server, tmp_path, *CM_DAY)
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1
    assert "HTTP 403" in lines[0]
    assert "[binance_vision] base_url" in lines[0]
    assert not (tmp_path / "store" / "funding").exists()
    assert not any((tmp_path / "store").glob("*/**/*.parquet"))


def test_vision_config_table() -> None:
    from flushwatch.connectors.config import load_config, load_vision_config

    raw = {"binance_vision": {"base_url": "http://127.0.0.1:1"}, "open_timeout": 3.0}
    assert load_config(raw).open_timeout == 3.0  # the reserved table is not a connector key
    assert load_vision_config(raw).base_url == "http://127.0.0.1:1"
    with pytest.raises(ConfigError, match="bogus"):
        load_vision_config({"binance_vision": {"bogus": 1}})
    with pytest.raises(ConfigError, match="http"):
        load_vision_config({"binance_vision": {"base_url": "data.binance.vision"}})


def test_bad_options_are_one_line_errors(tmp_path: Path) -> None:
    base = ["download", "binance-vision", "--store", str(tmp_path / "s"), "--symbols", "BTCUSDT"]
    cases = {
        ("--venue", "binance", "--data", "fundingRate"): "binancecoinm, binanceusdm only",
        ("--venue", "binanceusdm", "--data", "klinez"): "choose from",
        ("--venue", "kraken", "--data", "klines"): "--venue 'kraken'",
    }
    for opts, message in cases.items():
        result = runner.invoke(app, [*base, *opts, "--start", "2024-01-01"])
        assert result.exit_code == 2
        assert message in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1
    twice = runner.invoke(app, [*base, "--venue", "binance", "--venue", "binanceusdm"])
    assert twice.exit_code == 2


# -- planning (pure) ---------------------------------------------------------------------


def _paths(p: object) -> list[str]:
    return [f.path.rsplit("/", 1)[1] for f in p.files]  # type: ignore[attr-defined]


def test_plan_whole_published_months_monthly_rest_daily() -> None:
    p = plan(
        "binanceusdm",
        ["klines"],
        ["BTCUSDT"],
        date(2024, 1, 30),
        date(2024, 3, 2),
        today=date(2024, 3, 10),
        interval="1h",
    )
    assert _paths(p) == [
        "BTCUSDT-1h-2024-01-30.zip",
        "BTCUSDT-1h-2024-01-31.zip",
        "BTCUSDT-1h-2024-02.zip",
        "BTCUSDT-1h-2024-03-01.zip",
        "BTCUSDT-1h-2024-03-02.zip",
    ]
    assert p.files[2].path == "data/futures/um/monthly/klines/BTCUSDT/1h/BTCUSDT-1h-2024-02.zip"
    assert (p.files[2].first, p.files[2].last) == (date(2024, 2, 1), date(2024, 2, 29))
    assert p.notes == []


def test_plan_unpublished_month_and_days_use_daily_files() -> None:
    # February 2024's monthly file is out on the first Monday of March (the 4th)
    assert not monthly_published(date(2024, 2, 1), date(2024, 3, 3))
    p = plan(
        "binance",
        ["klines"],
        ["ETHUSDT"],
        date(2024, 2, 1),
        date(2024, 3, 5),
        today=date(2024, 3, 3),
    )
    names = _paths(p)
    assert len(names) == 29 + 2  # every day of February, then March 1-2 (3rd not out yet)
    assert names[0] == "ETHUSDT-1h-2024-02-01.zip"
    assert names[-1] == "ETHUSDT-1h-2024-03-02.zip"
    assert p.files[0].path.startswith("data/spot/daily/klines/ETHUSDT/1h/")
    assert any("2024-03-03 on are not published yet" in n for n in p.notes)


def test_plan_daily_only_and_monthly_only_datasets() -> None:
    p = plan(
        "binancecoinm",
        ["metrics", "fundingRate", "liquidationSnapshot"],
        ["BTCUSD_PERP"],
        date(2024, 1, 1),
        date(2024, 2, 10),
        today=date(2024, 2, 20),
    )
    by_ds: dict[str, list[str]] = {}
    for f in p.files:
        by_ds.setdefault(f.dataset, []).append(f.label)
    assert len(by_ds["metrics"]) == len(by_ds["liquidationSnapshot"]) == 31 + 10
    # fundingRate is monthly only: January, and no February yet (published in March)
    assert by_ds["fundingRate"] == ["2024-01"]
    assert any("fundingRate monthly files of 2024-02 are not published" in n for n in p.notes)
    assert p.files[41].path == (
        "data/futures/cm/monthly/fundingRate/BTCUSD_PERP/BTCUSD_PERP-fundingRate-2024-01.zip"
    )


def test_plan_forced_period() -> None:
    kw = {"today": date(2024, 6, 1), "interval": "4h"}
    daily = plan(
        "binanceusdm",
        ["markPriceKlines"],
        ["BTCUSDT"],
        date(2024, 1, 1),
        date(2024, 1, 31),
        period="daily",
        **kw,
    )  # type: ignore[arg-type]
    assert len(daily.files) == 31
    assert daily.files[0].path == (
        "data/futures/um/daily/markPriceKlines/BTCUSDT/4h/BTCUSDT-4h-2024-01-01.zip"
    )
    monthly = plan(
        "binanceusdm",
        ["klines", "metrics"],
        ["BTCUSDT"],
        date(2024, 1, 10),
        date(2024, 2, 5),
        period="monthly",
        **kw,
    )  # type: ignore[arg-type]
    assert [f.label for f in monthly.files if f.dataset == "klines"] == ["2024-01", "2024-02"]
    assert len([f for f in monthly.files if f.dataset == "metrics"]) == 22 + 5
    assert "metrics: published daily only; daily files are used" in monthly.notes


def test_plan_refuses_what_vision_does_not_publish() -> None:
    day = date(2024, 1, 1)
    with pytest.raises(ConfigError, match="COIN-M bookDepth"):
        plan("binancecoinm", ["bookDepth"], ["BTCUSD_PERP"], day, day, today=date(2024, 2, 1))
    with pytest.raises(ConfigError, match="1s exists for spot"):
        plan("binanceusdm", ["klines"], ["BTCUSDT"], day, day, today=day, interval="1s")
    with pytest.raises(ConfigError, match="1mo bars"):
        plan("binanceusdm", ["klines"], ["BTCUSDT"], day, day, today=day, interval="1mo")
    with pytest.raises(ConfigError, match="before --start"):
        plan("binanceusdm", ["klines"], ["BTCUSDT"], day, date(2023, 1, 1), today=day)


def test_overlapping_runs_on_one_cache_fetch_each_file_once(tree: Path, tmp_path: Path) -> None:
    """Two runs at once (an overlapping cron job) on one cache: the second waits, then reuses."""
    import threading

    from flushwatch.api.download_vision import DownloadResult, download_vision
    from flushwatch.connectors.config import VisionConfig

    results: list[DownloadResult] = []
    with serve_vision(tree, delay=0.05) as server:
        cfg = VisionConfig(base_url=server.base_url)

        def one(name: str) -> None:
            results.append(
                download_vision(
                    tmp_path / name,
                    venue="binancecoinm",
                    datasets=["metrics", "liquidationSnapshot"],
                    symbols=["BTCUSD_PERP"],
                    start=date(2023, 6, 25),
                    end=date(2023, 6, 25),
                    today=date(2024, 1, 1),
                    cache=tmp_path / "cache",
                    config=cfg,
                )
            )

        threads = [threading.Thread(target=one, args=(n,)) for n in ("store-a", "store-b")]
        for t in threads:
            t.start()
        for t in threads:
            t.join(30)
        zips = [r for r in server.requests if r.endswith(".zip")]
    assert sorted(zips) == sorted(f"/{p}" for p in (CM_METRICS, CM_LIQ))
    assert sorted((r.fetched, r.cached, r.imported) for r in results) == [(0, 2, 2), (2, 0, 2)]
