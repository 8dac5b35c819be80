"""Column mappings for vendor CSV exports: what each column means, declared instead of guessed.

A vendor export (CoinGlass, Coinalyze, a home-made script) is a wide CSV with one row per time
bucket and a column per metric. A :class:`Mapping` says which column is the time (epoch unit or
text format, and its time zone), which series the file belongs to, and which columns feed which
record type. Users write one in TOML and pass it as ``--mapping FILE``; the built-in mappings in
:mod:`flushwatch.ingest.vendor_builtin` are values of the same type. Unknown keys are refused,
so a typo such as ``unti = "percent"`` fails loudly instead of being ignored (freqtrade #36).

Example (every key that exists; omit the tables you do not need)::

    description = "my export"      # free text, shown in notes
    exchange = "coinglass"         # ccxt id, or the vendor's name for cross-venue aggregates
    market = "perp"                # spot | perp | future | option
    symbol = "BTC"                 # the venue's native symbol (or the vendor's for aggregates)
    interval_s = 3600              # bucket length: required by [[bars]] and [[liquidations]]
    venues = "Binance,Bybit,OKX"   # venue set the vendor aggregated (LiquidationBucket.venues)
    skip = ["cvd_close"]           # columns deliberately not imported (others are noted)

    [time]
    column = "timestamp"
    unit = "ms"                    # s | ms | us | ns for epoch numbers; omit for text times
    # format = "%Y-%m-%d %H:%M"    # strftime format (or a list, tried in order) for text
                                   # times; omit for ISO 8601
    # timezone = "Asia/Almaty"     # IANA zone of naive text times (default UTC)

    [[bars]]                       # → Bar, stamped at ts (bucket start)
    open = "o"
    high = "h"
    low = "l"
    close = "c"
    volume_base = "v"              # optional; also volume_quote
    price_kind = "trade"           # trade | mark | index | premium

    [[liquidations]]               # → LiquidationBucket (USD)
    long_usd = "longUsd"
    short_usd = "shortUsd"
    total_usd = "totalUsd"         # optional: checked == long + short, else ParseError

    [[funding]]                    # → Funding
    rate = "funding_open"
    unit = "percent"               # percent (value/100) | fraction: there is no default
    is_settled = false
    interval_hours = 8.0
    # settle_every_s = 28800       # the column forward-fills the last settled rate: emit one
                                   # row per change, stamped at the settlement boundary

    [[open_interest]]              # → OpenInterest, one-sided (DOMAIN.md C10)
    quote = "oi_usd"               # or contracts = "oi" + quote_per_contract / base_per_contract
    # price = "perp_price"         # derive oi_base = oi_quote / price

    [[prices]]                     # → MarkPrice
    last_price = "spot"            # and/or mark_price, index_price
    market = "spot"                # every series table may override exchange/market/symbol
    symbol = "BTC-USDT"

    [[instruments]]                # optional contract terms (Instrument records)
    market = "perp"
    symbol = "BTC-USD-SWAP"
    unified = "BTC/USD:BTC"
    base = "BTC"
    quote = "USD"
    settle = "BTC"
    margin = "inverse"
    contract_size = 100.0
"""

from __future__ import annotations

import tomllib
import zoneinfo
from pathlib import Path
from typing import Literal

import msgspec

from flushwatch.domain.enums import Margin, Market, PriceKind
from flushwatch.domain.time import Unit
from flushwatch.errors import ConfigError


class SeriesSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Fields every series table shares: overrides of the mapping's exchange/market/symbol."""

    exchange: str | None = None
    market: Market | None = None
    symbol: str | None = None


class TimeSpec(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Which column holds the event time and how to read it, so no unit or zone is guessed."""

    column: str
    unit: Unit | None = None
    format: str | tuple[str, ...] | None = None
    timezone: str = "UTC"


class BarSpec(SeriesSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """OHLC(V) columns of one bar series."""

    open: str
    high: str
    low: str
    close: str
    volume_base: str | None = None
    volume_quote: str | None = None
    price_kind: PriceKind = PriceKind.TRADE


class LiquidationSpec(SeriesSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Long/short liquidated USD per bucket, with an optional total to cross-check."""

    long_usd: str
    short_usd: str
    total_usd: str | None = None
    venues: str | None = None


class FundingSpec(SeriesSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """A funding-rate column and its unit (no default: percent vs fraction is the trap)."""

    rate: str
    unit: Literal["percent", "fraction"]
    is_settled: bool = False
    interval_hours: float | None = None
    settle_every_s: int | None = None


class OpenInterestSpec(SeriesSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Open interest in quote, base or contracts (with the contract's value)."""

    quote: str | None = None
    base: str | None = None
    contracts: str | None = None
    quote_per_contract: float | None = None
    base_per_contract: float | None = None
    price: str | None = None


class PriceSpec(SeriesSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Price snapshots stored as MarkPrice rows (last, mark and/or index)."""

    last_price: str | None = None
    mark_price: str | None = None
    index_price: str | None = None


class InstrumentSpec(SeriesSpec, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Contract terms to record for a symbol the file covers."""

    unified: str
    base: str
    quote: str
    settle: str | None = None
    margin: Margin = Margin.NONE
    contract_size: float = 1.0


class Mapping(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How to turn the columns of one vendor CSV layout into normalized records."""

    time: TimeSpec
    exchange: str
    market: Market
    symbol: str
    description: str = ""
    interval_s: int | None = None
    venues: str = "all"
    bars: tuple[BarSpec, ...] = ()
    liquidations: tuple[LiquidationSpec, ...] = ()
    funding: tuple[FundingSpec, ...] = ()
    open_interest: tuple[OpenInterestSpec, ...] = ()
    prices: tuple[PriceSpec, ...] = ()
    instruments: tuple[InstrumentSpec, ...] = ()
    skip: tuple[str, ...] = ()

    def columns(self) -> list[str]:
        """Return every CSV column the mapping reads, in a stable order, without repeats."""
        cols = [self.time.column]
        for spec in (
            *self.bars,
            *self.liquidations,
            *self.funding,
            *self.open_interest,
            *self.prices,
        ):
            for name in spec.__struct_fields__:
                value = getattr(spec, name)
                if name not in _NOT_COLUMNS and isinstance(value, str) and value not in cols:
                    cols.append(value)
        return cols


#: Spec fields holding something other than a column name.
_NOT_COLUMNS = frozenset({"exchange", "market", "symbol", "venues", "unit", "price_kind"})


def check_mapping(mapping: Mapping, source: str) -> Mapping:
    """Refuse mappings that would parse but cannot mean anything; return ``mapping``."""

    def bad(message: str) -> ConfigError:
        return ConfigError(f"{source}: {message}")

    t = mapping.time
    if t.unit is not None and t.format is not None:
        raise bad("[time] has both 'unit' (epoch numbers) and 'format' (text): keep one")
    try:
        zoneinfo.ZoneInfo(t.timezone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise bad(f"[time] timezone {t.timezone!r} is not an IANA zone name") from exc
    if (mapping.bars or mapping.liquidations) and not mapping.interval_s:
        raise bad("'interval_s' is required when [[bars]] or [[liquidations]] are mapped")
    for oi in mapping.open_interest:
        if oi.quote is None and oi.base is None and oi.contracts is None:
            raise bad("[[open_interest]] needs one of 'quote', 'base' or 'contracts'")
        if oi.contracts is not None and oi.quote_per_contract is oi.base_per_contract is None:
            raise bad("[[open_interest]] 'contracts' needs quote_per_contract or base_per_contract")
    for price in mapping.prices:
        if price.last_price is price.mark_price is price.index_price is None:
            raise bad("[[prices]] needs one of 'last_price', 'mark_price' or 'index_price'")
    for funding in mapping.funding:
        if funding.settle_every_s is not None and funding.settle_every_s <= 0:
            raise bad("[[funding]] 'settle_every_s' must be a positive number of seconds")
    return mapping


def load_mapping(path: Path) -> Mapping:
    """Load and check a TOML mapping file, naming the file and the offending key on error."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read mapping file: {exc.strerror or exc}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not a valid TOML mapping file: {exc}") from exc
    try:
        mapping = msgspec.convert(raw, Mapping)
    except msgspec.ValidationError as exc:
        # msgspec says e.g. "Object contains unknown field `unti` - at `$.funding[0]`".
        raise ConfigError(
            f"{path}: invalid mapping: {exc} (see flushwatch.ingest.vendor_mapping for keys)"
        ) from exc
    return check_mapping(mapping, str(path))
