"""``flushwatch download binance-vision`` as a use case: plan, fetch, verify, import.

For every planned file (:mod:`flushwatch.api.vision_plan`), in a cache folder that mirrors
the archive's paths (default ``<store>/downloads/vision/data/...``):

1. **Resume.** A zip whose ``.CHECKSUM`` sits beside it and matches is not fetched again; a
   zip that does not match is deleted and fetched again. A download goes to ``<zip>.part``
   and is renamed only once its SHA-256 matches the sidecar, so a ``.part`` left by a killed
   run is simply restarted.
2. **Fetch and verify.** The sidecar first (HTTP 404 on it: the file is not published, listed
   under ``missing``, not an error), then the zip, hashed as it streams. A monthly file not
   out yet (``--period`` left to auto) is replaced by its month's daily files.
3. **Import as it arrives**, one file at a time through the importers ``flushwatch import``
   uses (:func:`flushwatch.ingest.registry.parse`, then :meth:`Store.write`), each file in its
   own atomic write. A file the store's ledger already holds (same SHA-256) is not parsed
   again: a rerun fetches and imports nothing.

A checksum mismatch or a zip that does not import (corrupt, truncated, a bad row) fails that
file alone: its import does not happen, the store is left as it was by it, its cached copy is
deleted (a rerun fetches it again) and it is listed under ``failed`` with a one-line reason
naming the file. **Files of the same run that imported are kept** (each is all-or-nothing and
the run resumes), so a rerun after a fix fetches only what failed. Runs on one cache take
turns (a lock file in it), so overlapping cron jobs never write the same ``.part``. A network
failure that survives the retries, or a refusal by the host (HTTP 403, a wrong ``base_url``),
stops the run.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import re
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path

import msgspec

from flushwatch.api.vision_plan import Plan, VisionFile, daily_instead, plan
from flushwatch.connectors.config import VisionConfig
from flushwatch.connectors.vision_download import VisionClient
from flushwatch.errors import ChecksumError, ConfigError, InputError
from flushwatch.ingest.base import Hints
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.store.ledger import Ledger
from flushwatch.store.store import LEDGER

#: Called after each file with (files done, files planned, the file's archive path).
Progress = Callable[[int, int, str], None]

_HEX = re.compile(r"^[0-9a-fA-F]{64}$")


class FileResult(msgspec.Struct, kw_only=True):
    """What happened to one planned file."""

    path: str
    #: ``imported``, ``already imported``, ``missing`` (HTTP 404: not published) or ``failed``.
    status: str
    #: Whether it was downloaded in this run (False: found verified in the cache, or missing).
    fetched: bool = False
    bytes: int = 0
    rows_read: dict[str, int] = msgspec.field(default_factory=dict)
    rows_added: dict[str, int] = msgspec.field(default_factory=dict)
    error: str | None = None
    notes: list[str] = msgspec.field(default_factory=list)


class DownloadResult(msgspec.Struct, kw_only=True):
    """The run's summary: the ``--json`` of ``flushwatch download binance-vision``."""

    store: str
    cache: str
    base_url: str
    venue: str
    planned: int
    fetched: int
    cached: int
    imported: int
    missing: list[str]
    failed: list[FileResult]
    rows_added: int
    requests: int
    bytes: int
    notes: list[str]
    files: list[FileResult]

    def to_dict(self) -> dict[str, object]:
        """The JSON document (plain builtins)."""
        out = msgspec.to_builtins(self)
        assert isinstance(out, dict)
        return out


@contextlib.contextmanager
def _cache_lock(cache: Path) -> Iterator[None]:
    """One run per cache at a time: a second (an overlapping cron job) waits, then finds the
    files the first verified, instead of writing the same ``.part`` files beside it."""
    cache.mkdir(parents=True, exist_ok=True)
    with (cache / ".lock").open("a") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def default_cache(store_root: Path) -> Path:
    """Where downloaded zips are kept unless ``--cache`` says otherwise."""
    return store_root / "downloads" / "vision"


def parse_checksum(text: str, name: str) -> str:
    """The SHA-256 hex of a ``.CHECKSUM`` body (``<sha256>  <name>``), checked for shape."""
    parts = text.split()
    if not parts or not _HEX.match(parts[0]):
        raise ChecksumError(f"{name}.CHECKSUM does not hold a SHA-256 digest", path=name)
    return parts[0].lower()


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="ascii")
    tmp.replace(path)


def _discard(zip_path: Path) -> None:
    """Delete a cached zip, its sidecar and any partial download (a rerun refetches)."""
    for p in (zip_path, _sidecar(zip_path), _part(zip_path)):
        p.unlink(missing_ok=True)


def _sidecar(zip_path: Path) -> Path:
    return zip_path.with_name(zip_path.name + ".CHECKSUM")


def _part(zip_path: Path) -> Path:
    return zip_path.with_name(zip_path.name + ".part")


def cached_sha(zip_path: Path) -> str | None:
    """The SHA-256 of a cached zip that matches its sidecar; None (and deleted) otherwise."""
    sidecar = _sidecar(zip_path)
    if not (zip_path.is_file() and sidecar.is_file()):
        return None
    try:
        expected = parse_checksum(sidecar.read_text(encoding="ascii", errors="replace"), "")
    except ChecksumError:
        expected = ""
    actual = _sha256(zip_path)
    if actual != expected:
        _discard(zip_path)
        return None
    return actual


class _Run:
    """One download run: the client, the store, the cache and the results so far."""

    def __init__(
        self,
        store: Store,
        cache: Path,
        venue: str,
        client: VisionClient,
        total: int,
        progress: Progress | None,
    ) -> None:
        self.store = store
        self.cache = cache
        self.hints = Hints(exchange=venue)
        self.client = client
        self.total = total
        self.progress = progress
        self.done = 0
        self.import_lock = asyncio.Lock()
        self.known = Ledger(store.root / LEDGER).hashes()

    async def one(self, f: VisionFile) -> FileResult:
        local = self.cache / f.path
        result = FileResult(path=f.path, status="missing")
        sha = await asyncio.to_thread(cached_sha, local)
        if sha is None:
            sha = await self._fetch(f, local, result)
        if sha is not None:
            async with self.import_lock:
                await asyncio.to_thread(self._import, local, sha, result)
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, f.path)
        return result

    async def _fetch(self, f: VisionFile, local: Path, result: FileResult) -> str | None:
        text = await self.client.checksum(f.path + ".CHECKSUM")
        if text is None:
            return None
        try:
            expected = parse_checksum(text, str(local))
        except ChecksumError as exc:
            result.status, result.error = "failed", str(exc)
            return None
        part = _part(local)
        got = await self.client.fetch_to(f.path, part)
        if got is None:
            _discard(local)
            return None
        result.fetched, result.bytes = True, got.size
        if got.sha256 != expected:
            _discard(local)
            result.status = "failed"
            result.error = str(
                ChecksumError(
                    f"SHA-256 is {got.sha256} but {local.name}.CHECKSUM says {expected}: the "
                    "download is corrupt or incomplete and was deleted; run again to refetch it",
                    path=local,
                )
            )
            return None
        _write_atomic(_sidecar(local), text)
        part.replace(local)
        return got.sha256

    def _import(self, local: Path, sha: str, result: FileResult) -> None:
        if sha in self.known:
            result.status = "already imported"
            return
        try:
            parsed = parse(local, None, self.hints)
            [summary] = self.store.write([parsed])
        except InputError as exc:
            _discard(local)
            result.status, result.error = "failed", f"{exc} (the cached copy was deleted)"
            return
        self.known.add(sha)
        result.status = "imported"
        result.rows_read, result.rows_added = summary.rows_read, summary.rows_added
        result.notes = summary.notes


def download_vision(
    store_root: Path,
    *,
    venue: str,
    datasets: list[str],
    symbols: list[str],
    start: date,
    end: date,
    today: date,
    interval: str = "1h",
    period: str = "auto",
    cache: Path | None = None,
    config: VisionConfig | None = None,
    concurrency: int = 4,
    progress: Progress | None = None,
) -> DownloadResult:
    """Fetch, verify and import the planned files; see the module docstring for the rules."""
    if concurrency < 1:
        raise ConfigError("--concurrency must be at least 1")
    syms = [s.strip().upper() for s in symbols if s.strip()]
    if not syms:
        raise ConfigError("--symbols: give at least one symbol, e.g. BTCUSDT")
    the_plan = plan(
        venue, datasets, syms, start, end, today=today, interval=interval, period=period
    )
    cfg = config or VisionConfig()
    store = Store.open(store_root)
    cache_dir = cache if cache is not None else default_cache(store_root)
    with _cache_lock(cache_dir):
        results, requests, nbytes = asyncio.run(
            _run_all(
                the_plan,
                store,
                cache_dir,
                venue,
                cfg,
                concurrency,
                progress,
                lambda f: daily_instead(venue, f, start, end) if period == "auto" else [],
            )
        )
    return _summary(store_root, cache_dir, cfg, venue, the_plan, results, requests, nbytes)


async def _run_all(
    the_plan: Plan,
    store: Store,
    cache: Path,
    venue: str,
    cfg: VisionConfig,
    concurrency: int,
    progress: Progress | None,
    instead: Callable[[VisionFile], list[VisionFile]],
) -> tuple[list[FileResult], int, int]:
    async with VisionClient(cfg, concurrency=concurrency) as client:
        run = _Run(store, cache, venue, client, len(the_plan.files), progress)
        # At most `concurrency` files in flight: their requests are bounded by the client's
        # semaphore too, but this also bounds open .part files and queued imports.
        gate = asyncio.Semaphore(concurrency)
        results = await _gather(run, gate, the_plan.files)
        # A monthly file not out yet (late past its first Monday): its month's daily files.
        late = [(r, instead(f)) for f, r in zip(the_plan.files, results, strict=True)]
        late = [(r, days) for r, days in late if r.status == "missing" and days]
        for r, days in late:
            r.notes.append(f"not published: its {len(days)} daily files were asked for instead")
        extra = [d for _, days in late for d in days]
        run.total += len(extra)
        results += await _gather(run, gate, extra)
        return results, client.requests, client.bytes


async def _gather(run: _Run, gate: asyncio.Semaphore, files: list[VisionFile]) -> list[FileResult]:
    """Run ``files`` at most ``gate`` at a time; the first error cancels the rest."""

    async def gated(f: VisionFile) -> FileResult:
        async with gate:
            return await run.one(f)

    tasks = [asyncio.ensure_future(gated(f)) for f in files]
    try:
        return list(await asyncio.gather(*tasks))
    except BaseException:
        for t in tasks:
            t.cancel()
        with contextlib.suppress(BaseException):
            await asyncio.gather(*tasks, return_exceptions=True)
        raise


def _summary(
    store_root: Path,
    cache: Path,
    cfg: VisionConfig,
    venue: str,
    the_plan: Plan,
    results: list[FileResult],
    requests: int,
    nbytes: int,
) -> DownloadResult:
    ok = ("imported", "already imported")
    return DownloadResult(
        store=str(store_root),
        cache=str(cache),
        base_url=cfg.base_url,
        venue=venue,
        planned=len(results),
        fetched=sum(r.fetched and r.status in ok for r in results),
        cached=sum(not r.fetched and r.status in ok for r in results),
        imported=sum(r.status == "imported" for r in results),
        missing=[r.path for r in results if r.status == "missing"],
        failed=[r for r in results if r.status == "failed"],
        rows_added=sum(sum(r.rows_added.values()) for r in results),
        requests=requests,
        bytes=nbytes,
        notes=list(the_plan.notes),
        files=results,
    )
