"""Coinalyze REST client (https://api.coinalyze.net/v1/doc/): history endpoints, paged.

Every history endpoint takes ``symbols`` (comma-separated, at most 20), ``interval``
(``1min`` … ``12hour``, ``daily``), ``from`` and ``to`` (UNIX seconds, both inclusive) and
answers ``[{"symbol": ..., "history": [{"t": ..., ...}]}]`` in ascending time. ``convert_to_usd``
(open interest and liquidations) is always ``true`` here: flushwatch stores liquidation buckets
and open interest in USD. The key goes in the ``api_key`` header.

Limits: 40 calls a minute per key where each symbol of a request counts as one call, so a
request costs ``len(symbols)`` tokens of the shared bucket; intraday intervals keep only the
latest 1,500-2,000 points (rows before that are simply not returned), ``daily`` everything.
A 429 carries ``Retry-After`` (seconds), which is waited out.
"""

from __future__ import annotations

from collections.abc import Mapping

from flushwatch.connectors.vendor_config import COINALYZE_KEY_ENV, CoinalyzeConfig
from flushwatch.connectors.vendor_http import (
    Params,
    Reply,
    TokenBucket,
    VendorClient,
    VendorHttp,
    Window,
)
from flushwatch.errors import ConfigError
from flushwatch.venues.vendor_records import CZ_ENDPOINTS, CZ_INTERVALS, CZ_MARKETS

#: ``--data`` name → history endpoint, the market list, interval names → seconds (the wire
#: tables live with the pure page decoders, :mod:`flushwatch.venues.vendor_records`).
ENDPOINTS: Mapping[str, str] = CZ_ENDPOINTS
MARKETS = CZ_MARKETS
INTERVALS: Mapping[str, int] = CZ_INTERVALS
#: Endpoints that take ``convert_to_usd``.
USD: frozenset[str] = frozenset({"oi", "liquidations"})


def interval_seconds(name: str) -> int:
    """Seconds of a Coinalyze interval name; a one-line error listing them otherwise."""
    if name not in INTERVALS:
        raise ConfigError(f"--interval {name!r}: one of {', '.join(INTERVALS)}")
    return INTERVALS[name]


class CoinalyzeClient(VendorClient):
    """The Coinalyze history endpoints over one rate-limited, keyed HTTP client."""

    def __init__(self, config: CoinalyzeConfig, key: str) -> None:
        self.config = config
        self.http = VendorHttp(
            config.base_url,
            vendor="Coinalyze",
            key_header="api_key",
            key=key,
            key_env=COINALYZE_KEY_ENV,
            bucket=TokenBucket(config.calls_per_minute),
            backoff=config.backoff,
            timeout=config.timeout,
        )

    async def markets(self) -> Reply:
        """``/future-markets``: every future's symbol, venue code and volume unit (one call)."""
        return await self.http.get(MARKETS, {})

    def request(
        self, data: str, symbols: list[str], interval: str, window: Window
    ) -> tuple[str, Params]:
        """The path and parameters of one history request."""
        params: Params = {
            "symbols": ",".join(symbols),
            "interval": interval,
            "from": window.start,
            "to": window.end,
        }
        if data in USD:
            params["convert_to_usd"] = "true"
        return ENDPOINTS[data], params

    def url(self, data: str, symbols: list[str], interval: str, window: Window) -> str:
        """The URL :meth:`history` requests (what a page ledger remembers)."""
        return self.http.url_for(*self.request(data, symbols, interval, window))

    async def history(self, data: str, symbols: list[str], interval: str, window: Window) -> Reply:
        """One history request for ``symbols`` (≤ 20) over ``window``; costs one call a symbol."""
        path, params = self.request(data, symbols, interval, window)
        return await self.http.get(path, params, cost=len(symbols))
