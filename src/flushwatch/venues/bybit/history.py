"""Bybit v5 REST history: how to page it (:class:`BybitPlan`) and how its bodies become records.

Endpoints (https://bybit-exchange.github.io/docs/v5/market/), each body
``{"retCode":0,"retMsg":"OK","result":{"category","symbol","list":[...]},"time"}`` with rows
NEWEST FIRST; market endpoints share 600 requests / 5 s per IP (ccxt spaces them):

* ``/v5/market/kline`` (``start``/``end``, limit ≤ 1000): ``[startTime, open, high, low, close,
  volume, turnover]``. Asked in windows of exactly ``limit`` bars, so no page can be cut
  whichever end the venue trims. Linear: ``volume`` base coins, ``turnover`` quote; inverse:
  ``volume`` USD contracts, ``turnover`` coins. A bar not closed at receive time is dropped.
* ``/v5/market/funding/history`` (``startTime``/``endTime``, limit ≤ 200): settled rates per
  the symbol's own interval (instruments-info ``fundingInterval``, else the spacing between
  settlements). Paged back by ``endTime`` = the oldest row's time − 1.
* ``/v5/market/open-interest`` (``intervalTime``, limit ≤ 200, ``cursor``): ``openInterest`` is
  "the sum of both sides" (DOMAIN.md C10): ``singleOpenInterest`` when given, else halved.
  Units: linear base coins → ``oi_base``; inverse USD → ``oi_quote``.
* ``/v5/market/account-ratio`` (``period``, limit ≤ 500, ``cursor``): ``buyRatio``/``sellRatio``
  are the shares of accounts long/short; the ratio is their quotient (Bybit's own definition),
  :class:`LongShortRatio` ``global_accounts``.

Bybit has no public liquidation history over REST (its ``allLiquidation`` stream is live only).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec

from flushwatch.domain.enums import PriceKind, RatioKind
from flushwatch.domain.records import Bar, Funding, LongShortRatio, OpenInterest, Record
from flushwatch.domain.time import NS_PER_MS
from flushwatch.errors import ConfigError
from flushwatch.venues.bybit.symbols import EXCHANGE, Terms
from flushwatch.venues.rest_history import Page, Pager, Params, query, spacing_hours

INSTRUMENTS = "/v5/market/instruments-info"
KLINE = "/v5/market/kline"
FUNDING = "/v5/market/funding/history"
OI = "/v5/market/open-interest"
RATIO = "/v5/market/account-ratio"
MAX_LIMIT = {KLINE: 1000, FUNDING: 200, OI: 200, RATIO: 500}
#: flushwatch interval → (Bybit kline ``interval``, seconds).
INTERVALS: dict[str, tuple[str, int]] = {
    "1m": ("1", 60),
    "3m": ("3", 180),
    "5m": ("5", 300),
    "15m": ("15", 900),
    "30m": ("30", 1800),
    "1h": ("60", 3600),
    "2h": ("120", 7200),
    "4h": ("240", 14400),
    "6h": ("360", 21600),
    "12h": ("720", 43200),
    "1d": ("D", 86400),
}
_INTERVAL_S = dict(INTERVALS.values())
#: flushwatch statistics period → (Bybit ``intervalTime``/``period``, seconds).
PERIODS: dict[str, tuple[str, int]] = {
    "5m": ("5min", 300),
    "15m": ("15min", 900),
    "30m": ("30min", 1800),
    "1h": ("1h", 3600),
    "4h": ("4h", 14400),
    "1d": ("1d", 86400),
}


class _Body(msgspec.Struct, frozen=True):
    retCode: int  # 0 on success
    result: msgspec.Raw
    retMsg: str = ""


class _Result(msgspec.Struct, frozen=True):
    list: msgspec.Raw  # rows, decoded per endpoint
    symbol: str = ""  # kline, open-interest
    category: str = ""
    nextPageCursor: str = ""  # open-interest, account-ratio


class FundingRow(msgspec.Struct, frozen=True):
    """One ``funding/history`` entry."""

    symbol: str
    fundingRate: float  # a fraction per the symbol's interval
    fundingRateTimestamp: int  # settlement time, ms


class OpenInterestRow(msgspec.Struct, frozen=True):
    """One ``open-interest`` entry."""

    openInterest: float  # BOTH sides (base coins linear, USD inverse)
    timestamp: int  # ms
    singleOpenInterest: str = ""  # one side, newer API versions


class RatioRow(msgspec.Struct, frozen=True):
    """One ``account-ratio`` entry."""

    symbol: str
    buyRatio: float  # share of accounts net long
    sellRatio: float  # share of accounts net short
    timestamp: int  # ms


#: ``[startTime, open, high, low, close, volume, turnover]``; turnover may be ``""``.
_Kline = tuple[int, float, float, float, float, float, str]
_BODY = msgspec.json.Decoder(_Body)
_RESULT = msgspec.json.Decoder(_Result)
_KLINES = msgspec.json.Decoder(list[_Kline], strict=False)
_FUNDING = msgspec.json.Decoder(list[FundingRow], strict=False)
_OI = msgspec.json.Decoder(list[OpenInterestRow], strict=False)
_RATIO = msgspec.json.Decoder(list[RatioRow], strict=False)
_TIMES = msgspec.json.Decoder(list[msgspec.Raw])

TermsOf = Callable[[str], Terms]


def _result(url: str, body: str | bytes) -> _Result:
    env = _BODY.decode(body)
    if env.retCode != 0:
        raise ValueError(f"{url}: Bybit retCode {env.retCode}: {env.retMsg}")
    return _RESULT.decode(env.result)


def _opt(value: str, field: str) -> float | None:
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"field {field!r}: {value!r} is not a number") from None


def decode(url: str, body: str | bytes, ts_recv: int | None, terms: TermsOf) -> list[Record] | None:
    """Records of one history body; None when ``url`` is not a history path."""
    path = urlsplit(url).path.rstrip("/")
    handler = _HANDLERS.get(path)
    if handler is None:
        return None
    rows = handler(url, _result(url, body), ts_recv, terms)
    return sorted(rows, key=lambda r: r.ts_event)  # Bybit sends newest first


def _klines(url: str, res: _Result, ts_recv: int | None, terms: TermsOf) -> list[Record]:
    name = query(url, "interval")
    interval = _INTERVAL_S.get(name)
    if interval is None:
        raise ValueError(f"{url}: kline interval {name!r} has no fixed length")
    if ts_recv is None:
        raise ValueError(f"{url}: klines need a receive time to tell closed bars from open")
    symbol = res.symbol or query(url, "symbol")
    found = terms(symbol)
    out: list[Record] = []
    for start, o, h, low, c, volume, turnover in _KLINES.decode(res.list):
        if (start + interval * 1000) * NS_PER_MS > ts_recv:
            continue  # still open at fetch time
        coins = _opt(turnover, "turnover") if found.inverse else volume
        out.append(
            Bar(
                ts_event=start * NS_PER_MS,
                exchange=EXCHANGE,
                market=found.market,
                symbol=symbol,
                ts_recv=ts_recv,
                price_kind=PriceKind.TRADE,
                interval_s=interval,
                open=o,
                high=h,
                low=low,
                close=c,
                volume_base=coins,
                volume_quote=volume if found.inverse else _opt(turnover, "turnover"),
            )
        )
    return out


def _funding(url: str, res: _Result, ts_recv: int | None, terms: TermsOf) -> list[Record]:
    rows = _FUNDING.decode(res.list)
    spacing = spacing_hours([r.fundingRateTimestamp for r in rows])
    out: list[Record] = []
    for row, gap in zip(rows, spacing, strict=True):
        found = terms(row.symbol)
        out.append(
            Funding(
                ts_event=row.fundingRateTimestamp * NS_PER_MS,
                exchange=EXCHANGE,
                market=found.market,
                symbol=row.symbol,
                ts_recv=ts_recv,
                rate=row.fundingRate,  # a fraction per interval
                is_settled=True,
                interval_hours=found.funding_hours or gap,
            )
        )
    return out


def _open_interest(url: str, res: _Result, ts_recv: int | None, terms: TermsOf) -> list[Record]:
    symbol = res.symbol or query(url, "symbol")
    found = terms(symbol)
    out: list[Record] = []
    for row in _OI.decode(res.list):
        single = _opt(row.singleOpenInterest, "singleOpenInterest")
        one_side = single if single is not None else row.openInterest / 2  # C10
        out.append(
            OpenInterest(
                ts_event=row.timestamp * NS_PER_MS,
                exchange=EXCHANGE,
                market=found.market,
                symbol=symbol,
                ts_recv=ts_recv,
                oi_base=None if found.inverse else one_side,  # linear: base coins
                oi_quote=one_side if found.inverse else None,  # inverse: USD
            )
        )
    return out


def _ratio(url: str, res: _Result, ts_recv: int | None, terms: TermsOf) -> list[Record]:
    out: list[Record] = []
    for row in _RATIO.decode(res.list):
        if row.sellRatio <= 0:
            continue  # no account short: the quotient is undefined
        out.append(
            LongShortRatio(
                ts_event=row.timestamp * NS_PER_MS,
                exchange=EXCHANGE,
                market=terms(row.symbol).market,
                symbol=row.symbol,
                ts_recv=ts_recv,
                kind=RatioKind.GLOBAL_ACCOUNTS,
                ratio=row.buyRatio / row.sellRatio,
            )
        )
    return out


_HANDLERS: dict[str, Callable[[str, _Result, int | None, TermsOf], list[Record]]] = {
    KLINE: _klines,
    FUNDING: _funding,
    OI: _open_interest,
    RATIO: _ratio,
}


# -- paging ------------------------------------------------------------------------------------


def _windows(page: Page, start: int, end: int, step_ms: int) -> Pager:
    """Windows of exactly ``limit`` bars (inclusive ``end``): none can be cut."""
    span = int(page.params["limit"]) * step_ms
    for lo in range(start, end, span):
        body = yield Page(page.path, {**page.params, "start": lo, "end": min(lo + span, end) - 1})
        _result(page.path, body)  # the shape is checked before the next page is asked for


def _by_end_time(page: Page, start: int, end: int) -> Pager:
    """``endTime`` walks back to the oldest row received, until ``startTime`` is reached."""
    limit = int(page.params["limit"])
    params: Params = {**page.params, "startTime": start, "endTime": end - 1}
    while True:
        body = yield Page(page.path, dict(params))
        times = [r.fundingRateTimestamp for r in _FUNDING.decode(_result(page.path, body).list)]
        if len(times) < limit or min(times) <= start:
            return
        params["endTime"] = min(times) - 1


def _by_cursor(page: Page, start: int, end: int) -> Pager:
    """Bybit's own cursor: ``nextPageCursor`` until it comes back empty."""
    params: Params = {**page.params, "startTime": start, "endTime": end - 1}
    while True:
        body = yield Page(page.path, dict(params))
        res = _result(page.path, body)
        if not res.nextPageCursor or not _TIMES.decode(res.list):
            return
        params["cursor"] = res.nextPageCursor


class BybitPlan:
    """Page Bybit v5 history (see the module docstring for endpoints, limits and units)."""

    exchange: str = EXCHANGE
    datasets: tuple[str, ...] = ("klines", "funding", "open_interest", "long_short_ratio")

    def __init__(self, interval: str = "1m", period: str = "1h", limit: int | None = None) -> None:
        if interval not in INTERVALS:
            raise ConfigError(f"--interval {interval!r}: Bybit has {', '.join(INTERVALS)}")
        if period not in PERIODS:
            raise ConfigError(f"stats_period {period!r}: Bybit has {', '.join(PERIODS)}")
        if limit is not None and limit <= 0:
            raise ConfigError("page_limit must be > 0")
        self.interval, self.interval_s = INTERVALS[interval]
        self.period, self.period_s = PERIODS[period]
        self.limit = limit

    def _limit(self, path: str) -> int:
        top = MAX_LIMIT[path]
        return min(self.limit, top) if self.limit is not None else top

    def prelude(self, symbol: str) -> list[Page]:
        """The symbol's terms (category, funding interval) from instruments-info."""
        return [Page(INSTRUMENTS, {"category": category(symbol), "symbol": symbol})]

    def pager(self, dataset: str, symbol: str, start_ms: int, end_ms: int) -> Pager:
        """The pages of one series over ``[start_ms, end_ms)``."""
        sym: Params = {"category": category(symbol), "symbol": symbol}
        if dataset == "klines":
            params = {**sym, "interval": self.interval, "limit": self._limit(KLINE)}
            return _windows(Page(KLINE, params), start_ms, end_ms, self.interval_s * 1000)
        if dataset == "funding":
            return _by_end_time(
                Page(FUNDING, {**sym, "limit": self._limit(FUNDING)}), start_ms, end_ms
            )
        if dataset == "open_interest":
            params = {**sym, "intervalTime": self.period, "limit": self._limit(OI)}
            return _by_cursor(Page(OI, params), start_ms, end_ms)
        if dataset == "long_short_ratio":
            params = {**sym, "period": self.period, "limit": self._limit(RATIO)}
            return _by_cursor(Page(RATIO, params), start_ms, end_ms)
        raise ConfigError(f"--data {dataset!r}: Bybit backfills {', '.join(self.datasets)}")


def category(symbol: str) -> str:
    """``inverse`` for coin-margined symbols (``BTCUSD``, ``BTCUSDH25``), else ``linear``."""
    if symbol.endswith(("USDT", "USDC", "PERP")) or "-" in symbol:
        return "linear"
    return "inverse" if "USD" in symbol else "linear"
