"""`flushwatch demo`: the whole job offline on simulated data, without touching the user's store."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.store import Store


def test_demo_runs_everything_and_labels_it_simulated(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    users_store = tmp_path / "my-store"
    monkeypatch.setenv("FLUSHWATCH_STORE", str(users_store))
    out = tmp_path / "demo"
    r = CliRunner().invoke(app, ["demo", "--out", str(out), "--json"])
    assert r.exit_code == 0, r.output
    summary = json.loads(r.stdout)
    assert summary["simulated"] is True
    # The reset scenario is a flush that cleans the book: the report must say so.
    assert summary["verdict"] == "clean_reset"
    assert summary["events"] >= 1
    assert summary["fragility_rank"] == ["BTC"]
    page = Path(summary["html"])
    text = page.read_text(encoding="utf-8")
    assert "SIMULATED DATA" in text
    assert "Estimated liquidation map (simulated market)" in text
    assert "Cascade from a -3% shock (estimate)" in text
    assert text.count("<script") >= 3  # report, map and cascade charts, plotly.js inlined once
    assert not users_store.exists()  # the user's own store is untouched
    demo_store = Store.open(Path(summary["store"]), create=False)
    assert {s.exchange for s in demo_store.series()} == {"simulated"}
    report = json.loads(summary["report"])
    assert report["focus"]["kind"] == "long_flush"
    assert report["verdict"]["name"] == "clean_reset"


def test_demo_is_deterministic_for_a_seed(tmp_path: Path) -> None:
    runner = CliRunner()
    a = runner.invoke(app, ["demo", "--out", str(tmp_path / "a"), "--json", "--seed", "3"])
    b = runner.invoke(app, ["demo", "--out", str(tmp_path / "b"), "--json", "--seed", "3"])
    assert a.exit_code == 0, a.output
    assert b.exit_code == 0, b.output
    ra, rb = json.loads(a.stdout), json.loads(b.stdout)
    # The simulated rows are bit-identical (tests/sim); Polars' parallel aggregation may add
    # partial sums in another order, so compare the report to 10 significant digits.
    assert _rounded(json.loads(ra["report"])) == _rounded(json.loads(rb["report"]))


def _rounded(obj: object) -> object:
    if isinstance(obj, float):
        return float(f"{obj:.10g}")
    if isinstance(obj, dict):
        return {k: _rounded(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_rounded(v) for v in obj]
    return obj
