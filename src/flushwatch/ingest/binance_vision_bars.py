"""Binance Vision klines: trade, mark, index and premium-index bars of spot, USDⓈ-M and COIN-M.

All four share the 12-column kline layout (README of binance/binance-public-data; REST
``/api/v3/klines``, ``/fapi/v1/klines``, ``/dapi/v1/klines``). The price kind comes from the
folder (``markPriceKlines``, ``indexPriceKlines``, ``premiumIndexKlines``): the file names are
the same as for trade klines.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flushwatch.domain.enums import PriceKind
from flushwatch.domain.records import Bar
from flushwatch.domain.tables import LINE
from flushwatch.ingest.base import Hints, Parsed, Progress
from flushwatch.ingest.binance_vision_common import (
    KLINES,
    interval_seconds,
    path_info,
    resolve,
    with_source,
)
from flushwatch.ingest.binance_vision_csv import load, sniff_kind
from flushwatch.ingest.csvtools import epoch_ns, floats, ints

_NUMBERS = ("open", "high", "low", "close", "volume", "quote_volume")
_TAKER = ("taker_buy_volume", "taker_buy_quote_volume")


def _volumes(df: pl.DataFrame, inverse_size: float | None) -> pl.DataFrame:
    if inverse_size is None:
        return df.with_columns(
            pl.col("volume").alias("volume_base"),
            pl.col("quote_volume").alias("volume_quote"),
            pl.col("taker_buy_volume").alias("taker_buy_base"),
            pl.col("taker_buy_quote_volume").alias("taker_buy_quote"),
        )
    # COIN-M: ``volume`` and ``taker_buy_volume`` are CONTRACTS and the "quote" columns hold
    # BASE-asset volume (README "COIN-M Futures" kline table: "Base asset volume", "Taker buy
    # base asset volume"; PROVENANCE.md of binance-vision-format-examples). One contract is
    # ``inverse_size`` USD (Binance COIN-M contract specifications, see venues.binance.symbols),
    # so the USD volume is contracts × size.
    return df.with_columns(
        pl.col("quote_volume").alias("volume_base"),
        (pl.col("volume") * inverse_size).alias("volume_quote"),
        pl.col("taker_buy_quote_volume").alias("taker_buy_base"),
        (pl.col("taker_buy_volume") * inverse_size).alias("taker_buy_quote"),
    )


class BinanceVisionKlines:
    """``klines``, ``markPriceKlines``, ``indexPriceKlines`` and ``premiumIndexKlines`` → Bar."""

    name = "binance-vision-klines"
    description = (
        "Binance Vision klines / markPriceKlines / indexPriceKlines / premiumIndexKlines "
        "(spot, USDⓈ-M, COIN-M; zip with CHECKSUM, csv, csv.gz)"
    )

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim kline headers, or 12 numeric columns starting and closing with epochs."""
        return sniff_kind(path, head) == KLINES

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse bars; open_time in ms or (spot from 2025) µs is detected per value."""
        info = path_info(path)
        src = resolve(path, hints, KLINES)
        parsed = Parsed(path=path, format=self.name)
        df = load(path, KLINES, progress)
        if df is None:
            parsed.notes.append("empty file: no klines")
            return parsed
        kind = info.price_kind
        # Spot files switched open_time from ms to µs on 2025-01-01 (flushwatch.domain.time
        # docstring): the unit is detected per value, so mixed files import correctly.
        opens = epoch_ns(df, "open_time", path)
        spans = (epoch_ns(df, "close_time", path) - opens + 1_000_000) // 1_000_000_000
        interval_s = interval_seconds(info.interval, spans, df.get_column(LINE), path)
        df = df.with_columns(
            opens.alias("ts_event"),
            *(floats(df, c, path) for c in _NUMBERS),
            pl.lit(str(kind)).alias("price_kind"),
            pl.lit(interval_s).alias("interval_s"),
        )
        if kind is PriceKind.TRADE:
            df = df.with_columns(
                *(floats(df, c, path) for c in _TAKER),
                ints(df, "count", path).alias("trade_count"),
            )
            df = _volumes(df, src.inverse_size)
        else:
            # Mark/index/premium klines reuse the layout but their volume columns are
            # "Ignore" and count is the "Number of basic data" (Binance USDⓈ-M REST docs,
            # Mark Price Kline/Candlestick Data): no volume and no trade count is stored.
            # Premium-index OHLC are signed fractions; validate allows them to be <= 0.
            df = self._check_not_traded(df, parsed)
        if src.instrument is not None and kind is not PriceKind.INDEX:
            # An index kline's symbol is the pair (BTCUSD for COIN-M), not a contract.
            parsed.add_instrument(src.instrument)
        if kind is PriceKind.TRADE and df.height and df.get_column("trade_count").max() == 0:
            parsed.notes.append(
                "every bar has zero trades: if this is a mark/index/premium kline file, keep "
                "it under its markPriceKlines/indexPriceKlines/premiumIndexKlines folder so the "
                "price kind is known"
            )
        parsed.add(Bar, with_source(df, src))
        return parsed

    @staticmethod
    def _check_not_traded(df: pl.DataFrame, parsed: Parsed) -> pl.DataFrame:
        traded = df.filter(pl.col("volume").fill_null(0.0) != 0.0).height
        if traded:
            parsed.notes.append(
                f"{traded} bars of this mark/index/premium kline file have a non-zero volume "
                "column; Binance documents it as unused, so it was not stored"
            )
        return df
