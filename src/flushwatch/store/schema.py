"""Arrow schemas of the store, built from the domain records (one registry, versioned).

Bump :data:`SCHEMA_VERSION` whenever a column is added, removed, renamed or retyped; a store
written with another version is refused with a clear message rather than misread.
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from flushwatch.domain.records import MARKET_RECORDS, Instrument, Record
from flushwatch.domain.tables import columns

SCHEMA_VERSION = 1

_ARROW: dict[type[pl.DataType], pa.DataType] = {
    pl.Int64: pa.int64(),
    pl.Float64: pa.float64(),
    pl.String: pa.string(),
    pl.Boolean: pa.bool_(),
}


def arrow_schema(cls: type[Record] | type[Instrument]) -> pa.Schema:
    """Return the Arrow schema of one dataset, tagged with the schema version."""
    fields = [pa.field(c.name, _ARROW[type(c.dtype)], nullable=c.nullable) for c in columns(cls)]
    meta = {
        b"flushwatch.dataset": cls.dataset.encode(),
        b"flushwatch.schema": str(SCHEMA_VERSION).encode(),
    }
    return pa.schema(fields, metadata=meta)


SCHEMAS: dict[str, pa.Schema] = {cls.dataset: arrow_schema(cls) for cls in MARKET_RECORDS}
SCHEMAS[Instrument.dataset] = arrow_schema(Instrument)
