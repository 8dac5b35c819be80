"""Contract terms of Binance symbols (from ``exchangeInfo``, else the name) and venue addresses.

The three Binance venues are separate ccxt exchanges: ``binance`` (spot), ``binanceusdm``
(USDⓈ-M, linear: one contract = one base unit, per Binance's "USDⓈ-Margined Futures Contract
Specifications" FAQ) and ``binancecoinm`` (COIN-M, inverse: one contract = a fixed USD amount).
COIN-M contract sizes come from ``exchangeInfo.symbols[].contractSize``; without it we fall back
to Binance's "Coin-Margined Futures Contract Specifications" FAQ
(https://www.binance.com/en/support/faq/a4470430e3164c13932be8967961aede): "the contract
multiplier for BTC coin-margined contracts is 100 USD ... altcoin contracts have a multiplier of
10 USD".
"""

from __future__ import annotations

import msgspec

from flushwatch.domain.enums import Margin, Market
from flushwatch.domain.records import Instrument
from flushwatch.venues.binance.wire import SymbolInfo
from flushwatch.venues.registry import exchange_from_url

SPOT = "binance"
USDM = "binanceusdm"
COINM = "binancecoinm"
EXCHANGES = (SPOT, USDM, COINM)

#: Quote assets recognised at the end of a symbol when no exchangeInfo was seen (longest first).
_QUOTES = (
    "FDUSD",
    "USDT",
    "USDC",
    "BUSD",
    "TUSD",
    "DAI",
    "EUR",
    "TRY",
    "BRL",
    "GBP",
    "BTC",
    "ETH",
    "BNB",
)


class Terms(msgspec.Struct, frozen=True):
    """What the hot path needs per symbol: its market and the inverse contract size."""

    market: Market
    #: USD per contract for COIN-M (quantities must be converted), None when quantities are base.
    inverse_size: float | None
    instrument: Instrument | None


def _expiry(symbol: str) -> str | None:
    """``BTCUSD_210924`` → ``210924``; perpetuals (``_PERP`` or no suffix) → None."""
    _, sep, tail = symbol.rpartition("_")
    return tail if sep and tail.isdigit() else None


def _split_quote(pair: str) -> tuple[str, str] | None:
    for quote in _QUOTES:
        if pair.endswith(quote) and len(pair) > len(quote):
            return pair[: -len(quote)], quote
    return None


def _instrument(
    exchange: str, symbol: str, base: str, quote: str, settle: str | None, size: float
) -> Instrument:
    expiry = _expiry(symbol)
    if exchange == SPOT:
        return Instrument(
            exchange=exchange,
            market=Market.SPOT,
            symbol=symbol,
            unified=f"{base}/{quote}",
            base=base,
            quote=quote,
            settle=None,
            margin=Margin.NONE,
        )
    unified = f"{base}/{quote}:{settle}" + (f"-{expiry}" if expiry else "")
    return Instrument(
        exchange=exchange,
        market=Market.FUTURE if expiry else Market.PERP,
        symbol=symbol,
        unified=unified,
        base=base,
        quote=quote,
        settle=settle,
        margin=Margin.INVERSE if exchange == COINM else Margin.LINEAR,
        contract_size=size,
    )


def _terms(inst: Instrument) -> Terms:
    size = inst.contract_size if inst.margin is Margin.INVERSE else None
    return Terms(market=inst.market, inverse_size=size, instrument=inst)


def infer_terms(exchange: str, symbol: str) -> Terms:
    """Guess a symbol's terms from its name alone (no exchangeInfo seen)."""
    if exchange == COINM:
        pair = symbol.partition("_")[0]  # "BTCUSD_PERP" → "BTCUSD"
        base = pair.removesuffix("USD")
        size = 100.0 if base == "BTC" else 10.0  # COIN-M contract specs FAQ (module docstring)
        return _terms(_instrument(exchange, symbol, base, "USD", base, size))
    split = _split_quote(symbol.partition("_")[0])
    if split is None:  # cannot tell base from quote: keep the market, emit no instrument
        market = Market.SPOT if exchange == SPOT else Market.PERP
        if exchange != SPOT and _expiry(symbol):
            market = Market.FUTURE
        return Terms(market=market, inverse_size=None, instrument=None)
    base, quote = split
    return _terms(_instrument(exchange, symbol, base, quote, quote, 1.0))


def learned_terms(exchange: str, info: SymbolInfo) -> Terms | None:
    """Terms from one exchangeInfo entry; None for entries we cannot classify."""
    base, quote = info.baseAsset, info.quoteAsset
    if exchange == SPOT:
        return _terms(_instrument(exchange, info.symbol, base, quote, None, 1.0))
    kind = info.contractType or ""
    if not kind:  # delisted/settling USDⓈ-M entries carry contractType "": fall back to the name
        return None
    settle = info.marginAsset or (base if exchange == COINM else quote)
    if exchange == COINM:
        fallback = infer_terms(exchange, info.symbol).inverse_size or 10.0
        contract = float(info.contractSize) if info.contractSize else fallback
    else:
        contract = 1.0  # USDⓈ-M: one contract is one base unit (module docstring)
    inst = _instrument(exchange, info.symbol, base, quote, settle, contract)
    if "PERPETUAL" in kind:  # PERPETUAL, TRADIFI_PERPETUAL
        inst = msgspec.structs.replace(inst, market=Market.PERP)
    else:  # CURRENT_QUARTER, NEXT_QUARTER, CURRENT_MONTH ...
        inst = msgspec.structs.replace(inst, market=Market.FUTURE)
    return _terms(inst)


def exchange_of(url: str) -> str | None:
    """Return the Binance exchange id serving ``url`` (websocket or REST host), or None."""
    exchange = exchange_from_url(url)
    return exchange if exchange in EXCHANGES else None


def snapshot_url(exchange: str, symbol: str) -> str:
    """Return the REST depth URL a snapshot of ``symbol`` on ``exchange`` comes from.

    Recordings that store the snapshot body without its URL (hftbacktest) replay it via this.
    """
    base = {
        SPOT: "https://api.binance.com/api/v3/depth",
        "binanceusdm": "https://fapi.binance.com/fapi/v1/depth",
        COINM: "https://dapi.binance.com/dapi/v1/depth",
    }[exchange]
    return f"{base}?symbol={symbol.upper()}"
