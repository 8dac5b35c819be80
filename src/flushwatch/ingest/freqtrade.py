"""freqtrade OHLCV data files: ``<PAIR>-<timeframe>[-<candle type>].<feather|json|json.gz|csv>``.

freqtrade (``freqtrade download-data``) names a file after the ccxt pair with ``/`` and ``:``
replaced by ``_`` (``XRP/USDT:USDT`` → ``XRP_USDT_USDT``), the timeframe and, for futures, the
candle type (``futures``, ``mark``, ``index``, ``premiumIndex``, ``funding_rate``; spot files
have none). Every file is OHLCV-shaped — ``date, open, high, low, close, volume`` — with the
date the candle *start* in UTC: feather holds a UTC datetime column, json/json.gz a list of
``[ms, o, h, l, c, v]`` rows, and the CSV copies an ISO date. Volume is ccxt's, in base units.

What each candle type becomes:

* ``futures`` / spot → :class:`Bar` price_kind trade with ``volume_base``.
* ``mark`` → Bar price_kind mark without volume (Binance mark-price klines carry no volume:
  the fields after close are "Ignore",
  https://developers.binance.com/docs/derivatives/usds-margined-futures/market-data/rest-api/Mark-Price-Kline-Candlestick-Data).
  A ``mark`` file that *does* carry volume is not mark-price data whatever its name (freqtrade's
  own 8h XRP test file is perp OHLCV, see its PROVENANCE.md): it becomes a trade Bar with volume,
  and a note says so.
* ``index`` / ``premiumIndex`` → Bar price_kind index / premium (volume dropped).
* ``funding_rate`` → settled :class:`Funding` at the exact (ms-jittered) settlement time; freqtrade
  stores the rate in ``open`` and zeros elsewhere; the interval is the file's timeframe.

The exchange is not in the file: ``--exchange`` (Hints.exchange) names it, default
``binanceusdm`` for futures candle types and ``binance`` for spot, because freqtrade's futures
mode is Binance-first and the test data here is Binance USD-M. The native symbol is
``--symbol`` or base+quote (the Binance/Bybit spelling, ``XRPUSDT``). Coin-margined pairs
(settle = base) are refused: their volume would be in contracts of unknown size.
"""

from __future__ import annotations

import re
from pathlib import Path

import msgspec
import polars as pl

from flushwatch.domain.enums import Margin, Market, PriceKind
from flushwatch.domain.records import Bar, Funding, Instrument
from flushwatch.domain.tables import LINE
from flushwatch.domain.time import NS_PER_MS
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.csvtools import datetimes_ns, floats, read_csv_strings, require_columns
from flushwatch.ingest.files import read_bytes, read_columnar

_NAME_RE = re.compile(
    r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-(?P<tf>\d+[smhdw])"
    r"(?:-(?P<kind>futures|mark|index|premiumIndex|funding_rate))?"
    r"\.(?P<ext>feather|json|json\.gz|csv)$"
)
_TF_S = {"s": 1, "m": 60, "h": 3600, "d": 86_400, "w": 604_800}
COLUMNS = ("date", "open", "high", "low", "close", "volume")
_KIND_PRICE = {
    "futures": PriceKind.TRADE,
    "spot": PriceKind.TRADE,
    "mark": PriceKind.MARK,
    "index": PriceKind.INDEX,
    "premiumIndex": PriceKind.PREMIUM,
}
_JsonRow = tuple[int, float | None, float | None, float | None, float | None, float | None]


class FileName(msgspec.Struct, frozen=True, kw_only=True):
    """What a freqtrade file name says: pair parts, timeframe and candle type."""

    base: str
    quote: str
    settle: str | None
    interval_s: int
    kind: str
    ext: str


def parse_name(path: Path) -> FileName | None:
    """Split a freqtrade data file name, or return None when it is not one."""
    m = _NAME_RE.match(path.name)
    if m is None:
        return None
    parts = m.group("pair").split("_")
    tf = m.group("tf")
    return FileName(
        base=parts[0],
        quote=parts[1],
        settle=parts[2] if len(parts) == 3 else None,
        interval_s=int(tf[:-1]) * _TF_S[tf[-1]],
        kind=m.group("kind") or "spot",
        ext=m.group("ext"),
    )


def _read_feather(path: Path) -> pl.DataFrame:
    df = read_columnar(path, "feather")
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing or not isinstance(df.schema["date"], pl.Datetime):
        raise InputError(
            f"not a freqtrade OHLCV feather file: columns {df.columns} (need {', '.join(COLUMNS)} "
            "with a datetime 'date')",
            path=path,
        )
    date = pl.col("date")
    if df.schema["date"].time_zone is None:
        date = date.dt.replace_time_zone("UTC")  # freqtrade dates are UTC
    # Feather has no lines: ``_line`` is the 1-based row number.
    return df.select(
        date.dt.epoch("ns").alias("ts_event"),
        *(pl.col(c).cast(pl.Float64) for c in COLUMNS[1:]),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
    )


def _read_json(path: Path) -> pl.DataFrame:
    try:
        rows = msgspec.json.decode(read_bytes(path), type=list[_JsonRow])
    except msgspec.ValidationError as exc:
        # e.g. "Expected `float | null`, got `str` - at `$[12][3]`"
        where = re.search(r"\$\[(\d+)\](?:\[(\d+)\])?", str(exc))
        field = COLUMNS[int(where.group(2))] if where and where.group(2) else None
        row = f" (row {int(where.group(1)) + 1})" if where else ""
        raise ParseError(f"not a freqtrade OHLCV row{row}: {exc}", path=path, field=field) from exc
    except msgspec.DecodeError as exc:
        raise ParseError(f"not valid JSON: {exc}", path=path) from exc
    df = pl.DataFrame(rows, schema=["ts_ms", *COLUMNS[1:]], orient="row")
    return df.select(
        (pl.col("ts_ms").cast(pl.Int64) * NS_PER_MS).alias("ts_event"),
        *(pl.col(c).cast(pl.Float64) for c in COLUMNS[1:]),
        pl.int_range(1, pl.len() + 1, dtype=pl.Int64).alias(LINE),
    )


def _read_csv(path: Path) -> pl.DataFrame:
    df = read_csv_strings(read_bytes(path), path)
    require_columns(df, COLUMNS, path)
    return pl.DataFrame(
        [
            datetimes_ns(df, "date", path).alias("ts_event"),
            *(floats(df, c, path) for c in COLUMNS[1:]),
            df.get_column(LINE),
        ]
    )


def read_ohlcv(path: Path, ext: str) -> pl.DataFrame:
    """Read any freqtrade OHLCV file into ``ts_event, open..volume, _line`` (NaN → null)."""
    reader = {"feather": _read_feather, "csv": _read_csv}.get(ext, _read_json)
    df = reader(path)
    return df.with_columns(pl.col(c).fill_nan(None) for c in COLUMNS[1:])


def _instrument(name: FileName, exchange: str, symbol: str, market: Market) -> Instrument | None:
    if exchange not in ("binance", "binanceusdm"):
        return None
    # Binance spot and USD-M linear contracts: quantity in base, contract size 1 (ccxt markets
    # contractSize=1 for binanceusdm; Binance USD-M order quantity is in base asset).
    return Instrument(
        exchange=exchange,
        market=market,
        symbol=symbol,
        unified=f"{name.base}/{name.quote}" + (f":{name.settle}" if name.settle else ""),
        base=name.base,
        quote=name.quote,
        settle=name.settle,
        margin=Margin.LINEAR if market is Market.PERP else Margin.NONE,
    )


class FreqtradeOhlcv:
    """freqtrade candle files (feather, json, json.gz, csv) → bars or settled funding."""

    name = "freqtrade-ohlcv"
    description = "freqtrade data file <PAIR>-<tf>[-<candle type>].feather|json|json.gz|csv"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim freqtrade-named files whose content has the matching shape."""
        name = parse_name(path)
        if name is None:
            return False
        if name.ext == "feather":
            return head.startswith(b"ARROW1")
        if name.ext == "csv":
            return head.split(b"\n", 1)[0].strip() == b",".join(c.encode() for c in COLUMNS)
        return re.match(rb"\s*\[\s*(\[\s*\d{10,13}\s*,|\])", head) is not None

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the file; the candle type in the name decides the record type."""
        name = parse_name(path)
        if name is None:
            raise InputError(
                "not a freqtrade file name: expected <PAIR>-<timeframe>[-<candle type>].<ext>, "
                "e.g. XRP_USDT_USDT-1h-futures.feather",
                path=path,
            )
        if name.settle is not None and name.settle == name.base:
            raise InputError(
                f"coin-margined pair ({name.base}/{name.quote}:{name.settle}) is not supported: "
                "its volume is in contracts of unknown size",
                path=path,
            )
        spot = name.kind == "spot"
        market = Market.SPOT if spot else Market.PERP
        default = "binance" if spot else "binanceusdm"
        exchange = hints.exchange or default
        symbol = hints.symbol or f"{name.base}{name.quote}"
        df = read_ohlcv(path, name.ext)
        if progress is not None:
            progress(path.stat().st_size)
        parsed = Parsed(path=path, format=self.name)
        df = df.with_columns(
            exchange=pl.lit(exchange), market=pl.lit(str(market)), symbol=pl.lit(symbol)
        )
        if name.kind == "funding_rate":
            # freqtrade keeps funding in an OHLCV frame with the rate in ``open`` (others 0);
            # the rows are the settled rates, stamped at Binance's fundingTime (ms jitter kept).
            parsed.add(
                Funding,
                df.with_columns(
                    rate=pl.col("open"),
                    is_settled=pl.lit(value=True),
                    interval_hours=pl.lit(name.interval_s / 3600),
                ),
            )
        else:
            self._bars(df, name, parsed)
        if exchange != default:
            parsed.notes.append(
                f"exchange {exchange!r} from --exchange: volume taken as base units as ccxt "
                "reports it; no contract terms recorded"
            )
        inst = _instrument(name, exchange, symbol, market)
        if inst is not None:
            parsed.add_instrument(inst)
        return parsed

    @staticmethod
    def _bars(df: pl.DataFrame, name: FileName, parsed: Parsed) -> None:
        kind = _KIND_PRICE[name.kind]
        has_volume = bool((df.get_column("volume").fill_null(0.0) > 0).any())
        if kind is PriceKind.MARK and has_volume:
            kind = PriceKind.TRADE
            parsed.notes.append(
                "this 'mark' file carries traded volume, which mark-price klines never have: "
                "imported as trade bars with volume"
            )
        volume = pl.col("volume") if kind is PriceKind.TRADE else pl.lit(None, dtype=pl.Float64)
        parsed.add(
            Bar,
            df.with_columns(
                price_kind=pl.lit(str(kind)),
                interval_s=pl.lit(name.interval_s, dtype=pl.Int64),
                volume_base=volume,
            ),
        )


FORMATS: tuple[Format, ...] = (FreqtradeOhlcv(),)
