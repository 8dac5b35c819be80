"""The importer contract: a format sniffs a file and parses it into dataset frames.

An importer never touches the store. It returns a :class:`Parsed` holding one Polars frame
per record type (columns exactly as :func:`flushwatch.domain.tables.schema`, plus ``_line``
with the 1-based source line of each row so that validation errors can point at it) and the
instruments it learned about. Validation and the atomic write happen after the whole file has
parsed, so a bad line anywhere leaves the store untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

import msgspec
import polars as pl

from flushwatch.domain.enums import Market
from flushwatch.domain.records import Instrument, Record
from flushwatch.domain.tables import conform

#: Called with the number of input bytes (or lines) consumed so far, for progress bars.
Progress = Callable[[int], None]


class Hints(msgspec.Struct, frozen=True, kw_only=True):
    """What the user told the importer on the command line, for files that cannot say it.

    A Binance Vision CSV pulled out of its folder tree does not say whether it is spot, USD-M
    or COIN-M; a vendor export may need a column mapping file. Importers use the file's own
    evidence first and raise a clear error asking for the hint when it is missing.
    """

    exchange: str | None = None
    market: Market | None = None
    symbol: str | None = None
    mapping: Path | None = None


class Parsed(msgspec.Struct, kw_only=True):
    """What one input file yielded."""

    path: Path
    format: str
    frames: dict[type[Record], pl.DataFrame] = msgspec.field(default_factory=dict)
    instruments: list[Instrument] = msgspec.field(default_factory=list)
    #: Things the user should know that are not errors (skipped frames, duplicated rows).
    notes: list[str] = msgspec.field(default_factory=list)

    def add(self, cls: type[Record], df: pl.DataFrame) -> None:
        """Append rows of ``cls`` (conformed to its schema) to this result."""
        if df.height == 0:
            return
        df = conform(cls, df)
        prev = self.frames.get(cls)
        self.frames[cls] = df if prev is None else pl.concat([prev, df], how="vertical")

    def add_instrument(self, inst: Instrument) -> None:
        """Remember an instrument once."""
        if inst not in self.instruments:
            self.instruments.append(inst)

    @property
    def rows(self) -> int:
        """Total rows over all datasets."""
        return sum(df.height for df in self.frames.values())


class Format(Protocol):
    """One importable file format.

    ``name`` is what users pass to ``--format``; ``sniff`` looks at the file name and the first
    decompressed bytes and must be cheap and side-effect free; ``read`` parses the whole file.
    """

    name: str
    description: str

    def sniff(self, path: Path, head: bytes) -> bool:
        """Return True when this format recognises the file."""
        ...

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the whole file or raise :class:`flushwatch.errors.InputError`."""
        ...
