"""Bybit ``tickers.{symbol}``: merge snapshot and deltas, emit mark, funding and OI rows.

Derivatives send a snapshot, then deltas carrying only the changed fields ("If a response param
is not found in the message, then its value has not changed", ticker docs,
https://bybit-exchange.github.io/docs/v5/websocket/public/ticker). Every frame is merged into
per-symbol state, and MarkPrice / Funding / OpenInterest rows are built from the merged state
when one of their fields is in the frame, so a field sent only in the snapshot survives deltas.

* Open interest: Bybit documents ``openInterest`` as "the sum of both sides" and
  ``singleOpenInterest`` as "the single side" (https://bybit-exchange.github.io/docs/v5/market/
  open-interest; DOMAIN.md C10), and in the 2026 recording every ticker has ``openInterest``
  within one quantity step of ``2 × singleOpenInterest``. So ``singleOpenInterest[Value]`` is
  used when the stream carries it; without it (older feeds) ``openInterest[Value]`` is halved,
  following the same documentation. Units (same page): linear OI is in base coins and its value
  in quote; inverse OI is in USD (contracts) and its value in coins.
* ``fundingRate`` is the current rate of the running interval, a fraction: ``is_settled=False``
  (DOMAIN.md C12); ``fundingIntervalHour`` (ticker) or ``fundingInterval`` minutes
  (instruments-info) give the interval. Spot tickers carry only ``lastPrice``.
"""

from __future__ import annotations

from flushwatch.domain.records import Funding, MarkPrice, OpenInterest, Record
from flushwatch.domain.time import NS_PER_MS
from flushwatch.venues.bybit.symbols import EXCHANGE, Terms
from flushwatch.venues.bybit.wire import Ticker

_PRICES = ("lastPrice", "markPrice", "indexPrice")
_FUNDING = ("fundingRate", "nextFundingTime", "fundingIntervalHour")
_OI = ("openInterest", "openInterestValue", "singleOpenInterest", "singleOpenInterestValue")
_FIELDS = _PRICES + _FUNDING + _OI

State = dict[str, float | None]


def number(value: str, field: str) -> float | None:
    """Parse a numeric string; ``""`` (not applicable) is None; garbage names the field."""
    if not value:
        return None
    try:
        return float(value)
    except ValueError:
        raise ValueError(f"field {field!r}: {value!r} is not a number") from None


class Tickers:
    """Merged ticker state per symbol of one category."""

    def __init__(self) -> None:
        self._state: dict[str, State] = {}

    def update(
        self, tick: Ticker, snapshot: bool, terms: Terms, ts_event: int, ts_recv: int | None
    ) -> list[Record]:
        """Merge one ticker frame and return the rows whose fields it carried."""
        if snapshot or tick.symbol not in self._state:
            self._state[tick.symbol] = {}
        state = self._state[tick.symbol]
        changed: set[str] = set()
        for field in _FIELDS:
            value = getattr(tick, field)
            if value is not None:
                state[field] = number(value, field)
                changed.add(field)
        out: list[Record] = []
        if not changed.isdisjoint(_PRICES) and any(state.get(f) for f in _PRICES):
            out.append(
                MarkPrice(
                    ts_event=ts_event,
                    exchange=EXCHANGE,
                    market=terms.market,
                    symbol=tick.symbol,
                    ts_recv=ts_recv,
                    mark_price=state.get("markPrice"),
                    index_price=state.get("indexPrice"),
                    last_price=state.get("lastPrice"),
                )
            )
        rate = state.get("fundingRate")
        if not changed.isdisjoint(_FUNDING) and rate is not None:
            next_ms = state.get("nextFundingTime")
            out.append(
                Funding(
                    ts_event=ts_event,
                    exchange=EXCHANGE,
                    market=terms.market,
                    symbol=tick.symbol,
                    ts_recv=ts_recv,
                    rate=rate,  # a fraction per interval (0.0001 = 0.01 %)
                    is_settled=False,  # the running interval's current rate (DOMAIN.md C12)
                    interval_hours=state.get("fundingIntervalHour") or terms.funding_hours,
                    next_funding_ts=int(next_ms) * NS_PER_MS if next_ms else None,
                    mark_price=state.get("markPrice"),
                )
            )
        if not changed.isdisjoint(_OI):
            oi = _open_interest(tick.symbol, terms, state, ts_event, ts_recv)
            if oi is not None:
                out.append(oi)
        return out


def _open_interest(
    symbol: str, terms: Terms, state: State, ts_event: int, ts_recv: int | None
) -> OpenInterest | None:
    # One side only (module docstring): single* when published, else half of the total.
    size, value = state.get("singleOpenInterest"), state.get("singleOpenInterestValue")
    if size is None and value is None:
        total, total_value = state.get("openInterest"), state.get("openInterestValue")
        size = total / 2 if total is not None else None
        value = total_value / 2 if total_value is not None else None
    if size is None and value is None:
        return None
    # linear: OI in base coins, value in quote; inverse: OI in USD, value in coins.
    base, quote = (value, size) if terms.inverse else (size, value)
    return OpenInterest(
        ts_event=ts_event,
        exchange=EXCHANGE,
        market=terms.market,
        symbol=symbol,
        ts_recv=ts_recv,
        oi_base=base,
        oi_quote=quote,
    )
