"""What every Tardis CSV shares: the header, the two µs timestamps and the venue terms.

Tardis CSV format (https://docs.tardis.dev/downloadable-csv-files/data-types): comma
separated, one header line starting ``exchange,symbol,timestamp,local_timestamp``; both
timestamps are *microseconds* since the Unix epoch, UTC (``timestamp`` is the exchange's,
``local_timestamp`` the arrival time); an empty cell means "no value" (never zero).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from flushwatch.domain.tables import LINE
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS, NS_PER_US, guess_epoch_unit
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Parsed, Progress
from flushwatch.ingest.csvtools import floats, ints, read_csv_strings, require_columns
from flushwatch.ingest.files import logical_name, read_bytes
from flushwatch.ingest.tardis_venues import CCXT_IDS, Terms, terms_for

COMMON = ("exchange", "symbol", "timestamp", "local_timestamp")
HEADER_PREFIX = ",".join(COMMON) + ","


def header(head: bytes) -> list[str] | None:
    """Return the header columns when ``head`` starts like a Tardis CSV, else None."""
    first = head.split(b"\n", 1)[0].strip(b"\r").removeprefix(b"\xef\xbb\xbf")
    try:
        text = first.decode("ascii")
    except UnicodeDecodeError:
        return None
    if not text.startswith(HEADER_PREFIX):
        return None
    return text.split(",")


def name_has(path: Path, token: str) -> bool:
    """Whether the file name (as tardis-dev clients write it) contains ``_<token>_``."""
    return f"_{token}_" in logical_name(path).lower()


def load(path: Path, needed: Sequence[str], progress: Progress | None) -> pl.DataFrame | None:
    """Read the whole file as strings with ``_line``, checking the needed columns.

    Returns None for an empty file: Tardis serves "an empty gzip file when no data is
    available for a given day" (https://docs.tardis.dev/downloadable-csv-files/api).
    """
    data = read_bytes(path)
    if not data.strip():
        return None
    df = read_csv_strings(data, path)
    require_columns(df, [*COMMON, *needed], path)
    if progress is not None:
        progress(len(data))
    return df


def empty(path: Path, name: str) -> Parsed:
    """Return the result for an empty Tardis file, with a note saying so."""
    parsed = Parsed(path=path, format=name)
    parsed.notes.append("empty file: Tardis had no data for this day and symbol")
    return parsed


def epoch_us(df: pl.DataFrame, col: str, path: Path) -> pl.Series:
    """Parse a Tardis µs epoch column into ns, naming line and field on a wrong unit."""
    raw = ints(df, col, path)
    lo, hi = MIN_TS_NS // NS_PER_US, MAX_TS_NS // NS_PER_US
    bad = raw.is_not_null() & ((raw < lo) | (raw >= hi))
    if bad.any():
        idx = int(bad.arg_true()[0])
        value = int(raw[idx])
        unit = guess_epoch_unit(value)
        hint = f" (it looks like {unit})" if unit else ""
        raise ParseError(
            f"{value} is not an epoch time in microseconds between 2010 and 2100{hint}; "
            "Tardis CSV timestamps are µs since epoch",
            path=path,
            line=int(df.get_column(LINE)[idx]),
            field=col,
        )
    return raw * NS_PER_US


def base_frame(df: pl.DataFrame, path: Path, parsed: Parsed) -> tuple[pl.DataFrame, list[Terms]]:
    """Return ``df`` with ts_event/ts_recv (ns), ccxt exchange, market and venue-unit columns.

    Unit columns: ``_unit``/``_factor`` for amounts and ``_oi_unit``/``_oi_factor`` for open
    interest (see :class:`~flushwatch.ingest.tardis_venues.Terms`), ``coverage`` for
    liquidations. Instruments with known terms are added to ``parsed``.
    """
    for col in ("exchange", "symbol"):
        empty = df.get_column(col).fill_null("").str.strip_chars() == ""
        if empty.any():
            line = int(df.filter(empty).get_column(LINE)[0])
            raise ParseError("required value missing", path=path, line=line, field=col)
    pairs = df.select("exchange", "symbol").unique(maintain_order=True)
    rows: list[dict[str, object]] = []
    terms_list: list[Terms] = []
    for tardis, symbol in pairs.iter_rows():
        terms = terms_for(tardis, symbol)
        if terms is None:
            line = int(df.filter(pl.col("exchange") == tardis).get_column(LINE)[0])
            raise ParseError(
                f"Tardis exchange {tardis!r} is not supported; supported: "
                + ", ".join(sorted(CCXT_IDS)),
                path=path,
                line=line,
                field="exchange",
            )
        terms_list.append(terms)
        if terms.instrument is not None:
            parsed.add_instrument(terms.instrument)
        rows.append(
            {
                "exchange": tardis,
                "symbol": symbol,
                "_ccxt": terms.exchange,
                "market": str(terms.market),
                "_unit": terms.amount_unit,
                "_factor": terms.amount_factor,
                "_oi_unit": terms.oi_unit,
                "_oi_factor": terms.oi_factor,
                "coverage": str(terms.coverage),
            }
        )
    table = pl.DataFrame(
        rows,
        schema={
            "exchange": pl.String,
            "symbol": pl.String,
            "_ccxt": pl.String,
            "market": pl.String,
            "_unit": pl.String,
            "_factor": pl.Float64,
            "_oi_unit": pl.String,
            "_oi_factor": pl.Float64,
            "coverage": pl.String,
        },
    )
    out = df.with_columns(
        epoch_us(df, "timestamp", path).alias("ts_event"),
        epoch_us(df, "local_timestamp", path).alias("ts_recv"),
    )
    out = out.join(table, on=["exchange", "symbol"], how="left", maintain_order="left")
    out = out.drop("exchange").rename({"_ccxt": "exchange"})
    return out, terms_list


def require_amount_units(df: pl.DataFrame, path: Path) -> None:
    """Refuse symbols whose amount unit is unknown instead of storing a guessed quantity."""
    unknown = df.get_column("_unit").is_null()
    if unknown.any():
        row = df.filter(unknown).row(0, named=True)
        raise InputError(
            f"line {row[LINE]}: the unit of 'amount' for {row['exchange']} {row['symbol']} is "
            "not known (contracts of an unpublished size); flushwatch will not guess base "
            "quantities. Ask for this symbol's contract size to be added to tardis_venues.py",
            path=path,
        )


def number(df: pl.DataFrame, col: str, path: Path) -> pl.Series:
    """Parse a numeric column (empty → null, garbage → ParseError at its line)."""
    return floats(df, col, path)


def to_base(amount: pl.Expr, price: pl.Expr) -> pl.Expr:
    """Convert a Tardis amount to base units with the row's ``_unit``/``_factor``.

    Quote-denominated sizes (USD of inverse contracts) are divided by the row's own price,
    which is the base quantity the USD bought at that price.
    """
    scaled = amount * pl.col("_factor")
    return pl.when(pl.col("_unit") == "quote").then(scaled / price).otherwise(scaled)


def to_quote(amount: pl.Expr, price: pl.Expr) -> pl.Expr:
    """Convert a Tardis amount to quote units (the notional) with ``_unit``/``_factor``."""
    scaled = amount * pl.col("_factor")
    return pl.when(pl.col("_unit") == "quote").then(scaled).otherwise(scaled * price)


def check_choice(df: pl.DataFrame, col: str, allowed: Sequence[str], path: Path) -> pl.Series:
    """Return the lower-cased column, raising at the first value not in ``allowed``."""
    values = df.get_column(col).str.strip_chars().str.to_lowercase()
    bad = values.is_null() | ~values.is_in(list(allowed))
    if bad.any():
        idx = int(bad.arg_true()[0])
        raise ParseError(
            f"{df.get_column(col)[idx]!r} is not one of {', '.join(allowed)}",
            path=path,
            line=int(df.get_column(LINE)[idx]),
            field=col,
        )
    return values
