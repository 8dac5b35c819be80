"""``flushwatch download coinalyze|coinglass`` as use cases: page, record, decode, import.

For every page (one time window of at most ``page_rows`` intervals, and for Coinalyze one
group of at most 20 symbols), every ``--data`` kind is fetched, then:

1. **Recorded verbatim**, each body as soon as it arrives, one JSON line per body in the REST
   line format of ``flushwatch record`` (``{"t": "http", "ts": <s>, "url": ..., "data": <body>}``)
   in ``<recordings>/<vendor>_rest_<UTC stamp>.jsonl``. The key is a request header and never
   part of a URL, so a recording holds none. :func:`replay` decodes a recording again (no
   network, no key): the same records the download stored.
2. **Decoded** by the pure vendor decoders (:mod:`flushwatch.venues.coinalyze`,
   :mod:`flushwatch.venues.coinglass_api`), everything a page's URLs say (interval, window,
   venues) read back from the URLs, so a download and a replay decode alike.
3. **Imported all or nothing per page**: validated like any import, then one atomic
   :meth:`~flushwatch.store.Store.write`. A body that does not decode stops the run before its
   page touches the store (pages before it stay: each was whole). The store keeps one row per
   series and bucket, so a rerun adds nothing.
4. **Not fetched twice.** A page is skipped when its URLs are in the store's page ledger
   (:class:`PageLedger`: pages imported before, vendor gaps and all) or when the store holds
   every bucket of every series it would fill (from another window split, or an import of
   the vendor's CSV export): a rerun spends none of the rate limit on what is already there.

Only buckets that have closed by ``end`` are asked for and kept: an open bucket would be
stored with a partial value, and the store keeps the first version of a row.
"""

from __future__ import annotations

import functools
import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import parse_qsl, urlsplit

import msgspec
import polars as pl

from flushwatch.connectors import coinalyze as cz_api
from flushwatch.connectors import coinglass_api as cg_api
from flushwatch.connectors.vendor_http import Reply, Window, chunks, windows
from flushwatch.domain.records import (
    Bar,
    DepthBand,
    Funding,
    LiquidationBucket,
    LongShortRatio,
    OpenInterest,
    Record,
)
from flushwatch.domain.time import NS_PER_MS, NS_PER_S, iso
from flushwatch.errors import BadSymbol, ConfigError, InputError
from flushwatch.redact import redact_url
from flushwatch.venues import coinalyze as cz
from flushwatch.venues import coinglass_api as cg

if TYPE_CHECKING:
    from flushwatch.connectors.vendor_http import VendorHttp
    from flushwatch.store import Store

#: Called after each page with (pages done, pages in all).
Progress = Callable[[int, int], None]
COINALYZE_DATA = tuple(cz_api.ENDPOINTS)
COINGLASS_DATA = cg_api.DATA


class VendorStats(msgspec.Struct, kw_only=True):
    """What one download (or replay) did: the ``--json`` summary."""

    vendor: str
    symbols: list[str]
    data: list[str]
    interval: str
    start: str
    end: str
    pages: int = 0
    skipped: int = 0  # pages the store already held whole: not fetched again
    requests: int = 0
    rate_limited: int = 0
    waited_s: float = 0.0  # spent waiting for the rate limiter
    bytes: int = 0
    rows: dict[str, int] = msgspec.field(default_factory=dict)  # decoded, per dataset
    rows_added: dict[str, int] = msgspec.field(default_factory=dict)
    first: dict[str, str] = msgspec.field(default_factory=dict)  # per dataset, ISO UTC
    last: dict[str, str] = msgspec.field(default_factory=dict)
    files: list[str] = msgspec.field(default_factory=list)
    notes: list[str] = msgspec.field(default_factory=list)

    def count(self, records: list[Record], added: Mapping[str, int]) -> None:
        """Add one page's records and what the store took of them."""
        for rec in records:
            name = type(rec).dataset
            self.rows[name] = self.rows.get(name, 0) + 1
            first, last = self.first.get(name), self.last.get(name)
            stamp = iso(rec.ts_event)
            if first is None or stamp < first:
                self.first[name] = stamp
            if last is None or stamp > last:
                self.last[name] = stamp
        for name, n in added.items():
            self.rows_added[name] = self.rows_added.get(name, 0) + n


class Recording:
    """One download's bodies, appended and flushed to disk as they arrive."""

    def __init__(self, folder: Path, vendor: str) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime())
        path = folder / f"{vendor}_rest_{stamp}.jsonl"
        n = 1
        while path.exists():  # two downloads in one second keep their own files
            n += 1
            path = folder / f"{vendor}_rest_{stamp}-{n}.jsonl"
        path.touch()
        self.path = path

    def add(self, reply: Reply) -> None:
        """Append ``reply`` (URL redacted: it never holds a key, this is belt and braces)."""
        line = {"t": "http", "ts": reply.ts_recv / NS_PER_S, "url": redact_url(reply.url)}
        line["data"] = reply.body
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(line) + "\n")
            fh.flush()
            os.fsync(fh.fileno())


def read_recording(path: Path) -> list[Reply]:
    """The bodies of a recording, in order; a line that is not one is an error naming it."""
    out = []
    with path.open(encoding="utf-8") as fh:
        for n, text in enumerate(fh, 1):
            try:
                doc = json.loads(text)
                out.append(Reply(doc["url"], doc["data"], round(doc["ts"] * NS_PER_S)))
            except (ValueError, KeyError, TypeError) as exc:
                raise InputError(f"line {n} is not a recorded body ({exc})", path=path) from None
    return out


def _params(url: str) -> tuple[str, dict[str, str]]:
    parts = urlsplit(url)
    return parts.path, dict(parse_qsl(parts.query))


# -- decoding a page (pure) ---------------------------------------------------------------------
def coinalyze_records(replies: list[Reply], markets: Mapping[str, cz.FutureMarket]) -> list[Record]:
    """Every record of Coinalyze history bodies; predicted funding joins the funding of the
    same symbols and window (alone it is not a record: :class:`Funding` needs the rate)."""
    kinds = {path: kind for kind, path in cz_api.ENDPOINTS.items()}
    predicted: dict[tuple[str, str, str], Reply] = {}
    for r in replies:
        path, q = _params(r.url)
        if path.endswith(cz_api.ENDPOINTS["predicted-funding"]):
            predicted[(q.get("symbols", ""), q.get("from", ""), q.get("to", ""))] = r
    out: list[Record] = []
    decoders = {
        "oi": cz.open_interest,
        "liquidations": cz.liquidations,
        "long-short": cz.long_short,
        "ohlcv": cz.ohlcv,
    }
    for r in replies:
        path, q = _params(r.url)
        kind = next((k for p, k in kinds.items() if path.endswith(p)), None)
        if kind is None or kind == "predicted-funding":
            continue
        step = cz_api.interval_seconds(q.get("interval", ""))
        last = int(q["to"]) - step + 1
        page = cz.Page(interval_s=step, first=int(q["from"]), last=last, ts_recv=r.ts_recv)
        if kind == "funding":
            ahead = predicted.get((q.get("symbols", ""), q["from"], q["to"]))
            pair = (ahead.url, ahead.body) if ahead is not None else None
            out += cz.funding(r.url, r.body, page, markets, pair)
        else:
            out += decoders[kind](r.url, r.body, page, markets)
    return out


def coinglass_records(replies: list[Reply]) -> list[Record]:
    """Every record of CoinGlass history bodies, labelled from their URLs."""
    decoders = {
        cg_api.LIQUIDATIONS: cg.liquidations,
        cg_api.OI_AGGREGATED: cg.open_interest,
        cg_api.OI_PAIR: cg.open_interest,
        cg_api.FUNDING_OI_WEIGHTED: cg.funding,
        cg_api.FUNDING_PAIR: cg.funding,
        cg_api.DEPTH: cg.depth,
    }
    out: list[Record] = []
    for r in replies:
        path, q = _params(r.url)
        decode = next((d for p, d in decoders.items() if path.endswith(p)), None)
        if decode is None:
            continue
        step_ms = cg_api.INTERVALS[q["interval"]] * 1000
        one_venue = path.endswith((cg_api.OI_PAIR, cg_api.FUNDING_PAIR))
        page = cg.Page(
            symbol=f"{q['symbol']}-{q['exchange']}" if one_venue else q["symbol"],
            venues=q.get("exchange_list", q.get("exchange", "")),
            interval_s=step_ms // 1000,
            first=int(q["start_time"]) * NS_PER_MS,
            last=(int(q["end_time"]) - step_ms + 1) * NS_PER_MS,
            depth_range=float(q.get("range", "1")),
            ts_recv=r.ts_recv,
        )
        out += decode(r.url, r.body, page)
    return out


# -- importing ------------------------------------------------------------------------------------
def import_page(store: Store, source: Path, fmt: str, records: list[Record]) -> dict[str, int]:
    """Validate ``records`` like any import and write them in ONE atomic store write."""
    from flushwatch.domain.tables import frame_from_records, row_class
    from flushwatch.ingest.base import Parsed
    from flushwatch.ingest.validate import validate

    parsed = Parsed(path=source, format=fmt)
    by_cls: dict[type[Record], list[Record]] = {}
    for rec in records:
        by_cls.setdefault(type(rec), []).append(rec)
    for cls, rows in by_cls.items():
        df = frame_from_records(cls, rows)
        validate(row_class(cls), df, source)
        parsed.add(row_class(cls), df)
    if not parsed.frames:
        return {}
    (summary,) = store.write([parsed])
    return dict(summary.rows_added)


def _finish(stats: VendorStats, http: VendorHttp, start: str) -> VendorStats:
    stats.requests, stats.rate_limited = http.requests, http.rate_limited
    stats.bytes, stats.waited_s = http.bytes, round(http.bucket.waited, 3)
    if http.lowered_to is not None:
        stats.notes.append(
            f"{http.vendor} allows this key {http.lowered_to} requests a minute "
            f"({http.limit_header}): the rate was lowered to that"
        )
    for name, first in stats.first.items():
        if first > start:
            stats.notes.append(
                f"{name}: the first row is {first}, after the requested start {start} "
                "(the vendor holds no earlier rows at this interval, or none for this plan)"
            )
    return stats


# -- what the store already holds ---------------------------------------------------------------
#: A series one ``--data`` kind fills: record type, row filters, rows per bucket.
Series = tuple[type[Record], list[pl.Expr], int]


def _cz_series(kind: str, step: int) -> Series:
    same = [pl.col("interval_s") == step]
    table: dict[str, Series] = {
        "oi": (OpenInterest, [], 1),
        "funding": (Funding, [~pl.col("is_settled")], 1),
        "predicted-funding": (
            Funding,
            [~pl.col("is_settled"), pl.col("predicted_rate").is_not_null()],
            1,
        ),
        "liquidations": (LiquidationBucket, same, 1),
        "long-short": (LongShortRatio, [pl.col("kind") == "global_accounts"], 1),
        "ohlcv": (Bar, [*same, pl.col("price_kind") == "trade"], 1),
    }
    return table[kind]


def _cg_series(kind: str, req: cg_api.Request, step: int) -> tuple[str, Series]:
    label = f"{req.pair}-{req.venues}" if req.single else req.symbol
    if kind == "liquidations":
        where = [pl.col("interval_s") == step, pl.col("venues") == req.venues]
        return req.symbol, (LiquidationBucket, where, 1)
    if kind == "oi":
        return label, (OpenInterest, [], 1)
    if kind == "funding":
        return label, (Funding, [~pl.col("is_settled")], 1)
    return req.symbol, (DepthBand, [pl.col("pct").abs() == float(req.depth_range)], 2)


def held(
    store: Store,
    exchange: str,
    symbol: str,
    series: Series,
    first_ns: int,
    last_ns: int,
    step_ns: int,
) -> bool:
    """Whether the store has every bucket ``first..last`` of one series (then it is not fetched:
    the store keeps the first version of a row, so fetching it again could change nothing)."""
    cls, where, per_bucket = series
    df = store.read(cls, exchange=exchange, symbol=symbol, start_ns=first_ns, end_ns=last_ns + 1)
    for expr in where:
        df = df.filter(expr)
    buckets = (last_ns - first_ns) // step_ns + 1
    return df.height >= buckets * per_bucket and df.get_column("ts_event").n_unique() >= buckets


def _span_ns(window: Window, step: int, unit_ns: int) -> tuple[int, int]:
    """First and last bucket start of a window, ns."""
    return window.start * unit_ns, (window.end - step + 1) * unit_ns


# -- the use cases --------------------------------------------------------------------------------
class PageLedger:
    """The URLs of every page imported whole into this store, one a line, in
    ``<store>/downloads/<vendor>/pages.txt``: a page asked with the same URLs again is not
    fetched, even where the vendor had gaps (an hour it never printed) that keep the store
    from holding it whole. Kept beside the store, so a new store starts with none."""

    def __init__(self, store: Store | None, vendor: str) -> None:
        self.path = None if store is None else store.root / "downloads" / vendor / "pages.txt"
        self.done: set[str] = set()
        if self.path is not None and self.path.is_file():
            self.done = set(self.path.read_text(encoding="utf-8").splitlines())

    def holds(self, urls: list[str]) -> bool:
        """Whether every URL of a page was imported before."""
        return bool(urls) and all(u in self.done for u in urls)

    def add(self, urls: list[str]) -> None:
        """Remember a page once its import is done."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write("".join(u + "\n" for u in urls))
            fh.flush()
            os.fsync(fh.fileno())
        self.done.update(urls)


Call = tuple[str, Callable[[], Awaitable[Reply]]]


@dataclass
class _Job:
    """One download's running state: where bodies and records go, what was done."""

    stats: VendorStats
    recording: Recording
    store: Store | None
    ledger: PageLedger
    fmt: str
    total: int
    progress: Progress | None

    async def page(
        self,
        calls: list[Call],
        decode: Callable[[list[Reply]], list[Record]],
        is_held: Callable[[], bool],
    ) -> None:
        """Fetch (recording each body as it arrives), decode and import one page, unless the
        store holds it already (the ledger names its URLs, or every series is whole)."""
        urls = [url for url, _ in calls]
        if self.ledger.holds(urls) or (self.store is not None and is_held()):
            self.stats.skipped += 1
        else:
            replies = []
            for _, call in calls:
                reply = await call()
                self.recording.add(reply)
                replies.append(reply)
            records = decode(replies)
            added = {}
            if self.store is not None:
                added = import_page(self.store, self.recording.path, self.fmt, records)
                self.ledger.add(urls)
            self.stats.count(records, added)
        self.stats.pages += 1
        if self.progress is not None:
            self.progress(self.stats.pages, self.total)


def _all_held(
    store: Store | None, checks: list[tuple[str, str, Series]], span: tuple[int, int, int]
) -> bool:
    if store is None:
        return False
    return all(held(store, ex, sym, series, *span) for ex, sym, series in checks)


async def download_coinalyze(
    client: cz_api.CoinalyzeClient,
    symbols: list[str],
    data: list[str],
    interval: str,
    start_ns: int,
    end_ns: int,
    *,
    recordings: Path,
    store: Store | None,
    progress: Progress | None = None,
) -> VendorStats:
    """Fetch ``data`` of ``symbols`` over ``[start, end)`` from Coinalyze (module doc)."""
    data = _check_data(data, COINALYZE_DATA)
    if "predicted-funding" in data and "funding" not in data:
        raise ConfigError(
            "--data predicted-funding is stored beside the funding rate: add funding "
            "(--data funding,predicted-funding)"
        )
    step = cz_api.interval_seconds(interval)
    pages = windows(start_ns // NS_PER_S, end_ns // NS_PER_S, step, client.config.page_rows)
    if not pages:
        raise ConfigError(
            f"no {interval} interval both starts and closes between --start and --end"
        )
    groups = chunks(symbols, client.config.symbols_per_call)
    stats = _stats("coinalyze", symbols, data, interval, pages[0].start * NS_PER_S, end_ns)
    recording = Recording(recordings, "coinalyze")
    stats.files.append(str(recording.path))
    reply = await client.markets()
    recording.add(reply)
    markets = cz.decode_markets(reply.url, reply.body)
    unknown = [s for s in symbols if s not in markets]
    if unknown:
        raise BadSymbol(
            f"Coinalyze lists no future {', '.join(unknown)} (symbols look like "
            "BTCUSDT_PERP.A: pair, _PERP, a dot and the venue code; see /future-markets)"
        )
    ledger = PageLedger(store, "coinalyze")
    job = _Job(stats, recording, store, ledger, "coinalyze-api", len(groups) * len(pages), progress)
    decode = functools.partial(coinalyze_records, markets=markets)
    for group in groups:
        checks = [
            (cz.VENDOR, cz.series_symbol(sym), _cz_series(kind, step))
            for sym in group
            for kind in data
        ]
        for window in pages:
            calls: list[Call] = [
                (
                    client.url(kind, group, interval, window),
                    functools.partial(client.history, kind, group, interval, window),
                )
                for kind in data
            ]
            span = (*_span_ns(window, step, NS_PER_S), step * NS_PER_S)
            await job.page(calls, decode, functools.partial(_all_held, store, checks, span))
    return _finish(stats, client.http, stats.start)


async def download_coinglass(
    client: cg_api.CoinGlassClient,
    request: cg_api.Request,
    data: list[str],
    start_ns: int,
    end_ns: int,
    *,
    recordings: Path,
    store: Store | None,
    progress: Progress | None = None,
) -> VendorStats:
    """Fetch ``data`` of one coin over ``[start, end)`` from CoinGlass v4 (module doc)."""
    data = _check_data(data, COINGLASS_DATA)
    step_ms = cg_api.interval_seconds(request.interval, client.config.plan) * 1000
    start_ms, end_ms = start_ns // NS_PER_MS, end_ns // NS_PER_MS
    pages = windows(start_ms, end_ms, step_ms, client.config.page_rows)
    if not pages:
        raise ConfigError(
            f"no {request.interval} interval both starts and closes between --start and --end"
        )
    symbols = [request.symbol if not request.single else f"{request.pair}-{request.venues}"]
    stats = _stats("coinglass", symbols, data, request.interval, pages[0].start * NS_PER_MS, end_ns)
    recording = Recording(recordings, "coinglass")
    stats.files.append(str(recording.path))
    ledger = PageLedger(store, "coinglass")
    job = _Job(stats, recording, store, ledger, "coinglass-api", len(pages), progress)
    checks = [(cg.VENDOR, *_cg_series(kind, request, step_ms // 1000)) for kind in data]
    for window in pages:
        calls: list[Call] = [
            (
                client.url(kind, request, window.start, window.end),
                functools.partial(client.history, kind, request, window.start, window.end),
            )
            for kind in data
        ]
        span = (*_span_ns(window, step_ms, NS_PER_MS), step_ms * NS_PER_MS)
        await job.page(calls, coinglass_records, functools.partial(_all_held, store, checks, span))
    return _finish(stats, client.http, stats.start)


def replay(path: Path, store: Store | None) -> VendorStats:
    """Decode a recording again (no network) and import it: what its download stored."""
    vendor = path.name.split("_rest_", 1)[0]
    if vendor not in ("coinalyze", "coinglass"):
        raise InputError(
            "not a vendor recording (coinalyze_rest_*.jsonl, coinglass_rest_*)", path=path
        )
    replies = read_recording(path)
    if vendor == "coinalyze":
        markets: dict[str, cz.FutureMarket] = {}
        for r in replies:
            if _params(r.url)[0].endswith(cz_api.MARKETS):
                markets.update(cz.decode_markets(r.url, r.body))
        records = coinalyze_records(replies, markets)
    else:
        records = coinglass_records(replies)
    stats = VendorStats(vendor=vendor, symbols=[], data=[], interval="", start="", end="")
    stats.files.append(str(path))
    added = {} if store is None else import_page(store, path, f"{vendor}-api", records)
    stats.pages = len(replies)
    stats.count(records, added)
    return stats


def _check_data(data: list[str], known: tuple[str, ...]) -> list[str]:
    bad = [d for d in data if d not in known]
    if bad or not data:
        raise ConfigError(f"--data {','.join(bad) or '(none)'}: choose from {','.join(known)}")
    return list(dict.fromkeys(data))


def _stats(
    vendor: str, symbols: list[str], data: list[str], interval: str, start_ns: int, end_ns: int
) -> VendorStats:
    return VendorStats(
        vendor=vendor,
        symbols=symbols,
        data=data,
        interval=interval,
        start=iso(start_ns),
        end=iso(end_ns),
    )
