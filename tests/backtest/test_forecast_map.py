"""The map as a next-day forecast (issue 13): kernels on constructed arrays, the protocol on
the real CoinGlass BTC hours, point-in-time on a cut store, and the priced-print plumbing
on the one OKX day of real prints."""

from __future__ import annotations

import csv
import shutil
from pathlib import Path

import msgspec
import numpy as np
import pytest

import flushwatch
from flushwatch.analytics.forecast_map import (
    BASELINES,
    ForecastParams,
    baseline_scores,
    issue_set,
    realized_from_buckets,
    realized_from_prints,
    rebin,
    walk_forward,
    windows,
)
from flushwatch.api.forecast import Prints, forecast_market
from flushwatch.domain.time import parse_iso
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.real import MARKETS, load_market, store_for

_H = 3600 * 10**9
_REGIME = MARKETS["coinglass_btc_1h"][0][0]


def _walk(n_days: int, seed: int = 1) -> tuple[np.ndarray, ...]:
    rng = np.random.default_rng(seed)
    n = n_days * 24
    ts = np.arange(n, dtype=np.int64) * _H
    close = 100.0 * np.exp(np.cumsum(rng.normal(0, 0.004, n)))
    open_ = np.r_[100.0, close[:-1]]
    high = np.maximum(open_, close) * 1.001
    low = np.minimum(open_, close) * 0.999
    return ts, open_, high, low, close


def test_rebin_conserves_mass_inside_the_new_edges() -> None:
    edges = np.linspace(0.0, 10.0, 11)
    mass = np.arange(10, dtype=np.float64)
    assert rebin(edges, mass, np.array([0.0, 10.0])).tolist() == [45.0]
    assert rebin(edges, mass, np.array([2.5, 3.0, 3.5])).tolist() == [1.0, 1.5]


def test_issue_sets_use_only_bars_before_the_issue_time() -> None:
    ts, _, high, low, close = _walk(20)
    p = ForecastParams()
    a = issue_set(ts, high, low, close, 3600, p)
    assert a.index.size == 20 - 7  # from day 7 (warm-up) to the last whole day
    assert np.all(a.ts % (24 * _H) == 0)
    j = 5  # change every bar from this issue time on: its set must not move
    i = int(a.index[j])
    h2, l2, c2 = high.copy(), low.copy(), close.copy()
    h2[i:] *= 1.5
    l2[i:] *= 0.5
    c2[i:] *= 1.3
    b = issue_set(ts, h2, l2, c2, 3600, p)
    for f in ("ref", "sigma", "low24", "high24"):
        assert getattr(b, f)[j] == getattr(a, f)[j]
    np.testing.assert_array_equal(b.long_edges[j], a.long_edges[j])
    # the set is ±kσ (log) around the last close before the issue time
    assert a.ref[j] == close[i - 1]
    assert np.log(a.short_edges[j, -1] / a.ref[j]) == pytest.approx(2.0 * a.sigma[j])
    assert a.long_edges[j, -1] == pytest.approx(a.ref[j])


def test_baselines_rank_the_bins_they_describe() -> None:
    ref, sigma = 100.0, 0.02
    edges = ref * np.exp(-2 * sigma * (1.0 - np.linspace(0, 1, 21)))  # long set, ascending
    sc = baseline_scores("long", edges, ref, sigma, low24=98.5, high24=101.0)
    mid = np.sqrt(edges[1:] * edges[:-1])
    assert int(np.argmax(sc["side_nearest"])) == 19  # the bin just below the reference
    assert abs(np.log(mid[int(np.argmax(sc["vol_band_1sigma"]))] / ref) + sigma) < 0.1 * sigma
    assert mid[int(np.argmax(sc["range_break_oi"]))] == pytest.approx(98.5, rel=3e-3)
    assert np.all(sc["uniform"] == 0.0)


def test_realized_usd_is_conserved_inside_plus_outside() -> None:
    edges = np.array([95.0, 97.0, 99.0, 100.0])
    per, out = realized_from_prints(edges, np.array([96.0, 99.5, 90.0]), np.array([1.0, 2.0, 4.0]))
    assert per.tolist() == [1.0, 0.0, 2.0]
    assert out == 4.0
    per, out = realized_from_buckets(edges, np.array([94.0]), np.array([100.0]), np.array([6.0]))
    assert per.sum() + out == pytest.approx(6.0)
    assert out == pytest.approx(1.0)  # 94-95 of a 94-100 range


def test_walk_forward_freezes_each_window_on_earlier_days() -> None:
    tot = np.ones(8)
    good_early = np.r_[np.ones(4), np.zeros(4)]
    good_late = np.r_[np.zeros(4), np.ones(4)]
    out, chosen = walk_forward([good_early, good_late], tot, [2, 6], [6, 8])
    # window 1 sees only days 0-1 (setting 0 wins), window 2 days 0-5 (still setting 0:
    # 4 of 6 against 2 of 6), although setting 1 is perfect on days 6-7
    assert chosen == [0, 0]
    assert np.isnan(out[:2]).all()
    assert out[2:].tolist() == good_early[2:].tolist()
    starts, ends, hold = windows(90, ForecastParams())
    assert starts[0] == 30
    assert ends[-1] == 90
    assert hold == 60


@pytest.fixture(scope="module")
def btc() -> tuple[object, dict[str, list[float]]]:
    return forecast_market(load_market("coinglass_btc_1h"), ForecastParams(n_boot=200))


def test_protocol_on_real_coinglass_btc(btc: tuple[object, dict[str, list[float]]]) -> None:
    from flushwatch.api.results import jsonable

    doc = jsonable(btc[0])
    for side in ("long", "short"):
        s = doc[side]
        assert set(s["baselines"]) == set(BASELINES)
        assert s["out_of_sample"] is True
        assert s["days"] > 130  # 176 days less 7 of warm-up and 30 of first training
        assert s["baselines"]["uniform"] == pytest.approx(0.25)  # exact by construction
        assert s["best_baseline"] == max(s["baselines"], key=s["baselines"].get)
        assert s["diff_ci_low"] <= s["diff"] <= s["diff_ci_high"]
        assert 0.0 < s["map_share"] < 1.0
    assert doc["protocol"]["k_sigma"] == 2.0
    assert doc["protocol"]["bins_per_side"] == 20
    assert "synthetic" in doc["realized_source"]
    assert len(doc["sensitivity"]) == 24  # 3 leverage mixes × 2 half-lives × 2 sizes × 2 closures
    assert {r["params"]["closures"] for r in doc["sensitivity"]} == {"own", "pro_rata"}
    beats = doc["long"]["diff_ci_low"] > 0 and doc["short"]["diff_ci_low"] > 0
    assert doc["beats_every_baseline"] is beats
    # the product never claims skill it did not measure (measured: it does not beat them)
    assert ("does NOT beat" in doc["statement"]) is (not beats)


def _cut_store(shared: Path, out: Path, cut_ms: int) -> Store:
    src = shared.joinpath(*_REGIME.split("/"))
    dst = out / "files" / src.name
    dst.parent.mkdir(parents=True)
    for side in src.parent.glob(src.stem + "*.json"):
        shutil.copy(side, dst.parent / side.name)
    with src.open(newline="") as fh, dst.open("w", newline="") as out_fh:
        reader = csv.reader(fh)
        writer = csv.writer(out_fh, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        i = header.index("timestamp")
        writer.writerows(r for r in reader if int(r[i]) <= cut_ms)
    store = Store.open(out / "store")
    store.write([parse(dst)])
    return store


def test_point_in_time_on_a_cut_store(shared_data: Path, tmp_path: Path) -> None:
    end = "2026-03-20T00:00Z"
    full = flushwatch.open(store_for(MARKETS["coinglass_btc_1h"][0]).root)
    cut = flushwatch.open(_cut_store(shared_data, tmp_path, parse_iso(end) // 10**6).root)
    a = full.forecast_map("BTC", end=end, n_boot=100).to_dict()
    b = cut.forecast_map("BTC", end=end, n_boot=100).to_dict()
    assert a == b
    assert a["forecast"]["end"] <= "2026-03-20T00:00:00Z"
    whole = full.forecast_map("BTC", n_boot=100).to_dict()
    assert whole["forecast"]["end"] > a["forecast"]["end"]


def test_priced_prints_plumbing_on_the_okx_day(shared_data: Path) -> None:
    """The one OKX day of real prints (2026-03-04/05) as the realized side: plumbing, not skill.

    OKX ``size_usd`` is contracts × bankruptcy price (PROVENANCE trap): × 0.01 BTC per
    BTC-USDT-SWAP contract gives USD.
    """
    import polars as pl

    path = shared_data / "multivenue-hourly-candles-funding-oi-liqprints-2025-2026"
    df = pl.read_parquet(path / "liquidations__commit_fadd49d.parquet").filter(
        (pl.col("venue") == "okx") & (pl.col("coin") == "BTC")
    )
    assert df.height > 0
    prints = Prints(
        ts=df.get_column("timestamp").dt.epoch("ns").to_numpy(),
        long=(df.get_column("side") == "sell").to_numpy(),  # OKX order side: sell = long
        price=df.get_column("price").to_numpy().astype(np.float64),
        usd=df.get_column("size_usd").to_numpy() * 0.01,
        source="okx BTC-USDT-SWAP",
    )
    p = ForecastParams(cadence_hours=1, horizon_hours=1, min_train_days=4, folds=2, n_boot=50)
    res, series = forecast_market(load_market("coinglass_btc_1h"), p, prints)
    doc = msgspec.to_builtins(res)
    assert "priced liquidation prints" in doc["realized_source"]
    for side, is_long in (("long", True), ("short", False)):
        s = doc[side]
        # every print inside the scored hours is either in a bin of the set or outside it
        t0 = np.asarray(series["ts"], np.int64)
        sel = prints.long == is_long
        inside = np.zeros(prints.ts.shape[0], bool)
        for t in t0.tolist():
            inside |= (prints.ts >= t) & (prints.ts < t + _H)
        expected = float(prints.usd[sel & inside].sum())
        assert s["realized_usd_in_set"] + s["realized_usd_outside_set"] == pytest.approx(
            expected, rel=1e-9
        )


def test_the_map_states_the_measured_skill(btc: tuple[object, dict[str, list[float]]]) -> None:
    """The statement every map prints is the protocol's own measurement, not a claim."""
    from flushwatch.analytics.forecast_map import FORECAST_SKILL
    from flushwatch.api.results import jsonable

    doc = jsonable(btc[0])
    assert FORECAST_SKILL["beats_baselines"] is doc["beats_every_baseline"]
    for side in ("long", "short"):
        skill = FORECAST_SKILL[side]
        assert isinstance(skill, dict)
        assert skill["map_share"] == pytest.approx(doc[side]["map_share"], abs=5e-4)
        for b in ("vol_band_1sigma", "side_nearest"):
            assert skill[b] == pytest.approx(doc[side]["baselines"][b], abs=5e-4)
    assert doc["long"]["days"] == 141
    shown = flushwatch.open(store_for(MARKETS["coinglass_btc_1h"][0]).root).map(
        "BTC", at="2026-02-05T12:00Z"
    )
    assert "does NOT beat" in shown.to_dict()["forecast_skill"]["statement"]
