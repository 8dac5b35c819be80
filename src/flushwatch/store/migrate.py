"""Rewrite a version-1 store in the version-2 layout, all or nothing (``flushwatch migrate``).

Version 1 kept one file per UTC day for every dataset; version 2 keeps one per UTC month for
the hourly-and-slower datasets (:data:`~flushwatch.store.schema.MONTHLY`). The migration
merges each month's day parts of those datasets into ``<YYYY-MM>.parquet`` and bumps the
marker, as one :class:`~flushwatch.store.txn.Txn` under the store's exclusive lock: every
merged file is staged and its row count checked against its inputs before anything is
replaced, and any failure (or a kill, undone by the next open) leaves the store exactly as
it was. Row counts per dataset are compared once more after the commit.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import msgspec
import pyarrow.parquet as pq

from flushwatch.domain.tables import DATASETS
from flushwatch.errors import StoreError, StoreVersionError
from flushwatch.store.io import merge_files
from flushwatch.store.parts import parse_name, part_name
from flushwatch.store.schema import MONTHLY, SCHEMA_VERSION
from flushwatch.store.store import MARKER, Store
from flushwatch.store.txn import Txn, recover


class MigrateSummary(msgspec.Struct, kw_only=True):
    """What :func:`migrate` did (``already``: the store had this version's layout)."""

    store: str
    from_version: int
    to_version: int
    already: bool = False
    partitions: int = 0
    files_before: int = 0
    files_after: int = 0
    rows: dict[str, int] = msgspec.field(default_factory=dict)


def store_version(root: Path) -> int:
    """The schema version in a store's marker (a clear StoreError when there is none)."""
    marker = root / MARKER
    if not marker.exists():
        raise StoreError(f"no flushwatch store at {root} (no {MARKER})")
    try:
        return int(json.loads(marker.read_text(encoding="utf-8"))["schema_version"])
    except (ValueError, KeyError, TypeError) as exc:
        raise StoreError(f"{marker} is not a flushwatch store marker: {exc}") from exc


def _files(root: Path) -> dict[str, list[Path]]:
    """Every part file of every dataset."""
    out: dict[str, list[Path]] = {}
    for name in DATASETS:
        base = root / name
        if base.is_dir():
            out[name] = sorted(
                p
                for p in base.glob("*/*/*/*.parquet")
                if parse_name(p.name) is not None and p.is_file()
            )
    return out


def _rows(files: dict[str, list[Path]]) -> dict[str, int]:
    return {name: sum(pq.read_metadata(p).num_rows for p in paths) for name, paths in files.items()}


def _months(paths: list[Path]) -> dict[tuple[Path, str], list[Path]]:
    """Day parts grouped by folder and UTC month."""
    groups: dict[tuple[Path, str], list[Path]] = {}
    for p in paths:
        parsed = parse_name(p.name)
        if parsed is not None and len(parsed[0]) == 10:
            groups.setdefault((p.parent, parsed[0][:7]), []).append(p)
    return groups


def migrate(root: Path, progress: Callable[[int, int], object] | None = None) -> MigrateSummary:
    """Rewrite the store at ``root`` in the current layout; return what changed.

    ``progress(done, total)`` is called after each month partition is staged.
    """
    version = store_version(root)
    summary = MigrateSummary(store=str(root), from_version=version, to_version=SCHEMA_VERSION)
    if version == SCHEMA_VERSION:
        summary.already = True
        return summary
    if version != 1:
        raise StoreVersionError(
            f"the store at {root} has schema version {version}; this flushwatch migrates "
            f"version 1 to {SCHEMA_VERSION} only"
        )
    store = Store(root)
    with store._locked():  # the store's own lock, taken inside its own package
        recover(root)
        files = _files(root)
        before = _rows(files)
        summary.files_before = sum(len(v) for v in files.values())
        groups = {
            (name, folder, month): paths
            for name in sorted(MONTHLY & files.keys())
            for (folder, month), paths in _months(files[name]).items()
        }
        with Txn(root) as txn:
            for done, ((name, folder, month), paths) in enumerate(sorted(groups.items()), 1):
                rows = sum(pq.read_metadata(p).num_rows for p in paths)
                staged = txn.new_file()
                try:
                    merge_files(paths, DATASETS[name], rows, staged)
                except (OSError, ValueError) as exc:
                    raise StoreError(
                        f"migration stopped, nothing changed: {folder / month} could not be "
                        f"merged ({exc}); repair or remove its day files and run it again"
                    ) from exc
                if pq.read_metadata(staged).num_rows != rows:
                    raise StoreError(
                        f"migration stopped, nothing changed: {folder / month} merged to "
                        f"{pq.read_metadata(staged).num_rows} rows from {rows}"
                    )
                txn.put(staged, folder / part_name(month, 0))
                for p in paths:
                    txn.delete(p)
                if progress is not None:
                    progress(done, len(groups))
            marker = txn.staging / "marker.json"
            meta = {"schema_version": SCHEMA_VERSION, "kind": "flushwatch-store"}
            marker.write_text(json.dumps(meta) + "\n", encoding="utf-8")
            txn.put(marker, root / MARKER)
            txn.commit()
        after_files = _files(root)
        after = _rows(after_files)
    if after != before:
        raise StoreError(f"the store at {root} holds {after} rows after migrating, {before} before")
    summary.partitions = len(groups)
    summary.files_after = sum(len(v) for v in after_files.values())
    summary.rows = after
    return summary
