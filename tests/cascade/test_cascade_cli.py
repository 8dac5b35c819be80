"""``flushwatch cascade`` / ``fragility`` end to end on real bars + OI with constructed depth."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import typer
from typer.testing import CliRunner

from flushwatch.api.cascade import parse_shock
from flushwatch.cli.cmd_cascade import register
from flushwatch.domain.enums import Market
from flushwatch.domain.records import DepthBand
from flushwatch.domain.tables import frame_from_records
from flushwatch.errors import ConfigError
from flushwatch.ingest.base import Parsed
from flushwatch.ingest.registry import parse
from flushwatch.store import Store

FIVE_MIN = (
    "coinglass-btc-liq-oi-funding-2025-2026",
    "btc_regime_binance_5m_2026-06-07_2026-06-22.csv",
)
BANDS_PCT = (0.5, 1.0, 2.0, 5.0, 10.0)


def _app() -> typer.Typer:
    app = typer.Typer()
    register(app)
    return app


@pytest.fixture(scope="module")
def store_root(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Real 5-minute Binance bars, OI and funding, plus constructed depth bands at the end."""
    root = tmp_path_factory.mktemp("cascade") / "store"
    store = Store.open(root)
    real = parse(shared_data.joinpath(*FIVE_MIN))
    bars = store.write([real])
    assert bars[0].added > 0
    last = int(store.read(DepthBand).height)  # no bands yet
    assert last == 0
    from flushwatch.domain.records import Bar

    t_end = int(store.read(Bar).get_column("ts_event").max())
    rows = [
        DepthBand(
            ts_event=t_end,
            exchange="binanceusdm",
            market=Market.PERP,
            symbol="BTCUSDT",
            pct=sign * pct,
            depth_base=0.0,
            notional=40e6 * pct,  # 40 M USD per 1 % each side (constructed)
        )
        for pct in BANDS_PCT
        for sign in (-1.0, 1.0)
    ]
    src = root.parent / "bands.txt"
    src.write_text("constructed depth bands")
    p = Parsed(path=src, format="test")
    p.add(DepthBand, frame_from_records(DepthBand, rows, lines=range(1, len(rows) + 1)))
    store.write([p])
    return root


def test_parse_shock_rejects_nonsense() -> None:
    assert parse_shock("-3%") == ("down", 3.0, None)
    with pytest.raises(ConfigError, match="signed move"):
        parse_shock("three")
    with pytest.raises(ConfigError, match="non-zero"):
        parse_shock("0%")


def test_cascade_json_on_real_map_and_band_depth(store_root: Path, tmp_path: Path) -> None:
    page = tmp_path / "cascade.html"
    args = ["cascade", "BTC", "--shock=-3%", "--store", str(store_root), "--runs", "500"]
    res = CliRunner().invoke(_app(), [*args, "--json", "--html", str(page)])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    assert out["estimate"] is True
    assert out["depth_source"] == "depth_bands"
    r = out["result"]
    assert r["estimate"] is True
    assert r["shock_move_pct"] == pytest.approx(-3.0)
    assert r["final_move_pct"] <= -3.0
    assert r["amplification"] >= 1.0
    # Conservation on the band curve (no refill): depth taken = shock + liquidations + stops.
    depth_taken = 40e6 * abs(r["final_move_pct"]) + r["unabsorbed_usd"]
    forced = r["shock_usd"] + r["liquidated_usd"] + r["stops_usd"]
    assert depth_taken == pytest.approx(forced, rel=1e-9)
    assert "heuristic stop-loss mass" in out["map_note"]
    assert np.all(np.diff(out["curve"]["final_move_pct"]) <= 1e-9)  # bigger shock, bigger fall
    mc = out["monte_carlo"]
    assert mc["runs"] == 500
    assert all(b <= a for a, b in zip(mc["prob_beyond"], mc["prob_beyond"][1:], strict=False))
    text = page.read_text(encoding="utf-8")
    assert "plotly" in text.lower()
    assert "(estimated)" in text
    assert "<script src=" not in text  # self-contained


def test_cascade_table_and_squeeze(store_root: Path) -> None:
    res = CliRunner().invoke(
        _app(), ["cascade", "BTC", "--shock", "+2%", "--store", str(store_root)]
    )
    assert res.exit_code == 0, res.output
    assert "cascade (estimated)" in res.output
    assert "Cascade curve" in res.output


def test_fragility_names_what_is_missing(store_root: Path) -> None:
    from flushwatch.domain.records import OpenInterest

    res = CliRunner().invoke(_app(), ["fragility", "BTC", "--store", str(store_root), "--json"])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    (btc,) = out["markets"]
    assert btc["rank"] == 1
    oi = Store.open(store_root).read(OpenInterest).get_column("oi_quote").drop_nulls()[-1]
    # OI over the constructed ±2 % book: 40 M USD per 1 % on each side
    assert btc["components"]["oi_to_depth"] == pytest.approx(oi / (2 * 80e6), rel=1e-12)
    assert "oi_to_volume" in btc["missing"]  # the 5-minute slice carries no volume
    assert "oi_to_depth" in out["inputs_used"]
    assert btc["score"] == 0.5  # alone: the middle percentile of every input
    assert out["apart"] == []


def test_fragility_html_page(store_root: Path, tmp_path: Path) -> None:
    page = tmp_path / "fragility.html"
    res = CliRunner().invoke(
        _app(), ["fragility", "BTC", "--store", str(store_root), "--html", str(page)]
    )
    assert res.exit_code == 0, res.output
    text = page.read_text(encoding="utf-8")
    assert "Fragility ranking, like with like (estimate)" in text
    assert "oi_to_depth" in text  # ranked on, and named in the legend
    assert len(text) > 1_000_000  # plotly.js is inlined: the page opens offline
