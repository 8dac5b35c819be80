"""Backfill: page a venue's REST history through ccxt, record every body, store the records.

Public entry point: :func:`backfill` (venue, symbols, datasets, start, end, store, recordings),
used by ``flushwatch backfill`` and meant for ``flushwatch update``. Binance COIN-M, Bybit
v5 and OKX v5 are paged by their venue's :class:`~flushwatch.venues.rest_history.HistoryPlan`
(:mod:`flushwatch.venues.binance.coinm_history`, :mod:`flushwatch.venues.bybit.history`,
:mod:`flushwatch.venues.okx.history`: endpoints, cursors, limits and units are documented
there); the runner here is venue-neutral: it asks the plan's pages, waits out rate limits,
records and stores. Binance USDⓈ-M predates plans and is paged below.

For each symbol and the window ``[end - hours, end)`` (USDⓈ-M): klines (``/fapi/v1/klines``,
optionally mark-price klines), settled funding (``/fapi/v1/fundingRate``) and open-interest
statistics (``/futures/data/openInterestHist``, period 5m). Pagination follows Binance's docs:

* klines and funding return rows from ``startTime`` ascending, at most ``limit`` (klines max
  1500, funding max 1000): the next page starts after the last row returned, and a short page
  ends the series. Klines are fetched 1000 a page by default: weight 5, where 1001-1500 cost 10;
* openInterestHist (max 500, only the last 30 days kept by Binance) is asked for in windows of
  exactly ``limit`` periods, so no page can be cut, whichever end the venue trims.

Every body is recorded verbatim by the :class:`~flushwatch.live.recorder.Recorder` (a
``<exchange>_rest_<stamp>.jsonl.gz`` that ``flushwatch import`` re-imports), decoded by the
venue decoder's ``on_http`` and written to the store in ONE atomic, idempotent
:meth:`~flushwatch.store.Store.write` (a second backfill of the same window adds 0 rows).
Rate limits are waited out (``Retry-After``); other venue errors end the run, with nothing
written to the store.
"""

from __future__ import annotations

import json
import random
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec

from flushwatch.connectors.base import RawFrame
from flushwatch.connectors.config import Backoff
from flushwatch.connectors.retry import retrying, venue_should_retry
from flushwatch.domain.time import NS_PER_MS
from flushwatch.errors import ConfigError, PermanentError, RateLimited
from flushwatch.venues.binance.coinm_history import CoinmPlan
from flushwatch.venues.binance.intervals import INTERVALS
from flushwatch.venues.bybit.history import BybitPlan
from flushwatch.venues.okx.history import OkxPlan
from flushwatch.venues.rest_history import HistoryPlan

if TYPE_CHECKING:
    from flushwatch.connectors.config import ConnectorConfig
    from flushwatch.connectors.rest_ccxt import CcxtRest
    from flushwatch.domain.records import Instrument, Record
    from flushwatch.store import Store
    from flushwatch.venues.base import Decoder

KLINES = "/fapi/v1/klines"
MARK_KLINES = "/fapi/v1/markPriceKlines"
FUNDING = "/fapi/v1/fundingRate"
OI_HIST = "/futures/data/openInterestHist"
#: Venues paged by a history plan: plan class (interval, stats period, page-size cap).
PLANS: dict[str, Callable[[str, str, int | None], HistoryPlan]] = {
    "binancecoinm": CoinmPlan,
    "bybit": BybitPlan,
    "okx": OkxPlan,
}
#: Venues whose history this module knows how to page.
VENUES = ("binanceusdm", *PLANS)
#: Binance's datasets → its endpoints (mark klines ride with klines when configured).
_BINANCE_DATASETS = ("klines", "funding", "open_interest")
_OI_PERIOD_MS = 300_000  # period "5m": the finest Binance keeps


class BackfillConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Page sizes (each within Binance's documented maximum) and what to fetch.

    ``page_limit`` and ``stats_period`` are for COIN-M/Bybit/OKX: a cap on every page size
    (each is already at its endpoint's documented maximum, COIN-M klines at 1000: weight 5) and
    the period of the open-interest and long/short series (OKX keeps 5m, 1h, 1d; Bybit 5m …
    1d; COIN-M 5m … 1d).
    """

    klines_limit: int = 1000
    funding_limit: int = 1000
    oi_limit: int = 500
    mark_klines: bool = False
    page_limit: int | None = None
    stats_period: str = "1h"

    def __post_init__(self) -> None:
        """Refuse page sizes the venue would refuse (-1130), naming the option."""
        for name, top in (("klines_limit", 1500), ("funding_limit", 1000), ("oi_limit", 500)):
            if not 0 < getattr(self, name) <= top:
                raise ConfigError(f"backfill {name} must be 1..{top} (Binance's maximum)")


@dataclass(frozen=True)
class Window:
    """Milliseconds ``[start, end)`` to backfill."""

    start: int
    end: int


class BackfillStats(msgspec.Struct, kw_only=True):
    """What one backfill did (the ``--json`` summary)."""

    venue: str
    symbols: list[str]
    start: str
    end: str
    requests: int = 0
    rate_limited: int = 0
    bytes: int = 0
    rows: dict[str, int] = msgspec.field(default_factory=dict)  # decoded, per dataset
    rows_added: dict[str, int] = msgspec.field(default_factory=dict)
    first: dict[str, str] = msgspec.field(default_factory=dict)  # per dataset, ISO UTC
    last: dict[str, str] = msgspec.field(default_factory=dict)
    files: list[str] = msgspec.field(default_factory=list)


Params = dict[str, str | int]
#: Progress callback: (symbol, endpoint path, rows so far in this series, expected rows).
Progress = Callable[[str, str, int, int], None]


def iso(ms: int) -> str:
    """ISO-8601 UTC of a millisecond time (``2021-11-21T00:00:00Z``)."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ms // 1000))


class Backfill:
    """Fetch the history of ``symbols`` over ``window`` from one venue (see the module doc)."""

    def __init__(
        self,
        rest: CcxtRest,
        symbols: list[str],
        window: Window,
        *,
        interval: str = "1m",
        config: BackfillConfig | None = None,
        backoff: Backoff | None = None,
        progress: Progress | None = None,
        datasets: tuple[str, ...] | None = None,
    ) -> None:
        if rest.exchange not in VENUES:
            raise ConfigError(f"backfill supports {', '.join(VENUES)}, not {rest.exchange!r}")
        if window.end <= window.start:
            raise ConfigError("the backfill window is empty (give --hours > 0)")
        self.config = config or BackfillConfig()
        make = PLANS.get(rest.exchange)
        self.plan = (
            None
            if make is None
            else make(interval, self.config.stats_period, self.config.page_limit)
        )
        if self.plan is None and (interval not in INTERVALS or interval == "1s"):
            raise ConfigError(f"--interval {interval!r}: one of {', '.join(list(INTERVALS)[1:])}")
        offered = _BINANCE_DATASETS if self.plan is None else self.plan.datasets
        self.datasets = offered if datasets is None else datasets
        unknown = [d for d in self.datasets if d not in offered]
        if unknown or not self.datasets:
            raise ConfigError(
                f"--data {','.join(unknown) or '(none)'}: {rest.exchange} backfills "
                f"{', '.join(offered)}"
            )
        self.rest = rest
        self.symbols = symbols
        self.window = window
        self.interval = interval
        self.backoff = backoff or Backoff()
        self.progress = progress
        self.stats = BackfillStats(
            venue=rest.exchange, symbols=symbols, start=iso(window.start), end=iso(window.end)
        )
        self._rng = random.Random()
        #: Per frame fetched: its series (frames of one series share the number).
        self._groups: list[int] = []

    # -- fetching -----------------------------------------------------------------------------
    async def frames(self) -> AsyncIterator[RawFrame]:
        """Every REST body of the window, symbol by symbol, endpoint by endpoint."""
        for symbol in self.symbols:
            if self.plan is not None:
                async for frame in self._planned(self.plan, symbol):
                    yield frame
                continue
            for path in self.paths():
                async for frame in self._series(symbol, path):
                    self._groups.append(len(self._groups))  # ascending already: kept in order
                    yield frame

    async def _planned(self, plan: HistoryPlan, symbol: str) -> AsyncIterator[RawFrame]:
        """The plan's prelude, then each dataset's pages as the plan names them."""
        for page in plan.prelude(symbol):
            self._groups.append(len(self._groups))
            yield await self._fetch(page.path, page.params)
        win = self.window
        for dataset in self.datasets:
            pager = plan.pager(dataset, symbol, win.start, win.end)
            page, pages, group = next(pager), 0, len(self._groups)
            while True:
                frame = await self._fetch(page.path, page.params)
                self._groups.append(group)
                yield frame
                pages += 1
                self._report(symbol, dataset, pages, pages + 1)
                try:
                    page = pager.send(frame.data)
                except StopIteration:
                    break
                except (ValueError, msgspec.MsgspecError) as exc:
                    why = f"{frame.url}: not the venue's documented body ({exc}); nothing stored"
                    raise PermanentError(why) from exc
            self._report(symbol, dataset, pages, pages)

    def paths(self) -> list[str]:
        """Binance endpoints fetched per symbol, in order."""
        marks = [MARK_KLINES] if self.config.mark_klines else []
        chosen = {"klines": [KLINES, *marks], "funding": [FUNDING], "open_interest": [OI_HIST]}
        return [
            path for name in _BINANCE_DATASETS if name in self.datasets for path in chosen[name]
        ]

    def expected(self, path: str) -> int:
        """Rows a full window holds (funding: every 8 h, the usual interval): a bar's total."""
        span = self.window.end - self.window.start
        step = {FUNDING: 8 * 3_600_000, OI_HIST: _OI_PERIOD_MS}.get(path)
        return max(1, -(-span // (step or INTERVALS[self.interval] * 1000)))

    async def _series(self, symbol: str, path: str) -> AsyncIterator[RawFrame]:
        win, cfg, got = self.window, self.config, 0
        if path == OI_HIST:  # fixed windows of ``oi_limit`` periods: none can be cut
            span = cfg.oi_limit * _OI_PERIOD_MS
            for start in range(win.start, win.end, span):
                end = min(start + span, win.end) - 1
                params: Params = {"symbol": symbol, "period": "5m", "startTime": start}
                params.update(endTime=end, limit=cfg.oi_limit)
                frame, rows = await self._get(path, params)
                yield frame
                got += len(rows)
                self._series_done(symbol, path, got)
            self._series_done(symbol, path, got, done=True)
            return
        limit = cfg.funding_limit if path == FUNDING else cfg.klines_limit
        step = 1 if path == FUNDING else INTERVALS[self.interval] * 1000
        start = win.start
        while start < win.end:  # from startTime ascending: resume after the last row
            params = {"symbol": symbol}
            if path != FUNDING:
                params["interval"] = self.interval
            params.update(startTime=start, endTime=win.end - 1, limit=limit)
            frame, rows = await self._get(path, params)
            yield frame
            got += len(rows)
            self._series_done(symbol, path, got)
            if len(rows) < limit:
                break
            start = _row_ms(rows[-1], path) + step
        self._series_done(symbol, path, got, done=True)

    def _series_done(self, symbol: str, path: str, got: int, *, done: bool = False) -> None:
        # a finished series' total is what it held
        self._report(symbol, path, got, got if done else self.expected(path))

    def _report(self, symbol: str, what: str, got: int, total: int) -> None:
        if self.progress is not None:
            self.progress(symbol, what, got, total)

    async def _fetch(self, path: str, params: Params) -> RawFrame:
        """GET one page, waiting out rate limits and transient failures (``backoff``)."""

        async def call() -> tuple[str, str]:
            self.stats.requests += 1
            return await self.rest.get(path, params)

        def verdict(exc: BaseException) -> bool | float:
            if isinstance(exc, RateLimited):
                self.stats.rate_limited += 1
            return venue_should_retry(exc)

        url, body = await retrying(
            call, on=verdict, backoff=self.backoff, rng=self._rng, what=f"GET {path}"
        )
        self.stats.bytes += len(body.encode())
        return RawFrame(ts_recv=time.time_ns(), url=url, data=body, http=True)

    async def _get(self, path: str, params: Params) -> tuple[RawFrame, list[object]]:
        frame = await self._fetch(path, params)
        rows = json.loads(frame.data)
        if not isinstance(rows, list):
            raise ConfigError(f"{frame.url}: expected a JSON array, got {frame.data[:200]!r}")
        return frame, rows

    # -- recording and storing ----------------------------------------------------------------
    async def run(self, recordings: Path, store: Store | None) -> BackfillStats:
        """Fetch everything, record the bodies, then write the records to ``store`` at once."""
        from flushwatch.live.recorder import Recorder, RecorderConfig
        from flushwatch.venues.registry import decoder_for, rehost, routing_url

        frames = [frame async for frame in self.frames()]
        # Decode in fetch order, one decoder per route (Bybit's categories are decoders of
        # their own): the instruments bodies come first and teach the contract values.
        decoders: dict[str | None, Decoder] = {}
        decoded: list[list[Record]] = []
        for frame in frames:
            route = routing_url(rehost(self.rest.exchange, frame.url))
            if route not in decoders:
                decoders[route] = decoder_for(self.rest.exchange, route)
            try:
                decoded.append(decoders[route].on_http(frame.url, frame.data, frame.ts_recv))
            except (ValueError, msgspec.MsgspecError) as exc:
                why = f"{frame.url}: not the venue's documented body ({exc}); nothing stored"
                raise PermanentError(why) from exc

        # Record each series oldest page first (Bybit/OKX page newest first), so a recording
        # re-imports as a series in time order; the bodies themselves stay verbatim.
        def age(i: int) -> tuple[int, int, int]:
            first = min((r.ts_event for r in decoded[i]), default=0)
            return (self._groups[i], first, i)

        order = sorted(range(len(frames)), key=age)
        recorder = Recorder(RecorderConfig(recordings=recordings), exchange=self.rest.exchange)

        async def replay() -> AsyncIterator[RawFrame]:
            for i in order:
                yield frames[i]

        rec = await recorder.run(replay())
        self.stats.files = rec.files
        if rec.errors:
            raise ConfigError(f"a history body did not decode: {rec.errors[0]}")
        records = [r for rows in decoded for r in rows]
        self._count(records)
        if store is not None and records:
            import asyncio

            marker = recordings / ".backfill-batch.json"
            instruments = [i for d in decoders.values() for i in d.instruments]
            self.stats.rows_added = await asyncio.to_thread(
                _write, store, marker, records, rec.files, instruments
            )
        return self.stats

    def _count(self, records: list[Record]) -> None:
        rows = Counter(type(r).dataset for r in records)
        self.stats.rows = dict(sorted(rows.items()))
        for name in rows:
            times = [r.ts_event for r in records if type(r).dataset == name]
            self.stats.first[name] = iso(min(times) // NS_PER_MS)
            self.stats.last[name] = iso(max(times) // NS_PER_MS)


def _row_ms(row: object, path: str) -> int:
    value = row.get("fundingTime") if isinstance(row, dict) else row[0]  # type: ignore[index]
    if not isinstance(value, int):
        raise ConfigError(f"GET {path}: a row without a time: {row!r}")
    return value


def _write(
    store: Store,
    marker: Path,
    records: list[Record],
    files: list[str],
    instruments: list[Instrument],
) -> dict[str, int]:
    """Validate and write every record in ONE store write; return rows added per dataset."""
    from flushwatch.domain.tables import frame_from_records, row_class
    from flushwatch.ingest.base import Parsed
    from flushwatch.ingest.validate import validate

    # The store's ledger names a file per write: a small description of this backfill.
    marker.write_text(json.dumps({"records": len(records), "files": files}) + "\n", "utf-8")
    parsed = Parsed(path=marker, format="backfill")
    by_cls: dict[type[Record], list[Record]] = {}
    for rec in records:
        by_cls.setdefault(type(rec), []).append(rec)
    for cls, rows in by_cls.items():
        # Bybit and OKX page newest first: the store wants each series in time order.
        rows.sort(key=lambda r: (r.exchange, r.market, r.symbol, r.ts_event))
        df = frame_from_records(cls, rows)
        validate(row_class(cls), df, marker)
        parsed.add(row_class(cls), df)
    for inst in instruments:
        parsed.add_instrument(inst)
    (summary,) = store.write([parsed])
    return {name: summary.rows_added.get(name, 0) for name in sorted(summary.rows_read)}


async def backfill(
    venue: str,
    symbols: list[str],
    datasets: tuple[str, ...] | None,
    start_ms: int,
    end_ms: int,
    store: Store | None,
    recordings: Path,
    *,
    interval: str = "1m",
    config: BackfillConfig | None = None,
    connector: ConnectorConfig | None = None,
    progress: Progress | None = None,
) -> BackfillStats:
    """Fetch ``datasets`` of ``symbols`` over ``[start_ms, end_ms)`` from ``venue`` over REST.

    The one entry point for front ends (``flushwatch backfill``, ``flushwatch update``).
    ``venue`` is one of :data:`VENUES`; symbols are the venue's own (``BTCUSDT`` on Binance and
    Bybit, ``BTC-USDT-SWAP`` on OKX); ``datasets`` a subset of
    :data:`~flushwatch.venues.rest_history.DATASETS` the venue offers (None: all it offers).
    Every body is recorded verbatim under ``recordings`` (re-importable with ``flushwatch
    import``), then the decoded records go to ``store`` (None: record only) in one atomic,
    idempotent write. ``connector`` gives the REST base (default: the venue's real host),
    timeout and backoff. Raises a :class:`~flushwatch.errors.FlushwatchError` saying what to
    do; on any error nothing is written to the store.
    """
    from flushwatch.connectors.config import DEFAULT_ENDPOINTS, ConnectorConfig
    from flushwatch.connectors.rest_ccxt import CcxtRest

    if venue not in VENUES:
        raise ConfigError(f"--venue {venue!r}: backfill supports {', '.join(VENUES)}")
    conn = connector or ConnectorConfig()
    endpoints = conn.endpoints or DEFAULT_ENDPOINTS[venue]
    async with CcxtRest(venue, endpoints.rest, timeout=conn.open_timeout) as rest:
        job = Backfill(
            rest,
            symbols,
            Window(start_ms, end_ms),
            interval=interval,
            config=config,
            backoff=conn.backoff,
            progress=progress,
            datasets=datasets,
        )
        return await job.run(recordings, store)
