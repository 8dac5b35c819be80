"""The real Binance USD-M BTCUSDT book (hftbacktest recording, 2024-08-08 23:54–00:00 UTC),
imported through the product path and rebuilt from its REST snapshot plus depth diffs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl
import pytest

from flushwatch.analytics.cascade import simulate
from flushwatch.analytics.depth import curve_from_book, rebuild_book
from flushwatch.api.cascade import book_curve
from flushwatch.domain.records import BookUpdate, Quote
from flushwatch.store import Store
from flushwatch.testing.real import store_for

FILE = ("hftbacktest-binance-ws-2024-08-08/usdm_btcusdt_20240808.gz",)
T_2355 = 1_723_161_300_000_000_000  # 2024-08-08T23:55:00Z


@pytest.fixture(scope="module")
def store(shared_data: Path) -> Store:
    assert shared_data.is_dir()
    return store_for(FILE)


@pytest.fixture(scope="module")
def cols(store: Store) -> tuple[np.ndarray, ...]:
    df = store.read(BookUpdate)

    def col(name: str, dtype: type = np.float64) -> np.ndarray:
        return df.get_column(name).fill_null(-1).to_numpy().astype(dtype)

    return (
        col("ts_event", np.int64),
        (df.get_column("side") == "bid").to_numpy(),
        col("price"),
        col("qty"),
        df.get_column("is_snapshot").to_numpy(),
        col("update_id", np.int64),
        col("first_update_id", np.int64),
        col("prev_update_id", np.int64),
    )


def test_snapshot_plus_diffs_match_the_recorded_book_ticker(
    store: Store, cols: tuple[np.ndarray, ...]
) -> None:
    book = rebuild_book(T_2355, *cols)
    # Checked by hand in the file: the last bookTicker before 23:55:00 (E=…299838) is
    # b=61807.7 B=5.294, a=61807.8 A=0.739; the REST snapshot has lastUpdateId 5123107852948.
    assert (book.best_bid, book.best_ask) == (61807.7, 61807.8)
    assert (book.bid_qty[0], book.ask_qty[0]) == (5.294, 0.739)
    assert book.snapshot_id == 5_123_107_852_948
    assert book.gaps == 0  # the pu → u chain is unbroken
    assert np.all(np.diff(book.bid_price) < 0)
    assert np.all(np.diff(book.ask_price) > 0)
    # At every 300th depth event of the session, the rebuilt top of book equals the ticker.
    quotes = store.read(Quote)
    qt = quotes.get_column("ts_event").to_numpy()
    events = np.unique(cols[0][~cols[4]])
    for at in events[10::300]:
        b = rebuild_book(int(at), *cols)
        q = quotes.row(int(np.searchsorted(qt, at, side="right") - 1), named=True)
        assert (b.best_bid, b.best_ask) == (q["bid_price"], q["ask_price"])


def test_depth_within_one_percent_is_plausible(cols: tuple[np.ndarray, ...]) -> None:
    book = rebuild_book(T_2355, *cols)
    bid, ask = curve_from_book(book, "bid"), curve_from_book(book, "ask")
    # Binance's BTCUSDT perp is the deepest crypto book: tens of millions of USD within 1 %.
    assert 20e6 < bid.within(0.01) < 500e6
    assert 20e6 < ask.within(0.01) < 500e6
    assert bid.within(0.001) < bid.within(0.01)
    assert bid.source == "book"
    assert not bid.estimate
    # A 100k USD market sell (Kaiko's slippage probe) barely moves the deepest book.
    edges = np.array([50_000.0, 61_000.0, 62_000.0])
    r = simulate("down", book.mid, edges, np.zeros(2), None, bid, shock_usd=100_000.0)
    assert 0 < -r.final_move_pct < 0.01


def test_cli_composition_rebuilds_the_stored_book(store: Store) -> None:
    curve = book_curve(store, "BTC", T_2355, "ask")
    assert curve is not None
    assert curve.source == "book"
    assert "sequence verified" in curve.note
    assert curve.reference == pytest.approx((61807.7 + 61807.8) / 2)
    # An hour after the recording ends, the book is stale: no curve.
    assert book_curve(store, "BTC", T_2355 + 2 * 3600 * 10**9, "ask") is None
    assert store.read(BookUpdate).filter(pl.col("is_snapshot")).height == 2000
