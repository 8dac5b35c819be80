"""The page machinery the vendor downloads share: record, skip, import, count.

A page is one request per ``--data`` kind over one window (:mod:`flushwatch.api.download_vendors`
builds them). :class:`PageRun` fetches a page's bodies one by one, appends each to the
:class:`Recording` as it arrives, decodes them, and imports the records in ONE atomic store
write (:func:`import_page`), unless the page is already held: its URLs are in the store's
:class:`PageLedger`, or :func:`held` finds every bucket of every series it would fill.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import msgspec
import polars as pl

from flushwatch.connectors.vendor_http import Reply, Window
from flushwatch.domain.records import Record
from flushwatch.domain.time import NS_PER_S, iso
from flushwatch.errors import InputError
from flushwatch.redact import redact_url

if TYPE_CHECKING:
    from flushwatch.store import Store

#: Called after each page with (pages done, pages in all).
Progress = Callable[[int, int], None]


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


#: A series one ``--data`` kind fills: record type, row filters, rows per bucket.
Series = tuple[type[Record], list[pl.Expr], int]


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


def span_ns(window: Window, step: int, unit_ns: int) -> tuple[int, int]:
    """First and last bucket start of a window, ns."""
    return window.start * unit_ns, (window.end - step + 1) * unit_ns


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
class PageRun:
    """One download's pages: where bodies and records go, and what was done."""

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


def all_held(
    store: Store | None, checks: list[tuple[str, str, Series]], span: tuple[int, int, int]
) -> bool:
    if store is None:
        return False
    return all(held(store, ex, sym, series, *span) for ex, sym, series in checks)
