"""kill -9 a recording process mid-stream, restart it: nothing corrupt, lost or doubled.

The recorder runs in a child process fed from memory (real USD-M BTCUSDT frames, paced, then
held open so the kill always lands mid-session). Once enough lines are durable on disk the
child gets SIGKILL. A new recorder on the same folders salvages the torn ``.part`` files,
catches the store up from them, and is fed the frames after the last durable one with an
overlap. The store must then equal a clean ``flushwatch import`` of the same frames.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import msgspec
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.live.recorder import Recorder, RecorderConfig
from flushwatch.live.replay import feed, frames_from_ws_lines
from flushwatch.live.rotation import readable_lines
from flushwatch.store import Store

SRC = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
WS = "wss://fstream.binance.com/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade"
REST = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
FRAMES = 30_000
HOLD_AT = 24_000  # the child stops feeding here and waits to be killed
KILL_AFTER = 8_000  # durable lines on disk before the kill
OVERLAP = 3_000

CHILD = """
import asyncio, sys
from pathlib import Path
from flushwatch.live.recorder import Recorder, RecorderConfig
from flushwatch.live.replay import frames_from_ws_lines
from flushwatch.store import Store

src, rec, store, ws, rest, hold = sys.argv[1:7]
frames = frames_from_ws_lines(Path(src), ws, rest)[: int(hold)]

async def source():
    for n, frame in enumerate(frames):
        yield frame
        if n % 100 == 0:
            await asyncio.sleep(0.01)  # about 10k frames/s
    await asyncio.Event().wait()  # held open: only SIGKILL ends this process

config = RecorderConfig(recordings=Path(rec), batch_s=1.0, batch_records=5_000)
asyncio.run(Recorder(config, store=Store.open(Path(store))).run(source()))
"""


def _import(store: Path, *paths: Path) -> int:
    result = CliRunner().invoke(app, ["import", "--store", str(store), "--json", *map(str, paths)])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.output)["rows_added"])


def _durable_ws_lines(rec: Path) -> int:
    paths = [p for p in rec.iterdir() if ".lines" in p.name]
    return sum(len(readable_lines(p)) for p in paths)


def test_kill_9_then_restart_is_consistent_and_complete(shared_data: Path, tmp_path: Path) -> None:
    """No corrupt file, no lost record beyond the re-fed frames, no duplicate."""
    frames = frames_from_ws_lines(shared_data.joinpath(*SRC), WS, REST)[:FRAMES]
    src = tmp_path / "usdm_btcusdt_cut.gz"
    with gzip.open(src, "wt") as fh:
        fh.writelines(f"{f.ts_recv} {f.data}\n" for f in frames)
    rec, store_dir = tmp_path / "rec", tmp_path / "store"
    Store.open(store_dir)
    args = [str(src), str(rec), str(store_dir), WS, REST, str(HOLD_AT)]
    child = subprocess.Popen([sys.executable, "-c", CHILD, *args])
    try:
        deadline = time.monotonic() + 300
        while not (rec.is_dir() and _durable_ws_lines(rec) >= KILL_AFTER):
            assert child.poll() is None, f"recorder exited early with {child.returncode}"
            assert time.monotonic() < deadline, "the recorder never made lines durable"
            time.sleep(0.05)
        os.kill(child.pid, signal.SIGKILL)
    finally:
        child.kill()
        child.wait(60)
    assert child.returncode == -signal.SIGKILL
    assert list(rec.glob(".*.part")), "the kill should have left files in progress"
    durable = _durable_ws_lines(rec) + 1  # + the REST snapshot (frame 55), flushed first second
    assert KILL_AFTER <= durable < HOLD_AT

    restart = frames[max(0, durable - OVERLAP) :]
    config = RecorderConfig(recordings=rec, batch_records=5_000)
    stats = asyncio.run(Recorder(config, store=Store.open(store_dir)).run(feed(restart)))
    assert stats.salvaged, "the torn parts are salvaged"
    assert stats.caught_up, "and the store catches up from them"
    assert stats.errors == []

    # no corrupt file: every line of every recording parses
    assert not list(rec.glob(".*.part"))
    lines = 0
    for path in sorted(rec.glob("*.lines.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            ts, _, frame = line.partition(b" ")
            assert ts.isdigit()
            json.loads(frame)
            lines += 1
    for path in sorted(rec.glob("*.jsonl.gz")):
        for line in gzip.decompress(path.read_bytes()).splitlines():
            json.loads(line)
    assert lines >= FRAMES - 1  # every websocket frame, the overlap twice

    # none lost, none duplicated: the store equals a clean import of the same frames
    clean = tmp_path / "clean"
    _import(clean, src)
    got, want = Store.open(store_dir), Store.open(clean)
    assert [msgspec.to_builtins(s) for s in got.series()] == [
        msgspec.to_builtins(s) for s in want.series()
    ]
    # and the recordings folder holds nothing the store lacks
    assert _import(store_dir, rec) == 0
