"""The embedded store: Parquet part files per dataset / exchange / market / symbol / period.

Layout (plain files, queryable by any DuckDB with ``read_parquet('<root>/trades/**/*.parquet')``)::

    <root>/flushwatch-store.json            schema version marker
    <root>/<dataset>/<exchange>/<market>/<symbol>/<period>.parquet              part 0
    <root>/<dataset>/<exchange>/<market>/<symbol>/<period>.part-NNNNNN.parquet  parts 1...
    <root>/instruments.parquet              instrument identity and contract terms
    <root>/imports.jsonl                    ledger: one line per imported file (sha256, rows)

``<period>`` is the UTC month ``YYYY-MM`` for hourly-and-slower datasets
(:data:`~flushwatch.store.schema.MONTHLY`: bars, funding, OI, ratios, vendor buckets) and the
UTC day ``YYYY-MM-DD`` for the rest, so a file holds hundreds of rows or more, not 24.
Reads open only the files of the instruments and periods asked for
(:mod:`flushwatch.store.select`).

Writes are idempotent (rows equal on every field but ``ts_recv`` are one row) and atomic. A
write appends its *new* rows as one new immutable part per day partition, after reading only
the stored rows whose ``ts_event`` lies within the incoming rows' range (duplicates share
``ts_event``, and row-group statistics skip the rest), so a live recorder's cost per batch does
not grow with the day. Parts are merged size-tiered inside the same write (see
:mod:`flushwatch.store.parts`), and :meth:`Store.compact` merges each day into one file.
All files are staged first and swapped in under an exclusive lock, and any failure
restores the previous files (:mod:`flushwatch.store.txn`). Nothing is written when any
input failed to parse.

Readers (:meth:`Store.read`, :meth:`Store.series`, :meth:`Store.query`) hold a shared lock
while they run, so they never see a merge half done; a plain DuckDB reading the files
directly, or a :meth:`Store.connect` view used while another process writes, does not wait.
"""

from __future__ import annotations

import contextlib
import fcntl
import functools
import hashlib
import json
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from datetime import date, timedelta
from pathlib import Path

import duckdb
import msgspec
import polars as pl

from flushwatch.domain.records import MARKET_RECORDS, Instrument, Record
from flushwatch.domain.symbols import base_asset
from flushwatch.domain.tables import (
    DATASETS,
    INSTANT,
    LINE,
    frame_from_records,
    key_pad_ns,
    natural_key,
)
from flushwatch.errors import StoreError, StoreVersionError
from flushwatch.ingest.base import Parsed
from flushwatch.store.footers import FooterCache
from flushwatch.store.io import (
    keys_of,
    merge_files,
    read_file,
    read_window,
    schema_of,
    sort_columns,
    sql_str,
    write_frame,
)
from flushwatch.store.ledger import Ledger
from flushwatch.store.parts import (
    Part,
    days_in,
    list_parts,
    next_seq,
    part_name,
    plan_merges,
)
from flushwatch.store.sandbox import check_read_only, refusal, sandboxed
from flushwatch.store.schema import MONTHLY, SCHEMA_VERSION
from flushwatch.store.select import FolderCache, part_files
from flushwatch.store.txn import STAGING, Txn, recover

MARKER = "flushwatch-store.json"
LEDGER = "imports.jsonl"
INSTRUMENTS = "instruments.parquet"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")
_MAX_COMPONENT = 128  # well under the 255 bytes file systems allow a folder name
_DAY_NS = 86_400 * 10**9
_EPOCH = date(1970, 1, 1)
_SRC = "_flushwatch_src"
_ROW = "_flushwatch_row"


class ImportSummary(msgspec.Struct, kw_only=True):
    """What importing one file did to the store."""

    path: str
    format: str
    sha256: str
    rows_read: dict[str, int]
    rows_added: dict[str, int]
    seen_before: bool
    notes: list[str]

    @property
    def added(self) -> int:
        """Total rows added over all datasets."""
        return sum(self.rows_added.values())


def _conflict_notes(conflicts: Sequence[Conflict], source: int) -> list[str]:
    """One note per dataset: rows of input ``source`` that lost to an earlier version."""
    totals: dict[str, list[Conflict]] = {}
    for c in conflicts:
        if c.source == source:
            totals.setdefault(c.dataset, []).append(c)
    notes = []
    for dataset, found in totals.items():
        c = found[0]
        where = f"line {c.line}, " if c.line is not None else ""
        notes.append(
            f"{sum(x.rows for x in found)} {dataset} rows repeat an instrument and time already "
            f"held with other values; the first version was kept (e.g. {where}field "
            f"{c.field!r}: kept {c.kept!r}, ignored {c.ignored!r})"
        )
    return notes


class SeriesInfo(msgspec.Struct, kw_only=True):
    """One stored series: a dataset for one instrument, with its extent."""

    dataset: str
    exchange: str
    market: str
    symbol: str
    rows: int
    first_ts: int
    last_ts: int


class CompactSummary(msgspec.Struct, kw_only=True):
    """What :meth:`Store.compact` did: partitions merged, files and bytes before and after."""

    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    bytes_before: int = 0
    bytes_after: int = 0
    rows: int = 0


def _safe(part: str) -> str:
    """One path component that stays inside its parent folder, whatever ``part`` holds.

    Importers refuse such names with file and line (:mod:`flushwatch.ingest.validate`); this
    is the last guard, for every other writer and for read filters.
    """
    safe = _SAFE.sub("_", part) or "_"
    if safe in (".", "..") or len(safe) > _MAX_COMPONENT:
        raise StoreError(
            f"{part[:40]!r} cannot name a store folder (no '.' or '..', at most "
            f"{_MAX_COMPONENT} characters)"
        )
    return safe


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (the ledger key for "already imported").

    Remembered per (path, size, mtime): a large file imported in pieces (one write per piece,
    ``flushwatch.api.stream_import``) is hashed once, not once per piece.
    """
    st = path.stat()
    return _sha256(str(path.resolve()), st.st_size, st.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
    del size, mtime_ns  # part of the cache key only
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Store:
    """A flushwatch store rooted at a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._ledger = Ledger(root / LEDGER)
        self._footers = FooterCache()
        self._folders = FolderCache()
        self._duck: duckdb.DuckDBPyConnection | None = None
        self._duck_pid = -1
        self._duck_lock = threading.Lock()

    # -- opening -------------------------------------------------------------------------
    @classmethod
    def open(cls, root: Path, *, create: bool = True) -> Store:
        """Open (or create) a store, refusing one written by another schema version."""
        marker = root / MARKER
        if marker.exists():
            try:
                meta = json.loads(marker.read_text(encoding="utf-8"))
                version = int(meta["schema_version"])
            except (ValueError, KeyError, TypeError) as exc:
                raise StoreError(f"{marker} is not a flushwatch store marker: {exc}") from exc
            if version == 1 and SCHEMA_VERSION == 2:
                raise StoreVersionError(
                    f"the store at {root} has the version-1 layout (a file per day for every "
                    f"dataset); run `flushwatch migrate --store {root}` to rewrite it"
                )
            if version != SCHEMA_VERSION:
                raise StoreVersionError(
                    f"the store at {root} has schema version {version}, this flushwatch reads "
                    f"version {SCHEMA_VERSION}: use a flushwatch of that version, or point "
                    "--store at a new folder and import your files again"
                )
        elif create:
            if root.exists() and any(root.iterdir()):
                raise StoreError(
                    f"{root} exists, is not empty and is not a flushwatch store; choose another "
                    "--store folder"
                )
            root.mkdir(parents=True, exist_ok=True)
            marker.write_text(
                json.dumps({"schema_version": SCHEMA_VERSION, "kind": "flushwatch-store"}) + "\n",
                encoding="utf-8",
            )
            (root / ".lock").touch()
        else:
            raise StoreError(f"no flushwatch store at {root}; import something first")
        store = cls(root)
        if any(root.glob(f"{STAGING}*")):  # a writer died mid-commit: undo it before any read
            if not os.access(root, os.W_OK):
                raise StoreError(
                    f"the store at {root} holds a write interrupted mid-commit, and this "
                    "process cannot roll it back (read-only): open it once with write access"
                )
            with store._locked():
                recover(root)
        return store

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.root / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    @contextlib.contextmanager
    def _shared(self) -> Iterator[None]:
        """Readers wait for a write in progress; a read-only store is read without a lock."""
        try:
            fh = (self.root / ".lock").open("r")
        except OSError:
            yield
            return
        with fh:
            fcntl.flock(fh, fcntl.LOCK_SH)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- paths ---------------------------------------------------------------------------
    def partition_path(
        self, dataset: str, exchange: str, market: str, symbol: str, day: str
    ) -> Path:
        """Return part 0 of one partition, ``day`` being its period key (UTC day or month;
        its later parts sit beside it)."""
        return (
            self.root / dataset / _safe(exchange) / _safe(market) / _safe(symbol) / f"{day}.parquet"
        )

    # -- writing -------------------------------------------------------------------------
    def write(self, parsed: Sequence[Parsed]) -> list[ImportSummary]:
        """Add every parsed file to the store atomically and return what each one added."""
        with self._locked():
            recover(self.root)  # undo a writer that died mid-commit (it left its staging)
            with Txn(self.root) as txn:
                return self._write(txn, parsed)

    def _write(self, txn: Txn, parsed: Sequence[Parsed]) -> list[ImportSummary]:
        ledger = self._ledger.hashes()
        shas = [file_sha256(p.path) for p in parsed]
        added: list[dict[str, int]] = [{} for _ in parsed]
        chunks: dict[tuple[Path, str], list[tuple[int, type[Record], pl.DataFrame]]] = {}
        conflicts: list[Conflict] = []
        for i, p in enumerate(parsed):
            for cls, df in p.frames.items():
                for where, part in self._partitions(cls, df):
                    chunks.setdefault(where, []).append((i, cls, part))
        for (folder, day), items in chunks.items():
            cls = items[0][1]
            parts = list_parts(folder, day)
            fresh, counts, found = _fresh_rows(parts, cls, items)
            conflicts += found
            for i, _, _ in items:
                added[i][cls.dataset] = added[i].get(cls.dataset, 0) + counts.get(i, 0)
            if fresh.height:
                self._add_part(txn, folder, day, cls, parts, fresh)
        inst_frame = self._merged_instruments([inst for p in parsed for inst in p.instruments])
        if inst_frame is not None:
            staged = txn.new_file()
            write_frame(inst_frame, Instrument, staged)
            txn.put(staged, self.root / INSTRUMENTS)
        summaries = [
            ImportSummary(
                path=str(p.path),
                format=p.format,
                sha256=sha,
                rows_read={cls.dataset: df.height for cls, df in p.frames.items()},
                rows_added=dict(added[i]),
                seen_before=sha in ledger,
                notes=list(p.notes) + _conflict_notes(conflicts, i),
            )
            for i, (p, sha) in enumerate(zip(parsed, shas, strict=True))
        ]
        # A file seen before that added nothing leaves no trace: re-imports are byte-neutral.
        fresh_summaries = [s for s in summaries if not (s.seen_before and s.added == 0)]
        lines = "".join(json.dumps(msgspec.to_builtins(s)) + "\n" for s in fresh_summaries)
        txn.commit(self._ledger, lines)
        return summaries

    def _partitions(
        self, cls: type[Record], df: pl.DataFrame
    ) -> Iterator[tuple[tuple[Path, str], pl.DataFrame]]:
        line = pl.col(LINE) if LINE in df.columns else pl.lit(None)
        monthly = cls.dataset in MONTHLY
        if monthly:
            when = pl.from_epoch(pl.col("ts_event"), time_unit="ns")
            key = when.dt.year().cast(pl.Int64) * 12 + when.dt.month().cast(pl.Int64) - 1
        else:
            key = pl.col("ts_event") // _DAY_NS
        df = df.with_columns(
            line.cast(pl.Int64).alias(LINE), key.alias("_key")
        )  # the source line travels to the de-duplication, to name a conflicting row
        for (exchange, market, symbol, n), part in df.group_by(
            ["exchange", "market", "symbol", "_key"], maintain_order=True
        ):
            assert isinstance(n, int)
            if monthly:
                name = f"{n // 12:04d}-{n % 12 + 1:02d}"
            else:
                name = (_EPOCH + timedelta(days=n)).isoformat()
            folder = self.partition_path(cls.dataset, str(exchange), str(market), str(symbol), name)
            yield (folder.parent, name), part.drop("_key")

    def _add_part(
        self,
        txn: Txn,
        folder: Path,
        day: str,
        cls: type[Record],
        parts: list[Part],
        fresh: pl.DataFrame,
    ) -> None:
        """Stage ``fresh`` as the next part of the day, then the merges it makes due."""
        seq = next_seq(parts)
        staged = txn.new_file()
        write_frame(
            fresh.sort(sort_columns(cls), nulls_last=True, maintain_order=True), cls, staged
        )
        sources = {p.seq: p.path for p in parts} | {seq: staged}
        sizes = {p.seq: p.rows for p in parts} | {seq: fresh.height}
        merges = plan_merges(sizes)
        if not any(seq in m.inputs for m in merges):
            txn.put(staged, folder / part_name(day, seq))
        for m in merges:
            out = txn.new_file()
            merge_files([sources[s] for s in m.inputs], cls, sum(sizes[s] for s in m.inputs), out)
            txn.put(out, folder / part_name(day, m.output))
            for s in m.inputs:
                if s not in (m.output, seq):
                    txn.delete(sources[s])

    def _merged_instruments(self, new: list[Instrument]) -> pl.DataFrame | None:
        if not new:
            return None
        path = self.root / INSTRUMENTS
        cur = (
            read_file(path, Instrument)
            if path.exists()
            else pl.DataFrame(schema=schema_of(Instrument))
        )
        incoming = frame_from_records(Instrument, new)
        merged = (
            pl.concat([incoming, cur], how="vertical")
            .unique(subset=["exchange", "market", "symbol"], keep="first", maintain_order=True)
            .sort(["exchange", "market", "symbol"])
        )
        return None if merged.equals(cur) else merged

    # -- compaction ----------------------------------------------------------------------
    def compact(self, progress: Callable[[Sequence[Path]], object] | None = None) -> CompactSummary:
        """Merge every partition into one file, ``<period>.parquet``; return what it did.

        Each partition is merged atomically under the lock (a recorder writing meanwhile
        waits for one partition at most), so an interrupted compaction leaves a consistent
        store. ``progress`` is called with a partition's files before they are merged.
        """
        out = CompactSummary()
        for cls, folder, day in self._partition_days():
            with self._locked():
                recover(self.root)
                parts = list_parts(folder, day)
                if len(parts) < 2:
                    continue
                if progress is not None:
                    progress([p.path for p in parts])
                out.partitions += 1
                out.files_before += len(parts)
                out.bytes_before += sum(p.path.stat().st_size for p in parts)
                out.rows += sum(p.rows for p in parts)
                target = folder / part_name(day, 0)
                with Txn(self.root) as txn:
                    staged = txn.new_file()
                    merge_files([p.path for p in parts], cls, sum(p.rows for p in parts), staged)
                    txn.put(staged, target)
                    for p in parts:
                        if p.path != target:
                            txn.delete(p.path)
                    txn.commit()
                out.files_after += 1
                out.bytes_after += target.stat().st_size
        return out

    def _partition_days(self) -> Iterator[tuple[type[Record], Path, str]]:
        for name, cls in DATASETS.items():
            for folder in sorted((self.root / name).glob("*/*/*")):
                if folder.is_dir():
                    for day in days_in(folder):
                        yield cls, folder, day

    def partitions(self) -> list[list[Path]]:
        """The part files of every (day or month) partition, in path and sequence order."""
        return [
            [p.path for p in list_parts(folder, day)] for _, folder, day in self._partition_days()
        ]

    # -- reading -------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        """Names of datasets that hold at least one file."""
        return [
            cls.dataset
            for cls in MARKET_RECORDS
            if (self.root / cls.dataset).is_dir()
            and any((self.root / cls.dataset).rglob("*.parquet"))
        ]

    def connect(self, *, sandbox: bool = False) -> duckdb.DuckDBPyConnection:
        """Return an in-memory DuckDB connection with one view per stored dataset.

        With ``sandbox`` the views are fixed to the files present now and the connection
        can reach nothing else (:mod:`flushwatch.store.sandbox`): the one to hand untrusted
        SQL. Hold :meth:`_shared` while using it, so no merge removes a file under it.
        """
        if sandbox:
            views = {n: sorted((self.root / n).rglob("*.parquet")) for n in self.datasets()}
            if (self.root / INSTRUMENTS).exists():
                views["instruments"] = [self.root / INSTRUMENTS]
            return sandboxed(views)
        con = duckdb.connect()
        for name in self.datasets():
            glob = str(self.root / name / "**" / "*.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{glob}')")
        inst = self.root / INSTRUMENTS
        if inst.exists():
            quoted = str(inst).replace("'", "''")  # a store path may hold a quote: q'st
            con.execute(f"CREATE VIEW instruments AS SELECT * FROM read_parquet('{quoted}')")
        return con

    def series(self, *, asset: str | None = None) -> list[SeriesInfo]:
        """Every stored series (of ``asset``, when given) with its row count and time extent.

        Taken from the part files' footers (:mod:`flushwatch.store.footers`), not their rows.
        """
        want = asset.upper() if asset is not None else None
        out: list[SeriesInfo] = []
        with self._shared():
            for name in self.datasets():
                folders = self._folders.symbol_folders(self.root / name, (None, None, None), asset)
                acc: dict[tuple[str, str, str], list[int]] = {}
                for path in part_files(folders, None, None):
                    for e in self._footers.extents(path):
                        cur = acc.get((e.exchange, e.market, e.symbol))
                        if cur is None:
                            acc[(e.exchange, e.market, e.symbol)] = [e.rows, e.first_ts, e.last_ts]
                        else:
                            cur[0] += e.rows
                            cur[1] = min(cur[1], e.first_ts)
                            cur[2] = max(cur[2], e.last_ts)
                out.extend(
                    SeriesInfo(
                        dataset=name,
                        exchange=k[0],
                        market=k[1],
                        symbol=k[2],
                        rows=v[0],
                        first_ts=v[1],
                        last_ts=v[2],
                    )
                    for k, v in sorted(acc.items())
                    if v[0] and (want is None or base_asset(k[2]) == want)
                )
        return out

    def instruments(self) -> list[Instrument]:
        """Every known instrument."""
        path = self.root / INSTRUMENTS
        if not path.exists():
            return []
        return [msgspec.convert(row, Instrument) for row in read_file(path, Instrument).to_dicts()]

    def read(
        self,
        cls: type[Record],
        *,
        exchange: str | None = None,
        market: str | None = None,
        symbol: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        asset: str | None = None,
    ) -> pl.DataFrame:
        """Read one dataset, filtered by instrument and time, sorted by ``ts_event``.

        ``asset`` keeps the symbols whose :func:`~flushwatch.domain.symbols.base_asset` it
        is. Only the files of the matching instruments and days are opened
        (:mod:`flushwatch.store.select`), and the filters run inside DuckDB. Rows sharing a
        ``ts_event`` come in sequence-id order, then by their other key columns
        (:func:`~flushwatch.store.io.sort_columns`): the frame does not depend on how the
        rows are spread over part files.
        """
        with self._shared():
            return self._read(cls, (exchange, market, symbol), asset, (start_ns, end_ns))

    def _read(
        self,
        cls: type[Record],
        instrument: tuple[str | None, str | None, str | None],
        asset: str | None,
        span: tuple[int | None, int | None],
    ) -> pl.DataFrame:
        names = (
            _safe(instrument[0]) if instrument[0] else None,
            _safe(instrument[1]) if instrument[1] else None,
            _safe(instrument[2]) if instrument[2] else None,
        )
        folders = self._folders.symbol_folders(self.root / cls.dataset, names, asset)
        files = part_files(folders, *span)
        if not files:
            return pl.DataFrame(schema=schema_of(cls))
        where = []
        params: list[object] = []
        for col, val in zip(("exchange", "market", "symbol"), instrument, strict=True):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        for op, bound in zip((">=", "<"), span, strict=True):
            if bound is not None:
                where.append(f"ts_event {op} ?")
                params.append(bound)
        listed = ", ".join(sql_str(str(f)) for f in files)
        sql = f"SELECT * FROM read_parquet([{listed}])"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + ", ".join(f'"{c}" NULLS LAST' for c in sort_columns(cls))
        with self._cursor() as con:
            df: pl.DataFrame = con.sql(sql, params=params).pl()
        df = df.cast(dict(schema_of(cls)))  # type: ignore[arg-type]
        if asset is not None and df.height:
            want = asset.upper()
            mine = [s for s in df.get_column("symbol").unique().to_list() if base_asset(s) == want]
            df = df.filter(pl.col("symbol").is_in(mine))
        return df

    def _cursor(self) -> duckdb.DuckDBPyConnection:
        """A cursor of this store's in-memory DuckDB: a connection costs about 15 ms, a
        cursor microseconds, and a report reads twenty times."""
        with self._duck_lock:
            if self._duck is None or self._duck_pid != os.getpid():
                # a forked child never uses its parent's DuckDB (its threads did not fork)
                self._duck = duckdb.connect()
                self._duck_pid = os.getpid()
            return self._duck.cursor()

    def query(self, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
        """Run untrusted, read-only SQL against the dataset views; return names and rows.

        Only SELECT and EXPLAIN run, and nothing but the views is reachable: no file,
        network, ATTACH, COPY or extension (:mod:`flushwatch.store.sandbox`); a refusal is a
        :class:`StoreError` saying why.
        """
        with self._shared(), self.connect(sandbox=True) as con:
            check_read_only(con, sql)
            try:
                cur = con.execute(sql)
                names = [d[0] for d in cur.description or []]
                return names, cur.fetchall()
            except duckdb.Error as exc:
                raise refusal(exc) from exc


#: Values closer than this (relative) are the same value written twice (float noise: the
#: freqtrade CSV and JSON of the same candles differ in the last digit).
REL_TOL = 1e-9


class Conflict(msgspec.Struct, frozen=True, kw_only=True):
    """Rows of one input that repeat a natural key already held with other values."""

    source: int  # index of the input
    dataset: str
    rows: int
    line: int | None  # of the first such row in its file, when known
    field: str
    kept: object
    ignored: object


def _fresh_rows(
    parts: list[Part], cls: type[Record], items: list[tuple[int, type[Record], pl.DataFrame]]
) -> tuple[pl.DataFrame, dict[int, int], list[Conflict]]:
    """Rows of ``items`` that no part holds and no earlier item repeats; rows added per input.

    Rows are the same when equal on :func:`keys_of` (events), or on the record's
    ``natural`` key (one value per instrument and time: bars, funding, OI, ...): the first
    version wins (stored before incoming, earlier inputs and lines before later ones), and a
    later version whose values differ beyond :data:`REL_TOL` is reported as a
    :class:`Conflict` instead of being stored beside it.

    Only stored rows within the incoming ``ts_event`` range are read: a duplicate has the
    same ``ts_event`` (a key column), so no row outside the range can be one.
    """
    keys = keys_of(cls)
    incoming = pl.concat(
        [df.with_columns(pl.lit(i, pl.Int64).alias(_SRC)) for i, _, df in items], how="vertical"
    ).with_row_index(_ROW)
    ts = incoming.get_column("ts_event")
    lo, hi = ts.min(), ts.max()
    assert isinstance(lo, int)
    assert isinstance(hi, int)
    pad = key_pad_ns(cls)  # a stored version of a natural key may be stamped this far off
    stored = read_window(parts, cls, lo - pad, hi + pad).with_columns(
        pl.lit(-1, pl.Int64).alias(_SRC), pl.lit(None, incoming.schema[_ROW]).alias(_ROW)
    )
    both = pl.concat([stored, incoming.select([*keys, _SRC, _ROW])], how="vertical")
    both, natural = natural_key(cls, both)
    natural = natural or list(keys)
    first = both.unique(subset=natural, keep="first", maintain_order=True)
    kept = first.filter(pl.col(_SRC) >= 0)
    if cls.natural:
        conflicts = _conflicts(cls, natural_key(cls, incoming)[0], first, natural)
    else:
        conflicts = []
    counts = dict(kept.group_by(_SRC).len().iter_rows())
    fresh = incoming.select(pl.all().gather(kept.get_column(_ROW))).drop(_SRC, _ROW)
    fresh = fresh.drop(LINE, strict=False)
    return fresh, {int(k): int(v) for k, v in counts.items()}, conflicts


def _conflicts(
    cls: type[Record], incoming: pl.DataFrame, first: pl.DataFrame, natural: list[str]
) -> list[Conflict]:
    """Incoming rows that lost to an earlier version of their natural key with other values."""
    # the time a version was sent with is not a value: with the instant in the key, two
    # stamps of one settlement are one version
    values = [
        c for c in keys_of(cls) if c not in natural and not (c == "ts_event" and INSTANT in natural)
    ]
    kept_rows = first.get_column(_ROW).drop_nulls()
    lost = incoming.filter(~pl.col(_ROW).is_in(kept_rows.implode()))
    if lost.height == 0 or not values:
        return []
    winners = first.select([*natural, *(pl.col(c).alias(f"{c}__kept") for c in values)])
    joined = lost.join(winners, on=natural, how="inner", nulls_equal=True)
    differs = []
    for c in values:
        a, b = pl.col(c), pl.col(f"{c}__kept")
        if joined.schema[c].is_float():
            same = (a - b).abs() <= REL_TOL * pl.max_horizontal(a.abs(), b.abs())
            d = ~(same.fill_null(value=False) | (a.is_null() & b.is_null()))
        else:
            d = a.ne_missing(b)
        differs.append(d.alias(c))
    flags = joined.select(differs)
    any_diff = flags.select(pl.any_horizontal(pl.all())).to_series()
    out: list[Conflict] = []
    bad = joined.filter(any_diff)
    flags = flags.filter(any_diff)
    for (src,), group in bad.with_row_index("_i").group_by([_SRC], maintain_order=True):
        i = int(group.get_column("_i")[0])
        field = next(c for c in values if flags.get_column(c)[i])
        row = bad.row(i, named=True)
        out.append(
            Conflict(
                source=int(src),
                dataset=cls.dataset,
                rows=group.height,
                line=row.get(LINE),
                field=field,
                kept=row[f"{field}__kept"],
                ignored=row[field],
            )
        )
    return out


__all__ = ["DATASETS", "CompactSummary", "ImportSummary", "SeriesInfo", "Store"]
