"""Trades sharing a timestamp are stored and read in the venue's trade-id order.

Input: the first 3,000 real Binance USD-M BTCUSDT trades of ``shared/data/hftbacktest-binance-
ws-2024-08-08/usdm_btcusdt_20240808.gz`` (PROVENANCE.md), in stream order.
"""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from flushwatch.domain import Market, Side, Trade
from flushwatch.domain.tables import frame_from_records
from flushwatch.ingest.base import Parsed
from flushwatch.store import Store
from flushwatch.store.io import merge_files, read_file, sort_columns, write_frame

HFT = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
#: The store's order before trade ids ordered ties (price, size, side, then id).
OLD_ORDER = ("ts_event", "exchange", "market", "symbol", "price", "qty", "taker_side", "trade_id")


@pytest.fixture(scope="module")
def stream(shared_data: Path) -> list[Trade]:
    out = []
    with gzip.open(shared_data.joinpath(*HFT), "rt") as fh:
        for line in fh:
            msg = json.loads(line.partition(" ")[2])
            if msg.get("stream", "").endswith("@trade"):
                d = msg["data"]
                out.append(
                    Trade(
                        ts_event=int(d["T"]) * 10**6,
                        exchange="binanceusdm",
                        market=Market.PERP,
                        symbol="BTCUSDT",
                        price=float(d["p"]),
                        qty=float(d["q"]),
                        taker_side=Side.SELL if d["m"] else Side.BUY,
                        trade_id=str(d["t"]),
                    )
                )
                if len(out) == 3_000:
                    break
    return out


def _write(root: Path, trades: list[Trade]) -> Store:
    store = Store.open(root)
    src = root.parent / f"{root.name}.txt"
    src.write_text(str(len(trades)))
    parsed = Parsed(path=src, format="test")
    parsed.add(Trade, frame_from_records(Trade, trades, lines=range(1, len(trades) + 1)))
    store.write([parsed])
    return store


def test_ties_read_in_trade_id_order_which_is_the_stream_order(
    tmp_path: Path, stream: list[Trade]
) -> None:
    assert sort_columns(Trade)[:2] == ("ts_event", "trade_id")
    store = _write(tmp_path / "s", list(reversed(stream)))  # the write sorts
    got = store.read(Trade)
    assert got.get_column("trade_id").to_list() == [t.trade_id for t in stream]
    ts = got.get_column("ts_event")
    tied = got.filter(ts.is_duplicated()).height
    assert tied == 2_319  # of 3,000: most trades share their millisecond with another
    # the old order (ties by price) is another order on this data: the change is visible
    old = got.sort(list(OLD_ORDER), nulls_last=True, maintain_order=True)
    assert old.get_column("trade_id").to_list() != got.get_column("trade_id").to_list()


def test_a_part_written_in_the_old_order_reads_and_merges_in_the_new_one(
    tmp_path: Path, stream: list[Trade]
) -> None:
    """Reads and merges sort, so parts of an older version need no rewrite."""
    ref = _write(tmp_path / "ref", stream)
    (part,) = ref.partitions()[0]
    store = Store.open(tmp_path / "old")
    target = store.partition_path(Trade.dataset, "binanceusdm", "perp", "BTCUSDT", part.stem)
    target.parent.mkdir(parents=True)
    old = read_file(part, Trade).sort(list(OLD_ORDER), nulls_last=True, maintain_order=True)
    write_frame(old, Trade, target)
    assert_frame_equal(Store.open(tmp_path / "old").read(Trade), ref.read(Trade))
    merged = tmp_path / "merged.parquet"
    merge_files([target], Trade, old.height, merged)
    assert_frame_equal(pl.read_parquet(merged), pl.read_parquet(part))
