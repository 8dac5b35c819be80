"""Issue 14, "no durability": a commit fsyncs its files, their folders and the ledger, and a
writer killed mid-commit leaves nothing a flushwatch reader can see.

The fsync check wraps the real ``os.fsync`` to note which paths it made durable (the call
still happens). The crash is a real child process that dies (``os._exit``) right after the
commit's renames, before its ledger line: the parent then opens the store as a reader does.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import polars as pl
import pytest

from flushwatch.domain.enums import Market, PriceKind
from flushwatch.domain.records import Bar
from flushwatch.domain.tables import frame_from_records
from flushwatch.ingest.base import Parsed
from flushwatch.store import Store

HOUR = 3600 * 10**9
T0 = 1_722_816_000 * 10**9  # 2024-08-05T00:00Z


def _parsed(folder: Path, name: str, hours: range) -> Parsed:
    """CONSTRUCTED hourly bars, labelled by a small file of their own (the ledger hashes it)."""
    label = folder / name
    label.write_text(f"constructed bars {hours}\n")
    bars = [
        Bar(ts_event=T0 + h * HOUR, exchange="binanceusdm", market=Market.PERP, symbol="BTCUSDT",
            price_kind=PriceKind.TRADE, interval_s=3600, open=100.0 + h, high=101.0 + h,
            low=99.0 + h, close=100.5 + h)
        for h in hours
    ]  # fmt: skip
    parsed = Parsed(path=label, format="test")
    parsed.add(Bar, frame_from_records(Bar, bars))
    return parsed


def test_a_write_fsyncs_its_parts_their_folders_and_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Store.open(tmp_path / "store")
    synced: list[str] = []
    real = os.fsync

    def noting(fd: int) -> None:
        synced.append(str(Path(f"/proc/self/fd/{fd}").readlink()))
        real(fd)

    monkeypatch.setattr(os, "fsync", noting)
    store.write([_parsed(tmp_path, "a.txt", range(3))])
    part = next((store.root / "bars").rglob("*.parquet"))
    staged = [p for p in synced if "/.staging-" in p and p.endswith(".parquet")]
    assert staged, synced  # the part's bytes, before it was renamed into place
    assert str(part.parent) in synced  # the rename itself
    assert str(store.root / "bars") in synced  # a folder the write created
    assert str(store.root / "imports.jsonl") in synced
    assert synced.index(staged[0]) < synced.index(str(part.parent))


CRASH = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from hardening.test_durability import _parsed
    from flushwatch.store import Store
    from flushwatch.store.ledger import Ledger

    def die(self, text):  # killed after every rename, before the ledger line
        os._exit(9)

    Ledger.append = die
    store = Store.open(Path({root!r}), create=False)
    store.write([_parsed(Path({folder!r}), "b.txt", range(2, 6))])
    """
)


def test_a_writer_killed_mid_commit_is_invisible_to_the_next_reader(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    store.write([_parsed(tmp_path, "a.txt", range(3))])
    before = store.read(Bar)
    glob = str(store.root / "bars" / "**" / "*.parquet")
    code = CRASH.format(
        tests=str(Path(__file__).parents[1]), root=str(store.root), folder=str(tmp_path)
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, timeout=120)
    assert done.returncode == 9
    assert list(store.root.glob(".staging-*"))  # the dead writer's journal is still there
    reader = Store.open(store.root, create=False)  # rolls the dead commit back first
    assert not list(store.root.glob(".staging-*"))
    assert reader.read(Bar).equals(before)
    assert pl.read_parquet(glob).height == before.height  # a plain glob agrees
    assert reader.write([_parsed(tmp_path, "b.txt", range(2, 6))])[0].added == 3
