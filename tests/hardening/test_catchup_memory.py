"""Issue 14, "memory": the recorder's catch-up streams a recording in bounded pieces instead of
loading the whole rotated file (which grew the recorder with the rotation size, >= 1.3 GB).

Session 1 records the REAL Binance USD-M BTCUSDT frames (hftbacktest 2024-08-08, first 6,000
lines: depth diffs, trades, book tickers, a REST depth snapshot) without a store. Its files
are then named in ``.catchup.json``, the state a session killed before its batches reached the
store leaves behind, and session 2 (with a store) catches up from them with a tiny
``catchup_rows``. Chunking is proved by the store's ledger: the ws-lines recording arrives as
many commits, none holding more than ``catchup_rows`` plus one frame's rows; and nothing is
lost or doubled: the store equals a clean ``flushwatch import`` of the same recordings.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import msgspec
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.live.recorder import PENDING, Recorder, RecorderConfig
from flushwatch.live.replay import feed, frames_from_ws_lines
from flushwatch.store import Store

SRC = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
WS = "wss://fstream.binance.com/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade"
REST = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"
FRAMES = 6_000
CHUNK = 2_000  # store rows per catch-up piece (the default is 200,000)


def _ledger(store: Path) -> list[dict[str, object]]:
    lines = (store / "imports.jsonl").read_text(encoding="utf-8").splitlines()
    return [json.loads(line) for line in lines]


def test_catch_up_streams_a_recording_in_bounded_pieces(shared_data: Path, tmp_path: Path) -> None:
    rec, store_dir = tmp_path / "rec", tmp_path / "store"
    frames = frames_from_ws_lines(shared_data.joinpath(*SRC), WS, REST)[:FRAMES]
    asyncio.run(Recorder(RecorderConfig(recordings=rec)).run(feed(frames)))
    recordings = sorted(p.name for p in rec.glob("*.gz"))
    (lines_file,) = [n for n in recordings if ".lines" in n]
    (rec / PENDING).write_text(json.dumps(recordings), encoding="utf-8")

    config = RecorderConfig(recordings=rec, catchup_rows=CHUNK)
    stats = asyncio.run(Recorder(config, store=Store.open(store_dir)).run(feed([])))
    assert stats.errors == []
    assert sorted(Path(p).name for p in stats.caught_up) == recordings
    assert json.loads((rec / PENDING).read_text()) == []  # caught up: the names are gone

    pieces = [e for e in _ledger(store_dir) if Path(str(e["path"])).name == lines_file]
    rows = [sum(msgspec.convert(e["rows_read"], dict[str, int]).values()) for e in pieces]
    # a piece closes at the frame that reaches CHUNK rows: the largest frame of this
    # recording is a depth diff of a few hundred levels
    assert len(pieces) >= 10
    assert sum(rows) > 30_000  # the whole recording arrived (34,505 rows)
    assert max(rows) < CHUNK + 1_000

    clean = tmp_path / "clean"
    result = CliRunner().invoke(app, ["import", "--store", str(clean), "--json", str(rec)])
    assert result.exit_code == 0, result.output
    got = [msgspec.to_builtins(s) for s in Store.open(store_dir).series()]
    want = [msgspec.to_builtins(s) for s in Store.open(clean).series()]
    assert got == want
