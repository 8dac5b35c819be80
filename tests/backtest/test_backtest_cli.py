"""``flushwatch backtest-map`` through typer's runner, on a store holding the real series."""

from __future__ import annotations

import json
from pathlib import Path

import typer
from typer.testing import CliRunner

from flushwatch.cli.cmd_backtest import register
from flushwatch.testing.real import MARKETS, store_for


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.command()
    def _noop() -> None:  # a second command keeps typer in multi-command mode
        """Nothing."""

    return app


def test_json_and_html(tmp_path: Path) -> None:
    store = store_for(MARKETS["coinglass_btc_1h"][0])
    page = tmp_path / "bt.html"
    r = CliRunner().invoke(
        _app(), ["backtest-map", "BTC", "--store", str(store.root), "--json", "--html", str(page)]
    )
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["estimate"] is True
    assert {s["side"] for s in out["sides"]} == {"long", "short"}
    text = page.read_text(encoding="utf-8")
    assert "plotly" in text.lower()
    assert "estimate" in text
    assert "<script src=" not in text  # self-contained


def test_table_output_names_map_baseline_and_chance() -> None:
    store = store_for(MARKETS["coinglass_btc_5m"][0])
    r = CliRunner().invoke(_app(), ["backtest-map", "--store", str(store.root)])
    assert r.exit_code == 0, r.output
    assert "oi_drop_proxy" in r.output
    assert "no realized liquidations" in r.output


def test_missing_store_is_one_line(tmp_path: Path) -> None:
    r = CliRunner().invoke(_app(), ["backtest-map", "--store", str(tmp_path / "nope")])
    assert r.exit_code == 2
    assert r.output.strip().startswith("error:")
    assert "Traceback" not in r.output
