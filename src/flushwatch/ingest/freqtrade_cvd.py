"""Taker-flow (CVD) files from the freqtrade data folder: ``<SYMBOL>_cvd_<tf>.feather``.

The files (``user_data/data/binance/cvd/``, made by the repository's own scripts from Binance
aggTrades archives) hold, per bar, ``volume``, ``taker_buy_vol``, ``taker_sell_vol`` (base
units), ``trades``, per-bar and cumulative ``cvd`` and a ``timestamp`` — no OHLC, so they are
:class:`TakerFlow` rows, not bars.

**Time.** ``date`` is a *naive* datetime (UTC by the collector); read as local time it would
shift every bar by the reader's offset. The bar start is taken from ``timestamp`` (epoch
seconds, unambiguous) and every ``date``, read as UTC, must equal it: a file where they
disagree is refused rather than guessed.

**CVD.** ``cvd`` is the bar's taker buy − sell exactly; ``cvd_cumulative`` is its running
sum *restarting at 00:00 UTC each day* (a per-day figure, more evidence the dates are UTC).
Neither is stored: a CVD over any window is the sum of ``taker_buy_base - taker_sell_base``.

**Market.** The files do not say spot or perp. Their ``volume`` equals Binance *spot* 1h kline
volume to the last digit (BTCUSDT 2026-04-20 00:00: 787.93368 in both, see
``tests/ingest/test_taker_flow.py``), so the default is exchange ``binance``, market spot;
``--exchange/--market/--symbol`` override it.
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from flushwatch.domain.enums import Margin, Market
from flushwatch.domain.records import Instrument, TakerFlow
from flushwatch.domain.symbols import base_asset
from flushwatch.domain.tables import LINE
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.files import read_columnar

_NAME_RE = re.compile(r"^(?P<symbol>[A-Z0-9]+)_cvd_(?P<tf>\d+)(?P<unit>[mhd])\.feather$")
_UNIT_S = {"m": 60, "h": 3600, "d": 86_400}
COLUMNS = ("date", "volume", "taker_buy_vol", "taker_sell_vol", "trades", "timestamp")


def _read(path: Path) -> pl.DataFrame:
    df = read_columnar(path, "feather")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise InputError(
            f"not a CVD file: missing columns {', '.join(missing)} (need {', '.join(COLUMNS)})",
            path=path,
        )
    return df


def _bar_start_ns(df: pl.DataFrame, path: Path) -> pl.Series:
    """Bar start from the epoch-seconds ``timestamp``, checked against the naive ``date``."""
    ts = df.get_column("timestamp").cast(pl.Int64) * 10**9
    date = pl.col("date")
    if isinstance(df.schema["date"], pl.Datetime) and df.schema["date"].time_zone is None:
        date = date.dt.replace_time_zone("UTC")  # naive = UTC (PROVENANCE.md), never local
    from_date = df.select(date.dt.epoch("ns")).to_series()
    bad = (from_date != ts).fill_null(value=True)
    if bad.any():
        i = int(bad.arg_max() or 0)
        raise ParseError(
            f"date {df.get_column('date')[i]} read as UTC is not timestamp "
            f"{df.get_column('timestamp')[i]}: cannot tell which time zone the file uses",
            path=path,
            line=i + 1,
            field="date",
        )
    return ts.alias("ts_event")


class FreqtradeCvd:
    """``<SYMBOL>_cvd_<tf>.feather`` → :class:`TakerFlow` (taker buy/sell volume, trades)."""

    name = "freqtrade-cvd"
    description = "taker-flow (CVD) feather <SYMBOL>_cvd_<tf>.feather from Binance aggTrades"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim CVD-named Arrow files."""
        return _NAME_RE.match(path.name) is not None and head.startswith(b"ARROW1")

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse every bar; the interval is the file name's timeframe."""
        m = _NAME_RE.match(path.name)
        if m is None:
            raise InputError(
                "not a CVD file name: expected <SYMBOL>_cvd_<timeframe>.feather, "
                "e.g. BTCUSDT_cvd_1h.feather",
                path=path,
            )
        interval_s = int(m.group("tf")) * _UNIT_S[m.group("unit")]
        symbol = hints.symbol or m.group("symbol")
        market = hints.market or Market.SPOT
        exchange = hints.exchange or "binance"
        df = _read(path)
        if progress is not None:
            progress(path.stat().st_size)
        rows = df.select(
            _bar_start_ns(df, path),
            pl.lit(exchange).alias("exchange"),
            pl.lit(str(market)).alias("market"),
            pl.lit(symbol).alias("symbol"),
            pl.lit(interval_s, dtype=pl.Int64).alias("interval_s"),
            pl.col("volume").cast(pl.Float64).alias("volume_base"),
            pl.col("taker_buy_vol").cast(pl.Float64).alias("taker_buy_base"),
            pl.col("taker_sell_vol").cast(pl.Float64).alias("taker_sell_base"),
            pl.col("trades").cast(pl.Int64).alias("trade_count"),
            pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
        )
        parsed = Parsed(path=path, format=self.name)
        parsed.add(TakerFlow, rows)
        if exchange == "binance" and market is Market.SPOT:
            base = base_asset(symbol)
            parsed.add_instrument(
                Instrument(
                    exchange=exchange,
                    market=market,
                    symbol=symbol,
                    unified=f"{base}/{symbol[len(base) :]}",
                    base=base,
                    quote=symbol[len(base) :],
                    settle=None,
                    margin=Margin.NONE,
                )
            )
        return parsed


FORMATS: tuple[Format, ...] = (FreqtradeCvd(),)
