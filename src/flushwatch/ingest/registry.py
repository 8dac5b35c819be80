"""Every importable format, format detection, and the parse-then-validate entry point."""

from __future__ import annotations

import importlib
from functools import cache
from pathlib import Path

from flushwatch.errors import InputError, UnknownFormatError
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.files import read_head
from flushwatch.ingest.validate import validate

#: Modules that export ``FORMATS: tuple[Format, ...]``, in detection order (most specific first).
_MODULES = (
    "flushwatch.ingest.binance_vision",
    "flushwatch.ingest.tardis",
    "flushwatch.ingest.vendor_csv",
    "flushwatch.ingest.freqtrade",
    "flushwatch.ingest.freqtrade_cvd",
    "flushwatch.ingest.multivenue",
    "flushwatch.ingest.vendor_recordings",
    "flushwatch.ingest.recordings",
)


@cache
def all_formats() -> tuple[Format, ...]:
    """Return every registered format."""
    out: list[Format] = []
    for name in _MODULES:
        out.extend(importlib.import_module(name).FORMATS)
    return tuple(out)


def format_names() -> list[str]:
    """Names accepted by ``--format``."""
    return [f.name for f in all_formats()]


def get_format(name: str) -> Format:
    """Look a format up by name, listing the valid names on a typo."""
    for fmt in all_formats():
        if fmt.name == name:
            return fmt
    raise UnknownFormatError(f"unknown format {name!r}; choose one of: {', '.join(format_names())}")


def detect(path: Path) -> Format:
    """Return the format that recognises ``path``, or explain how to say which it is."""
    if not path.is_file():
        raise InputError("no such file", path=path)
    head = read_head(path)
    for fmt in all_formats():
        if fmt.sniff(path, head):
            return fmt
    raise UnknownFormatError(
        "cannot tell which format this is; pass --format with one of: " + ", ".join(format_names()),
        path=path,
    )


def parse(
    path: Path,
    format_name: str | None = None,
    hints: Hints | None = None,
    progress: Progress | None = None,
) -> Parsed:
    """Parse and validate one file; raise :class:`InputError` and write nothing on bad input."""
    fmt = get_format(format_name) if format_name else detect(path)
    if not path.is_file():
        raise InputError("no such file", path=path)
    parsed = fmt.read(path, hints or Hints(), progress)
    for cls, df in parsed.frames.items():
        validate(cls, df, path)
    return parsed
