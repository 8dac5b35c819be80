"""Liquidation accounting: exact sums, and sources of different coverage kept apart."""

from __future__ import annotations

import msgspec
import polars as pl
import pytest

from flushwatch.analytics.accounting import (
    AccountingParams,
    LiqTotal,
    LiquidationAccount,
    account_liquidations,
)
from flushwatch.domain.symbols import base_asset

H = 3600 * 10**9


def _prints(rows: list[tuple[int, str, str, str, float, str]]) -> pl.DataFrame:
    """Rows of (ts, exchange, symbol, side, notional, coverage) in the store's columns."""
    return pl.DataFrame(
        {
            "ts_event": [r[0] for r in rows],
            "exchange": [r[1] for r in rows],
            "market": ["perp"] * len(rows),
            "symbol": [r[2] for r in rows],
            "ts_recv": [None] * len(rows),
            "side": [r[3] for r in rows],
            "price": [100.0] * len(rows),
            "qty": [r[4] / 100.0 for r in rows],
            "notional": [r[4] for r in rows],
            "venue_side": ["SELL" if r[3] == "long" else "BUY" for r in rows],
            "coverage": [r[5] for r in rows],
            "avg_price": [None] * len(rows),
            "status": [None] * len(rows),
        },
        schema_overrides={"ts_recv": pl.Int64, "avg_price": pl.Float64, "status": pl.String},
    )


def _buckets(rows: list[tuple[int, str, int, float, float, str]]) -> pl.DataFrame:
    """Rows of (ts, vendor, interval_s, long_usd, short_usd, venues)."""
    return pl.DataFrame(
        {
            "ts_event": [r[0] for r in rows],
            "exchange": [r[1] for r in rows],
            "market": ["perp"] * len(rows),
            "symbol": ["BTC"] * len(rows),
            "ts_recv": [None] * len(rows),
            "interval_s": [r[2] for r in rows],
            "long_usd": [r[3] for r in rows],
            "short_usd": [r[4] for r in rows],
            "venues": [r[5] for r in rows],
        },
        schema_overrides={"ts_recv": pl.Int64},
    )


PRINTS = _prints(
    [
        (0, "binanceusdm", "BTCUSDT", "long", 100.0, "throttled"),
        (10, "bybit", "BTCUSDT", "short", 50.0, "complete"),
        (H + 5, "hyperliquid", "BTC", "long", 1000.0, "complete"),
        (H + 6, "okx", "ETH-USDT-SWAP", "short", 7.0, "throttled"),
        (2 * H, "binanceusdm", "BTCUSDT", "long", 999.0, "throttled"),  # at end: excluded
    ]
)
BUCKETS = _buckets(
    [
        (0, "coinglass", 3600, 500.0, 20.0, "Binance,Bybit,OKX"),
        (H, "coinglass", 3600, 10.0, 0.0, "Binance,Bybit,OKX"),
        (0, "coinalyze", 3600, 400.0, 30.0, "all"),
    ]
)


def _one(rows: list[LiqTotal], **match: object) -> LiqTotal:
    found = [r for r in rows if all(getattr(r, k) == v for k, v in match.items())]
    assert len(found) == 1, found
    return found[0]


def test_mixed_coverage_kept_apart() -> None:
    a = account_liquidations(PRINTS, BUCKETS, 0, 2 * H, oi_quote=100_000.0)
    # one row per print coverage class and one per vendor source: never one grand total
    assert {(r.source, r.key) for r in a.by_coverage} == {
        ("venue prints", "complete"),
        ("venue prints", "throttled"),
        ("coinglass (Binance,Bybit,OKX)", "aggregated"),
        ("coinalyze (all)", "aggregated"),
    }
    complete = _one(a.by_coverage, key="complete")
    assert (complete.long_usd, complete.short_usd, complete.count) == (1000.0, 50.0, 2)
    assert (complete.lower_bound, complete.label) == (False, "complete")
    throttled = _one(a.by_coverage, key="throttled")
    assert (throttled.long_usd, throttled.short_usd, throttled.count) == (100.0, 7.0, 2)
    assert throttled.lower_bound
    assert "lower bound" in throttled.label
    cg = _one(a.by_coverage, source="coinglass (Binance,Bybit,OKX)")
    assert (cg.long_usd, cg.short_usd, cg.total_usd) == (510.0, 20.0, 530.0)
    assert cg.source_kind == "vendor_aggregate"
    assert not cg.lower_bound
    assert cg.pct_of_oi == pytest.approx(0.53)
    # the only cross-source sum: venue prints, labelled lower bound (a throttled feed is in it)
    t = a.venue_prints_total
    assert t is not None
    assert (t.long_usd, t.short_usd, t.total_usd, t.count) == (1100.0, 57.0, 1157.0, 4)
    assert t.lower_bound
    assert t.pct_of_oi == pytest.approx(1.157)


def test_by_asset_venue_hour() -> None:
    a = account_liquidations(PRINTS, BUCKETS, 0, 2 * H)
    btc = _one(a.by_asset, source="venue prints", key="BTC")
    assert (btc.long_usd, btc.short_usd, btc.lower_bound) == (1100.0, 50.0, True)
    eth = _one(a.by_asset, source="venue prints", key="ETH")
    assert (eth.short_usd, eth.lower_bound) == (7.0, True)
    hl = _one(a.by_venue, source="venue prints", key="hyperliquid")
    assert (hl.long_usd, hl.lower_bound, hl.label) == (1000.0, False, "complete")
    assert _one(a.by_venue, key="binanceusdm").lower_bound
    h0 = _one(a.by_hour, source="venue prints", ts=0)
    assert (h0.key, h0.long_usd, h0.short_usd) == ("1970-01-01 00:00", 100.0, 50.0)
    h1 = _one(a.by_hour, source="venue prints", ts=H)
    assert (h1.long_usd, h1.short_usd, h1.lower_bound) == (1000.0, 7.0, True)
    assert _one(a.by_hour, source="coinalyze (all)", ts=0).total_usd == 430.0


def test_only_complete_prints_are_not_a_lower_bound() -> None:
    prints = PRINTS.filter(pl.col("coverage") == "complete")
    t = account_liquidations(prints, None, 0, 2 * H).venue_prints_total
    assert t is not None
    assert (t.total_usd, t.lower_bound, t.label) == (1050.0, False, "complete")


def test_unknown_coverage_is_a_lower_bound() -> None:
    prints = _prints([(0, "x", "BTCUSDT", "long", 5.0, "unknown")])
    t = account_liquidations(prints, None, 0, H).venue_prints_total
    assert t is not None
    assert t.lower_bound
    assert "unknown" in t.label


def test_aggregated_prints_stay_out_of_the_venue_total() -> None:
    prints = _prints(
        [
            (0, "bybit", "BTCUSDT", "long", 5.0, "complete"),
            (0, "vendorx", "BTCUSDT", "long", 50.0, "aggregated"),
        ]
    )
    a = account_liquidations(prints, None, 0, H)
    assert a.venue_prints_total is not None
    assert a.venue_prints_total.total_usd == 5.0
    agg = _one(a.by_coverage, source="vendorx (aggregated prints)")
    assert (agg.total_usd, agg.source_kind) == (50.0, "vendor_aggregate")
    assert [p.notional for p in a.largest_prints] == [5.0]


def test_largest_hours_and_prints_top_n() -> None:
    a = account_liquidations(PRINTS, BUCKETS, 0, 2 * H, p=AccountingParams(top_n=1))
    venue = [r for r in a.largest_hours if r.source == "venue prints"]
    assert [(r.ts, r.total_usd) for r in venue] == [(H, 1007.0)]
    assert [(r.ts, r.total_usd) for r in a.largest_hours if r.source.startswith("coinglass")] == [
        (0, 520.0)
    ]
    assert [(p.exchange, p.notional, p.side) for p in a.largest_prints] == [
        ("hyperliquid", 1000.0, "long")
    ]


def test_window_edges_and_bucket_notes() -> None:
    buckets = _buckets(
        [
            (0, "cg", 3600, 1.0, 0.0, "all"),
            (H, "cg", 7200, 2.0, 0.0, "all"),  # ends at 3 H: straddles a [0, 2 H) window
            (0, "cg4h", 4 * 3600, 4.0, 0.0, "all"),
        ]
    )
    a = account_liquidations(None, buckets, 0, 2 * H)
    assert _one(a.by_coverage, source="cg (all)").total_usd == 1.0
    assert any("straddle" in n for n in a.notes)
    b = account_liquidations(None, buckets, 0, 4 * H)
    assert _one(b.by_coverage, source="cg4h (all)").total_usd == 4.0
    assert not [r for r in b.by_hour if r.source == "cg4h (all)"]
    assert any("longer than an hour" in n for n in b.notes)


def test_missing_inputs() -> None:
    a = account_liquidations(None, None, 0, H)
    assert a.by_coverage == []
    assert a.venue_prints_total is None
    assert a.notes
    b = account_liquidations(PRINTS, None, 5 * H, 6 * H)  # nothing in the window
    assert b.venue_prints_total is None
    c = account_liquidations(PRINTS, None, 0, 2 * H)
    assert all(r.pct_of_oi is None for r in c.by_coverage)  # no OI given: no ratio


def test_serializes_to_json() -> None:
    a = account_liquidations(PRINTS, BUCKETS, 0, 2 * H, oi_quote=1e5)
    back = msgspec.json.decode(msgspec.json.encode(a), type=LiquidationAccount)
    assert back == a


@pytest.mark.parametrize(
    ("symbol", "asset"),
    [
        ("BTCUSDT", "BTC"),
        ("BTC-USDT-SWAP", "BTC"),
        ("BTCUSD_PERP", "BTC"),
        ("BTC", "BTC"),
        ("BTC/USDT:USDT", "BTC"),
        ("ETHUSDC", "ETH"),
        ("XBTUSD", "BTC"),
    ],
)
def test_base_asset(symbol: str, asset: str) -> None:
    assert base_asset(symbol) == asset
