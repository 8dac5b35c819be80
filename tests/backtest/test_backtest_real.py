"""The map backtest on the real CoinGlass hourly BTC series and the Binance 5-minute slice.

Asserts structure, causality and the naive baseline's figure recomputed independently from
the CSV (csv module + plain numpy). It does not assert that the map beats the baseline.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import msgspec
import numpy as np
import pytest

from flushwatch.analytics.backtest_map import BacktestParams
from flushwatch.api.backtest import backtest_market, bar_predictions, map_state
from flushwatch.domain.time import parse_iso
from flushwatch.testing.real import load_market

_CSV = ("coinglass-btc-liq-oi-funding-2025-2026", "btc_regime_1h_2025-12-04_2026-06-02.csv")


def _top_quarter_plain(pred: list[float], real: list[float]) -> float:
    order = np.argsort(-np.asarray(pred), kind="stable")
    k = 0.25 * len(pred)
    r = np.asarray(real)[order]
    whole = math.floor(k)
    return float((r[:whole].sum() + (k - whole) * r[whole]) / r.sum())


@pytest.fixture(scope="module")
def hourly() -> tuple[object, dict[str, np.ndarray]]:
    return backtest_market(load_market("coinglass_btc_1h"), BacktestParams(n_boot=50))


def test_hourly_structure(hourly: tuple[object, dict[str, np.ndarray]]) -> None:
    res, series = hourly
    out = msgspec.to_builtins(res)
    assert out["estimate"] is True
    assert out["liquidations_available"] is True
    assert [s["side"] for s in out["sides"]] == ["long", "short"]
    assert [lv["side"] for lv in out["levels"]] == ["long", "short"]
    assert out["oi_drop_proxy"] is None
    for s in out["sides"]:
        assert s["n"] > 4000  # 4,319 hours less 72 of warm-up and 8 missing
        assert s["chance"] == 0.25
        for key in ("map_spearman", "baseline_spearman", "partial"):
            assert -1 <= s[key]["r"] <= 1
            assert 0 <= s[key]["p"] <= 1
            assert s[key]["ci_low"] <= s[key]["r"] <= s[key]["ci_high"]
        cap = s["map_capture"]
        assert cap["ci_low"] <= cap["share"] <= cap["ci_high"]
    for lv in out["levels"]:
        assert lv["days"] > 150
        assert 0 <= lv["map_share"] <= 1
    assert set(series) == {f"{k}_{s}" for k in ("map", "base", "real") for s in ("long", "short")}


def test_baseline_capture_recomputed_from_csv(
    hourly: tuple[object, dict[str, np.ndarray]], shared_data: Path
) -> None:
    res = hourly[0]
    start, end = parse_iso(res.start) // 10**6, parse_iso(res.end) // 10**6  # type: ignore[attr-defined]
    with shared_data.joinpath(*_CSV).open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if start <= int(r["timestamp"]) < end]
    o = np.array([float(r["price_open"]) for r in rows])
    lo = np.array([float(r["price_low"]) for r in rows])
    hi = np.array([float(r["price_high"]) for r in rows])
    oi = np.array([float(r["oi_open"]) for r in rows])  # OI at the hour's open: known before it
    long_, short = res.sides  # type: ignore[attr-defined]
    assert long_.n == len(rows)
    base_long = ((o - lo) / o * oi).tolist()
    real_long = [float(r["liquidation_long_usd"]) for r in rows]
    expected = _top_quarter_plain(base_long, real_long)
    assert long_.baseline_capture.share == pytest.approx(expected, abs=1e-9)
    assert 0.85 < expected < 0.90  # the "about 88 %"
    base_short = ((hi - o) / o * oi).tolist()
    real_short = [float(r["liquidation_short_usd"]) for r in rows]
    expected_s = _top_quarter_plain(base_short, real_short)
    assert short.baseline_capture.share == pytest.approx(expected_s, abs=1e-9)
    assert long_.realized_usd == pytest.approx(sum(real_long), rel=1e-12)


def test_five_minute_slice_has_no_liquidations_to_score() -> None:
    res, series = backtest_market(load_market("coinglass_btc_5m"), BacktestParams(n_boot=20))
    assert res.liquidations_available is False
    assert res.sides == []
    assert res.levels == []
    assert series == {}
    assert res.oi_drop_proxy is not None
    assert res.oi_drop_proxy.side == "oi_drop_proxy"
    assert any("nothing is scored against liquidations" in n for n in res.notes)


def test_prediction_for_bar_t_ignores_bars_from_t_on() -> None:
    m = load_market("coinglass_btc_1h").slice(0, 400)
    t = 300
    rng = np.random.default_rng(7)

    def altered(first: int, names: tuple[str, ...]) -> object:
        fields = {}
        for name in names:
            v = np.array(getattr(m, name), copy=True)
            v[first:] *= rng.uniform(0.8, 1.25, size=v.shape[0] - first)
            fields[name] = v
        return msgspec.structs.replace(m, **fields)

    base_state = map_state(m)
    base_l, base_s = bar_predictions(m, base_state)
    # every bar from t on changed: the map at the start of bar t is the same
    m2 = altered(t, ("open", "high", "low", "close", "oi_quote"))
    s2 = map_state(m2)  # type: ignore[arg-type]
    assert s2.snap_long is not None
    assert base_state.snap_long is not None
    np.testing.assert_array_equal(s2.snap_long[: t + 1], base_state.snap_long[: t + 1])
    assert s2.snap_short is not None
    assert base_state.snap_short is not None
    np.testing.assert_array_equal(s2.snap_short[: t + 1], base_state.snap_short[: t + 1])
    l2, _ = bar_predictions(m2, s2)  # type: ignore[arg-type]
    np.testing.assert_array_equal(l2[:t], base_l[:t])
    # bar t's own close, high and OI (not its open and low) changed: long prediction for t same
    m3 = msgspec.structs.replace(
        altered(t + 1, ("open", "high", "low", "close", "oi_quote")),  # type: ignore[arg-type]
    )
    for name in ("close", "high", "oi_quote"):
        getattr(m3, name)[t] *= 1.1
    l3, _ = bar_predictions(m3, map_state(m3))
    np.testing.assert_array_equal(l3[: t + 1], base_l[: t + 1])
    assert np.isfinite(base_l[t])
    assert np.isfinite(base_s[t])
