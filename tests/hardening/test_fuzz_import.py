"""Issue 14, "tracebacks in fuzzing": mutated REAL files never end an import in a traceback.

Every seed is the head of a real file in ``../shared/data`` (:data:`flushwatch.testing.fuzz.SEEDS`,
one or more per format ``flushwatch import`` detects there); hypothesis drives the mutations
(truncation, digit swaps, huge numbers, NaN/inf, empty fields, long and odd symbols, bad
timestamps, wrong encodings, flipped bytes of feather and gzip files). Each mutant goes through
the real import path into a store that already holds the clean seed. The property: it imports,
or it fails with a flushwatch error naming the file and leaves the store byte-identical.
Bounded and deterministic (``derandomize``): a few examples per seed here, thousands in
``bench/fuzz_import.py``.
"""

from __future__ import annotations

import contextlib
import io
import random
import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flushwatch.cli.commands import run_import
from flushwatch.testing.fuzz import SEEDS, Seed, judge, mutate, seed_bytes, template_store

EXAMPLES = 8  # per seed: 32 seeds x 8 = 256 imports, about 10 s on 2 cores


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


@pytest.fixture(scope="module")
def templates(
    shared_data: Path, tmp_path_factory: pytest.TempPathFactory
) -> dict[Seed, tuple[bytes, Path]]:
    """Each seed's bytes and a store holding its clean import (built once)."""
    root = tmp_path_factory.mktemp("fuzz-templates")
    out = {}
    for n, seed in enumerate(SEEDS):
        store = template_store(seed, shared_data, root / f"s{n}", cli_import)
        out[seed] = (seed_bytes(seed, shared_data), store)
    return out


@pytest.mark.parametrize("seed", SEEDS, ids=lambda s: f"{s.format}:{s.name}")
def test_a_mutated_real_file_imports_or_fails_cleanly(
    seed: Seed, templates: dict[Seed, tuple[bytes, Path]], tmp_path: Path
) -> None:
    data, template = templates[seed]
    counter = iter(range(10**6))

    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow],
    )
    @given(rnd=st.randoms(use_true_random=False))
    def check(rnd: random.Random) -> None:
        case = tmp_path / f"case{next(counter)}"
        mutant = mutate(seed, data, rnd)
        path = case / "in" / mutant.name
        path.parent.mkdir(parents=True)
        path.write_bytes(mutant.data)
        shutil.copytree(template, case / "store")
        verdict = judge(path, case / "store", cli_import)
        outcome = verdict.outcome
        assert outcome.kind != "traceback", f"{mutant.steps}: {outcome.message}"
        assert not verdict.store_changed, f"{mutant.steps}: a failed import changed the store"
        assert not verdict.unnamed, f"{mutant.steps}: the error does not name the file"
        shutil.rmtree(case)

    check()


def test_a_corrupt_feather_file_is_a_one_line_error(shared_data: Path, tmp_path: Path) -> None:
    """Found by the fuzz bench: flipped bytes inside a REAL freqtrade feather file's Arrow
    buffers made Polars' reader panic (a Rust panic reaches Python as a BaseException, so it
    escaped ``except Exception`` as a traceback). Now a one-line InputError naming the file."""
    seed = next(s for s in SEEDS if s.name.endswith(".feather"))
    data = bytearray(seed_bytes(seed, shared_data))
    # 200 copies with 8 random bytes overwritten each (seeded): before the fix some of them
    # panicked in Polars' IPC reader (the test failed); now each imports or is refused.
    rnd = random.Random(0)
    hits = 0
    for attempt in range(200):
        mutant = bytearray(data)
        for _ in range(8):
            mutant[rnd.randrange(len(mutant))] = rnd.randrange(256)
        path = tmp_path / f"a{attempt}" / seed.name
        path.parent.mkdir()
        path.write_bytes(bytes(mutant))
        verdict = judge(path, tmp_path / f"a{attempt}" / "store", cli_import)
        assert verdict.outcome.kind != "traceback", verdict.outcome.message
        if verdict.outcome.kind == "error":
            hits += 1
            assert seed.name in verdict.outcome.message
            assert "\n" not in verdict.outcome.message
    assert hits > 0


def test_an_integer_beyond_64_bits_in_a_recording_names_its_line(
    shared_data: Path, tmp_path: Path
) -> None:
    """Found by the fuzz bench: a trade time of 2**64 ms in a REAL ws-lines head made the frame
    build overflow (polars ComputeError/OverflowError, a traceback). Now: file, line, field."""
    seed = next(s for s in SEEDS if s.name == "usdm_btcusdt_20240808")
    lines = seed_bytes(seed, shared_data).split(b"\n")
    n = next(i for i, line in enumerate(lines) if b'"e":"trade"' in line)
    lines[n] = re.sub(rb'"T":\d+', b'"T":18446744073709551616', lines[n], count=1)
    path = tmp_path / "in" / seed.name
    path.parent.mkdir()
    path.write_bytes(b"\n".join(lines))
    outcome = judge(path, tmp_path / "store", cli_import).outcome
    assert outcome.kind == "error", outcome.message
    assert f"line {n + 1}, field 'ts_event'" in outcome.message
    assert "out of range for a 64-bit integer" in outcome.message


def test_a_csv_with_lone_carriage_returns_is_an_error_not_a_traceback(
    shared_data: Path, tmp_path: Path
) -> None:
    """Found by the fuzz bench (its input #309): the REAL COIN-M klines excerpt whose header and
    first row are joined by a lone CR, that line repeated last, made the cut-short check's csv
    reader raise ``_csv.Error``."""
    seed = next(s for s in SEEDS if s.name == "cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv")
    lines = seed_bytes(seed, shared_data).rstrip(b"\n").split(b"\n")
    joined = lines[0] + b"\r" + lines[1]  # header and first row, one CR apart
    data = b"\n".join([joined, *lines[2:], b"", joined])
    path = tmp_path / "in" / seed.name
    path.parent.mkdir()
    path.write_bytes(data)
    outcome = judge(path, tmp_path / "store", cli_import).outcome
    assert outcome.kind != "traceback", outcome.message


@pytest.mark.parametrize(
    ("damage", "line"),
    [
        (lambda rows: rows[3].replace(b",", b",1,5,", 1), 4),  # a field too many
        (lambda rows: rows[2][:10] + b"\xff" + rows[2][10:], 3),  # not UTF-8
        (lambda rows: rows[4].replace(b",", b',"', 1), 5),  # a quote never closed
    ],
)
def test_a_malformed_csv_line_is_named(
    shared_data: Path, tmp_path: Path, damage: Callable[[list[bytes]], bytes], line: int
) -> None:
    """The fuzz bench's ParseErrors without a line were all Polars refusing the CSV as a whole
    ("found more fields than defined in 'Schema'", "invalid utf-8 sequence", an unclosed
    quote): the line is now found and named. REAL Tardis quotes sample, one line damaged."""
    seed = next(s for s in SEEDS if s.format == "tardis-quotes")
    rows = seed_bytes(seed, shared_data).split(b"\n")
    rows[line - 1] = damage(rows)
    path = tmp_path / "in" / seed.name
    path.parent.mkdir()
    path.write_bytes(b"\n".join(rows))
    outcome = judge(path, tmp_path / "store", cli_import).outcome
    assert outcome.exception == "ParseError", outcome.message
    assert f"{seed.name}, line {line}:" in outcome.message
    assert "not a well-formed CSV file" in outcome.message
