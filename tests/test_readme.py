"""The README's contract: two commands first, and CI runs the second one."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_readme_opens_with_install_and_test_commands() -> None:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("```bash\n", 1)[1].split("```", 1)[0].strip().splitlines()
    assert len(block) == 2
    install, tests = block
    assert install.startswith("python3 -m venv .venv && .venv/bin/pip install")
    assert install.endswith("flushwatch demo")
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert tests in [line.strip() for line in ci]


def test_readme_python_api_example_runs_as_written(
    shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The README's API example, run in a folder whose ./out/store holds the real BTC files."""
    from typer.testing import CliRunner

    from flushwatch.cli.app import app

    files = [
        shared_data
        / "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv",
        shared_data / "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv",
        shared_data
        / "freqtrade-binance-perp-spot-mark-funding-2018-2026/futures"
        / "BTC_USDT_USDT-1h-futures.feather",
    ]
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(app, ["import", "--store", "./out/store", *map(str, files)])
    assert r.exit_code == 0, r.stderr
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    code = text.split("```python\n", 1)[1].split("```", 1)[0]
    assert 'flushwatch.open("./out/store")' in code
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {})  # the README's own example
    first = out.getvalue().splitlines()[0]
    assert first.startswith("2026-02-07T00:00:00Z long_flush ")
