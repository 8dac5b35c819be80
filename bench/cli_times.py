"""Wall time of each CLI command on a real store, to decide which show a spinner (> ~2 s).

Usage: ``.venv/bin/python bench/cli_times.py [STORE]`` (default ``./out/store``, built as the
README's "On real data" says). Each command runs once in a fresh process, output discarded;
``simulate`` and ``demo`` write under a temporary folder.
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path


def main() -> None:
    """Time every command and print one line each."""
    store = sys.argv[1] if len(sys.argv) > 1 else "out/store"
    out = Path(tempfile.mkdtemp(prefix="flushwatch-cli-times-"))
    s = ("--store", store)
    commands: list[tuple[str, ...]] = [
        ("formats",),
        ("info", *s),
        ("sql", "SELECT count(*) FROM bars", *s),
        ("report", "BTC", "--at", "2026-02-07", *s),
        ("report", "BTC", "--at", "2026-02-07", "--html", str(out / "r.html"), *s),
        ("events", "BTC", *s),
        ("map", "BTC", "--at", "2026-02-05T12:00", *s),
        ("map", "BTC", "--at", "2026-02-05T12:00", "--html", str(out / "m.html"), *s),
        ("cascade", "BTC", "--shock=-3%", "--at", "2026-02-07", *s),
        ("backtest-map", "BTC", *s),
        ("simulate", "--store", str(out / "sim")),
        ("demo", "--out", str(out / "demo")),
    ]
    for args in commands:
        t0 = time.perf_counter()
        code = subprocess.run(
            [sys.executable, "-m", "flushwatch.cli.app", *args],
            capture_output=True,
            check=False,
        ).returncode
        shown = " ".join(a.replace(str(out), "TMP").replace(store, "STORE") for a in args)
        print(f"{time.perf_counter() - t0:7.2f} s  exit {code}  flushwatch {shown}")


if __name__ == "__main__":
    main()
