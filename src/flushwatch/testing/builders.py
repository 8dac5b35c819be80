"""Small builders for constructed test inputs (importable by notebooks too)."""

from __future__ import annotations

import json
from typing import Any

import msgspec
import numpy as np
import numpy.typing as npt

from flushwatch.analytics.market import MarketSeries
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


#: The hourly grid's first bar (ns UTC, 2023-11-14 22:13:20), as the analytics tests use it.
T0 = 1_700_000_000 * 10**9
HOUR = 3600 * 10**9


def hourly_market(
    close: npt.NDArray[np.float64],
    *,
    asset: str = "TEST",
    high: npt.NDArray[np.float64] | None = None,
    low: npt.NDArray[np.float64] | None = None,
    **series: Any,
) -> MarketSeries:
    """An hourly market from :data:`T0` whose bars open at ``close`` and span ±0.2 around it
    (unless ``high``/``low`` are given); ``series`` are the optional columns (OI, funding…)."""
    return MarketSeries(
        asset=asset,
        sources={},
        ts=(T0 + HOUR * np.arange(len(close))).astype(np.int64),
        step_s=3600,
        open=close.copy(),
        high=close + 0.2 if high is None else high,
        low=close - 0.2 if low is None else low,
        close=close,
        **series,
    )


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
