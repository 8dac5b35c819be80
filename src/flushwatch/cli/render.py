"""Everything the terminal sees; the only module that imports Rich."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import msgspec
from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from flushwatch.analytics.results import FlushEvent
from flushwatch.domain.records import Instrument
from flushwatch.domain.time import iso
from flushwatch.report import odds
from flushwatch.report.model import FlushReport, level_state
from flushwatch.store import ImportSummary, SeriesInfo

console = Console()
err_console = Console(stderr=True)


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


def import_summary(
    summaries: Sequence[ImportSummary],
    skipped: Sequence[str],
    failed: Sequence[tuple[str, str]],
    store: Path,
) -> None:
    """Print what each file added."""
    table = Table(title=f"Imported into {store}", show_lines=False)
    table.add_column("file")
    table.add_column("format")
    table.add_column("rows read", justify="right")
    table.add_column("rows added", justify="right")
    table.add_column("datasets")
    for s in summaries:
        read = sum(s.rows_read.values())
        datasets = ", ".join(f"{k} +{v:,}" for k, v in sorted(s.rows_added.items()) if v) or "-"
        name = Path(s.path).name + (" (seen before)" if s.seen_before else "")
        table.add_row(name, s.format, f"{read:,}", f"{s.added:,}", datasets)
    console.print(table)
    for s in summaries:
        for note in s.notes:
            console.print(f"[yellow]note[/] {Path(s.path).name}: {note}")
    for line in skipped:
        console.print(f"[dim]skipped {line}[/]")
    for path, error in failed:
        err_console.print(f"[red]failed[/] {path}: {error}")
    total = sum(s.added for s in summaries)
    console.print(f"[bold]{total:,}[/] rows added from {len(summaries)} file(s).")


def info(store: Path, series: Sequence[SeriesInfo], instruments: Sequence[Instrument]) -> None:
    """Print the store's series and instruments."""
    table = Table(title=f"Store {store}")
    for col, just in (
        ("dataset", "left"),
        ("exchange", "left"),
        ("market", "left"),
        ("symbol", "left"),
        ("rows", "right"),
        ("first (UTC)", "left"),
        ("last (UTC)", "left"),
    ):
        table.add_column(col, justify=just)  # type: ignore[arg-type]
    for s in series:
        table.add_row(
            s.dataset,
            s.exchange,
            s.market,
            s.symbol,
            f"{s.rows:,}",
            iso(s.first_ts),
            iso(s.last_ts),
        )
    console.print(table)
    if instruments:
        inst = Table(title="Instruments")
        for col in ("exchange", "market", "symbol", "unified", "margin", "contract size"):
            inst.add_column(col)
        for i in instruments:
            inst.add_row(
                i.exchange, i.market, i.symbol, i.unified, i.margin, f"{i.contract_size:g}"
            )
        console.print(inst)
    if not series:
        console.print("The store is empty: add data with `flushwatch import PATH`.")


def formats(rows: Sequence[tuple[str, str]]) -> None:
    """Print the importable formats."""
    table = Table(title="Formats (flushwatch import --format NAME)")
    table.add_column("name")
    table.add_column("what it reads")
    for name, desc in rows:
        table.add_row(name, desc)
    console.print(table)


def table(names: Sequence[str], rows: Sequence[tuple[object, ...]]) -> None:
    """Print a query result."""
    t = Table()
    for n in names:
        t.add_column(n)
    for r in rows:
        t.add_row(*("" if v is None else str(v) for v in r))
    console.print(t)


_SIGNAL_STYLE = {"good": "green", "bad": "red", "neutral": "white", "unknown": "dim"}


def _usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    for unit, div in (("B", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(x) >= div:
            return f"${x / div:,.1f}{unit}"
    return f"${x:,.0f}"


def _change(pct: float) -> str:
    """A signed change with a real minus sign: ``−17.4%``, ``+0.4%`` (never ``−-0.4%``)."""
    return f"{'−' if pct < 0 else '+'}{abs(pct):.1f}%"


def _event_line(e: FlushEvent) -> str:
    oi = "OI n/a" if e.oi_drop_quote_pct is None else f"OI {_change(-e.oi_drop_quote_pct)} (USD)"
    if e.oi_drop_base_pct is not None:
        oi += f", {_change(-e.oi_drop_base_pct)} (coins)"
    liq = (
        f"longs {_usd(e.liq_long_usd)} / shorts {_usd(e.liq_short_usd)}"
        + (" (lower bound)" if e.liq_lower_bound else "")
        if e.liq_long_usd is not None
        else "liquidations n/a"
    )
    return (
        f"{e.kind.replace('_', ' ')} {iso(e.start_ts)} → {iso(e.end_ts)}: {liq}; {oi}; "
        f"price {e.move_pct:+.2f}%, low {e.price_low:,.6g}, wick {e.wick_pct:.2f}%"
    )


def _verdict_lines(report: FlushReport) -> None:
    v = report.verdict
    if v is None:
        console.print("[bold]No flush detected in this window[/]: nothing to judge.")
        return
    colour = {"clean_reset": "green", "inconclusive": "yellow"}.get(v.name, "red")
    console.print(
        f"Verdict: [bold {colour}]{v.name.replace('_', ' ').upper()}[/] "
        f"(confidence {v.confidence:.0%})"
    )
    for reason in v.reasons:
        console.print(f"  • {reason}")
    if v.probabilities:
        t = Table(title="What happens next (estimates)", title_justify="left")
        t.add_column("outcome")
        for h in odds.horizons(v.probabilities):
            t.add_column(f"within {h}")
        for text, cells in odds.rows(v.probabilities):
            t.add_row(text, *cells)
        console.print(t)
        console.print(f"[dim]{odds.footnote(v.probabilities)}[/]")


def _checks(report: FlushReport) -> None:
    if report.checklist:
        t = Table(title="Post-flush checklist", title_justify="left")
        for col in ("item", "state", "evidence"):
            t.add_column(col)
        for c in report.checklist:
            t.add_row(c.name, f"[{_SIGNAL_STYLE[c.signal]}]{c.state}[/]", c.sentence)
        console.print(t)
    if report.risk_box:
        t = Table(title="Risk box (what would invalidate the bounce)", title_justify="left")
        for col in ("rule", "state", "evidence"):
            t.add_column(col)
        for rule in report.risk_box:
            state = {True: "[red]FIRED[/]", False: "[green]not fired[/]", None: "[dim]n/a[/]"}
            t.add_row(rule.name.replace("_", " "), state[rule.fired], "; ".join(rule.evidence))
        console.print(t)


def _levels_and_totals(report: FlushReport) -> None:
    fired = [f.name.replace("_", " ") for f in report.trap if f.fired]
    console.print("Pre-flush conditions: " + (", ".join(fired) if fired else "none fired"))
    if report.levels:
        t = Table(title="Key levels", title_justify="left")
        for col in ("price", "kind", "role", "state"):
            t.add_column(col)
        for lvl in sorted(report.levels, key=lambda x: -x.price):
            t.add_row(f"{lvl.price:,.6g}", lvl.kind.replace("_", " "), lvl.role, level_state(lvl))
        console.print(t)
    if report.liquidations is not None:
        for tot in report.liquidations.by_coverage:
            console.print(
                f"Liquidations ({tot.source}): longs {_usd(tot.long_usd)}, shorts "
                f"{_usd(tot.short_usd)}, total {_usd(tot.total_usd)} — {tot.label}"
            )


def flush_report(report: FlushReport, *, max_events: int = 10) -> None:
    """Print the report a trader can read in a minute."""
    w = report.window
    console.rule(
        f"[bold]{report.asset} flush report as of {report.as_of}[/]  "
        f"(data {w.start} → {w.end}, {w.step_s // 60}m bars)"
    )
    _verdict_lines(report)
    if report.focus is not None:
        console.print(f"[bold]Judged flush[/]: {_event_line(report.focus)}")
    else:
        console.print(f"[bold]Judged flush[/]: none confirmed ended by {report.as_of}")
    if report.in_progress is not None:
        console.print(
            f"[bold yellow]In progress at {report.as_of}[/] (not judged yet): "
            f"{_event_line(report.in_progress)}"
        )
    _checks(report)
    _levels_and_totals(report)
    if report.events:
        console.print(f"[bold]{len(report.events)} flush(es)[/] in the window; latest:")
        for e in report.events[-max_events:]:
            console.print(f"  {_event_line(e)}")
    for note in report.notes:
        console.print(f"[dim]note: {note}[/]")


def events_table(events: Sequence[FlushEvent], asset: str, as_of_ts: int) -> None:
    """Print detected flushes, one per row, under the time they are known as of."""
    t = Table(title=f"{asset}: {len(events)} flush(es), as of {iso(as_of_ts)}")
    for col in (
        "kind",
        "start (UTC)",
        "end (UTC)",
        "long liq",
        "short liq",
        "OI drop",
        "move",
        "low",
        "found by",
    ):
        t.add_column(col)
    for e in events:
        t.add_row(
            e.kind.replace("_", " "),
            iso(e.start_ts),
            iso(e.end_ts),
            _usd(e.liq_long_usd),
            _usd(e.liq_short_usd),
            "n/a" if e.oi_drop_quote_pct is None else f"{e.oi_drop_quote_pct:.1f}%",
            f"{e.move_pct:+.2f}%",
            f"{e.price_low:,.6g}",
            e.detected_by,
        )
    console.print(t)
