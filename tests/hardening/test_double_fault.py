"""Issue 14, "rows lost for good after a double fault": kill the recorder while it records,
kill it again while it catches up, and the third session still stores every row.

Each session is a real child process around a real :class:`Recorder` and store. Session 1
records CONSTRUCTED Binance aggTrade frames, makes them durable and dies (SIGKILL) before
any batch reached the store. Session 2 salvages its part and dies at the start of the
catch-up import. Before the fix session 3 found nothing to catch up (the part was salvaged
already) and the rows were never stored; now ``.catchup.json`` still names the file. The
restart is reported as a ``gap`` event naming the span that could not be recorded.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.records import Trade
from flushwatch.store import Store
from flushwatch.testing.builders import agg_trade_frames

URL = "wss://fstream.binance.com/market/stream"
T0_MS = 1_722_816_000_000
N = 300


def frames() -> list[RawFrame]:
    """CONSTRUCTED aggTrade frames, one per 10 ms."""
    return agg_trade_frames(N, URL, T0_MS)


async def items(then: str) -> AsyncIterator[RawFrame | FeedEvent]:
    """The frames, then (``"die"``) wait for a flush and SIGKILL this process."""
    import asyncio
    import os

    for f in frames() if then == "die" else ():
        yield f
    if then == "die":
        await asyncio.sleep(0.5)  # flush_s is 0.05: every line is durable, no batch stored
        os.kill(os.getpid(), signal.SIGKILL)


SESSION = textwrap.dedent(
    """
    import asyncio, os, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from hardening.test_double_fault import items
    from flushwatch.live import storewrite
    from flushwatch.live.recorder import Recorder, RecorderConfig
    from flushwatch.store import Store

    if {then!r} == "die-in-catch-up":
        def die(store, paths, *args):
            os._exit(9)
        storewrite.import_files = die
    config = RecorderConfig(recordings=Path({rec!r}), flush_s=0.05, batch_s=1000.0)
    store = Store.open(Path({store!r}))
    recorder = Recorder(config, exchange="binanceusdm", store=store)
    asyncio.run(recorder.run(items({then!r})))
    """
)


def _session(tmp_path: Path, then: str) -> int:
    code = SESSION.format(
        tests=str(Path(__file__).parents[1]),
        then=then,
        rec=str(tmp_path / "rec"),
        store=str(tmp_path / "store"),
    )
    return subprocess.run([sys.executable, "-c", code], check=False, timeout=120).returncode


def test_a_kill_during_catch_up_loses_no_row(tmp_path: Path) -> None:
    assert _session(tmp_path, "die") == -signal.SIGKILL
    assert list((tmp_path / "rec").glob(".*.part"))  # the crash left its part
    assert _session(tmp_path, "die-in-catch-up") == 9
    assert not list((tmp_path / "rec").glob(".*.part"))  # salvaged before the second kill
    store = Store.open(tmp_path / "store", create=False)
    if (tmp_path / "store" / "trades").exists():
        assert store.read(Trade).height < N  # nothing stored yet: the rows live in the file
    assert _session(tmp_path, "end") == 0
    trades = store.read(Trade)
    assert trades.height == N
    assert trades.get_column("trade_id").n_unique() == N
    assert json.loads((tmp_path / "rec" / ".catchup.json").read_text()) == []
    events = [
        json.loads(line)
        for line in (tmp_path / "rec" / "feed-events.json").read_text().splitlines()
    ]
    gaps = [e for e in events if e["kind"] == "gap" and e["stream"] == "recorder"]
    assert len(gaps) == 1  # reported by session 2, which salvaged the crashed part
    assert gaps[0]["gap_start"] == frames()[-1].ts_recv
    assert "restarted after a crash" in gaps[0]["detail"]
