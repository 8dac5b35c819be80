"""Binance Vision trades and aggTrades read in pieces, for files too large to hold whole.

A month of BTCUSDT aggTrades is tens of millions of rows; :class:`BinanceVisionAggTrades`
reads a file whole (its bytes, a frame of strings, then the records), which for such a file
is many gigabytes. :func:`trade_chunks` reads the decompressed bytes in blocks of about
``chunk_bytes``, cut at a line end, and turns each block into validated :class:`Trade` rows
exactly as the whole-file reader does (same column rules, same conversions, lines numbered
as in the file), so memory is bounded by the block, not the file.

Plain, ``.gz`` and ``.zip`` (the member is streamed, after its ``.CHECKSUM`` is verified)
files stream. Writing the pieces is the caller's (``flushwatch.api.stream_import``): an
importer never touches the store.
"""

from __future__ import annotations

import contextlib
import gzip
import zipfile
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol

import msgspec
import polars as pl

from flushwatch.domain.enums import Side
from flushwatch.domain.records import Instrument, Trade
from flushwatch.domain.tables import LINE
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Hints, Parsed
from flushwatch.ingest.binance_vision_common import AGG_TRADES, TRADES, Source, resolve, with_source
from flushwatch.ingest.binance_vision_csv import column_names, sniff_kind
from flushwatch.ingest.binance_vision_trades import agg_trades_frame, trades_frame
from flushwatch.ingest.csvtools import epoch_factor, read_csv_strings
from flushwatch.ingest.files import read_head, verify_checksum
from flushwatch.ingest.validate import validate

#: Decompressed bytes per piece: about a million aggTrades rows.
CHUNK_BYTES = 64 << 20
_FORMATS = {AGG_TRADES: "binance-vision-agg-trades", TRADES: "binance-vision-trades"}


def streamable(path: Path) -> bool:
    """True for a Binance Vision trades or aggTrades file (what :func:`trade_chunks` reads)."""
    return sniff_kind(path, read_head(path)) in _FORMATS


class _Reader(Protocol):
    def read(self, size: int = -1, /) -> bytes: ...


@contextlib.contextmanager
def _open(path: Path) -> Iterator[_Reader]:
    lower = path.name.lower()
    with contextlib.ExitStack() as stack:
        if lower.endswith(".zip"):
            verify_checksum(path)
            zf = stack.enter_context(zipfile.ZipFile(path))
            members = [m for m in zf.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise InputError(
                    f"expected one file inside the zip, found {len(members)}", path=path
                )
            yield stack.enter_context(zf.open(members[0]))
        elif lower.endswith(".gz"):
            yield stack.enter_context(gzip.open(path, "rb"))
        else:
            yield stack.enter_context(path.open("rb"))


def _blocks(fh: _Reader, chunk_bytes: int) -> Iterator[bytes]:
    """Blocks of whole lines of about ``chunk_bytes`` each (the last one may lack a line end)."""
    carry = b""
    while True:
        data = fh.read(chunk_bytes)
        if not data:
            if carry:
                yield carry
            return
        data = carry + data
        cut = data.rfind(b"\n")
        if cut < 0:
            carry = data
            continue
        carry = data[cut + 1 :]
        yield data[: cut + 1]


#: (time column, quantity column, id column) of each kind, for the typed fast path.
_COLS = {AGG_TRADES: ("transact_time", "quantity", "agg_trade_id"), TRADES: ("time", "qty", "id")}


def _fast(
    data: bytes, names: tuple[str, ...], kind: str, src: Source, line: int
) -> pl.DataFrame | None:
    """Trade rows from a block of clean, typed CSV (what Binance writes), or None.

    The exact reader (strings first, each value checked) costs most of an import; a block
    that Polars reads with numeric types, whose times are plausible epochs and whose
    ``is_buyer_maker`` is ``true``/``false``, converts to the same rows without it. Anything
    else (blanks, spaces, a bad value, COIN-M contracts) returns None and takes the exact path.
    """
    if src.inverse_size is not None:
        return None
    time_col, qty_col, id_col = _COLS[kind]
    floats_ = {"price", qty_col}
    types = {
        n: pl.Float64 if n in floats_ else pl.Int64 if n == time_col else pl.String for n in names
    }
    try:
        df = pl.read_csv(data, has_header=False, new_columns=list(names), schema=types)
    except (pl.exceptions.PolarsError, ValueError):
        return None
    if df.width != len(names) or df.select(pl.any_horizontal(pl.all().is_null()).any()).item():
        return None
    factor = epoch_factor(pl.col(time_col))
    maker = pl.col("is_buyer_maker").str.to_lowercase()
    out = df.select(
        (pl.col(time_col) * factor).alias("ts_event"),
        pl.col("price"),
        pl.col(qty_col).alias("qty"),
        pl.when(maker == "true")
        .then(pl.lit(str(Side.SELL)))
        .when(maker == "false")
        .then(pl.lit(str(Side.BUY)))
        .alias("taker_side"),
        pl.col(id_col).alias("trade_id"),
        pl.int_range(line + 1, line + 1 + pl.len(), dtype=pl.Int64).alias(LINE),
    )
    if out.select(pl.col("ts_event").is_null().any() | pl.col("taker_side").is_null().any()).item():
        return None
    return with_source(out, src)


def trade_chunks(
    path: Path, hints: Hints | None = None, *, chunk_bytes: int = CHUNK_BYTES
) -> Iterator[Parsed]:
    """Yield the file's Trade rows a piece at a time, each piece parsed and validated.

    Raises :class:`InputError` (a :class:`ParseError` naming the line) at the first bad value;
    pieces before it have been yielded, so a caller that must write nothing on bad input reads
    the file once to validate before it writes (see ``flushwatch.api.stream_import``).
    """
    hints = hints or Hints()
    kind = sniff_kind(path, read_head(path))
    if kind not in _FORMATS:
        raise InputError("not a Binance Vision trades or aggTrades file", path=path)
    src = resolve(path, hints, kind)
    convert = agg_trades_frame if kind == AGG_TRADES else trades_frame
    line = 0  # physical lines before the current block
    names: tuple[str, ...] | None = None
    try:
        with _open(path) as fh:
            for block in _blocks(fh, chunk_bytes):
                data = block
                if names is None:
                    names, header = column_names(block, kind, path)
                    if header:
                        first_end = block.find(b"\n") + 1 or len(block)
                        data, line = block[first_end:], 1
                n_lines = data.count(b"\n") + (0 if data.endswith(b"\n") else 1)
                if data.strip():
                    rows = _fast(data, names, kind, src, line)
                    if rows is None:  # anything unusual: the exact reader names the bad value
                        try:
                            df = read_csv_strings(data, path, has_header=False, names=names)
                            df = df.with_columns(pl.col(LINE) + line)
                        except ParseError as exc:  # its line counts from the block's start
                            where = None if exc.line is None else exc.line + line
                            raise ParseError(
                                exc.message, path=path, line=where, field=exc.field
                            ) from exc
                        rows = convert(df, src, path)
                    parsed = Parsed(path=path, format=_FORMATS[kind])
                    if src.instrument is not None:
                        parsed.add_instrument(src.instrument)
                    parsed.add(Trade, rows)
                    validate(Trade, parsed.frames[Trade], path)
                    yield parsed
                line += n_lines
    except (zipfile.BadZipFile, EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise InputError(
            f"cannot decompress ({exc}); the file is truncated or corrupt", path=path
        ) from exc


class TradeCsv(msgspec.Struct, frozen=True, kw_only=True):
    """How one Binance Vision trades/aggTrades CSV maps onto :class:`Trade` rows.

    The format spec a bulk reader (:mod:`flushwatch.store.bulk`, DuckDB's typed ``read_csv``)
    works from, so the store knows no Binance column: the file's column names and value kinds
    (``int``, ``float``, ``str``), which column is the epoch time (unit detected per value, as
    :func:`~flushwatch.ingest.csvtools.epoch_ns` does), the price, the base quantity, the
    ``is_buyer_maker`` flag (true: the taker sold) and the trade id, and the instrument every
    row belongs to. ``path`` is the file the user named (the ledger and messages use it);
    ``csv`` the plain or ``.gz`` CSV to read (a ``.zip`` member is extracted first).
    """

    path: Path
    csv: Path
    format: str
    names: tuple[str, ...]
    kinds: tuple[str, ...]
    header: bool
    time: str
    price: str
    qty: str
    maker: str
    trade_id: str
    exchange: str
    market: str
    symbol: str
    instrument: Instrument | None


#: Value kind of each known column (any other column is read as text and ignored).
_KINDS = {
    "agg_trade_id": "str",
    "id": "str",
    "price": "float",
    "quantity": "float",
    "qty": "float",
    "quote_qty": "float",
    "base_qty": "float",
    "first_trade_id": "str",
    "last_trade_id": "str",
    "transact_time": "int",
    "time": "int",
    "is_buyer_maker": "str",
    "is_best_match": "str",
}


def trade_csv(path: Path, hints: Hints | None = None) -> TradeCsv | None:
    """The bulk spec of a trades/aggTrades file, or None when only the exact reader fits.

    COIN-M files (sizes in contracts, converted per row with the price) take the exact
    reader, as do files that are not Binance Vision trades or aggTrades.
    """
    hints = hints or Hints()
    kind = sniff_kind(path, read_head(path))
    if kind not in _FORMATS:
        return None
    src = resolve(path, hints, kind)
    if src.inverse_size is not None:
        return None
    with _open(path) as fh:
        head = fh.read(4096)
    names, header = column_names(head, kind, path)
    time_col, qty_col, id_col = _COLS[kind]
    return TradeCsv(
        path=path,
        csv=path,
        format=_FORMATS[kind],
        names=names,
        kinds=tuple(_KINDS.get(n, "str") for n in names),
        header=header,
        time=time_col,
        price="price",
        qty=qty_col,
        maker="is_buyer_maker",
        trade_id=id_col,
        exchange=src.exchange,
        market=str(src.market),
        symbol=src.symbol,
        instrument=src.instrument,
    )
