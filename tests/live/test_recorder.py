"""The recorder on the real hftbacktest USD-M BTCUSDT frames, fed from memory (no network).

"Equal to a clean import" is checked against ``flushwatch import`` of the same source file
into a separate store: same series and row counts, and identical rows for every dataset.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import ClassVar

import msgspec
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.records import MARKET_RECORDS
from flushwatch.ingest.base import Parsed
from flushwatch.live.recorder import EVENTS, Recorder, RecorderConfig
from flushwatch.live.replay import feed, frames_from_ws_lines
from flushwatch.live.rotation import readable_lines, salvage
from flushwatch.store import Store

SRC = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
WS = "wss://fstream.binance.com/stream?streams=btcusdt@depth@0ms/btcusdt@bookTicker/btcusdt@trade"
REST = "https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=1000"


def _cli_import(store: Path, *paths: Path) -> int:
    result = CliRunner().invoke(app, ["import", "--store", str(store), "--json", *map(str, paths)])
    assert result.exit_code == 0, result.output
    return int(json.loads(result.output)["rows_added"])


def _write_lines(path: Path, frames: Sequence[RawFrame]) -> Path:
    with gzip.open(path, "wt") as fh:
        fh.writelines(f"{f.ts_recv} {f.data}\n" for f in frames)
    return path


def assert_same_store(a: Store, b: Store) -> None:
    """Same series, same counts and extents, and the same rows in every dataset."""
    assert [msgspec.to_builtins(s) for s in a.series()] == [
        msgspec.to_builtins(s) for s in b.series()
    ]
    for cls in MARKET_RECORDS:
        left, right = a.read(cls), b.read(cls)
        assert left.height == right.height, cls.dataset
        if left.height:
            cols = left.columns
            assert left.sort(cols).equals(right.sort(cols)), cls.dataset


def record(frames: Sequence[RawFrame | FeedEvent], config: RecorderConfig, store: Store | None):
    """Run a recorder over ``frames`` to the end."""
    return asyncio.run(Recorder(config, store=store).run(feed(frames)))


@pytest.fixture(scope="module")
def real(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> tuple[list[RawFrame], Store]:
    """The real frames and a store holding a clean import of their file."""
    src = shared_data.joinpath(*SRC)
    store = Store.open(tmp_path_factory.mktemp("clean") / "store")
    assert _cli_import(store.root, src) > 0
    return frames_from_ws_lines(src, WS, REST), store


def test_live_store_equals_clean_import_and_recordings_reimport(
    real: tuple[list[RawFrame], Store], tmp_path: Path
) -> None:
    """Every record reaches the store once; the recordings re-import adding zero rows."""
    frames, clean = real
    store = Store.open(tmp_path / "store")
    config = RecorderConfig(recordings=tmp_path / "rec", rotate_s=60, batch_records=50_000)
    stats = record(frames, config, store)
    assert stats.frames == len(frames) == 93_954
    assert stats.http_frames == 1
    assert stats.rejected == 0
    assert stats.errors == []
    assert stats.batches_written + stats.batches_dropped >= 10  # dropped ones were caught up
    assert_same_store(store, clean)
    # one minute per file over 6 minutes, plus the REST file holding the snapshot
    names = sorted(Path(f).name for f in stats.files)
    assert len([n for n in names if n.endswith(".lines.gz")]) == 6
    assert [n for n in names if "_rest_" in n] == ["binanceusdm_rest_20240808T235415Z.jsonl.gz"]
    recorded = sum(len(readable_lines(Path(f))) for f in stats.files)
    assert recorded == len(frames) + 1  # + the REST file's header line
    assert not list(config.recordings.glob(".*.part"))
    # the recordings folder, imported as-is, adds nothing to the live store ...
    assert _cli_import(store.root, config.recordings) == 0
    # ... and is on its own a complete copy of the source
    fresh = tmp_path / "fresh"
    assert _cli_import(fresh, config.recordings) == stats.rows_added
    assert_same_store(Store.open(fresh), clean)


def test_rotation_and_disk_bound_delete_oldest(
    real: tuple[list[RawFrame], Store], tmp_path: Path
) -> None:
    """Five-second files; above the size bound the oldest closed files go first."""
    frames = real[0][:30_000]
    rec = tmp_path / "rec"
    config = RecorderConfig(recordings=rec, rotate_s=5, max_bytes=1_500_000, compress=False)
    stats = record(frames, config, None)
    assert len(stats.files) >= 8
    kept = sorted(p for p in rec.iterdir() if p.name.endswith(".lines"))
    deleted = sorted(Path(p) for p in stats.deleted)
    assert deleted
    assert max(deleted) < min(kept)  # names sort by time: only the oldest were deleted
    # each plain file over the bound is kept whole: the last one (open until the end) survives
    assert Path(stats.files[-1]) in kept or Path(stats.files[-1]).name.startswith(
        "binanceusdm_rest"
    )
    total = sum(p.stat().st_size for p in rec.iterdir() if p.name.endswith((".lines", ".jsonl")))
    assert total <= 1_500_000
    for path in kept:
        for line in path.read_bytes().splitlines():
            ts, _, frame = line.partition(b" ")
            assert ts.isdigit()
            json.loads(frame)


def test_torn_part_is_salvaged_to_complete_lines(tmp_path: Path) -> None:
    """A gz part with a torn last member and a plain part with half a line are cut back."""
    good = b'1723161255030314667 {"a":1}\n1723161255030314668 {"a":2}\n'
    torn = gzip.compress(b'1723161255030314669 {"a":3}\n', mtime=0)[:-6]
    (tmp_path / ".okx_x-1_20240808T235415Z.lines.gz.part").write_bytes(
        gzip.compress(good, mtime=0) + torn
    )
    (tmp_path / ".okx_x-1_20240808T235416Z.lines.part").write_bytes(good + b"17231612550303")
    (tmp_path / ".okx_rest_20240808T235416Z.jsonl.part").write_bytes(b'{"t":"header"}\n')
    out = sorted(salvage(tmp_path))
    assert [p.name for p in out] == [
        "okx_x-1_20240808T235415Z.lines.gz",
        "okx_x-1_20240808T235416Z.lines",
    ]
    assert gzip.decompress(out[0].read_bytes()) == good
    assert out[1].read_bytes() == good
    assert sorted(p.name for p in tmp_path.iterdir()) == [p.name for p in out]


def test_rejected_frames_are_kept_apart_and_events_logged(
    real: tuple[list[RawFrame], Store], tmp_path: Path
) -> None:
    """A malformed frame goes to a .rejected.txt file; the recordings still re-import."""
    frames: list[RawFrame | FeedEvent] = list(real[0][:2_000])
    bad = RawFrame(ts_recv=frames[100].ts_recv, url=WS, data='{"stream":"btcusdt@trade","da')
    gap = FeedEvent(ts=1, kind="gap", exchange="binanceusdm", stream="btcusdt@depth", detail="x")
    frames[100:100] = [bad, gap]
    config = RecorderConfig(recordings=tmp_path / "rec")
    stats = record(frames, config, Store.open(tmp_path / "store"))
    assert stats.rejected == 1
    assert stats.events == {"gap": 1}
    assert len(stats.errors) == 1
    (rejected,) = config.recordings.glob("*.rejected.txt")
    assert rejected.read_text().strip().endswith(bad.data)
    events = [json.loads(x) for x in (config.recordings / EVENTS).read_text().splitlines()]
    assert events == [msgspec.to_builtins(gap)]
    assert _cli_import(tmp_path / "store", config.recordings) == 0


class _SlowStore(Store):
    """A store whose first write blocks until released: storage falling behind on purpose."""

    def __init__(self, root: Path) -> None:
        super().__init__(root)
        self.release = threading.Event()
        self.entered = threading.Event()

    def write(self, parsed: Sequence[Parsed]):  # type: ignore[no-untyped-def]
        self.entered.set()
        assert self.release.wait(120), "test never released the store"
        return super().write(parsed)


def test_backpressure_keeps_raw_frames_and_catches_up(
    real: tuple[list[RawFrame], Store], tmp_path: Path
) -> None:
    """A stuck store writer triggers backpressure; no raw frame is lost; the store catches up."""
    frames = real[0][:20_000]
    Store.open(tmp_path / "store")
    slow = _SlowStore(tmp_path / "store")
    seen: list[FeedEvent] = []
    config = RecorderConfig(recordings=tmp_path / "rec", batch_records=2_000, queue_batches=1)

    async def source():  # type: ignore[no-untyped-def]
        for n, frame in enumerate(frames):
            yield frame
            if n % 256 == 0:
                await asyncio.sleep(0)
        await asyncio.to_thread(slow.entered.wait, 120)
        slow.release.set()

    recorder = Recorder(config, store=slow, on_event=seen.append)
    stats = asyncio.run(recorder.run(source()))
    assert [e.kind for e in seen] == ["backpressure"]
    assert stats.batches_dropped > 0
    assert stats.caught_up
    recorded = [line for f in stats.files for line in readable_lines(Path(f))]
    assert len(recorded) == len(frames) + 1  # every raw frame (+ the REST header line)
    clean = Store.open(tmp_path / "clean")
    src = _write_lines(tmp_path / "usdm_btcusdt_cut.gz", frames)
    _cli_import(clean.root, src)
    assert_same_store(Store(tmp_path / "store"), clean)
    logged = (config.recordings / EVENTS).read_text()
    assert '"kind":"backpressure"' in logged


class _FakeConnector:
    """Stands in for BinanceConnector: yields recorded frames, then stays connected."""

    frames_to_send: ClassVar[list[RawFrame]] = []

    def __init__(self, exchange: str, symbols: list[str], streams: list[str], config: object):
        self.exchange, self.symbols, self.streams = exchange, symbols, streams

    async def __aenter__(self) -> _FakeConnector:
        return self

    async def __aexit__(self, *exc: object) -> None:
        return None

    async def frames(self):  # type: ignore[no-untyped-def]
        for frame in self.frames_to_send:
            yield frame
        yield FeedEvent(ts=1, kind="gap", exchange=self.exchange, stream="btcusdt@depth")
        await asyncio.Event().wait()  # connected and silent until --duration ends the run


def test_record_cli_runs_for_duration_and_prints_summary(
    real: tuple[list[RawFrame], Store], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`flushwatch record` records through the connector until --duration, then summarises."""
    import typer

    import flushwatch.connectors.binance as binance
    from flushwatch.cli import cmd_record

    _FakeConnector.frames_to_send = real[0][:500]
    monkeypatch.setattr(binance, "BinanceConnector", _FakeConnector)
    cli = typer.Typer()
    cli.command("noop")(lambda: None)
    cmd_record.register(cli)
    rec, store = tmp_path / "rec", tmp_path / "store"
    args = ["record", "--venue", "binanceusdm", "--symbols", "BTCUSDT", "--duration", "5"]
    args += ["--recordings", str(rec), "--store", str(store), "--max-disk-mb", "50"]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "frames      500 (1 REST, 0 rejected)" in result.output
    assert "gaps: 1" in result.output
    assert _cli_import(store, rec) == 0
    assert Store.open(store).series()
