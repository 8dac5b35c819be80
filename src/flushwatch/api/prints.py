"""Recent liquidation prints and this hour's totals: what a live page asks while a recorder writes.

The prints are the venues' own (the ``liquidations`` dataset), not vendor buckets. Reads go
through :meth:`Store.read`, so only the part files of the asked hours are opened; a store
without prints answers with nothing rather than an error (a recorder may not have written yet).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec

from flushwatch.domain.records import Liquidation
from flushwatch.domain.time import iso

if TYPE_CHECKING:
    from flushwatch.store.store import Store

HOUR_NS = 3600 * 10**9
#: How far back from the newest print :func:`recent` looks for the latest ``limit`` prints.
LOOKBACK_NS = 24 * HOUR_NS
#: Columns a print is reported with.
COLUMNS = ("ts_event", "exchange", "symbol", "side", "price", "notional", "coverage")
#: Coverage values that make a total a lower bound (DOMAIN.md C1).
PARTIAL = frozenset({"throttled", "unknown"})


class HourTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Venue prints in one UTC hour, by position side."""

    hour: str
    long_usd: float
    short_usd: float
    count: int
    #: True when any print came from a throttled (or unknown-coverage) feed.
    lower_bound: bool

    def to_dict(self) -> dict[str, Any]:
        return msgspec.to_builtins(self)  # type: ignore[no-any-return]


def _newest(store: Store) -> int | None:
    ends = [s.last_ts for s in store.series() if s.dataset == Liquidation.dataset]
    return max(ends) if ends else None


def _rows(store: Store, start: int | None, end: int | None) -> list[dict[str, Any]]:
    df = store.read(Liquidation, start_ns=start, end_ns=end)
    return df.select(COLUMNS).to_dicts() if df.height else []


def recent(store: Store, *, after_ts: int | None = None, limit: int = 50) -> list[dict[str, Any]]:
    """Prints in time order: the latest ``limit`` ones, or the first ``limit`` at or after
    ``after_ts`` (a cursor: prints sharing that ``ts_event`` come again, the caller skips
    those it has sent). Each has its ``time`` in ISO form beside ``ts_event``.
    """
    if after_ts is None:
        newest = _newest(store)
        if newest is None:
            return []
        rows = _rows(store, newest - LOOKBACK_NS, None)[-limit:]
    else:
        rows = _rows(store, after_ts, None)[:limit]
    return [{**r, "time": iso(r["ts_event"])} for r in rows]


def hour_totals(store: Store, hour_start: int) -> HourTotals:
    """Long and short USD and the count of prints in ``[hour_start, hour_start + 1 h)``."""
    start = hour_start - hour_start % HOUR_NS
    rows = _rows(store, start, start + HOUR_NS)
    return HourTotals(
        hour=iso(start),
        long_usd=float(sum(r["notional"] for r in rows if r["side"] == "long")),
        short_usd=float(sum(r["notional"] for r in rows if r["side"] == "short")),
        count=len(rows),
        lower_bound=any(r["coverage"] in PARTIAL for r in rows),
    )
