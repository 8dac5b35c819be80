"""Binance Vision (data.binance.vision) daily and monthly files: one format per file kind.

Files are read as ``.zip`` (with the ``.CHECKSUM`` beside it verified first, by
:func:`flushwatch.ingest.files.read_bytes`), ``.csv`` or ``.csv.gz``. The venue (spot
``binance``, USDⓈ-M ``binanceusdm``, COIN-M ``binancecoinm``), symbol and kline interval come
from the folder tree and file name, or from ``--exchange``/``--market``/``--symbol``
(:mod:`flushwatch.ingest.binance_vision_common`). Detection is by header row where there is
one, else by file name and column count.

==============================  ===================================================  ==========
format                          Vision kinds                                         records
==============================  ===================================================  ==========
binance-vision-klines           klines, markPriceKlines, indexPriceKlines,           Bar
                                premiumIndexKlines
binance-vision-metrics          metrics                                              OpenInterest,
                                                                                     LongShortRatio
binance-vision-funding          fundingRate                                          Funding
binance-vision-book-depth       bookDepth (USDⓈ-M)                                   DepthBand
binance-vision-book-ticker      bookTicker                                           Quote
binance-vision-agg-trades       aggTrades                                            Trade
binance-vision-trades           trades                                               Trade
binance-vision-liquidations     liquidationSnapshot                                  Liquidation
==============================  ===================================================  ==========
"""

from __future__ import annotations

from flushwatch.ingest.base import Format
from flushwatch.ingest.binance_vision_bars import BinanceVisionKlines
from flushwatch.ingest.binance_vision_futures import (
    BinanceVisionBookDepth,
    BinanceVisionFunding,
    BinanceVisionLiquidations,
    BinanceVisionMetrics,
)
from flushwatch.ingest.binance_vision_trades import (
    BinanceVisionAggTrades,
    BinanceVisionBookTicker,
    BinanceVisionTrades,
)

__all__ = [
    "FORMATS",
    "BinanceVisionAggTrades",
    "BinanceVisionBookDepth",
    "BinanceVisionBookTicker",
    "BinanceVisionFunding",
    "BinanceVisionKlines",
    "BinanceVisionLiquidations",
    "BinanceVisionMetrics",
    "BinanceVisionTrades",
]

FORMATS: tuple[Format, ...] = (
    BinanceVisionKlines(),
    BinanceVisionMetrics(),
    BinanceVisionFunding(),
    BinanceVisionBookDepth(),
    BinanceVisionBookTicker(),
    BinanceVisionAggTrades(),
    BinanceVisionTrades(),
    BinanceVisionLiquidations(),
)
