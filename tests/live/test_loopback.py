"""The loopback exchange itself: deterministic faults, Binance acks, C3 routing, REST limits."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect

from flushwatch.testing.loopback import Faults, LoopbackExchange, stream_tier
from flushwatch.testing.loopback_replay import (
    Recording,
    force_order_frame,
    load_recording,
    schedule,
)
from flushwatch.venues.registry import decoder_for


@pytest.fixture(scope="module")
def recording(shared_data: Path) -> Recording:
    """The first 500 frames of the real USD-M BTCUSDT recording."""
    rec = load_recording(
        shared_data / "hftbacktest-binance-ws-2024-08-08" / "usdm_btcusdt_20240808.gz"
    )
    return Recording(frames=rec.frames[:500], snapshots=rec.snapshots)


def test_schedule_is_deterministic_and_applies_faults(recording: Recording) -> None:
    """Same seed, same schedule; duplicates add, drops remove, reorders swap."""
    faults = Faults(seed=3, duplicate_every=50, reorder_every=40, drop_depth=(2,))
    a, b = schedule(recording, faults), schedule(recording, faults)
    assert a == b
    assert schedule(recording, Faults(seed=4, duplicate_every=50)) != schedule(
        recording, Faults(seed=3, duplicate_every=50)
    )
    assert len(a) == len(recording.frames) - 1 + 10  # one dropped diff, ten duplicates
    order = [o.index for o in a if o.index >= 0]
    assert order != sorted(order)
    assert sorted(order) == sorted(set(range(500)) - {order_missing(recording)})


def order_missing(recording: Recording) -> int:
    """Recording index of the second depth diff."""
    return [i for i, (s, _) in enumerate(recording.frames) if "@depth" in s][1]


def test_stream_tiers_follow_binance_2026_split() -> None:
    """Market-tier streams vs public-tier streams (DOMAIN.md C3)."""
    assert stream_tier("btcusdt@forceOrder") == "market"
    assert stream_tier("btcusdt@aggTrade") == "market"
    assert stream_tier("btcusdt@markPrice@1s") == "market"
    assert stream_tier("btcusdt@kline_1m") == "market"
    assert stream_tier("btcusdt@depth@0ms") == "public"
    assert stream_tier("btcusdt@bookTicker") == "public"


def test_force_order_frame_decodes_as_documented() -> None:
    """A built liquidation frame is a SELL order liquidating a long (C5)."""
    frame = force_order_frame("BTCUSDT", side="SELL", price="9910", qty="0.014", ts_ms=1)
    (liq,) = decoder_for("binanceusdm").on_message(frame, 5)
    assert (liq.side.value, liq.qty, liq.price) == ("long", 0.014, 9910.0)


def test_websocket_acks_routes_and_rest_limits(recording: Recording) -> None:
    """SUBSCRIBE is acked; forceOrder reaches /market only; 429 carries Retry-After."""

    async def main() -> None:
        async with LoopbackExchange(recording, faults=Faults(limit_snapshots=1)) as ex:
            market = await connect(f"{ex.ws_base}/market/stream", proxy=None)
            legacy = await connect(f"{ex.ws_base}/stream", proxy=None)
            sub = '{"method":"SUBSCRIBE","params":["btcusdt@forceOrder"],"id":7}'
            for ws in (market, legacy):
                await ws.send(sub)
                assert json.loads(await ws.recv()) == {"result": None, "id": 7}
            frame = force_order_frame("BTCUSDT", side="BUY", price="1", qty="2", ts_ms=3)
            assert await ex.inject(frame) == 1
            assert await market.recv() == frame
            with pytest.raises(TimeoutError):
                await asyncio.wait_for(legacy.recv(), 0.3)
            for ws in (market, legacy):
                await ws.close()
            url = f"{ex.http_base}/fapi/v1/depth?symbol=BTCUSDT&limit=5"
            async with httpx.AsyncClient(trust_env=False) as client:
                limited = await client.get(url)
                assert limited.status_code == 429
                assert limited.headers["Retry-After"] == "1"
                first = await client.get(url)
                assert first.text == recording.snapshots["BTCUSDT"]
                later = await client.get(url)
                assert len(json.loads(later.text)["bids"]) == 5

    asyncio.run(main())
