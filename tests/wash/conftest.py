"""One store of real trade prints (and quotes) for every wash test, built once per session.

The hftbacktest recordings of Binance BTC/ETH (USD-M, spot, COIN-M), 2024-08-08 23:54-00:00
UTC, parsed by the product's importer; only trades and quotes are written, so the store is
small. A second store holds the same rows cut at ``CUT_NS`` (as a download made then would).
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from pathlib import Path

import msgspec
import polars as pl
import pytest

from flushwatch.domain.records import Quote, Trade
from flushwatch.ingest.registry import parse
from flushwatch.store import Store

FILES = (
    "usdm_btcusdt_20240808.gz",
    "usdm_ethusdt_20240808.gz",
    "spot_btcusdt_20240808.gz",
    "cm_btcusd_perp_20240808.gz",
)
FOLDER = "hftbacktest-binance-ws-2024-08-08"
CUT_NS = 1_723_161_420_000_000_000  # 2024-08-08T23:57:00Z


@pytest.fixture(scope="session")
def wash_stores(shared_data: Path) -> Iterator[tuple[Store, Store]]:
    """(whole store, store cut at ``CUT_NS``) of the real prints and quotes."""
    with tempfile.TemporaryDirectory(prefix="flushwatch-wash-") as tmp:
        whole = Store.open(Path(tmp) / "whole")
        cut = Store.open(Path(tmp) / "cut")
        parsed = [parse(shared_data / FOLDER / name) for name in FILES]
        keep = [
            msgspec.structs.replace(p, frames={c: p.frames[c] for c in (Trade, Quote)})
            for p in parsed
        ]
        whole.write(keep)
        cut.write(
            [
                msgspec.structs.replace(
                    p,
                    frames={
                        c: df.filter(pl.col("ts_event") <= CUT_NS) for c, df in p.frames.items()
                    },
                )
                for p in keep
            ]
        )
        yield whole, cut


@pytest.fixture(scope="session")
def wash_store(wash_stores: tuple[Store, Store]) -> Store:
    """The whole store."""
    return wash_stores[0]
