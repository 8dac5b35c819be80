"""Shared helpers for the benchmark scripts in ``bench/`` (not a test module, not a benchmark).

Timing is wall-clock ``time.perf_counter``; every measurement is one warm-up run (not
counted) followed by ``--repeat`` timed runs, summarised by the median; the measurements that
are compared with each other run interleaved (round-robin). Speed is always
reported as a ratio against a baseline measured in the same process and the same run, so
numbers from a loaded or slower machine stay comparable.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import polars as pl

import flushwatch


@dataclass
class Timing:
    """Seconds of every timed run of one measurement."""

    name: str
    seconds: list[float] = field(default_factory=list)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def best(self) -> float:
        return min(self.seconds)

    def as_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "median_s": self.median,
            "min_s": self.best,
            "max_s": max(self.seconds),
            "runs_s": self.seconds,
        }


@dataclass
class Case:
    """One measurement: the timed function, and untimed set-up / tear-down around each run."""

    name: str
    fn: Callable[[], object]
    setup: Callable[[], object] | None = None
    teardown: Callable[[], object] | None = None


def measure(
    cases: Sequence[Case], repeat: int, *, warmup: int = 1
) -> dict[str, tuple[Timing, object]]:
    """Time every case ``warmup`` + ``repeat`` times, round-robin, and keep each last result.

    Round-robin (case A, B, C, then A, B, C again...) rather than case after case, so that a
    change in machine load during the run hits the measurement and its baseline alike, and
    the ratios between them stay meaningful on a busy machine.
    """
    timings = {c.name: Timing(c.name) for c in cases}
    results: dict[str, object] = {}
    for i in range(warmup + repeat):
        for case in cases:
            if case.setup is not None:
                case.setup()
            gc.collect()
            t0 = time.perf_counter()
            results[case.name] = case.fn()
            dt = time.perf_counter() - t0
            if case.teardown is not None:
                case.teardown()
            if i >= warmup:
                timings[case.name].seconds.append(dt)
    return {c.name: (timings[c.name], results[c.name]) for c in cases}


def _cpu_model() -> str | None:
    try:
        text = Path("/proc/cpuinfo").read_text(encoding="utf-8")
    except OSError:
        return platform.processor() or None
    for line in text.splitlines():
        if line.startswith("model name"):
            return line.split(":", 1)[1].strip()
    return None


def machine_info() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "duckdb": duckdb.__version__,
        "polars": pl.__version__,
        "flushwatch": getattr(flushwatch, "__version__", None) or _dist_version(),
        "measured_at_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }


def _dist_version() -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("flushwatch")
    except PackageNotFoundError:
        return None


def print_machine(info: dict[str, Any], out: Any = sys.stdout) -> None:
    print(
        f"machine: {info['cpu_count']} CPUs ({info['cpu_model']}), {info['platform']}\n"
        f"python {info['python']}, duckdb {info['duckdb']}, polars {info['polars']}, "
        f"flushwatch {info['flushwatch']}, measured {info['measured_at_utc']}",
        file=out,
    )


def print_table(headers: Sequence[str], rows: Sequence[Sequence[object]], out: Any) -> None:
    """Print a plain aligned text table (first column left-aligned, the rest right)."""
    cells = [[str(h) for h in headers], *[[_fmt(c) for c in row] for row in rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def line(r: list[str]) -> str:
        return "  ".join(
            c.ljust(w) if i == 0 else c.rjust(w)
            for i, (c, w) in enumerate(zip(r, widths, strict=True))
        )

    print(line(cells[0]), file=out)
    print("  ".join("-" * w for w in widths), file=out)
    for r in cells[1:]:
        print(line(r), file=out)


def _fmt(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        if value >= 1000:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.3f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def common_args(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument(
        "--repeat", type=int, default=5, help="timed runs per measurement (default 5)"
    )
    parser.add_argument(
        "--json",
        metavar="PATH",
        type=Path,
        help="also write the results as JSON to PATH ('-' for stdout; the table then goes "
        "to stderr)",
    )
    return parser


def text_out(json_path: Path | None) -> Any:
    """Where the human table goes: stderr when the JSON goes to stdout."""
    return sys.stderr if json_path is not None and str(json_path) == "-" else sys.stdout


def write_json(json_path: Path | None, payload: dict[str, Any]) -> None:
    if json_path is None:
        return
    text = json.dumps(payload, indent=2) + "\n"
    if str(json_path) == "-":
        sys.stdout.write(text)
    else:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(text, encoding="utf-8")
        sys.stdout.flush()
        print(f"JSON written to {json_path}", file=sys.stderr)
