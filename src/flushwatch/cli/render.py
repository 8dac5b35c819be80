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

from flushwatch.domain.records import Instrument
from flushwatch.domain.time import iso
from flushwatch.store import ImportSummary, SeriesInfo

console = Console()
err_console = Console(stderr=True)


def print_json(obj: object) -> None:
    """Write indented JSON to stdout (no colour, no wrapping)."""
    sys.stdout.write(msgspec.json.format(msgspec.json.encode(obj), indent=2).decode() + "\n")


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
