"""CoinGlass v4 REST client (https://docs.coinglass.com/reference): history endpoints, paged.

Every answer is the envelope ``{"code": "0", "msg": "success", "data": [...]}``; a ``code``
other than ``"0"`` (a plan that does not serve the interval, a bad symbol) is refused here,
with CoinGlass's own message. The key goes in the ``CG-API-KEY`` header; each answer's
``API-KEY-MAX-LIMIT`` header (the key's requests a minute, "Errors & Rate Limits") lowers the
client's rate when it is below the plan's. Times are UTC
milliseconds: ``start_time``/``end_time`` select rows by their ``time`` (the interval's start),
``limit`` caps the rows (1,000 at most), so a long range is split into windows of ``limit``
intervals (CoinGlass's "Timestamps and Pagination" page).

Endpoints used (``--data`` → path; "venues" = ``--exchange``, a comma list or one venue):

* ``liquidations`` → ``/api/futures/liquidation/aggregated-history`` (``exchange_list``,
  coin ``symbol``): long and short liquidation USD per interval over the venues;
* ``oi`` → ``/api/futures/open-interest/aggregated-history`` (coin, ``unit=usd``; every venue
  CoinGlass tracks), or with ONE venue ``/api/futures/open-interest/history`` (``exchange``,
  pair ``symbol``);
* ``funding`` → ``/api/futures/funding-rate/oi-weight-history`` (coin: the OI-weighted rate
  over venues), or with ONE venue ``/api/futures/funding-rate/history`` (venue and pair);
* ``depth`` → ``/api/futures/orderbook/aggregated-ask-bids-history`` (``exchange_list``, coin,
  ``range`` in percent): bid and ask USD within ±range of mid.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import NamedTuple

from flushwatch.connectors.vendor_config import (
    COINGLASS_KEY_ENV,
    PLAN_MIN_INTERVAL_S,
    CoinGlassConfig,
)
from flushwatch.connectors.vendor_http import Params, Reply, TokenBucket, VendorClient, VendorHttp
from flushwatch.errors import ConfigError, PermanentError, RateLimited
from flushwatch.venues import vendor_records as vr

# The endpoint paths and interval names live with the pure page decoders
# (:mod:`flushwatch.venues.vendor_records`), which read recordings back by them.
LIQUIDATIONS = vr.CG_LIQUIDATIONS
OI_AGGREGATED = vr.CG_OI_AGGREGATED
OI_PAIR = vr.CG_OI_PAIR
FUNDING_OI_WEIGHTED = vr.CG_FUNDING_OI_WEIGHTED
FUNDING_PAIR = vr.CG_FUNDING_PAIR
DEPTH = vr.CG_DEPTH
DATA = ("liquidations", "oi", "funding", "depth")

#: CoinGlass interval names → seconds.
INTERVALS: Mapping[str, int] = vr.CG_INTERVALS


class Request(NamedTuple):
    """What to ask for: the coin, the venues, the interval and the pair of a single venue."""

    symbol: str  # the coin, e.g. BTC
    venues: str  # "Binance,Bybit,OKX" or "Binance"
    interval: str
    pair: str  # the venue pair for single-venue OI and funding, e.g. BTCUSDT
    depth_range: str = "1"

    @property
    def single(self) -> bool:
        """One venue: OI and funding come from that venue's pair."""
        return "," not in self.venues


def interval_seconds(name: str, plan: str) -> int:
    """Seconds of a CoinGlass interval; refuse one the plan does not serve (before any call)."""
    if name not in INTERVALS:
        raise ConfigError(f"--interval {name!r}: one of {', '.join(INTERVALS)}")
    seconds = INTERVALS[name]
    floor = PLAN_MIN_INTERVAL_S.get(plan)
    if floor is not None and seconds < floor:
        shortest = next(k for k, v in INTERVALS.items() if v >= floor)
        raise ConfigError(
            f"--interval {name}: the CoinGlass {plan} plan serves {shortest} and longer; "
            "give a longer interval or set your plan with [coinglass] plan = ... in --config"
        )
    return seconds


def endpoint(data: str, req: Request) -> tuple[str, Params]:
    """The path and the parameters (without the time window) for ``data``."""
    coin: Params = {"symbol": req.symbol, "interval": req.interval}
    pair: Params = {"exchange": req.venues, "symbol": req.pair, "interval": req.interval}
    if data == "liquidations":
        return LIQUIDATIONS, {"exchange_list": req.venues, **coin}
    if data == "oi":
        return (
            (OI_PAIR, {**pair, "unit": "usd"})
            if req.single
            else (
                OI_AGGREGATED,
                {**coin, "unit": "usd"},
            )
        )
    if data == "funding":
        return (FUNDING_PAIR, pair) if req.single else (FUNDING_OI_WEIGHTED, coin)
    if data == "depth":
        return DEPTH, {"exchange_list": req.venues, **coin, "range": req.depth_range}
    raise ConfigError(f"--data {data!r}: one of {', '.join(DATA)}")


def check_envelope(url: str, body: str) -> None:
    """Refuse an answer whose ``code`` is not ``"0"`` (a body that is not JSON passes: the
    decoder names what is wrong with it)."""
    try:
        doc = json.loads(body)
    except ValueError:
        return
    if not isinstance(doc, dict) or str(doc.get("code", "0")) == "0":
        return
    code, msg = str(doc.get("code")), str(doc.get("msg") or "")
    if code == "429" or "too many" in msg.lower():
        raise RateLimited(f"GET {url}: CoinGlass code {code}: {msg}")
    raise PermanentError(f"GET {url}: CoinGlass code {code}: {msg}")


class CoinGlassClient(VendorClient):
    """The CoinGlass v4 history endpoints over one rate-limited, keyed HTTP client."""

    def __init__(self, config: CoinGlassConfig, key: str) -> None:
        self.config = config
        self.http = VendorHttp(
            config.base_url,
            vendor="CoinGlass",
            key_header="CG-API-KEY",
            key=key,
            key_env=COINGLASS_KEY_ENV,
            bucket=TokenBucket(config.rate),
            backoff=config.backoff,
            timeout=config.timeout,
            check=check_envelope,
            limit_header="API-KEY-MAX-LIMIT",
        )

    def request(self, data: str, req: Request, start_ms: int, end_ms: int) -> tuple[str, Params]:
        """The path and parameters of one history request."""
        path, params = endpoint(data, req)
        params = {
            **params,
            "start_time": start_ms,
            "end_time": end_ms,
            "limit": self.config.page_rows,
        }
        return path, params

    def url(self, data: str, req: Request, start_ms: int, end_ms: int) -> str:
        """The URL :meth:`history` requests (what a page ledger remembers)."""
        return self.http.url_for(*self.request(data, req, start_ms, end_ms))

    async def history(self, data: str, req: Request, start_ms: int, end_ms: int) -> Reply:
        """One page of ``data``: rows whose time is in ``[start_ms, end_ms]``."""
        return await self.http.get(*self.request(data, req, start_ms, end_ms))
