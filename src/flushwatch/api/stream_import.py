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
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import polars as pl

from flushwatch.domain.records import Trade
from flushwatch.ingest.base import Hints, Parsed
from flushwatch.ingest.stream_trades import CHUNK_BYTES, streamable, trade_chunks
from flushwatch.store import Store
from flushwatch.store.store import ImportSummary

__all__ = ["import_trades_streaming", "streamable"]


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
