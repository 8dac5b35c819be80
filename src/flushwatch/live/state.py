"""The flush state of one market kept up to date as records arrive, never recomputed per message.

Per record the work is O(1) amortised: a trade updates the open bar, a liquidation is added
to the open bar, to each rolling window (a deque with running sums) and to this hour's
totals, and OI / funding / mark / index replace their last value. When a record's event time
crosses a bar boundary the open bar is closed into a bounded ring (``history_bars``) and the
report's kernels run **once** on the ring: :func:`~flushwatch.analytics.flushes.detect_flushes`,
then, for the latest event, the checklist and the risk box. That costs O(ring × baseline) per
closed bar, independent of how many messages arrived. The live defaults scale the report's
hour-based thresholds down to minute bars (a 6-hour baseline instead of a week).

Liquidation totals carry ``lower_bound=True`` once a throttled feed (Binance, DOMAIN.md C1)
contributed: they are floors, not totals. :class:`FeedLiveness` turns connector ``stale``
events and silences longer than ``stale_factor`` × a stream's expected interval into one
:class:`StaleStream` episode each, ended by the next frame on that stream.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable, Mapping

import msgspec
import numpy as np

from flushwatch.analytics.checklist import ChecklistParams, post_flush_checklist
from flushwatch.analytics.flushes import FlushParams, detect_flushes
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import CheckItem, FlushEvent, RuleResult
from flushwatch.analytics.verdict import VerdictParams, risk_box
from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.enums import Coverage, Market, PositionSide
from flushwatch.domain.records import Funding, Liquidation, MarkPrice, OpenInterest, Record, Trade
from flushwatch.venues.base import Decoder
from flushwatch.venues.registry import decoder_for, default_url, exchange_from_url, routing_url

NS = 1_000_000_000
HOUR_NS = 3600 * NS
Detector = Callable[[MarketSeries, FlushParams], list[FlushEvent]]


class LiveParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Bar size, ring length, rolling windows and the kernels' live thresholds."""

    bar_s: int = 60
    history_bars: int = 480  # 8 h of minute bars: the detector's baseline plus margin
    liq_windows_min: tuple[int, ...] = (5, 15, 60)
    volume_window_min: int = 15
    recent_liqs: int = 20
    flush: FlushParams = FlushParams(
        baseline_hours=6.0,
        min_history_hours=1.0,
        merge_gap_hours=0.05,
        oi_settle_hours=0.25,
        oi_max_age_hours=0.5,
    )
    checklist: ChecklistParams = ChecklistParams(
        window_hours=1.0,
        min_window_hours=0.25,
        pre_hours=1.0,
        oi_fast_hours=0.5,
        funding_tail_hours=0.25,
        book_tail_hours=0.25,
    )
    verdict: VerdictParams = VerdictParams(
        oi_reload_hours=1.0, prior_high_hours=1.0, price_window_hours=1.0
    )


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


class StaleStream(msgspec.Struct, frozen=True, kw_only=True):
    """One stale episode of one stream: silent since ``since`` (ns), noticed at ``noticed``."""

    stream: str
    since: int
    noticed: int
    reason: str


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

    def window(self, minutes: int) -> LiqTotals | None:
        """Return the rolling totals over ``minutes``, or None when not maintained."""
        return next((w for w in self.liq_windows if w.minutes == minutes), None)


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
        self.events: list[FlushEvent] = []
        self.checklist: list[CheckItem] = []
        self.risk: list[RuleResult] = []
        self.detector_runs = 0
        self.records_seen = 0
        self.late_records = 0

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
        while acc.start < target:
            self._close(acc)
            acc = _Acc(max(acc.start + self._bar_ns, floor), acc.close, acc.spot_close)
        self._acc = acc
        self._run_kernels()

    def _close(self, a: _Acc) -> None:
        last = self.last
        index = last["index"] or last["spot"]
        mark = last["mark"] or last["price"]
        basis = mark / index - 1.0 if mark and index else None
        self.bars.append(
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
            )
        )

    def series(self) -> MarketSeries:
        """The ring as the report kernels' input (O(ring))."""
        cols = {
            name: np.array([getattr(b, name) for b in self.bars], dtype=np.float64)
            for name in LiveBar.__struct_fields__[1:]
        }

        def opt(name: str) -> np.ndarray | None:
            return cols[name] if np.isfinite(cols[name]).any() else None

        return MarketSeries(
            asset=self.symbol,
            sources={"live": "flushwatch live state"},
            ts=np.array([b.ts for b in self.bars], dtype=np.int64),
            step_s=self.p.bar_s,
            open=cols["open"],
            high=cols["high"],
            low=cols["low"],
            close=cols["close"],
            volume_quote=cols["volume_quote"],
            liq_long=cols["liq_long"] if self._liq_seen else None,
            liq_short=cols["liq_short"] if self._liq_seen else None,
            liq_lower_bound=self._lower_bound,
            oi_quote=opt("oi_quote"),
            oi_base=opt("oi_base"),
            funding=opt("funding"),
            spot_close=opt("spot_close"),
            spot_volume_quote=cols["spot_volume_quote"] if opt("spot_close") is not None else None,
            basis=opt("basis"),
        )

    def _run_kernels(self) -> None:
        if len(self.bars) < 2:
            return
        m = self.series()
        self.detector_runs += 1
        self.events = self._detect(m, self.p.flush)
        if not self.events:
            self.checklist, self.risk = [], []
            return
        event = self.events[-1]
        self.checklist = post_flush_checklist(m, event, [], {}, self.p.checklist)
        self.risk = risk_box(m, event, self.checklist, [], self.p.verdict)

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
        perp_vol = sum(b.volume_quote for b in recent) + (acc.volume if acc else 0.0)
        spot_vol = sum(b.spot_volume_quote for b in recent) + (acc.spot_volume if acc else 0.0)
        last = self.last
        mark, index = last["mark"], last["index"]
        basis = None
        if mark and index:
            basis = mark / index - 1.0
        elif last["price"] and last["spot"]:
            basis = last["price"] / last["spot"] - 1.0
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
        )


class FeedLiveness:
    """Stale episodes per stream, from connector events and from silences (see module doc)."""

    def __init__(self, stale_factor: float = 2.0) -> None:
        self.stale_factor = stale_factor
        self._expected: dict[str, tuple[int, int]] = {}  # stream → (interval ns, since ns)
        self._last: dict[str, int] = {}
        self._episodes: dict[str, StaleStream] = {}

    def expect(self, stream: str, interval_s: float, now: int, *, if_new: bool = False) -> None:
        """Declare that ``stream`` should deliver a frame at least every ``interval_s``."""
        if not (if_new and stream in self._expected):
            self._expected[stream] = (int(interval_s * NS), now)

    def on_frame(self, stream: str, ts_recv: int) -> None:
        """A frame arrived: the stream is alive, its episode (if any) is over."""
        self._last[stream] = ts_recv
        self._episodes.pop(stream, None)

    def on_event(self, ev: FeedEvent) -> None:
        """Open an episode on ``stale``; a (re)connect ends it (a still-silent feed reopens)."""
        if ev.kind == "stale" and ev.stream not in self._episodes:
            since = self._last.get(ev.stream, ev.ts)
            reason = ev.detail or f"{ev.exchange} reported the stream stale"
            self._episodes[ev.stream] = StaleStream(
                stream=ev.stream, since=since, noticed=ev.ts, reason=reason
            )
        elif ev.kind == "connected":
            self._episodes.pop(ev.stream, None)

    def check(self, now: int) -> list[StaleStream]:
        """Open episodes for streams silent past ``stale_factor`` × interval; return all open."""
        for stream, (interval, registered) in self._expected.items():
            since = self._last.get(stream, registered)
            if stream not in self._episodes and now - since > self.stale_factor * interval:
                reason = (
                    f"no frame for {(now - since) / NS:.1f}s (expected every {interval / NS:g}s)"
                )
                self._episodes[stream] = StaleStream(
                    stream=stream, since=since, noticed=now, reason=reason
                )
        return list(self._episodes.values())


class FrameDecoder:
    """One venue decoder per routed URL, so live frames reuse the importers' normalization.

    ``url_exchanges`` maps URL prefixes to exchange ids for hosts the registry does not know
    (a loopback exchange in tests); frames from such URLs use that venue's default decoder.
    """

    def __init__(self, url_exchanges: Mapping[str, str] | None = None) -> None:
        self.url_exchanges = dict(url_exchanges or {})
        self._decoders: dict[str, Decoder] = {}  # by routed URL: REST and ws share one
        self._by_url: dict[str, Decoder] = {}  # by frame URL: parse each URL once
        self.errors = 0

    def _decoder(self, url: str) -> Decoder:
        found = self._by_url.get(url)
        if found is None:
            found = self._by_url[url] = self._route(url)
        return found

    def _route(self, url: str) -> Decoder:
        exchange = next((ex for pre, ex in self.url_exchanges.items() if url.startswith(pre)), None)
        route = (default_url(exchange) if exchange else routing_url(url)) or url
        found = self._decoders.get(route)
        if found is None:
            found = decoder_for(exchange or exchange_from_url(url) or "", route)
            self._decoders[route] = found
        return found

    def decode(self, frame: RawFrame) -> list[Record]:
        """Decode one frame; a malformed frame is counted, not fatal (the raw is recorded)."""
        try:
            dec = self._decoder(frame.url)
            if frame.http:
                return dec.on_http(frame.url, frame.data, frame.ts_recv)
            return dec.on_message(frame.data, frame.ts_recv)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            self.errors += 1
            return []


class LiveMonitor:
    """Routes a connector's frames and events to per-symbol states and the liveness tracker."""

    def __init__(
        self,
        states: Iterable[LiveState],
        decoder: FrameDecoder | None = None,
        liveness: FeedLiveness | None = None,
    ) -> None:
        self.states = {s.symbol: s for s in states}
        self.decoder = decoder or FrameDecoder()
        self.liveness = liveness or FeedLiveness()
        self.feed_events: deque[FeedEvent] = deque(maxlen=20)

    def on_item(self, item: RawFrame | FeedEvent) -> None:
        """Apply one item from :meth:`Connector.frames`."""
        if isinstance(item, FeedEvent):
            self.feed_events.append(item)
            self.liveness.on_event(item)
            return
        self.liveness.on_frame(item.url, item.ts_recv)
        records = self.decoder.decode(item)
        for state in self.states.values():
            state.on_records(records)

    def snapshots(self, now: int) -> list[LiveSnapshot]:
        """Snapshots of every market, with the stale episodes open at ``now`` (ns, local)."""
        stale = self.liveness.check(now)
        return [s.snapshot(stale, self.decoder.errors) for s in self.states.values()]


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
