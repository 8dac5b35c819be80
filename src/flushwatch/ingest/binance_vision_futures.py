"""Binance Vision futures-only files: metrics, fundingRate, bookDepth and liquidationSnapshot."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flushwatch.domain.enums import Coverage, PositionSide, RatioKind
from flushwatch.domain.records import DepthBand, Funding, Liquidation, LongShortRatio, OpenInterest
from flushwatch.domain.tables import LINE
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Hints, Parsed, Progress
from flushwatch.ingest.binance_vision_common import (
    BOOK_DEPTH,
    FUNDING,
    LIQUIDATIONS,
    METRICS,
    Source,
    resolve,
    with_source,
)
from flushwatch.ingest.binance_vision_csv import choice, load, sniff_kind
from flushwatch.ingest.binance_vision_depth import depth_notes
from flushwatch.ingest.csvtools import datetimes_ns, epoch_ns, floats

#: Metrics ratio columns → kinds. Binance "Long/Short Ratio" REST docs
#: (developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/):
#: "count" columns are account counts, "sum" columns position sizes; the taker column is the
#: taker buy/sell volume ratio (Long-Short-Ratio, Top-Long-Short-Account-Ratio,
#: Top-Trader-Long-Short-Ratio, Taker-BuySell-Volume).
_RATIOS = {
    "count_toptrader_long_short_ratio": RatioKind.TOP_TRADER_ACCOUNTS,
    "sum_toptrader_long_short_ratio": RatioKind.TOP_TRADER_POSITIONS,
    "count_long_short_ratio": RatioKind.GLOBAL_ACCOUNTS,
    "sum_taker_long_short_vol_ratio": RatioKind.TAKER_VOLUME,
}


def _empty(path: Path, name: str, what: str) -> Parsed:
    parsed = Parsed(path=path, format=name)
    parsed.notes.append(f"empty file: no {what}")
    return parsed


def _add_instrument(parsed: Parsed, src: Source) -> None:
    if src.instrument is not None:
        parsed.add_instrument(src.instrument)


class BinanceVisionMetrics:
    """``metrics``: 5-minute open interest and long/short ratios of one futures symbol."""

    name = "binance-vision-metrics"
    description = "Binance Vision futures metrics (open interest and long/short ratios)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files with the metrics header."""
        return sniff_kind(path, head) == METRICS

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse OpenInterest and LongShortRatio rows; empty ratio cells give no row."""
        df = load(path, METRICS, progress)
        if df is None:
            return _empty(path, self.name, "metrics")
        symbols = df.get_column("symbol").drop_nulls().unique().to_list()
        src = resolve(path, hints, METRICS, symbols[0] if len(symbols) == 1 else None)
        other = df.get_column("symbol").ne_missing(src.symbol)
        if other.any() and not hints.symbol:
            idx = int(other.arg_true()[0])
            raise ParseError(
                f"symbol {df.get_column('symbol')[idx]!r} differs from {src.symbol!r} (from the "
                "file name); a metrics file holds one symbol",
                path=path,
                line=int(df.get_column(LINE)[idx]),
                field="symbol",
            )
        parsed = Parsed(path=path, format=self.name)
        _add_instrument(parsed, src)
        df = with_source(df, src).with_columns(
            datetimes_ns(df, "create_time", path, "%Y-%m-%d %H:%M:%S").alias("ts_event"),
            floats(df, "sum_open_interest", path),
            floats(df, "sum_open_interest_value", path),
            *(floats(df, c, path) for c in _RATIOS),
        )
        if src.inverse_size is None:
            # USDⓈ-M: sumOpenInterest is in base units and sumOpenInterestValue in USDT
            # (REST "Open Interest Statistics", USDⓈ-M). Binance OI is one-sided (C10).
            oi = df.with_columns(
                pl.col("sum_open_interest").alias("oi_base"),
                pl.col("sum_open_interest_value").alias("oi_quote"),
            )
        else:
            # COIN-M: sumOpenInterest is in CONTRACTS ("unit: cont") and sumOpenInterestValue
            # in the BASE asset (COIN-M REST "Open Interest Statistics"). The real excerpt
            # agrees: 5578700 contracts × 100 USD / 18265.009 BTC = 30543 USD/BTC on 2023-06-25.
            oi = df.with_columns(
                pl.col("sum_open_interest_value").alias("oi_base"),
                (pl.col("sum_open_interest") * src.inverse_size).alias("oi_quote"),
            )
        has_oi = pl.col("oi_base").is_not_null() | pl.col("oi_quote").is_not_null()
        parsed.add(OpenInterest, oi.filter(has_oi))
        for col, kind in _RATIOS.items():
            # An empty cell ("" in COIN-M files) means Binance has no such ratio: no row, not 0.
            rows = df.filter(pl.col(col).is_not_null())
            parsed.add(
                LongShortRatio,
                rows.with_columns(pl.lit(str(kind)).alias("kind"), pl.col(col).alias("ratio")),
            )
        return parsed


class BinanceVisionFunding:
    """``fundingRate``: settled funding rates (also the renamed ``funding_time`` header)."""

    name = "binance-vision-funding"
    description = "Binance Vision futures fundingRate (settled funding, fraction per interval)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files with the fundingRate header (or its funding_time/funding_rate rename)."""
        return sniff_kind(path, head) == FUNDING

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse Funding rows with is_settled=True."""
        df = load(path, FUNDING, progress)
        if df is None:
            return _empty(path, self.name, "funding rates")
        src = resolve(path, hints, FUNDING)
        parsed = Parsed(path=path, format=self.name)
        _add_instrument(parsed, src)
        # calc_time is the ms settlement time (a few ms after the hour is original jitter);
        # last_funding_rate is the rate paid then, already a fraction per
        # funding_interval_hours (REST /fapi/v1/fundingRate "fundingRate"; DOMAIN.md C12).
        df = with_source(df, src).with_columns(
            epoch_ns(df, "calc_time", path).alias("ts_event"),
            floats(df, "last_funding_rate", path).alias("rate"),
            floats(df, "funding_interval_hours", path).alias("interval_hours"),
            pl.lit(value=True).alias("is_settled"),
        )
        parsed.add(Funding, df)
        return parsed


class BinanceVisionBookDepth:
    """``bookDepth``: cumulative depth within ±1..5 % of mid, with a sanity check (see notes)."""

    name = "binance-vision-book-depth"
    description = "Binance Vision USDⓈ-M bookDepth (depth bands around mid)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files with the bookDepth header."""
        return sniff_kind(path, head) == BOOK_DEPTH

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse DepthBand rows; notes warn about snapshots whose prices do not add up."""
        src = resolve(path, hints, BOOK_DEPTH)
        if src.inverse_size is not None:
            # Binance does not document the units of COIN-M bookDepth (contracts? USD? coin?):
            # refusing is better than storing a guessed base quantity.
            raise InputError(
                "COIN-M bookDepth files are not supported: their depth/notional units are "
                "not documented, so base quantities cannot be derived",
                path=path,
            )
        df = load(path, BOOK_DEPTH, progress)
        if df is None:
            return _empty(path, self.name, "depth bands")
        parsed = Parsed(path=path, format=self.name)
        _add_instrument(parsed, src)
        # "percentage" is the band edge in percent of mid (negative = bids) and "depth" /
        # "notional" the cumulative size in coin / quote terms (binance-public-data#447).
        df = with_source(df, src).with_columns(
            datetimes_ns(df, "timestamp", path, "%Y-%m-%d %H:%M:%S").alias("ts_event"),
            floats(df, "percentage", path).alias("pct"),
            floats(df, "depth", path).alias("depth_base"),
            floats(df, "notional", path),
        )
        parsed.notes.extend(depth_notes(df, path))
        parsed.add(DepthBand, df)
        return parsed


class BinanceVisionLiquidations:
    """``liquidationSnapshot``: forced orders, normalized to the liquidated position side."""

    name = "binance-vision-liquidations"
    description = "Binance Vision futures liquidationSnapshot (forced orders, throttled)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files with the liquidationSnapshot header."""
        return sniff_kind(path, head) == LIQUIDATIONS

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse Liquidation rows; duplicated rows are kept and counted in a note."""
        df = load(path, LIQUIDATIONS, progress)
        if df is None:
            return _empty(path, self.name, "liquidations")
        src = resolve(path, hints, LIQUIDATIONS)
        parsed = Parsed(path=path, format=self.name)
        _add_instrument(parsed, src)
        # Vision liquidation files repeat rows verbatim (binance-public-data#259). They are
        # kept: the store de-duplicates on every exchange-given field (tables.key_columns).
        dupes = df.height - df.drop(LINE).unique().height
        if dupes:
            parsed.notes.append(
                f"{dupes} row(s) exact duplicates of an earlier row (binance-public-data#259); "
                "the store keeps one of each"
            )
        optional = [c for c in ("average_price", "accumulated_fill_quantity") if c in df.columns]
        df = df.with_columns(
            epoch_ns(df, "time", path).alias("ts_event"),
            choice(df, "side", ("BUY", "SELL"), path).alias("venue_side"),
            floats(df, "price", path),
            floats(df, "original_quantity", path),
            *(floats(df, c, path) for c in optional),
        )
        if "order_status" in df.columns:
            df = df.with_columns(pl.col("order_status").str.strip_chars().alias("status"))
        parsed.add(Liquidation, _liquidation_frame(with_source(df, src), src))
        return parsed


def _liquidation_frame(df: pl.DataFrame, src: Source) -> pl.DataFrame:
    # ``side`` is the liquidation ORDER side: SELL closes a long, so a LONG position was
    # liquidated (DOMAIN.md C5; same rule as the forceOrder stream in venues.binance.decode).
    side = (
        pl.when(pl.col("venue_side") == "SELL")
        .then(pl.lit(str(PositionSide.LONG)))
        .otherwise(pl.lit(str(PositionSide.SHORT)))
    )
    # Size: the accumulated filled quantity (``z`` of forceOrder) when given, else the
    # original order size; priced at the average fill when there was one (DOMAIN.md C6).
    size = pl.col("original_quantity")
    if "accumulated_fill_quantity" in df.columns:
        size = pl.coalesce("accumulated_fill_quantity", "original_quantity")
    avg = pl.lit(None, dtype=pl.Float64)
    if "average_price" in df.columns:
        avg = pl.when(pl.col("average_price") > 0).then(pl.col("average_price"))
    fill_price = pl.coalesce(avg, pl.col("price"))
    if src.inverse_size is None:
        qty, notional = size, size * fill_price
    else:
        # COIN-M sizes are contracts of inverse_size USD (contract specs, venues.binance.symbols):
        # base = contracts × size / price, and the USD notional is exactly contracts × size.
        notional = size * src.inverse_size
        qty = notional / fill_price
    return df.with_columns(
        side.alias("side"),
        qty.alias("qty"),
        notional.alias("notional"),
        avg.alias("avg_price"),
        # Vision liquidation snapshots come from the forceOrder stream, which pushes at most one
        # order per symbol per second: totals are lower bounds (DOMAIN.md C1).
        pl.lit(str(Coverage.THROTTLED)).alias("coverage"),
    )
