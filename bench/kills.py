"""kill -9 ``flushwatch import`` and ``flushwatch record`` at random moments, once or twice in a
row, then let them finish: rows lost or duplicated against a clean import (goal 0 and 0).

Run: ``.venv/bin/python bench/kills.py [--import-trials 20] [--record-trials 14] [--seed 0]
[--json out.json]``

Import trials: the real ``flushwatch import`` (a child process) of REAL files (the hftbacktest
USD-M BTCUSDT ws-lines recording, 532,923 rows, and the freqtrade XRPUSDT folder) into a fresh
store is killed with SIGKILL, each time at a random moment of its run, while it stages its new
files, or the moment its commit's journal exists (files being renamed into place); a kill
that comes after the run ended is counted as not landed. Double trials kill the next run
too (its recovery of the interrupted commit included), then it runs to the end. The store
must equal a clean import of the same files. Each kill reports the phase it hit.

Record trials: the real ``flushwatch record`` (a child process) records the same real
recording replayed at full speed by the loopback exchange (``flushwatch.testing.loopback`` on
127.0.0.1 only, a fresh replay per session); it is killed at a random moment, in double
trials its restart is killed again early (during salvage and catch-up), and a last session
ends cleanly. The store must then hold exactly the rows of a clean ``flushwatch import`` of
the recordings folder: none missing (lost), none twice (duplicated), none that no recording
holds. Frames that never became durable before a kill are not rows of any recording; the
restart reports them as gap events (counted here as ``gap_events``).

Rows are compared on each dataset's store key (:func:`flushwatch.domain.tables.key_columns`).
"""

from __future__ import annotations

import argparse
import functools
import json
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import polars as pl
from _common import machine_info, print_machine, print_table, text_out, write_json

from flushwatch.domain.records import MARKET_RECORDS
from flushwatch.domain.tables import key_columns
from flushwatch.store import Store
from flushwatch.store.txn import STAGING
from flushwatch.testing.loopback import LoopbackExchange
from flushwatch.testing.loopback_replay import Recording, load_recording
from flushwatch.testing.shared import data_path
from flushwatch.testing.threaded import served_in_thread

CLI = [sys.executable, "-m", "flushwatch.cli.app"]
HB = "hftbacktest-binance-ws-2024-08-08"
STREAMS = ("depth@0ms", "bookTicker", "trade")
REQUIRE = tuple(f"btcusdt@{s}" for s in STREAMS)


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--import-trials", type=int, default=20, help="default 20")
    parser.add_argument("--record-trials", type=int, default=14, help="default 14")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--json", metavar="PATH", type=Path, help="write results as JSON")
    return parser.parse_args()


def compare(store: Path, clean: Path) -> dict[str, int]:
    """Rows of ``clean`` missing from ``store``, rows ``store`` holds twice, rows only it has."""
    got, want = Store.open(store, create=False), Store.open(clean, create=False)
    lost = dup = extra = rows = 0
    for cls in MARKET_RECORDS:
        keys = key_columns(cls)
        a, b = got.read(cls).select(keys), want.read(cls).select(keys)
        rows += b.height
        if a.height == 0 and b.height == 0:
            continue
        dup += a.height - a.unique().height
        lost += b.join(a, on=keys, how="anti", nulls_equal=True).height
        extra += a.join(b, on=keys, how="anti", nulls_equal=True).height
    return {"rows": rows, "lost": lost, "duplicated": dup, "extra": extra}


def _kill_after(cmd: list[str], seconds: float) -> tuple[int, bool]:
    """Start ``cmd``, SIGKILL it after ``seconds`` unless it ended; (exit code, killed)."""
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        child.wait(seconds)
    except subprocess.TimeoutExpired:
        child.kill()  # SIGKILL, this child only
        child.wait(60)
        return child.returncode, True
    return child.returncode, False


def _run(cmd: list[str], timeout: float = 600) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    if done.returncode not in (0, 1):
        raise RuntimeError(f"{' '.join(cmd[3:6])} failed ({done.returncode}): {done.stderr}")
    return done


# -- import ------------------------------------------------------------------------------------
def import_trial(
    rng: random.Random, inputs: list[Path], clean: Path, span: float, work: Path, kills: int
) -> dict[str, Any]:
    """Kill ``flushwatch import`` ``kills`` times at random moments, then let it finish."""
    store = work / "store"
    cmd = [*CLI, "import", "--store", str(store), "--json", *map(str, inputs)]
    moments, phases, landed = [], [], 0
    for _ in range(kills):
        before = _stagings(store)  # a killed commit's folder stays until recovered
        mode = rng.randrange(3)
        if mode == 0:  # at a random moment of the run
            at = rng.uniform(0.3, span)
            code, killed = _kill_after(cmd, at)
        elif mode == 1:  # while the new parts are written to the staging folder
            ready = functools.partial(_staging, store, before)
            at, killed = _kill_when(cmd, ready, rng.uniform(0.0, 0.5))
            code = 0
        else:  # the moment the commit's journal exists: files are being renamed into place
            at, killed = _kill_when(cmd, functools.partial(_committing, store, before), 0.0)
            code = 0
        moments.append(round(at, 2))
        phases.append(_phase(store, before) if killed else "ended")
        landed += killed
        if not killed and code != 0:
            raise RuntimeError(f"import ended with {code} before its kill")
    _run(cmd)
    return {
        "command": "import",
        "kills": kills,
        "landed": landed,
        "at_s": moments,
        "phases": phases,
    } | compare(store, clean)


def _stagings(store: Path) -> set[str]:
    return {s.name for s in store.glob(f"{STAGING}*")}


def _staging(store: Path, before: set[str]) -> bool:
    """This run has started staging its new files."""
    return any(s.name not in before for s in store.glob(f"{STAGING}*"))


def _committing(store: Path, before: set[str]) -> bool:
    """A commit of this run has written its journal (and is renaming files into place)."""
    fresh = [s for s in store.glob(f"{STAGING}*") if s.name not in before]
    return any((s / "journal.json").exists() for s in fresh)


def _phase(store: Path, before: set[str]) -> str:
    """Where the kill left this run: before staging, files staged, or mid-commit (journal)."""
    staging = [s for s in store.glob(f"{STAGING}*") if s.name not in before]
    if any((s / "journal.json").exists() for s in staging):
        return "commit"
    return "staged" if staging else "parse"


# -- record ------------------------------------------------------------------------------------
@contextmanager
def loopback(recording: Recording) -> Iterator[LoopbackExchange]:
    """A fresh replay of the recording on 127.0.0.1 (a new session gets the whole replay)."""
    with served_in_thread(lambda: LoopbackExchange(recording, require=REQUIRE)) as ex:
        yield ex


def _record_cmd(work: Path, ex: LoopbackExchange, duration: float) -> list[str]:
    config = work / "endpoints.toml"
    config.write_text(
        "[binanceusdm]\noi_interval = 3600.0\n[binanceusdm.endpoints]\n"
        f'public_ws = "{ex.ws_base}/public"\nmarket_ws = "{ex.ws_base}/market"\n'
        f'rest = "{ex.http_base}"\n',
        encoding="utf-8",
    )
    cmd = [*CLI, "record", "--venue", "binanceusdm", "--symbols", "BTCUSDT"]
    cmd += ["--streams", ",".join(STREAMS), "--duration", str(duration), "--json"]
    cmd += ["--store", str(work / "store"), "--recordings", str(work / "rec")]
    return [*cmd, "--config", str(config)]


def _restarts(rec: Path) -> int:
    events = rec / "feed-events.json"
    return events.read_text().count("restarted after a crash") if events.exists() else 0


def _durable(rec: Path) -> bool:
    return any(p.stat().st_size > 0 for p in rec.glob(".*.lines*.part"))


def _restarted(rec: Path, before: int) -> bool:
    return _restarts(rec) > before


def _kill_when(cmd: list[str], ready: Callable[[], bool], then: float) -> tuple[float, bool]:
    """Start ``cmd``; once ``ready()`` holds, wait ``then`` s and SIGKILL it (this child only).

    Returns (seconds from start to the kill, whether it was still running)."""
    start = time.monotonic()
    child = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while not ready():
            if child.poll() is not None or time.monotonic() - start > 120:
                return time.monotonic() - start, False  # ended before the moment came
            time.sleep(0.001)
        try:
            child.wait(then)
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait(60)
            return time.monotonic() - start, True
        return time.monotonic() - start, False
    finally:
        if child.poll() is None:
            child.kill()
            child.wait(60)


def record_trial(
    rng: random.Random, recording: Recording, work: Path, kills: int
) -> dict[str, Any]:
    """Kill ``flushwatch record`` mid-stream (after its first durable lines, plus 0-4 s) and,
    in double trials, kill the restart again during its salvage and catch-up (0-1.5 s after it
    logged the restart), then let a last session end cleanly."""
    rec = work / "rec"
    moments, landed = [], 0
    for n in range(kills):
        if n == 0:
            ready = functools.partial(_durable, rec)
            then = rng.uniform(0.0, 4.0)
        else:
            ready = functools.partial(_restarted, rec, _restarts(rec))
            then = rng.uniform(0.0, 1.5)
        with loopback(recording) as ex:
            at, killed = _kill_when(_record_cmd(work, ex, 60.0), ready, then)
        moments.append(round(at, 2))
        landed += killed
    with loopback(recording) as ex:
        last = _run(_record_cmd(work, ex, 12.0))
    stats = json.loads(last.stdout.strip().splitlines()[-1])
    clean = work / "clean"
    _run([*CLI, "import", "--store", str(clean), "--json", str(work / "rec")])
    events = [
        json.loads(line)
        for line in (work / "rec" / "feed-events.json").read_text().splitlines()
        if line.strip()
    ]
    gaps = [e for e in events if e.get("kind") == "gap" and "restarted" in e.get("detail", "")]
    return {
        "command": "record",
        "kills": kills,
        "landed": landed,
        "at_s": moments,
        "salvaged": len(stats.get("salvaged", [])),
        "caught_up": len(stats.get("caught_up", [])),
        "gap_events": len(gaps),
        "id_gap_events": sum("ids" in e.get("detail", "") for e in gaps),
    } | compare(work / "store", clean)


def main() -> None:
    args = _args()
    out = text_out(args.json)
    rng = random.Random(args.seed)
    usdm = data_path(HB, "usdm_btcusdt_20240808.gz")
    inputs = [usdm, data_path("freqtrade-binance-xrpusdt-perp-2021-11-12")]
    results: list[dict[str, Any]] = []
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fw-kills-") as tmp:
        root = Path(tmp)
        clean = root / "clean-import"
        t0 = time.perf_counter()
        _run([*CLI, "import", "--store", str(clean), "--json", *map(str, inputs)])
        span = time.perf_counter() - t0
        for i in range(args.import_trials):
            work = root / f"import{i}"
            work.mkdir()
            results.append(import_trial(rng, inputs, clean, span, work, 1 + i % 2))
            shutil.rmtree(work)
            print(f"import trial {i}: {results[-1]}", file=sys.stderr)
        recording = load_recording(usdm)
        for i in range(args.record_trials):
            work = root / f"record{i}"
            work.mkdir()
            results.append(record_trial(rng, recording, work, 1 + i % 2))
            shutil.rmtree(work)
            print(f"record trial {i}: {results[-1]}", file=sys.stderr)
    seconds = time.perf_counter() - started
    info = machine_info()
    print_machine(info, out)
    rows = []
    for command in ("import", "record"):
        mine = [r for r in results if r["command"] == command]
        for kills in (1, 2):
            sub = [r for r in mine if r["kills"] == kills]
            rows.append(
                (
                    f"{command}, {'single' if kills == 1 else 'double'} kill",
                    len(sub),
                    sum(r["landed"] for r in sub),
                    sum(r["rows"] for r in sub),
                    sum(r["lost"] for r in sub),
                    sum(r["duplicated"] for r in sub),
                    sum(r["extra"] for r in sub),
                )
            )
    print_table(
        ["trials", "n", "kills landed", "rows compared", "lost", "duplicated", "extra"], rows, out
    )
    total = {k: sum(r[k] for r in results) for k in ("landed", "lost", "duplicated", "extra")}
    phases = Counter(p for r in results for p in r.get("phases", []))
    print(f"import kills landed in: {dict(phases)}", file=out)
    print(
        f"{total['landed']} kill -9s landed in {len(results)} trials ({seconds:.0f} s): "
        f"{total['lost']} rows lost, {total['duplicated']} duplicated, "
        f"{total['extra']} not in any recording",
        file=out,
    )
    write_json(
        args.json,
        {
            "benchmark": "kills",
            "machine": info,
            "seed": args.seed,
            "seconds": seconds,
            "clean_import_s": span,
            "totals": total,
            "import_kill_phases": dict(phases),
            "trials": results,
        },
    )


if __name__ == "__main__":
    pl.Config.set_tbl_rows(0)
    main()
