"""The embedded store: one Parquet file per dataset / exchange / market / symbol / UTC day.

Layout (plain files, queryable by any DuckDB with ``read_parquet('<root>/trades/**/*.parquet')``)::

    <root>/flushwatch-store.json            schema version marker
    <root>/<dataset>/<exchange>/<market>/<symbol>/<YYYY-MM-DD>.parquet
    <root>/instruments.parquet              instrument identity and contract terms
    <root>/imports.jsonl                    ledger: one line per imported file (sha256, rows)

Writes are idempotent (rows equal on every field but ``ts_recv`` are one row) and atomic: all
new partition files are written to a staging folder first, then swapped in with
``os.replace`` under an exclusive lock; an exception during the swap restores the previous
files. Nothing is written when any input failed to parse.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import re
import shutil
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path

import duckdb
import msgspec
import polars as pl
import pyarrow.parquet as pq

from flushwatch.domain.records import MARKET_RECORDS, Instrument, Record
from flushwatch.domain.tables import DATASETS, LINE, frame_from_records, key_columns, schema
from flushwatch.errors import StoreError, StoreVersionError
from flushwatch.ingest.base import Parsed
from flushwatch.store.schema import SCHEMA_VERSION, SCHEMAS

MARKER = "flushwatch-store.json"
LEDGER = "imports.jsonl"
INSTRUMENTS = "instruments.parquet"
_SAFE = re.compile(r"[^A-Za-z0-9._-]")


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


class SeriesInfo(msgspec.Struct, kw_only=True):
    """One stored series: a dataset for one instrument, with its extent."""

    dataset: str
    exchange: str
    market: str
    symbol: str
    rows: int
    first_ts: int
    last_ts: int


def _safe(part: str) -> str:
    return _SAFE.sub("_", part) or "_"


def file_sha256(path: Path) -> str:
    """SHA-256 of a file's bytes (the ledger key for "already imported")."""
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


class Store:
    """A flushwatch store rooted at a directory."""

    def __init__(self, root: Path) -> None:
        self.root = root

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
        return cls(root)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        with (self.root / ".lock").open("a") as fh:
            fcntl.flock(fh, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)

    # -- paths ---------------------------------------------------------------------------
    def partition_path(
        self, dataset: str, exchange: str, market: str, symbol: str, day: str
    ) -> Path:
        """Return the Parquet file of one partition."""
        return (
            self.root / dataset / _safe(exchange) / _safe(market) / _safe(symbol) / f"{day}.parquet"
        )

    # -- writing -------------------------------------------------------------------------
    def write(self, parsed: Sequence[Parsed]) -> list[ImportSummary]:
        """Add every parsed file to the store atomically and return what each one added."""
        with self._locked():
            ledger = self._ledger_hashes()
            shas = [file_sha256(p.path) for p in parsed]
            added: list[dict[str, int]] = [{} for _ in parsed]
            new_files: dict[Path, pl.DataFrame] = {}
            chunks: dict[Path, list[tuple[int, type[Record], pl.DataFrame]]] = {}
            for i, p in enumerate(parsed):
                for cls, df in p.frames.items():
                    for target, part in self._partitions(cls, df):
                        chunks.setdefault(target, []).append((i, cls, part))
            for target, items in chunks.items():
                cls = items[0][1]
                keys = key_columns(cls)
                cur = (
                    self._read_file(target, cls)
                    if target.exists()
                    else pl.DataFrame(schema=schema(cls))
                )
                before = cur.height
                for i, _, part in items:
                    merged = pl.concat([cur, part], how="vertical").unique(
                        subset=keys, keep="first", maintain_order=True
                    )
                    added[i][cls.dataset] = (
                        added[i].get(cls.dataset, 0) + merged.height - cur.height
                    )
                    cur = merged
                if cur.height != before:
                    new_files[target] = cur.sort("ts_event", maintain_order=True)
            inst_frame = self._merged_instruments([inst for p in parsed for inst in p.instruments])
            if inst_frame is not None:
                new_files[self.root / INSTRUMENTS] = inst_frame
            summaries = [
                ImportSummary(
                    path=str(p.path),
                    format=p.format,
                    sha256=sha,
                    rows_read={cls.dataset: df.height for cls, df in p.frames.items()},
                    rows_added=dict(added[i]),
                    seen_before=sha in ledger,
                    notes=list(p.notes),
                )
                for i, (p, sha) in enumerate(zip(parsed, shas, strict=True))
            ]
            self._commit(new_files, summaries)
            return summaries

    def _partitions(
        self, cls: type[Record], df: pl.DataFrame
    ) -> Iterator[tuple[Path, pl.DataFrame]]:
        df = df.drop(LINE, strict=False).with_columns(
            pl.from_epoch(pl.col("ts_event"), time_unit="ns").dt.strftime("%Y-%m-%d").alias("_day")
        )
        for (exchange, market, symbol, day), part in df.group_by(
            ["exchange", "market", "symbol", "_day"], maintain_order=True
        ):
            target = self.partition_path(
                cls.dataset, str(exchange), str(market), str(symbol), str(day)
            )
            yield target, part.drop("_day")

    def _read_file(self, path: Path, cls: type[Record] | type[Instrument]) -> pl.DataFrame:
        table = pq.read_table(path, schema=SCHEMAS[cls.dataset])
        df = pl.from_arrow(table)
        assert isinstance(df, pl.DataFrame)
        return df.cast(dict(schema(cls)))  # type: ignore[arg-type]

    def _merged_instruments(self, new: list[Instrument]) -> pl.DataFrame | None:
        if not new:
            return None
        path = self.root / INSTRUMENTS
        cur = (
            self._read_file(path, Instrument)
            if path.exists()
            else pl.DataFrame(schema=schema(Instrument))
        )
        incoming = frame_from_records(Instrument, new)
        merged = (
            pl.concat([incoming, cur], how="vertical")
            .unique(subset=["exchange", "market", "symbol"], keep="first", maintain_order=True)
            .sort(["exchange", "market", "symbol"])
        )
        return None if merged.equals(cur) else merged

    def _commit(self, new_files: dict[Path, pl.DataFrame], summaries: list[ImportSummary]) -> None:
        staging = self.root / f".staging-{uuid.uuid4().hex}"
        staging.mkdir()
        replaced: list[tuple[Path, Path | None]] = []
        try:
            staged: list[tuple[Path, Path]] = []
            for n, (target, df) in enumerate(new_files.items()):
                tmp = staging / f"{n}.parquet"
                dataset = target.parts[len(self.root.parts)]
                name = dataset if dataset != INSTRUMENTS else Instrument.dataset
                table = df.to_arrow().cast(SCHEMAS[name])
                pq.write_table(table, tmp, compression="zstd")
                staged.append((tmp, target))
            ledger_tmp = staging / LEDGER
            old_ledger = self.root / LEDGER
            text = old_ledger.read_text(encoding="utf-8") if old_ledger.exists() else ""
            # A file seen before that added nothing leaves no trace: re-imports are byte-neutral.
            fresh = [s for s in summaries if not (s.seen_before and s.added == 0)]
            if fresh:
                text += "".join(json.dumps(msgspec.to_builtins(s)) + "\n" for s in fresh)
                ledger_tmp.write_text(text, encoding="utf-8")
                staged.append((ledger_tmp, old_ledger))
            for tmp, target in staged:
                backup: Path | None = None
                if target.exists():
                    backup = staging / f"backup-{len(replaced)}"
                    os.link(target, backup)
                target.parent.mkdir(parents=True, exist_ok=True)
                tmp.replace(target)
                replaced.append((target, backup))
        except BaseException:
            for target, backup in reversed(replaced):
                if backup is not None:
                    backup.replace(target)
                else:
                    target.unlink(missing_ok=True)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)
            self._prune_empty_dirs(new_files)

    def _prune_empty_dirs(self, files: dict[Path, pl.DataFrame]) -> None:
        for target in files:
            for parent in target.parents:
                if parent == self.root:
                    break
                with contextlib.suppress(OSError):
                    parent.rmdir()  # only succeeds when a rolled-back write left it empty

    def _ledger_hashes(self) -> set[str]:
        path = self.root / LEDGER
        if not path.exists():
            return set()
        return {
            json.loads(line)["sha256"]
            for line in path.read_text(encoding="utf-8").splitlines()
            if line
        }

    # -- reading -------------------------------------------------------------------------
    def datasets(self) -> list[str]:
        """Names of datasets that hold at least one file."""
        return [
            cls.dataset
            for cls in MARKET_RECORDS
            if (self.root / cls.dataset).is_dir()
            and any((self.root / cls.dataset).rglob("*.parquet"))
        ]

    def connect(self) -> duckdb.DuckDBPyConnection:
        """Return an in-memory DuckDB connection with one view per stored dataset."""
        con = duckdb.connect()
        for name in self.datasets():
            glob = str(self.root / name / "**" / "*.parquet").replace("'", "''")
            con.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{glob}')")
        inst = self.root / INSTRUMENTS
        if inst.exists():
            con.execute(f"CREATE VIEW instruments AS SELECT * FROM read_parquet('{inst}')")
        return con

    def series(self) -> list[SeriesInfo]:
        """Every stored series with its row count and time extent."""
        out: list[SeriesInfo] = []
        with self.connect() as con:
            for name in self.datasets():
                rows = con.execute(
                    f"SELECT exchange, market, symbol, count(*), min(ts_event), max(ts_event) "
                    f"FROM {name} GROUP BY ALL ORDER BY ALL"
                ).fetchall()
                out.extend(
                    SeriesInfo(
                        dataset=name,
                        exchange=r[0],
                        market=r[1],
                        symbol=r[2],
                        rows=r[3],
                        first_ts=r[4],
                        last_ts=r[5],
                    )
                    for r in rows
                )
        return out

    def instruments(self) -> list[Instrument]:
        """Every known instrument."""
        path = self.root / INSTRUMENTS
        if not path.exists():
            return []
        return [
            msgspec.convert(row, Instrument) for row in self._read_file(path, Instrument).to_dicts()
        ]

    def read(
        self,
        cls: type[Record],
        *,
        exchange: str | None = None,
        market: str | None = None,
        symbol: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
    ) -> pl.DataFrame:
        """Read one dataset as a frame sorted by ``ts_event``, filtered by instrument and time."""
        base = self.root / cls.dataset
        parts = [_safe(v) if v else "*" for v in (exchange, market, symbol)]
        pattern = base.joinpath(*parts, "*.parquet")
        if not base.is_dir() or not any(base.glob("/".join([*parts, "*.parquet"]))):
            return pl.DataFrame(schema=schema(cls))
        where = []
        params: list[object] = []
        for col, val in (("exchange", exchange), ("market", market), ("symbol", symbol)):
            if val is not None:
                where.append(f"{col} = ?")
                params.append(val)
        if start_ns is not None:
            where.append("ts_event >= ?")
            params.append(start_ns)
        if end_ns is not None:
            where.append("ts_event < ?")
            params.append(end_ns)
        sql = f"SELECT * FROM read_parquet('{str(pattern).replace(chr(39), chr(39) * 2)}')"
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY ts_event"
        with duckdb.connect() as con:
            df: pl.DataFrame = con.sql(sql, params=params).pl()
        return df.cast(dict(schema(cls)))  # type: ignore[arg-type]

    def query(self, sql: str) -> tuple[list[str], list[tuple[object, ...]]]:
        """Run read-only SQL against the dataset views; return column names and rows."""
        with self.connect() as con:
            try:
                cur = con.execute(sql)
            except duckdb.Error as exc:
                raise StoreError(f"query failed: {exc}") from exc
            names = [d[0] for d in cur.description or []]
            return names, cur.fetchall()


__all__ = ["DATASETS", "ImportSummary", "SeriesInfo", "Store"]
