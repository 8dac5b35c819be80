"""Contract terms of Bybit v5 symbols: from instruments-info when seen, else from the name.

Bybit v5 splits the venue (ccxt id ``bybit``) into categories with their own websocket paths:
``linear`` (USDT/USDC-margined: one contract is one base coin, sizes are base coins),
``inverse`` (coin-margined: one contract is 1 USD, sizes are USD; Bybit help "What is Inverse
Contract?", https://www.bybit.com/en/help-center/article/What-is-Inverse-Contract: "buys 10,000
contracts ... the equivalent BTC for $10,000") and ``spot``. Option symbols are not decoded.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime

import msgspec

from flushwatch.domain.enums import Margin, Market
from flushwatch.domain.records import Instrument
from flushwatch.venues.bybit.wire import InstrumentInfo

EXCHANGE = "bybit"
CATEGORIES = ("linear", "inverse", "spot", "option")

#: Quote coins recognised at the end of a symbol when no instruments-info was seen.
_QUOTES = ("USDT", "USDC", "USDE", "USD", "EUR", "BRL", "DAI", "BTC", "ETH")
#: ``BTCUSDT-26DEC25`` (linear futures), ``BTC-26DEC25`` (USDC futures): ``DDMMMYY`` expiry.
_DATED = re.compile(r"^(?P<pair>[A-Z0-9]+)-(?P<day>\d{1,2})(?P<mon>[A-Z]{3})(?P<yy>\d{2})$")
_MONTHS = {
    m: i
    for i, m in enumerate(
        ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"), 1
    )
}


class Terms(msgspec.Struct, frozen=True):
    """What the hot path needs per symbol: market, size convention and funding interval."""

    market: Market
    #: True when sizes are USD contracts (inverse): base units = size × 1 USD / price.
    inverse: bool
    instrument: Instrument | None
    funding_hours: float | None = None  # from instruments-info ``fundingInterval``


def _split(pair: str) -> tuple[str, str] | None:
    for quote in _QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return pair[: -len(quote)], quote
    return None


def _yymmdd(day: str, mon: str, yy: str) -> str | None:
    month = _MONTHS.get(mon)
    return f"{yy}{month:02d}{int(day):02d}" if month else None


def _derivative(
    symbol: str, base: str, quote: str, settle: str, expiry: str | None, inverse: bool
) -> Terms:
    unified = f"{base}/{quote}:{settle}" + (f"-{expiry}" if expiry else "")
    inst = Instrument(
        exchange=EXCHANGE,
        market=Market.FUTURE if expiry else Market.PERP,
        symbol=symbol,
        unified=unified,
        base=base,
        quote=quote,
        settle=settle,
        margin=Margin.INVERSE if inverse else Margin.LINEAR,
        contract_size=1.0,  # 1 base coin (linear) or 1 USD (inverse): module docstring
    )
    return Terms(market=inst.market, inverse=inverse, instrument=inst)


def _spot(symbol: str, base: str, quote: str) -> Terms:
    inst = Instrument(
        exchange=EXCHANGE,
        market=Market.SPOT,
        symbol=symbol,
        unified=f"{base}/{quote}",
        base=base,
        quote=quote,
        settle=None,
        margin=Margin.NONE,
    )
    return Terms(market=Market.SPOT, inverse=False, instrument=inst)


def infer_terms(category: str, symbol: str) -> Terms:
    """Guess a symbol's terms from its category and name alone (no instruments-info seen)."""
    if category == "spot":
        split = _split(symbol)
        if split is None:
            return Terms(market=Market.SPOT, inverse=False, instrument=None)
        return _spot(symbol, *split)
    inverse = category == "inverse"
    dated = _DATED.match(symbol)
    if dated is not None:
        expiry = _yymmdd(dated["day"], dated["mon"], dated["yy"])
        pair = dated["pair"]
        split = _split(pair) or (pair, "USDC")  # "BTC-26DEC25": USDC-settled futures
    elif symbol.endswith("PERP"):  # "BTCPERP", "ETHPERP": USDC perpetuals
        expiry, split = None, (symbol.removesuffix("PERP"), "USDC")
    else:
        expiry, split = None, _split(symbol)
        if inverse and split is None:  # "BTCUSDH25": inverse futures, expiry not in the name
            return Terms(market=Market.FUTURE, inverse=True, instrument=None)
    if split is None:
        return Terms(market=Market.PERP, inverse=inverse, instrument=None)
    base, quote = split
    return _derivative(symbol, base, quote, base if inverse else quote, expiry, inverse)


def learned_terms(category: str, info: InstrumentInfo) -> Terms | None:
    """Terms from one instruments-info entry; None for categories we do not decode."""
    if category == "spot":
        return _spot(info.symbol, info.baseCoin, info.quoteCoin)
    if category not in ("linear", "inverse"):
        return None
    inverse = category == "inverse"
    kind = info.contractType or ""
    expiry = None
    if kind.endswith("Futures") and info.deliveryTime and info.deliveryTime != "0":
        when = datetime.fromtimestamp(int(info.deliveryTime) / 1000, tz=UTC)
        expiry = when.strftime("%y%m%d")
    settle = info.settleCoin or (info.baseCoin if inverse else info.quoteCoin)
    terms = _derivative(info.symbol, info.baseCoin, info.quoteCoin, settle, expiry, inverse)
    if kind.endswith("Futures") and expiry is None and terms.instrument is not None:
        inst = msgspec.structs.replace(terms.instrument, market=Market.FUTURE)
        terms = Terms(market=Market.FUTURE, inverse=inverse, instrument=inst)
    hours = info.fundingInterval / 60 if info.fundingInterval else None  # minutes → hours
    return msgspec.structs.replace(terms, funding_hours=hours)
