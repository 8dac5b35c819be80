"""One atomic change of the store: files staged first, then swapped in; undone on any failure.

Callers hold the store's exclusive lock. Every new file is written into a staging folder
inside the store (same file system, so ``os.replace`` is atomic). :meth:`Txn.commit` first
writes a journal of what it will do into that folder, then applies the puts and deletes in
order, keeping a hard-link backup of every file it replaces or removes, and appends the
ledger last. An exception anywhere (a real OS error, a KeyboardInterrupt) undoes what was
applied, newest first. A process killed half-way leaves its staging folder and journal
behind; :func:`recover` (run under the lock before the next write) undoes it the same way.
Either way the store is left exactly as it was, byte for byte.

Durability (issue 14: an import used to make no fsync call at all), in this order:

1. every staged file is fsynced (one ``os.sync()`` for more than :data:`SYNC_ALL_ABOVE`), so
   no rename can publish a file whose bytes are not on disk;
2. the journal is written, fsynced and renamed into place, and the staging folder fsynced;
3. the backup hard links of every file to be replaced or removed are made, then the staging
   folder fsynced again: a crash after any rename finds its backup;
4. the renames and removals are applied, then every folder they touched is fsynced;
5. the ledger line is appended and fsynced; the journal removed.

A crash before step 4 completes is undone by :func:`recover`; one after it is committed.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import uuid
from pathlib import Path
from types import TracebackType

from flushwatch.store.ledger import Ledger

STAGING = ".staging-"
_JOURNAL = "journal.json"


class Txn:
    """Staged puts and deletes of one write or compaction."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.staging = root / f"{STAGING}{uuid.uuid4().hex}"
        self._ops: list[tuple[Path, Path | None]] = []  # (target, staged file or None=delete)
        self._n = 0

    def __enter__(self) -> Txn:
        self.staging.mkdir()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        shutil.rmtree(self.staging, ignore_errors=True)
        for target, _ in self._ops:
            for parent in target.parents:
                if parent == self.root:
                    break
                with contextlib.suppress(OSError):
                    parent.rmdir()  # only succeeds when a rolled-back write left it empty

    def new_file(self) -> Path:
        """Return a fresh path in the staging folder."""
        self._n += 1
        return self.staging / f"{self._n}.parquet"

    def put(self, staged: Path, target: Path) -> None:
        """Plan to move ``staged`` to ``target`` (replacing it if it exists)."""
        self._ops.append((target, staged))

    def delete(self, target: Path) -> None:
        """Plan to remove ``target``."""
        self._ops.append((target, None))

    def commit(self, ledger: Ledger | None = None, lines: str = "") -> None:
        """Apply every planned change, then append ``lines`` to the ledger; all or nothing."""
        size = ledger.prepare_append() if ledger is not None and lines else None
        plan = [(t, s, self.staging / f"backup-{n}") for n, (t, s) in enumerate(self._ops)]
        durable([staged for _, staged, _ in plan if staged is not None])
        journal = {
            "ops": [[self._rel(t), self._rel(s), self._rel(b)] for t, s, b in plan],
            "ledger": [self._rel(ledger.path), size] if ledger and size is not None else None,
        }
        tmp = self.staging / "journal.tmp"
        tmp.write_text(json.dumps(journal), encoding="utf-8")
        fsync_path(tmp)
        tmp.replace(self.staging / _JOURNAL)  # complete before the first change, or absent
        fsync_path(self.staging)
        try:
            for target, _, backup in plan:  # every backup exists before the first change
                if target.exists() and not backup.exists():
                    os.link(target, backup)
            fsync_path(self.staging)
            touched: set[Path] = set()
            for target, staged, _ in plan:
                if staged is None:
                    target.unlink(missing_ok=True)
                else:
                    touched.update(_made_dirs(target.parent, self.root))
                    staged.replace(target)
                touched.add(target.parent)
            durable(sorted(touched, key=lambda p: len(p.parts), reverse=True))
            if ledger is not None and size is not None:
                ledger.append(lines)
                fsync_path(ledger.path)
            (self.staging / _JOURNAL).unlink()  # committed: nothing left for recover to undo
        except BaseException:
            _undo(self.root, self.staging)
            raise

    def _rel(self, path: Path | None) -> str | None:
        return None if path is None else path.relative_to(self.root).as_posix()


def fsync_path(path: Path) -> None:
    """Make a file's bytes, or a folder's entries, durable (``os.fsync``)."""
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if path.is_dir() else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


#: Above this many paths one ``os.sync()`` replaces their fsyncs: a bulk import stages
#: hundreds of parts per commit, and one flush of the file system costs far less than
#: hundreds of separate cache flushes (measured: per-file fsync doubled a 47k-part import).
SYNC_ALL_ABOVE = 16


def durable(paths: list[Path]) -> None:
    """Make ``paths`` (files or folders) durable: one fsync each, or one ``os.sync()``."""
    if len(paths) > SYNC_ALL_ABOVE:
        os.sync()
        return
    for path in paths:
        fsync_path(path)


def _made_dirs(folder: Path, root: Path) -> list[Path]:
    """Create ``folder`` and its missing parents; return the folders whose entries changed."""
    missing = []
    for parent in (folder, *folder.parents):
        if parent.exists() or parent == root:
            break
        missing.append(parent)
    folder.mkdir(parents=True, exist_ok=True)
    return [m.parent for m in missing]


def _undo(root: Path, staging: Path) -> None:
    """Undo the journalled changes of ``staging``, whichever of them were applied."""
    journal = staging / _JOURNAL
    if not journal.exists():
        return  # nothing was applied: the journal is written before the first change
    data = json.loads(journal.read_text(encoding="utf-8"))
    if data["ledger"] is not None:
        name, size = data["ledger"]
        path = root / name
        if path.exists() and path.stat().st_size > size:
            os.truncate(path, size)
    for target_name, staged_name, backup_name in reversed(data["ops"]):
        target, backup = root / target_name, root / backup_name
        if backup.exists():  # the file was replaced or deleted (or about to be): put it back
            backup.replace(target)
        elif staged_name is not None and not (root / staged_name).exists():
            target.unlink(missing_ok=True)  # a new file was moved in: take it out


def recover(root: Path) -> list[Path]:
    """Undo the transactions of writers that died mid-commit; return their staging folders.

    Call with the store's exclusive lock held: every live transaction holds it too, so any
    staging folder seen then belongs to a dead process.
    """
    found = sorted(p for p in root.glob(f"{STAGING}*") if p.is_dir())
    for staging in found:
        _undo(root, staging)
        shutil.rmtree(staging, ignore_errors=True)
    return found
