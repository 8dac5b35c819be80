"""Open interest polled over REST (Binance streams none, DOMAIN.md C10), end to end.

The loopback exchange replays the start of a real recording and answers
``/fapi/v1/openInterest`` / ``/dapi/v1/openInterest`` with CONSTRUCTED bodies in the
documented layout (a deterministic sequence, see ``open_interest_body``), rate limiting the
first one. The connector must wait the ``Retry-After``, then poll no faster than its
interval; the recorder must store exactly the expected rows, and ``flushwatch import`` of the
recorder's REST file must give the same rows again.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import msgspec
import numpy as np
import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.connectors.base import Capability, FeedEvent, RawFrame
from flushwatch.connectors.binance import BinanceConnector
from flushwatch.connectors.config import Backoff, ConnectorConfig, Endpoints, load_config
from flushwatch.domain.enums import Market
from flushwatch.domain.records import OpenInterest
from flushwatch.domain.tables import frame_from_records, key_columns
from flushwatch.errors import ConfigError
from flushwatch.live.recorder import EVENTS, Recorder, RecorderConfig
from flushwatch.live.state import LiveState
from flushwatch.store import Store
from flushwatch.testing.loopback import Faults, LoopbackExchange
from flushwatch.testing.loopback_replay import (
    OI_START,
    OI_STEP,
    Recording,
    load_recording,
    open_interest_body,
)

FOLDER = "hftbacktest-binance-ws-2024-08-08"
INTERVAL = 0.2  # seconds between polls in these tests (the default is 5 s)
POLLS = 5


class Case(msgspec.Struct, frozen=True):
    """One futures venue: its recording, symbol, API prefix and the rate-limit status used."""

    exchange: str
    file: str
    symbol: str
    api: str
    status: int


USDM = Case("binanceusdm", "usdm_btcusdt_20240808.gz", "BTCUSDT", "fapi", 429)
COINM = Case("binancecoinm", "cm_btcusd_perp_20240808.gz", "BTCUSD_PERP", "dapi", 418)


class Run(msgspec.Struct):
    """What a polling session left behind."""

    store: Store
    rec: Path
    requests: list[float]
    served: list[str]
    events: list[dict[str, object]]


def _short(shared: Path, case: Case) -> Recording:
    full = load_recording(shared / FOLDER / case.file)
    return Recording(frames=full.frames[:3000], snapshots=full.snapshots)


async def _polls(conn: BinanceConnector, n: int) -> AsyncIterator[RawFrame | FeedEvent]:
    """The connector's output until ``n`` open-interest bodies came through."""
    deadline = time.monotonic() + 60
    got = 0
    async with conn:
        async for item in conn.frames():
            yield item
            if isinstance(item, RawFrame) and item.http and "/openInterest" in item.url:
                got += 1
                if got == n:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"timed out after {got} of {n} open-interest polls")


def _poll(case: Case, recording: Recording, root: Path) -> Run:
    store = Store.open(root / "store")
    faults = Faults(limit_open_interest=1, limit_status=case.status, retry_after=0.5)

    async def main() -> tuple[list[float], list[str]]:
        stream = f"{case.symbol.lower()}@trade"
        async with LoopbackExchange(recording, faults=faults, require=(stream,)) as ex:
            ep = Endpoints(public_ws=ex.ws_base, market_ws=ex.ws_base, rest=ex.http_base)
            fast = Backoff(initial=0.01, maximum=0.2, timeout=30)
            cfg = ConnectorConfig(endpoints=ep, backoff=fast, oi_interval=INTERVAL)
            conn = BinanceConnector(case.exchange, [case.symbol], ["trade"], cfg)
            rec = Recorder(
                RecorderConfig(recordings=root / "rec", batch_s=0.5),
                exchange=case.exchange,
                store=store,
            )
            await rec.run(_polls(conn, POLLS))
            return list(ex.oi_requests), list(ex.oi_served)

    requests, served = asyncio.run(main())
    lines = (root / "rec" / EVENTS).read_bytes().splitlines()
    events = [msgspec.json.decode(line) for line in lines]
    return Run(store, root / "rec", requests, served, events)


def _expected(case: Case, served: list[str]) -> pl.DataFrame:
    """The rows the constructed sequence must give, computed apart from the decoder."""
    rows = []
    for n, body in enumerate(served[:POLLS]):
        value = float(OI_START[case.api] + n * OI_STEP[case.api])
        contracts = case.api == "dapi"
        rows.append(
            OpenInterest(
                ts_event=json.loads(body)["time"] * 1_000_000,
                exchange=case.exchange,
                market=Market.PERP,
                symbol=case.symbol,
                oi_base=None if contracts else value,
                oi_quote=value * 100.0 if contracts else None,  # BTC COIN-M: 100 USD a contract
            )
        )
    keys = key_columns(OpenInterest)
    return frame_from_records(OpenInterest, rows).select(keys).sort(keys)


def _keyed(store: Store) -> pl.DataFrame:
    keys = key_columns(OpenInterest)
    return store.read(OpenInterest).select(keys).sort(keys)


@pytest.mark.parametrize("case", [USDM, COINM], ids=["usdm-429", "coinm-418"])
def test_polls_survive_a_rate_limit_and_round_trip(
    case: Case, shared_data: Path, tmp_path: Path
) -> None:
    """Retry-After honoured, then one poll per interval; stored rows re-import unchanged."""
    run = _poll(case, _short(shared_data, case), tmp_path)
    # cadence: the limited first poll waits Retry-After, later ones at least the interval
    assert len(run.requests) >= POLLS + 1
    gaps = np.diff(run.requests)
    assert gaps[0] >= 0.5, gaps
    assert (gaps[1:POLLS] >= INTERVAL).all(), gaps
    limited = [e for e in run.events if e["kind"] == "rate_limited"]
    assert len(limited) == 1
    assert str(limited[0]["stream"]).endswith(f"/{case.api}/v1/openInterest?symbol={case.symbol}")
    assert f"HTTP {case.status}" in str(limited[0]["detail"])
    # the recorder stored exactly the constructed sequence, in the replay's timeline
    expected = _expected(case, run.served)
    assert expected.height == POLLS
    assert expected["oi_base" if case.api == "fapi" else "oi_quote"].n_unique() == POLLS
    assert _keyed(run.store).equals(expected)
    first = json.loads(_short(shared_data, case).frames[0][1])["data"]["E"] * 1_000_000
    assert (expected["ts_event"] >= first).all()
    # `flushwatch import` of the recorder's REST file gives the same rows
    (rest,) = run.rec.glob("*_rest_*.gz")
    again = tmp_path / "again"
    out = CliRunner().invoke(app, ["import", "--store", str(again), "--json", str(rest)])
    assert out.exit_code == 0, out.output
    assert _keyed(Store.open(again)).equals(expected)
    live = tmp_path / "store"
    out = CliRunner().invoke(app, ["import", "--store", str(live), "--json", str(rest)])
    assert json.loads(out.output)["rows_added"] == 0
    # the live state of the perp takes the latest figure (polls in arrival order)
    state = LiveState(case.symbol)
    rows = run.store.read(OpenInterest).sort("ts_recv").to_dicts()
    state.on_records(msgspec.convert(rows, list[OpenInterest]))
    latest = float(OI_START[case.api] + (POLLS - 1) * OI_STEP[case.api])
    if case.api == "fapi":
        assert state.last["oi_base"] == latest
    else:
        assert (state.last["oi_base"], state.last["oi_quote"]) == (None, latest * 100.0)


def test_constructed_bodies_match_the_documented_examples() -> None:
    """The loopback's first bodies are byte for byte the docs' examples (same time)."""
    assert (
        open_interest_body("fapi", "BTCUSDT", 0, 1589437530011)
        == '{"openInterest":"10659.509","symbol":"BTCUSDT","time":1589437530011}'
    )
    assert open_interest_body("dapi", "BTCUSD_200626", 0, 1591261042378) == (
        '{"symbol":"BTCUSD_200626","pair":"BTCUSD","openInterest":"15004",'
        '"contractType":"CURRENT_QUARTER","time":1591261042378}'
    )
    assert json.loads(open_interest_body("fapi", "BTCUSDT", 3, 1))["openInterest"] == "10659.884"
    assert OI_STEP["dapi"] == Decimal(3)


def test_config_and_capabilities() -> None:
    """The interval is configuration (typos rejected); spot has no open interest."""
    assert ConnectorConfig().oi_interval == 5.0
    assert load_config({"oi_interval": 1.5}).oi_interval == 1.5
    assert load_config({"oi_interval": None}).oi_interval is None
    for bad in ({"oi_interval": 0}, {"oi_intervall": 1.0}):
        with pytest.raises(ConfigError):
            load_config(bad)
    for exchange, has in (("binanceusdm", True), ("binancecoinm", True), ("binance", False)):
        conn = BinanceConnector(exchange, ["BTCUSDT"], ["trade"])
        assert (Capability.OPEN_INTEREST in conn.capabilities) is has
