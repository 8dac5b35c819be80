"""The recorder's storage side: record batches and recordings into the store (run in a thread).

Both paths end in :meth:`flushwatch.store.Store.write`, which is idempotent, so a batch that
overlaps an earlier one, a replayed frame after a restart or a recording imported after its
frames were stored live adds no duplicates.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from flushwatch.domain.tables import frames_by_type
from flushwatch.errors import FlushwatchError
from flushwatch.ingest.base import Hints, Parsed
from flushwatch.live.rotation import RECORDING
from flushwatch.venues.registry import exchange_of_prefix

if TYPE_CHECKING:
    from flushwatch.domain.records import Record
    from flushwatch.store import Store
    from flushwatch.venues.base import Decoder


class BatchLike(Protocol):
    """Records decoded live and the recordings their frames went to."""

    records: list[Record]
    files: set[Path]


def write_batch(
    store: Store, marker: Path, batch: BatchLike, decoders: Sequence[Decoder]
) -> tuple[int, str | None]:
    """Validate and write one batch; return (rows added, error message or None)."""
    from flushwatch.ingest.validate import validate

    # The store's ledger names a file per write: a small description of the batch.
    first = min((r.ts_event for r in batch.records), default=0)
    last = max((r.ts_event for r in batch.records), default=0)
    info = {"records": len(batch.records), "first_ts": first, "last_ts": last}
    info["files"] = sorted(p.name for p in batch.files)  # type: ignore[assignment]
    marker.write_text(json.dumps(info) + "\n", encoding="utf-8")
    parsed = Parsed(path=marker, format="live")
    try:
        for cls, df in frames_by_type(batch.records).items():
            validate(cls, df, marker)
            parsed.add(cls, df)
    except FlushwatchError as exc:
        return 0, f"batch of {len(batch.records)} records refused: {exc}"
    for decoder in decoders:
        for inst in decoder.instruments:
            parsed.add_instrument(inst)
    summaries = store.write([parsed])
    return sum(s.added for s in summaries), None


#: Store rows per piece when the catch-up streams a recording (RecorderConfig.catchup_rows).
CATCHUP_ROWS = 200_000


def import_files(
    store: Store, paths: Sequence[Path], chunk_rows: int = CATCHUP_ROWS
) -> tuple[int, list[str]]:
    """Import recordings the store has not seen whole (catch-up); return (rows added, errors).

    The recorder's own websocket recordings are streamed in pieces of about ``chunk_rows``
    store rows, each validated and written on its own (issue 14: a whole rotated file in
    memory grew the recorder with the rotation size). A piece written before a crash is
    written again by the next catch-up and adds nothing: the store is idempotent.
    """
    from flushwatch.ingest.registry import parse

    added = 0
    errors: list[str] = []
    for path in paths:
        if not path.exists() or path.name.endswith(".txt"):
            continue
        exchange = exchange_of_prefix(path.name.split("_", 1)[0])
        try:
            if RECORDING.match(path.name) and ".lines" in path.name:
                added += _stream_into(store, path, Hints(exchange=exchange), chunk_rows)
                continue
            parsed = parse(path, hints=Hints(exchange=exchange))
        except FlushwatchError as exc:
            errors.append(f"catch-up of {path.name} failed: {exc}")
            continue
        added += sum(s.added for s in store.write([parsed]))
    return added, errors


def _stream_into(store: Store, path: Path, hints: Hints, chunk_rows: int) -> int:
    from flushwatch.ingest.recordings import ws_lines_chunks
    from flushwatch.ingest.validate import validate

    added = 0
    for piece in ws_lines_chunks(path, hints, chunk_rows):
        for cls, df in piece.frames.items():
            validate(cls, df, path)
        added += sum(s.added for s in store.write([piece]))
    return added
