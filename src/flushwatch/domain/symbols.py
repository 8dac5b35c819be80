"""Telling the base asset from a native symbol, for venues that do not say it elsewhere."""

from __future__ import annotations

import re

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "TUSD", "DAI", "EUR")
_SPLIT = re.compile(r"[-_/:]")
#: Kraken Futures' contract-type prefixes: perpetual linear/inverse, fixed-maturity, index.
_KRAKEN_FUTURES = re.compile(r"^(PF|PI|FF|FI|IN)_")


def base_asset(symbol: str) -> str:
    """Return the base asset of a native symbol.

    Handles Binance (``BTCUSDT``, ``BTCUSD_PERP``), OKX (``BTC-USDT-SWAP``), ccxt
    (``BTC/USDT:USDT``), Deribit (``BTC-PERPETUAL``), BitMEX (``XBTUSD``), Kraken Futures
    (``PF_ETHUSD``, ``PI_XBTUSD``: the prefix is the contract type, not the asset) and bare
    assets.

    Examples
    --------
    >>> [base_asset(s) for s in ("BTCUSDT", "BTC-USD-SWAP", "BTCUSD_PERP", "XBTUSD", "ETH")]
    ['BTC', 'BTC', 'BTC', 'BTC', 'ETH']
    >>> [base_asset(s) for s in ("PF_ETHUSD", "PI_XBTUSD", "FI_XBTUSD_260327", "PF_SOLUSD")]
    ['ETH', 'BTC', 'BTC', 'SOL']
    """
    head = _SPLIT.split(_KRAKEN_FUTURES.sub("", symbol.upper()), maxsplit=1)[0]
    for quote in _QUOTES:
        if head.endswith(quote) and len(head) > len(quote):
            head = head[: -len(quote)]
            break
    return "BTC" if head == "XBT" else head
