"""One small store of real data (once per session) and one loopback Dask cluster (once for
this folder)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from flushwatch.api.cluster import local_cluster
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing import dask_tasks

FUTURES = "freqtrade-binance-perp-spot-mark-funding-2018-2026/futures"
#: Three assets with years of hourly perp bars and funding: enough flushes to score.
FILES = tuple(
    f"{FUTURES}/{coin}_USDT_USDT-1h-{kind}.feather"
    for coin in ("BTC", "ETH", "LTC")
    for kind in ("futures", "funding_rate")
)


@pytest.fixture(scope="session")
def dist_store(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A store holding BTC, ETH and LTC hourly perp bars and funding (real data)."""
    root = tmp_path_factory.mktemp("dist") / "store"
    Store.open(root).write([parse(shared_data.joinpath(*f.split("/"))) for f in FILES])
    return root


@pytest.fixture(scope="package")
def scheduler() -> Iterator[str]:
    """The address of a two-worker cluster started as ``--workers 2`` starts one.

    Package-scoped: its worker processes end with the last test of ``tests/dist``.
    """
    # A mark set before the workers start: a forked worker would inherit it, a spawned one not.
    setattr(dask_tasks, dask_tasks.FORK_PROBE, True)
    with local_cluster(2) as cluster:
        yield cluster.scheduler_address
    delattr(dask_tasks, dask_tasks.FORK_PROBE)
