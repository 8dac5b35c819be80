"""Point-in-time reads: the store as it could have been read at one instant.

A question asked "as of T" must get the answer that was knowable at T, and the same answer
whether or not the store also holds later data. Bounding every read in one place makes that a
property of the read path instead of a promise each kernel keeps:

* a record stamped with its event time is knowable once it happened: ``ts_event <= T``;
* a bar or a vendor bucket is stamped with its *start* and is knowable only once it closed:
  ``ts_event + interval_s <= T`` (a half-finished hour is not a bar yet).

:class:`Reader` is what the composition code (``report.assemble``, ``flushwatch.api``) reads
through; :class:`~flushwatch.store.Store` and :class:`AsOfStore` both satisfy it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

import polars as pl

if TYPE_CHECKING:
    from flushwatch.domain.records import Record
    from flushwatch.store.store import Store


class Reader(Protocol):
    """Anything that reads one dataset filtered by instrument (or base asset) and
    ``[start_ns, end_ns)``."""

    def read(
        self,
        cls: type[Record],
        *,
        exchange: str | None = None,
        market: str | None = None,
        symbol: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        asset: str | None = None,
    ) -> pl.DataFrame:
        """Rows of ``cls`` sorted by ``ts_event`` (of symbols whose base asset is ``asset``)."""
        ...


class AsOfStore:
    """A read-only view of ``store`` holding only what was knowable at ``at_ns``."""

    def __init__(self, store: Store, at_ns: int) -> None:
        self.store = store
        self.at_ns = at_ns

    def read(
        self,
        cls: type[Record],
        *,
        exchange: str | None = None,
        market: str | None = None,
        symbol: str | None = None,
        start_ns: int | None = None,
        end_ns: int | None = None,
        asset: str | None = None,
    ) -> pl.DataFrame:
        """Like :meth:`Store.read`, without anything that happened (or closed) after ``at_ns``."""
        cap = self.at_ns + 1  # ts_event <= at: the read's end is exclusive
        hi = cap if end_ns is None else min(end_ns, cap)
        df = self.store.read(
            cls,
            exchange=exchange,
            market=market,
            symbol=symbol,
            start_ns=start_ns,
            end_ns=hi,
            asset=asset,
        )
        if "interval_s" in df.columns and df.height:
            closes = pl.col("ts_event") + pl.col("interval_s").cast(pl.Int64) * 10**9
            df = df.filter(closes <= self.at_ns)
        return df
