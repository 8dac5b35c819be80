"""Fragility over a universe: how long the like-with-like ranking takes and what it says.

Run: ``.venv/bin/python bench/fragility.py --store DIR [--at 2025-10-11T00:00Z] [--repeat 5]``

Build the store first from the freqtrade folder (real data, about 17 s here)::

    flushwatch import ../shared/data/freqtrade-binance-perp-spot-mark-funding-2018-2026/futures \\
        ../shared/data/freqtrade-binance-perp-spot-mark-funding-2018-2026/spot --store DIR

Cases, interleaved (medians reported): ``fragility`` (``Workspace.fragility`` over every
asset with bars: six dataset reads, then the per-asset inputs and the ranking) and, as the
baseline, ``read bars`` (the one read of the bars dataset over the same look-back that
``fragility`` itself does), so the ratio says how much of the time is the rest. It then prints
how many assets were ranked and set apart, the top and bottom five and the group medians.
"""

from __future__ import annotations

from pathlib import Path

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

import flushwatch
from flushwatch.api import to_ns
from flushwatch.domain.records import Bar
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore


def main() -> None:
    parser = common_args(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--store", type=Path, required=True, help="store folder")
    parser.add_argument("--at", default="2025-10-11T00:00Z", help="as-of time (ISO, UTC)")
    args = parser.parse_args()
    out = text_out(args.json)
    ws = flushwatch.open(args.store)
    at = to_ns(args.at, "at")
    reader = AsOfStore(Store.open(args.store, create=False), at)
    look_back = (720 + 2) * 3600 * 10**9  # FragilityParams.beta_window_h + 2 bars
    cases = [
        Case("fragility", lambda: ws.fragility(at=args.at)),
        Case("read bars", lambda: reader.read(Bar, start_ns=at - look_back)),
    ]
    res = measure(cases, args.repeat)
    frag, ranking = res["fragility"]
    bars, _ = res["read bars"]
    info = machine_info()
    print_machine(info, out)
    print_table(
        ("case", "median s", "min s", "× read bars"),
        [(t.name, t.median, t.best, t.median / bars.median) for t in (frag, bars)],
        out,
    )
    doc = ranking.to_dict()  # type: ignore[attr-defined]
    markets, apart = doc["markets"], doc["apart"]
    lacking = ", ".join(a["asset"] + ": " + ", ".join(a["lacks"]) for a in apart)
    print(
        f"\nas of {args.at}: {len(markets)} ranked on {', '.join(doc['inputs_used'])}; "
        f"{len(apart)} set apart ({lacking})",
        file=out,
    )
    print(f"bars: {doc['bars']}; score: {doc['method']}", file=out)
    used = doc["inputs_used"]
    rows = [
        (m["rank"], m["asset"], m["group"], m["score"], *(m["components"][c] for c in used))
        for m in markets
    ]
    print_table(("rank", "asset", "group", "score", *used), rows[:5] + rows[-5:], out)
    print("\ngroup medians", file=out)
    print_table(
        ("group", "n", *used),
        [
            (g["group"], len(g["assets"]), *(g["median"].get(c) for c in used))
            for g in doc["groups"]
        ],
        out,
    )
    write_json(
        args.json,
        {"machine": info, "timings": [frag.as_dict(), bars.as_dict()], "ranking": doc},
    )


if __name__ == "__main__":
    main()
