"""The verdict scorecard over a whole store of the shared data, and issue 12's targets.

Run: ``.venv/bin/python bench/scorecard.py --store DIR [--assets BTC,ETH] [--json out.json]
[--html out.html]``

``--store`` is a store holding the shared data, e.g. one built with::

    flushwatch import --store DIR --keep-going \\
        ../shared/data/freqtrade-binance-perp-spot-mark-funding-2018-2026 \\
        ../shared/data/coinglass-btc-liq-oi-funding-2025-2026 \\
        ../shared/data/multivenue-hourly-candles-funding-oi-liqprints-2025-2026

It is only read. This is exactly ``flushwatch scorecard --store DIR --json`` (the same API
call), plus the targets of issue 12's "Done when", printed as met / not met:

* ≥ 150 flushes scored on ≥ 10 assets;
* no asset-year with more than 40 events (episodes: a flush and its re-flares within a day;
  each detector card says why where one has more);
* at least one outcome whose pooled out-of-sample Brier score beats its walk-forward base rate
  with a 95 % calendar-day block-bootstrap interval below zero.

It also prints which base rate the scored events got (own / pooled / shrunk toward the pool)
and how often the model fell back to the base rate (its walk-forward record was worse).

A quality bench, not a speed one (the wall time is printed for orientation only): assembling
40 assets of hourly history since 2019 takes minutes. This script never fails on a target.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import flushwatch
from flushwatch.analytics.detector_card import CardParams
from flushwatch.report.scorecard_html import write_html
from flushwatch.report.scorecard_rows import OUTCOME_HEADER, outcome_cells

CAP = CardParams().max_events_per_year


def _print_table(header: tuple[str, ...], rows: list[list[str]]) -> None:
    """Columns padded to their widest cell (the terminal command draws the same rows)."""
    widths = [max(len(c) for c in col) for col in zip(header, *rows, strict=True)]
    for row in (list(header), *rows):
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--store", type=Path, required=True)
    ap.add_argument("--assets", default=None, help="comma-separated (default: every asset)")
    ap.add_argument("--json", type=Path, default=None, help="write the scorecard JSON here")
    ap.add_argument("--html", type=Path, default=None, help="write the HTML page here")
    args = ap.parse_args(argv)

    ws = flushwatch.open(args.store)
    assets = args.assets.split(",") if args.assets else None
    t0 = time.perf_counter()

    def progress(asset: str, i: int, n: int) -> None:
        print(f"[{i + 1}/{n}] {asset}  ({time.perf_counter() - t0:.0f} s)", file=sys.stderr)

    card = ws.scorecard(assets, progress=progress)
    elapsed = time.perf_counter() - t0
    doc = card.to_dict()
    if args.json:
        args.json.write_text(json.dumps(doc, indent=2))
    if args.html:
        write_html(args.html, card.html())

    scored_assets = [a for a in card.per_asset if a["events_scored"] > 0]
    print(f"scorecard over {len(card.per_asset)} assets in {elapsed:.0f} s")
    print(f"{'asset':8} {'episodes':>8} {'flushes':>8} {'scored':>7}  detected by")
    for a in card.per_asset:
        found = ",".join(a["detected_by"])
        print(f"{a['asset']:8} {a['events']:8d} {a['flushes']:8d} {a['events_scored']:7d}  {found}")
    print()
    _print_table(OUTCOME_HEADER, [outcome_cells(oid, s) for oid, s in card.outcomes.items()])
    print()
    print("base rate used (events) and model fallbacks, per outcome:")
    for oid, sc in card.outcomes.items():
        used = ", ".join(f"{k} {v}" for k, v in sc.rate_sources.items()) or "none"
        print(f"  {oid:18} {used}; model {sc.n_model}, fell back {sc.n_fell_back}")
    print()
    for line in card.summary:
        print(line)
    over = [
        (a["asset"], year, n)
        for a in card.per_asset
        for year, n in a["detector"].events_per_year.items()
        if n > CAP
    ]
    for a in card.per_asset:
        d = a["detector"]
        if d.recall is not None:
            print(
                f"detector {a['asset']}: recall {d.clusters_found}/{d.clusters}, precision "
                f"{d.flushes_with_notable}/{d.flushes_judged}, episodes per year "
                f"{d.events_per_year} (flushes {d.flushes_per_year})"
            )
        for note in d.notes:
            if "over the cap" in note:
                print(f"  {a['asset']}: {note}")
    many = card.events_scored >= 150 and len(scored_assets) >= 10
    beats = [k for k, s in card.outcomes.items() if s.beats_base_rate]
    print()
    print(
        f"target ≥150 flushes on ≥10 assets: {card.events_scored} on {len(scored_assets)} → "
        + ("met" if many else "NOT met")
    )
    print(
        "target no asset-year over 40 events: "
        + (
            "met"
            if not over
            else "NOT met (" + ", ".join(f"{a} {y}: {n}" for a, y, n in over) + ")"
        )
    )
    print(
        "target: an outcome beats its base rate (CI < 0): "
        + (f"met ({', '.join(beats)})" if beats else "NOT met")
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
