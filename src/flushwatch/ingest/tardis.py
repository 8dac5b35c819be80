"""Tardis.dev downloadable CSV files: trades, liquidations, derivative tickers and books.

Column lists and units: https://docs.tardis.dev/downloadable-csv-files/data-types (all
timestamps µs since epoch, UTC; empty cell = no value). Files are detected by their header;
``trades`` and ``liquidations`` share one header, so those two also need the tardis-dev file
name (``<exchange>_<data_type>_<date>_<symbol>.csv.gz``): pass ``--format`` for renamed files.
Book formats live in :mod:`flushwatch.ingest.tardis_book`, venue units in
:mod:`flushwatch.ingest.tardis_venues`.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flushwatch.domain.enums import PositionSide
from flushwatch.domain.records import Funding, Liquidation, MarkPrice, OpenInterest, Trade
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.tardis_book import TardisBookSnapshot, TardisIncrementalBook, TardisQuotes
from flushwatch.ingest.tardis_common import (
    base_frame,
    check_choice,
    empty,
    epoch_us,
    header,
    load,
    name_has,
    number,
    require_amount_units,
    to_base,
    to_quote,
)

_TRADE_COLS = ("id", "side", "price", "amount")
_TICKER_COLS = (
    "funding_timestamp",
    "funding_rate",
    "predicted_funding_rate",
    "open_interest",
    "last_price",
    "index_price",
    "mark_price",
)


def _drop_unknown_side(df: pl.DataFrame, parsed: Parsed, what: str) -> pl.DataFrame:
    unknown = df.get_column("_side") == "unknown"
    count = int(unknown.sum())
    if count:
        parsed.notes.append(f"{count} {what} with side 'unknown' were skipped")
    return df.filter(~unknown)


def _trade_shaped(
    path: Path, name: str, progress: Progress | None
) -> tuple[pl.DataFrame, Parsed] | Parsed:
    """Load a trades-shaped file (trades and liquidations share it) with side, price and
    amount parsed; an empty file comes back as its (empty) Parsed."""
    df = load(path, _TRADE_COLS, progress)
    if df is None:
        return empty(path, name)
    parsed = Parsed(path=path, format=name)
    df, _ = base_frame(df, path, parsed)
    require_amount_units(df, path)
    df = df.with_columns(
        check_choice(df, "side", ("buy", "sell", "unknown"), path).alias("_side"),
        number(df, "price", path).alias("price"),
        number(df, "amount", path).alias("_amount"),
    )
    return df, parsed


class TardisTrades:
    """``trades``: one Trade per row; ``side`` is the taker (aggressor) side."""

    name = "tardis-trades"
    description = "Tardis.dev trades CSV (file name must contain _trades_)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim trade-header files named ``*_trades_*`` (liquidations share the header)."""
        cols = header(head)
        return cols is not None and cols[4:] == list(_TRADE_COLS) and name_has(path, "trades")

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the file; amounts are converted to base units per venue."""
        loaded = _trade_shaped(path, self.name, progress)
        if isinstance(loaded, Parsed):
            return loaded
        df, parsed = loaded
        # Tardis trade side is the "liquidity taker side (aggressor)" (tardis-node src/types.ts,
        # Trade.side); 'unknown' where the venue does not say, which Trade cannot hold.
        df = df.with_columns(
            pl.when(pl.col("id").str.strip_chars() != "")
            .then(pl.col("id").str.strip_chars())
            .alias("trade_id"),
        )
        df = _drop_unknown_side(df, parsed, "trades").with_columns(
            pl.col("_side").alias("taker_side"),
            to_base(pl.col("_amount"), pl.col("price")).alias("qty"),
        )
        parsed.add(Trade, df)
        return parsed


class TardisLiquidations:
    """``liquidations``: one Liquidation per row, side normalized to the liquidated position."""

    name = "tardis-liquidations"
    description = "Tardis.dev liquidations CSV (file name must contain _liquidations_)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim trade-header files named ``*_liquidations_*``."""
        cols = header(head)
        return cols is not None and cols[4:] == list(_TRADE_COLS) and name_has(path, "liquidations")

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the file; coverage is throttled for Binance/Bybit/OKX (DOMAIN.md C1)."""
        loaded = _trade_shaped(path, self.name, progress)
        if isinstance(loaded, Parsed):
            return loaded
        df, parsed = loaded
        df = _drop_unknown_side(df.with_columns(pl.col("side").alias("venue_side")), parsed,
                                "liquidations")  # fmt: skip
        # Tardis normalizes every venue to one convention (DOMAIN.md C5: "tardis is the only
        # library with an explicit convention"): side is the liquidation *order* side, 'buy' =
        # a short position was liquidated, 'sell' = a long one
        # (https://docs.tardis.dev/downloadable-csv-files/data-types#liquidations). tardis-node
        # src/mappers/bybit.ts shows it: Bybit "Buy" (= long liquidated) is written as 'sell'.
        df = df.with_columns(
            pl.when(pl.col("_side") == "buy")
            .then(pl.lit(str(PositionSide.SHORT)))
            .otherwise(pl.lit(str(PositionSide.LONG)))
            .alias("side"),
            to_base(pl.col("_amount"), pl.col("price")).alias("qty"),
            to_quote(pl.col("_amount"), pl.col("price")).alias("notional"),
        )
        parsed.add(Liquidation, df)
        return parsed


def _changed(df: pl.DataFrame, cols: list[str]) -> pl.Series:
    """True on rows where any of ``cols`` differs from the previous row of the same symbol."""
    exprs = [pl.col(c).ne_missing(pl.col(c).shift(1).over("exchange", "symbol")) for c in cols]
    first = pl.int_range(pl.len()).over("exchange", "symbol") == 0
    return df.select((first | pl.any_horizontal(exprs)).alias("changed")).to_series()


class TardisDerivativeTicker:
    """``derivative_ticker``: Funding, OpenInterest and MarkPrice rows from one ticker file."""

    name = "tardis-derivative-ticker"
    description = "Tardis.dev derivative_ticker CSV (funding, open interest, mark/index/last)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files whose header has the seven derivative ticker columns."""
        cols = header(head)
        return cols is not None and cols[4:] == list(_TICKER_COLS)

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the file into the three datasets (see the class docstring for the rules)."""
        df = load(path, _TICKER_COLS, progress)
        if df is None:
            return empty(path, self.name)
        parsed = Parsed(path=path, format=self.name)
        df, _ = base_frame(df, path, parsed)
        df = df.with_columns(
            *(number(df, c, path) for c in _TICKER_COLS if c != "funding_timestamp"),
            epoch_us(df, "funding_timestamp", path).alias("next_funding_ts"),
        )
        self._marks(df, parsed)
        self._funding(df, parsed)
        self._open_interest(df, parsed)
        return parsed

    @staticmethod
    def _marks(df: pl.DataFrame, parsed: Parsed) -> None:
        cols = ["mark_price", "index_price", "last_price"]
        has_any = pl.any_horizontal(pl.col(c).is_not_null() for c in cols)
        parsed.add(MarkPrice, df.filter(has_any))

    @staticmethod
    def _funding(df: pl.DataFrame, parsed: Parsed) -> None:
        # Each ticker row repeats the latest value of every field, so a Funding row is kept
        # only when the rate, predicted rate or funding time changed for that symbol.
        # The rate is the *current* one (is_settled=False, DOMAIN.md C12), a fraction as the
        # venue sends it; funding_timestamp is the next funding time Tardis received (OKX
        # "fundingTime", tardis-node src/mappers/okex.ts). interval_hours is left null: the
        # ticker does not carry it (Deribit funds continuously, OKX/Binance vary per contract).
        rows = df.filter(pl.col("funding_rate").is_not_null())
        rows = rows.filter(
            _changed(rows, ["funding_rate", "predicted_funding_rate", "next_funding_ts"])
        )
        # Tardis merges several exchange channels (ticker, funding-rate, mark-price) into one
        # row, and the file is ordered by arrival time (docs.tardis.dev downloadable-csv-files
        # API: "datasets are ordered ... by local_timestamp"), so exchange times can step back
        # a little; Funding is an ordered series, so sort by exchange time per symbol.
        rows = rows.with_columns(
            pl.col("funding_rate").alias("rate"),
            pl.col("predicted_funding_rate").alias("predicted_rate"),
            pl.lit(value=False).alias("is_settled"),
        ).sort(["exchange", "symbol", "ts_event", "ts_recv"], maintain_order=True)
        parsed.add(Funding, rows)

    @staticmethod
    def _open_interest(df: pl.DataFrame, parsed: Parsed) -> None:
        rows = df.filter(pl.col("open_interest").is_not_null())
        unknown = rows.get_column("_oi_unit").is_null()
        if unknown.any():
            symbols = sorted(set(rows.filter(unknown).get_column("symbol").to_list()))
            parsed.notes.append(
                f"{int(unknown.sum())} open interest values skipped: the unit of "
                f"open_interest is not known for {', '.join(symbols)} (see tardis_venues.py)"
            )
        rows = rows.filter(~unknown)
        rows = rows.filter(_changed(rows, ["open_interest"]))
        # The other unit is derived at the row's own mark price (index, then last, as
        # fallbacks): base = USD / price for inverse contracts, quote = base × price for linear.
        ref = pl.coalesce("mark_price", "index_price", "last_price")
        scaled = pl.col("open_interest") * pl.col("_oi_factor")
        is_quote = pl.col("_oi_unit") == "quote"
        rows = rows.with_columns(
            pl.when(is_quote).then(scaled / ref).otherwise(scaled).alias("oi_base"),
            pl.when(is_quote).then(scaled).otherwise(scaled * ref).alias("oi_quote"),
        )
        parsed.add(OpenInterest, rows)


FORMATS: tuple[Format, ...] = (
    TardisTrades(),
    TardisLiquidations(),
    TardisDerivativeTicker(),
    TardisBookSnapshot(),
    TardisIncrementalBook(),
    TardisQuotes(),
)
