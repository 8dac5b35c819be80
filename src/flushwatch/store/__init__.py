"""The DuckDB/Parquet store: the only layer that touches DuckDB and Arrow."""

from flushwatch.store.location import default_store_path
from flushwatch.store.schema import SCHEMA_VERSION, SCHEMAS
from flushwatch.store.store import CompactSummary, ImportSummary, SeriesInfo, Store

__all__ = [
    "SCHEMAS",
    "SCHEMA_VERSION",
    "CompactSummary",
    "ImportSummary",
    "SeriesInfo",
    "Store",
    "default_store_path",
]
