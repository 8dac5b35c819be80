"""Which part files a read needs: instrument and time filters applied to the path layout.

A read used to hand DuckDB ``<dataset>/*/*/*/*.parquet``: every instrument's every day file
was opened (about 0.16 ms each) and the rows of other instruments were thrown away in
Python, so one asset's report slowed with everything else in the store (1.75 s with one
instrument, 15.6 s with sixteen). Here the folders are chosen from the filters and the
files from their names (a part's name says the UTC day or month it holds), so a read opens only the
files that can hold an answer, and costs a directory listing per level for the rest.

Folder names are :func:`~flushwatch.store.store._safe` renderings of exchange, market and
symbol; an ``asset`` filter compares :func:`~flushwatch.domain.symbols.base_asset` of the
folder name, which equals that of the symbol it came from whenever the asset is made of
letters, digits and dots (see :func:`asset_folder_test`); other assets keep every folder and
rely on the exact filter after the read.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path

from flushwatch.domain.symbols import base_asset
from flushwatch.store.parts import parse_name

_DAY_NS = 86_400 * 10**9
_EPOCH_ORD = date(1970, 1, 1).toordinal()
_PLAIN_ASSET = re.compile(r"^[A-Z0-9.]+$")


def subdirs(
    folder: Path, name: str | None, keep: Callable[[str], bool] | None = None
) -> list[Path]:
    """Sub-folders of ``folder``: the one called ``name``, or all of them when None (those
    whose name passes ``keep``; names are tested before any path is built: a store of a
    thousand symbols lists a thousand names per read)."""
    if name is not None:
        one = folder / name
        return [one] if (keep is None or keep(name)) and one.is_dir() else []
    try:
        with os.scandir(folder) as it:
            names = [
                e.name
                for e in it
                if not e.name.startswith(".") and (keep is None or keep(e.name)) and e.is_dir()
            ]
    except (FileNotFoundError, NotADirectoryError):
        return []
    return [folder / n for n in sorted(names)]


def asset_folder_test(asset: str) -> Callable[[str], bool]:
    """A test on a symbol folder's name: may it hold a symbol of ``asset``?

    Exact (never drops a folder that holds the asset) because the store's folder name only
    replaces characters outside ``[A-Za-z0-9._-]`` by ``_``: a symbol whose base asset is
    made of ``[A-Z0-9.]`` has no such character before its first separator (``-_/:``), so
    its folder name has the same head and the same base asset. For any other asset name,
    every folder may hold it.
    """
    want = asset.upper()
    if not _PLAIN_ASSET.match(want):
        return lambda _name: True
    return lambda name: base_asset(name) == want


def symbol_folders(
    base: Path,
    names: tuple[str | None, str | None, str | None],
    asset: str | None,
) -> list[Path]:
    """The ``<exchange>/<market>/<symbol>`` folders under ``base`` the filters allow.

    ``names`` are the folder names of exchange, market and symbol (None: any).
    """
    return FolderCache().symbol_folders(base, names, asset)


class FolderCache:
    """:func:`symbol_folders` with each market folder's filtered listing kept while the
    folder is unchanged (same inode, link count and modification time: a new symbol folder
    changes the count), so the twenty reads of one report list a thousand symbols once."""

    def __init__(self) -> None:
        self._seen: dict[tuple[Path, str | None], tuple[tuple[int, int, int], list[Path]]] = {}

    def symbol_folders(
        self,
        base: Path,
        names: tuple[str | None, str | None, str | None],
        asset: str | None,
    ) -> list[Path]:
        """See :func:`symbol_folders`."""
        exchange, market, symbol = names
        keep = asset_folder_test(asset) if asset is not None else None
        out: list[Path] = []
        for ex in subdirs(base, exchange):
            for mk in subdirs(ex, market):
                if symbol is not None:
                    out.extend(subdirs(mk, symbol, keep))
                else:
                    out.extend(self._listing(mk, asset, keep))
        return out

    def _listing(
        self, folder: Path, asset: str | None, keep: Callable[[str], bool] | None
    ) -> list[Path]:
        try:
            st = folder.stat()
        except OSError:
            return []
        stamp = (st.st_ino, st.st_nlink, st.st_mtime_ns)
        hit = self._seen.get((folder, asset))
        if hit is not None and hit[0] == stamp:
            return hit[1]
        found = subdirs(folder, None, keep)
        self._seen[(folder, asset)] = (stamp, found)
        return found


def key_span(key: str) -> tuple[int, int]:
    """``[start, end)`` in ns of a partition key: UTC day ``YYYY-MM-DD`` or month ``YYYY-MM``."""
    if len(key) == 7:
        year, month = int(key[:4]), int(key[5:])
        first = date(year, month, 1)
        after = date(year + month // 12, month % 12 + 1, 1)
        return _ns(first), _ns(after)
    start = _ns(date.fromisoformat(key))
    return start, start + _DAY_NS


def _ns(day: date) -> int:
    return (day.toordinal() - _EPOCH_ORD) * _DAY_NS


def part_files(folders: Iterable[Path], start_ns: int | None, end_ns: int | None) -> list[Path]:
    """Part files in ``folders`` whose day or month overlaps ``[start_ns, end_ns)``, in order."""
    out: list[Path] = []
    for folder in folders:
        try:
            with os.scandir(folder) as it:
                names = [e.name for e in it if e.is_file()]
        except (FileNotFoundError, NotADirectoryError):
            continue
        for name in sorted(names):
            parsed = parse_name(name)
            if parsed is None:
                continue
            lo, hi = key_span(parsed[0])
            if (start_ns is None or hi > start_ns) and (end_ns is None or lo < end_ns):
                out.append(folder / name)
    return out
