"""A DuckDB connection for untrusted SQL: the store's views and nothing else.

``flushwatch sql`` runs text a user typed (or pasted from somewhere). Before this module it
could ``COPY ... TO`` any path (overwriting a part file breaks the store), read any file with
``read_text``/``glob``, ``ATTACH`` new database files and ``INSTALL`` extensions over the
network. The sandbox closes each of those doors twice:

1. **Statements are allow-listed.** Only ``SELECT`` (which covers ``WITH``, ``FROM ...``,
   ``DESCRIBE``, ``SUMMARIZE``) and ``EXPLAIN`` run; ``COPY``, ``EXPORT``, ``ATTACH``,
   ``INSTALL``, ``LOAD``, ``SET``, ``CREATE`` ... are refused by type before DuckDB executes
   anything, with a message that says so. The result is read-only by construction.
2. **DuckDB is locked down.** The views are Arrow datasets registered from a file list taken
   under the reader lock, so SQL never needs a path: ``enable_external_access = false``
   (no file system or network from SQL), extension auto-install and auto-load off, Python
   replacement scans off (a variable in some frame is not a table), then
   ``lock_configuration = true`` so no statement can undo any of it.

A ``read_parquet`` view cannot serve here: DuckDB checks external access when the view is
*scanned*, not when it is created, so such views stop working once access is disabled.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import duckdb
import pyarrow.dataset as pads

from flushwatch.errors import StoreError

#: Statement types an untrusted query may run: reads only.
ALLOWED = frozenset({duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN})

#: Applied in this order; ``lock_configuration`` last, so nothing can be changed back.
_LOCKDOWN = (
    "SET autoinstall_known_extensions = false",
    "SET autoload_known_extensions = false",
    "SET allow_community_extensions = false",
    "SET python_enable_replacements = false",
    "SET enable_external_access = false",
    "SET lock_configuration = true",
)


def sandboxed(views: Mapping[str, Sequence[Path]]) -> duckdb.DuckDBPyConnection:
    """Return an in-memory connection with one view per name over exactly those Parquet files.

    The file lists are fixed here: hold the store's shared lock while the connection is used,
    so no merge removes a file under it.
    """
    con = duckdb.connect()
    try:
        for name, files in views.items():
            con.register(name, pads.dataset([str(f) for f in files], format="parquet"))
        for setting in _LOCKDOWN:
            con.execute(setting)
    except BaseException:
        con.close()
        raise
    return con


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`StoreError` unless every statement in ``sql`` only reads.

    Parsing happens without executing, so a refused statement never runs, not even partly.
    """
    try:
        statements = con.extract_statements(sql)
    except duckdb.Error as exc:
        raise StoreError(f"query failed: {exc}") from exc
    if not statements:
        raise StoreError("query failed: no SQL statement given")
    for st in statements:
        if st.type not in ALLOWED:
            kind = st.type.name.replace("_STATEMENT", "").replace("_", " ")
            raise StoreError(
                f"query refused: {kind} statements are not allowed; `sql` is read-only and "
                "runs SELECT (or EXPLAIN) over the store's views only"
            )


def refusal(exc: duckdb.Error) -> StoreError:
    """Turn a DuckDB error into a one-line :class:`StoreError`, naming the sandbox if it hit."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    if isinstance(exc, duckdb.PermissionException) or "disabled by configuration" in first:
        return StoreError(
            f"query refused: `sql` reads the store's views only; file, network and extension "
            f"access is disabled ({first})"
        )
    if "configuration has been locked" in first:
        return StoreError(f"query refused: the sandbox's settings cannot be changed ({first})")
    return StoreError(f"query failed: {exc}")  # DuckDB's own text points at the culprit


__all__ = ["ALLOWED", "check_read_only", "refusal", "sandboxed"]
