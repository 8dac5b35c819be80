"""Coinalyze and CoinGlass history bodies → records, from their URLs alone (pure, no I/O).

One home for what a vendor download stores and what ``flushwatch import`` reads back from the
download's recordings (:mod:`flushwatch.ingest.vendor_recordings`): both call
:func:`coinalyze_records` / :func:`coinglass_records`, so an import of the recordings gives the
rows the download gave. Everything a page means (interval, window, symbol, venues) is read
back from the request URL, which the recording keeps. The endpoint paths and interval names
are the vendors' (Coinalyze https://api.coinalyze.net/v1/doc/, CoinGlass v4
https://docs.coinglass.com/reference); the clients in :mod:`flushwatch.connectors` request
exactly these.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol
from urllib.parse import parse_qsl, urlsplit

from flushwatch.domain.records import Record
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues import coinalyze as cz
from flushwatch.venues import coinglass_api as cg

#: Coinalyze ``--data`` name → history endpoint.
CZ_ENDPOINTS: Mapping[str, str] = {
    "oi": "/open-interest-history",
    "funding": "/funding-rate-history",
    "predicted-funding": "/predicted-funding-rate-history",
    "liquidations": "/liquidation-history",
    "long-short": "/long-short-ratio-history",
    "ohlcv": "/ohlcv-history",
}
CZ_MARKETS = "/future-markets"
#: Coinalyze interval names → seconds.
CZ_INTERVALS: Mapping[str, int] = {
    "1min": 60,
    "5min": 300,
    "15min": 900,
    "30min": 1800,
    "1hour": 3600,
    "2hour": 7200,
    "4hour": 14_400,
    "6hour": 21_600,
    "12hour": 43_200,
    "daily": 86_400,
}

CG_LIQUIDATIONS = "/api/futures/liquidation/aggregated-history"
CG_OI_AGGREGATED = "/api/futures/open-interest/aggregated-history"
CG_OI_PAIR = "/api/futures/open-interest/history"
CG_FUNDING_OI_WEIGHTED = "/api/futures/funding-rate/oi-weight-history"
CG_FUNDING_PAIR = "/api/futures/funding-rate/history"
CG_DEPTH = "/api/futures/orderbook/aggregated-ask-bids-history"
#: CoinGlass interval names → seconds.
CG_INTERVALS: Mapping[str, int] = {
    "1m": 60,
    "3m": 180,
    "5m": 300,
    "15m": 900,
    "30m": 1800,
    "1h": 3600,
    "4h": 14_400,
    "6h": 21_600,
    "8h": 28_800,
    "12h": 43_200,
    "1d": 86_400,
    "1w": 604_800,
}
_CG_DECODERS = {
    CG_LIQUIDATIONS: cg.liquidations,
    CG_OI_AGGREGATED: cg.open_interest,
    CG_OI_PAIR: cg.open_interest,
    CG_FUNDING_OI_WEIGHTED: cg.funding,
    CG_FUNDING_PAIR: cg.funding,
    CG_DEPTH: cg.depth,
}
_CZ_DECODERS = {
    "oi": cz.open_interest,
    "liquidations": cz.liquidations,
    "long-short": cz.long_short,
    "ohlcv": cz.ohlcv,
}


class Body(Protocol):
    """One recorded response: the URL asked, the body verbatim, the receive time (ns)."""

    @property
    def url(self) -> str:
        """The request URL (never holding a key)."""
        ...

    @property
    def body(self) -> str:
        """The response body as received."""
        ...

    @property
    def ts_recv(self) -> int:
        """Receive time, UTC ns."""
        ...


def params(url: str) -> tuple[str, dict[str, str]]:
    """The path and query of ``url``."""
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))


def _need(q: dict[str, str], name: str, url: str) -> str:
    if name not in q:
        raise ValueError(f"{url}: no ?{name}= in the URL (the page cannot be placed in time)")
    return q[name]


def _interval(table: Mapping[str, int], name: str, url: str) -> int:
    if name not in table:
        raise ValueError(f"{url}: interval {name!r} is not one of {', '.join(table)}")
    return table[name]


def coinalyze_kind(url: str) -> str | None:
    """The ``--data`` name of a Coinalyze history URL, ``markets`` for the market list."""
    path = params(url)[0]
    if path.endswith(CZ_MARKETS):
        return "markets"
    return next((k for k, p in CZ_ENDPOINTS.items() if path.endswith(p)), None)


def coinglass_path(url: str) -> str | None:
    """The CoinGlass history endpoint ``url`` asks, or None."""
    path = params(url)[0]
    return next((p for p in _CG_DECODERS if path.endswith(p)), None)


def coinalyze_records(
    replies: Sequence[Body], markets: Mapping[str, cz.FutureMarket]
) -> list[Record]:
    """Every record of Coinalyze history bodies; predicted funding joins the funding of the
    same symbols and window (alone it is not a record: :class:`Funding` needs the rate)."""
    bodies = list(replies)
    predicted: dict[tuple[str, str, str], Body] = {}
    for r in bodies:
        if coinalyze_kind(r.url) == "predicted-funding":
            _, q = params(r.url)
            predicted[(q.get("symbols", ""), q.get("from", ""), q.get("to", ""))] = r
    out: list[Record] = []
    for r in bodies:
        kind = coinalyze_kind(r.url)
        if kind in (None, "markets", "predicted-funding"):
            continue
        _, q = params(r.url)
        step = _interval(CZ_INTERVALS, q.get("interval", ""), r.url)
        first, to = int(_need(q, "from", r.url)), int(_need(q, "to", r.url))
        page = cz.Page(interval_s=step, first=first, last=to - step + 1, ts_recv=r.ts_recv)
        if kind == "funding":
            ahead = predicted.get((q.get("symbols", ""), q["from"], q["to"]))
            pair = (ahead.url, ahead.body) if ahead is not None else None
            out += cz.funding(r.url, r.body, page, markets, pair)
        else:
            out += _CZ_DECODERS[str(kind)](r.url, r.body, page, markets)
    return out


def coinglass_records(replies: Sequence[Body]) -> list[Record]:
    """Every record of CoinGlass history bodies, labelled from their URLs."""
    out: list[Record] = []
    for r in replies:
        path = coinglass_path(r.url)
        if path is None:
            continue
        _, q = params(r.url)
        step_ms = _interval(CG_INTERVALS, q.get("interval", ""), r.url) * 1000
        one_venue = path in (CG_OI_PAIR, CG_FUNDING_PAIR)
        symbol = _need(q, "symbol", r.url)
        page = cg.Page(
            symbol=f"{symbol}-{_need(q, 'exchange', r.url)}" if one_venue else symbol,
            venues=q.get("exchange_list", q.get("exchange", "")),
            interval_s=step_ms // 1000,
            first=int(_need(q, "start_time", r.url)) * NS_PER_MS,
            last=(int(_need(q, "end_time", r.url)) - step_ms + 1) * NS_PER_MS,
            depth_range=float(q.get("range", "1")),
            ts_recv=r.ts_recv,
        )
        out += _CG_DECODERS[path](r.url, r.body, page)
    return out
