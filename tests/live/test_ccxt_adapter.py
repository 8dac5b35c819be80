"""The ccxt.pro adapter offline: capabilities from ``has`` and the decoder on ccxt's own output.

Pointing ccxt.pro at the loopback exchange needs its markets loaded over REST (Bybit's
``parseMarket`` is not implemented for a single instrument), so these tests stay offline: a
real ccxt.pro exchange object is built (no network), given one unified market, and its own
websocket parser turns the real Bybit trade frames into the dicts the adapter would wrap.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import ccxt.pro
import msgspec
import pytest

from flushwatch.connectors.base import Capability, RawFrame
from flushwatch.connectors.ccxt_adapter import (
    CcxtConfig,
    CcxtConnector,
    capabilities,
    make_decoder,
)
from flushwatch.domain.enums import Market, PositionSide, Side
from flushwatch.domain.records import Liquidation, Trade
from flushwatch.errors import NotSupported
from flushwatch.ingest.registry import parse
from flushwatch.live.recorder import Recorder, RecorderConfig
from flushwatch.store import Store
from flushwatch.testing.recorded import cryptofeed_frames
from flushwatch.venues.registry import decoder_for

MARKET: dict[str, Any] = {
    "id": "BTCUSDT", "symbol": "BTC/USDT:USDT", "base": "BTC", "quote": "USDT", "settle": "USDT",
    "baseId": "BTC", "quoteId": "USDT", "settleId": "USDT", "type": "swap", "spot": False,
    "margin": False, "swap": True, "future": False, "option": False, "active": True,
    "contract": True, "linear": True, "inverse": False, "contractSize": 1.0,
    "precision": {"amount": 0.001, "price": 0.1}, "limits": {}, "info": {"category": "linear"},
}  # fmt: skip


def _bybit() -> Any:
    exchange = ccxt.pro.bybit({"urls": {"api": {"rest": "http://127.0.0.1:9"}}})
    exchange.set_markets([MARKET])
    return exchange


def test_has_maps_to_capabilities() -> None:
    assert capabilities({"watchTrades": True, "watchOrderBook": "emulated"}) == {
        Capability.TRADES,
        Capability.BOOK,
    }
    exchange = ccxt.pro.binanceusdm()
    try:
        assert Capability.TRADES in capabilities(exchange.has)
    finally:
        asyncio.run(exchange.close())


def test_missing_stream_raises_not_supported() -> None:
    async def run() -> None:
        exchange = _bybit()
        exchange.has = {**exchange.has, "watchLiquidations": False}
        try:
            with pytest.raises(NotSupported, match="watch_liquidations"):
                CcxtConnector(
                    CcxtConfig(
                        exchange="bybit", symbols=("BTC/USDT:USDT",), streams=("liquidations",)
                    ),
                    exchange,
                )
        finally:
            await exchange.close()

    asyncio.run(run())


def _recorded_and_reimported(frame: RawFrame, trades: int, tmp_path: Path) -> None:
    """The adapter's frames go through the recorder like any venue's and re-import."""

    async def frames() -> AsyncIterator[RawFrame]:
        yield frame

    store = Store.open(tmp_path / "store")
    config = RecorderConfig(recordings=tmp_path / "rec")
    stats = asyncio.run(Recorder(config, exchange="ccxt:bybit", store=store).run(frames()))
    assert (stats.errors, stats.rejected, stats.rows_added) == ([], 0, trades)
    stored = store.read(Trade)
    assert stored.height == trades
    assert set(stored.get_column("exchange")) == {"bybit"}
    files = [p for p in (tmp_path / "rec").iterdir() if p.suffix == ".gz"]
    assert len(files) == 1
    assert sum(s.added for s in store.write([parse(files[0])])) == 0  # same rows again


def test_decoder_on_ccxt_parsed_real_bybit_trades(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / "cryptofeed-ws-recordings" / "BYBIT.jsonl.zst"
    raw = [
        item
        for f in cryptofeed_frames(path)
        if f.kind == "recv" and f.url.endswith("linear") and '"publicTrade.BTCUSDT"' in f.data
        for item in json.loads(f.data)["data"]
    ]

    async def run() -> tuple[list[Trade], RawFrame]:
        exchange = _bybit()
        try:
            conn = CcxtConnector(CcxtConfig(exchange="bybit", symbols=("BTC/USDT:USDT",)), exchange)
            trades = [exchange.parse_ws_trade(r, exchange.market("BTC/USDT:USDT")) for r in raw]
            frame = conn.frame("trades", "BTC/USDT:USDT", trades)
        finally:
            await exchange.close()
        assert frame.url == "ccxt:bybit"
        out = make_decoder(frame.url).on_message(frame.data, frame.ts_recv)
        return [r for r in out if isinstance(r, Trade)], frame

    records, frame = asyncio.run(run())
    assert len(records) == len(raw) > 0
    _recorded_and_reimported(frame, len(raw), tmp_path)
    for rec, r in zip(records, raw, strict=True):
        assert rec.market == Market.PERP
        assert rec.symbol == "BTCUSDT"
        assert rec.ts_event == r["T"] * 1_000_000
        assert rec.price == float(r["p"])
        assert rec.qty == float(r["v"])
        assert rec.taker_side == Side(r["S"].lower())
        assert rec.trade_id == r["i"]


def test_liquidation_side_must_be_declared() -> None:
    body = {
        "stream": "liquidations", "symbol": "BTC/USDT:USDT", "id": "BTCUSDT", "type": "swap",
        "data": [{"timestamp": 1_700_000_000_000, "price": 100.0, "contracts": 2.0,
                  "contractSize": 1.0, "baseValue": 2.0, "quoteValue": 200.0,
                  "info": {"side": "Buy"}}],
    }  # fmt: skip
    with pytest.raises(NotSupported, match="C5"):  # a venue whose convention is not known
        make_decoder("ccxt:kucoinfutures").on_message(json.dumps(body), 1)
    (liq,) = make_decoder("ccxt:kucoinfutures", "position").on_message(json.dumps(body), 1)
    assert isinstance(liq, Liquidation)
    assert liq.side == PositionSide.LONG  # declared: Buy = a long position was liquidated
    # the documented venues are built in (DOMAIN.md C5), also through the registry
    assert decoder_for("ccxt:bybit").on_message(json.dumps(body), 1) == [liq_as("bybit", liq)]
    (liq,) = make_decoder("ccxt:bybit", "position").on_message(json.dumps(body), 1)
    assert isinstance(liq, Liquidation)
    assert liq.side == PositionSide.LONG  # Bybit: Buy = a long position was liquidated
    (liq,) = make_decoder("ccxt:binanceusdm", "order").on_message(json.dumps(body), 1)
    assert isinstance(liq, Liquidation)
    assert liq.side == PositionSide.SHORT  # Binance: a BUY order closes a short


def liq_as(exchange: str, liq: Liquidation) -> Liquidation:
    """The same liquidation as decoded from another exchange's adapter frames."""
    return msgspec.structs.replace(liq, exchange=exchange)
