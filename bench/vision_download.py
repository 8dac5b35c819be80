"""Binance Vision download: what bounded concurrency buys against a slow host, and a rerun.

Run: ``.venv/bin/python bench/vision_download.py [--delay 0.05] [--json out.json]``

The loopback archive (127.0.0.1, :mod:`flushwatch.testing.loopback_vision`) holds the real
excerpts of ``shared/data`` zipped as Vision files; every request waits ``--delay`` seconds
first (a round trip to a far host). The plan is May 2025 of ``metrics`` and ``bookDepth`` for
HYPEUSDT and BTCUSDT: 124 daily files, 2 of them published here (HYPEUSDT metrics 05-30,
BTCUSDT bookDepth 05-19), the rest 404 (one sidecar request each). Each concurrency runs on a
fresh store and cache; then a rerun of the last store, which must send only the 122 sidecar
requests of the files still missing and add no row. Numbers are informational.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from datetime import date
from pathlib import Path

from flushwatch.api.download_vision import download_vision
from flushwatch.connectors.config import VisionConfig
from flushwatch.testing.loopback_vision import real_vision_tree, serve_vision
from flushwatch.testing.shared import data_path

KW = {
    "venue": "binanceusdm",
    "datasets": ["metrics", "bookDepth"],
    "symbols": ["HYPEUSDT", "BTCUSDT"],
    "start": date(2025, 5, 1),
    "end": date(2025, 5, 31),
    "today": date(2025, 7, 1),
}


def main() -> None:
    """Time each concurrency, then the rerun; print a table (and write JSON on request)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--delay", type=float, default=0.05)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    out: dict[str, object] = {"delay_s": args.delay}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        real_vision_tree(root / "archive", data_path())
        with serve_vision(root / "archive", delay=args.delay) as server:
            cfg = VisionConfig(base_url=server.base_url)
            for c in (1, 4, 16):
                store = root / f"store-{c}"
                sent = len(server.requests)
                t0 = time.perf_counter()
                res = download_vision(store, config=cfg, concurrency=c, **KW)  # type: ignore[arg-type]
                dt = time.perf_counter() - t0
                out[f"concurrency_{c}"] = {
                    "seconds": round(dt, 3),
                    "requests": len(server.requests) - sent,
                    "max_in_flight": server.max_in_flight,
                    "planned": res.planned,
                    "imported": res.imported,
                    "rows_added": res.rows_added,
                }
                print(
                    f"concurrency {c:>2}: {dt:6.2f} s, {res.planned} files, "
                    f"{res.imported} imported, {res.rows_added} rows"
                )
            sent = len(server.requests)
            t0 = time.perf_counter()
            res = download_vision(root / "store-16", config=cfg, concurrency=16, **KW)  # type: ignore[arg-type]
            dt = time.perf_counter() - t0
            out["rerun"] = {
                "seconds": round(dt, 3),
                "requests": len(server.requests) - sent,
                "rows_added": res.rows_added,
                "cached": res.cached,
            }
            print(
                f"rerun (16):    {dt:6.2f} s, {len(server.requests) - sent} requests, "
                f"{res.cached} from the cache, {res.rows_added} rows added"
            )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
