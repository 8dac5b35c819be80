"""Everything the terminal sees; the only module that imports Rich."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import msgspec
from rich import box
from rich.console import Console
from rich.markup import escape as escape  # re-exported: every printer escapes data with it
from rich.progress import (
    BarColumn,
    DownloadColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table
from rich.text import Text

from flushwatch.analytics.flushes import episode_note
from flushwatch.analytics.results import FlushEvent
from flushwatch.domain.numbers import flush_name, pct, signed_pct
from flushwatch.domain.records import Instrument
from flushwatch.domain.time import iso
from flushwatch.report import odds
from flushwatch.report.model import FlushReport, level_state
from flushwatch.store import ImportSummary, SeriesInfo

console = Console()
err_console = Console(stderr=True)


def new_table(
    *columns: str,
    title: str | None = None,
    right: Sequence[str] = (),
    tight: bool = False,
    min_widths: dict[str, int] | None = None,
    max_widths: dict[str, int] | None = None,
) -> Table:
    """A table that never cuts a cell: a long value wraps (or folds) instead of ending in "…".

    Light borders (no vertical rules) leave the columns the room an 80-column terminal has.
    Titles and headers are plain text, so a bracket in them is printed, not read as markup.
    ``tight`` leaves one space between columns instead of three (for many narrow columns);
    ``min_widths`` keeps a column from being squeezed below its longest word (Rich would
    rather fold a date than wrap a phrase in the next column); ``max_widths`` wraps a long
    header over its narrow numbers (Rich's collapse stops short and would crop the table).
    """
    t = Table(
        title=None if title is None else Text(title, style="italic"),
        title_justify="left",
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        padding=(0, 0) if tight else (0, 1),
    )
    for name in columns:
        t.add_column(
            Text(name),
            justify="right" if name in right else "left",
            overflow="fold",
            min_width=(min_widths or {}).get(name),
            max_width=(max_widths or {}).get(name),
        )
    return t


def when(ts_ns: int) -> str:
    """A UTC time for a table cell, in full: ``2026-02-05 20:00`` (seconds when they are set).

    The space lets a narrow column wrap date and time onto two lines instead of cutting them.
    """
    day, _, clock = iso(ts_ns).removesuffix("Z").partition("T")
    if len(clock) == 8 and clock.endswith(":00"):  # whole minutes: no seconds to show
        clock = clock[:5]
    return f"{day} {clock}"


def print_json(obj: object) -> None:
    """Write indented JSON to stdout (no colour, no wrapping)."""
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(obj), indent=2).decode() + "\n")


def print_plain(text: str) -> None:
    """Write text exactly as given (no wrapping: it may be a file the user saves)."""
    sys.stdout.write(text if text.endswith("\n") else text + "\n")


def print_raw(data: bytes) -> None:
    """Write already-encoded JSON to stdout."""
    sys.stdout.write(data.decode() + "\n")


class FileProgress:
    """A progress bar over the bytes of all files being imported."""

    def __init__(self, progress: Progress | None, total: int) -> None:
        self._p = progress
        self._task = progress.add_task("import", total=total, name="") if progress else None
        self._done_before = 0
        self._size = 0

    def start_file(self, path: Path) -> None:
        """Show which file is being read."""
        self._size = path.stat().st_size
        if self._p is not None and self._task is not None:
            self._p.update(self._task, name=path.name)

    def advance_to(self, consumed: int) -> None:
        """Importers report bytes (or lines) consumed; never beyond the file's size."""
        if self._p is not None and self._task is not None:
            self._p.update(self._task, completed=self._done_before + min(consumed, self._size))

    def finish_file(self, path: Path) -> None:
        """Mark the whole file as read."""
        self._done_before += self._size
        if self._p is not None and self._task is not None:
            self._p.update(self._task, completed=self._done_before)


@contextlib.contextmanager
def progress(total: int, *, quiet: bool) -> Iterator[FileProgress]:
    """A progress bar on stderr, hidden for --json and when stderr is not a terminal."""
    if quiet or not err_console.is_terminal:
        yield FileProgress(None, total)
        return
    with Progress(
        TextColumn("[bold]{task.fields[name]}", justify="left"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        yield FileProgress(prog, total)


@contextlib.contextmanager
def working(what: str, *, quiet: bool) -> Iterator[Callable[[str], None]]:
    """A spinner with the current step and the seconds elapsed, on stderr, while a command
    works (``report``, ``map`` and ``backtest-map`` take 4-5 s on a real store, ``demo`` 15 s);
    hidden for --json and when stderr is not a terminal, so it never reaches the output.

    Yields ``step(text)``, which names the step under way.
    """
    if quiet or not err_console.is_terminal:
        yield lambda _text: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task(escape(what))
        yield lambda text: prog.update(task, description=escape(f"{what}: {text}"))


@contextlib.contextmanager
def steps(label: str, *, quiet: bool) -> Iterator[Callable[[str, int, int], None] | None]:
    """A counted progress bar on stderr (``label`` then the step's name, ``index/total``),
    for work reported as ``advance(step, index, total)``; None for --json and off a terminal."""
    if quiet or not err_console.is_terminal:
        yield None
        return
    with Progress(
        TextColumn(f"[bold]{label}{{task.fields[step]}}"),
        BarColumn(),
        MofNCompleteColumn(),
        console=err_console,
        transient=True,
    ) as prog:
        task = prog.add_task(label, total=None, step="")

        def advance(step: str, index: int, total: int) -> None:
            prog.update(task, total=total, completed=index, step=step)

        yield advance


def import_summary(
    summaries: Sequence[ImportSummary],
    skipped: Sequence[str],
    failed: Sequence[tuple[str, str]],
    store: Path,
) -> None:
    """Print what each file added: a table when it fits the terminal, else one line per file
    (long file names would otherwise fold mid-word in a narrow column)."""
    names = ("file", "format", "rows read", "rows added", "datasets")
    rows = []
    for s in summaries:
        read = sum(s.rows_read.values())
        datasets = ", ".join(f"{k} +{v:,}" for k, v in sorted(s.rows_added.items()) if v) or "-"
        name = Path(s.path).name + (" (seen before)" if s.seen_before else "")
        rows.append((name, s.format, f"{read:,}", f"{s.added:,}", datasets))
    if _natural_width(names, rows) <= console.width:
        table = new_table(*names, title=f"Imported into {store}", right=names[2:4])
        for row in rows:
            table.add_row(*(Text(c) for c in row))
        console.print(table)
    else:
        console.print(Text(f"Imported into {store}:", "italic"))
        for name, fmt, n_read, n_added, datasets in rows:
            line = f"  {name} ({fmt}): {n_read} rows read, {n_added} added: {datasets}"
            console.print(Text(line))
    for s in summaries:
        for note in s.notes:
            console.print(f"[yellow]note[/] {escape(Path(s.path).name)}: {escape(note)}")
    for line in skipped:
        console.print(Text(f"skipped {line}", style="dim"))
    for path, error in failed:
        err_console.print(f"[red]failed[/] {escape(path)}: {escape(error)}")
    total = sum(s.added for s in summaries)
    console.print(f"[bold]{total:,}[/] rows added from {len(summaries)} file(s).")


def info(store: Path, series: Sequence[SeriesInfo], instruments: Sequence[Instrument]) -> None:
    """Print the store's series and instruments (one "exchange market symbol" column, so the
    full first and last times fit 80 columns)."""
    table = new_table(
        "dataset", "series", "rows", "first (UTC)", "last (UTC)",
        title=f"Store {store}", right=("rows",),
        min_widths={"first (UTC)": 10, "last (UTC)": 10, "rows": 9},
    )  # fmt: skip
    for s in series:
        table.add_row(
            s.dataset,
            Text(f"{s.exchange} {s.market} {s.symbol}"),
            f"{s.rows:,}",
            when(s.first_ts),
            when(s.last_ts),
        )
    console.print(table)
    if instruments:
        inst = new_table(
            "exchange", "market", "symbol", "unified", "margin", "contract size",
            title="Instruments", right=("contract size",),
        )  # fmt: skip
        for i in instruments:
            inst.add_row(
                *(Text(x) for x in (i.exchange, i.market, i.symbol, i.unified, i.margin)),
                f"{i.contract_size:g}",
            )
        console.print(inst)
    if not series:
        console.print("The store is empty: add data with `flushwatch import PATH`.")


def formats(rows: Sequence[tuple[str, str]]) -> None:
    """Print the importable formats."""
    table = new_table("name", "what it reads", title="Formats (flushwatch import --format NAME)")
    for name, desc in rows:
        table.add_row(Text(name), Text(desc))
    console.print(table)


def _natural_width(names: Sequence[str], rows: Sequence[Sequence[str]]) -> int:
    """The width a :func:`new_table` needs to show every cell on one line."""
    widths = [max([len(n), *(len(r[i]) for r in rows)]) for i, n in enumerate(names)]
    return sum(widths) + 3 * max(len(names) - 1, 0) + 2  # padding and rule between columns


def table(names: Sequence[str], rows: Sequence[tuple[object, ...]], *, wide: bool = False) -> None:
    """Print a query result: a table when it fits the terminal (or with ``wide``, at its full
    width), else one block per row, ``column │ value`` (psql's expanded display), so neither a
    header nor a value is ever cut."""
    cells = [["" if v is None else str(v) for v in r] for r in rows]
    natural = _natural_width(names, cells)
    if wide or natural <= console.width:
        t = new_table(*names)
        for r in cells:
            t.add_row(*(Text(c) for c in r))
        out = Console(width=max(natural, console.width)) if wide else console
        out.print(t, crop=False)
        return
    pad = max(len(n) for n in names)
    for k, r in enumerate(cells, 1):
        console.print(Text(f"-[ row {k} ]-", "dim"))
        for n, c in zip(names, r, strict=True):
            console.print(Text(f"{n.ljust(pad)} │ {c}"))
    console.print(Text(f"({len(cells)} row{'' if len(cells) == 1 else 's'})", "dim"))


_SIGNAL_STYLE = {"good": "green", "bad": "red", "neutral": "white", "unknown": "dim"}


def _usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"${x / div:,.1f}{unit}"
    return f"${x:,.0f}"


def _event_line(e: FlushEvent) -> str:
    oi = "OI n/a" if e.oi_drop_quote_pct is None else f"OI {signed_pct(-e.oi_drop_quote_pct)} (USD)"
    if e.oi_drop_base_pct is not None:
        oi += f", {signed_pct(-e.oi_drop_base_pct)} (coins)"
    liq = (
        f"longs {_usd(e.liq_long_usd)} / shorts {_usd(e.liq_short_usd)}"
        + (" (lower bound)" if e.liq_lower_bound else "")
        if e.liq_long_usd is not None
        else "liquidations n/a"
    )
    note = episode_note(e)
    return (
        f"{flush_name(e.kind)} {iso(e.start_ts)} → {iso(e.end_ts)}"
        f"{'' if note is None else f' ({note})'}: {liq}; {oi}; "
        f"price {signed_pct(e.move_pct, 2)}, low {e.price_low:,.6g}, wick {pct(e.wick_pct, 2)}"
    )


def _verdict_lines(report: FlushReport) -> None:
    v = report.verdict
    if v is None:
        console.print("[bold]No flush detected in this window[/]: nothing to judge.")
        return
    colour = {"clean_reset": "green", "inconclusive": "yellow"}.get(v.name, "red")
    console.print(
        f"Verdict: [bold {colour}]{escape(v.name.replace('_', ' ').upper())}[/] "
        f"(confidence {v.confidence:.0%})"
    )
    for reason in v.reasons:
        console.print(Text(f"  • {reason}"))
    if v.probabilities:
        hz = [f"within {h}" for h in odds.horizons(v.probabilities)]
        t = new_table("outcome", *hz, title="What happens next (estimates)")
        for text, cells in odds.rows(v.probabilities):
            t.add_row(Text(text), *(Text(c) for c in cells))
        console.print(t)
        console.print(Text(odds.footnote(v.probabilities), "dim"))


def _checks(report: FlushReport) -> None:
    if report.checklist:
        t = new_table("item", "state", "evidence", title="Post-flush checklist")
        for c in report.checklist:
            t.add_row(Text(c.name), Text(c.state, _SIGNAL_STYLE[c.signal]), Text(c.sentence))
        console.print(t)
    if report.risk_box:
        t = new_table(
            "rule", "state", "evidence", title="Risk box (what would invalidate the bounce)"
        )
        state = {
            True: Text("FIRED", "red"),
            False: Text("not fired", "green"),
            None: Text("n/a", "dim"),
        }
        for rule in report.risk_box:
            name = Text(rule.name.replace("_", " "))
            t.add_row(name, state[rule.fired], Text("; ".join(rule.evidence)))
        console.print(t)


def _levels_and_totals(report: FlushReport) -> None:
    fired = [f.name.replace("_", " ") for f in report.trap if f.fired]
    console.print(Text("Pre-flush conditions: " + (", ".join(fired) if fired else "none fired")))
    if report.levels:
        t = new_table("price", "kind", "role", "state", title="Key levels", right=("price",))
        for lvl in sorted(report.levels, key=lambda x: -x.price):
            cells = (lvl.kind.replace("_", " "), lvl.role, level_state(lvl))
            t.add_row(f"{lvl.price:,.6g}", *(Text(c) for c in cells))
        console.print(t)
    if report.liquidations is not None:
        for tot in report.liquidations.by_coverage:
            console.print(
                Text(
                    f"Liquidations ({tot.source}): longs {_usd(tot.long_usd)}, shorts "
                    f"{_usd(tot.short_usd)}, total {_usd(tot.total_usd)} — {tot.label}"
                )
            )


def flush_report(report: FlushReport, *, max_events: int = 10) -> None:
    """Print the report a trader can read in a minute."""
    w = report.window
    console.rule()  # the heading below wraps on a narrow terminal; a titled rule would cut it
    console.print(
        Text(
            f"{report.asset} flush report as of {report.as_of}  "
            f"(data {w.start} → {w.end}, {w.step_s // 60}m bars)",
            "bold",
        )
    )
    _verdict_lines(report)
    if report.focus is not None:
        console.print(f"[bold]Judged flush[/]: {escape(_event_line(report.focus))}")
    else:
        console.print(f"[bold]Judged flush[/]: none confirmed ended by {escape(report.as_of)}")
    if report.in_progress is not None:
        console.print(
            f"[bold yellow]In progress at {escape(report.as_of)}[/] (not judged yet): "
            f"{escape(_event_line(report.in_progress))}"
        )
    _checks(report)
    _levels_and_totals(report)
    if report.events:
        console.print(f"[bold]{len(report.events)} flush(es)[/] in the window; latest:")
        for e in report.events[-max_events:]:
            console.print(Text(f"  {_event_line(e)}"))
    for note in report.notes:
        console.print(Text(f"note: {note}", "dim"))


#: ``found by`` abbreviations of :func:`events_table` and their legend.
_FOUND_BY = {"liquidations": "liq", "price_volume": "pv"}
_FOUND_BY_LEGEND = "by: liq = liquidation series, pv = price and volume (no liquidations)"
_REFLARE_LEGEND = (
    "↳ re-flare: starts within flush.episode_gap_hours of the flush before it (one episode)"
)


def events_table(events: Sequence[FlushEvent], asset: str, as_of_ts: int) -> None:
    """Print detected flushes, one per row, under the time they are known as of (sized for
    80 columns: dates wrap under their times, ``found by`` is abbreviated with a legend)."""
    right = ("long liq", "short liq", "OI drop", "move", "low")
    t = new_table(
        "kind", "start (UTC)", "end (UTC)", *right, "by",
        title=f"{asset}: {len(events)} flush(es) in {sum(e.episode_flush == 1 for e in events)} "
        f"episode(s), as of {iso(as_of_ts)}", right=right, tight=True,
        min_widths={"start (UTC)": 10, "end (UTC)": 10, "low": 8, "move": 6},
    )  # fmt: skip
    for e in events:
        t.add_row(
            ("↳ " if e.episode_flush > 1 else "") + e.kind.replace("_", " "),
            when(e.start_ts),
            when(e.end_ts),
            _usd(e.liq_long_usd),
            _usd(e.liq_short_usd),
            pct(e.oi_drop_quote_pct),
            signed_pct(e.move_pct, 2),
            f"{e.price_low:,.6g}",
            _FOUND_BY.get(e.detected_by, e.detected_by),
        )
    console.print(t)
    if events:
        console.print(Text(_FOUND_BY_LEGEND, "dim"))
    if any(e.episode_flush > 1 for e in events):
        console.print(Text(_REFLARE_LEGEND, "dim"))
