"""CoinGlass v4 history bodies → records (pure: JSON text in, records out; no I/O).

Every answer is ``{"code": "0", "msg": "success", "data": [row, ...]}`` with ``time`` the
interval's start in UTC milliseconds (CoinGlass's "Timestamps and Pagination"; a few pages
print seconds, so a 10-digit time is read as seconds) and the values as numbers or numeric
strings:

* ``liquidation/aggregated-history``: ``aggregated_long_liquidation_usd``,
  ``aggregated_short_liquidation_usd``;
* ``open-interest/aggregated-history``, ``open-interest/history``, ``funding-rate/history``,
  ``funding-rate/oi-weight-history``: ``open``, ``high``, ``low``, ``close``;
* ``orderbook/aggregated-ask-bids-history``: ``aggregated_bids_usd``,
  ``aggregated_bids_quantity``, ``aggregated_asks_usd``, ``aggregated_asks_quantity``.

Labels are exactly those of the CoinGlass CSV import (:mod:`flushwatch.ingest.vendor_builtin`),
so the report and the scorecard treat an API download and an export alike and the store keeps
one row per bucket when both hold it: aggregates over venues are exchange ``coinglass``,
symbol = the coin (``BTC``), liquidation buckets naming the venue set in ``venues``
(``Binance,Bybit,OKX``); one venue's series seen through CoinGlass is ``<pair>-<venue>``
(``BTCUSDT-Binance``). OI and funding use the open, stamped at the start (each open is the
previous close); funding is in PERCENT per interval (PROVENANCE of the shared exports) and is
stored as a fraction, not settled. Depth becomes two :class:`DepthBand` rows, ``-range`` %
(bids) and ``+range`` % (asks), USD notional and base quantity.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from typing import TypeVar

import msgspec

from flushwatch.domain.enums import Market
from flushwatch.domain.records import DepthBand, Funding, LiquidationBucket, OpenInterest, Record
from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS, NS_PER_MS, NS_PER_S
from flushwatch.errors import DataIntegrityError

VENDOR = "coinglass"


class LiqRow(msgspec.Struct, frozen=True):
    time: int
    aggregated_long_liquidation_usd: float
    aggregated_short_liquidation_usd: float


class OhlcRow(msgspec.Struct, frozen=True):
    time: int
    open: float
    high: float
    low: float
    close: float


class DepthRow(msgspec.Struct, frozen=True):
    time: int
    aggregated_bids_usd: float
    aggregated_asks_usd: float
    aggregated_bids_quantity: float | None = None
    aggregated_asks_quantity: float | None = None


R = TypeVar("R", LiqRow, OhlcRow, DepthRow)


class LiqBody(msgspec.Struct, frozen=True):
    code: str | int
    data: list[LiqRow]
    msg: str | None = None


class OhlcBody(msgspec.Struct, frozen=True):
    code: str | int
    data: list[OhlcRow]
    msg: str | None = None


class DepthBody(msgspec.Struct, frozen=True):
    code: str | int
    data: list[DepthRow]
    msg: str | None = None


B = TypeVar("B", LiqBody, OhlcBody, DepthBody)
# strict=False: CoinGlass prints some values as numeric strings ("4611285.1141").
_LIQ = msgspec.json.Decoder(LiqBody, strict=False)
_OHLC = msgspec.json.Decoder(OhlcBody, strict=False)
_DEPTH = msgspec.json.Decoder(DepthBody, strict=False)


class Page(msgspec.Struct, frozen=True, kw_only=True):
    """How one request's rows are labelled and which of them are kept."""

    #: The series' symbol: the coin (``BTC``) for aggregates, ``<pair>-<venue>`` for one venue.
    symbol: str
    #: The venue set of aggregated liquidations (``Binance,Bybit,OKX``).
    venues: str
    interval_s: int
    #: First and last bucket start kept (ns); rows outside (an open bucket) are dropped.
    first: int
    last: int
    depth_range: float = 1.0
    ts_recv: int | None = None


def venue_list(text: str) -> str:
    """``"binance, Bybit ,OKX"`` → ``"binance,Bybit,OKX"`` (the vendor's spelling kept)."""
    return ",".join(v.strip() for v in text.split(",") if v.strip())


def _decode(decoder: msgspec.json.Decoder[B], url: str, body: str | bytes) -> B:
    try:
        doc = decoder.decode(body)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise DataIntegrityError(f"{url}: not the documented CoinGlass answer: {exc}") from None
    if str(doc.code) != "0":
        raise DataIntegrityError(f"{url}: CoinGlass code {doc.code}: {doc.msg}")
    return doc


def _rows(url: str, rows: list[R], page: Page) -> Iterator[tuple[int, R]]:
    for row in rows:
        ts = row.time * (NS_PER_S if row.time < 10**11 else NS_PER_MS)
        if not MIN_TS_NS <= ts < MAX_TS_NS:
            raise DataIntegrityError(f"{url}: time={row.time} is not a time in milliseconds")
        if page.first <= ts <= page.last:
            yield ts, row


def _percent(value: float) -> float:
    # Shift the decimal text exactly ("0.004936" % is the float nearest 0.00004936).
    return float(Decimal(repr(value)) / 100)


def liquidations(url: str, body: str | bytes, page: Page) -> list[Record]:
    """Aggregated liquidation history → :class:`LiquidationBucket` over ``page.venues``."""
    return [
        LiquidationBucket(
            ts_event=ts,
            ts_recv=page.ts_recv,
            exchange=VENDOR,
            market=Market.PERP,
            symbol=page.symbol,
            interval_s=page.interval_s,
            long_usd=row.aggregated_long_liquidation_usd,
            short_usd=row.aggregated_short_liquidation_usd,
            venues=page.venues,
        )
        for ts, row in _rows(url, _decode(_LIQ, url, body).data, page)
    ]


def open_interest(url: str, body: str | bytes, page: Page) -> list[Record]:
    """OI OHLC (USD) → :class:`OpenInterest` ``oi_quote`` = the open."""
    return [
        OpenInterest(
            ts_event=ts,
            ts_recv=page.ts_recv,
            exchange=VENDOR,
            market=Market.PERP,
            symbol=page.symbol,
            oi_quote=row.open,
        )
        for ts, row in _rows(url, _decode(_OHLC, url, body).data, page)
    ]


def funding(url: str, body: str | bytes, page: Page) -> list[Record]:
    """Funding OHLC (percent) → :class:`Funding` (a fraction, the rate in force, not settled)."""
    return [
        Funding(
            ts_event=ts,
            ts_recv=page.ts_recv,
            exchange=VENDOR,
            market=Market.PERP,
            symbol=page.symbol,
            rate=_percent(row.open),
            is_settled=False,
        )
        for ts, row in _rows(url, _decode(_OHLC, url, body).data, page)
    ]


def depth(url: str, body: str | bytes, page: Page) -> list[Record]:
    """Bid/ask USD within ±range % → two :class:`DepthBand` rows per time."""
    out: list[Record] = []
    for ts, row in _rows(url, _decode(_DEPTH, url, body).data, page):
        sides = (
            (-page.depth_range, row.aggregated_bids_usd, row.aggregated_bids_quantity),
            (page.depth_range, row.aggregated_asks_usd, row.aggregated_asks_quantity),
        )
        for pct, usd, qty in sides:
            if qty is None:
                raise DataIntegrityError(f"{url}: a depth row without its quantity at {row.time}")
            out.append(
                DepthBand(
                    ts_event=ts,
                    ts_recv=page.ts_recv,
                    exchange=VENDOR,
                    market=Market.PERP,
                    symbol=page.symbol,
                    pct=pct,
                    depth_base=qty,
                    notional=usd,
                )
            )
    return out
