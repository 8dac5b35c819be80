"""Record a live feed: raw frames to rotating recordings, records to the store, nothing lost.

Layout of the recordings folder (every recording re-imports with ``flushwatch import``)::

    <exchange>_<group>_<UTC stamp>.lines.gz       websocket frames, ws-lines ('<ns> <frame>')
    <exchange>_rest_<UTC stamp>.jsonl.gz          REST bodies (depth snapshots, OI polls...) in
                                                  cryptofeed format 2, which keeps each body's URL
    <exchange>_<group>_<UTC stamp>.rejected.txt   frames the decoder refused (kept, not imported)
    streams.json                                  group → websocket URL
    feed-events.json                              feed events (gaps, stale, reconnects), JSON lines

``<group>`` names the websocket connection (its last path segment and a hash of its URL), so a
file only ever holds one connection's frames. Secrets in URLs (a key in the query, a password
in the userinfo) are masked wherever a URL is written (:mod:`flushwatch.redact`). REST bodies
go to a file of their own because a ``ws-lines`` line cannot say which URL a body came from;
the hftbacktest convention of a bare snapshot line only works when a file holds a single
symbol.

Frames are decoded on arrival by the venue decoders (one per stream URL, REST bodies sharing the
decoder :func:`~flushwatch.venues.registry.routing_url` names) and records go to the store in
batches through a bounded queue. When the store falls behind, a ``backpressure`` event is
emitted, the batch is dropped from the queue, the raw frames are still written, and the
recordings that held them are imported later (the store is idempotent, so overlap is free).
The same catch-up runs on start for recordings salvaged after a crash.

Double faults (issue 14: a kill during salvage or catch-up lost rows for good): the names of
every recording that may hold rows the store lacks are kept, durably, in ``.catchup.json``.
A name goes in before its file gets its first line (and before a crashed session's ``.part``
is salvaged), and comes out only once its rows are known to be stored: after its catch-up
import, or at a clean end of the session that wrote it. A session that starts with names
left there therefore imports them again, however many times it was killed before (the store
is idempotent), and reports the span it could not record (the last durable line of the
crashed session to its own start) as a ``gap`` event on the stream ``recorder``.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import json
import os
import re
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import msgspec

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.records import BookDelta
from flushwatch.errors import ConfigError, FlushwatchError
from flushwatch.live.idgap import IdGaps
from flushwatch.live.rotation import (
    PART,
    RecordingFile,
    prune,
    readable_lines,
    salvage,
    stamp,
    unique_final,
)
from flushwatch.redact import redact_text, redact_url
from flushwatch.venues.registry import (
    decoder_for,
    exchange_from_url,
    exchange_of_prefix,
    file_prefix,
    routing_url,
)

if TYPE_CHECKING:
    from flushwatch.domain.records import Record
    from flushwatch.store import Store
    from flushwatch.venues.base import Decoder

EVENTS = "feed-events.json"
PENDING = ".catchup.json"
STREAMS = "streams.json"
_SLUG = re.compile(r"[^A-Za-z0-9.-]+")
_NS = 1_000_000_000


@dataclass(frozen=True, kw_only=True)
class RecorderConfig:
    """Where and how to record; every bound is explicit so disk use is predictable."""

    recordings: Path
    compress: bool = True
    rotate_s: float = 3600.0  # one file per group per period of receive time
    rotate_bytes: int | None = None  # also rotate a file once it is this big on disk
    flush_s: float = 1.0  # fsync period: what a crash can lose
    max_bytes: int | None = None  # delete the oldest closed recordings above this
    max_age_s: float | None = None  # ... and those older than this
    batch_s: float = 5.0  # write records to the store at least this often
    batch_records: int = 100_000  # ... or when this many store rows are pending
    queue_batches: int = 4  # batches waiting for the store before backpressure
    catchup_rows: int = 200_000  # store rows per piece when catching up from a recording

    def __post_init__(self) -> None:
        """Reject bounds that cannot work, naming the option."""
        for name in ("rotate_s", "flush_s", "batch_s"):
            if getattr(self, name) <= 0:
                raise ConfigError(f"recorder {name} must be > 0")
        for name in ("batch_records", "queue_batches", "rotate_bytes", "max_bytes", "catchup_rows"):
            value = getattr(self, name)
            if value is not None and value <= 0:
                raise ConfigError(f"recorder {name} must be > 0")


def _last_ts(part: Path) -> int | None:
    """Receive time of the last complete ws-lines line of a crashed part (None: none)."""
    if ".lines" not in part.name:
        return None
    try:
        lines = readable_lines(part)
    except OSError:
        return None
    for line in reversed(lines):
        head = line.split(b" ", 1)[0]
        if head.isdigit():
            return int(head)
    return None


class RecordStats(msgspec.Struct, kw_only=True):
    """What one recording session did."""

    frames: int = 0
    http_frames: int = 0
    rejected: int = 0
    records: int = 0  # store rows decoded (a book delta counts its levels)
    rows_added: int = 0
    batches_written: int = 0
    batches_dropped: int = 0
    events: dict[str, int] = msgspec.field(default_factory=dict)
    files: list[str] = msgspec.field(default_factory=list)
    salvaged: list[str] = msgspec.field(default_factory=list)
    caught_up: list[str] = msgspec.field(default_factory=list)
    deleted: list[str] = msgspec.field(default_factory=list)
    errors: list[str] = msgspec.field(default_factory=list)
    #: Streams whose last connection attempt failed and that have not connected since:
    #: stream → why (the session's ``unreachable`` event).
    unreachable: dict[str, str] = msgspec.field(default_factory=dict)


@dataclass
class _Batch:
    records: list[Record]
    files: set[Path]


@dataclass
class _State:
    pending: list[Record] = field(default_factory=list)
    pending_rows: int = 0  # store rows the pending records stand for
    pending_files: set[Path] = field(default_factory=set)
    pending_since: float = 0.0
    behind: bool = False
    catchup: set[Path] = field(default_factory=set)


def _cryptofeed_name(exchange: str) -> str | None:
    from flushwatch.ingest.recordings_cryptofeed import CRYPTOFEED_EXCHANGES

    return next((k for k, v in CRYPTOFEED_EXCHANGES.items() if v == exchange), None)


@functools.lru_cache(maxsize=1024)
def group_of(url: str) -> str:
    """File-name group of a websocket URL: readable last path segment plus a short hash."""
    tail = url.split("?", 1)[0].rstrip("/").rsplit("/", 1)[-1]
    slug = _SLUG.sub("-", tail).strip("-")[:24] or "ws"
    return f"{slug}-{hashlib.sha1(url.encode()).hexdigest()[:8]}"  # a file name, not security


_exchange_of = functools.lru_cache(maxsize=1024)(exchange_from_url)
_route_of = functools.lru_cache(maxsize=1024)(routing_url)


class Recorder:
    """Consume an async iterator of frames and events; record, decode and store them."""

    def __init__(
        self,
        config: RecorderConfig,
        *,
        exchange: str | None = None,
        store: Store | None = None,
        on_event: Callable[[FeedEvent], None] | None = None,
    ) -> None:
        self.config = config
        self.exchange = exchange  # for URLs whose host does not say (loopback)
        self.store = store
        self.on_event = on_event
        self.stats = RecordStats()
        self._files: dict[tuple[str, str], RecordingFile] = {}
        self._decoders: dict[str, Decoder] = {}
        self._streams: dict[str, str] = {}
        self._st = _State()
        self._queue: asyncio.Queue[_Batch | None] = asyncio.Queue(config.queue_batches)
        self._events = Counter[str]()
        self._event_lines: list[bytes] = []
        self._event_fh: BinaryIO | None = None
        self._encoder = msgspec.json.Encoder()
        self._pending: set[str] = set()  # recordings that may hold rows the store lacks
        self._restart_gap: FeedEvent | None = None
        self._store_failed = False  # a batch or catch-up write failed: keep the names
        self._idgaps = IdGaps()  # last ids of a crashed session, until the new first ids

    # -- public ------------------------------------------------------------------------------
    async def run(self, source: AsyncIterator[RawFrame | FeedEvent]) -> RecordStats:
        """Record everything ``source`` yields until it ends or this task is cancelled."""
        folder = self.config.recordings
        folder.mkdir(parents=True, exist_ok=True)
        self._recover(folder)
        with (folder / EVENTS).open("ab") as events:
            self._event_fh = events
            if self._restart_gap is not None:
                self.event(self._restart_gap)
                self.flush()  # durable now: a kill during the catch-up keeps the report
            writer = asyncio.create_task(self._writer())
            ticker = asyncio.create_task(self._ticker())
            try:
                async for item in source:
                    if isinstance(item, FeedEvent):
                        self.event(item)
                    else:
                        self.frame(item)
            finally:
                ticker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await ticker
                await self._finish(writer)
        return self.stats

    def frame(self, frame: RawFrame) -> None:
        """Record one raw frame and queue its records (synchronous: never waits for storage)."""
        exchange = _exchange_of(frame.url) or self.exchange
        if exchange is None:
            raise ConfigError(f"cannot tell the exchange of {frame.url}; pass exchange=")
        self.stats.frames += 1
        text = frame.data
        if "\n" in text or "\r" in text:  # only JSON whitespace can hold raw line breaks
            text = text.replace("\r", " ").replace("\n", " ")
        records = self._decode(exchange, frame, text)
        if records is None or text.lstrip()[:1] not in ("{", "["):
            self.stats.rejected += 1
            key, line = (exchange, "rejected"), f"{frame.ts_recv} {redact_url(frame.url)} {text}"
        elif frame.http:
            self.stats.http_frames += 1
            key = (exchange, "rest")
            secs = str(Decimal(frame.ts_recv).scaleb(-9))
            line = json.dumps({"t": "http", "ts": secs, "url": redact_url(frame.url), "data": text})
        else:
            key, line = self._ws_line(exchange, frame, text, records)
        out = self._file(key, frame.ts_recv)
        out.add(line.encode())
        if records:
            st = self._st
            if not st.pending:
                st.pending_since = time.monotonic()
            st.pending.extend(records)
            if out.final not in st.pending_files:  # Path hashing is slow: test first
                st.pending_files.add(out.final)
            rows = len(records)
            for rec in records:  # a book delta stands for one row per level
                if type(rec) is BookDelta:
                    rows += rec.levels - 1
            self.stats.records += rows
            st.pending_rows += rows
            if st.pending_rows >= self.config.batch_records:
                self._push()

    def _ws_line(
        self, exchange: str, frame: RawFrame, text: str, records: list[Record]
    ) -> tuple[tuple[str, str], str]:
        """File key and line of a websocket frame; its URL noted, its ids checked after a crash."""
        group = group_of(frame.url)
        if group not in self._streams:
            self._streams[group] = redact_url(frame.url)
            self._write_streams()
        if self._idgaps and records:
            for gap in self._idgaps.check(group, text, records, exchange):
                self.event(gap)
        return (exchange, group), f"{frame.ts_recv} {text}"

    def event(self, event: FeedEvent) -> None:
        """Log a feed event (secrets in its URLs masked), count it and pass it on."""
        event = msgspec.structs.replace(
            event, stream=redact_url(event.stream), detail=redact_text(event.detail)
        )
        self._events[event.kind] += 1
        self.stats.events = dict(self._events)
        if event.kind == "unreachable":
            self.stats.unreachable[event.stream] = event.detail
        elif event.kind == "connected":
            self.stats.unreachable.pop(event.stream, None)
        self._event_lines.append(self._encoder.encode(event) + b"\n")
        if self.on_event is not None:
            self.on_event(event)

    # -- crash recovery ----------------------------------------------------------------------
    def _recover(self, folder: Path) -> None:
        """Salvage a crashed session's parts and queue every file it may not have stored."""
        parts = sorted(folder.glob(f".*{PART}"))
        stamps = [t for p in parts if (t := _last_ts(p)) is not None]
        for part in parts:
            self._learn_ids(part)
        last = max(stamps, default=None)
        if self.store is None:  # raw frames only: nothing to catch up
            self.stats.salvaged = [str(p) for p in salvage(folder)]
        else:
            self._pending = self._read_pending() | {p.name[1 : -len(PART)] for p in parts}
            self._write_pending()  # before salvage renames anything: a kill now loses no name
            self.stats.salvaged = [str(p) for p in salvage(folder)]
            self._pending |= {Path(p).name for p in self.stats.salvaged}
            self._write_pending()
            # frames of a crashed session may not have reached the store
            self._st.catchup.update(folder / n for n in self._pending if (folder / n).exists())
        if (self._pending or self.stats.salvaged) and last is not None:
            now = time.time_ns()
            self._restart_gap = FeedEvent(
                ts=now,
                kind="gap",
                exchange=self.exchange or "",
                stream="recorder",
                detail=(
                    f"restarted after a crash: frames received between {stamp(last)} and "
                    f"{stamp(now)} were not recorded"
                ),
                gap_start=last,
                gap_end=now,
            )

    def _learn_ids(self, part: Path) -> None:
        """Remember the last trade/update ids of a crashed ws-lines part (for the id gap)."""
        name = part.name[1:]
        pieces = name.split("_")
        if ".lines" not in name or len(pieces) < 3:
            return
        exchange = exchange_of_prefix(pieces[0]) or self.exchange
        streams = self.config.recordings / STREAMS
        try:
            url = json.loads(streams.read_text(encoding="utf-8")).get(pieces[1])
            lines = readable_lines(part)
        except (OSError, ValueError, AttributeError):
            return
        if exchange is None or not isinstance(url, str):
            return
        try:
            decoder = decoder_for(exchange, _route_of(url) or url)
        except FlushwatchError:
            return
        self._idgaps.learn(pieces[1], lines, decoder)

    def _read_pending(self) -> set[str]:
        path = self.config.recordings / PENDING
        try:
            names = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return set()
        except ValueError:  # torn by a crash mid-write: the rename makes that impossible
            return set()
        return {str(n) for n in names if "/" not in str(n)}

    def _write_pending(self) -> None:
        folder = self.config.recordings
        tmp = folder / f"{PENDING}.tmp"
        with tmp.open("w", encoding="utf-8") as fh:
            json.dump(sorted(self._pending), fh)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(folder / PENDING)
        fd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)

    def _stored(self, paths: list[Path] | set[Path]) -> None:
        """Forget recordings whose rows are in the store now."""
        names = {p.name for p in paths}
        if names & self._pending:
            self._pending -= names
            self._write_pending()

    # -- frames ------------------------------------------------------------------------------
    def _decode(self, exchange: str, frame: RawFrame, text: str) -> list[Record] | None:
        route = _route_of(frame.url) or (None if frame.http else frame.url)
        route = route or f"{exchange}:rest"
        decoder = self._decoders.get(route)
        try:
            if decoder is None:
                decoder = self._decoders[route] = decoder_for(
                    exchange, None if route.endswith(":rest") else route
                )
            if frame.http:
                return decoder.on_http(frame.url, text, frame.ts_recv)
            return decoder.on_message(text, frame.ts_recv)
        except (FlushwatchError, msgspec.MsgspecError, ValueError, KeyError, TypeError) as exc:
            if len(self.stats.errors) < 20:
                why = redact_text(f"{frame.url}: {type(exc).__name__}: {exc}")
                self.stats.errors.append(why)
            return None

    def _file(self, key: tuple[str, str], ts_recv: int) -> RecordingFile:
        cur = self._files.get(key)
        limit = self.config.rotate_bytes
        if cur is not None and (ts_recv >= cur.end_ts or (limit and cur.size >= limit)):
            self._close(key)
            cur = None
        if cur is None:
            exchange, group = key
            period = int(self.config.rotate_s * _NS)
            end = (ts_recv // period + 1) * period
            gz = ".gz" if self.config.compress else ""
            ext = {"rest": "jsonl", "rejected": "rejected.txt"}.get(group, "lines")
            ext += "" if group == "rejected" else gz
            base = f"{file_prefix(exchange)}_{group}_{stamp(ts_recv)}"
            final = unique_final(self.config.recordings, base, ext)
            header = None
            if group == "rest":
                name = _cryptofeed_name(exchange) or exchange
                header = json.dumps({"t": "header", "exchange": name, "format": 2}).encode()
            if self.store is not None:  # named durably before its first line exists
                self._pending.add(final.name)
                self._write_pending()
            cur = self._files[key] = RecordingFile(final, end_ts=end, header=header)
        return cur

    def _close(self, key: tuple[str, str]) -> None:
        path = self._files.pop(key).close()
        self.stats.files.append(str(path))

    def _write_streams(self) -> None:
        path = self.config.recordings / STREAMS
        old = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        old.update(self._streams)
        tmp = path.with_name(f".{STREAMS}.tmp")
        tmp.write_text(json.dumps(old, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        tmp.replace(path)

    # -- durability and bounds ------------------------------------------------------------------
    def flush(self) -> None:
        """Make every buffered line and event durable (called every ``flush_s``)."""
        for out in self._files.values():
            out.flush()
        if self._event_lines and self._event_fh is not None:
            self._event_fh.write(b"".join(self._event_lines))
            self._event_lines.clear()
            self._event_fh.flush()
            os.fsync(self._event_fh.fileno())

    def _prune(self) -> None:
        deleted = prune(
            self.config.recordings,
            max_bytes=self.config.max_bytes,
            max_age_s=self.config.max_age_s,
            now_ns=time.time_ns(),
            open_bytes=sum(f.size for f in self._files.values()),
            keep=frozenset(self._st.catchup),
        )
        self.stats.deleted.extend(str(p) for p in deleted)

    async def _ticker(self) -> None:
        while True:
            await asyncio.sleep(self.config.flush_s)
            self.flush()
            st = self._st
            if st.pending and time.monotonic() - st.pending_since >= self.config.batch_s:
                self._push()
            self._prune()

    # -- storage -------------------------------------------------------------------------------
    def _push(self) -> None:
        st = self._st
        batch = _Batch(st.pending, st.pending_files)
        st.pending, st.pending_files, st.pending_rows = [], set(), 0
        if self.store is None:
            return
        try:
            self._queue.put_nowait(batch)
        except asyncio.QueueFull:
            self.stats.batches_dropped += 1
            st.catchup.update(batch.files)
            if not st.behind:
                st.behind = True
                self.event(
                    FeedEvent(
                        ts=time.time_ns(),
                        kind="backpressure",
                        exchange=self.exchange or "",
                        stream="store",
                        detail=(
                            f"store writer {self._queue.qsize()} batches behind: raw frames "
                            "are still recorded and the store catches up from the recordings"
                        ),
                    )
                )

    async def _writer(self) -> None:
        from flushwatch.live.storewrite import import_files, write_batch

        store = self.store
        while True:
            if store is not None and self._queue.empty() and self._catchup_ready():
                paths = sorted(p for p in self._st.catchup if not self._is_open(p))
                self._st.catchup.difference_update(paths)
                added, errors = await asyncio.to_thread(
                    import_files, store, paths, self.config.catchup_rows
                )
                self.stats.rows_added += added
                self.stats.caught_up.extend(str(p) for p in paths)
                self.stats.errors.extend(errors)
                if errors:
                    self._store_failed = True
                else:
                    self._stored(paths)
                continue
            batch = await self._queue.get()
            if batch is None:
                return
            if store is None:
                continue
            decoders = list(self._decoders.values())
            marker = self.config.recordings / ".store-batch.json"
            added, error = await asyncio.to_thread(write_batch, store, marker, batch, decoders)
            self.stats.rows_added += added
            self.stats.batches_written += 1
            if error:
                self.stats.errors.append(error)
                self._store_failed = True
            if self._queue.empty() and self._st.behind:
                self._st.behind = False
                for key in [k for k, f in self._files.items() if f.final in self._st.catchup]:
                    self._close(key)  # close the files that hold dropped frames, then import

    def _is_open(self, path: Path) -> bool:
        return any(f.final == path for f in self._files.values())

    def _catchup_ready(self) -> bool:
        return any(not self._is_open(p) for p in self._st.catchup)

    async def _finish(self, writer: asyncio.Task[None]) -> None:
        if self._st.pending:
            self._push()
        for key in list(self._files):
            self._close(key)
        await self._queue.put(None)
        await writer
        if self.store is not None and self._st.catchup:
            from flushwatch.live.storewrite import import_files

            paths = sorted(self._st.catchup)
            self._st.catchup.clear()
            added, errors = await asyncio.to_thread(
                import_files, self.store, paths, self.config.catchup_rows
            )
            self.stats.rows_added += added
            self.stats.caught_up.extend(str(p) for p in paths)
            self.stats.errors.extend(errors)
            self._store_failed = self._store_failed or bool(errors)
        if self.store is not None and not self._store_failed:  # every batch and catch-up stored
            self._stored({self.config.recordings / n for n in self._pending})
        self.flush()
        self._prune()
