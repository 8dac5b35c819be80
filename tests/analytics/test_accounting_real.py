"""Accounting of the real CoinGlass buckets around the 2026-02-05/06 BTC long flush."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

from flushwatch.analytics.accounting import account_liquidations
from flushwatch.domain.records import LiquidationBucket
from flushwatch.domain.time import parse_iso

FILE = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
START, END = "2026-02-05T20:00:00Z", "2026-02-06T01:00:00Z"


def test_five_hours_of_the_flush(shared_data: Path) -> None:
    from flushwatch.testing.real import store_for

    start, end = parse_iso(START), parse_iso(END)
    # expected sums re-read from the CSV with plain csv (20:00, 21:00, 22:00, 23:00, 00:00)
    long_usd = short_usd = 0.0
    with (shared_data / FILE).open(newline="") as fh:
        for row in csv.DictReader(fh):
            if start <= int(row["timestamp"]) * 10**6 < end:
                long_usd += float(row["liquidation_long_usd"])
                short_usd += float(row["liquidation_short_usd"])
    assert long_usd == pytest.approx(245.0e6, abs=0.1e6)  # and short ≈ $67.1M

    buckets = store_for((FILE,)).read(LiquidationBucket, start_ns=start, end_ns=end)
    a = account_liquidations(None, buckets, start, end)
    assert a.venue_prints_total is None  # no venue prints: nothing to add up across sources
    (row,) = a.by_coverage
    assert row.source_kind == "vendor_aggregate"
    assert row.source.startswith("coinglass")
    assert not row.lower_bound
    assert row.long_usd == pytest.approx(long_usd)
    assert row.short_usd == pytest.approx(short_usd)
    top = next(r for r in a.largest_hours if r.source == row.source)
    assert top.ts == parse_iso("2026-02-05T20:00:00Z")  # $134.3M long + $7.9M short
