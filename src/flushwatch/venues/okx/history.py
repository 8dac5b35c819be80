"""OKX v5 REST history: how to page it (:class:`OkxPlan`) and how its bodies become records.

Endpoints (https://www.okx.com/docs-v5/en/), each body ``{"code":"0","msg":"","data":[...]}``
with rows NEWEST FIRST:

* ``/market/history-candles`` (``after``/``before`` ts cursors, limit ≤ 100, 20 req/2 s):
  ``[ts, o, h, l, c, vol, volCcy, volCcyQuote, confirm]``. ``vol`` is CONTRACTS for swaps:
  ``volume_base = vol × ctVal`` (linear; inverse: ``vol × ctVal / close`` coins), never
  ``vol`` itself; ``volume_quote`` is ``volCcyQuote`` when given. ``confirm`` "0" = the bar
  still forming: dropped. Bars above 4 h use the ``…utc`` codes (OKX's plain ``1D`` opens at
  Hong Kong midnight).
* ``/public/funding-rate-history`` (``after``/``before`` on ``fundingTime``, limit ≤ 400,
  10 req/2 s): settled rates, ``realizedRate`` (the one paid) preferred to ``fundingRate``; a
  fraction per interval, the interval being the spacing between settlements.
* ``/rubik/stat/contracts/open-interest-history`` (``begin``/``end``, limit ≤ 100, 5 req/2 s;
  5m/1H/1D only, DOMAIN.md C11): ``[ts, oi, oiCcy, oiUsd]``; one-sided (OKX documents no
  double count): ``oi_base = oiCcy`` coins, ``oi_quote = oiUsd``.
* ``/rubik/stat/contracts/long-short-account-ratio-contract`` (``begin``/``end``, limit ≤ 100):
  ``[ts, longShortAccRatio]`` → :class:`LongShortRatio` ``global_accounts``.
* ``/public/liquidation-orders`` (``instType``, ``instFamily``, ``state=filled``,
  ``after``/``before`` ts cursors, limit ≤ 100, 40 req/2 s; about the last week only):
  decoded by :func:`flushwatch.venues.okx.liquidations.liquidation` (``sz`` contracts × ctVal,
  ``bkPx`` bankruptcy price, sell ⇒ long liquidated), coverage THROTTLED. The next page asks
  for prints older than the oldest one received: should OKX cut a page inside a group of
  prints sharing one millisecond, the rest of that group would be missed (not seen in tests).

Contract values come from ``/public/instruments``, fetched first (:meth:`OkxPlan.prelude`).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import urlsplit

import msgspec

from flushwatch.domain.enums import Market, PriceKind, RatioKind
from flushwatch.domain.records import Bar, Funding, LongShortRatio, OpenInterest, Record
from flushwatch.domain.time import NS_PER_MS
from flushwatch.errors import ConfigError
from flushwatch.venues.okx.liquidations import liquidation, number
from flushwatch.venues.okx.symbols import EXCHANGE, Terms
from flushwatch.venues.okx.wire import LiquidationOrders
from flushwatch.venues.rest_history import Page, Pager, Params, query, spacing_hours

INSTRUMENTS = "/api/v5/public/instruments"
CANDLES = "/api/v5/market/history-candles"
FUNDING = "/api/v5/public/funding-rate-history"
OI_HIST = "/api/v5/rubik/stat/contracts/open-interest-history"
RATIO = "/api/v5/rubik/stat/contracts/long-short-account-ratio-contract"
LIQUIDATIONS = "/api/v5/public/liquidation-orders"
#: Documented page maxima.
MAX_LIMIT = {CANDLES: 100, FUNDING: 400, OI_HIST: 100, RATIO: 100, LIQUIDATIONS: 100}
#: flushwatch interval → (OKX ``bar``, seconds).
BARS: dict[str, tuple[str, int]] = {
    "1m": ("1m", 60),
    "3m": ("3m", 180),
    "5m": ("5m", 300),
    "15m": ("15m", 900),
    "30m": ("30m", 1800),
    "1h": ("1H", 3600),
    "2h": ("2H", 7200),
    "4h": ("4H", 14400),
    "6h": ("6Hutc", 21600),
    "12h": ("12Hutc", 43200),
    "1d": ("1Dutc", 86400),
}
_BAR_S = dict(BARS.values())
#: flushwatch statistics period → (rubik ``period``, seconds): OKX keeps 5m, 1H and 1D.
PERIODS: dict[str, tuple[str, int]] = {"5m": ("5m", 300), "1h": ("1H", 3600), "1d": ("1D", 86400)}

Known = Callable[[str, str], Terms | None]
Skip = Callable[[str], None]


class _Body(msgspec.Struct, frozen=True):
    code: str  # "0" on success
    data: msgspec.Raw  # rows, decoded per endpoint
    msg: str = ""


class FundingRow(msgspec.Struct, frozen=True):
    """One ``funding-rate-history`` entry."""

    instId: str  # instrument id
    fundingTime: int  # settlement time, ms
    fundingRate: str = ""  # the rate set for the period
    realizedRate: str = ""  # the rate actually paid
    method: str = ""  # "current_period" / "next_period"


#: ``[ts, o, h, l, c, vol (contracts), volCcy (base), volCcyQuote, confirm]``.
_Candle = tuple[int, float, float, float, float, float, str, str, str]
_BODY = msgspec.json.Decoder(_Body)
_CANDLES = msgspec.json.Decoder(list[_Candle], strict=False)
_FUNDING = msgspec.json.Decoder(list[FundingRow], strict=False)
_OI = msgspec.json.Decoder(list[tuple[int, float, str, str]], strict=False)
_RATIO = msgspec.json.Decoder(list[tuple[int, float]], strict=False)
_LIQ = msgspec.json.Decoder(list[LiquidationOrders], strict=False)
_ROWS = msgspec.json.Decoder(list[list[str]])


def _data(url: str, body: str | bytes) -> msgspec.Raw:
    env = _BODY.decode(body)
    if env.code != "0":
        raise ValueError(f"{url}: OKX error code {env.code}: {env.msg}")
    return env.data


def decode(
    url: str, body: str | bytes, ts_recv: int | None, known: Known, skip: Skip
) -> list[Record] | None:
    """Records of one history body; None when ``url`` is not a history path.

    ``known(inst_id, what)`` gives the instrument's terms, or None (the decoder counts the
    skip) when its contract value is unknown; ``skip(reason)`` counts a row that cannot be
    one (a liquidation without a usable side or bankruptcy price).
    """
    path = urlsplit(url).path.rstrip("/")
    handler = _HANDLERS.get(path)
    if handler is None:
        return None
    rows = handler(url, _data(url, body), ts_recv, known, skip)
    return sorted(rows, key=lambda r: r.ts_event)  # OKX sends newest first


def _candles(
    url: str, data: msgspec.Raw, ts_recv: int | None, known: Known, skip: Skip
) -> list[Record]:
    inst_id, bar = query(url, "instId"), query(url, "bar")
    interval = _BAR_S.get(bar)
    if interval is None:
        raise ValueError(f"{url}: candle bar {bar!r} has no fixed length")
    terms = known(inst_id, "candle")
    if terms is None:
        return []
    out: list[Record] = []
    for ts, o, h, low, c, vol, _, quote, confirm in _CANDLES.decode(data):
        if confirm != "1":
            continue  # still forming when fetched
        out.append(
            Bar(
                ts_event=ts * NS_PER_MS,
                exchange=EXCHANGE,
                market=terms.market,
                symbol=inst_id,
                ts_recv=ts_recv,
                price_kind=PriceKind.TRADE,
                interval_s=interval,
                open=o,
                high=h,
                low=low,
                close=c,
                volume_base=terms.base_qty(vol, c),  # contracts × ctVal, never contracts
                volume_quote=number(quote, "volCcyQuote"),
            )
        )
    return out


def _funding(
    url: str, data: msgspec.Raw, ts_recv: int | None, known: Known, skip: Skip
) -> list[Record]:
    rows = _FUNDING.decode(data)
    hours = spacing_hours([r.fundingTime for r in rows])
    out: list[Record] = []
    for row, interval in zip(rows, hours, strict=True):
        rate = number(row.realizedRate, "realizedRate")
        if rate is None:
            rate = number(row.fundingRate, "fundingRate")
        if rate is None:
            raise ValueError(f"{url}: a funding row without a rate at {row.fundingTime}")
        terms = known(row.instId, "funding")
        out.append(
            Funding(
                ts_event=row.fundingTime * NS_PER_MS,
                exchange=EXCHANGE,
                market=terms.market if terms is not None else Market.PERP,
                symbol=row.instId,
                ts_recv=ts_recv,
                rate=rate,  # a fraction per interval
                is_settled=True,
                interval_hours=interval,
            )
        )
    return out


def _open_interest(
    url: str, data: msgspec.Raw, ts_recv: int | None, known: Known, skip: Skip
) -> list[Record]:
    inst_id = query(url, "instId")
    terms = known(inst_id, "open-interest")
    if terms is None:
        return []
    out: list[Record] = []
    for ts, oi, coins, usd in _OI.decode(data):
        base = number(coins, "oiCcy")
        if base is None and terms.kind == "linear" and terms.size:
            base = oi * terms.size  # contracts × ctVal
        out.append(
            OpenInterest(
                ts_event=ts * NS_PER_MS,
                exchange=EXCHANGE,
                market=terms.market,
                symbol=inst_id,
                ts_recv=ts_recv,
                oi_base=base,
                oi_quote=number(usd, "oiUsd"),
            )
        )
    return out


def _ratio(
    url: str, data: msgspec.Raw, ts_recv: int | None, known: Known, skip: Skip
) -> list[Record]:
    inst_id = query(url, "instId")
    terms = known(inst_id, "long/short ratio")
    market = terms.market if terms is not None else Market.PERP
    return [
        LongShortRatio(
            ts_event=ts * NS_PER_MS,
            exchange=EXCHANGE,
            market=market,
            symbol=inst_id,
            ts_recv=ts_recv,
            kind=RatioKind.GLOBAL_ACCOUNTS,  # accounts long / accounts short, all users
            ratio=ratio,
        )
        for ts, ratio in _RATIO.decode(data)
    ]


def _liquidations(
    url: str, data: msgspec.Raw, ts_recv: int | None, known: Known, skip: Skip
) -> list[Record]:
    out: list[Record] = []
    for item in _LIQ.decode(data):
        terms = known(item.instId, "liquidation")
        if terms is None:
            continue
        for d in item.details:
            liq = liquidation(item.instId, terms, d, ts_recv)
            if isinstance(liq, str):  # no usable side or bankruptcy price: counted
                skip(liq)
                continue
            out.append(liq)
    return out


_HANDLERS: dict[str, Callable[[str, msgspec.Raw, int | None, Known, Skip], list[Record]]] = {
    CANDLES: _candles,
    FUNDING: _funding,
    OI_HIST: _open_interest,
    RATIO: _ratio,
    LIQUIDATIONS: _liquidations,
}


# -- paging ------------------------------------------------------------------------------------


def _times(path: str, body: str) -> list[int]:
    """The row times of one body (ms), in the venue's order."""
    data = _data(path, body)
    if path == FUNDING:
        return [r.fundingTime for r in _FUNDING.decode(data)]
    if path == LIQUIDATIONS:
        return [d.ts for item in _LIQ.decode(data) for d in item.details]
    return [int(row[0]) for row in _ROWS.decode(data)]


def _cursor_pages(page: Page, lo: int, hi: int, *, older: str, newer: str | None) -> Pager:
    """Newest first from ``hi`` back to ``lo``: each next page asks for rows older than the
    oldest one received (``older``, e.g. ``after``/``end``), bounded below by ``newer``."""
    limit = int(page.params["limit"])
    params: Params = {**page.params}
    exclusive = older == "after"  # ``after`` excludes its ts, rubik ``end`` includes it
    params[older] = hi if exclusive else hi - 1
    if newer is not None:
        params[newer] = lo - 1 if newer == "before" else lo
    while True:
        body = yield Page(page.path, dict(params))
        times = _times(page.path, body)
        if len(times) < limit or min(times) <= lo:
            return
        params[older] = min(times) if exclusive else min(times) - 1


class OkxPlan:
    """Page OKX v5 history (see the module docstring for endpoints, limits and units)."""

    exchange: str = EXCHANGE
    datasets: tuple[str, ...] = (
        "klines",
        "funding",
        "open_interest",
        "long_short_ratio",
        "liquidations",
    )

    def __init__(self, interval: str = "1m", period: str = "1h", limit: int | None = None) -> None:
        if interval not in BARS:
            raise ConfigError(f"--interval {interval!r}: OKX has {', '.join(BARS)}")
        if period not in PERIODS:
            raise ConfigError(f"stats_period {period!r}: OKX keeps {', '.join(PERIODS)}")
        if limit is not None and limit <= 0:
            raise ConfigError("page_limit must be > 0")
        self.bar, self.bar_s = BARS[interval]
        self.period, self.period_s = PERIODS[period]
        self.limit = limit

    def _limit(self, path: str) -> int:
        top = MAX_LIMIT[path]
        return min(self.limit, top) if self.limit is not None else top

    def prelude(self, symbol: str) -> list[Page]:
        """The instrument's terms (``ctVal``): every size below is converted with them."""
        return [Page(INSTRUMENTS, {"instType": _inst_type(symbol), "instId": symbol})]

    def pager(self, dataset: str, symbol: str, start_ms: int, end_ms: int) -> Pager:
        """The pages of one series, newest first, until ``start_ms`` is reached."""
        sym: Params = {"instId": symbol}
        if dataset == "klines":
            first = Page(CANDLES, {**sym, "bar": self.bar, "limit": self._limit(CANDLES)})
            return _cursor_pages(first, start_ms, end_ms, older="after", newer="before")
        if dataset == "funding":
            first = Page(FUNDING, {**sym, "limit": self._limit(FUNDING)})
            return _cursor_pages(first, start_ms, end_ms, older="after", newer="before")
        if dataset in ("open_interest", "long_short_ratio"):
            path = OI_HIST if dataset == "open_interest" else RATIO
            first = Page(path, {**sym, "period": self.period, "limit": self._limit(path)})
            return _cursor_pages(first, start_ms, end_ms, older="end", newer="begin")
        if dataset == "liquidations":
            family = symbol.rsplit("-", 1)[0]  # "BTC-USDT-SWAP" → "BTC-USDT"
            params: Params = {"instType": _inst_type(symbol), "instFamily": family}
            params.update(state="filled", limit=self._limit(LIQUIDATIONS))
            first = Page(LIQUIDATIONS, params)
            return _cursor_pages(first, start_ms, end_ms, older="after", newer="before")
        raise ConfigError(f"--data {dataset!r}: OKX backfills {', '.join(self.datasets)}")


def _inst_type(symbol: str) -> str:
    return "SWAP" if symbol.endswith("-SWAP") else "FUTURES"
