"""The DuckDB/Parquet store: the only layer that touches DuckDB and Arrow.

The names below load on first use (PEP 562): importing a light submodule such as
:mod:`flushwatch.store.location` (every command's ``--store`` default) must not pull in
DuckDB, Polars and Arrow.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flushwatch.store.location import default_store_path
    from flushwatch.store.schema import SCHEMA_VERSION, SCHEMAS
    from flushwatch.store.store import CompactSummary, ImportSummary, SeriesInfo, Store

_WHERE = {
    "default_store_path": "flushwatch.store.location",
    "SCHEMA_VERSION": "flushwatch.store.schema",
    "SCHEMAS": "flushwatch.store.schema",
    "CompactSummary": "flushwatch.store.store",
    "ImportSummary": "flushwatch.store.store",
    "SeriesInfo": "flushwatch.store.store",
    "Store": "flushwatch.store.store",
}

__all__ = [
    "SCHEMAS",
    "SCHEMA_VERSION",
    "CompactSummary",
    "ImportSummary",
    "SeriesInfo",
    "Store",
    "default_store_path",
]


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module 'flushwatch.store' has no attribute {name!r}")
    value = getattr(import_module(where), name)
    globals()[name] = value
    return value
