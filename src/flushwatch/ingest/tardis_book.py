"""Tardis order-book CSVs: ``book_snapshot_N``, ``incremental_book_L2`` and ``quotes``.

Columns (https://docs.tardis.dev/downloadable-csv-files/data-types):

* ``book_snapshot_25`` / ``book_snapshot_5`` (any depth N): ``asks[0].price, asks[0].amount,
  bids[0].price, bids[0].amount, asks[1].price, ...`` — the top N levels after every update;
  a level is empty when the book has fewer levels.
* ``incremental_book_L2``: ``is_snapshot, side, price, amount``; ``amount`` 0 deletes the
  level, ``is_snapshot`` true rows are (part of) a fresh book that replaces the old one.
* ``quotes`` (and ``book_ticker``, same columns): ``ask_amount, ask_price, bid_price,
  bid_amount``; a side is empty when the book side is empty.

Sizes are the venue's own (contracts or USD for inverse contracts) and are converted to base
units with the symbol's terms (:mod:`flushwatch.ingest.tardis_venues`).
"""

from __future__ import annotations

import re
from pathlib import Path

import polars as pl

from flushwatch.domain.records import BookUpdate, Quote
from flushwatch.domain.tables import LINE
from flushwatch.errors import ParseError
from flushwatch.ingest.base import Hints, Parsed, Progress
from flushwatch.ingest.tardis_common import (
    base_frame,
    check_choice,
    empty,
    header,
    load,
    number,
    require_amount_units,
    to_base,
)

_KEEP = [LINE, "ts_event", "ts_recv", "exchange", "market", "symbol", "_unit", "_factor"]
_LEVEL = re.compile(r"^(asks|bids)\[(\d+)\]\.(price|amount)$")


def _pair_check(
    df: pl.DataFrame, price: pl.Series, amount: pl.Series, names: tuple[str, str], path: Path
) -> None:
    for missing, present, name in ((amount, price, names[1]), (price, amount, names[0])):
        bad = missing.is_null() & present.is_not_null()
        if bad.any():
            raise ParseError(
                "value missing while the other half of the level is present",
                path=path,
                line=int(df.get_column(LINE)[int(bad.arg_true()[0])]),
                field=name,
            )


class TardisBookSnapshot:
    """``book_snapshot_N``: every row is a top-N book; one BookUpdate row per non-empty level."""

    name = "tardis-book-snapshot"
    description = "Tardis.dev book_snapshot_25 / book_snapshot_5 CSV (any depth)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files whose header continues with ``asks[0].price,asks[0].amount,...``."""
        cols = header(head)
        return cols is not None and cols[4:8] == [
            "asks[0].price",
            "asks[0].amount",
            "bids[0].price",
            "bids[0].amount",
        ]

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the file; book levels become snapshot rows in file order."""
        df = load(path, ("asks[0].price", "asks[0].amount"), progress)
        if df is None:
            return empty(path, self.name)
        depth = 1 + max(int(m.group(2)) for c in df.columns if (m := _LEVEL.match(c)))
        parsed = Parsed(path=path, format=self.name)
        df, _ = base_frame(df, path, parsed)
        require_amount_units(df, path)
        frames = []
        for level in range(depth):
            for order, (side, prefix) in enumerate((("ask", "asks"), ("bid", "bids"))):
                names = (f"{prefix}[{level}].price", f"{prefix}[{level}].amount")
                for name in names:
                    if name not in df.columns:
                        raise ParseError("missing column", path=path, line=1, field=name)
                price = number(df, names[0], path)
                amount = number(df, names[1], path)
                _pair_check(df, price, amount, names, path)
                frames.append(
                    df.select(_KEEP).with_columns(
                        pl.lit(side).alias("side"),
                        price.alias("price"),
                        amount.alias("_amount"),
                        pl.lit(level * 2 + order).alias("_order"),
                    )
                )
        levels = (
            pl.concat(frames)
            .filter(pl.col("price").is_not_null())
            .sort([LINE, "_order"])
            .with_columns(
                to_base(pl.col("_amount"), pl.col("price")).alias("qty"),
                pl.lit(value=True).alias("is_snapshot"),
            )
        )
        parsed.add(BookUpdate, levels)
        return parsed


class TardisIncrementalBook:
    """``incremental_book_L2``: one BookUpdate row per CSV row."""

    name = "tardis-incremental-book"
    description = "Tardis.dev incremental_book_L2 CSV (L2 updates with is_snapshot flag)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files whose header continues with ``is_snapshot,side,price,amount``."""
        cols = header(head)
        return cols is not None and cols[4:8] == ["is_snapshot", "side", "price", "amount"]

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the file; ``amount`` 0 (a deleted level) is kept as qty 0."""
        df = load(path, ("is_snapshot", "side", "price", "amount"), progress)
        if df is None:
            return empty(path, self.name)
        parsed = Parsed(path=path, format=self.name)
        df, _ = base_frame(df, path, parsed)
        require_amount_units(df, path)
        snap = check_choice(df, "is_snapshot", ("true", "false"), path) == "true"
        side = check_choice(df, "side", ("bid", "ask"), path)
        df = df.with_columns(
            snap.alias("is_snapshot"),
            side.alias("side"),
            number(df, "price", path).alias("price"),
            number(df, "amount", path).alias("_amount"),
        ).with_columns(to_base(pl.col("_amount"), pl.col("price")).alias("qty"))
        parsed.add(BookUpdate, df)
        return parsed


class TardisQuotes:
    """``quotes`` / ``book_ticker``: best bid and ask; rows with an empty side are skipped."""

    name = "tardis-quotes"
    description = "Tardis.dev quotes / book_ticker CSV (best bid and ask)"
    _COLS = ("ask_amount", "ask_price", "bid_price", "bid_amount")

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim files whose header continues with ``ask_amount,ask_price,bid_price,bid_amount``."""
        cols = header(head)
        return cols is not None and cols[4:8] == list(self._COLS)

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Parse the file; sizes are converted at each side's own price."""
        df = load(path, self._COLS, progress)
        if df is None:
            return empty(path, self.name)
        parsed = Parsed(path=path, format=self.name)
        df, _ = base_frame(df, path, parsed)
        require_amount_units(df, path)
        values = {c: number(df, c, path) for c in self._COLS}
        _pair_check(
            df, values["ask_price"], values["ask_amount"], ("ask_price", "ask_amount"), path
        )
        _pair_check(
            df, values["bid_price"], values["bid_amount"], ("bid_price", "bid_amount"), path
        )
        df = df.with_columns(*(s.alias(c) for c, s in values.items()))
        complete = pl.all_horizontal(pl.col(c).is_not_null() for c in self._COLS)
        skipped = df.height - df.filter(complete).height
        if skipped:
            # Quote needs both sides; a one-sided book has no quote (the empty cell is Tardis's
            # "no value", https://docs.tardis.dev/downloadable-csv-files/api).
            parsed.notes.append(f"{skipped} rows with an empty bid or ask side were skipped")
        df = df.filter(complete).with_columns(
            to_base(pl.col("ask_amount"), pl.col("ask_price")).alias("ask_qty"),
            to_base(pl.col("bid_amount"), pl.col("bid_price")).alias("bid_qty"),
        )
        parsed.add(Quote, df)
        return parsed
