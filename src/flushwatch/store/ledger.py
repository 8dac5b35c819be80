"""The import ledger ``imports.jsonl``: one JSON line per file that changed the store.

Append-only (a live recorder adds a line every few seconds, so rewriting the whole ledger per
write would be quadratic), read incrementally (only the bytes appended since the last read),
and undone by truncation when the write it belongs to fails (:mod:`flushwatch.store.txn`).
A line cut short by a crash is ignored when reading and cut off before the next append.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from flushwatch.errors import StoreError


class Ledger:
    """The ledger file, with the sha256 set of every line read so far."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._hashes: set[str] = set()
        self._inode = -1
        self._offset = 0
        self._lines = 0

    def hashes(self) -> set[str]:
        """SHA-256 of every file in the ledger (re-reads only what was appended)."""
        try:
            st = self.path.stat()
        except FileNotFoundError:
            self._reset(-1)
            return set()
        if st.st_ino != self._inode or st.st_size < self._offset:
            self._reset(st.st_ino)  # replaced or truncated by another process: read it again
        if st.st_size > self._offset:
            with self.path.open("rb") as fh:
                fh.seek(self._offset)
                data = fh.read()
            end = data.rfind(b"\n") + 1  # a trailing partial line is not a line yet
            for line in data[:end].split(b"\n")[:-1]:
                self._lines += 1
                if line.strip():
                    self._hashes.add(self._sha(line))
            self._offset += end
        return set(self._hashes)

    def prepare_append(self) -> int:
        """Cut off a line left incomplete by a crash; return the size appends start from."""
        if not self.path.exists():
            return 0
        size = self.path.stat().st_size
        if size and not self._ends_with_newline():
            size = self._complete_size()
            os.truncate(self.path, size)
        return size

    def append(self, text: str) -> None:
        """Append complete lines (the transaction undoes it by truncating to the old size)."""
        with self.path.open("ab") as fh:
            fh.write(text.encode())

    def _sha(self, line: bytes) -> str:
        try:
            return str(json.loads(line)["sha256"])
        except (ValueError, KeyError, TypeError) as exc:
            raise StoreError(
                f"{self.path}, line {self._lines}: not a ledger entry ({exc}); "
                "remove or repair that line"
            ) from exc

    def _reset(self, inode: int) -> None:
        self._hashes.clear()
        self._inode = inode
        self._offset = 0
        self._lines = 0

    def _ends_with_newline(self) -> bool:
        with self.path.open("rb") as fh:
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) == b"\n"

    def _complete_size(self) -> int:
        data = self.path.read_bytes()
        return data.rfind(b"\n") + 1
