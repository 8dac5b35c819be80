"""Multi-venue Parquet tables (``timestamp, venue, coin, …``): candles, funding, OI, liquidations.

One long table per dataset, a row per (time, venue, coin), as collected by the *funding the
fall* project from the venues' public APIs and 0xArchive (shared data folder
``multivenue-hourly-candles-funding-oi-liqprints-2025-2026``; its PROVENANCE.md lists the
traps). What each file becomes:

* ``candles*.parquet`` (``o h l c v``, 1 h, stamped at the bar open) → trade :class:`Bar`.
  ``v`` is venue-native: base units on Binance, Bybit, Hyperliquid and dYdX; **contracts** on
  OKX (× ctVal below); undocumented on Kraken and Lighter, where volume is left out (not
  available) rather than guessed.
* ``funding_rates*.parquet`` → settled :class:`Funding`, a fraction per the venue's *own*
  interval. The interval is read off the series itself (the median spacing of its
  settlements: 8 h on Binance/Bybit/OKX, 4 h for some Binance listings, 1 h on Hyperliquid,
  Lighter, Kraken and dYdX), never assumed per venue.
* ``open_interest*.parquet`` (``oi_usd`` = venue OI × price) → :class:`OpenInterest` with
  ``oi_quote`` only: the base amount is not in the file.
* ``liquidations*.parquet`` (one print per row, with a price) → :class:`Liquidation`.
  **OKX ``size_usd`` is wrong in the file**: the fetcher multiplied ``sz`` (contracts) by the
  bankruptcy price; × ctVal gives USD. OKX ``side`` is the order side (sell ⇒ long liquidated,
  DOMAIN.md C5) and its totals are lower bounds (one push per second per contract, C1).
  Hyperliquid prints (0xArchive fills) are ``S``/``B`` fill sides of the liquidated account:
  ``S`` closes a long. One liquidation can be several fills with the same time: each is a row.
* ``liquidation_volume*.parquet`` → Hyperliquid :class:`LiquidationBucket` rows. The files are
  daily despite the ``1h`` the fetcher asked for; the interval is read off the timestamps.
* ``orderbook_depth*.parquet`` has no timestamp (one snapshot "around 2026-03-07"): nothing
  is imported from it and a note says why, because a depth band without a time would be an
  invented observation.

Native symbols follow each venue (``BTCUSDT`` on Binance USDⓈ-M and Bybit, ``BTC-USDT-SWAP``
on OKX, ``PF_XBTUSD`` on Kraken Futures, ``BTC-USD`` on dYdX, the bare coin on Hyperliquid and
Lighter), so the same coin's series from several venues sit side by side in the store.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl

from flushwatch.domain.enums import Coverage, Margin, Market, PositionSide, PriceKind
from flushwatch.domain.records import (
    Bar,
    Funding,
    Instrument,
    Liquidation,
    LiquidationBucket,
    OpenInterest,
)
from flushwatch.domain.tables import LINE
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.files import read_columnar

#: Sources' venue names → ccxt exchange ids.
EXCHANGES = {
    "binance": "binanceusdm",
    "bybit": "bybit",
    "okx": "okx",
    "kraken": "krakenfutures",
    "dydx": "dydx",
    "hyperliquid": "hyperliquid",
    "lighter": "lighter",
}
#: OKX USDT-swap contract values (base units per contract), from PROVENANCE.md and OKX's
#: instruments endpoint; a coin not listed here cannot have its contracts converted.
OKX_CT_VAL = {"BTC": 0.01, "ETH": 0.1, "SOL": 1.0, "DOGE": 1000.0, "HYPE": 0.1}
#: Venues whose candle ``v`` is in base units (OKX's contracts are converted; others dropped).
_BASE_VOLUME = frozenset({"binance", "bybit", "hyperliquid", "dydx"})
_KINDS = ("candles", "funding_rates", "open_interest", "liquidation_volume", "liquidations")
_COLUMNS = {
    "candles": ("timestamp", "venue", "coin", "o", "h", "l", "c", "v"),
    "funding_rates": ("timestamp", "venue", "coin", "funding_rate"),
    "open_interest": ("timestamp", "venue", "coin", "oi_usd"),
    "liquidation_volume": ("timestamp", "coin", "long_usd", "short_usd"),
    "liquidations": ("timestamp", "venue", "coin", "side", "size_usd", "price"),
}
_H_NS = 3_600_000_000_000
#: Each row's OKX contract value (null for a coin not in :data:`OKX_CT_VAL`).
_CT_VAL = pl.col("coin").replace_strict(OKX_CT_VAL, default=None, return_dtype=pl.Float64)


def native_symbol(venue: str, coin: str) -> str:
    """The venue's own symbol for a coin's USD(T) perpetual in these files."""
    if venue in ("binance", "bybit"):
        return f"{coin}USDT"
    if venue == "okx":
        return f"{coin}-USDT-SWAP"
    if venue == "kraken":
        return f"PF_{'XBT' if coin == 'BTC' else coin}USD"
    if venue == "dydx":
        return f"{coin}-USD"
    return coin


def _kind(path: Path) -> str | None:
    stem = path.name.removesuffix(".parquet").split("__", 1)[0]
    if stem == "orderbook_depth":
        return stem
    return stem if stem in _KINDS else None


def _instrument(venue: str, coin: str) -> Instrument:
    quote = "USD" if venue in ("kraken", "dydx") else ("USDC" if venue == "hyperliquid" else "USDT")
    return Instrument(
        exchange=EXCHANGES[venue],
        market=Market.PERP,
        symbol=native_symbol(venue, coin),
        unified=f"{coin}/{quote}:{quote}",
        base=coin,
        quote=quote,
        settle=quote,
        margin=Margin.LINEAR,
        contract_size=OKX_CT_VAL.get(coin, 1.0) if venue == "okx" else 1.0,
    )


class MultivenueParquet:
    """``timestamp, venue, coin, …`` Parquet tables from several venues at once."""

    name = "multivenue-parquet"
    description = (
        "multi-venue Parquet tables candles / funding_rates / open_interest / liquidations / "
        "liquidation_volume (timestamp, venue, coin, …)"
    )

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim Parquet files named after one of the tables (the columns are checked on read)."""
        return head.startswith(b"PAR1") and _kind(path) is not None

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse one table; its name says which dataset it holds."""
        del hints  # every row names its venue and coin
        kind = _kind(path)
        if kind is None:
            raise InputError(
                "not a multi-venue table name: expected candles, funding_rates, open_interest, "
                "liquidations or liquidation_volume (.parquet)",
                path=path,
            )
        parsed = Parsed(path=path, format=self.name)
        if kind == "orderbook_depth":
            parsed.notes.append(
                "orderbook_depth has no timestamp: not imported (a depth band needs the time "
                "it was seen)"
            )
            return parsed
        df = _load(path, _COLUMNS[kind])
        if progress is not None:
            progress(path.stat().st_size)
        if kind == "liquidation_volume":
            _buckets(df, parsed)
            return parsed
        unknown = sorted(set(df.get_column("venue").unique().to_list()) - EXCHANGES.keys())
        if unknown:
            line = int(df.filter(pl.col("venue") == unknown[0]).get_column(LINE)[0])
            raise ParseError(
                f"unknown venue {unknown[0]!r} (known: {', '.join(EXCHANGES)})",
                path=path,
                line=line,
                field="venue",
            )
        # one native_symbol() per (venue, coin) pair, joined back, not one Python call per row
        pairs = df.select("venue", "coin").unique().sort("venue", "coin")
        symbols = pairs.with_columns(
            symbol=pl.Series([native_symbol(v, c) for v, c in pairs.iter_rows()], dtype=pl.String)
        )
        df = df.join(symbols, on=["venue", "coin"], how="left", maintain_order="left").with_columns(
            exchange=pl.col("venue").replace_strict(EXCHANGES),
            market=pl.lit(str(Market.PERP)),
        )
        {
            "candles": _bars,
            "funding_rates": _funding,
            "open_interest": _open_interest,
            "liquidations": _liquidations,
        }[kind](df, parsed)
        for venue, coin in pairs.iter_rows():
            parsed.add_instrument(_instrument(venue, coin))
        return parsed


def _load(path: Path, need: tuple[str, ...]) -> pl.DataFrame:
    df = read_columnar(path, "Parquet")
    missing = [c for c in need if c not in df.columns]
    if missing:
        raise InputError(
            f"missing column(s) {', '.join(missing)} (has {', '.join(df.columns)})", path=path
        )
    ts = df.schema["timestamp"]
    if not isinstance(ts, pl.Datetime):
        raise ParseError(f"'timestamp' is {ts}, not a datetime", path=path, field="timestamp")
    when = pl.col("timestamp")
    if ts.time_zone is None:
        raise ParseError(
            "'timestamp' has no time zone: cannot tell it is UTC", path=path, field="timestamp"
        )
    # Parquet has no lines: ``_line`` (and an error's line) is the 1-based row number.
    return df.with_columns(
        when.dt.convert_time_zone("UTC").dt.epoch("ns").alias("ts_event"),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
    )


def _bars(df: pl.DataFrame, parsed: Parsed) -> None:
    volume = (
        pl.when(pl.col("venue").is_in(list(_BASE_VOLUME)))
        .then(pl.col("v"))
        .when(pl.col("venue") == "okx")
        .then(pl.col("v") * _CT_VAL)
        .otherwise(None)
    )
    parsed.add(
        Bar,
        df.with_columns(
            price_kind=pl.lit(str(PriceKind.TRADE)),
            interval_s=pl.lit(3600, dtype=pl.Int64),
            open=pl.col("o"),
            high=pl.col("h"),
            low=pl.col("l"),
            close=pl.col("c"),
            volume_base=volume,
        ),
    )
    dropped = sorted(set(df.get_column("venue").unique().to_list()) - _BASE_VOLUME - {"okx"})
    if dropped:
        parsed.notes.append(
            f"volume not available for {', '.join(dropped)}: the file does not say its unit"
        )
    parsed.notes.append("OKX candle volume converted from contracts with ctVal")


def _funding(df: pl.DataFrame, parsed: Parsed) -> None:
    spacing = (
        df.sort("ts_event")
        .group_by("venue", "coin")
        .agg(
            (pl.col("ts_event").diff().median() / _H_NS)
            .round(0)
            .clip(lower_bound=1)
            .alias("interval_hours")
        )
    )
    df = df.join(spacing, on=["venue", "coin"], how="left")
    parsed.add(
        Funding,
        df.with_columns(rate=pl.col("funding_rate"), is_settled=pl.lit(value=True)),
    )


def _open_interest(df: pl.DataFrame, parsed: Parsed) -> None:
    parsed.add(OpenInterest, df.with_columns(oi_quote=pl.col("oi_usd")))


def _liquidations(df: pl.DataFrame, parsed: Parsed) -> None:
    venues = set(df.get_column("venue").unique().to_list())
    other = sorted(venues - {"okx", "hyperliquid"})
    if other:
        raise ParseError(
            f"liquidation prints of {', '.join(other)}: only OKX and Hyperliquid side and size "
            "conventions are known",
            path=parsed.path,
            field="venue",
        )
    okx = pl.col("venue") == "okx"
    unknown = df.filter(okx & _CT_VAL.is_null())
    if unknown.height:
        raise ParseError(
            f"OKX contract value of {unknown.get_column('coin')[0]} is not known: cannot turn "
            "contracts into USD",
            path=parsed.path,
            line=int(unknown.get_column(LINE)[0]),
            field="coin",
        )
    sides = {"okx": ("sell", "buy"), "hyperliquid": ("S", "B")}
    for venue, (long_side, short_side) in sides.items():
        bad = df.filter((pl.col("venue") == venue) & ~pl.col("side").is_in([long_side, short_side]))
        if bad.height:
            raise ParseError(
                f"{venue} liquidation side {bad.get_column('side')[0]!r} is neither "
                f"{long_side!r} nor {short_side!r}",
                path=parsed.path,
                line=int(bad.get_column(LINE)[0]),
                field="side",
            )
    # OKX: size_usd = sz (contracts) × bkPx, so USD = size_usd × ctVal and base = USD / price.
    usd = pl.when(okx).then(pl.col("size_usd") * _CT_VAL).otherwise(pl.col("size_usd"))
    parsed.add(
        Liquidation,
        df.with_columns(usd.alias("notional")).with_columns(
            side=pl.when(pl.col("side").is_in(["sell", "S"]))
            .then(pl.lit(str(PositionSide.LONG)))
            .otherwise(pl.lit(str(PositionSide.SHORT))),
            venue_side=pl.col("side"),
            qty=pl.col("notional") / pl.col("price"),
            coverage=pl.when(okx)
            .then(pl.lit(str(Coverage.THROTTLED)))
            .otherwise(pl.lit(str(Coverage.UNKNOWN))),
        ),
    )
    if "okx" in venues:
        parsed.notes.append(
            "OKX size_usd was contracts × price: multiplied by ctVal to get USD; OKX totals are "
            "lower bounds (one print per second per contract)"
        )


def _buckets(df: pl.DataFrame, parsed: Parsed) -> None:
    steps = df.get_column("ts_event").unique().sort().diff().drop_nulls()
    if steps.len() == 0:
        raise InputError("one timestamp only: cannot tell the bucket interval", path=parsed.path)
    interval_s = int(steps.min()) // 1_000_000_000  # type: ignore[arg-type]
    parsed.add(
        LiquidationBucket,
        df.with_columns(
            exchange=pl.lit("hyperliquid"),
            market=pl.lit(str(Market.PERP)),
            symbol=pl.col("coin"),
            interval_s=pl.lit(interval_s, dtype=pl.Int64),
            venues=pl.lit("Hyperliquid"),
        ),
    )
    parsed.notes.append(
        f"Hyperliquid liquidation volume in {interval_s // 3600} h buckets (read off the "
        "timestamps)"
    )
    for coin in sorted(df.get_column("coin").unique().to_list()):
        parsed.add_instrument(_instrument("hyperliquid", coin))


FORMATS: tuple[Format, ...] = (MultivenueParquet(),)

__all__ = ["EXCHANGES", "FORMATS", "OKX_CT_VAL", "MultivenueParquet", "native_symbol"]
