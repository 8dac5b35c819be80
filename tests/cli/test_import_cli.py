"""`flushwatch import` end to end on the real shared data, through the real CLI."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app

runner = CliRunner()


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def _import(store: Path, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["import", "--store", str(store), "--json", *args])
    return result.exit_code, result.stdout, result.stderr


#: The 40-perp freqtrade universe (134 files, 62 MB) takes six minutes to import on two
#: cores; the suite imports one of its files and every other folder whole. Importing the
#: whole shared folder is the README's `import ../shared/data` line and `bench/`'s job.
UNIVERSE = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
UNIVERSE_SAMPLE = ("futures/ADA_USDT_USDT-1h-funding_rate.feather", "spot/TRX_USDT-1h.feather")


def _inputs(shared_data: Path) -> list[str]:
    folders = sorted(d for d in shared_data.iterdir() if d.is_dir() and d.name != UNIVERSE)
    return [str(d) for d in folders] + [str(shared_data / UNIVERSE / f) for f in UNIVERSE_SAMPLE]


@pytest.fixture(scope="module")
def full_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """Import every shared folder (and a sample of the universe) once."""
    store = tmp_path_factory.mktemp("full") / "store"
    code, out, err = _import(store, *_inputs(shared_data))
    assert code == 0, err
    return store, json.loads(out)


def test_whole_shared_folder_imports(full_store: tuple[Path, dict]) -> None:
    _, report = full_store
    assert report["failed"] == []
    imported = {Path(i["path"]).name for i in report["imported"]}
    # One representative per importer family must be among the imported files.
    for name in (
        "btc_liquidation_1h_2025-11-23_2026-05-22.csv",  # CoinGlass export
        "okx_btc_spot_vs_swap_hourly_utc.csv",  # OKX hourly vendor export
        "XRP_USDT_USDT-5m-futures.feather",  # freqtrade
        "BTCUSDT-funding-event-windows.csv",  # Binance funding history
        "cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv",  # Binance Vision
        "bitmex_trades_XBTUSD.csv",  # Tardis
        "usdm_btcusdt_20240808.gz",  # raw websocket lines
        "BYBIT.jsonl.zst",  # cryptofeed recording
        "ADA_USDT_USDT-1h-funding_rate.feather",  # freqtrade universe: funding
        "TRX_USDT-1h.feather",  # freqtrade universe: spot bars
    ):
        assert name in imported, name
    assert report["rows_added"] > 0


def test_reimport_adds_nothing_and_changes_no_byte(
    full_store: tuple[Path, dict], shared_data: Path
) -> None:
    store, _ = full_store
    before = _snapshot(store)
    code, out, err = _import(store, *_inputs(shared_data))
    assert code == 0, err
    report = json.loads(out)
    assert report["rows_added"] == 0
    assert all(i["seen_before"] for i in report["imported"])
    assert _snapshot(store) == before


def test_info_json_lists_series(full_store: tuple[Path, dict]) -> None:
    store, report = full_store
    result = runner.invoke(app, ["info", "--store", str(store), "--json"])
    assert result.exit_code == 0, result.stderr
    info = json.loads(result.stdout)
    total = sum(s["rows"] for s in info["series"])
    # Every row added by the import is visible to info (de-duplication happened at write time).
    assert total == report["rows_added"]
    datasets = {s["dataset"] for s in info["series"]}
    assert {"trades", "quotes", "book", "bars", "funding", "open_interest"} <= datasets
    assert {"liquidations", "liquidation_buckets", "depth_bands", "long_short_ratio"} <= datasets


def test_sql_over_views(full_store: tuple[Path, dict]) -> None:
    store, _ = full_store
    result = runner.invoke(
        app,
        [
            "sql",
            "--store",
            str(store),
            "--json",
            "SELECT count(*) AS n FROM liquidation_buckets WHERE exchange = 'coinglass'",
        ],
    )
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["columns"] == ["n"]
    assert doc["rows"][0]["n"] > 4_000


@pytest.mark.parametrize(
    ("folder", "name", "line_no", "old", "new"),
    [
        # (file, 1-based line to corrupt, text to replace on that line, replacement)
        (
            "coinglass-btc-liq-oi-funding-2025-2026",
            "btc_liquidation_1h_2025-11-23_2026-05-22.csv",
            3,
            "1377585.03304",
            "1377x585",
        ),
        (
            "binance-btcusdt-funding-event-windows",
            "BTCUSDT-funding-event-windows.csv",
            5,
            ",8,",
            ",eight,",
        ),
        ("tardis-csv-samples", "bitmex_trades_XBTUSD.csv", 2, "8531.5", "-8531.5"),
        (
            "freqtrade-binance-xrpusdt-perp-2021-11-12",
            "XRP_USDT_USDT-1h-futures.csv",
            4,
            "T03:00",
            "T0X:00",
        ),
    ],
)
def test_corrupted_copy_fails_cleanly_and_store_is_unchanged(
    full_store: tuple[Path, dict],
    shared_data: Path,
    tmp_path: Path,
    folder: str,
    name: str,
    line_no: int,
    old: str,
    new: str,
) -> None:
    store, _ = full_store
    lines = (shared_data / folder / name).read_text().splitlines(keepends=True)
    assert old in lines[line_no - 1], "the corruption must hit a real value"
    lines[line_no - 1] = lines[line_no - 1].replace(old, new, 1)
    bad = tmp_path / name
    bad.write_text("".join(lines))
    before = _snapshot(store)
    code, _, err = _import(store, str(bad))
    assert code == 2
    assert f"line {line_no}" in err
    assert "field" in err
    assert "Traceback" not in err
    assert _snapshot(store) == before


def test_truncated_archive_fails_cleanly(
    full_store: tuple[Path, dict], shared_data: Path, tmp_path: Path
) -> None:
    store, _ = full_store
    src = shared_data / "hftbacktest-binance-ws-2024-08-08" / "spot_btcusdt_20240808.gz"
    bad = tmp_path / src.name
    bad.write_bytes(src.read_bytes()[: src.stat().st_size // 2])
    before = _snapshot(store)
    code, _, err = _import(store, str(bad))
    assert code == 2
    assert "truncated or corrupt" in err
    assert _snapshot(store) == before


def test_all_or_nothing_and_keep_going(shared_data: Path, tmp_path: Path) -> None:
    good = shared_data / "tardis-csv-samples" / "huobi-dm-swap_quotes_BTC-USD.csv"
    bad = tmp_path / "deribit_derivative_ticker_BTC-PERPETUAL.csv"
    text = (shared_data / "tardis-csv-samples" / bad.name).read_text()
    bad.write_text(text.replace("65255.5", "NaN", 1))
    store = tmp_path / "store"
    code, _, err = _import(store, str(good), str(bad))
    assert code == 2
    assert "last_price" in err
    assert not list(store.rglob("*.parquet"))  # the good file was not written either
    code, out, _ = _import(store, "--keep-going", str(good), str(bad))
    assert code == 1
    report = json.loads(out)
    assert [Path(i["path"]).name for i in report["imported"]] == [good.name]
    assert [Path(f["path"]).name for f in report["failed"]] == [bad.name]


def test_unknown_file_explains_format_option(tmp_path: Path) -> None:
    odd = tmp_path / "notes.csv"
    odd.write_text("a,b\n1,2\n")
    code, _, err = _import(tmp_path / "store", str(odd))
    assert code == 2
    assert "--format" in err


def test_bad_market_option(tmp_path: Path) -> None:
    code, _, err = _import(tmp_path / "store", "--market", "perpetual", str(tmp_path))
    assert code == 2
    assert "spot, perp, future, option" in err


def test_info_on_missing_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["info", "--store", str(tmp_path / "nowhere")])
    assert result.exit_code == 2
    assert "import something first" in result.stderr
