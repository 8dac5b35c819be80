"""Read a ``ws-lines`` recording (hftbacktest's ``<local_receive_ns> <raw frame>`` per line).

The reader of record for this format outside the importers: :mod:`flushwatch.live.replay`
turns its lines back into connector frames, and :mod:`flushwatch.testing.recorded` uses the
same functions (there is one implementation). It depends on nothing in ``flushwatch``, so
test helpers stay independent of the importers (:mod:`flushwatch.ingest`).
"""

from __future__ import annotations

import gzip
from collections.abc import Iterator
from pathlib import Path

import zstandard


def decompressed_text(path: Path) -> str:
    """The whole text of ``path``, decompressed when it ends in ``.zst`` or ``.gz``."""
    raw = path.read_bytes()
    if path.suffix == ".zst":
        raw = zstandard.ZstdDecompressor().stream_reader(raw).read()
    elif path.suffix == ".gz":
        raw = gzip.decompress(raw)
    return raw.decode()


def ws_lines(path: Path) -> Iterator[tuple[int, int, str]]:
    """Yield ``(line, local_ns, frame)`` from an hftbacktest ``<ns> <json>`` recording.

    ``line`` is 1-based in the decompressed file.
    """
    for number, text in enumerate(decompressed_text(path).splitlines(), start=1):
        ts, _, frame = text.partition(" ")
        yield number, int(ts), frame


__all__ = ["decompressed_text", "ws_lines"]
