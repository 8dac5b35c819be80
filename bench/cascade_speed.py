"""Cascade speed: 10,000 Monte Carlo cascades against a 5,000-level book.

Run: ``.venv/bin/python bench/cascade_speed.py [--repeat 5] [--json out.json]``

The issue's target: 10,000 Monte Carlo cascades against a 5,000-level book "in well under a
second" on this machine. The book is **synthetic** (said so in the output): 5,000 bid levels
one tick apart below a 60,000 USD mid, sizes lognormal around 2 BTC with a seeded generator
(≈ 0.6 B USD over 8.3 % of price); the liquidation map is 2,000 bins of 0.01 % with
gamma-distributed long notional, dense enough that typical runs take tens of steps. Cases,
interleaved (round-robin, medians reported):

* ``monte_carlo 10k``: :func:`flushwatch.analytics.cascade.monte_carlo` with 10,000 runs
  (lognormal shock around −2 % and lognormal depth multiplier), the figure of the target;
* ``simulate 1``: one cascade with its path, triggers and gain profile;
* baseline ``searchsorted 10k``: one vectorised ``np.searchsorted`` of 10,000 prices into
  the 5,000-level book: the cost of a single book walk for every run, so the ratio reads as
  "how many single-walk equivalents a whole Monte Carlo costs".

The target is shown as met / not met for information only; this script never fails on speed.
"""

from __future__ import annotations

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

from flushwatch.analytics.cascade import (
    MonteCarloParams,
    forced_flow,
    monte_carlo,
    simulate,
)
from flushwatch.analytics.depth import Book, curve_from_book

LEVELS = 5_000
RUNS = 10_000
BINS = 2_000
MID = 60_000.0
TICK = 1.0
TARGET_S = 1.0


def synthetic_inputs() -> tuple[Book, np.ndarray, np.ndarray]:
    """A seeded synthetic book and liquidation map (not market data)."""
    rng = np.random.default_rng(20240808)
    bids = MID - 0.5 * TICK - TICK * np.arange(LEVELS)
    qty = rng.lognormal(np.log(2.0), 0.8, LEVELS)
    asks = MID + 0.5 * TICK + TICK * np.arange(LEVELS)
    book = Book(
        ts_ns=0, bid_price=bids, bid_qty=qty, ask_price=asks, ask_qty=qty[::-1].copy(),
        snapshot_id=0, events_applied=0, gaps=0,
    )  # fmt: skip
    edges = MID * (1 - 0.0001 * np.arange(BINS, -1, -1))  # 2,000 bins of 0.01 % below mid
    long_usd = rng.gamma(0.6, 200_000.0, BINS)
    return book, edges, long_usd


def main() -> None:
    args = common_args(__doc__.splitlines()[0] if __doc__ else "cascade speed").parse_args()
    out = text_out(args.json)
    book, edges, long_usd = synthetic_inputs()
    depth = curve_from_book(book, "bid")
    flow = forced_flow("down", book.mid, edges, long_usd)
    mc = MonteCarloParams(runs=RUNS, seed=1)
    thresholds = [1.0, 2.0, 3.0, 5.0, 8.0]
    probe = np.random.default_rng(2).uniform(bids_lo := book.bid_price[-1], MID, RUNS)
    asc = book.bid_price[::-1].copy()
    cases = [
        Case("monte_carlo 10k", lambda: monte_carlo(flow, depth, 2.0, thresholds, mc)),
        Case(
            "simulate 1",
            lambda: simulate("down", book.mid, edges, long_usd, None, depth, shock_pct=2.0),
        ),
        Case("baseline searchsorted 10k", lambda: np.searchsorted(asc, probe)),
    ]
    res = measure(cases, args.repeat)
    base = res["baseline searchsorted 10k"][0].median
    rows = []
    for name, (timing, _) in res.items():
        rows.append([name, timing.median * 1e3, timing.best * 1e3, timing.median / base])
    mc_t = res["monte_carlo 10k"][0].median
    mc_res = res["monte_carlo 10k"][1]
    info = machine_info()
    print_machine(info, out)
    print(
        f"synthetic book: {LEVELS:,} bid levels from {book.bid_price[0]:,.1f} to {bids_lo:,.1f} "
        f"({depth.total / 1e6:,.0f} M USD), map {BINS:,} bins; {RUNS:,} runs, seed {mc.seed}",
        file=out,
    )
    print_table(["case", "median ms", "best ms", "x baseline"], rows, out)
    met = "met" if mc_t < TARGET_S else "NOT met"
    print(f"target: {RUNS:,} cascades < {TARGET_S:g} s: {met} ({mc_t * 1e3:.1f} ms)", file=out)
    print(f"P(move ≥ {thresholds} %) = {[round(p, 4) for p in mc_res.prob_beyond]}", file=out)  # type: ignore[attr-defined]
    write_json(
        args.json,
        {
            "machine": info,
            "book": "synthetic",
            "levels": LEVELS,
            "runs": RUNS,
            "bins": BINS,
            "timings": {n: t.as_dict() for n, (t, _) in res.items()},
            "ratio_mc_to_baseline": mc_t / base,
            "target_s": TARGET_S,
            "target_met": mc_t < TARGET_S,
        },
    )


if __name__ == "__main__":
    main()
