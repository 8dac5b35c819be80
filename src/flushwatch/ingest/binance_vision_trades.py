"""Binance Vision trades, aggTrades and bookTicker files."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flushwatch.domain.enums import Side
from flushwatch.domain.records import Quote, Trade
from flushwatch.ingest.base import Hints, Parsed, Progress
from flushwatch.ingest.binance_vision_common import (
    AGG_TRADES,
    BOOK_TICKER,
    TRADES,
    Source,
    resolve,
    with_source,
)
from flushwatch.ingest.binance_vision_csv import booleans, load, sniff_kind
from flushwatch.ingest.csvtools import epoch_ns, floats


def _start(
    path: Path, hints: Hints, kind: str, name: str, progress: Progress | None
) -> tuple[pl.DataFrame | None, Source, Parsed]:
    src = resolve(path, hints, kind)
    parsed = Parsed(path=path, format=name)
    if src.instrument is not None:
        parsed.add_instrument(src.instrument)
    df = load(path, kind, progress)
    if df is None:
        parsed.notes.append(f"empty file: no {kind}")
    return df, src, parsed


def _taker(df: pl.DataFrame, path: Path) -> pl.Expr:
    # is_buyer_maker = true: the buyer's order was resting, so the aggressor SOLD (Binance
    # REST docs, "isBuyerMaker"; same rule as the trade streams' ``m`` in venues.binance.decode).
    maker = booleans(df, "is_buyer_maker", path)
    return pl.when(maker).then(pl.lit(str(Side.SELL))).otherwise(pl.lit(str(Side.BUY)))


def _contracts_to_base(qty: pl.Expr, price: pl.Expr, src: Source) -> pl.Expr:
    # COIN-M sizes are contracts of ``inverse_size`` USD (Binance COIN-M contract
    # specifications, see venues.binance.symbols): base = contracts × size / price.
    if src.inverse_size is None:
        return qty
    return qty * src.inverse_size / price


def trades_frame(df: pl.DataFrame, src: Source, path: Path) -> pl.DataFrame:
    """Trade rows from a ``trades`` frame of strings (whole file or one streamed chunk)."""
    qty_col = "qty"
    if src.inverse_size is not None:
        # COIN-M ``qty`` is contracts and ``base_qty`` the base quantity (README, COIN-M
        # trades table); header-less COIN-M files hold base_qty in the 4th column.
        qty_col = "base_qty" if "base_qty" in df.columns else "quote_qty"
    df = df.with_columns(
        epoch_ns(df, "time", path).alias("ts_event"),
        floats(df, "price", path),
        floats(df, qty_col, path).alias("qty"),
        _taker(df, path).alias("taker_side"),
        pl.col("id").str.strip_chars().alias("trade_id"),
    )
    return with_source(df, src)


def agg_trades_frame(df: pl.DataFrame, src: Source, path: Path) -> pl.DataFrame:
    """Trade rows keyed by the aggregate id from an ``aggTrades`` frame of strings."""
    df = df.with_columns(
        epoch_ns(df, "transact_time", path).alias("ts_event"),
        floats(df, "price", path),
        floats(df, "quantity", path),
        _taker(df, path).alias("taker_side"),
        pl.col("agg_trade_id").str.strip_chars().alias("trade_id"),
    )
    df = df.with_columns(_contracts_to_base(pl.col("quantity"), pl.col("price"), src).alias("qty"))
    return with_source(df, src)


class BinanceVisionTrades:
    """``trades``: every trade, with the taker side from ``is_buyer_maker``."""

    name = "binance-vision-trades"
    description = "Binance Vision trades (spot, USDⓈ-M, COIN-M)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim trades headers, or header-less files named <SYMBOL>-trades-<date>."""
        return sniff_kind(path, head) == TRADES

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse Trade rows; time in ms or (spot from 2025) µs is detected per value."""
        df, src, parsed = _start(path, hints, TRADES, self.name, progress)
        if df is None:
            return parsed
        parsed.add(Trade, trades_frame(df, src, path))
        return parsed


class BinanceVisionAggTrades:
    """``aggTrades``: trades aggregated per taker order and price level."""

    name = "binance-vision-agg-trades"
    description = "Binance Vision aggTrades (spot, USDⓈ-M, COIN-M)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim aggTrades headers, or header-less files named <SYMBOL>-aggTrades-<date>."""
        return sniff_kind(path, head) == AGG_TRADES

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse Trade rows keyed by the aggregate trade id."""
        df, src, parsed = _start(path, hints, AGG_TRADES, self.name, progress)
        if df is None:
            return parsed
        parsed.add(Trade, agg_trades_frame(df, src, path))
        return parsed


class BinanceVisionBookTicker:
    """``bookTicker``: best bid and ask updates of a futures symbol."""

    name = "binance-vision-book-ticker"
    description = "Binance Vision futures bookTicker (best bid/ask)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim bookTicker headers, or header-less files named <SYMBOL>-bookTicker-<date>."""
        return sniff_kind(path, head) == BOOK_TICKER

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse Quote rows stamped with the matching-engine transaction time."""
        df, src, parsed = _start(path, hints, BOOK_TICKER, self.name, progress)
        if df is None:
            return parsed
        ts = epoch_ns(df, "transaction_time", path)
        if "event_time" in df.columns:  # T is the matching-engine time; E only a fallback
            ts = ts.fill_null(epoch_ns(df, "event_time", path))
        df = df.with_columns(
            ts.alias("ts_event"),
            *(
                floats(df, c, path)
                for c in ("best_bid_price", "best_bid_qty", "best_ask_price", "best_ask_qty")
            ),
        )
        df = df.with_columns(
            pl.col("best_bid_price").alias("bid_price"),
            pl.col("best_ask_price").alias("ask_price"),
            _contracts_to_base(pl.col("best_bid_qty"), pl.col("best_bid_price"), src).alias(
                "bid_qty"
            ),
            _contracts_to_base(pl.col("best_ask_qty"), pl.col("best_ask_price"), src).alias(
                "ask_qty"
            ),
        )
        parsed.add(Quote, with_source(df, src))
        return parsed
