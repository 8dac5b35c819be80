"""Tardis exchange ids → ccxt ids, markets and the units of Tardis ``amount`` / ``open_interest``.

Tardis passes every exchange's own numbers through unchanged (its CSV ``amount`` is the
exchange's trade/book size, ``open_interest`` the exchange's OI figure), so the units differ
per venue and per contract: base coins for linear contracts and spot, USD for Deribit's and
Bybit's inverse contracts, *contracts* for BitMEX, Binance COIN-M, OKX and Huobi. This module
holds those rules, each with its source, and turns one ``(tardis exchange, symbol)`` pair into
:class:`Terms`. Where the unit is not known for sure, the terms say so (``None``) and the
importer refuses (amounts) or leaves the value null (open interest) instead of guessing.
"""

from __future__ import annotations

import re
from typing import Literal

import msgspec

from flushwatch.domain.enums import Coverage, Margin, Market
from flushwatch.domain.records import Instrument

Unit = Literal["base", "quote"]

#: Tardis exchange id → ccxt id (https://api.tardis.dev/v1/exchanges lists the Tardis ids).
CCXT_IDS: dict[str, str] = {
    "binance": "binance",
    "binance-futures": "binanceusdm",
    "binance-delivery": "binancecoinm",
    "bitmex": "bitmex",
    "deribit": "deribit",
    "okex": "okx",
    "okex-swap": "okx",
    "okex-futures": "okx",
    "huobi-dm-swap": "huobi",
    "bybit": "bybit",
    "bybit-spot": "bybit",
}

#: Venues whose liquidation feed pushes at most one order per symbol per interval (DOMAIN.md
#: C1: Binance USD-M/COIN-M 1000 ms; K33 reports Bybit and OKX moved to one per second).
_THROTTLED = frozenset(
    {"binance-futures", "binance-delivery", "bybit", "okex-swap", "okex-futures"}
)

_QUOTES = ("USDT", "USDC", "BUSD", "FDUSD", "TUSD", "USD", "BTC", "ETH", "BNB", "EUR")
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]


class Terms(msgspec.Struct, frozen=True, kw_only=True):
    """How to read one Tardis symbol: ccxt identity and the units of its numbers.

    ``amount_unit``/``amount_factor``: one Tardis ``amount`` is ``amount_factor`` base units
    (``"base"``) or quote units (``"quote"``, to be divided by the price); ``None`` = unknown.
    ``oi_unit``/``oi_factor``: the same for the derivative ticker's ``open_interest``.
    """

    exchange: str
    market: Market
    amount_unit: Unit | None
    amount_factor: float = 1.0
    oi_unit: Unit | None = None
    oi_factor: float = 1.0
    coverage: Coverage = Coverage.UNKNOWN
    instrument: Instrument | None = None


def _split_pair(text: str) -> tuple[str, str] | None:
    for quote in _QUOTES:
        if text.endswith(quote) and len(text) > len(quote):
            return text[: -len(quote)], quote
    return None


def _instrument(
    exchange: str,
    market: Market,
    symbol: str,
    pair: tuple[str, str],
    margin: Margin,
    contract_size: float,
    expiry: str | None = None,
) -> Instrument:
    base, quote = pair
    base = "BTC" if base == "XBT" else base  # ccxt renames BitMEX's XBT to BTC
    if margin is Margin.NONE:
        unified, settle = f"{base}/{quote}", None
    else:
        settle = base if margin is Margin.INVERSE else quote
        unified = f"{base}/{quote}:{settle}" + (f"-{expiry}" if expiry else "")
    return Instrument(
        exchange=exchange,
        market=market,
        symbol=symbol,
        unified=unified,
        base=base,
        quote=quote,
        settle=settle,
        margin=margin,
        contract_size=contract_size,
    )


def _spot(tardis: str, symbol: str) -> Terms:
    exchange = CCXT_IDS[tardis]
    pair = _split_pair(symbol.replace("-", "").replace("_", ""))
    inst = _instrument(exchange, Market.SPOT, symbol, pair, Margin.NONE, 1.0) if pair else None
    return Terms(exchange=exchange, market=Market.SPOT, amount_unit="base", instrument=inst)


def _binance_futures(symbol: str) -> Terms:
    # USD-M sizes and openInterest are in base units ("q": quantity; /fapi/v1/openInterest
    # "openInterest" in base asset), https://developers.binance.com/docs/derivatives/usds-margined-futures
    root, _, expiry = symbol.partition("_")
    market = Market.FUTURE if expiry else Market.PERP
    pair = _split_pair(root)
    inst = (
        _instrument("binanceusdm", market, symbol, pair, Margin.LINEAR, 1.0, expiry or None)
        if pair
        else None
    )
    return Terms(
        exchange="binanceusdm",
        market=market,
        amount_unit="base",
        oi_unit="base",
        coverage=Coverage.THROTTLED,
        instrument=inst,
    )


def _binance_delivery(symbol: str) -> Terms:
    # COIN-M sizes and openInterest are in contracts of 100 USD (BTC) or 10 USD (all others):
    # Binance COIN-M contract specifications, https://www.binance.com/en/futures/trading-rules/quarterly
    root, _, tail = symbol.partition("_")
    market = Market.PERP if tail == "PERP" else Market.FUTURE
    pair = _split_pair(root)
    if pair is None:
        return Terms(exchange="binancecoinm", market=market, amount_unit=None)
    size = 100.0 if pair[0] == "BTC" else 10.0
    expiry = tail if market is Market.FUTURE else None
    return Terms(
        exchange="binancecoinm",
        market=market,
        amount_unit="quote",
        amount_factor=size,
        oi_unit="quote",
        oi_factor=size,
        coverage=Coverage.THROTTLED,
        instrument=_instrument("binancecoinm", market, symbol, pair, Margin.INVERSE, size, expiry),
    )


_BITMEX_FUTURE = re.compile(r"^[A-Z]+[FGHJKMNQUVXZ]\d{2}$")


def _bitmex(symbol: str) -> Terms:
    market = Market.FUTURE if _BITMEX_FUTURE.match(symbol) else Market.PERP
    if symbol != "XBTUSD":
        # Quanto (ETHUSD) and linear (XBTUSDT) contracts have per-symbol multipliers that the
        # CSV does not carry: refuse rather than guess.
        return Terms(exchange="bitmex", market=market, amount_unit=None)
    # XBTUSD is inverse, 1 contract = 1 USD; Tardis "amount" and openInterest are contracts,
    # i.e. USD (https://www.bitmex.com/app/contract/XBTUSD).
    return Terms(
        exchange="bitmex",
        market=market,
        amount_unit="quote",
        oi_unit="quote",
        instrument=_instrument("bitmex", market, symbol, ("XBT", "USD"), Margin.INVERSE, 1.0),
    )


def _deribit_expiry(text: str) -> str | None:
    match = re.fullmatch(r"(\d{1,2})([A-Z]{3})(\d{2})", text)
    if not match or match.group(2) not in _MONTHS:
        return None
    month = _MONTHS.index(match.group(2)) + 1
    return f"{match.group(3)}{month:02d}{int(match.group(1)):02d}"


def _deribit(symbol: str) -> Terms:
    parts = symbol.split("-")
    if len(parts) >= 4:
        # Options: amounts are in the underlying coin ("For options and linear futures it is
        # the underlying base currency coin", Deribit API docs, public/ticker).
        return Terms(exchange="deribit", market=Market.OPTION, amount_unit="base")
    market = Market.PERP if parts[-1] == "PERPETUAL" else Market.FUTURE
    if "_" in parts[0]:  # BTC_USDC-PERPETUAL: linear, amounts and OI in base coin (same doc)
        base, quote = parts[0].split("_", 1)
        return Terms(
            exchange="deribit",
            market=market,
            amount_unit="base",
            oi_unit="base",
            instrument=_instrument("deribit", market, symbol, (base, quote), Margin.LINEAR, 1.0),
        )
    # Inverse: "For perpetual and inverse futures the amount is in USD units" — for amounts
    # and for open_interest alike (Deribit API docs, public/ticker and public/get_book_summary).
    # Contract sizes: BTC 10 USD, ETH 1 USD (https://www.deribit.com/kb/deribit-inverse-perpetual).
    size = {"BTC": 10.0, "ETH": 1.0}.get(parts[0])
    # a bare name ("BTC") has no expiry part: unknown terms, never an IndexError
    expiry = _deribit_expiry(parts[1]) if market is Market.FUTURE and len(parts) > 1 else None
    known = size is not None and (market is Market.PERP or expiry is not None)
    inst = (
        _instrument("deribit", market, symbol, (parts[0], "USD"), Margin.INVERSE, size, expiry)
        if known and size is not None
        else None
    )
    return Terms(
        exchange="deribit",
        market=market,
        amount_unit="quote",
        oi_unit="quote",
        instrument=inst,
    )


#: OKX linear face values (ctVal, base units per contract). BTC-USDT-SWAP 0.01 BTC:
#: https://www.okx.com/help/7053456733325 ; BTC-USDC-SWAP 0.0001 BTC and ETH-USDC-SWAP
#: 0.001 ETH: https://www.okx.com/help/okx-to-list-usdc-perpetual-for-btc-eth (2022-10-17).
_OKX_LINEAR_CT_VAL: dict[str, float] = {
    "BTC-USDT-SWAP": 0.01,
    "BTC-USDC-SWAP": 0.0001,
    "ETH-USDC-SWAP": 0.001,
}


def _okx_derivative(tardis: str, symbol: str) -> Terms:
    # OKX v5 trade/book "sz" and open-interest "oi" are in contracts (Tardis passes them
    # through: tardis-node src/mappers/okex.ts uses Number(sz) and Number(oi)).
    parts = symbol.split("-")
    if "_XPERP" in symbol or "_UM_" in symbol:
        # BTC-USD_UM_XPERP-310404 is an OKX "X-Perp" (USD Expiry Perpetual): listed as
        # instType FUTURES with an expiry years away (2031-04-04) but with a funding mechanism,
        # "functionally like perpetuals" (OKX help, X-Perps guide, 2026). We file it as PERP so
        # its funding sits with the other perpetuals. Its face value is not published in any
        # source we could check, so amounts are refused and open interest is left null.
        return Terms(exchange="okx", market=Market.PERP, amount_unit=None, coverage=_cov(tardis))
    market = Market.PERP if parts[-1] == "SWAP" else Market.FUTURE
    expiry = parts[-1] if market is Market.FUTURE and parts[-1].isdigit() else None
    if len(parts) != 3 or (market is Market.FUTURE and expiry is None):
        return Terms(exchange="okx", market=market, amount_unit=None, coverage=_cov(tardis))
    base, quote = parts[0], parts[1]
    if quote == "USD":
        # Crypto-margined: 100 USD per contract for BTC, 10 USD for every other coin
        # (https://www.okx.com/help/7053456733325; OPUSD "Contract Face Value 10 USD").
        size = 100.0 if base == "BTC" else 10.0
        return Terms(
            exchange="okx",
            market=market,
            amount_unit="quote",
            amount_factor=size,
            oi_unit="quote",
            oi_factor=size,
            coverage=_cov(tardis),
            instrument=_instrument(
                "okx", market, symbol, (base, quote), Margin.INVERSE, size, expiry
            ),
        )
    ct_val = _OKX_LINEAR_CT_VAL.get(symbol) if market is Market.PERP else None
    if ct_val is None:
        return Terms(exchange="okx", market=market, amount_unit=None, coverage=_cov(tardis))
    return Terms(
        exchange="okx",
        market=market,
        amount_unit="base",
        amount_factor=ct_val,
        oi_unit="base",
        oi_factor=ct_val,
        coverage=_cov(tardis),
        instrument=_instrument("okx", market, symbol, (base, quote), Margin.LINEAR, ct_val),
    )


def _huobi_swap(symbol: str) -> Terms:
    # Coin-margined swaps: sizes in contracts ("cont") of 100 USD (BTC) or 10 USD (others):
    # Huobi "Coin-margined Swaps Specifications", https://www.huobi.com/support/en-us/detail/900000106046/
    # Open interest is left null: HTX reports both sides (DOMAIN.md C10), not verified here.
    base, _, quote = symbol.partition("-")
    size = 100.0 if base == "BTC" else 10.0
    return Terms(
        exchange="huobi",
        market=Market.PERP,
        amount_unit="quote",
        amount_factor=size,
        instrument=_instrument("huobi", Market.PERP, symbol, (base, quote), Margin.INVERSE, size),
    )


def _bybit(symbol: str) -> Terms:
    future = bool(_BITMEX_FUTURE.match(symbol)) and not symbol.endswith(("USDT", "USDC"))
    market = Market.FUTURE if future else Market.PERP
    # Inverse futures (BTCUSDZ20) carry a month code and year; their expiry day is not in the
    # symbol, so they get terms but no unified Instrument.
    pair = _split_pair(symbol[:-3] if future else symbol)
    # Open interest is left null: whether Bybit's openInterest counts one side or both is
    # disputed (DOMAIN.md C10).
    if pair and pair[1] == "USD":
        # Inverse: 1 contract = 1 USD, so qty is USD (Bybit inverse perpetual contract
        # specification; ccxt's bybit markets give inverse contracts contractSize 1).
        inst = None if future else _instrument("bybit", market, symbol, pair, Margin.INVERSE, 1.0)
        return Terms(
            exchange="bybit",
            market=market,
            amount_unit="quote",
            coverage=Coverage.THROTTLED,
            instrument=inst,
        )
    if pair and pair[1] in ("USDT", "USDC") and not future:
        # Linear: qty in base coin (Bybit v5 public trade "v": trade size, base coin).
        return Terms(
            exchange="bybit",
            market=market,
            amount_unit="base",
            coverage=Coverage.THROTTLED,
            instrument=_instrument("bybit", market, symbol, pair, Margin.LINEAR, 1.0),
        )
    return Terms(exchange="bybit", market=market, amount_unit=None, coverage=Coverage.THROTTLED)


def _cov(tardis: str) -> Coverage:
    return Coverage.THROTTLED if tardis in _THROTTLED else Coverage.UNKNOWN


def terms_for(tardis_exchange: str, symbol: str) -> Terms | None:
    """Return the terms of one Tardis symbol, or None when the exchange is not supported."""
    match tardis_exchange:
        case "binance" | "okex" | "bybit-spot":
            return _spot(tardis_exchange, symbol)
        case "binance-futures":
            return _binance_futures(symbol)
        case "binance-delivery":
            return _binance_delivery(symbol)
        case "bitmex":
            return _bitmex(symbol)
        case "deribit":
            return _deribit(symbol)
        case "okex-swap" | "okex-futures":
            return _okx_derivative(tardis_exchange, symbol)
        case "huobi-dm-swap":
            return _huobi_swap(symbol)
        case "bybit":
            return _bybit(symbol)
    return None
