"""Copies of real data files cut at a time, as a download made at that time would be.

Point-in-time tests compare two stores of the same files, one whole and one cut at ``T``
(every row stamped after ``T`` dropped, so an hour that started before ``T`` is kept): any
answer "as of T" must be identical. Used by the tests and the benchmarks alike.
"""

from __future__ import annotations

import csv
import shutil
from collections.abc import Callable, Sequence
from pathlib import Path

#: One file to copy: (folder under the shared data, file inside it, its time column).
FileSpec = tuple[str, str, str]
#: The tests' ``cut_import(base, files, cut_ms, keep_from_ms=None)`` fixture: copies the files
#: cut at ``cut_ms`` and imports them through the CLI; returns the store folder.
CutImport = Callable[..., Path]


def copy_cut(
    shared: Path,
    out: Path,
    files: Sequence[FileSpec],
    cut_ms: int | None,
    *,
    keep_from_ms: int | None = None,
) -> None:
    """Copy ``files`` (and their metadata sidecars) into ``out``, keeping rows ≤ ``cut_ms``.

    CSV time columns are epoch milliseconds; Feather files are cut on their datetime column
    and, to stay small, also trimmed to rows at or after ``keep_from_ms``.
    """
    import polars as pl

    for folder, name, col in files:
        src, dst = shared / folder / name, out / folder / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        for side in src.parent.iterdir():
            if side.suffix in (".json", ".md") and not (dst.parent / side.name).exists():
                shutil.copy(side, dst.parent / side.name)  # metadata the importers read
        if src.suffix == ".feather":
            df = pl.read_ipc(src)
            ms = pl.col(col).dt.epoch("ms")
            lo = keep_from_ms if keep_from_ms is not None else -(2**62)
            keep = (ms >= lo) & (ms <= (cut_ms if cut_ms is not None else 2**62))
            df.filter(keep).write_ipc(dst)
            continue
        if cut_ms is None:
            shutil.copy(src, dst)
            continue
        with src.open(newline="") as fh, dst.open("w", newline="") as out_fh:
            reader = csv.reader(fh)
            writer = csv.writer(out_fh, lineterminator="\n")
            header = next(reader)
            writer.writerow(header)
            i = header.index(col)
            writer.writerows(r for r in reader if int(r[i]) <= cut_ms)
