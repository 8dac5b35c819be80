"""Binance COIN-M REST history: how to page it (:class:`CoinmPlan`) and how its bodies decode.

Endpoints (Binance "Coin-Margined Futures / Market Data" docs), all public GETs on
``dapi.binance.com``; bodies are JSON arrays, numbers as strings:

* ``/dapi/v1/exchangeInfo`` (weight 1), fetched once before any history: each symbol's
  ``contractSize`` (USD per contract: 100 for BTC, 10 for the others, but always READ from here,
  never assumed). A history row of a symbol the body did not list is refused.
* ``/dapi/v1/klines``, ``markPriceKlines`` (``symbol``), ``indexPriceKlines`` (``pair``),
  ``premiumIndexKlines`` (``symbol``): limit ≤ 1500 (weight 1/2/5/10 for limits below 100 /
  500 / up to 1000 / above; 1000 is the default here: 200 rows per weight), ``endTime −
  startTime`` ≤ 200 days, and "between startTime and endTime, the most recent ``limit`` rows
  from endTime are returned". So each page is a window of exactly ``limit`` intervals (and at
  most 200 days): none can be cut, whichever end the venue trims. Trade klines: ``volume`` and
  taker-buy ``volume`` are CONTRACTS (× contractSize = USD), the "base asset volume" columns
  coins, exactly as the Vision importer reads the same layout. Mark/index/premium klines carry
  no volume. A bar not closed at receive time is dropped. Index bars are stored under the pair
  (``BTCUSD``), as the Vision importer stores them.
* ``/dapi/v1/fundingRate`` (limit ≤ 1000, weight 1; empty for delivery contracts): asked in
  windows of ``limit`` HOURS. No Binance funding interval is shorter than 1 h, so a window can
  never hold more than ``limit`` settlements and no page can be cut. The interval is the spacing
  between settlements (the body does not state it); a page holding one settlement takes it
  from the previous page's last (a lone first settlement stays None rather than a guessed 8 h).
* ``/futures/data/openInterestHist`` (``pair`` + ``contractType``, ``period``, limit ≤ 500,
  only the latest 30 days kept, weight 1): ``sumOpenInterest`` CONTRACTS (``oi_quote`` =
  contracts × contractSize USD) and ``sumOpenInterestValue`` in the BASE coin (``oi_base``).
  Asked for ``contractType=PERPETUAL`` of a ``_PERP`` symbol's pair: the row is that contract's.
* ``/futures/data/globalLongShortAccountRatio``, ``topLongShortAccountRatio``,
  ``topLongShortPositionRatio`` (``pair``, ``period``, limit ≤ 500, 30 days, weight 1):
  ``longShortRatio`` → :class:`LongShortRatio` of kind global / top-trader accounts / positions.
  Binance computes them per PAIR; they are stored under the pair's perpetual, as Vision's COIN-M
  ``metrics`` files label the same ratios (``BTCUSD_PERP``).

Statistics pages are windows of exactly ``limit`` periods (and at most 30 days), like klines.
Plans do no I/O: :mod:`flushwatch.live.backfill` fetches, records and retries.
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec

from flushwatch.domain.enums import Market, PriceKind, RatioKind
from flushwatch.domain.records import Bar, Funding, LongShortRatio, OpenInterest, Record
from flushwatch.domain.time import NS_PER_MS
from flushwatch.errors import ConfigError
from flushwatch.venues.binance.intervals import INTERVALS
from flushwatch.venues.binance.symbols import COINM, Terms
from flushwatch.venues.rest_history import Page, Pager, Params, query, spacing_hours

EXCHANGE_INFO = "/dapi/v1/exchangeInfo"
KLINES = "/dapi/v1/klines"
MARK = "/dapi/v1/markPriceKlines"
INDEX = "/dapi/v1/indexPriceKlines"
PREMIUM = "/dapi/v1/premiumIndexKlines"
FUNDING = "/dapi/v1/fundingRate"
OI_HIST = "/futures/data/openInterestHist"
GLOBAL_RATIO = "/futures/data/globalLongShortAccountRatio"
TOP_ACCOUNTS = "/futures/data/topLongShortAccountRatio"
TOP_POSITIONS = "/futures/data/topLongShortPositionRatio"
MAX_LIMIT = {KLINES: 1500, MARK: 1500, INDEX: 1500, PREMIUM: 1500, FUNDING: 1000}
MAX_LIMIT |= {OI_HIST: 500, GLOBAL_RATIO: 500, TOP_ACCOUNTS: 500, TOP_POSITIONS: 500}
#: Default page sizes: klines 1000 (weight 5; 1001-1500 cost 10), the rest at their maximum.
DEFAULT_LIMIT = {**MAX_LIMIT, KLINES: 1000, MARK: 1000, INDEX: 1000, PREMIUM: 1000}
_KLINE_SPAN_MS = 200 * 86_400_000  # endTime - startTime ≤ 200 days
_STATS_SPAN_MS = 30 * 86_400_000  # only the latest 30 days are kept
_HOUR_MS = 3_600_000
#: flushwatch dataset → the endpoints it is fetched from, in order.
ENDPOINTS: dict[str, tuple[str, ...]] = {
    "klines": (KLINES,),
    "mark_klines": (MARK,),
    "index_klines": (INDEX,),
    "premium_klines": (PREMIUM,),
    "funding": (FUNDING,),
    "open_interest": (OI_HIST,),
    "long_short_ratio": (GLOBAL_RATIO, TOP_ACCOUNTS, TOP_POSITIONS),
}
#: Statistics periods Binance offers.
PERIODS = ("5m", "15m", "30m", "1h", "2h", "4h", "6h", "12h", "1d")
_KINDS = {MARK: PriceKind.MARK, INDEX: PriceKind.INDEX, PREMIUM: PriceKind.PREMIUM}
_RATIO_KINDS = {
    GLOBAL_RATIO: RatioKind.GLOBAL_ACCOUNTS,
    TOP_ACCOUNTS: RatioKind.TOP_TRADER_ACCOUNTS,
    TOP_POSITIONS: RatioKind.TOP_TRADER_POSITIONS,
}

#: ``[open time, o, h, l, c, volume, close time, base volume, trades, taker buy volume, taker
#: buy base volume, ignore]``; mark/index/premium rows put "ignore"/counts in the volume slots.
_Kline = tuple[int, float, float, float, float, str, int, str, int, str, str, str]


class FundingRow(msgspec.Struct, frozen=True):
    """One ``/dapi/v1/fundingRate`` entry."""

    symbol: str
    fundingTime: int
    fundingRate: float


class OpenInterestRow(msgspec.Struct, frozen=True):
    """One COIN-M ``openInterestHist`` entry."""

    pair: str
    contractType: str
    sumOpenInterest: float  # contracts
    sumOpenInterestValue: float  # base coin
    timestamp: int


class RatioRow(msgspec.Struct, frozen=True):
    """One COIN-M long/short ratio entry (the three ratio endpoints share these fields)."""

    pair: str
    longShortRatio: float
    timestamp: int


_KLINES = msgspec.json.Decoder(list[_Kline], strict=False)
_FUNDING = msgspec.json.Decoder(list[FundingRow], strict=False)
_OI = msgspec.json.Decoder(list[OpenInterestRow], strict=False)
_RATIO = msgspec.json.Decoder(list[RatioRow], strict=False)
_ANY_LIST = msgspec.json.Decoder(list[msgspec.Raw])

#: Terms of a symbol the exchangeInfo body listed, None otherwise.
Learned = Callable[[str], Terms | None]


def _learned(terms: Learned, symbol: str, url: str) -> Terms:
    found = terms(symbol)
    if found is None or found.inverse_size is None:
        raise ValueError(
            f"{url}: {symbol!r} was not in the COIN-M exchangeInfo body, so its contract size "
            "is unknown (nothing is assumed)"
        )
    return found


def _number(value: str, field: str) -> float:
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"field {field!r}: {value!r} is not a number") from None


def decode(
    url: str,
    body: str | bytes,
    ts_recv: int | None,
    terms: Learned,
    settled: dict[str, int] | None = None,
) -> list[Record] | None:
    """Records of one COIN-M history body; None when ``url`` is not a history path.

    ``settled`` (symbol → last settlement decoded, ms) is the caller's memory across bodies:
    a funding page holding one settlement takes its interval from the previous page's last.
    """
    path = urlsplit(url).path.rstrip("/")
    if path in (KLINES, MARK, INDEX, PREMIUM):
        return list(_klines(url, path, body, ts_recv, terms))
    if path == FUNDING:
        return list(_funding(url, body, ts_recv, terms, {} if settled is None else settled))
    if path == OI_HIST:
        return list(_open_interest(url, body, ts_recv, terms))
    if path in _RATIO_KINDS:
        return list(_ratios(url, path, body, ts_recv, terms))
    return None


def _klines(
    url: str, path: str, body: str | bytes, ts_recv: int | None, terms: Learned
) -> list[Bar]:
    name = query(url, "interval")
    interval = INTERVALS.get(name)
    if interval is None or name == "1s":
        raise ValueError(f"{url}: kline interval {name!r} has no fixed length on COIN-M")
    if ts_recv is None:
        raise ValueError(f"{url}: klines need a receive time to tell closed bars from open")
    kind = _KINDS.get(path, PriceKind.TRADE)
    if kind is PriceKind.INDEX:  # the index is the pair's: stored under the pair, no instrument
        symbol, market, size = query(url, "pair"), Market.PERP, None
    else:
        symbol = query(url, "symbol")
        found = _learned(terms, symbol, url)
        market, size = found.market, found.inverse_size
    out: list[Bar] = []
    for t, o, h, low, c, vol, close_ms, base, n, tb, tb_base, _ in _KLINES.decode(body):
        if close_ms * NS_PER_MS >= ts_recv:
            continue  # still open at fetch time
        traded = kind is PriceKind.TRADE and size is not None
        out.append(
            Bar(
                ts_event=t * NS_PER_MS,
                exchange=COINM,
                market=market,
                symbol=symbol,
                ts_recv=ts_recv,
                price_kind=kind,
                interval_s=interval,
                open=o,
                high=h,
                low=low,
                close=c,
                volume_base=_number(base, "baseVolume") if traded else None,
                volume_quote=_number(vol, "volume") * size if traded and size else None,
                taker_buy_base=_number(tb_base, "takerBuyBaseVolume") if traded else None,
                taker_buy_quote=_number(tb, "takerBuyVolume") * size if traded and size else None,
                trade_count=n if traded else None,
            )
        )
    return out


def _funding(
    url: str, body: str | bytes, ts_recv: int | None, terms: Learned, settled: dict[str, int]
) -> list[Funding]:
    rows = _FUNDING.decode(body)
    spacing = spacing_hours([r.fundingTime for r in rows])
    out: list[Funding] = []
    for row, gap in zip(rows, spacing, strict=True):
        before = settled.get(row.symbol)
        if gap is None and before is not None and row.fundingTime > before:
            hours = round((row.fundingTime - before) / _HOUR_MS)
            gap = float(hours) if hours > 0 else None
        settled[row.symbol] = max(row.fundingTime, before or 0)
        out.append(
            Funding(
                ts_event=row.fundingTime * NS_PER_MS,
                exchange=COINM,
                market=_learned(terms, row.symbol, url).market,
                symbol=row.symbol,
                ts_recv=ts_recv,
                rate=row.fundingRate,  # a fraction per interval
                is_settled=True,
                interval_hours=gap,
            )
        )
    return out


def _open_interest(
    url: str, body: str | bytes, ts_recv: int | None, terms: Learned
) -> list[OpenInterest]:
    out: list[OpenInterest] = []
    for row in _OI.decode(body):
        if row.contractType != "PERPETUAL":
            raise ValueError(f"{url}: contractType {row.contractType!r}: only PERPETUAL is asked")
        symbol = f"{row.pair}_PERP"
        found = _learned(terms, symbol, url)
        size = found.inverse_size or 0.0  # _learned refused None
        out.append(
            OpenInterest(
                ts_event=row.timestamp * NS_PER_MS,
                exchange=COINM,
                market=found.market,
                symbol=symbol,
                ts_recv=ts_recv,
                oi_base=row.sumOpenInterestValue,
                oi_quote=row.sumOpenInterest * size,
            )
        )
    return out


def _ratios(
    url: str, path: str, body: str | bytes, ts_recv: int | None, terms: Learned
) -> list[LongShortRatio]:
    out: list[LongShortRatio] = []
    for row in _RATIO.decode(body):
        symbol = f"{row.pair}_PERP"  # per pair; labelled as Vision's metrics files label it
        out.append(
            LongShortRatio(
                ts_event=row.timestamp * NS_PER_MS,
                exchange=COINM,
                market=_learned(terms, symbol, url).market,
                symbol=symbol,
                ts_recv=ts_recv,
                kind=_RATIO_KINDS[path],
                ratio=row.longShortRatio,
            )
        )
    return out


# -- paging ------------------------------------------------------------------------------------


def _windows(page: Page, start: int, end: int, span: int) -> Pager:
    """Windows of ``span`` ms (inclusive ``endTime``), each body checked to be an array."""
    for lo in range(start, end, span):
        params: Params = {**page.params, "startTime": lo, "endTime": min(lo + span, end) - 1}
        body = yield Page(page.path, params)
        _ANY_LIST.decode(body)  # an error object instead of rows ends the series


class CoinmPlan:
    """Page Binance COIN-M history (see the module docstring for endpoints, limits, units)."""

    exchange: str = COINM
    datasets: tuple[str, ...] = tuple(ENDPOINTS)

    def __init__(self, interval: str = "1m", period: str = "1h", limit: int | None = None) -> None:
        if interval not in INTERVALS or interval == "1s":
            names = ", ".join(i for i in INTERVALS if i != "1s")
            raise ConfigError(f"--interval {interval!r}: Binance COIN-M has {names}")
        if period not in PERIODS:
            raise ConfigError(f"stats_period {period!r}: Binance COIN-M has {', '.join(PERIODS)}")
        if limit is not None and limit <= 0:
            raise ConfigError("page_limit must be > 0")
        self.interval = interval
        self.interval_ms = INTERVALS[interval] * 1000
        self.period = period
        self.period_ms = INTERVALS[period] * 1000
        self.limit = limit
        self._asked_info = False

    def _limit(self, path: str) -> int:
        top = DEFAULT_LIMIT[path]
        return min(self.limit, MAX_LIMIT[path]) if self.limit is not None else top

    def prelude(self, symbol: str) -> list[Page]:
        """exchangeInfo once (every symbol's contract size is in the one body)."""
        if self._asked_info:
            return []
        self._asked_info = True
        return [Page(EXCHANGE_INFO, {})]

    def pages(self, dataset: str, symbol: str, start_ms: int, end_ms: int) -> list[Pager]:
        """One pager per endpoint of ``dataset`` (the ratios come from three)."""
        return [self._pager(p, symbol, start_ms, end_ms) for p in ENDPOINTS[dataset]]

    def pager(self, dataset: str, symbol: str, start_ms: int, end_ms: int) -> Pager:
        """All the pages of ``dataset``: each of its endpoints' in turn."""
        if dataset not in ENDPOINTS:
            raise ConfigError(f"--data {dataset!r}: binancecoinm backfills {', '.join(ENDPOINTS)}")
        for pager in self.pages(dataset, symbol, start_ms, end_ms):
            yield from pager

    def _pager(self, path: str, symbol: str, start: int, end: int) -> Pager:
        pair, _, tail = symbol.partition("_")
        limit = self._limit(path)
        if path in (OI_HIST, *_RATIO_KINDS):
            if tail != "PERP":
                raise ConfigError(
                    f"{symbol}: COIN-M statistics are per pair and contract type; backfill "
                    f"open_interest and long_short_ratio for the perpetual ({pair}_PERP)"
                )
            params: Params = {"pair": pair, "period": self.period, "limit": limit}
            if path == OI_HIST:
                params = {"pair": pair, "contractType": "PERPETUAL", **params}
            span = min(limit * self.period_ms, _STATS_SPAN_MS)
            return _windows(Page(path, params), start, end, span)
        if path == FUNDING:
            return _windows(
                Page(path, {"symbol": symbol, "limit": limit}), start, end, limit * _HOUR_MS
            )
        key = "pair" if path == INDEX else "symbol"
        params = {key: pair if path == INDEX else symbol, "interval": self.interval}
        params["limit"] = limit
        span = min(limit * self.interval_ms, _KLINE_SPAN_MS)
        return _windows(Page(path, params), start, end, span)
