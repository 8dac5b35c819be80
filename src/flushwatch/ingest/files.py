"""Open input files whatever their compression: plain, ``.gz``, ``.zst`` or a ``.zip``; read
columnar files (feather, Parquet) with a corrupt file named as an input error.

Binance Vision ships one CSV per zip with a ``<zip>.CHECKSUM`` file beside it holding
``<sha256>  <name>``; when that file exists it is verified before anything is parsed.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import zipfile
import zlib
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Literal

import polars as pl
import zstandard

from flushwatch.errors import ChecksumError, InputError

HEAD_BYTES = 64 * 1024


def logical_name(path: Path) -> str:
    """Return the file name without compression suffixes (``x.csv.gz`` → ``x.csv``)."""
    name = path.name
    for suffix in (".gz", ".zst", ".zip"):
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name


def verify_checksum(path: Path) -> bool:
    """Verify ``path`` against ``path.CHECKSUM`` if present; return whether one was checked."""
    sidecar = path.with_name(path.name + ".CHECKSUM")
    if not sidecar.exists():
        return False
    parts = sidecar.read_text(encoding="ascii", errors="replace").split()
    if not parts or len(parts[0]) != 64:
        raise ChecksumError(f"{sidecar.name} does not hold a SHA-256 digest", path=path)
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest.lower() != parts[0].lower():
        raise ChecksumError(
            f"SHA-256 is {digest} but {sidecar.name} says {parts[0]}: the download is corrupt or "
            "incomplete; download it again",
            path=path,
        )
    return True


def read_bytes(path: Path) -> bytes:
    """Return the decompressed content of ``path``.

    Raises :class:`InputError` naming the file for truncated or corrupt archives.
    """
    lower = path.name.lower()
    try:
        if lower.endswith(".zip"):
            verify_checksum(path)
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.namelist() if not m.endswith("/")]
                if len(members) != 1:
                    raise InputError(
                        f"expected one file inside the zip, found {len(members)}", path=path
                    )
                return zf.read(members[0])
        if lower.endswith(".gz"):
            return gzip.decompress(path.read_bytes())
        if lower.endswith(".zst"):
            with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as reader:
                return reader.read()
        return path.read_bytes()
    except (zipfile.BadZipFile, EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError) as exc:
        raise InputError(
            f"cannot decompress ({exc}); the file is truncated or corrupt", path=path
        ) from exc
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from exc


def read_head(path: Path, size: int = HEAD_BYTES) -> bytes:
    """Return up to ``size`` decompressed bytes from the start of ``path`` for sniffing."""
    lower = path.name.lower()
    try:
        if lower.endswith(".zip"):
            with zipfile.ZipFile(path) as zf:
                names = [m for m in zf.namelist() if not m.endswith("/")]
                if not names:
                    return b""
                with zf.open(names[0]) as fh:
                    return fh.read(size)
        if lower.endswith(".gz"):
            with gzip.open(path, "rb") as fh:
                return fh.read(size)
        if lower.endswith(".zst"):
            with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as reader:
                return reader.read(size)
        with path.open("rb") as fh:
            return fh.read(size)
    except (zipfile.BadZipFile, EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError) as exc:
        raise InputError(
            f"cannot decompress ({exc}); the file is truncated or corrupt", path=path
        ) from exc
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from exc


def iter_lines(path: Path) -> Iterator[bytes]:
    """Yield the decompressed lines of ``path`` one by one (without line ends), never the
    whole file at once: what lets a catch-up import a large recording in bounded memory.

    Plain, ``.gz`` (any number of members) and ``.zst`` stream; a ``.zip`` is read whole.
    """
    lower = path.name.lower()
    try:
        if lower.endswith(".zip"):
            yield from read_bytes(path).split(b"\n")
            return
        with contextlib.ExitStack() as stack:
            raw = stack.enter_context(path.open("rb"))
            fh: Iterable[bytes]
            if lower.endswith(".gz"):
                fh = stack.enter_context(gzip.GzipFile(fileobj=raw))
            elif lower.endswith(".zst"):
                reader = zstandard.ZstdDecompressor().stream_reader(raw)
                fh = stack.enter_context(io.BufferedReader(reader))
            else:
                fh = raw
            for line in fh:
                yield line.rstrip(b"\n")
    except (EOFError, gzip.BadGzipFile, zlib.error, zstandard.ZstdError) as exc:
        raise InputError(
            f"cannot decompress ({exc}); the file is truncated or corrupt", path=path
        ) from exc
    except OSError as exc:
        raise InputError(f"cannot read: {exc.strerror or exc}", path=path) from exc


def text_lines(data: bytes, path: Path) -> list[str]:
    """Decode UTF-8 (with or without BOM) into lines, naming the file on bad bytes."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise InputError(f"line {line}: not UTF-8 text ({exc.reason})", path=path) from exc
    return text.splitlines()


def read_columnar(path: Path, kind: Literal["feather", "Parquet"]) -> pl.DataFrame:
    """Read a ``"feather"`` (Arrow IPC) or ``"Parquet"`` file whole.

    A corrupt buffer or footer can make Polars panic (a Rust panic arrives as
    ``PanicException``, a BaseException): that is a bad file, reported as an
    :class:`InputError` naming it, not a traceback.
    """
    read = pl.read_ipc if kind == "feather" else pl.read_parquet
    try:
        return read(path)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError) as exc:
        raise InputError(f"cannot read {kind} file: {str(exc).splitlines()[0]}", path=path) from exc
