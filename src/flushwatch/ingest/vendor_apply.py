"""Apply a :class:`~flushwatch.ingest.vendor_mapping.Mapping` to a CSV read as strings.

Every number goes through :func:`flushwatch.ingest.csvtools.floats`, so garbage is a
:class:`ParseError` naming the line and the column. Rows whose mapped values are all empty are
left out of that series (and counted in the notes); a partly empty row reaches the validator,
which names the missing field.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import polars as pl

from flushwatch.domain.records import (
    Bar,
    Funding,
    Instrument,
    LiquidationBucket,
    MarkPrice,
    OpenInterest,
)
from flushwatch.domain.tables import LINE
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS, NS_PER_S, Unit, guess_epoch_unit, to_ns
from flushwatch.errors import ParseError
from flushwatch.ingest.base import Parsed
from flushwatch.ingest.csvtools import floats, ints, require_columns
from flushwatch.ingest.vendor_mapping import (
    BarSpec,
    FundingSpec,
    LiquidationSpec,
    Mapping,
    OpenInterestSpec,
    PriceSpec,
    SeriesSpec,
    TimeSpec,
)

#: Relative tolerance for vendor totals: the exporters add two float64 values, so the
#: total is exact up to the last bit of the sum.
TOTAL_RTOL = 1e-9


def _to_utc(dt: pl.Series, zone: str) -> pl.Series:
    if not isinstance(dt.dtype, pl.Datetime):
        return pl.Series(dt.name, [None] * dt.len(), dtype=pl.Datetime("ns", "UTC"))
    if dt.dtype.time_zone is None:
        # Naive text is in the zone the mapping declares (default UTC), never guessed.
        return dt.dt.replace_time_zone(
            zone, ambiguous="raise", non_existent="raise"
        ).dt.convert_time_zone("UTC")
    return dt.dt.convert_time_zone("UTC")


def _epoch(df: pl.DataFrame, col: str, path: Path, unit: Unit) -> pl.Series:
    # Range-check in the declared unit *before* scaling: ms × 10⁹ overflows int64 silently.
    raw = ints(df, col, path)
    factor = to_ns(1, unit)
    bad = raw.is_not_null() & ((raw < MIN_TS_NS // factor) | (raw >= MAX_TS_NS // factor))
    if bad.any():
        idx = int(bad.arg_true()[0])
        value = int(raw[idx])
        guess = guess_epoch_unit(value)
        hint = f"; it looks like {guess}: wrong time unit in the mapping" if guess else ""
        raise ParseError(
            f"{value} is not an epoch time in {unit} between 2010 and 2100{hint}",
            path=path,
            line=int(df.get_column(LINE)[idx]),
            field=col,
        )
    return (raw * factor).alias("ts_event")


def parse_times(df: pl.DataFrame, spec: TimeSpec, path: Path) -> pl.Series:
    """Return the time column as UTC nanoseconds, reading epochs or text as the spec says.

    Text is tried against each declared format in turn (ISO 8601 inference when none), so a
    column that changes layout mid-file (``12:00`` then ``12:00:00``) still reads.
    """
    if spec.unit is not None:
        return _epoch(df, spec.column, path, spec.unit)
    # Eager Series parsing: only it infers ISO layouts (and their zone) from the data; the
    # expression path plans the dtype before seeing values and yields nulls. "" → null.
    text = df.get_column(spec.column).str.strip_chars()
    formats = (spec.format,) if isinstance(spec.format, str) or spec.format is None else spec.format
    try:
        parts = [
            _to_utc(text.str.to_datetime(fmt, time_unit="ns", strict=False), spec.timezone)
            for fmt in formats
        ]
    except pl.exceptions.PolarsError as exc:
        raise ParseError(
            f"cannot read times in zone {spec.timezone}: {str(exc).splitlines()[0]}",
            path=path,
            field=spec.column,
        ) from exc
    ns = pl.select(pl.coalesce(parts)).to_series().dt.epoch("ns")
    bad = df.get_column(spec.column).str.strip_chars().ne("") & ns.is_null()
    if bad.any():
        idx = int(bad.arg_true()[0])
        value = df.get_column(spec.column)[idx]
        what = f"format {spec.format!r}" if spec.format else "ISO 8601"
        raise ParseError(
            f"{value!r} is not a date-time ({what})",
            path=path,
            line=int(df.get_column(LINE)[idx]),
            field=spec.column,
        )
    return ns.alias("ts_event")


def _ids(mapping: Mapping, spec: SeriesSpec) -> dict[str, pl.Expr]:
    return {
        "exchange": pl.lit(spec.exchange or mapping.exchange),
        "market": pl.lit(str(spec.market or mapping.market)),
        "symbol": pl.lit(spec.symbol or mapping.symbol),
    }


class _Ctx:
    """One file being mapped: the string frame, its times and where results go."""

    def __init__(self, df: pl.DataFrame, mapping: Mapping, path: Path, parsed: Parsed) -> None:
        self.df = df
        self.mapping = mapping
        self.path = path
        self.parsed = parsed
        self.ts = parse_times(df, mapping.time, path)
        self._cache: dict[str, pl.Series] = {}

    def num(self, col: str) -> pl.Series:
        if col not in self._cache:
            self._cache[col] = floats(self.df, col, self.path)
        return self._cache[col]

    def emit(
        self,
        cls: type,
        spec: SeriesSpec,
        values: dict[str, pl.Series | pl.Expr],
        *,
        ts: pl.Series | None = None,
        mask: pl.Series | None = None,
    ) -> None:
        """Add one series: ``values`` are full-length; ``mask`` keeps rows, ``ts`` restamps."""
        series = [v for v in values.values() if isinstance(v, pl.Series)]
        stamps = self.ts if ts is None else ts.alias("ts_event")
        out = pl.DataFrame({"ts_event": stamps, LINE: self.df.get_column(LINE)})
        out = out.with_columns(**_ids(self.mapping, spec), **values)
        if mask is not None:
            out = out.filter(mask)
        elif series:
            keep = out.select(pl.any_horizontal([s.is_not_null() for s in series])).to_series()
            dropped = int((~keep).sum())
            if dropped:
                self.parsed.notes.append(
                    f"{dropped} rows without {cls.__name__} values were skipped for "
                    f"{spec.symbol or self.mapping.symbol}"
                )
            out = out.filter(keep)
        self.parsed.add(cls, out)


def _bars(ctx: _Ctx, spec: BarSpec) -> None:
    values: dict[str, pl.Series | pl.Expr] = {
        "open": ctx.num(spec.open),
        "high": ctx.num(spec.high),
        "low": ctx.num(spec.low),
        "close": ctx.num(spec.close),
        "price_kind": pl.lit(str(spec.price_kind)),
        "interval_s": pl.lit(ctx.mapping.interval_s, dtype=pl.Int64),
    }
    if spec.volume_base:
        values["volume_base"] = ctx.num(spec.volume_base)
    if spec.volume_quote:
        values["volume_quote"] = ctx.num(spec.volume_quote)
    ctx.emit(Bar, spec, values)


def _liquidations(ctx: _Ctx, spec: LiquidationSpec) -> None:
    long_usd, short_usd = ctx.num(spec.long_usd), ctx.num(spec.short_usd)
    if spec.total_usd:
        total = ctx.num(spec.total_usd)
        diff = (long_usd + short_usd - total).abs()
        bad = (diff > TOTAL_RTOL * total.abs().clip(lower_bound=1.0)).fill_null(value=False)
        if bad.any():
            idx = int(bad.arg_true()[0])
            raise ParseError(
                f"total {total[idx]!r} is not long {long_usd[idx]!r} + short {short_usd[idx]!r}; "
                "the export is inconsistent",
                path=ctx.path,
                line=int(ctx.df.get_column(LINE)[idx]),
                field=spec.total_usd,
            )
    values: dict[str, pl.Series | pl.Expr] = {
        "long_usd": long_usd,
        "short_usd": short_usd,
        "interval_s": pl.lit(ctx.mapping.interval_s, dtype=pl.Int64),
        "venues": pl.lit(spec.venues or ctx.mapping.venues),
    }
    ctx.emit(LiquidationBucket, spec, values)


def _funding(ctx: _Ctx, spec: FundingSpec) -> None:
    rate = ctx.num(spec.rate)
    if spec.unit == "percent":
        # Records hold fractions per interval (records.py, Funding). Shift the decimal text
        # exactly: "0.007665" % is the float nearest 0.00007665, which x / 100 in binary
        # floating point misses by one ulp for some values.
        text = ctx.df.get_column(spec.rate).str.strip_chars().to_list()
        rate = pl.Series(
            spec.rate, [_percent(t, v) for t, v in zip(text, rate.to_list(), strict=True)]
        )
    values: dict[str, pl.Series | pl.Expr] = {
        "rate": rate,
        "is_settled": pl.lit(spec.is_settled),
        "interval_hours": pl.lit(spec.interval_hours, dtype=pl.Float64),
    }
    if spec.settle_every_s is None:
        ctx.emit(Funding, spec, values)
        return
    # A forward-filled "last settled rate" column: one row per change, stamped at the
    # settlement boundary at or before the row where the new rate first shows.
    step = spec.settle_every_s * NS_PER_S
    changed = (rate != rate.shift(1)).fill_null(value=True) & rate.is_not_null()
    ctx.emit(Funding, spec, values, ts=(ctx.ts // step) * step, mask=changed)


def _percent(text: str | None, value: float | None) -> float | None:
    if value is None or text is None:
        return None
    try:
        return float(Decimal(text) / 100)
    except ArithmeticError:  # decimal.InvalidOperation: text polars reads but Decimal does not
        return value / 100.0


def _open_interest(ctx: _Ctx, spec: OpenInterestSpec) -> None:
    quote = ctx.num(spec.quote) if spec.quote else None
    base = ctx.num(spec.base) if spec.base else None
    if spec.contracts:
        contracts = ctx.num(spec.contracts)
        if quote is None and spec.quote_per_contract is not None:
            quote = contracts * spec.quote_per_contract  # inverse: contract = fixed quote value
        if base is None and spec.base_per_contract is not None:
            base = contracts * spec.base_per_contract  # linear: contract = fixed base amount
    if base is None and quote is not None and spec.price:
        base = quote / ctx.num(spec.price)
    values: dict[str, pl.Series | pl.Expr] = {}
    if quote is not None:
        values["oi_quote"] = quote.alias("oi_quote")
    if base is not None:
        values["oi_base"] = base.alias("oi_base")
    ctx.emit(OpenInterest, spec, values)


def _prices(ctx: _Ctx, spec: PriceSpec) -> None:
    values: dict[str, pl.Series | pl.Expr] = {}
    for name in ("last_price", "mark_price", "index_price"):
        col = getattr(spec, name)
        if col:
            values[name] = ctx.num(col)
    ctx.emit(MarkPrice, spec, values)


def apply_mapping(df: pl.DataFrame, mapping: Mapping, path: Path, parsed: Parsed) -> None:
    """Parse every series the mapping declares from ``df`` (strings + ``_line``) into ``parsed``."""
    require_columns(df, mapping.columns(), path)
    ctx = _Ctx(df, mapping, path, parsed)
    for bar in mapping.bars:
        _bars(ctx, bar)
    for liq in mapping.liquidations:
        _liquidations(ctx, liq)
    for funding in mapping.funding:
        _funding(ctx, funding)
    for oi in mapping.open_interest:
        _open_interest(ctx, oi)
    for price in mapping.prices:
        _prices(ctx, price)
    for inst in mapping.instruments:
        parsed.add_instrument(
            Instrument(
                exchange=inst.exchange or mapping.exchange,
                market=inst.market or mapping.market,
                symbol=inst.symbol or mapping.symbol,
                unified=inst.unified,
                base=inst.base,
                quote=inst.quote,
                settle=inst.settle,
                margin=inst.margin,
                contract_size=inst.contract_size,
            )
        )
    used = set(mapping.columns()) | set(mapping.skip) | {LINE}
    unused = [c for c in df.columns if c not in used]
    if unused:
        parsed.notes.append(f"columns not mapped, not imported: {', '.join(unused)}")
