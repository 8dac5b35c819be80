"""Crash-safe recording files: append, make durable every second, rename when complete.

A file being written is ``.<name>.part`` (a dot-file, so ``flushwatch import <folder>`` never
picks up a half-written recording). :meth:`RecordingFile.flush` appends what was buffered as
one complete gzip member (or plain lines), then ``fsync``s; a ``kill -9`` therefore loses at
most the lines buffered since the last flush and can only leave a torn tail, which
:func:`salvage` cuts back to the last complete line before giving the file its final name.
:func:`prune` keeps the folder under a size and age bound by deleting the oldest closed files.
"""

from __future__ import annotations

import contextlib
import gzip
import os
import re
import zlib
from datetime import UTC, datetime
from pathlib import Path

PART = ".part"
#: Closed recordings this module wrote: ``<exchange>_<group>_<UTC stamp>[-n].<kind>[.gz]``.
RECORDING = re.compile(
    r"^[a-z0-9]+_[A-Za-z0-9.-]+_\d{8}T\d{6}Z(?:-\d+)?\.(?:lines|jsonl|rejected\.txt)(?:\.gz)?$"
)


def stamp(ts_ns: int) -> str:
    """UTC second of ``ts_ns`` as used in file names (``20240808T235415Z``)."""
    return datetime.fromtimestamp(ts_ns // 1_000_000_000, tz=UTC).strftime("%Y%m%dT%H%M%SZ")


def part_of(final: Path) -> Path:
    """Return the in-progress name of ``final``."""
    return final.with_name(f".{final.name}{PART}")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def unique_final(folder: Path, base: str, ext: str) -> Path:
    """Return ``folder/base.ext`` (or ``base-n.ext``) such that neither it nor its part exists."""
    n = 0
    while True:
        name = f"{base}.{ext}" if n == 0 else f"{base}-{n}.{ext}"
        final = folder / name
        if not final.exists() and not part_of(final).exists():
            return final
        n += 1


class RecordingFile:
    """One recording being written; lines become durable on :meth:`flush`."""

    def __init__(self, final: Path, *, end_ts: int, header: bytes | None = None) -> None:
        self.final = final
        self.part = part_of(final)
        self.compress = final.name.endswith(".gz")
        self.end_ts = end_ts  # first receive time that belongs to the next file
        self.lines = 0
        self.size = 0  # bytes on disk
        self._buf: list[bytes] = []
        self._fh = self.part.open("xb")
        if header is not None:
            self.add(header)

    def add(self, line: bytes) -> None:
        """Buffer one line (without its newline)."""
        self._buf.append(line)
        self._buf.append(b"\n")
        self.lines += 1

    def flush(self) -> int:
        """Append the buffered lines durably (one gzip member) and return the bytes written."""
        if not self._buf:
            return 0
        data = b"".join(self._buf)
        self._buf.clear()
        if self.compress:
            data = gzip.compress(data, compresslevel=6, mtime=0)
        self._fh.write(data)
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self.size += len(data)
        return len(data)

    def close(self) -> Path:
        """Flush, close and give the file its final name."""
        self.flush()
        self._fh.close()
        self.part.replace(self.final)
        _fsync_dir(self.final.parent)
        return self.final


def _complete_members(data: bytes) -> bytes:
    """Decompress the gzip members that are complete; stop at the first torn one."""
    out: list[bytes] = []
    pos = 0
    while pos < len(data):
        d = zlib.decompressobj(31)
        try:
            chunk = d.decompress(data[pos:])
        except zlib.error:
            break
        if not d.eof:
            break
        out.append(chunk)
        pos = len(data) - len(d.unused_data)
    return b"".join(out)


def readable_lines(path: Path) -> list[bytes]:
    """Return the complete lines of a recording, finished or in progress, torn tail excluded."""
    data = path.read_bytes()
    name = path.name.removesuffix(PART)
    text = _complete_members(data) if name.endswith(".gz") else data
    return text[: text.rfind(b"\n") + 1].splitlines()


def salvage(folder: Path) -> list[Path]:
    """Turn every ``.part`` left by a crash into a final file of its complete lines.

    Returns the salvaged files (a part with no complete data line is deleted).
    """
    out: list[Path] = []
    for part in sorted(folder.glob(f".*{PART}")):
        name = part.name[1 : -len(PART)]
        lines = readable_lines(part)
        header_only = name.endswith((".jsonl", ".jsonl.gz")) and len(lines) <= 1
        if not lines or header_only:
            part.unlink()
            continue
        text = b"".join(line + b"\n" for line in lines)
        if name.endswith(".gz"):
            text = gzip.compress(text, compresslevel=6, mtime=0)
        final = folder / name
        if final.exists():  # cannot happen with our writer; never overwrite a finished file
            base, _, ext = name.partition(".")
            final = unique_final(folder, base, ext)
        tmp = folder / f".{final.name}.salvage"
        with tmp.open("wb") as fh:
            fh.write(text)
            fh.flush()
            os.fsync(fh.fileno())
        tmp.replace(final)
        part.unlink()
        _fsync_dir(folder)
        out.append(final)
    return out


def prune(
    folder: Path,
    *,
    max_bytes: int | None,
    max_age_s: float | None,
    now_ns: int,
    open_bytes: int = 0,
    keep: frozenset[Path] = frozenset(),
) -> list[Path]:
    """Delete the oldest closed recordings until the folder fits ``max_bytes`` and ``max_age_s``.

    ``open_bytes`` counts files still being written (never deleted), ``keep`` protects files
    the store has not caught up with yet. Returns the deleted files.
    """
    if max_bytes is None and max_age_s is None:
        return []
    files = []
    for path in folder.iterdir():
        if RECORDING.match(path.name) and path not in keep:
            with contextlib.suppress(FileNotFoundError):
                st = path.stat()
                files.append((st.st_mtime_ns, path.name, path, st.st_size))
    files.sort()
    total = open_bytes + sum(f[3] for f in files)
    deleted: list[Path] = []
    for mtime, _, path, size in files:
        too_big = max_bytes is not None and total > max_bytes
        too_old = max_age_s is not None and (now_ns - mtime) / 1e9 > max_age_s
        if not (too_big or too_old):
            break
        path.unlink(missing_ok=True)
        total -= size
        deleted.append(path)
    return deleted
