"""Small builders for constructed test inputs (importable by notebooks too)."""

from __future__ import annotations

import json
from typing import Any

import msgspec

from flushwatch.analytics.results import FlushEvent
from flushwatch.connectors.base import RawFrame

#: Neutral values for the FlushEvent fields a test does not care about: no liquidations, no OI.
_EVENT_DEFAULTS: dict[str, Any] = {
    "detected_by": "liquidations",
    "score": 5.0,
    "liq_long_usd": None,
    "liq_short_usd": None,
    "liq_lower_bound": False,
    "oi_before_quote": None,
    "oi_after_quote": None,
    "oi_drop_quote_pct": None,
    "oi_drop_base_pct": None,
    "move_pct": 0.0,
    "wick_pct": 0.0,
    "liq_to_oi_pct": None,
}


def flush_event(
    *,
    start_ts: int,
    end_ts: int,
    price_open: float,
    price_close: float,
    price_low: float,
    price_high: float,
    kind: str = "long_flush",
    peak_ts: int | None = None,
    **fields: Any,
) -> FlushEvent:
    """A FlushEvent with the window and prices given and neutral values elsewhere.

    Examples
    --------
    >>> e = flush_event(start_ts=0, end_ts=3, price_open=110, price_close=100,
    ...                 price_low=99.8, price_high=110.2)
    >>> (e.kind, e.peak_ts, e.liq_long_usd)
    ('long_flush', 0, None)
    """
    values = {
        **_EVENT_DEFAULTS,
        **fields,
        "start_ts": start_ts,
        "end_ts": end_ts,
        "peak_ts": start_ts if peak_ts is None else peak_ts,
        "kind": kind,
        "price_open": price_open,
        "price_close": price_close,
        "price_low": price_low,
        "price_high": price_high,
    }
    return msgspec.convert(values, FlushEvent)


def agg_trade_frames(n: int, url: str, t0_ms: int) -> list[RawFrame]:
    """CONSTRUCTED Binance USD-M aggTrade frames, one per 10 ms, aggregate ids 1000 + i.

    Received 5 ns after their trade time; prices cycle over seven ticks, sides alternate.
    """
    out = []
    for i in range(n):
        t = t0_ms + 10 * i
        agg = {
            "e": "aggTrade",
            "E": t + 1,
            "s": "BTCUSDT",
            "a": 1000 + i,
            "p": f"{57000 + i % 7:.1f}",
            "q": "0.010",
            "f": i,
            "l": i,
            "T": t,
            "m": i % 2 == 1,
        }
        data = json.dumps({"stream": "btcusdt@aggTrade", "data": agg}, separators=(",", ":"))
        out.append(RawFrame(ts_recv=t * 1_000_000 + 5, url=url, data=data))
    return out
