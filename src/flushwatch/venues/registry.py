"""Which decoder serves which exchange id or URL: the one table of venues and their hosts.

Venue packages are imported lazily, so a venue whose decoder is not written yet fails with a
clear :class:`~flushwatch.errors.UnknownFormatError` only when it is actually needed.
"""

from __future__ import annotations

import importlib
from typing import Protocol, cast
from urllib.parse import parse_qs, urlsplit, urlunsplit

from flushwatch.errors import UnknownFormatError
from flushwatch.venues.base import Decoder

#: ccxt exchange id → venue package exposing ``decode.make_decoder(url)``.
_PACKAGES: dict[str, str] = {
    "binance": "flushwatch.venues.binance",
    "binanceusdm": "flushwatch.venues.binance",
    "binancecoinm": "flushwatch.venues.binance",
    "bybit": "flushwatch.venues.bybit",
    "okx": "flushwatch.venues.okx",
    "hyperliquid": "flushwatch.venues.hyperliquid",
}

#: Exchange ids (and frame URLs) of the ccxt.pro adapter start with this.
CCXT_PREFIX = "ccxt:"

#: Websocket and REST hosts → exchange id.
_HOSTS: dict[str, str] = {
    "stream.binance.com": "binance",
    "api.binance.com": "binance",
    "fstream.binance.com": "binanceusdm",
    "fapi.binance.com": "binanceusdm",
    "dstream.binance.com": "binancecoinm",
    "dapi.binance.com": "binancecoinm",
    "stream.bybit.com": "bybit",
    "api.bybit.com": "bybit",
    "ws.okx.com": "okx",
    "www.okx.com": "okx",
    "api.hyperliquid.xyz": "hyperliquid",
}

#: The websocket URL one decoder per exchange is built with when the caller has none.
_DEFAULT_URL: dict[str, str] = {
    "binance": "wss://stream.binance.com:9443/stream",
    "binanceusdm": "wss://fstream.binance.com/stream",
    "binancecoinm": "wss://dstream.binance.com/stream",
    "bybit": "wss://stream.bybit.com/v5/public/linear",
    "okx": "wss://ws.okx.com:8443/ws/v5/public",
    "hyperliquid": "wss://api.hyperliquid.xyz/ws",
}

#: Bybit v5 splits one exchange into categories with their own websocket paths and symbols.
_BYBIT_CATEGORIES = ("linear", "inverse", "spot", "option")


class _Factory(Protocol):
    def __call__(self, url: str | None = None) -> Decoder: ...


def supported_exchanges() -> tuple[str, ...]:
    """Exchange ids that have a venue package (whether or not it is written yet)."""
    return tuple(_PACKAGES)


def default_url(exchange: str) -> str | None:
    """Return the websocket URL a decoder for ``exchange`` is built with when none is given."""
    return _DEFAULT_URL.get(exchange)


def exchange_from_url(url: str) -> str | None:
    """Return the ccxt exchange id whose websocket or REST host serves ``url``, or None.

    Examples
    --------
    >>> exchange_from_url("wss://fstream.binance.com/stream?streams=btcusdt@trade")
    'binanceusdm'
    """
    if url.startswith(CCXT_PREFIX):  # the ccxt.pro adapter's frames: "ccxt:<exchange id>"
        return url if len(url) > len(CCXT_PREFIX) else None
    host = (urlsplit(url).hostname or "").lower()
    return _HOSTS.get(host)


def routing_url(url: str) -> str | None:
    """Return the websocket URL of the decoder that must see ``url``'s frames or REST bodies.

    REST responses teach a decoder contract terms and snapshots, so they must reach the same
    decoder as the matching websocket: ``fapi.binance.com`` → the ``fstream`` decoder, Bybit
    ``...?category=linear`` → the ``/v5/public/linear`` decoder. None when the host is unknown
    or a Bybit URL names no category.

    Examples
    --------
    >>> routing_url("https://api.bybit.com/v5/market/instruments-info?category=spot")
    'wss://stream.bybit.com/v5/public/spot'
    """
    exchange = exchange_from_url(url)
    if exchange is None:
        return None
    if exchange.startswith(CCXT_PREFIX):
        return exchange
    if exchange != "bybit":
        return _DEFAULT_URL[exchange]
    parts = urlsplit(url)
    category = parts.path.rstrip("/").rsplit("/", 1)[-1]
    if category not in _BYBIT_CATEGORIES:
        category = (parse_qs(parts.query).get("category") or [""])[0]
    if category not in _BYBIT_CATEGORIES:
        return None
    return f"wss://stream.bybit.com/v5/public/{category}"


def decoder_for(exchange: str, url: str | None = None) -> Decoder:
    """Build a fresh decoder for ``exchange`` (a ccxt id), configured by ``url`` when given.

    ``ccxt:<id>`` is the ccxt.pro adapter's frames of exchange ``<id>``.
    """
    if exchange.startswith(CCXT_PREFIX):
        from flushwatch.venues.ccxt.decode import make_decoder

        return make_decoder(exchange)
    package = _PACKAGES.get(exchange)
    if package is None:
        raise UnknownFormatError(
            f"no decoder for exchange {exchange!r}; supported: {', '.join(_PACKAGES)}"
        )
    module_name = f"{package}.decode"
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name is None or not module_name.startswith(exc.name):
            raise  # a dependency of the venue package is missing: a bug, not a user error
        message = f"{exchange} has no decoder yet ({module_name} is missing)"
        raise UnknownFormatError(message) from exc
    factory = cast("_Factory", module.make_decoder)
    if url is not None:
        url = rehost(exchange, url)
    return factory(url or _DEFAULT_URL[exchange])


def file_prefix(exchange: str) -> str:
    """The exchange as recording file names start with it (``ccxt:kraken`` → ``ccxt-kraken``).

    A colon is not portable in file names (Windows, macOS Finder), so the adapter's ids are
    written with a dash; :func:`exchange_of_prefix` reads them back.
    """
    return exchange.replace(":", "-") if exchange.startswith(CCXT_PREFIX) else exchange


def exchange_of_prefix(prefix: str) -> str | None:
    """The exchange id a recording file name's prefix stands for, if it names one."""
    if prefix.startswith("ccxt-") and len(prefix) > len("ccxt-"):
        return CCXT_PREFIX + prefix[len("ccxt-") :]
    return prefix if prefix in _PACKAGES else None


def rehost(exchange: str, url: str) -> str:
    """``url`` on ``exchange``'s own host when it is a loopback, proxy or test address.

    The caller named the exchange, so the venue's host stands in and the path is kept (Bybit's
    category lives in the path, Binance's venue in the REST path). A known host is unchanged.
    """
    if exchange_from_url(url) is not None or exchange not in _DEFAULT_URL:
        return url
    default = urlsplit(_DEFAULT_URL[exchange])
    parts = urlsplit(url)
    return urlunsplit((default.scheme, default.netloc, parts.path, parts.query, ""))
