"""Liquidation buckets of another interval than the price, joined onto its grid (issue 12).

A constructed store: ten days of 1-hour perp bars and 4-hour vendor buckets covering days
3–8 only. A bucket's USD goes whole on the bar where the bucket closes (never spread over
hours it was not measured on); bars outside the buckets' coverage are NaN, so the detector
judges liquidations where they exist and falls back to price and volume elsewhere only.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from flushwatch.analytics.flushes import detect_flushes, liquidation_coverage
from flushwatch.domain.records import Bar, LiquidationBucket
from flushwatch.domain.tables import frame_from_records
from flushwatch.ingest.base import Parsed
from flushwatch.report.assemble import assemble
from flushwatch.store import Store

H = 3600 * 10**9
T0 = 1_767_225_600 * 10**9  # 2026-01-01T00:00Z
BARS = 240
FIRST_BUCKET, LAST_BUCKET = 12, 47  # 4-hour buckets: days 3 to 8 (bars 48 .. 191)
SPIKE_BUCKET = 40  # bars 160–163
MISSING_BUCKET = 30  # the vendor skipped it: its closing bar reads 0, not NaN


def _bucket_usd(k: int) -> float:
    return 5e7 if k == SPIKE_BUCKET else 4e5 * (1.0 + 0.5 * np.sin(k))


def _write(root: Path) -> Store:
    store = Store.open(root)
    bars = [
        Bar(ts_event=T0 + i * H, exchange="binanceusdm", market="perp", symbol="BTCUSDT",
            price_kind="trade", interval_s=3600, open=100.0, high=100.5, low=99.5, close=100.0,
            volume_quote=1e6)
        for i in range(BARS)
    ]  # fmt: skip
    buckets = [
        LiquidationBucket(ts_event=T0 + 4 * k * H, exchange="vendor", market="perp",
            symbol="BTC", interval_s=4 * 3600, long_usd=_bucket_usd(k), short_usd=1e4,
            venues="Binance,Bybit,OKX")
        for k in range(FIRST_BUCKET, LAST_BUCKET + 1)
        if k != MISSING_BUCKET
    ]  # fmt: skip
    # A 30-minute export of another venue set over the first 80 hours (160 buckets): it covers
    # 80 hours of the grid, fewer than the 4-hour series' 140, so it is not the one chosen.
    buckets += [
        LiquidationBucket(ts_event=T0 + k * H // 2, exchange="vendor", market="perp",
            symbol="BTC", interval_s=1800, long_usd=1e5, short_usd=1e4, venues="Binance")
        for k in range(160)
    ]  # fmt: skip
    src = root.parent / "constructed.txt"
    src.write_text("constructed bars and 4-hour liquidation buckets")
    p = Parsed(path=src, format="test")
    p.add(Bar, frame_from_records(Bar, bars, lines=range(1, len(bars) + 1)))
    p.add(
        LiquidationBucket,
        frame_from_records(LiquidationBucket, buckets, lines=range(1, len(buckets) + 1)),
    )
    store.write([p])
    return store


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    return _write(tmp_path_factory.mktemp("assemble") / "store")


def test_coarse_buckets_sit_on_their_closing_bar(store: Store) -> None:
    m = assemble(store, "BTC")
    assert m.step_s == 3600
    assert m.liq_interval_s == 4 * 3600
    assert m.liq_long is not None
    assert m.liq_short is not None
    closes = [4 * k + 3 for k in range(FIRST_BUCKET, LAST_BUCKET + 1)]
    expected = np.full(BARS, np.nan)
    for k in range(FIRST_BUCKET, LAST_BUCKET + 1):
        expected[4 * k + 3] = 0.0 if k == MISSING_BUCKET else _bucket_usd(k)
    np.testing.assert_array_equal(m.liq_long, expected)
    assert np.flatnonzero(np.isfinite(m.liq_short)).tolist() == closes
    # Every USD of the store is on the grid once, none invented.
    total = sum(_bucket_usd(k) for k in range(FIRST_BUCKET, LAST_BUCKET + 1) if k != 30)
    assert float(np.nansum(m.liq_long)) == pytest.approx(total, rel=1e-12)
    text = m.sources["liquidations"]
    assert "240m vendor buckets" in text
    assert "where it closes" in text
    assert "covers 2026-01-03T03:00" in text  # the first bucket closes at 04:00
    assert "1 overlapping export(s) not added" in text  # the 30-minute one


def test_detector_uses_the_buckets_and_falls_back_only_outside_them(store: Store) -> None:
    m = assemble(store, "BTC")
    covered = liquidation_coverage(m)
    # Bars 48–191 hold the buckets; the three after the last close would belong to a bucket
    # still open (as of a live time), so they are not judged on price and volume either.
    assert covered.tolist() == [False] * 48 + [True] * (144 + 3) + [False] * 45
    events = detect_flushes(m)
    assert [(e.detected_by, (e.start_ts - T0) // H, (e.peak_ts - T0) // H) for e in events] == [
        ("liquidations", 4 * SPIKE_BUCKET, 4 * SPIKE_BUCKET + 3)
    ]
    (e,) = events
    assert e.liq_long_usd == 5e7
    assert e.end_ts == T0 + (4 * SPIKE_BUCKET + 3) * H


def test_buckets_as_fine_as_the_bars_are_unchanged(tmp_path: Path) -> None:
    # The 4-hour series on a 4-hour grid: one value per bar, no bucket interval to report.
    m = assemble(_write(tmp_path / "store"), "BTC", step_s=4 * 3600)
    assert m.liq_interval_s is None
    assert m.liq_long is not None
    finite = np.isfinite(m.liq_long)
    assert finite.sum() == LAST_BUCKET - FIRST_BUCKET + 1
    assert m.liq_long[finite].tolist()[SPIKE_BUCKET - FIRST_BUCKET] == 5e7
