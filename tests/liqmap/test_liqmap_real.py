"""The map, the stop heuristic and ``flushwatch map`` on real data imported through the
product path (CoinGlass hourly BTC: OHLC, OI, liquidations)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from flushwatch.analytics.levels import LevelParams
from flushwatch.analytics.liqmap import (
    LiqMapParams,
    build_map,
    cumulative_if_price_reaches,
    map_at,
    moves_totals,
)
from flushwatch.analytics.mechanics import BINANCE_BTCUSDT_2021
from flushwatch.analytics.stops import StopParams, stop_clusters, stops_on_grid
from flushwatch.cli.cmd_map import register
from flushwatch.testing.real import MARKETS, load_market, store_for


@pytest.fixture(scope="module")
def btc(shared_data: Path):  # type: ignore[no-untyped-def]
    return load_market("coinglass_btc_1h")


def test_real_map_has_mass_on_both_sides_and_monotone_curves(btc) -> None:  # type: ignore[no-untyped-def]
    assert btc.oi_quote is not None
    s = build_map(
        btc.ts, btc.open, btc.high, btc.low, btc.close, btc.oi_quote, LiqMapParams(),
        BINANCE_BTCUSDT_2021,
    )  # fmt: skip
    view = map_at(s)
    assert view.long[view.centres < view.price].sum() > 1e6
    assert view.short[view.centres > view.price].sum() > 1e6
    lo, hi = cumulative_if_price_reaches(view.edges, view.long, view.short, view.price)
    assert np.all(np.diff(lo) <= 1e-6)
    assert np.all(np.diff(hi) >= -1e-6)
    totals = moves_totals(view, (1.0, 2.0, 5.0, 10.0))
    assert [t[1] for t in totals] == sorted(t[1] for t in totals)
    assert [t[2] for t in totals] == sorted(t[2] for t in totals)
    assert np.all(s.consumed_long >= 0)
    assert s.consumed_long.sum() > 0
    # mass mapped never exceeds the open interest (it is built from OI increases)
    assert s.total_long[-1] + s.total_short[-1] < float(np.nanmax(btc.oi_quote))


def test_real_stop_clusters_are_a_separate_labelled_heuristic(btc) -> None:  # type: ignore[no-untyped-def]
    p = StopParams()
    clusters = stop_clusters(btc, btc.n - 1, p, LevelParams())
    assert clusters
    assert all(c.heuristic for c in clusters)
    price = float(btc.close[-1])
    for c in clusters:
        below = c.side == "long_stops"
        assert (c.stop_price < c.level_price) == below
        assert (c.stop_price < price) == below
    oi = float(btc.oi_quote[-1])  # type: ignore[index]
    total = sum(c.notional or 0.0 for c in clusters)
    assert total == pytest.approx(oi * p.stop_oi_pct / 100.0, rel=1e-9)
    lng, sht = stops_on_grid(clusters, np.linspace(price * 0.5, price * 1.5, 501))
    assert lng.sum() + sht.sum() == pytest.approx(total)


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """Make ``map`` a sub-command."""

    return app


def test_cli_map_json_and_html(shared_data: Path, tmp_path: Path) -> None:
    store = store_for(MARKETS["coinglass_btc_1h"][0])
    page = tmp_path / "map.html"
    res = CliRunner().invoke(
        _app(),
        ["map", "BTC", "--store", str(store.root), "--at", "2026-02-05T12:00", "--bins", "500",
         "--json", "--html", str(page)],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    doc = json.loads(res.output)
    assert doc["estimate"] is True
    assert doc["stops"]["heuristic"] is True
    assert doc["asof"] == "2026-02-05T12:00:00Z"
    assert doc["params"]["n_bins"] == 500
    assert doc["bands"]["long"]
    assert doc["bands"]["short"]
    assert all(b["hi"] <= doc["price"] + 1e-9 for b in doc["bands"]["long"])
    assert all(b["lo"] >= doc["price"] - 1e-9 for b in doc["bands"]["short"])
    assert [c["move_pct"] for c in doc["cumulative"]] == [1.0, 2.0, 5.0, 10.0]
    text = page.read_text(encoding="utf-8")
    assert "plotly" in text.lower()
    assert "estimate" in text
    assert "heuristic" in text


def test_cli_map_table(shared_data: Path) -> None:
    store = store_for(MARKETS["coinglass_btc_1h"][0])
    res = CliRunner().invoke(_app(), ["map", "BTC", "--store", str(store.root), "--bins", "300"])
    assert res.exit_code == 0, res.output
    assert "estimated liquidation map" in res.output
    assert "heuristic" in res.output


def test_cli_map_without_open_interest_says_so(shared_data: Path) -> None:
    store = store_for(MARKETS["xrp_2021"][0])
    res = CliRunner().invoke(_app(), ["map", "XRP", "--store", str(store.root)])
    assert res.exit_code == 2
    assert "needs open interest" in res.output
    assert "Traceback" not in res.output
