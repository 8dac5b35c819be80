"""Import one large Binance Vision trades/aggTrades file in bounded memory.

``flushwatch import`` parses every file whole and writes them in one atomic step, which for a
month of aggTrades (tens of millions of rows) holds every row at once. Here the file is read
in pieces of about ``chunk_bytes`` (:func:`flushwatch.ingest.stream_trades.trade_chunks`):

1. every piece is parsed and validated, then spilled to a temporary Arrow IPC file (lz4) and
   dropped, so a bad value anywhere stops the import before anything is written (the store is
   left as it was, as with ``import``) and the file is parsed once;
2. every spilled piece is read back and written as its own atomic, idempotent store write.

Each write is atomic, not the whole file: a crash in step 2 leaves the pieces written so far,
and running the import again adds exactly the rest (rows already stored are not added twice).
Memory is bounded by a piece; the spill needs about 60 bytes a row of temporary disk.

:func:`import_trades_bulk` is the fast path ``flushwatch import`` takes for large trades and
aggTrades files: DuckDB reads, checks and writes the file in one atomic store write
(:mod:`flushwatch.store.bulk`), about 5x less CPU than the pieces above. Files it cannot
take (COIN-M sizes in contracts) fall back to :func:`import_trades_streaming`.
"""

from __future__ import annotations

import shutil
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import msgspec
import polars as pl

from flushwatch.domain.records import Trade
from flushwatch.errors import InputError
from flushwatch.ingest.base import Hints, Parsed
from flushwatch.ingest.files import verify_checksum
from flushwatch.ingest.stream_trades import CHUNK_BYTES, streamable, trade_chunks, trade_csv
from flushwatch.store import Store
from flushwatch.store.bulk import bulk_write
from flushwatch.store.store import ImportSummary

__all__ = [
    "BULK_FORMATS",
    "BULK_MIN_BYTES",
    "import_trades_bulk",
    "import_trades_streaming",
    "streamable",
]

#: ``flushwatch import`` takes the bulk path for trades/aggTrades files at least this large
#: (smaller ones are parsed whole with the other files and written in the same step).
BULK_MIN_BYTES = 32 << 20
#: The formats the bulk path reads.
BULK_FORMATS = frozenset({"binance-vision-agg-trades", "binance-vision-trades"})


def import_trades_bulk(
    store: Store,
    path: Path,
    hints: Hints | None = None,
    progress: Callable[[float], object] | None = None,
    *,
    spill_dir: Path | None = None,
) -> ImportSummary:
    """Import one trades/aggTrades file in one atomic, idempotent write (DuckDB does the work).

    ``progress`` gets the fraction done (0..1). A ``.zip`` is checked against its
    ``.CHECKSUM`` and its member extracted to a temporary file first; ``.gz`` is read as is.
    """
    spec = trade_csv(path, hints)
    if spec is None:
        return import_trades_streaming(store, path, hints, spill_dir=spill_dir)
    if not path.name.lower().endswith(".zip"):
        return bulk_write(store, spec, progress)
    verify_checksum(path)
    with tempfile.TemporaryDirectory(prefix="flushwatch-unzip-", dir=spill_dir) as tmp:
        with zipfile.ZipFile(path) as zf:
            members = [m for m in zf.namelist() if not m.endswith("/")]
            if len(members) != 1:
                raise InputError(
                    f"expected one file inside the zip, found {len(members)}", path=path
                )
            csv = Path(tmp) / "member.csv"
            with zf.open(members[0]) as src, csv.open("wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        spec = msgspec.structs.replace(spec, csv=csv)
        return bulk_write(store, spec, progress)


def import_trades_streaming(
    store: Store,
    path: Path,
    hints: Hints | None = None,
    *,
    chunk_bytes: int = CHUNK_BYTES,
    spill_dir: Path | None = None,
) -> ImportSummary:
    """Validate the whole file (spilling it in pieces), then write it piece by piece."""
    with tempfile.TemporaryDirectory(prefix="flushwatch-spill-", dir=spill_dir) as tmp:
        spilled: list[tuple[Path, Parsed]] = []
        for i, piece in enumerate(trade_chunks(path, hints, chunk_bytes=chunk_bytes)):
            target = Path(tmp) / f"{i:06d}.arrow"
            piece.frames[Trade].write_ipc(target, compression="lz4")
            piece.frames.clear()
            spilled.append((target, piece))
        read: dict[str, int] = {}
        added: dict[str, int] = {}
        notes: list[str] = []
        first: ImportSummary | None = None
        for target, piece in spilled:
            piece.frames[Trade] = pl.read_ipc(target)
            (summary,) = store.write([piece])
            piece.frames.clear()
            target.unlink()
            first = first or summary
            for name, n in summary.rows_read.items():
                read[name] = read.get(name, 0) + n
            for name, n in summary.rows_added.items():
                added[name] = added.get(name, 0) + n
            notes += [n for n in summary.notes if n not in notes]
    if first is None:
        return ImportSummary(
            path=str(path),
            format="binance-vision-trades",
            sha256="",
            rows_read={},
            rows_added={},
            seen_before=False,
            notes=["empty file: no trades"],
        )
    return ImportSummary(
        path=first.path,
        format=first.format,
        sha256=first.sha256,
        rows_read=read,
        rows_added=added,
        seen_before=first.seen_before,
        notes=notes,
    )
