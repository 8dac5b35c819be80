"""The flush state of one market kept up to date as records arrive, never recomputed per message.

Per record the work is O(1) amortised: a trade updates the open bar, a liquidation is added
to the open bar, to each rolling window (a deque with running sums) and to this hour's
totals, and OI / funding / mark / index replace their last value. When a record's event time
crosses a bar boundary the open bar is closed into a bounded ring (``history_bars``) and the
report's kernels run **once** on the ring: :func:`~flushwatch.analytics.flushes.detect_flushes`,
then, for the latest event, the checklist and the risk box. That costs O(ring × baseline) per
closed bar, independent of how many messages arrived. The live defaults
(:mod:`flushwatch.live.params`) scale the report's hour-based thresholds down to minute bars
(a 6-hour baseline instead of a week); key levels use the report's
:class:`~flushwatch.analytics.levels.LevelParams` unchanged (their look-backs are clipped to
the ring).

Key levels: each kernel run also finds the market's key levels (as the report does, as of the
latest flush) and, for the checklist and the risk box, BTC's and ETH's levels from *their*
live states. A :class:`LiveMonitor` wires the watched BTC and ETH states in as references; a
reference that is not watched stays "not available", never guessed. The monitor closes every
state's bars on one event clock before any kernel runs, so reference rings are never a bar
behind.

History: :meth:`LiveState.prime` loads closed bars assembled from the store (marked
``history``) before live records arrive, so detection, levels and the OI-rebuild item have
context at start-up. Bars between the history and the first live record stay empty (NaN),
never filled with a stale price.

Order book: a state given a :data:`~flushwatch.live.bookview.BookSource` (the connector's
sequence-checked book) samples it once per bar close: bid depth within 1 % of mid (the
report's ``depth_1pct``) and the spread, so the checklist's ``book`` item runs live. The
sample is NaN while the book resyncs, or when the book has moved more than
``book_max_lead_s`` past the bar's close (the connector applies diffs as frames arrive, ahead
of this state by the consumer's queue); a value is never carried over. Without a book the
spread is the last quote at the close, and depth is not available.

Liquidation totals carry ``lower_bound=True`` once a throttled feed (Binance, DOMAIN.md C1)
contributed: they are floors, not totals. Stream liveness and frame decoding live in
:mod:`flushwatch.live.feed`, routing of frames to states in :mod:`flushwatch.live.monitor`
(:class:`LiveMonitor` is that router for live states; :class:`LiveParams` is re-exported).
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable

import numpy as np

from flushwatch.analytics.checklist import post_flush_checklist
from flushwatch.analytics.flushes import FlushParams, detect_flushes
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.results import CheckItem, FlushEvent, KeyLevel, RuleResult
from flushwatch.analytics.verdict import risk_box
from flushwatch.domain.enums import Coverage, Market, PositionSide
from flushwatch.domain.records import (
    Funding,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Quote,
    Record,
    Trade,
)
from flushwatch.domain.symbols import base_asset
from flushwatch.errors import ConfigError
from flushwatch.live.bookview import BookSample, BookSource, bar_values, sample, spread_bps
from flushwatch.live.feed import FeedLiveness, FrameDecoder, StaleStream
from flushwatch.live.levels_live import REFERENCE_ASSETS, levels_for, reference_levels
from flushwatch.live.monitor import Monitor
from flushwatch.live.params import LiveParams
from flushwatch.live.snapshot import COLUMNS, BookState, LiqTotals, LiveBar, LiveSnapshot

NS = 1_000_000_000
HOUR_NS = 3600 * NS
Detector = Callable[[MarketSeries, FlushParams], list[FlushEvent]]


class _Window:
    """Liquidations of the last ``minutes``: a deque plus running sums (O(1) amortised)."""

    def __init__(self, minutes: int) -> None:
        self.minutes = minutes
        self.items: deque[tuple[int, float, float]] = deque()
        self.long = self.short = 0.0

    def add(self, ts: int, long: float, short: float) -> None:
        self.items.append((ts, long, short))
        self.long += long
        self.short += short

    def expire(self, now: int) -> None:
        cutoff = now - self.minutes * 60 * NS
        while self.items and self.items[0][0] <= cutoff:
            _, long, short = self.items.popleft()
            self.long -= long
            self.short -= short
        if not self.items:  # drop float drift when empty
            self.long = self.short = 0.0


class _Acc:
    """The open bar."""

    def __init__(self, start: int, prev_close: float, prev_spot: float) -> None:
        self.start = start
        self.open = self.high = self.low = self.close = prev_close
        self.has_trade = False
        self.spot_close = prev_spot
        self.volume = self.spot_volume = self.liq_long = self.liq_short = 0.0

    def trade(self, price: float, notional: float) -> None:
        if not self.has_trade:
            self.open = self.high = self.low = price
            self.has_trade = True
        self.high, self.low, self.close = max(self.high, price), min(self.low, price), price
        self.volume += notional


def _finite_sum(xs: Iterable[float]) -> float:
    return sum(x for x in xs if np.isfinite(x))


def _nan(x: float | None) -> float:
    return float("nan") if x is None else x


class LiveState:
    """Incremental flush state of one perp (and its spot market) from domain records."""

    def __init__(
        self,
        symbol: str,
        params: LiveParams | None = None,
        *,
        spot_symbol: str | None = None,
        detector: Detector = detect_flushes,
        book: BookSource | None = None,
    ) -> None:
        self.symbol = symbol
        self.spot_symbol = spot_symbol or symbol
        self.p = params or LiveParams()
        self._detect = detector
        self._bar_ns = self.p.bar_s * NS
        self.bars: deque[LiveBar] = deque(maxlen=self.p.history_bars)
        self._acc: _Acc | None = None
        self._windows = [_Window(m) for m in sorted(set(self.p.liq_windows_min))]
        self._hour = [0, 0.0, 0.0, 0]  # hour start, long, short, count
        self._recent: deque[Liquidation] = deque(maxlen=self.p.recent_liqs)
        self._now = 0
        self._lower_bound = self._liq_seen = False
        self.last: dict[str, float | None] = dict.fromkeys(
            ("price", "spot", "mark", "index", "funding", "oi_base", "oi_quote"), None
        )
        self.next_funding_ts: int | None = None
        #: The connector's book of this symbol (None: no book kept; depth not available).
        self.book = book
        self._quote: tuple[int, float, float] | None = None  # last quote: ts, bid, ask
        self.events: list[FlushEvent] = []
        self.checklist: list[CheckItem] = []
        self.risk: list[RuleResult] = []
        self.levels: list[KeyLevel] = []
        self.ref_levels: dict[str, list[KeyLevel]] = {}
        self.asset = base_asset(symbol)
        #: Reference markets by asset; alone, a BTC or ETH market is its own reference.
        self.references: dict[str, LiveState] = (
            {self.asset: self} if self.asset in REFERENCE_ASSETS else {}
        )
        #: Set by a monitor: bar closes only mark the kernels due (see :meth:`run_pending`).
        self.deferred = False
        self._due = False
        self.history_bars = 0
        self.history_source: str | None = None
        self._meta: dict[str, float | bool] = {"funding_h": 8.0, "oi_derived": False}
        self._series: tuple[tuple[int, bool, bool], MarketSeries] | None = None
        self._version = 0  # bumped when the ring changes: keys the cached series
        self.detector_runs = 0
        self.records_seen = 0
        self.late_records = 0

    @property
    def now(self) -> int:
        """The event clock: the latest event time applied (ns)."""
        return self._now

    # -- records ---------------------------------------------------------------------------

    def on_records(self, records: Iterable[Record]) -> None:
        """Apply records in arrival order; a record of another market is ignored."""
        for rec in records:
            self.on_record(rec)

    def on_record(self, rec: Record) -> None:
        """Apply one record (O(1) amortised; closes bars when its time crosses a boundary)."""
        perp = rec.market in (Market.PERP, Market.FUTURE) and rec.symbol == self.symbol
        spot = rec.market == Market.SPOT and rec.symbol == self.spot_symbol
        if not (perp or spot):
            return
        self.records_seen += 1
        self.advance(rec.ts_event)
        acc = self._acc
        assert acc is not None  # advance() opened it
        if isinstance(rec, Trade):
            if perp:
                acc.trade(rec.price, rec.price * rec.qty)
                self.last["price"] = rec.price
            else:
                acc.spot_close = rec.price
                acc.spot_volume += rec.price * rec.qty
                self.last["spot"] = rec.price
        elif isinstance(rec, Liquidation) and perp:
            self._liquidation(rec, acc)
        elif isinstance(rec, MarkPrice) and perp:
            self.last["mark"] = rec.mark_price or self.last["mark"]
            self.last["index"] = rec.index_price or self.last["index"]
        elif isinstance(rec, Quote) and perp:
            self._quote = (rec.ts_event, rec.bid_price, rec.ask_price)
        elif isinstance(rec, Funding) and perp:
            self.last["funding"] = rec.rate
            self.next_funding_ts = rec.next_funding_ts
        elif isinstance(rec, OpenInterest) and perp:
            price = self.last["price"] or self.last["mark"]
            quote = rec.oi_quote
            if quote is None and rec.oi_base is not None and price:
                quote = rec.oi_base * price
            self.last["oi_base"], self.last["oi_quote"] = rec.oi_base, quote

    def _liquidation(self, rec: Liquidation, acc: _Acc) -> None:
        long = rec.notional if rec.side == PositionSide.LONG else 0.0
        short = rec.notional - long
        acc.liq_long += long
        acc.liq_short += short
        self._liq_seen = True
        self._lower_bound |= rec.coverage != Coverage.COMPLETE
        for w in self._windows:
            w.add(rec.ts_event, long, short)
        hour = rec.ts_event - rec.ts_event % HOUR_NS
        if hour > self._hour[0]:
            self._hour = [hour, 0.0, 0.0, 0]
        if hour == self._hour[0]:
            self._hour = [hour, self._hour[1] + long, self._hour[2] + short, self._hour[3] + 1]
        self._recent.append(rec)

    # -- bars ------------------------------------------------------------------------------

    def advance(self, now: int) -> None:
        """Move the event clock to ``now``: close finished bars and run the kernels once."""
        if self._acc is None:
            self._acc = _Acc(now - now % self._bar_ns, float("nan"), float("nan"))
        if now < self._acc.start:
            self.late_records += 1  # counted into the open bar; windows use its own time
        self._now = max(self._now, now)
        if now < self._acc.start + self._bar_ns:
            return
        target = now - now % self._bar_ns
        # After a long silence at most one ring of empty bars is materialised.
        floor = target - self.p.history_bars * self._bar_ns
        acc = self._acc
        book = self._book_sample()  # one sample for every bar closed now
        while acc.start < target:
            self._close(acc, book)
            acc = _Acc(max(acc.start + self._bar_ns, floor), acc.close, acc.spot_close)
        self._acc = acc
        self._due = True
        if not self.deferred:
            self.run_pending()

    def align(self, now: int) -> None:
        """Close the bars that ``now`` finished, without counting anything as late.

        A monitor calls this with the latest event time of any market, so every ring is
        closed up to the same bar before the kernels read references.
        """
        if self._acc is not None and now >= self._acc.start + self._bar_ns:
            self.advance(now)

    def run_pending(self) -> None:
        """Run the kernels if a bar closed (or history arrived) since they last ran."""
        if self._due:
            self._due = False
            self._run_kernels()

    def prime(self, m: MarketSeries, source: str) -> int:
        """Load closed bars from history (the store) before any live record; return how many.

        ``m`` must be on this state's bar size; only its last ring of bars is kept. The bars
        are marked ``history``; the next live record closes the bars in between as empty.
        """
        if self._acc is not None:
            raise ConfigError(f"{self.symbol}: history must be primed before live records arrive")
        if m.step_s != self.p.bar_s:
            raise ConfigError(
                f"{self.symbol}: history bars are {m.step_s}s, live bars {self.p.bar_s}s "
                "(history can be resampled to coarser bars, never to finer ones)"
            )
        if m.n == 0:
            return 0
        first = max(0, m.n - self.p.history_bars)
        nan = np.full(m.n, np.nan)
        cols = {
            name: nan if getattr(m, name) is None else getattr(m, name)
            for name in COLUMNS
            if name not in ("open", "high", "low", "close")
        }
        for i in range(first, m.n):
            row = {name: float(arr[i]) for name, arr in cols.items()}
            self._append(
                LiveBar(
                    ts=int(m.ts[i]),
                    open=float(m.open[i]),
                    high=float(m.high[i]),
                    low=float(m.low[i]),
                    close=float(m.close[i]),
                    history=True,
                    **row,
                )
            )
        self._liq_seen |= m.liq_long is not None
        self._lower_bound |= m.liq_lower_bound
        self._meta = {"funding_h": m.funding_interval_h, "oi_derived": m.oi_base_derived}
        self.history_source = source
        end = int(m.ts[-1]) + self._bar_ns
        self._acc = _Acc(end, float("nan"), float("nan"))  # no price carried over a gap
        self._now = max(self._now, end)
        self._due = True
        if not self.deferred:
            self.run_pending()
        return m.n - first

    def _append(self, bar: LiveBar) -> None:
        """Add a closed bar to the ring, keeping the count of history bars in it (O(1))."""
        if len(self.bars) == self.bars.maxlen and self.bars[0].history:
            self.history_bars -= 1
        self.bars.append(bar)
        self.history_bars += bar.history
        self._version += 1

    def _book_sample(self) -> BookSample | None:
        """The book now (None while it resyncs); without a book, the last quote's spread."""
        if self.book is not None:
            return sample(self.book())
        if self._quote is None:
            return None
        ts, bid, ask = self._quote
        nan, spread = float("nan"), _nan(spread_bps(bid, ask))
        return BookSample(depth_bid=nan, depth_ask=nan, spread_bps=spread, ts=ts)

    def _close(self, a: _Acc, book: BookSample | None = None) -> None:
        last = self.last
        index = last["index"] or last["spot"]
        mark = last["mark"] or last["price"]
        basis = mark / index - 1.0 if mark and index else None
        lead = int(self.p.book_max_lead_s * NS)
        depth, spread = bar_values(book, a.start + self._bar_ns, self._now, lead)
        self._append(
            LiveBar(
                ts=a.start,
                open=a.open,
                high=a.high,
                low=a.low,
                close=a.close,
                volume_quote=a.volume,
                spot_close=a.spot_close,
                spot_volume_quote=a.spot_volume,
                liq_long=a.liq_long,
                liq_short=a.liq_short,
                oi_quote=_nan(last["oi_quote"]),
                oi_base=_nan(last["oi_base"]),
                funding=_nan(last["funding"]),
                basis=_nan(basis),
                depth_1pct=depth,
                spread_bps=spread,
            )
        )

    def series(self) -> MarketSeries:
        """The ring as the report kernels' input (O(ring), cached until the ring changes)."""
        key = (self._version, self._liq_seen, self._lower_bound)
        if self._series is None or self._series[0] != key:
            self._series = (key, self._build_series())
        return self._series[1]

    def _build_series(self) -> MarketSeries:
        cols = {
            name: np.array([getattr(b, name) for b in self.bars], dtype=np.float64)
            for name in COLUMNS
        }

        def opt(name: str) -> F64 | None:
            return cols[name] if np.isfinite(cols[name]).any() else None

        sources = {"live": "flushwatch live state"}
        if self.history_source is not None:
            sources["history"] = self.history_source
        if opt("depth_1pct") is not None:
            sources["depth_1pct"] = "bid depth within 1% of mid at each bar close"
        return MarketSeries(
            asset=self.symbol,
            sources=sources,
            ts=np.array([b.ts for b in self.bars], dtype=np.int64),
            step_s=self.p.bar_s,
            open=cols["open"],
            high=cols["high"],
            low=cols["low"],
            close=cols["close"],
            volume_quote=opt("volume_quote"),  # None when only volume-less history
            liq_long=cols["liq_long"] if self._liq_seen else None,
            liq_short=cols["liq_short"] if self._liq_seen else None,
            liq_lower_bound=self._lower_bound,
            oi_quote=opt("oi_quote"),
            oi_base=opt("oi_base"),
            oi_base_derived=bool(self._meta["oi_derived"]),
            funding=opt("funding"),
            funding_interval_h=float(self._meta["funding_h"]),
            spot_close=opt("spot_close"),
            spot_volume_quote=cols["spot_volume_quote"] if opt("spot_close") is not None else None,
            basis=opt("basis"),
            depth_1pct=opt("depth_1pct"),
            spread_bps=opt("spread_bps"),
        )

    def _run_kernels(self) -> None:
        """The report's kernels in the report's order (``report.build.analyse``)."""
        if len(self.bars) < 2:
            return
        m = self.series()
        self.detector_runs += 1
        self.events = self._detect(m, self.p.flush)
        focus = self.events[-1] if self.events else None
        self.levels = levels_for(m, focus, self.p.levels)
        if focus is None:
            self.ref_levels, self.checklist, self.risk = {}, [], []
            return
        lp = self.p.levels
        self.ref_levels = {
            name: self.levels if ref is self else reference_levels(ref.series(), focus, lp)
            for name, ref in self.references.items()
        }
        self.checklist = post_flush_checklist(
            m, focus, self.levels, self.ref_levels, self.p.checklist
        )
        btc = self.ref_levels.get("BTC", [])
        self.risk = risk_box(m, focus, self.checklist, btc, self.p.verdict)

    # -- view ------------------------------------------------------------------------------

    def _totals(
        self, label: str, minutes: int | None, long: float, short: float, n: int
    ) -> LiqTotals:
        return LiqTotals(
            label=label,
            minutes=minutes,
            long_usd=long,
            short_usd=short,
            count=n,
            lower_bound=self._lower_bound,
        )

    def _last_close(self) -> float | None:
        close = self.bars[-1].close if self.bars else float("nan")
        return close if np.isfinite(close) else None

    def _book_now(self) -> tuple[BookState, BookSample | None]:
        """The book as the view shows it now: one sample, or the last quote's spread."""
        if self.book is not None:
            now = sample(self.book())
            return ("in_sync" if now is not None else "resyncing"), now
        if self._quote is not None:
            return "quotes", self._book_sample()
        return "none", None

    def snapshot(
        self, stale: list[StaleStream] | None = None, decode_errors: int = 0
    ) -> LiveSnapshot:
        """Build the view/alert snapshot (O(windows + volume window), not per message)."""
        windows = []
        for w in self._windows:
            w.expire(self._now)
            windows.append(self._totals(f"{w.minutes}m", w.minutes, w.long, w.short, len(w.items)))
        hour_start = self._now - self._now % HOUR_NS
        h = self._hour if self._hour[0] == hour_start else [hour_start, 0.0, 0.0, 0]
        k = max(self.p.volume_window_min * 60 // self.p.bar_s - 1, 0)
        recent = list(self.bars)[-k:] if k else []
        acc = self._acc
        # History bars may lack volumes (NaN): they add nothing rather than poison the sum.
        perp_vol = _finite_sum(b.volume_quote for b in recent) + (acc.volume if acc else 0.0)
        spot_vol = _finite_sum(b.spot_volume_quote for b in recent)
        spot_vol += acc.spot_volume if acc else 0.0
        last = self.last
        mark, index = last["mark"], last["index"]
        basis = None
        if mark and index:
            basis = mark / index - 1.0
        elif last["price"] and last["spot"]:
            basis = last["price"] / last["spot"] - 1.0
        book_state, book = self._book_now()

        def finite(x: float | None) -> float | None:
            return x if x is not None and np.isfinite(x) else None

        return LiveSnapshot(
            symbol=self.symbol,
            ts=self._now,
            last_price=last["price"],
            spot_price=last["spot"],
            mark_price=mark,
            index_price=index,
            basis=basis,
            funding_rate=last["funding"],
            next_funding_ts=self.next_funding_ts,
            oi_base=last["oi_base"],
            oi_quote=last["oi_quote"],
            liq_windows=windows,
            liq_hour=self._totals("this hour", None, h[1], h[2], int(h[3])),
            recent_liqs=list(reversed(self._recent)),
            perp_volume_quote=perp_vol,
            spot_volume_quote=spot_vol,
            volume_window_min=self.p.volume_window_min,
            bars_closed=len(self.bars),
            events=list(self.events),
            checklist=list(self.checklist),
            risk=list(self.risk),
            stale=stale or [],
            decode_errors=decode_errors,
            levels=list(self.levels),
            ref_levels=dict(self.ref_levels),
            references=sorted(self.references),
            last_close=self._last_close(),
            bar_s=self.p.bar_s,
            history_bars=self.history_bars,
            history_source=self.history_source,
            book_state=book_state,
            depth_bid_1pct=finite(book.depth_bid) if book else None,
            depth_ask_1pct=finite(book.depth_ask) if book else None,
            spread_bps=finite(book.spread_bps) if book else None,
        )


class LiveMonitor(Monitor[LiveState]):
    """Routes a connector's frames and events to per-symbol :class:`LiveState` s.

    See :class:`~flushwatch.live.monitor.Monitor`: the first watched BTC and ETH markets are
    every state's references, and bars close on one event clock before any kernel runs.
    """


__all__ = [
    "FeedLiveness",
    "FrameDecoder",
    "LiqTotals",
    "LiveBar",
    "LiveMonitor",
    "LiveParams",
    "LiveSnapshot",
    "LiveState",
    "StaleStream",
]
