"""The live state's records: closed bars and the snapshot the view and the alert rules read."""

from __future__ import annotations

import math
from typing import Literal

import msgspec

from flushwatch.analytics.results import CheckItem, FlushEvent, KeyLevel, RuleResult
from flushwatch.domain.records import Liquidation
from flushwatch.live.feed import StaleStream


class LiqTotals(msgspec.Struct, frozen=True, kw_only=True):
    """Liquidation USD by liquidated side over a span (a floor when ``lower_bound``)."""

    label: str
    minutes: int | None  # None for "this hour"
    long_usd: float
    short_usd: float
    count: int
    lower_bound: bool

    @property
    def total_usd(self) -> float:
        """Both sides."""
        return self.long_usd + self.short_usd


class LiveBar(msgspec.Struct, frozen=True, kw_only=True):
    """One closed bar of the live ring (state series are the last value at the close)."""

    ts: int
    open: float
    high: float
    low: float
    close: float
    volume_quote: float
    spot_close: float
    spot_volume_quote: float
    liq_long: float
    liq_short: float
    oi_quote: float
    oi_base: float
    funding: float
    basis: float
    #: Bid depth within 1 % of mid (quote units) and spread (bps) sampled at the close from
    #: the connector's sequence-checked book (spread: else the last quote); NaN: no sample.
    depth_1pct: float = math.nan
    spread_bps: float = math.nan
    history: bool = False  # primed from the store, not built from live records


#: Where a snapshot's book numbers come from: the connector's book in sync, the book resyncing
#: (nothing shown), the last quote (spread only; no book kept), or nothing.
BookState = Literal["in_sync", "resyncing", "quotes", "none"]

#: LiveBar fields that become the kernels' float columns.
COLUMNS = tuple(f for f in LiveBar.__struct_fields__ if f not in ("ts", "history"))


class LiveSnapshot(msgspec.Struct, frozen=True, kw_only=True):
    """What the terminal view and the alert rules read: one market at one moment."""

    symbol: str
    ts: int
    last_price: float | None
    spot_price: float | None
    mark_price: float | None
    index_price: float | None
    basis: float | None  # perp premium as a fraction (mark/index, else perp/spot)
    funding_rate: float | None
    next_funding_ts: int | None
    oi_base: float | None
    oi_quote: float | None
    liq_windows: list[LiqTotals]
    liq_hour: LiqTotals
    recent_liqs: list[Liquidation]
    perp_volume_quote: float
    spot_volume_quote: float
    volume_window_min: int
    bars_closed: int
    events: list[FlushEvent]
    checklist: list[CheckItem]
    risk: list[RuleResult]
    stale: list[StaleStream]
    decode_errors: int = 0
    #: Key levels as of the latest flush (or the last bar), judged on every later bar.
    levels: list[KeyLevel] = msgspec.field(default_factory=list)
    #: BTC's / ETH's levels as the checklist read them (only watched references).
    ref_levels: dict[str, list[KeyLevel]] = msgspec.field(default_factory=dict)
    #: Reference assets (BTC, ETH) that are watched; the others' items are "not available".
    references: list[str] = msgspec.field(default_factory=list)
    #: Close of the last closed bar (the price levels are judged against before live trades).
    last_close: float | None = None
    bar_s: int = 60
    #: Closed bars in the ring that were primed from the store, and where they came from.
    history_bars: int = 0
    history_source: str | None = None
    #: The book now (sampled when the snapshot was taken; None: not available).
    book_state: BookState = "none"
    depth_bid_1pct: float | None = None
    depth_ask_1pct: float | None = None
    spread_bps: float | None = None

    @property
    def history_hours(self) -> float:
        """Hours of store history in the ring."""
        return self.history_bars * self.bar_s / 3600.0

    def window(self, minutes: int) -> LiqTotals | None:
        """Return the rolling totals over ``minutes``, or None when not maintained."""
        return next((w for w in self.liq_windows if w.minutes == minutes), None)


__all__ = ["COLUMNS", "BookState", "LiqTotals", "LiveBar", "LiveSnapshot"]
