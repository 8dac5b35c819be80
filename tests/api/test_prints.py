"""Recent liquidation prints and hour totals (flushwatch.api.prints), on the real OKX and
Hyperliquid prints of the multi-venue folder, checked against the parsed file itself."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from flushwatch.api import prints
from flushwatch.domain.records import Liquidation
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.real import store_for

FILE = (
    "multivenue-hourly-candles-funding-oi-liqprints-2025-2026/liquidations__commit_fadd49d.parquet"
)
HOUR = 3600 * 10**9


@pytest.fixture(scope="module")
def store() -> Store:
    return store_for((FILE,))


@pytest.fixture(scope="module")
def raw(shared_data: Path) -> pl.DataFrame:
    return parse(shared_data / FILE).frames[Liquidation]


def test_latest_prints_are_the_files_last(store: Store, raw: pl.DataFrame) -> None:
    got = prints.recent(store, limit=5)
    last = raw.sort("ts_event").tail(5)
    assert [r["ts_event"] for r in got] == last.get_column("ts_event").to_list()
    assert [r["notional"] for r in got] == pytest.approx(last.get_column("notional").to_list())
    assert all(r["time"].startswith("20") for r in got)


def test_cursor_pages_forward_in_time_order(store: Store, raw: pl.DataFrame) -> None:
    ts = raw.sort("ts_event").get_column("ts_event")
    cursor = int(ts[100])
    page = prints.recent(store, after_ts=cursor, limit=20)
    assert len(page) == 20
    assert page[0]["ts_event"] == cursor
    assert [r["ts_event"] for r in page] == sorted(r["ts_event"] for r in page)
    assert [r["ts_event"] for r in page] == ts.filter(ts >= cursor).head(20).to_list()


def test_hour_totals_equal_the_files_sums(store: Store, raw: pl.DataFrame) -> None:
    busiest = (
        raw.with_columns((pl.col("ts_event") // HOUR * HOUR).alias("h"))
        .group_by("h")
        .len()
        .sort(["len", "h"], descending=[True, False])
        .row(0, named=True)
    )
    hour = int(busiest["h"])
    inside = raw.filter((pl.col("ts_event") >= hour) & (pl.col("ts_event") < hour + HOUR))
    totals = prints.hour_totals(store, hour + 1234)  # any instant inside the hour
    assert totals.count == inside.height == busiest["len"]
    assert totals.long_usd == pytest.approx(
        inside.filter(pl.col("side") == "long").get_column("notional").sum()
    )
    assert totals.short_usd == pytest.approx(
        inside.filter(pl.col("side") == "short").get_column("notional").sum()
    )
    partial = inside.get_column("coverage").is_in(["throttled", "unknown"]).any()
    assert totals.lower_bound is bool(partial)


def test_a_store_without_prints_answers_nothing(tmp_path: Path) -> None:
    empty = Store.open(tmp_path / "s")
    assert prints.recent(empty) == []
    assert prints.hour_totals(empty, 0).count == 0
