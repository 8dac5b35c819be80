"""Telling the base asset from a native symbol, for venues that do not say it elsewhere."""

from __future__ import annotations

import re

_QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD", "TUSD", "DAI", "EUR")
_SPLIT = re.compile(r"[-_/:]")


def base_asset(symbol: str) -> str:
    """Return the base asset of a native symbol.

    Handles Binance (``BTCUSDT``, ``BTCUSD_PERP``), OKX (``BTC-USDT-SWAP``), ccxt
    (``BTC/USDT:USDT``), Deribit (``BTC-PERPETUAL``), BitMEX (``XBTUSD``) and bare assets.

    Examples
    --------
    >>> [base_asset(s) for s in ("BTCUSDT", "BTC-USD-SWAP", "BTCUSD_PERP", "XBTUSD", "ETH")]
    ['BTC', 'BTC', 'BTC', 'BTC', 'ETH']
    """
    head = _SPLIT.split(symbol.upper(), maxsplit=1)[0]
    for quote in _QUOTES:
        if head.endswith(quote) and len(head) > len(quote):
            head = head[: -len(quote)]
            break
    return "BTC" if head == "XBT" else head
