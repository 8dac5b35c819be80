"""Vendor API downloads: the whole shared CoinGlass BTC hourly export through each client.

Run: ``.venv/bin/python bench/vendor_download.py [--json out.json]``

The loopback vendor (127.0.0.1, :mod:`flushwatch.testing.loopback_vendors`) serves the 4,312
real hours of ``btc_regime_1h_2025-12-04_2026-06-02.csv``. CoinGlass (plan ``professional``,
1,200 requests a minute; 1,000 rows a page): liquidations, Binance BTCUSDT OI and funding.
Coinalyze (``BTCUSDT_PERP.A``, 1,000 intervals a page, 40 calls a minute): OI, funding,
liquidations, OHLCV. Each on a fresh store, then a rerun, which must fetch no history page
(every page held whole) and add no row. The rate limiter's waits are reported apart: at 40
calls a minute Coinalyze's 21 calls fit the first minute's burst. Numbers are informational.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from flushwatch.api.download_vendors import VendorStats, download_coinalyze, download_coinglass
from flushwatch.connectors.coinalyze import CoinalyzeClient
from flushwatch.connectors.coinglass_api import CoinGlassClient, Request
from flushwatch.connectors.vendor_config import CoinalyzeConfig, CoinGlassConfig
from flushwatch.domain.time import parse_iso
from flushwatch.store import Store
from flushwatch.testing.loopback_vendors import REGIME, VendorLoopback, regime_rows, serve
from flushwatch.testing.shared import data_path

KEY = "bench-key"
START, END = parse_iso("2025-12-04T06:00Z"), parse_iso("2026-06-02T06:00Z")


async def _coinglass(base: str, store: Store, folder: Path) -> VendorStats:
    cfg = CoinGlassConfig(base_url=base, plan="professional")
    req = Request("BTC", "Binance,Bybit,OKX", "1h", "BTCUSDT")
    one = Request("BTC", "Binance", "1h", "BTCUSDT")
    async with CoinGlassClient(cfg, KEY) as client:
        await download_coinglass(
            client, req, ["liquidations"], START, END, recordings=folder, store=store
        )
        return await download_coinglass(
            client, one, ["oi", "funding"], START, END, recordings=folder, store=store
        )


async def _coinalyze(base: str, store: Store, folder: Path) -> VendorStats:
    cfg = CoinalyzeConfig(base_url=base + "/v1")
    async with CoinalyzeClient(cfg, KEY) as client:
        return await download_coinalyze(
            client,
            ["BTCUSDT_PERP.A"],
            ["oi", "funding", "liquidations", "ohlcv"],
            "1hour",
            START,
            END,
            recordings=folder,
            store=store,
        )


def main() -> None:
    """Time each vendor's download and its rerun; print a table (and JSON on request)."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rows = regime_rows(data_path(REGIME))
    out = []
    for vendor, go in (("coinglass", _coinglass), ("coinalyze", _coinalyze)):
        with tempfile.TemporaryDirectory() as tmp, serve(VendorLoopback(rows, key=KEY)) as lb:
            store = Store.open(Path(tmp) / "store")
            for run in ("first", "rerun"):
                lb.served.requests.clear()
                t0 = time.perf_counter()
                stats = asyncio.run(go(lb.base, store, Path(tmp) / "rec"))
                secs = time.perf_counter() - t0
                added = sum(stats.rows_added.values())
                out.append(
                    {
                        "vendor": vendor,
                        "run": run,
                        "seconds": round(secs, 2),
                        "requests": len(lb.served.requests),
                        "rows_added": added,
                        "waited_s": stats.waited_s,
                    }
                )
    print(f"{'vendor':<10} {'run':<6} {'seconds':>8} {'requests':>9} {'rows added':>11}")
    for r in out:
        print(
            f"{r['vendor']:<10} {r['run']:<6} {r['seconds']:>8} {r['requests']:>9} "
            f"{r['rows_added']:>11,}"
        )
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
