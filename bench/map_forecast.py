"""The liquidation map as a next-day forecast on the whole CoinGlass BTC hourly history.

Run: ``.venv/bin/python bench/map_forecast.py [--json out.json]``

Issue 13's protocol (:mod:`flushwatch.analytics.forecast_map`) on
``coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv`` (176
days, buckets spread over each bar's range: synthetic, labelled), at the default settings
(k = 2σ, 20 bins per side, top quarter, 7-day σ, issued daily at 00:00 UTC), then the same
with k = 1 and 3 and an 8-hour cadence, so a reader sees whether the verdict depends on the
fixed settings. Then ETH and SOL at the default settings, on the Binance 1h perp bars
(freqtrade) with Hyperliquid hourly OI and Hyperliquid's daily liquidation buckets (the
multivenue tables) and Hyperliquid's tiers: each daily bucket is spread over its own day's
range (synthetic, labelled); the map starts at the first OI hour (2025-12-07), the buckets end
2026-01-31, so only the days after 30 days of training are out of sample (a dozen). The priced-print
plumbing (the one OKX day) is in the tests, not here: one day says nothing about skill.

Target (issue 13, "Done when"): ``map_share`` > every baseline with ``diff_ci_low`` > 0 on
both sides, and > 32 %. Printed as met / not met; this script never fails.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path
from typing import Any

from flushwatch.analytics.forecast_map import BASELINES, ForecastParams
from flushwatch.api.forecast import forecast_market
from flushwatch.api.results import jsonable
from flushwatch.report.assemble import assemble
from flushwatch.testing.real import load_market, store_for

_FT = "freqtrade-binance-perp-spot-mark-funding-2018-2026/futures"
_MV = "multivenue-hourly-candles-funding-oi-liqprints-2025-2026"
#: ETH and SOL: price and funding from Binance (freqtrade), OI and liquidations Hyperliquid.
ALTS = {
    a: (
        f"{_FT}/{a}_USDT_USDT-1h-futures.feather",
        f"{_FT}/{a}_USDT_USDT-8h-funding_rate.feather",
        f"{_MV}/open_interest.parquet",
        f"{_MV}/liquidation_volume.parquet",
    )
    for a in ("ETH", "SOL")
}

RUNS: dict[str, ForecastParams] = {
    "default (k=2, daily)": ForecastParams(),
    "k=1": ForecastParams(k_sigma=1.0),
    "k=3": ForecastParams(k_sigma=3.0),
    "8h cadence (k=2)": ForecastParams(cadence_hours=8, horizon_hours=8, min_train_days=90),
}


def _pct(x: Any) -> str:
    return f"{100 * x:5.1f}%" if isinstance(x, float) and math.isfinite(x) else "  n/a"


def main(argv: list[str] | None = None) -> int:
    """Run the protocol and print one line per side and run."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", type=Path, default=None, help="Also write every result here.")
    args = ap.parse_args(argv)
    market = load_market("coinglass_btc_1h")
    out: dict[str, Any] = {}
    cols = " ".join(f"{b[:14]:>14}" for b in BASELINES)
    print(
        f"{'run':22} {'side':5} {'days':>4} {'map':>6} {'map×reach':>9} {cols}  map−best [95% CI]"
    )
    for name, params in RUNS.items():
        res, _ = forecast_market(market, params)
        doc = jsonable(res)
        out[name] = doc
        for side in ("long", "short"):
            s = doc[side]
            base = " ".join(f"{_pct(s['baselines'][b]):>14}" for b in BASELINES)
            print(
                f"{name:22} {side:5} {s['days']:>4} {_pct(s['map_share']):>6} "
                f"{_pct(s['map_x_reach_share']):>9} {base}  {100 * s['diff']:+.1f} pp "
                f"[{100 * s['diff_ci_low']:+.1f}, {100 * s['diff_ci_high']:+.1f}] "
                f"vs {s['best_baseline']}"
            )
        for side in ("long", "short"):
            h = doc["holdout"][side]
            print(
                f"{'  hold-out ' + name[:11]:22} {side:5} {h['days']:>4} {_pct(h['map_share']):>6} "
                f"{_pct(h['map_x_reach_share']):>9} best {h['best_baseline']} "
                f"{_pct(h['baselines'][h['best_baseline']])}  {100 * h['diff']:+.1f} pp "
                f"[{100 * h['diff_ci_low']:+.1f}, {100 * h['diff_ci_high']:+.1f}]"
            )
    d = out["default (k=2, daily)"]
    met = all(d[s]["diff_ci_low"] > 0 and d[s]["map_share"] > 0.32 for s in ("long", "short"))
    print(
        f"\nissue 13 target (beats every baseline, CI > 0, > 32 %, both sides): "
        f"{'met' if met else 'NOT met'}"
    )
    print(d["statement"])
    print("\nsensitivity (default protocol, all days, in sample):")
    for r in d["sensitivity"]:
        print(
            f"  {r['setting']:45} long {_pct(r['long_map_share'])} (×reach "
            f"{_pct(r['long_map_x_reach_share'])})  short {_pct(r['short_map_share'])} "
            f"(×reach {_pct(r['short_map_x_reach_share'])})"
        )
    print("\nETH and SOL (default protocol; Hyperliquid OI, tiers and daily buckets):")
    for asset, files in ALTS.items():
        m = assemble(store_for(files), asset, exchange="binanceusdm", step_s=3600)
        doc = jsonable(forecast_market(m, ForecastParams())[0])
        out[asset] = doc
        for side in ("long", "short"):
            s = doc[side]
            base = " ".join(f"{_pct(s['baselines'][b]):>14}" for b in BASELINES)
            print(
                f"{asset:22} {side:5} {s['days']:>4} {_pct(s['map_share']):>6} "
                f"{_pct(s['map_x_reach_share']):>9} {base}  {100 * s['diff']:+.1f} pp "
                f"[{100 * s['diff_ci_low']:+.1f}, {100 * s['diff_ci_high']:+.1f}] "
                f"vs {s['best_baseline']}"
            )
        print(doc["statement"])
    if args.json is not None:
        args.json.write_text(json.dumps(out, indent=2), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
