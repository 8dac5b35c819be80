"""A CLI that never gets in the way: one-line errors with exit code 2, no markup eating text,
a quote in the store path, and tables that never cut data at 80 columns (issue 15).

The tables are checked in a subprocess with ``COLUMNS=80``, as a user's terminal would be;
everything else runs the real app in process through typer's CliRunner.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import typer.main
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.cli.once import OnceCommand, OnceGroup
from flushwatch.cli.render import when
from flushwatch.testing.real import store_for

COINGLASS_1H = "coinglass-btc-liq-oi-funding-2025-2026/btc_regime_1h_2025-12-04_2026-06-02.csv"
FUNDING = "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"
OKX = "okx-btc-spot-perp-basis-hourly-2025"
runner = CliRunner()


def _commands() -> Iterator[tuple[list[str], Any]]:
    """Every command and group of the app, with its path (``['download', 'coinglass']``)."""

    def walk(cmd: Any, path: list[str]) -> Iterator[tuple[list[str], Any]]:
        yield path, cmd
        for name, sub in sorted(getattr(cmd, "commands", {}).items()):
            yield from walk(sub, [*path, name])

    yield from walk(typer.main.get_command(app), [])


def _one_line_error(result: Any) -> str:
    """The single ``error: ...`` line of a failed run (no traceback, no box)."""
    lines: list[str] = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: "), result.output
    assert "Traceback" not in result.output
    return lines[0]


def test_every_command_and_group_refuses_repeats_and_prints_one_line() -> None:
    groups = [p for p, c in _commands() if hasattr(c, "commands")]
    leaves = [(p, c) for p, c in _commands() if not hasattr(c, "commands")]
    assert ["download"] in groups
    for path, cmd in _commands():
        kind = OnceGroup if hasattr(cmd, "commands") else OnceCommand
        assert isinstance(cmd, kind), (path, type(cmd))
    checked = []
    for path, cmd in leaves:
        single = [
            p
            for p in cmd.params
            if p.param_type_name == "option" and not p.multiple and not p.is_flag and p.opts
        ]
        if not single:
            continue
        opt = single[0].opts[0]
        result = runner.invoke(app, [*path, opt, "1", opt, "2"])
        assert result.exit_code == 2, (path, result.output)
        line = _one_line_error(result)
        assert f"'{opt}': given 2 times ({opt} 1; {opt} 2): give it once" in line, line
        assert f"(see 'flushwatch {' '.join(path)} --help')" in line, line
        checked.append(" ".join(path))
    for name in ("download coinglass", "download binance-vision", "watch", "record", "liq-price"):
        assert name in checked, checked


@pytest.mark.parametrize("args", [[], ["download"]])
def test_a_group_without_a_command_prints_its_help_and_no_error(args: list[str]) -> None:
    result = runner.invoke(app, args)
    assert "Usage: flushwatch" in result.output
    assert "error:" not in result.output


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["bogus"], "No such command 'bogus'"),
        (["download", "bogus"], "No such command 'bogus'"),
        (["report"], "Missing argument 'asset'"),
        (["info", "--bogus"], "No such option: --bogus"),
        (["map", "BTC", "--bins", "3"], "Invalid value for '--bins'"),
    ],
)
def test_usage_errors_are_one_line_with_exit_code_2(args: list[str], needle: str) -> None:
    result = runner.invoke(app, args)
    assert result.exit_code == 2, result.output
    assert needle in _one_line_error(result)


@pytest.mark.parametrize(
    "args",
    [
        ["info"],
        ["sql", "SELECT 1"],
        ["compact"],
        ["migrate"],
        ["report", "BTC"],
        ["events", "BTC"],
        ["map", "BTC"],
        ["cascade", "BTC", "--shock=-3%"],
        ["backtest-map", "BTC"],
        ["scorecard", "BTC"],
        ["simulate"],
        ["demo"],
        ["import", "__data__"],
    ],
)
def test_a_store_path_that_is_a_file_is_refused_in_one_line(
    args: list[str], tmp_path: Path, shared_data: Path
) -> None:
    afile = tmp_path / "afile"
    afile.write_text("not a store\n")
    args = [str(shared_data / FUNDING) if a == "__data__" else a for a in args]
    extra = ["--out", str(tmp_path / "demo")] if args == ["demo"] else []
    result = runner.invoke(app, [*args, "--store", str(afile), *extra])
    assert result.exit_code == 2, result.output
    line = _one_line_error(result)
    assert f"--store {afile} is a file, not a folder: pass a store folder" in line
    assert afile.read_text() == "not a store\n"


def test_demo_out_that_is_a_file_is_refused_in_one_line(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    result = runner.invoke(app, ["demo", "--out", str(afile)])
    assert result.exit_code == 2, result.output
    assert f"--out {afile} is a file, not a folder" in _one_line_error(result)


def test_html_path_that_is_a_folder_is_one_line(tmp_path: Path, shared_data: Path) -> None:
    root = store_for((COINGLASS_1H,)).root
    result = runner.invoke(
        app, ["report", "BTC", "--store", str(root), "--at", "2026-02-07", "--html", str(tmp_path)]
    )
    assert result.exit_code == 2, result.output
    assert (
        _one_line_error(result)
        == f"error: {tmp_path}: Is a directory: give a file path, not a folder"
    )


def test_a_quote_in_the_store_path_works_and_brackets_in_messages_survive(
    tmp_path: Path, shared_data: Path
) -> None:
    root = tmp_path / "trader's data" / "store"
    result = runner.invoke(app, ["import", str(shared_data / OKX), "--store", str(root)])
    assert result.exit_code == 0, result.output
    # PROVENANCE.md: 6,406 rows, four series each (funding, OI, perp and spot prices).
    assert "25,624 rows added from 1 file(s)." in result.output
    assert "okx_btc_spot_vs_swap_hourly_utc.csv (okx-hourly-basis)" in result.output  # whole
    # The skipped original file's advice names the mapping's [time] table: not eaten as markup.
    assert "--mapping FILE whose [time] declares" in " ".join(result.output.split())
    sql = runner.invoke(
        app, ["sql", "SELECT count(*) AS n FROM funding", "--store", str(root), "--json"]
    )
    assert sql.exit_code == 0, sql.output
    assert json.loads(sql.output)["rows"] == [{"n": 6406}]
    info = runner.invoke(app, ["info", "--store", str(root), "--json"])
    assert info.exit_code == 0, info.output
    assert {s["rows"] for s in json.loads(info.output)["series"]} == {6406}
    report = runner.invoke(app, ["report", "BTC", "--store", str(root), "--json"])
    assert report.exit_code == 0, report.output
    # The file's first sample is labelled 2025-03-25 12:00 UTC (PROVENANCE.md: UTC until April).
    assert json.loads(report.stdout)["window"]["start"] == "2025-03-25T12:00:00Z"


def test_help_prints_brackets_as_written() -> None:
    """Every ``[...]`` in a help text reaches the terminal (Rich markup used to eat them)."""
    seen = 0
    for path, cmd in _commands():
        texts = [cmd.help or "", *(getattr(p, "help", None) or "" for p in cmd.params)]
        tokens = [t for text in texts for t in re.findall(r"\[+[^\s\]]+\]+", text)]
        if not tokens:
            continue
        out = runner.invoke(app, [*path, "--help"], terminal_width=200).output
        for token in tokens:
            plain = token.replace("\\[", "[")
            assert plain in out, (path, plain)
            seen += 1
    assert seen >= 3  # [[tiers]], [outcomes], [coinglass] at least


def _run80(*args: str) -> str:
    env = {**os.environ, "COLUMNS": "80", "TERM": "dumb"}
    env.pop("FORCE_COLOR", None)
    out = subprocess.run(
        [sys.executable, "-m", "flushwatch.cli.app", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
        check=False,
    )
    assert out.returncode == 0, out.stderr
    return out.stdout


def _fits(text: str) -> None:
    assert "…" not in text, text
    long = [line for line in text.splitlines() if len(line) > 80]
    assert not long, long


@pytest.fixture(scope="module")
def real_store(shared_data: Path) -> Path:
    return Path(store_for((COINGLASS_1H, FUNDING)).root)


def test_info_and_events_keep_every_date_whole_at_80_columns(real_store: Path) -> None:
    import flushwatch

    ws = flushwatch.open(real_store)
    info = _run80("info", "--store", str(real_store))
    _fits(info)
    for s in ws.info().series:
        for ts in (s.first_ts, s.last_ts):
            day, clock = when(ts).split()
            assert re.search(rf"{day}\s+(\S+\s+)*?{clock}", info, re.S), (day, clock)
    events = _run80("events", "BTC", "--store", str(real_store))
    _fits(events)
    found = ws.events("BTC").events
    assert found
    rows = r"^\s*(↳ )?[a-z][a-z ]*?\s+(\d{4}-\d\d-\d\d) +\d{4}-\d\d-\d\d"
    days = re.findall(rows, events, re.M)
    assert [d for _, d in days] == [when(e.start_ts).split()[0] for e in found]
    # a re-flare is marked, and the legend says what the mark means
    assert [bool(mark) for mark, _ in days] == [e.episode_flush > 1 for e in found]
    assert any(e.episode_flush > 1 for e in found)
    assert "↳ re-flare: starts within flush.episode_gap_hours" in events


@pytest.mark.parametrize(
    "args",
    [
        ("report", "BTC", "--at", "2026-02-07"),
        ("map", "BTC", "--at", "2026-02-05T12:00"),
        ("backtest-map", "BTC", "--protocol", "nowcast"),
        ("scorecard", "BTC"),
    ],
)
def test_tables_fit_80_columns_without_cutting(args: tuple[str, ...], real_store: Path) -> None:
    store = () if args[0] == "formats" else ("--store", str(real_store))
    _fits(_run80(*args, *store))


def test_formats_prints_every_description_whole_at_80_columns() -> None:
    from flushwatch.ingest.registry import all_formats

    out = _run80("formats")
    flat = "".join(out.split())  # a long word folds onto the next line: compare without spaces
    for f in all_formats():  # a description may hold its own "…": it must read whole
        desc = "".join(f.description.split())
        assert desc in flat, desc
        flat = flat.replace(desc, "")
    assert "…" not in flat
    _fits(out.replace("…", ""))  # widths only: the "…" left were the descriptions' own


def test_sql_prints_a_wide_result_as_records_and_whole_with_wide(real_store: Path) -> None:
    query = "SELECT * FROM funding ORDER BY ts_event LIMIT 2"
    out = _run80("sql", query, "--store", str(real_store))
    _fits(out)
    import flushwatch

    res = flushwatch.open(real_store).sql(query)
    assert len(res.columns) >= 6
    for name in res.columns:  # every header whole, on its own line, once per row
        assert len(re.findall(rf"^{re.escape(name)}\s+│", out, re.M)) == 2, name
    assert "(2 rows)" in out
    bad = runner.invoke(app, ["sql", "SELECT nope FROM funding", "--store", str(real_store)])
    assert bad.exit_code == 2  # DuckDB's multi-line message (query, caret) on one line
    assert 'Referenced column "nope" not found' in _one_line_error(bad)
    wide = _run80("sql", query, "--store", str(real_store), "--wide")
    assert "…" not in wide
    header = next(line for line in wide.splitlines() if res.columns[0] in line)
    assert all(name in header for name in res.columns), header


def _tty_stderr(*args: str) -> tuple[int, str, str]:
    """Run the CLI with stderr on a pseudo-terminal (as a user sees it) and stdout piped."""
    import pty
    import threading

    master, slave = pty.openpty()
    env = {**os.environ, "COLUMNS": "80", "TERM": "xterm"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "flushwatch.cli.app", *args],
        stdout=subprocess.PIPE,
        stderr=slave,
        env=env,
    )
    os.close(slave)
    chunks: list[bytes] = []

    def drain() -> None:
        while True:
            try:
                data = os.read(master, 4096)
            except OSError:  # the child closed the terminal
                return
            if not data:
                return
            chunks.append(data)

    reader = threading.Thread(target=drain)
    reader.start()
    assert proc.stdout is not None
    with proc.stdout:
        out = proc.stdout.read().decode()
    code = proc.wait(timeout=300)
    reader.join(timeout=10)
    os.close(master)
    return code, out, b"".join(chunks).decode(errors="replace")


def test_progress_is_on_the_terminals_stderr_and_never_in_json(
    real_store: Path, tmp_path: Path
) -> None:
    page = tmp_path / "r.html"
    args = ("report", "BTC", "--store", str(real_store), "--at", "2026-02-07", "--html", str(page))
    code, out, err = _tty_stderr(*args)
    assert code == 0, err
    assert "BTC report: reading the store and judging the latest flush" in err
    assert "BTC report" not in out
    assert "BTC flush report as of 2026-02-07" in out
    assert page.stat().st_size > 0
    code, out, err = _tty_stderr(*args, "--json")
    assert code == 0, err
    assert json.loads(out)["as_of"] == "2026-02-07T00:00:00Z"  # stdout is the JSON, whole
    assert "BTC report" not in err  # and the terminal shows no bar for --json
