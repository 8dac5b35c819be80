"""``cascade BTC --shock -3% --at 2026-02-05T12:00 --json`` on a store of the real data
(issue 13): CoinGlass BTC hours (OI, no volume) and the Binance BTCUSDT perp klines around
the day (freqtrade feather, kept from 2025-12-01 to 2026-02-10 to stay small)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

import flushwatch
from flushwatch.api import Workspace
from flushwatch.cli.app import app
from flushwatch.ingest.registry import parse
from flushwatch.store import Store

_CG = ("coinglass-btc-liq-oi-funding-2025-2026", "btc_regime_1h_2025-12-04_2026-06-02.csv")
_FT = (
    "freqtrade-binance-perp-spot-mark-funding-2018-2026",
    "futures",
    "BTC_USDT_USDT-1h-futures.feather",
)
_AT = "2026-02-05T12:00Z"


@pytest.fixture(scope="module")
def store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    import polars as pl

    tmp = tmp_path_factory.mktemp("cascade-real")
    feather = tmp / "files" / "futures" / _FT[-1]
    feather.parent.mkdir(parents=True)
    df = pl.read_ipc(shared_data.joinpath(*_FT))
    ms = pl.col("date").dt.epoch("ms")
    df.filter((ms >= 1_764_547_200_000) & (ms < 1_770_681_600_000)).write_ipc(feather)
    root = tmp / "store"
    Store.open(root).write([parse(shared_data.joinpath(*_CG)), parse(feather)])
    return root


def test_cascade_runs_on_the_real_store(store: Path) -> None:
    r = CliRunner().invoke(
        app,
        [
            "cascade",
            "BTC",
            "--store",
            str(store),
            "--shock",
            "-3%",
            "--at",
            _AT,
            "--json",
            "--runs",
            "2000",
        ],
    )
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["depth_source"] == "model"  # no book or depth bands in these files
    assert doc["depth_estimate"] is True
    assert doc["result"]["shock_move_pct"] == pytest.approx(-3.0)
    assert doc["result"]["final_move_pct"] <= -3.0
    liq = doc["curve"]["liquidated_usd"]
    assert all(b >= a for a, b in itertools.pairwise(liq))  # monotone in the shock
    assert liq[-1] > 0
    assert "depth:" in doc["venue_note"]
    mc = doc["monte_carlo"]
    assert mc["runs_within_depth"] == round(2000 * (1 - mc["prob_book_exhausted"]))
    assert all(b <= a for a, b in zip(mc["prob_beyond"], mc["prob_beyond"][1:], strict=False))


def test_depth_model_calibrated_on_other_bars_when_the_price_has_no_volume(store: Path) -> None:
    ws: Workspace = flushwatch.open(store)
    # the CoinGlass price series (Binance spot, no volume): the model takes the perp klines
    c = ws.cascade("BTC", shock="-3%", at=_AT, exchange="binance")
    assert c.depth_source == "model"
    assert "calibrated on binanceusdm perp BTCUSDT 60m bars" in c.depth_note
    assert np.isfinite(c.result.final_move_pct)
    assert "binance" in c.venue_note
