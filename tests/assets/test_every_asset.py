"""Every asset end to end (issue 11): report, events, map, cascade and backtest-map through the
CLI (``--json``) on ETH, SOL, XRP and DOGE, each asserting what its data supports and that
the rest is named as missing in one line.

One store, built once per session from the few shared files needed (about 6 s):

* freqtrade (Binance USDT-M): each asset's 1h perp bars and 8h funding; ETH and XRP spot 1h
  (SOL and DOGE have no spot file). PROVENANCE: no OI, no liquidations in that folder.
* multivenue: candles, funding, Hyperliquid hourly OI (BTC/ETH/SOL/DOGE/HYPE from
  2025-12-07; **no XRP**), the priced OKX/Hyperliquid prints and Hyperliquid's daily
  liquidation buckets (2025-12-07 to 2026-01-31).

A second store holds the Bybit v5 recording (cryptofeed ``BYBIT.jsonl.zst``, 45 s of
tickers with open interest and a 200-level book for ETH and SOL): the cascade runs on its
real book; the map refuses (one closed bar).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.analytics.forecast_map import FORECAST_SKILL_BY_ASSET
from flushwatch.cli.app import app
from flushwatch.domain.time import iso
from flushwatch.ingest.registry import parse
from flushwatch.store import Store

FT = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
MV = "multivenue-hourly-candles-funding-oi-liqprints-2025-2026"
ASSETS = ("ETH", "SOL", "XRP", "DOGE")
WITH_OI = ("ETH", "SOL", "DOGE")  # Hyperliquid hourly OI in the multivenue table
MAP_AT = "2026-02-05T12:00"


@pytest.fixture(scope="session")
def store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("every_asset") / "store"
    fut = shared_data / FT / "futures"
    files = [
        fut / f"{a}_USDT_USDT-{k}.feather"
        for a in ASSETS
        for k in ("1h-futures", "8h-funding_rate")
    ]
    files += [shared_data / FT / "spot" / f"{a}_USDT-1h.feather" for a in ("ETH", "XRP")]
    files += [
        shared_data / MV / f
        for f in (
            "candles.parquet",
            "funding_rates.parquet",
            "open_interest.parquet",
            "liquidations__commit_fadd49d.parquet",
            "liquidation_volume.parquet",
        )
    ]
    Store.open(root).write([parse(f) for f in files])
    return root


_CACHE: dict[tuple[str, ...], tuple[int, str]] = {}


def cli(store: Path, *args: str) -> tuple[int, str]:
    """Run ``flushwatch ARGS --store S`` in process, once per argument list; (exit code, out)."""
    key = (str(store), *args)
    if key not in _CACHE:
        r = CliRunner().invoke(app, [*args, "--store", str(store)])
        _CACHE[key] = (r.exit_code, r.stdout if r.exit_code == 0 else r.output)
    return _CACHE[key]


def doc(store: Path, *args: str) -> dict[str, Any]:
    code, out = cli(store, *args, "--json")
    assert code == 0, out
    parsed: dict[str, Any] = json.loads(out)
    return parsed


def refused(store: Path, *args: str) -> str:
    """The one-line error of a command the data cannot support (exit 2, no traceback)."""
    code, out = cli(store, *args)
    assert code == 2, out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    assert lines[0].startswith("error:")
    return lines[0]


def raw_low(shared: Path, asset: str, start_ns: int, end_ns: int) -> float:
    """The lowest 1h low in the raw freqtrade file over ``[start, end]`` (bar opens)."""
    df = pl.read_ipc(shared / FT / "futures" / f"{asset}_USDT_USDT-1h-futures.feather")
    ns = pl.col("date").dt.epoch("ns")
    return float(df.filter((ns >= start_ns) & (ns <= end_ns)).get_column("low").min())  # type: ignore[arg-type]


# ---- events: the 2025-10-10 crash on every asset ----------------------------------------

#: The 2025-10-10 21:00 UTC hour's low in the raw 1h perp file (PROVENANCE: XRP −52.8 %
#: low/open that hour), and the kind the price-volume detector gives it (no liquidation
#: series covers 2025-10: the multivenue buckets start 2025-12-07).
OCT10 = {
    "ETH": (3400.0, "long_flush"),
    "SOL": (141.28, "long_flush"),
    # the wick came back: the close is −8.8 % from the start but the range 56 %, so the
    # body rule calls it two-sided (no liquidation data to say which side was flushed)
    "XRP": (1.1792, "two_sided"),
    "DOGE": (0.08385, "long_flush"),
}


@pytest.mark.parametrize("asset", ASSETS)
def test_events_find_the_2025_10_10_flush_and_its_raw_low(
    asset: str, store: Path, shared_data: Path
) -> None:
    d = doc(store, "events", asset, "--start", "2025-10-01", "--end", "2025-10-20")
    [ev] = [e for e in d["events"] if iso(e["start_ts"])[:10] == "2025-10-10"]
    low, kind = OCT10[asset]
    assert ev["kind"] == kind
    assert iso(ev["peak_ts"]) == "2025-10-10T21:00:00Z"
    assert ev["price_low"] == low
    assert ev["price_low"] == raw_low(shared_data, asset, ev["start_ts"], ev["end_ts"])
    assert ev["detected_by"] == "price_volume"
    assert ev["liq_long_usd"] is None  # not invented where no liquidation series covers
    assert "liquidations" not in d["sources"]  # named by its absence for this window


# ---- report: what each asset's data supports, the rest named ----------------------------


@pytest.mark.parametrize("asset", ASSETS)
def test_report_has_funding_and_names_what_is_missing(asset: str, store: Path) -> None:
    d = doc(store, "report", asset, "--at", "2026-02-06T12:00")
    items = {c["name"]: c for c in d["checklist"]}
    assert d["sources"]["funding"] == f"binanceusdm perp {asset}USDT, fraction per 8h"
    assert items["funding"]["state"] != "not_available"
    assert items["book"]["state"] == "not_available"  # no order book for any of them
    assert items["book"]["sentence"] == "Order-book depth: not available."
    if asset in WITH_OI:
        assert d["sources"]["oi"].startswith(f"hyperliquid perp {asset}")
        assert items["oi_rebuild"]["state"] != "not_available"
    else:
        assert "oi" not in d["sources"]
        assert items["oi_rebuild"]["state"] == "not_available"
        assert items["oi_rebuild"]["sentence"] == "Open interest: not available."
    if asset in ("ETH", "XRP"):  # the only two with a spot file
        assert items["spot_vs_perp"]["state"] != "not_available"
        assert "estimate" in d["sources"]["spot"]
    else:
        assert "spot" not in d["sources"]
        for name in ("spot_vs_perp", "basis"):
            assert items[name]["state"] == "not_available"
            assert items[name]["sentence"].endswith("not available.")


# ---- map and cascade: wherever the data holds OI -----------------------------------------


@pytest.mark.parametrize("asset", WITH_OI)
def test_map_runs_on_hyperliquid_oi_and_states_its_measured_skill(asset: str, store: Path) -> None:
    d = doc(store, "map", asset, "--at", MAP_AT)
    assert d["as_of"] == "2026-02-05T12:00:00Z"
    assert d["asof"] <= d["as_of"]
    assert d["sources"]["oi"].startswith(f"hyperliquid perp {asset}")
    # the tiers of the venue whose OI is spread, where shipped (DOMAIN.md §5.4: ETH 25x,
    # SOL 20x); DOGE's Hyperliquid table is not shipped: the Binance BTCUSDT one, named
    if asset == "DOGE":
        assert d["tiers"].startswith("Binance BTCUSDT")
    else:
        assert (
            d["tiers"]
            == f"Hyperliquid docs, trading/liquidations and trading/margin-tiers ({asset})"
        )
    # positions opened since the first OI hour (2025-12-07); closures pro rata, so the fall
    # of OI from before the window does not empty the map
    assert d["totals"]["long_usd"] > 0
    assert d["totals"]["short_usd"] > 0
    assert d["bands"]["long"]
    assert d["bands"]["short"]
    skill = d["forecast_skill"]
    assert skill["beats_baselines"] is False
    assert "does NOT beat" in skill["statement"]
    assert "test the plumbing of the realized side, not skill" in skill["priced_prints"]
    if asset in FORECAST_SKILL_BY_ASSET:
        assert skill["statement"].startswith(FORECAST_SKILL_BY_ASSET[asset])
    else:
        assert skill["statement"].startswith(f"Not measured on {asset}")


@pytest.mark.parametrize("asset", WITH_OI)
def test_cascade_runs_on_the_depth_model_and_names_the_venue_mismatch(
    asset: str, store: Path
) -> None:
    d = doc(store, "cascade", asset, "--shock", "-3%", "--at", MAP_AT)
    assert d["depth_source"] == "model"  # no book or depth bands for these dates
    assert d["depth_estimate"] is True
    assert "calibrated on binanceusdm perp" in d["venue_note"]
    assert "hyperliquid vs binance" in d["venue_note"]
    r = d["result"]
    assert r["shock_move_pct"] == pytest.approx(-3.0)
    assert r["final_move_pct"] <= -3.0
    assert r["liquidated_usd"] > 0


def test_xrp_map_cascade_and_backtest_say_no_open_interest(store: Path) -> None:
    """XRP: the shared data has no XRP open interest (multivenue covers five other coins)."""
    for args in (
        ("map", "XRP", "--at", MAP_AT),
        ("cascade", "XRP", "--shock", "-3%", "--at", MAP_AT),
        ("backtest-map", "XRP"),
    ):
        line = refused(store, *args)
        assert "open interest" in line, args
        assert "XRP" in line, args


# ---- backtest-map: the forecast protocol on Hyperliquid's daily buckets -----------------


@pytest.mark.parametrize(
    ("asset", "days", "level_days"),
    [("ETH", (12, 11), (46, 42)), ("SOL", (13, 8), (46, 39)), ("DOGE", (4, 0), (12, 4))],
)
def test_backtest_map_scores_what_the_buckets_cover(
    asset: str, days: tuple[int, int], level_days: tuple[int, int], store: Path
) -> None:
    d = doc(store, "backtest-map", asset)
    # nowcast: from the first hour with OI plus the 72 h warm-up
    assert d["start"] == "2025-12-10T10:00:00Z"
    assert d["liquidations_available"] is True
    assert "hyperliquid" in d["sources"]["liquidations"]
    assert "nowcast" in d["nowcast"]
    assert any(n.startswith("liquidations come in 24 h buckets") for n in d["notes"])
    # level scores: each daily bucket over its whole day's range (tens of bins), not the
    # closing hour's (a handful)
    assert tuple(lv["days"] for lv in d["levels"]) == level_days
    assert all(lv["median_bins"] > 40 for lv in d["levels"])
    fc = d["forecast"]
    assert fc["realized_source"].startswith(
        "bucket totals spread uniformly over the low-high range of the 24 h each bucket covers"
    )
    assert "synthetic" in fc["realized_source"]
    assert (fc["long"]["days"], fc["short"]["days"]) == days
    assert fc["start"] == "2026-01-14T00:00:00Z"  # 30 days of training after the first OI
    assert fc["beats_every_baseline"] is False
    assert "does NOT beat" in fc["statement"]
    for side in ("long", "short"):
        s = fc[side]
        assert s["out_of_sample"] is True
        if s["days"]:
            assert s["baselines"]["uniform"] == pytest.approx(0.25)
        else:
            assert f"{side}: no day with realized liquidations in the set" in fc["statement"]
    if asset in FORECAST_SKILL_BY_ASSET:  # the map's printed statement is this measurement
        for side in ("long", "short"):
            s = fc[side]
            assert f"{side} {100 * s['map_share']:.1f}% vs" in FORECAST_SKILL_BY_ASSET[asset]
            best = 100 * s["baselines"][s["best_baseline"]]
            assert f"{best:.1f}%" in FORECAST_SKILL_BY_ASSET[asset]


# ---- the Bybit recording: OI and a real book for ETH and SOL ----------------------------


@pytest.fixture(scope="session")
def bybit(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("bybit") / "store"
    Store.open(root).write([parse(shared_data / "cryptofeed-ws-recordings" / "BYBIT.jsonl.zst")])
    return root


@pytest.mark.parametrize("asset", ["ETH", "SOL"])
def test_bybit_recording_cascade_walks_the_real_book(asset: str, bybit: Path) -> None:
    d = doc(bybit, "cascade", asset, "--shock", "-3%")
    assert d["depth_source"] == "book"
    assert d["depth_estimate"] is False
    assert d["depth_note"].startswith(f"bybit {asset}USDT book: 200 bid levels")
    assert f"open interest: bybit perp {asset}USDT" in d["venue_note"]
    assert "Same venue set: not rescaled" in d["venue_note"]
    assert d["result"]["liquidated_usd"] >= 0
    # the map needs two closed bars; the 45 s recording has one closed 1m kline
    line = refused(bybit, "map", asset)
    assert "at least two closed bars" in line


# ---- priced prints: the realized side at the prints' own price (plumbing, not skill) ----


def test_sol_priced_prints_are_scored_at_their_own_price(store: Path, shared_data: Path) -> None:
    """SOL's OKX prints of 2026-03-04/05 (``size_usd`` is contracts × bkPx; ctVal 1 SOL, so
    the file's number is the USD) as the realized side of hourly issues: every print in a
    scored hour lands in the set or is counted outside it, to the cent of the raw file. (The
    Hyperliquid SOL prints are of 2025-05/06, before the first OI hour: never scored.)"""
    import numpy as np

    from flushwatch.analytics.forecast_map import PRINTS_NOTE, ForecastParams
    from flushwatch.api.forecast import forecast_market, prints_from_store
    from flushwatch.api.results import jsonable
    from flushwatch.report.assemble import assemble

    s = Store.open(store)
    m = assemble(s, "SOL", exchange="binanceusdm", step_s=3600)
    prints = prints_from_store(s, "SOL", int(m.ts[0]), int(m.ts[-1]) + 3600 * 10**9)
    assert prints is not None
    p = ForecastParams(cadence_hours=1, horizon_hours=1, min_train_days=4, folds=2, n_boot=50)
    res, series = forecast_market(m, p, prints)
    d = jsonable(res)
    assert d["realized_source"].startswith("priced liquidation prints at their own price")
    assert PRINTS_NOTE in d["notes"]
    assert d["statement"].endswith(PRINTS_NOTE)
    raw = pl.read_parquet(shared_data / MV / "liquidations__commit_fadd49d.parquet").filter(
        (pl.col("venue") == "okx") & (pl.col("coin") == "SOL")
    )
    ts = raw.get_column("timestamp").dt.epoch("ns").to_numpy()
    hours = np.asarray(series["ts"], np.int64)
    assert hours.size > 0
    scored = np.zeros(ts.shape[0], bool)
    for t in hours.tolist():
        scored |= (ts >= t) & (ts < t + 3600 * 10**9)
    for side, venue_side in (("long", "sell"), ("short", "buy")):  # OKX: sell = long liquidated
        sel = scored & (raw.get_column("side") == venue_side).to_numpy()
        usd = float(raw.get_column("size_usd").to_numpy()[sel].sum())  # × ctVal 1
        got = d[side]["realized_usd_in_set"] + d[side]["realized_usd_outside_set"]
        assert got == pytest.approx(usd, rel=1e-9)


def test_map_page_says_what_was_measured_and_that_prints_are_plumbing(
    store: Path, tmp_path: Path
) -> None:
    import html

    page = tmp_path / "eth.html"
    code, out = cli(store, "map", "ETH", "--at", MAP_AT, "--html", str(page))
    assert code == 0, out
    text = html.unescape(page.read_text(encoding="utf-8"))
    assert FORECAST_SKILL_BY_ASSET["ETH"] in text
    assert "test the plumbing of the realized side, not skill" in text
    assert " ".join(FORECAST_SKILL_BY_ASSET["ETH"].split()) in " ".join(out.split())  # wrapped
