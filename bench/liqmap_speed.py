"""Liquidation-map speed: a 30-day, 1-minute map over 2,000 price bins (issue 4 benchmark).

Run: ``.venv/bin/python bench/liqmap_speed.py [--repeat 5] [--json out.json]``

Input: **simulated** 1-minute bars (a random walk with 0.08 % steps, wicks and a random-walk
open interest of about 5 B USD), 30 days × 1,440 = 43,200 bars; the data is made up and used
for timing only, never for a finding. Measurements (one warm-up, ``--repeat`` timed runs,
interleaved, medians):

* ``build_map``: the full estimate (exact Binance isolated liquidation prices for 10
  leverage buckets × both sides at every bar where OI rose, consumption, closures), final
  map only;
* ``build_map + heatmap``: the same, also keeping the map every 60 bars (720 × 2,000 × 2);
* baseline ``np.histogram``: one histogram of as many entries as the map places
  (bars × buckets × 2 sides) into 2,000 bins: the cost of merely binning the same volume of
  numbers once, with no time order.

``x baseline`` is a median divided by the baseline's median in the same run. The issue's
target ("well under a second") is printed as met / not met for information only.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from _common import (
    Case,
    common_args,
    machine_info,
    measure,
    print_machine,
    print_table,
    text_out,
    write_json,
)

from flushwatch.analytics.liqmap import LiqMapParams, build_map
from flushwatch.analytics.mechanics import BINANCE_BTCUSDT_2021

DAYS, PER_DAY, BINS = 30, 1440, 2000
TARGET_S = 1.0


def simulated_market(seed: int = 7) -> dict[str, Any]:
    """Synthetic 1-minute bars and OI (timing input only)."""
    rng = np.random.default_rng(seed)
    n = DAYS * PER_DAY
    close = 60_000 * np.exp(np.cumsum(rng.normal(0, 0.0008, n)))
    opn = np.concatenate([[60_000.0], close[:-1]])
    high = np.maximum(opn, close) * (1 + np.abs(rng.normal(0, 0.0004, n)))
    low = np.minimum(opn, close) * (1 - np.abs(rng.normal(0, 0.0004, n)))
    oi = 5e9 * np.exp(np.cumsum(rng.normal(0, 0.0005, n))) * close / 60_000
    ts = np.arange(n, dtype=np.int64) * 60 * 10**9
    return {"ts": ts, "open": opn, "high": high, "low": low, "close": close, "oi": oi}


def main() -> None:
    args = common_args(__doc__.splitlines()[0]).parse_args()
    out = text_out(args.json)
    mk = simulated_market()
    params = LiqMapParams(n_bins=BINS)
    n_entries = mk["ts"].size * len(params.leverages) * 2
    entries = np.random.default_rng(1).uniform(30_000, 90_000, n_entries)

    def run(every: int) -> object:
        return build_map(
            mk["ts"], mk["open"], mk["high"], mk["low"], mk["close"], mk["oi"], params,
            BINANCE_BTCUSDT_2021, snapshot_every=every,
        )  # fmt: skip

    cases = [
        Case("build_map", lambda: run(0)),
        Case("build_map + heatmap", lambda: run(60)),
        Case("baseline np.histogram", lambda: np.histogram(entries, bins=BINS)),
    ]
    res = measure(cases, args.repeat)
    base = res["baseline np.histogram"][0].median
    rows = []
    for name, (timing, _) in res.items():
        ok = "met" if timing.median < TARGET_S else "not met"
        rows.append([name, timing.median, timing.median / base, ok if "build" in name else "-"])
    info = machine_info()
    print_machine(info, out)
    print(
        f"input: SIMULATED 1-minute bars, {mk['ts'].size:,} bars, {BINS:,} bins, "
        f"{n_entries:,} baseline entries (timing only)",
        file=out,
    )
    print_table(["measurement", "median s", "x baseline", f"< {TARGET_S:g} s"], rows, out)
    write_json(
        args.json,
        {
            "machine": info,
            "bars": int(mk["ts"].size),
            "bins": BINS,
            "simulated_input": True,
            "timings": [t.as_dict() for t, _ in res.values()],
            "ratios_vs_baseline": {k: t.median / base for k, (t, _) in res.items()},
        },
    )


if __name__ == "__main__":
    main()
