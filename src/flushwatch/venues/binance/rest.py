"""Binance REST bodies that become records on their own (open-interest polls, history).

Binance streams no open interest (DOMAIN.md C10): the connector polls
``/fapi/v1/openInterest`` / ``/dapi/v1/openInterest`` and records each body, so the decoder
turns a body into one :class:`OpenInterest` row, live and on re-import alike.

Units (DOMAIN.md C10): USDⓈ-M reports base coins, so ``oi_base`` is the figure and
``oi_quote`` stays None (a price would have to be guessed); COIN-M reports CONTRACTS of a fixed
USD value, so ``oi_quote = contracts × contract size`` exactly and ``oi_base`` stays None for
the same reason. Both figures are one-sided (the contracts long, equal to those short).

History (``flushwatch backfill``, USDⓈ-M): ``/fapi/v1/klines`` (and ``markPriceKlines``) →
closed :class:`Bar` rows, ``/fapi/v1/fundingRate`` → settled :class:`Funding`,
``/futures/data/openInterestHist`` → :class:`OpenInterest` with both figures (the venue gives
``sumOpenInterest`` in base coins and ``sumOpenInterestValue`` in USDT).
"""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qs, urlsplit

import msgspec

from flushwatch.domain.enums import Market, PriceKind
from flushwatch.domain.records import Bar, Funding, OpenInterest
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.binance.intervals import INTERVALS
from flushwatch.venues.binance.symbols import Terms
from flushwatch.venues.binance.wire import OpenInterestBody

_BODY = msgspec.json.Decoder(OpenInterestBody, strict=False)

#: One REST kline: open time, o, h, l, c, volume, close time, quote volume, trades, taker buy
#: base, taker buy quote, ignore (Binance "Kline/Candlestick Data"; numbers as strings).
_KlineRow = tuple[int, float, float, float, float, float, int, float, int, float, float, str]
_KLINES = msgspec.json.Decoder(list[_KlineRow], strict=False)


class FundingRateRow(msgspec.Struct, frozen=True):
    """One ``/fapi/v1/fundingRate`` entry; ``markPrice`` is ``""`` where Binance has none."""

    symbol: str
    fundingTime: int
    fundingRate: float
    markPrice: str = ""


class OpenInterestHistRow(msgspec.Struct, frozen=True):
    """One ``/futures/data/openInterestHist`` entry (a 5-minute-or-longer period)."""

    symbol: str
    sumOpenInterest: float
    sumOpenInterestValue: float
    timestamp: int


_FUNDING = msgspec.json.Decoder(list[FundingRateRow], strict=False)
_OI_HIST = msgspec.json.Decoder(list[OpenInterestHistRow], strict=False)


def _query(url: str, name: str) -> str:
    value = (parse_qs(urlsplit(url).query).get(name) or [""])[0]
    if not value:
        raise ValueError(f"{url}: no ?{name}= in the URL (the body does not name it)")
    return value


def open_interest(
    exchange: str,
    body: str | bytes,
    ts_recv: int | None,
    terms: Callable[[str], Terms],
) -> OpenInterest:
    """Decode one open-interest body; ``terms`` gives the symbol's market and contract size.

    Examples
    --------
    >>> from flushwatch.venues.binance.symbols import infer_terms
    >>> body = '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'
    >>> oi = open_interest("binanceusdm", body, None, lambda s: infer_terms("binanceusdm", s))
    >>> (oi.ts_event, oi.oi_base, oi.oi_quote)
    (1589437530011000000, 10659.509, None)
    """
    wire = _BODY.decode(body)
    found = terms(wire.symbol)
    if found.market is Market.SPOT:
        raise ValueError(f"open interest body for spot symbol {wire.symbol!r} ({exchange})")
    size = found.inverse_size
    return OpenInterest(
        ts_event=wire.time * NS_PER_MS,
        exchange=exchange,
        market=found.market,
        symbol=wire.symbol,
        ts_recv=ts_recv,
        oi_base=wire.openInterest if size is None else None,
        oi_quote=None if size is None else wire.openInterest * size,
    )


def klines(
    exchange: str,
    url: str,
    body: str | bytes,
    ts_recv: int | None,
    terms: Callable[[str], Terms],
) -> list[Bar]:
    """Decode a klines body into CLOSED bars: a bar whose close time is not before ``ts_recv``
    was still forming when fetched and is dropped (its final values are not known yet).

    The body names neither symbol nor interval, so both come from the URL's query.

    Examples
    --------
    >>> from flushwatch.venues.binance.symbols import infer_terms
    >>> url = "https://fapi.binance.com/fapi/v1/klines?symbol=XRPUSDT&interval=5m"
    >>> body = ('[[1636934400000,"1.1893","1.1954","1.1891","1.1941","9289043.5",'
    ...         '1636934699999,"0","0","0","0","0"]]')
    >>> [b.close for b in klines("binanceusdm", url, body, 1636934700000 * 10**6,
    ...                          lambda s: infer_terms("binanceusdm", s))]
    [1.1941]
    >>> klines("binanceusdm", url, body, 1636934600000 * 10**6,
    ...        lambda s: infer_terms("binanceusdm", s))
    []
    """
    symbol = _query(url, "symbol")
    name = _query(url, "interval")
    interval = INTERVALS.get(name)
    if interval is None:
        raise ValueError(f"{url}: kline interval {name!r} has no fixed length")
    if ts_recv is None:
        raise ValueError(f"{url}: klines need a receive time to tell closed bars from open")
    found = terms(symbol)
    if found.market is Market.SPOT or found.inverse_size is not None:
        raise ValueError(f"{url}: REST klines are decoded for USDⓈ-M symbols only ({symbol!r})")
    mark = urlsplit(url).path.endswith("/markPriceKlines")
    out: list[Bar] = []
    for row in _KLINES.decode(body):
        t, o, h, low, c, v, close_ms, q, n, tb, tq, _ = row
        if close_ms * NS_PER_MS >= ts_recv:
            continue  # still open at fetch time
        out.append(
            Bar(
                ts_event=t * NS_PER_MS,  # bars are stamped with their start
                exchange=exchange,
                market=found.market,
                symbol=symbol,
                ts_recv=ts_recv,
                price_kind=PriceKind.MARK if mark else PriceKind.TRADE,
                interval_s=interval,
                open=o,
                high=h,
                low=low,
                close=c,
                # mark-price klines carry no volume (the fields after close are "Ignore")
                volume_base=None if mark else v,
                volume_quote=None if mark else q,
                taker_buy_base=None if mark else tb,
                taker_buy_quote=None if mark else tq,
                trade_count=None if mark else n,
            )
        )
    return out


def funding_history(
    exchange: str, body: str | bytes, ts_recv: int | None, terms: Callable[[str], Terms]
) -> list[Funding]:
    """Decode a fundingRate body: each entry is a rate SETTLED at ``fundingTime``.

    The body does not state the funding interval; a settlement pays for the time since the
    previous one, so ``interval_hours`` is that spacing in whole hours (the first entry of a
    symbol takes the next one's; a lone entry stays None rather than guessing 8 h).

    Examples
    --------
    >>> from flushwatch.venues.binance.symbols import infer_terms
    >>> body = '[{"symbol":"BTCUSDT","fundingTime":1638604800001,"fundingRate":"-0.00219334",'
    >>> body += '"markPrice":""},{"symbol":"BTCUSDT","fundingTime":1638633600000,'
    >>> body += '"fundingRate":"0.0001","markPrice":"48000.5"}]'
    >>> [(f.ts_event, f.rate, f.interval_hours, f.mark_price) for f in funding_history(
    ...     "binanceusdm", body, None, lambda s: infer_terms("binanceusdm", s))]
    [(1638604800001000000, -0.00219334, 8.0, None), (1638633600000000000, 0.0001, 8.0, 48000.5)]
    """
    rows = _FUNDING.decode(body)
    spacing: list[float | None] = []
    for i, row in enumerate(rows):
        prev = rows[i - 1] if i > 0 and rows[i - 1].symbol == row.symbol else None
        nxt = rows[i + 1] if i + 1 < len(rows) and rows[i + 1].symbol == row.symbol else None
        pair = (prev, row) if prev is not None else (row, nxt) if nxt is not None else None
        hours = round((pair[1].fundingTime - pair[0].fundingTime) / 3_600_000) if pair else 0
        spacing.append(float(hours) if hours > 0 else None)
    out: list[Funding] = []
    for row, interval in zip(rows, spacing, strict=True):
        mark = float(row.markPrice) if row.markPrice else None
        out.append(
            Funding(
                ts_event=row.fundingTime * NS_PER_MS,
                exchange=exchange,
                market=terms(row.symbol).market,
                symbol=row.symbol,
                ts_recv=ts_recv,
                rate=row.fundingRate,
                is_settled=True,
                interval_hours=interval,
                mark_price=mark,
            )
        )
    return out


def open_interest_history(
    exchange: str, body: str | bytes, ts_recv: int | None, terms: Callable[[str], Terms]
) -> list[OpenInterest]:
    """Decode an openInterestHist body (USDⓈ-M): base coins and their USDT value per period.

    Examples
    --------
    >>> from flushwatch.venues.binance.symbols import infer_terms
    >>> body = ('[{"symbol":"HYPEUSDT","sumOpenInterest":"14088.01000000",'
    ...         '"sumOpenInterestValue":"473864.30436000","timestamp":1748601000000}]')
    >>> [(o.oi_base, o.oi_quote) for o in open_interest_history(
    ...     "binanceusdm", body, None, lambda s: infer_terms("binanceusdm", s))]
    [(14088.01, 473864.30436)]
    """
    out: list[OpenInterest] = []
    for row in _OI_HIST.decode(body):
        found = terms(row.symbol)
        if found.inverse_size is not None or found.market is Market.SPOT:
            raise ValueError(f"openInterestHist decoded for USDⓈ-M only, not {row.symbol!r}")
        out.append(
            OpenInterest(
                ts_event=row.timestamp * NS_PER_MS,
                exchange=exchange,
                market=found.market,
                symbol=row.symbol,
                ts_recv=ts_recv,
                oi_base=row.sumOpenInterest,
                oi_quote=row.sumOpenInterestValue,
            )
        )
    return out
