"""Issue 14, "losses across a restart are never reported": after a kill -9 the restart's gap
event names the missing trade ids where the venue numbers its trades.

Session 1 is a real child process around a real :class:`Recorder`: it records CONSTRUCTED
Binance aggTrade frames (``a`` = 1000, 1001, ...), makes them durable and is killed with
SIGKILL. Session 2 runs in this process on the same folders and is fed the frames from a
later index (ids lost while it was down) or from an earlier one (an overlap: nothing lost).
"""

from __future__ import annotations

import asyncio
import json
import signal
import subprocess
import sys
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.records import Trade
from flushwatch.live.recorder import Recorder, RecorderConfig
from flushwatch.live.replay import feed
from flushwatch.store import Store
from flushwatch.testing.builders import agg_trade_frames

URL = "wss://fstream.binance.com/stream?streams=btcusdt@aggTrade"
T0_MS = 1_722_816_000_000
N = 400
KILLED_AT = 200  # session 1 records frames[:200] (ids 1000..1199) and is killed


def frames() -> list[RawFrame]:
    """CONSTRUCTED aggTrade frames, one per 10 ms, ids 1000 + i."""
    return agg_trade_frames(N, URL, T0_MS)


async def die_after_recording() -> AsyncIterator[RawFrame | FeedEvent]:
    """The first frames, a wait for the fsync, then SIGKILL of this process."""
    import os

    for f in frames()[:KILLED_AT]:
        yield f
    await asyncio.sleep(0.5)  # flush_s is 0.05: every line is durable
    os.kill(os.getpid(), signal.SIGKILL)


SESSION = textwrap.dedent(
    """
    import asyncio, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from hardening.test_restart_ids import die_after_recording
    from flushwatch.live.recorder import Recorder, RecorderConfig
    from flushwatch.store import Store

    config = RecorderConfig(recordings=Path({rec!r}), flush_s=0.05, batch_s=1000.0)
    recorder = Recorder(config, store=Store.open(Path({store!r})))
    asyncio.run(recorder.run(die_after_recording()))
    """
)


def _killed_session(tmp_path: Path) -> None:
    code = SESSION.format(
        tests=str(Path(__file__).parents[1]),
        rec=str(tmp_path / "rec"),
        store=str(tmp_path / "store"),
    )
    done = subprocess.run([sys.executable, "-c", code], check=False, timeout=120)
    assert done.returncode == -signal.SIGKILL


def _restart(tmp_path: Path, start: int) -> list[dict[str, object]]:
    config = RecorderConfig(recordings=tmp_path / "rec", flush_s=0.05)
    recorder = Recorder(config, store=Store.open(tmp_path / "store"))
    asyncio.run(recorder.run(feed(frames()[start:])))
    lines = (tmp_path / "rec" / "feed-events.json").read_text().splitlines()
    return [json.loads(line) for line in lines]


def test_a_restart_names_the_trade_ids_it_lost(tmp_path: Path) -> None:
    _killed_session(tmp_path)
    events = _restart(tmp_path, start=250)  # ids 1200..1249 were never received
    gaps = [e for e in events if e["kind"] == "gap" and e["stream"] == "btcusdt@aggTrade"]
    assert len(gaps) == 1, events
    (gap,) = gaps
    assert "trade ids 1200..1249 (50) of BTCUSDT on btcusdt@aggTrade" in str(gap["detail"])
    assert gap["gap_start"] == (T0_MS + 10 * 199) * 1_000_000  # the last trade recorded
    assert gap["gap_end"] == (T0_MS + 10 * 250) * 1_000_000  # the first after the restart
    # the time gap of the restart is still reported beside it
    assert any(e["kind"] == "gap" and e["stream"] == "recorder" for e in events)
    ids = Store.open(tmp_path / "store").read(Trade).get_column("trade_id").cast(int)
    assert sorted(ids) == [*range(1000, 1200), *range(1250, 1000 + N)]


def test_an_overlapping_restart_reports_no_lost_ids(tmp_path: Path) -> None:
    _killed_session(tmp_path)
    events = _restart(tmp_path, start=150)  # re-fed from id 1150: nothing missing
    assert not [e for e in events if e["kind"] == "gap" and e["stream"] != "recorder"]
    trades = Store.open(tmp_path / "store").read(Trade)
    assert trades.height == N  # and none stored twice
