"""What a part file holds, from its Parquet footer: rows and ``ts_event`` extent per instrument.

:meth:`Store.series` used to scan every row of every dataset (``count(*)``, ``min``, ``max``
grouped by instrument): about 18 s on the 40-perp freqtrade universe, paid before every
report. A part's footer already says it: its row count, and per row group the min and max of
every column. A part holds one instrument (its folder), so when ``exchange``, ``market`` and
``symbol`` each have min = max the footer is the whole answer; otherwise (no statistics, or
two symbols that share a folder name) the file's few key columns are read and grouped.

Parts are immutable (a change replaces the file), so a summary is cached per path and
reused while the file's inode, size and modification time are unchanged.
"""

from __future__ import annotations

from pathlib import Path

import msgspec
import polars as pl
import pyarrow.parquet as pq

from flushwatch.errors import StoreError

_KEYS = ("exchange", "market", "symbol")


class Extent(msgspec.Struct, frozen=True):
    """One instrument's rows in one file: count and first/last ``ts_event``."""

    exchange: str
    market: str
    symbol: str
    rows: int
    first_ts: int
    last_ts: int


def _from_stats(meta: pq.FileMetaData) -> list[Extent] | None:
    if meta.num_rows == 0:
        return []
    names = meta.schema.to_arrow_schema().names
    idx = {c: names.index(c) for c in (*_KEYS, "ts_event") if c in names}
    if len(idx) != len(_KEYS) + 1:
        return None
    keys: dict[str, object] = {}
    lo: int | None = None
    hi: int | None = None
    for g in range(meta.num_row_groups):
        group = meta.row_group(g)
        if group.num_rows == 0:
            continue
        for c in _KEYS:
            st = group.column(idx[c]).statistics
            if st is None or not st.has_min_max or st.null_count or st.min != st.max:
                return None
            if not (
                getattr(st, "is_min_value_exact", True) and getattr(st, "is_max_value_exact", True)
            ):
                return None  # a truncated string statistic is not the symbol
            if keys.setdefault(c, st.min) != st.min:
                return None
        st = group.column(idx["ts_event"]).statistics
        if st is None or not st.has_min_max or st.null_count:
            return None
        lo = int(st.min) if lo is None else min(lo, int(st.min))
        hi = int(st.max) if hi is None else max(hi, int(st.max))
    if lo is None or hi is None:
        return []
    ex, mk, sym = (str(keys[c]) for c in _KEYS)
    return [Extent(ex, mk, sym, int(meta.num_rows), lo, hi)]


def _from_rows(path: Path) -> list[Extent]:
    df = pl.from_arrow(pq.read_table(path, columns=[*_KEYS, "ts_event"]))
    assert isinstance(df, pl.DataFrame)
    agg = df.group_by(list(_KEYS)).agg(
        pl.len().alias("rows"),
        pl.col("ts_event").min().alias("lo"),
        pl.col("ts_event").max().alias("hi"),
    )
    return [
        Extent(str(r[0]), str(r[1]), str(r[2]), int(r[3]), int(r[4]), int(r[5])) for r in agg.rows()
    ]


class FooterCache:
    """Per-file extents, re-read only for files that changed since the last call."""

    def __init__(self) -> None:
        self._seen: dict[str, tuple[tuple[int, int, int], list[Extent]]] = {}

    def extents(self, path: Path) -> list[Extent]:
        """The instruments in one part file, with rows and ``ts_event`` extent."""
        st = path.stat()
        stamp = (st.st_ino, st.st_size, st.st_mtime_ns)
        hit = self._seen.get(str(path))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        try:
            found = _from_stats(pq.read_metadata(path))
            if found is None:
                found = _from_rows(path)
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path}: not a readable Parquet part file ({exc})") from exc
        self._seen[str(path)] = (stamp, found)
        return found
