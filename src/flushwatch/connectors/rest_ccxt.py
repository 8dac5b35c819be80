"""REST calls of the native connectors, made through ccxt's implicit API (issue 6).

Websockets stay flushwatch's own; every REST GET (depth snapshots, open-interest polls,
exchangeInfo, Bybit/OKX instruments, backfilled history) goes through one
``ccxt.async_support`` exchange per connector, so ccxt's rate limiter (``enableRateLimit``,
the exchange's documented ``rateLimit`` and per-endpoint costs) spaces the calls. Only
implicit methods are called (``fapiPublicGetDepth`` …), or ccxt's generic ``request()`` for a
documented path ccxt's table lacks (:data:`RAW`): no ``load_markets``/``fetch_time`` traffic
behind our back. The unified ``fetch_ohlcv``/``fetch_funding_rate_history``/… are not used on
purpose: each loads every market of every category first, hides the venue's own paging
cursors, and returns parsed rows where the backfill must record and decode the venue's body.
Each call returns ``(url, body)``: the URL ccxt requested and the
body exactly as received, so the connectors record it verbatim and recordings re-import.

ccxt's own ``last_http_response``/``last_response_headers`` are NOT used for the body, for two
reasons found in the installed ccxt: it assigns them inside ``async with session.get(...)``,
whose exit awaits aiohttp's ``wait_for_close`` (a suspension point after the assignment, so a
concurrent call on the same exchange may overwrite them before the caller reads), and it
stores the body ``.strip()``-ped, which is not what the venue sent. Instead ccxt's
``on_rest_response`` hook, which ccxt calls synchronously with the URL, status, headers and
unstripped body of each response, writes them to a :class:`contextvars.ContextVar`: the
request runs in the caller's task, each task has its own context, so concurrent calls can
never see each other's replies.

Errors map onto the ConnectorError tree (:func:`map_error`), so the retry logic
(:func:`flushwatch.connectors.retry.retrying`) is unchanged.
"""

from __future__ import annotations

import contextvars
from collections.abc import Mapping
from types import TracebackType
from typing import Any, NamedTuple, Self
from urllib.parse import urlencode

from flushwatch.connectors.retry import retry_after
from flushwatch.errors import (
    BadSymbol,
    ConfigError,
    ConnectorError,
    ExchangeUnavailable,
    NotSupported,
    PermanentError,
    RateLimited,
)

Params = Mapping[str, str | int]


class Api(NamedTuple):
    """The ccxt URL group a venue's calls use, and that group's path under the REST base."""

    group: str
    prefix: str


#: Per ccxt exchange id: the main URL group flushwatch calls (ccxt's ``urls["api"]`` key).
APIS: Mapping[str, Api] = {
    "binance": Api("public", "/api/v3"),
    "binanceusdm": Api("fapiPublic", "/fapi/v1"),
    "binancecoinm": Api("dapiPublic", "/dapi/v1"),
    "bybit": Api("public", ""),
    "okx": Api("rest", ""),  # ccxt's okx sign() adds /api/v5 itself
}

#: Further URL groups of a venue, on the same REST base: USDⓈ-M serves its statistics
#: (``openInterestHist``) under ``/futures/data``, ccxt's ``fapiData`` group.
MORE_APIS: Mapping[str, tuple[Api, ...]] = {
    "binanceusdm": (Api("fapiData", "/futures/data"),),
    "binancecoinm": (Api("dapiData", "/futures/data"),),
}

#: Per exchange: venue path → the ccxt implicit method that GETs it.
METHODS: Mapping[str, Mapping[str, str]] = {
    "binance": {
        "/api/v3/depth": "publicGetDepth",
        "/api/v3/exchangeInfo": "publicGetExchangeInfo",
    },
    "binanceusdm": {
        "/fapi/v1/depth": "fapiPublicGetDepth",
        "/fapi/v1/openInterest": "fapiPublicGetOpenInterest",
        "/fapi/v1/exchangeInfo": "fapiPublicGetExchangeInfo",
        "/fapi/v1/klines": "fapiPublicGetKlines",
        "/fapi/v1/markPriceKlines": "fapiPublicGetMarkPriceKlines",
        "/fapi/v1/fundingRate": "fapiPublicGetFundingRate",
        "/futures/data/openInterestHist": "fapiDataGetOpenInterestHist",
    },
    "binancecoinm": {
        "/dapi/v1/depth": "dapiPublicGetDepth",
        "/dapi/v1/openInterest": "dapiPublicGetOpenInterest",
        "/dapi/v1/exchangeInfo": "dapiPublicGetExchangeInfo",
        "/dapi/v1/klines": "dapiPublicGetKlines",
        "/dapi/v1/markPriceKlines": "dapiPublicGetMarkPriceKlines",
        "/dapi/v1/indexPriceKlines": "dapiPublicGetIndexPriceKlines",
        "/dapi/v1/premiumIndexKlines": "dapiPublicGetPremiumIndexKlines",
        "/dapi/v1/fundingRate": "dapiPublicGetFundingRate",
        "/futures/data/openInterestHist": "dapiDataGetOpenInterestHist",
        "/futures/data/globalLongShortAccountRatio": "dapiDataGetGlobalLongShortAccountRatio",
        "/futures/data/topLongShortAccountRatio": "dapiDataGetTopLongShortAccountRatio",
        "/futures/data/topLongShortPositionRatio": "dapiDataGetTopLongShortPositionRatio",
    },
    "bybit": {
        "/v5/market/instruments-info": "publicGetV5MarketInstrumentsInfo",
        "/v5/market/kline": "publicGetV5MarketKline",
        "/v5/market/funding/history": "publicGetV5MarketFundingHistory",
        "/v5/market/open-interest": "publicGetV5MarketOpenInterest",
        "/v5/market/account-ratio": "publicGetV5MarketAccountRatio",
    },
    "okx": {
        "/api/v5/public/instruments": "publicGetPublicInstruments",
        "/api/v5/market/history-candles": "publicGetMarketHistoryCandles",
        "/api/v5/public/funding-rate-history": "publicGetPublicFundingRateHistory",
        "/api/v5/rubik/stat/contracts/open-interest-history": (
            "publicGetRubikStatContractsOpenInterestHistory"
        ),
        "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract": (
            "publicGetRubikStatContractsLongShortAccountRatioContract"
        ),
    },
}


class Raw(NamedTuple):
    """A venue path ccxt has no implicit method for, called through ccxt's generic ``request``.

    ``path`` and ``api`` are what ccxt's ``sign()`` expects; ``cost`` is the call's weight for
    ccxt's rate limiter, in units of the exchange's ``rateLimit`` (as its own API table gives).
    """

    path: str
    api: str
    cost: float


#: Per exchange: venue path → how to call it through ``request()`` (ccxt 4.5 lists no OKX
#: ``public/liquidation-orders``). OKX allows 40 requests / 2 s on it: cost 1 × 110 ms is 18.
RAW: Mapping[str, Mapping[str, Raw]] = {
    "okx": {"/api/v5/public/liquidation-orders": Raw("public/liquidation-orders", "public", 1)},
}


class Reply(NamedTuple):
    """One HTTP response as ccxt received it (before it strips and parses the body)."""

    url: str
    status: int
    headers: Mapping[str, str]
    body: str


#: The last reply received in the current task (see the module docstring for why not ccxt's).
_REPLY: contextvars.ContextVar[Reply | None] = contextvars.ContextVar(
    "flushwatch_ccxt_reply", default=None
)


def _header(reply: Reply | None, name: str) -> str | None:
    if reply is None:
        return None
    wanted = name.lower()
    return next((v for k, v in reply.headers.items() if k.lower() == wanted), None)


def map_error(exc: BaseException, reply: Reply | None, what: str) -> ConnectorError:
    """Translate a ccxt exception (and the reply behind it, if any) into a ConnectorError.

    The HTTP status decides where it is unambiguous, ccxt's class otherwise: 418/429,
    ``DDoSProtection`` or ``RateLimitExceeded`` (Bybit's ``retCode`` 10006 comes in an HTTP
    200) → :class:`RateLimited` with ``Retry-After``; ``BadSymbol`` and
    ``NotSupported`` → ours; 5xx (and 408) → :class:`ExchangeUnavailable`; any other 4xx →
    :class:`PermanentError` (ccxt's generic table calls 400/403/404 "ExchangeNotAvailable",
    which would retry a rejected request until the retry budget runs out); otherwise ccxt's
    transient ``OperationFailed`` family (``NetworkError``, ``ExchangeNotAvailable``,
    ``RequestTimeout``) or a transport error underneath → :class:`ExchangeUnavailable`;
    anything else → :class:`PermanentError`.
    """
    import aiohttp
    import ccxt.async_support as ccxt_async

    status = reply.status if reply is not None else None
    if reply is not None:
        text = f"{reply.url}: HTTP {status} {reply.body[:200]}"
    else:
        text = f"{what}: {type(exc).__name__}: {exc}"
    limited = (ccxt_async.DDoSProtection, ccxt_async.RateLimitExceeded)  # siblings in ccxt 4.5
    if status in (418, 429) or isinstance(exc, limited):
        return RateLimited(text, retry_after=retry_after(_header(reply, "Retry-After")))
    if isinstance(exc, ccxt_async.BadSymbol):
        return BadSymbol(text)
    if isinstance(exc, ccxt_async.NotSupported):
        return NotSupported(text)
    if status is not None and (status >= 500 or status == 408):
        return ExchangeUnavailable(text)
    if status is not None and status >= 400:
        return PermanentError(text)
    transport = (aiohttp.ClientError, OSError, TimeoutError)
    if isinstance(exc, ccxt_async.OperationFailed) or isinstance(exc.__cause__, transport):
        return ExchangeUnavailable(text)
    return PermanentError(text)


class CcxtRest:
    """One ccxt async exchange whose REST calls reach ``rest_base`` only (a context manager).

    Parameters
    ----------
    exchange
        ccxt exchange id, also flushwatch's (``binanceusdm``, ``bybit``, ``okx`` …).
    rest_base
        Scheme and host of the REST API (the real venue, or the loopback in tests).
    timeout
        Seconds ccxt waits for a response.
    """

    def __init__(self, exchange: str, rest_base: str, *, timeout: float) -> None:
        api = APIS.get(exchange)
        if api is None:
            raise ConfigError(f"no ccxt REST route for {exchange!r} ({', '.join(APIS)})")
        import ccxt.async_support as ccxt_async  # heavy (~0.7 s): only when a connector starts

        self.exchange = exchange
        self.base = rest_base.rstrip("/")
        client: Any = getattr(ccxt_async, exchange)(
            {"enableRateLimit": True, "timeout": int(timeout * 1000)}
        )
        # Every URL group ccxt knows is replaced by the groups we call, pointed at our base:
        # a call into any other group fails in ccxt's sign() instead of reaching a real host.
        groups = (api, *MORE_APIS.get(exchange, ()))
        client.urls = {**client.urls, "api": {g.group: self.base + g.prefix for g in groups}}
        client.on_rest_response = self._capture
        self.client = client

    def url_for(self, path: str, params: Params | None = None) -> str:
        """Return the URL a call of ``path`` with ``params`` requests (a label for events)."""
        query = f"?{urlencode(dict(params))}" if params else ""
        return f"{self.base}{path}{query}"

    async def get(self, path: str, params: Params | None = None) -> tuple[str, str]:
        """GET a venue ``path`` through its ccxt implicit method; return ``(url, body)``.

        Raises a :class:`~flushwatch.errors.ConnectorError` (see :func:`map_error`).
        """
        name = METHODS[self.exchange].get(path)
        raw = RAW.get(self.exchange, {}).get(path)
        if name is None and raw is None:
            known = ", ".join([*METHODS[self.exchange], *RAW.get(self.exchange, {})])
            raise NotSupported(f"{self.exchange}: no ccxt method for GET {path} ({known})")
        import ccxt.async_support as ccxt_async

        _REPLY.set(None)  # this task's previous reply must not stand in for a failed call
        try:
            if name is not None:
                await getattr(self.client, name)(dict(params or {}))
            elif raw is not None:
                config = {"cost": raw.cost}
                await self.client.request(raw.path, [raw.api], "GET", dict(params or {}), config)
        except ccxt_async.BaseError as exc:
            raise map_error(exc, _REPLY.get(), f"GET {self.url_for(path, params)}") from exc
        reply = _REPLY.get()  # set by this task's own request: no other task can have set it
        if reply is None:
            raise PermanentError(f"GET {self.url_for(path, params)}: ccxt returned no response")
        return reply.url, reply.body

    def _capture(
        self,
        code: int,
        reason: str,
        url: str,
        method: str,
        response_headers: Mapping[str, str],
        response_body: str,
        request_headers: object,
        request_body: object,
    ) -> str:
        """ccxt's ``on_rest_response`` hook: keep the reply for this task, strip like ccxt."""
        _REPLY.set(Reply(url, int(code), dict(response_headers), response_body))
        return response_body.strip()

    async def aclose(self) -> None:
        """Close ccxt's HTTP session."""
        await self.client.close()

    async def __aenter__(self) -> Self:
        """Return self (the session opens lazily on the first call)."""
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close ccxt's HTTP session."""
        await self.aclose()


__all__ = ["APIS", "METHODS", "MORE_APIS", "RAW", "Api", "CcxtRest", "Raw", "Reply", "map_error"]
