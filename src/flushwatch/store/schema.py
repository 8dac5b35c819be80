"""Arrow schemas of the store, built from the domain records (one registry, versioned).

Bump :data:`SCHEMA_VERSION` whenever a column is added, removed, renamed or retyped, or the
file layout changes; a store written with another version is refused with a clear message
rather than misread (``flushwatch migrate`` rewrites a version-1 store).

Versions: 1, one file per UTC day for every dataset; 2, one file per UTC month for the
datasets in :data:`MONTHLY` (a day of hourly data is 24 rows: 965 files held 39k rows of the
freqtrade universe, and every read paid for opening them).
"""

from __future__ import annotations

import polars as pl
import pyarrow as pa

from flushwatch.domain.records import MARKET_RECORDS, Instrument, Record
from flushwatch.domain.tables import columns

SCHEMA_VERSION = 2

#: Datasets whose rows come hourly or slower for most sources (bars of any interval up to
#: minutes are also fine: a month of 1-minute bars is 43,200 rows), partitioned by UTC
#: month; every other dataset (trades, book, quotes, prints, ticks) by UTC day.
MONTHLY: frozenset[str] = frozenset(
    {"bars", "funding", "open_interest", "long_short_ratio", "liquidation_buckets", "taker_flow"}
)

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
