"""What each CLI command does, kept apart from argument parsing (app.py) and drawing
(render.py) so it can be called and tested directly."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import msgspec

from flushwatch.cli import render
from flushwatch.domain.enums import Market
from flushwatch.errors import ConfigError, InputError, UnknownFormatError
from flushwatch.ingest.base import Hints, Parsed
from flushwatch.ingest.registry import all_formats, detect, get_format, parse
from flushwatch.store import ImportSummary, Store

#: Sidecar files that live beside data files and are read by their importers, not imported.
_SIDECARS = (".md", ".json", ".checksum", ".txt")


class Failure(msgspec.Struct):
    """A file that could not be imported, and why."""

    path: str
    error: str


class ImportReport(msgspec.Struct, kw_only=True):
    """The JSON shape of ``flushwatch import --json``."""

    store: str
    imported: list[dict[str, object]]
    skipped: list[str]
    failed: list[Failure]
    rows_added: int


def _collect(paths: list[Path]) -> list[tuple[Path, bool]]:
    """Expand folders; the flag says whether the user named the file explicitly."""
    out: list[tuple[Path, bool]] = []
    for path in paths:
        if path.is_dir():
            for f in sorted(p for p in path.rglob("*") if p.is_file()):
                if not f.name.lower().endswith(_SIDECARS) and not f.name.startswith("."):
                    out.append((f, False))
        elif path.is_file():
            out.append((path, True))
        else:
            raise InputError("no such file or folder", path=path)
    return out


def _detect(path: Path, mapping: Path | None) -> str:
    """The file's format; a file no format recognises is a vendor CSV when a mapping is given."""
    try:
        return detect(path).name
    except UnknownFormatError:
        if mapping is None:
            raise
        return "vendor-csv"


def _hints(
    exchange: str | None, market: str | None, symbol: str | None, mapping: Path | None
) -> Hints:
    mkt: Market | None = None
    if market is not None:
        try:
            mkt = Market(market)
        except ValueError:
            choices = ", ".join(m.value for m in Market)
            raise ConfigError(f"--market {market!r} is not one of: {choices}") from None
    if mapping is not None and not mapping.is_file():
        raise ConfigError(f"--mapping {mapping}: no such file")
    return Hints(exchange=exchange, market=mkt, symbol=symbol, mapping=mapping)


def _import_bulk(
    store: Store,
    paths: list[Path],
    hints: Hints,
    failed: list[Failure],
    *,
    keep_going: bool,
    quiet: bool,
) -> list[ImportSummary]:
    """Large trades files through DuckDB, one atomic write each, with a progress bar."""
    from flushwatch.api.stream_import import import_trades_bulk

    out = []
    with render.progress(sum(f.stat().st_size for f in paths), quiet=quiet) as bar:
        for path in paths:
            bar.start_file(path)
            size = path.stat().st_size

            def advance(fraction: float, size: int = size) -> None:
                bar.advance_to(int(fraction * size))

            try:
                out.append(import_trades_bulk(store, path, hints, advance))
            except InputError as exc:
                if not keep_going:
                    raise
                failed.append(Failure(str(path), str(exc)))
            bar.finish_file(path)
    return out


def run_import(
    paths: list[Path],
    store_root: Path,
    *,
    format_name: str | None,
    exchange: str | None,
    market: str | None,
    symbol: str | None,
    mapping: Path | None,
    keep_going: bool,
    json_out: bool,
) -> int:
    """Parse every file, then write all of them to the store in one atomic step.

    Trades/aggTrades files of :data:`~flushwatch.api.stream_import.BULK_MIN_BYTES` or more
    take the bulk path afterwards, each file its own atomic, idempotent write.
    """
    from flushwatch.api.stream_import import BULK_FORMATS, BULK_MIN_BYTES

    hints = _hints(exchange, market, symbol, mapping)
    if format_name is not None:
        get_format(format_name)  # fail early on a typo
    files = _collect(paths)
    store = Store.open(store_root)
    parsed: list[Parsed] = []
    bulk: list[Path] = []
    skipped: list[str] = []
    failed: list[Failure] = []
    total = sum(f.stat().st_size for f, _ in files)
    with render.progress(total, quiet=json_out) as bar:
        for path, explicit in files:
            bar.start_file(path)
            try:
                fmt = format_name or _detect(path, mapping)
                if fmt in BULK_FORMATS and path.stat().st_size >= BULK_MIN_BYTES:
                    bulk.append(path)  # written after the others, in bounded memory
                else:
                    parsed.append(parse(path, fmt, hints, bar.advance_to))
            except UnknownFormatError as exc:
                if explicit:
                    if not keep_going:
                        raise
                    failed.append(Failure(str(path), str(exc)))
                else:
                    reason = exc.message
                    if reason.startswith("cannot tell which format"):
                        reason = "not a format flushwatch knows (pass --format to force one)"
                    skipped.append(f"{path}: {reason}")
            except InputError as exc:
                if not keep_going:
                    raise
                failed.append(Failure(str(path), str(exc)))
            bar.finish_file(path)
    summaries = store.write(parsed) if parsed else []
    summaries += _import_bulk(store, bulk, hints, failed, keep_going=keep_going, quiet=json_out)
    added = sum(s.added for s in summaries)
    if json_out:
        report = ImportReport(
            store=str(store_root),
            imported=[msgspec.to_builtins(s) for s in summaries],
            skipped=skipped,
            failed=failed,
            rows_added=added,
        )
        render.print_json(msgspec.to_builtins(report))
    else:
        render.import_summary(summaries, skipped, [(f.path, f.error) for f in failed], store_root)
    return 1 if failed else 0


def run_info(store_root: Path, *, json_out: bool) -> None:
    """Describe the store."""
    from flushwatch.api.workspace import open_workspace

    with render.working("reading the store", quiet=json_out):
        info = open_workspace(store_root).info()
    if json_out:
        render.print_json(info.to_dict())
    else:
        render.info(store_root, info.series, info.instruments)


def run_formats(*, json_out: bool) -> None:
    """List importable formats."""
    rows = [(f.name, f.description) for f in all_formats()]
    if json_out:
        render.print_json([{"name": n, "description": d} for n, d in rows])
    else:
        render.formats(rows)


def run_sql(store_root: Path, query: str, *, json_out: bool, wide: bool = False) -> None:
    """Run SQL against the store's views."""
    from flushwatch.api.workspace import open_workspace

    with render.working("running the query", quiet=json_out):
        result = open_workspace(store_root).sql(query)
    if json_out:
        render.print_json(result.to_dict())
    else:
        render.table(result.columns, result.rows, wide=wide)


def run_compact(store_root: Path, *, json_out: bool) -> None:
    """Merge every day partition of the store into one file per day."""
    store = Store.open(store_root, create=False)
    todo = [files for files in store.partitions() if len(files) > 1]
    total = sum(f.stat().st_size for files in todo for f in files)
    with render.progress(total, quiet=json_out) as bar:

        def started(files: Sequence[Path]) -> None:
            for f in files:  # the bar advances by a partition's bytes as it is merged
                bar.start_file(f)
                bar.finish_file(f)

        summary = store.compact(started)
    if json_out:
        render.print_json({"store": str(store_root), **msgspec.to_builtins(summary)})
    elif summary.partitions == 0:
        render.print_plain(f"Nothing to compact in {store_root}: every day is one file already.")
    else:
        mb_before, mb_after = summary.bytes_before / 1e6, summary.bytes_after / 1e6
        render.print_plain(
            f"Compacted {summary.partitions:,} day partition(s) of {store_root}: "
            f"{summary.files_before:,} files -> {summary.files_after:,} "
            f"({summary.rows:,} rows, {mb_before:,.1f} MB -> {mb_after:,.1f} MB)."
        )


def run_report(
    store_root: Path,
    asset: str,
    *,
    exchange: str | None,
    start: str | None,
    end: str | None,
    at: str | None,
    step: str | None,
    config: Path | None,
    html: Path | None,
    json_out: bool,
) -> None:
    """Ask the API for the report as of ``at``; print it, and write JSON/HTML on request."""
    from flushwatch.api.results import to_json
    from flushwatch.api.workspace import open_workspace
    from flushwatch.config import load_config

    cfg = load_config(config)  # a bad config is reported before the store is opened
    with render.working(f"{asset} report", quiet=json_out) as progress:
        progress("reading the store and judging the latest flush")
        result = open_workspace(store_root).report(
            asset, at=at, start=start, end=end, exchange=exchange, step=step, config=cfg
        )
        if html is not None:
            from flushwatch.report.html import write_html

            progress(f"writing {html}")
            write_html(html, result.report, result.market)
    if json_out:
        render.print_raw(to_json(result.to_dict()).encode())
        return
    render.flush_report(result.report)
    if html is not None:
        render.console.print(f"HTML report written to [bold]{render.escape(str(html))}[/]")


def run_events(
    store_root: Path,
    asset: str,
    *,
    exchange: str | None,
    start: str | None,
    end: str | None,
    step: str | None,
    config: Path | None,
    json_out: bool,
) -> None:
    """List detected flushes."""
    from flushwatch.api.workspace import open_workspace
    from flushwatch.config import load_config

    cfg = load_config(config)
    with render.working(f"{asset} flushes", quiet=json_out):
        result = open_workspace(store_root).events(
            asset, start=start, end=end, exchange=exchange, step=step, config=cfg
        )
    if json_out:
        render.print_json(result.to_dict())
    else:
        render.events_table(result.events, result.asset, result.as_of_ts)
        for name, src in result.sources.items():
            render.console.print(f"[dim]{render.escape(f'{name}: {src}')}[/]")


def run_config(kind: str = "report") -> None:
    """Print the commented template of a config file (report, venue or alerts)."""
    from flushwatch.cli.templates import template

    render.print_plain(template(kind))
