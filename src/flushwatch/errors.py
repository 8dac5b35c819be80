"""One exception root for flushwatch, split by what the user or operator must do.

::

    FlushwatchError
    ├── ConfigError(ValueError)          fix the configuration or the command line
    ├── StoreError                       the store on disk is unusable as it is
    │   └── StoreVersionError            the store was written by another schema version
    ├── InputError(ValueError)           a file to import is unusable; nothing was written
    │   ├── UnknownFormatError           the format could not be detected; pass --format
    │   ├── ChecksumError                a .CHECKSUM beside a zip does not match
    │   └── ParseError                   a value in the file is wrong: names file, line, field
    ├── DataIntegrityError               a feed broke its own rules (sequence gap, checksum)
    └── ConnectorError                   talking to a venue failed
        ├── TransientError               retry later (the connector does, with backoff)
        │   ├── RateLimited              the venue said slow down (429/418); has retry_after
        │   └── ExchangeUnavailable      connection refused, dropped, timed out
        └── PermanentError               retrying will not help: fix the request or config
            ├── BadSymbol                the venue does not know the symbol
            └── NotSupported             the venue or adapter cannot do this

Every user-facing error carries enough to act on without a traceback: the CLI prints
``str(exc)`` and exits non-zero.
"""

from __future__ import annotations

from pathlib import Path


class FlushwatchError(Exception):
    """Root of every error flushwatch raises on purpose."""


class ConfigError(FlushwatchError, ValueError):
    """Configuration or command-line input is invalid (unknown key, bad value)."""


class StoreError(FlushwatchError):
    """The store cannot be opened or written as it is."""


class StoreVersionError(StoreError):
    """The store on disk was written with another schema version."""


class InputError(FlushwatchError, ValueError):
    """A file given to an importer cannot be used; the store was left unchanged."""

    def __init__(self, message: str, *, path: Path | str | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.message = message
        super().__init__(f"{path}: {message}" if path is not None else message)


class UnknownFormatError(InputError):
    """The importer could not tell what the file is; the user should pass ``--format``."""


class ChecksumError(InputError):
    """A Binance Vision ``.CHECKSUM`` file does not match its zip."""


class ParseError(InputError):
    """A value in an input file is invalid; names the file, the line and the field.

    ``line`` is 1-based and counts physical lines of the (decompressed) file, header included.
    """

    def __init__(
        self,
        message: str,
        *,
        path: Path | str,
        line: int | None = None,
        field: str | None = None,
    ) -> None:
        self.line = line
        self.field = field
        where = str(path)
        if line is not None:
            where += f", line {line}"
        if field is not None:
            where += f", field {field!r}"
        self.detail = message
        self.message = message
        FlushwatchError.__init__(self, f"{where}: {message}")
        self.path = Path(path)


class DataIntegrityError(FlushwatchError):
    """A feed violated its own sequencing or checksum rules (a gap, never papered over)."""


class ConnectorError(FlushwatchError):
    """Talking to a venue failed; see the subclasses for whether to retry."""


class TransientError(ConnectorError):
    """A failure that goes away by itself; connectors retry these with backoff."""


class RateLimited(TransientError):
    """The venue asked us to slow down (HTTP 429/418); ``retry_after`` seconds if it said."""

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        self.retry_after = retry_after
        super().__init__(message)


class ExchangeUnavailable(TransientError):
    """The venue could not be reached or dropped the connection."""


class PermanentError(ConnectorError):
    """Retrying will not help: the request or the configuration is wrong."""


class BadSymbol(PermanentError):
    """The venue does not list this symbol."""


class NotSupported(PermanentError):
    """The venue or adapter cannot provide this stream or call (never a silent None)."""
