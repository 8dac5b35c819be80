"""Hyperliquid wire decoding: the real hftbacktest recording, sides and malformed frames."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.domain.enums import BookSide, Margin, Market, Side
from flushwatch.domain.records import BookUpdate, Record, Trade
from flushwatch.testing.recorded import ws_lines
from flushwatch.venues.hyperliquid import make_decoder, market_of
from flushwatch.venues.registry import decoder_for

NS = 1_000_000
FILE = ("hftbacktest-binance-ws-2024-08-08", "hyperliquid_btcusd_20250126.gz")


@pytest.fixture
def lines(shared_data: Path) -> list[tuple[int, int, str]]:
    return list(ws_lines(shared_data.joinpath(*FILE)))


def test_recording_row_counts(lines: list[tuple[int, int, str]]) -> None:
    """46 l2Book pushes and 9 trades frames (PROVENANCE.md); rows counted from the JSON."""
    dec = make_decoder("wss://api.hyperliquid.xyz/ws")
    got: dict[type[Record], int] = {BookUpdate: 0, Trade: 0}
    want = {BookUpdate: 0, Trade: 0}
    channels = {"l2Book": 0, "trades": 0}
    for _, ts, frame in lines:
        msg = json.loads(frame)
        channels[msg["channel"]] += 1
        if msg["channel"] == "l2Book":
            want[BookUpdate] += sum(len(side) for side in msg["data"]["levels"])
        else:
            want[Trade] += len(msg["data"])
        for rec in dec.on_message(frame, ts):
            got[type(rec)] += 1
    assert channels == {"l2Book": 46, "trades": 9}
    assert got == want
    (inst,) = dec.instruments
    assert (inst.unified, inst.margin, inst.contract_size) == ("BTC/USDC:USDC", Margin.LINEAR, 1.0)


def test_first_book_and_trade(lines: list[tuple[int, int, str]]) -> None:
    """Line 1: best bid 105055.0 × 3.03622 (n 5), best ask 105056.0 × 6.34472, time ...542.
    Line 3: first trade B 0.00219 at 105056.0, tid 121451470284048, time 1737918794873."""
    dec = make_decoder()
    _, ts, frame = lines[0]
    rows = dec.on_message(frame, ts)
    assert len(rows) == 40  # 20 bids + 20 asks
    bid, ask = rows[0], rows[20]
    assert bid == BookUpdate(
        ts_event=1737918843542 * NS,
        exchange="hyperliquid",
        market=Market.PERP,
        symbol="BTC",
        ts_recv=1737918843893903000,
        side=BookSide.BID,
        price=105055.0,
        qty=3.03622,
        is_snapshot=True,
    )
    assert isinstance(ask, BookUpdate)
    assert (ask.side, ask.price, ask.qty) == (BookSide.ASK, 105056.0, 6.34472)
    _, ts, frame = lines[2]
    trade = dec.on_message(frame, ts)[0]
    assert trade == Trade(
        ts_event=1737918794873 * NS,
        exchange="hyperliquid",
        market=Market.PERP,
        symbol="BTC",
        ts_recv=1737918844167767000,
        price=105056.0,
        qty=0.00219,
        taker_side=Side.BUY,
        trade_id="121451470284048",
    )


@settings(max_examples=40, deadline=None)
@given(side=st.sampled_from(["B", "A"]), coin=st.sampled_from(["BTC", "@107", "PURR/USDC"]))
def test_trade_side_is_the_aggressor(side: str, coin: str) -> None:
    """ "B = Bid = Buy, A = Ask = Short. Side is aggressing side for trades" (notation docs)."""
    trade = {"coin": coin, "side": side, "px": "1.5", "sz": "2", "time": 1737918794873, "tid": 1}
    (t,) = make_decoder().on_message(json.dumps({"channel": "trades", "data": [trade]}), None)
    assert isinstance(t, Trade)
    assert t.taker_side is (Side.BUY if side == "B" else Side.SELL)
    assert t.market is market_of(coin)


def test_acks_and_malformed_frames() -> None:
    """Acks yield nothing; broken JSON, missing fields and bad numbers raise mappable errors."""
    dec = make_decoder()
    ack = {"channel": "subscriptionResponse", "data": {"method": "subscribe"}}
    assert dec.on_message(json.dumps(ack), None) == []
    assert dec.skipped["subscriptionResponse frames"] == 1
    with pytest.raises(msgspec.DecodeError):
        dec.on_message('{"channel":"trades","data":[{"coin"', None)
    trade = {"coin": "BTC", "side": "B", "px": "1", "sz": "1", "time": 1}
    with pytest.raises(msgspec.ValidationError, match="missing required field `tid`"):
        dec.on_message(json.dumps({"channel": "trades", "data": [trade]}), None)
    trade.update({"tid": 1, "sz": "1e"})
    with pytest.raises(msgspec.ValidationError, match=r"`\$\[0\]\.sz`"):
        dec.on_message(json.dumps({"channel": "trades", "data": [trade]}), None)
    trade.update({"sz": "1", "side": "X"})
    with pytest.raises(ValueError, match="side"):
        dec.on_message(json.dumps({"channel": "trades", "data": [trade]}), None)


def test_registry_builds_this_decoder() -> None:
    """``decoder_for("hyperliquid")`` imports this package's make_decoder."""
    assert type(decoder_for("hyperliquid")).__name__ == "HyperliquidDecoder"
