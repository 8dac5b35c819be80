"""``backtest-map --scheduler``: each (asset, protocol) on a worker, the same JSON as serially."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.testing.real import MARKETS, store_for


def _backtest(store: Path, *extra: str) -> str:
    r = CliRunner().invoke(app, ["backtest-map", "BTC", "--store", str(store), "--json", *extra])
    assert r.exit_code == 0, r.output
    return r.stdout


def test_both_protocols_on_the_cluster_equal_serial(scheduler: str) -> None:
    """CoinGlass BTC hourly: the nowcast and the forecast run as two tasks; output unchanged."""
    store = store_for(MARKETS["coinglass_btc_1h"][0]).root
    here = _backtest(store)
    assert '"forecast": {' in here  # both protocols ran (this store has liquidation buckets)
    assert _backtest(store, "--scheduler", scheduler) == here


def test_html_takes_one_asset(tmp_path: Path) -> None:
    store = store_for(MARKETS["coinglass_btc_1h"][0]).root
    r = CliRunner().invoke(
        app,
        ["backtest-map", "BTC", "ETH", "--store", str(store), "--html", str(tmp_path / "x.html")],
    )
    assert r.exit_code == 2
    assert r.stderr.strip() == "error: --html writes one asset's chart: give one asset"


def test_a_task_error_is_one_line_on_stderr_workers_included() -> None:
    """In a real process: the workers' stderr is the command's, so their logs would show."""
    store = store_for(MARKETS["coinglass_btc_1h"][0]).root
    code = "from flushwatch.cli.app import main; main()"
    argv = ["backtest-map", "ETH", "--store", str(store), "--workers", "1", "--json"]
    r = subprocess.run(
        [sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120
    )
    assert r.returncode == 2
    assert r.stdout == ""
    assert r.stderr == f"error: the store at {store} holds no ETH prices (it holds BTC)\n"
