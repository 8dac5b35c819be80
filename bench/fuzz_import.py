"""Fuzz ``flushwatch import``: N mutated real files, how many ended in a traceback (goal 0).

Run: ``.venv/bin/python bench/fuzz_import.py [--inputs 5000] [--seed 0] [--json out.json]``

Each input is one of the REAL seeds of :data:`flushwatch.testing.fuzz.SEEDS` (the head of a
file in ``../shared/data``, one or more per format ``import`` detects there), mutated one to
three times by a seeded ``random.Random`` (truncation, digit swaps, huge numbers, NaN/inf,
empty fields, long or odd symbols, bad timestamps, wrong encodings, dropped/repeated/cut lines,
flipped bytes of feather and gzip files, odd file names). It is imported with the real
``flushwatch import`` code path into a copy of a store that already holds the clean seed.

Counted: ``ok`` (imported), ``error`` (a one-line flushwatch error), ``traceback`` (any other
exception: the bug class), errors whose message does not name the file, and failed imports
that changed any byte of the store. Failing inputs are kept under ``--keep DIR`` when given.
Not a timing benchmark: the seconds are printed only to size the run.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import random
import shutil
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from _common import machine_info, print_machine, print_table, text_out, write_json

from flushwatch.cli.commands import run_import
from flushwatch.testing.fuzz import SEEDS, judge, mutate, seed_bytes, snapshot, template_store
from flushwatch.testing.shared import data_path


def cli_import(path: Path, store: Path) -> None:
    """``flushwatch import --json PATH --store STORE``: the command's own function, output
    discarded (what the fuzz harness passes as its importer)."""
    with contextlib.redirect_stdout(io.StringIO()):
        run_import(
            [path],
            store,
            format_name=None,
            exchange=None,
            market=None,
            symbol=None,
            mapping=None,
            keep_going=False,
            json_out=True,
        )


def _args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument("--inputs", type=int, default=5000, help="mutated inputs (default 5000)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    parser.add_argument("--keep", type=Path, help="copy inputs that failed a promise here")
    parser.add_argument("--json", metavar="PATH", type=Path, help="write results as JSON")
    return parser.parse_args()


def main() -> None:
    args = _args()
    out = text_out(args.json)
    root = data_path()
    rng = random.Random(args.seed)
    by_format: dict[str, Counter[str]] = {}
    kinds: Counter[str] = Counter()
    errors: Counter[str] = Counter()
    steps: Counter[str] = Counter()
    bad: list[dict[str, Any]] = []
    parse_errors = parse_errors_with_line = 0
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fw-fuzz-") as tmp:
        work = Path(tmp)
        seeds = []
        for n, seed in enumerate(SEEDS):
            folder = work / f"seed{n}"
            store = template_store(seed, root, folder, cli_import)
            seeds.append((seed, seed_bytes(seed, root), store, snapshot(store)))
        for i in range(args.inputs):
            seed, data, template, _ = rng.choice(seeds)
            mutant = mutate(seed, data, rng)
            case = work / f"case{i}"
            (case / "in").mkdir(parents=True)
            path = case / "in" / mutant.name
            path.write_bytes(mutant.data)
            store = case / "store"
            shutil.copytree(template, store)
            verdict = judge(path, store, cli_import)
            outcome = verdict.outcome
            kinds[outcome.kind] += 1
            by_format.setdefault(seed.format, Counter())[outcome.kind] += 1
            steps.update(mutant.steps)
            if outcome.kind == "error":
                errors[outcome.exception] += 1
                if outcome.exception == "ParseError":
                    parse_errors += 1
                    parse_errors_with_line += ", line " in outcome.message
            broken = outcome.kind == "traceback" or verdict.store_changed or verdict.unnamed
            if broken:
                bad.append(
                    {
                        "input": i,
                        "seed": "/".join(seed.path),
                        "name": mutant.name,
                        "steps": list(mutant.steps),
                        "kind": outcome.kind,
                        "message": outcome.message[:500],
                        "store_changed": verdict.store_changed,
                        "unnamed": verdict.unnamed,
                    }
                )
                if args.keep is not None:
                    keep = args.keep / f"case{i}"
                    keep.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(path, keep / mutant.name)
            shutil.rmtree(case)
    seconds = time.perf_counter() - started
    info = machine_info()
    print_machine(info, out)
    print(
        f"{args.inputs:,} mutated inputs from {len(SEEDS)} real seeds in {seconds:.0f} s", file=out
    )
    rows = [(fmt, c["ok"], c["error"], c["traceback"]) for fmt, c in sorted(by_format.items())]
    rows.append(("total", kinds["ok"], kinds["error"], kinds["traceback"]))
    print_table(["format", "ok", "error", "traceback"], rows, out)
    changed = sum(b["store_changed"] for b in bad)
    unnamed = sum(b["unnamed"] for b in bad)
    print(
        f"tracebacks: {kinds['traceback']}   failed imports that changed the store: {changed}"
        f"   errors not naming the file: {unnamed}"
        f"   ParseErrors naming a line: {parse_errors_with_line}/{parse_errors}",
        file=out,
    )
    for b in bad[:20]:
        print(
            f"  #{b['input']} {b['seed']} {b['steps']}: {b['kind']} {b['message'][:160]}", file=out
        )
    write_json(
        args.json,
        {
            "benchmark": "fuzz_import",
            "machine": info,
            "inputs": args.inputs,
            "seed": args.seed,
            "seeds": ["/".join(s.path) for s in SEEDS],
            "seconds": seconds,
            "outcomes": dict(kinds),
            "tracebacks": kinds["traceback"],
            "store_changed_on_failure": changed,
            "errors_not_naming_file": unnamed,
            "parse_errors": parse_errors,
            "parse_errors_with_line": parse_errors_with_line,
            "errors_by_type": dict(errors),
            "by_format": {k: dict(v) for k, v in sorted(by_format.items())},
            "mutations": dict(steps),
            "failures": bad,
        },
    )


if __name__ == "__main__":
    main()
