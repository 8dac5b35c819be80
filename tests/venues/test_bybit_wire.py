"""Bybit v5 wire decoding: the real 2026 recording, documented liquidation payloads, errors."""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.domain.enums import BookSide, Coverage, Margin, Market, PositionSide, Side
from flushwatch.domain.records import (
    Bar,
    BookUpdate,
    Funding,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Record,
    Trade,
    flat_records,
)
from flushwatch.testing.recorded import Frame, cryptofeed_frames
from flushwatch.venues.bybit import BybitDecoder, make_decoder
from flushwatch.venues.registry import decoder_for

NS = 1_000_000
LINEAR = "wss://stream.bybit.com/v5/public/linear"
SPOT = "wss://stream.bybit.com/v5/public/spot"
INVERSE = "wss://stream.bybit.com/v5/public/inverse"

# Message example of https://bybit-exchange.github.io/docs/v5/websocket/public/all-liquidation
ALL_LIQUIDATION_DOC = {
    "topic": "allLiquidation.ROSEUSDT",
    "type": "snapshot",
    "ts": 1739502303204,
    "data": [{"T": 1739502302929, "s": "ROSEUSDT", "S": "Sell", "v": "20000", "p": "0.04499"}],
}
# Response example of https://bybit-exchange.github.io/docs/v5/websocket/public/liquidation
LIQUIDATION_DOC = {
    "topic": "liquidation.BTCUSDT",
    "type": "snapshot",
    "ts": 1703485237953,
    "data": {
        "updatedTime": 1703485237953,
        "symbol": "BTCUSDT",
        "side": "Sell",
        "size": "0.003",
        "price": "43511.70",
    },
}


@cache
def _frames(path: Path) -> tuple[Frame, ...]:
    return tuple(cryptofeed_frames(path))


@cache
def _replay(path: Path) -> tuple[dict[str, BybitDecoder], dict[int, list[Record]]]:
    """Decode every frame of the recording; records per source line."""
    decoders: dict[str, BybitDecoder] = {}
    by_line: dict[int, list[Record]] = {}
    for f in _frames(path):
        if f.kind == "http":
            url = SPOT if "category=spot" in f.url else LINEAR
            decoders.setdefault(url, make_decoder(url)).on_http(f.url, f.data, f.ts)
        else:
            dec = decoders.setdefault(f.url, make_decoder(f.url))
            by_line[f.line] = dec.on_message(f.data, f.ts)
    return decoders, by_line


@pytest.fixture
def bybit(shared_data: Path) -> Path:
    return shared_data / "cryptofeed-ws-recordings" / "BYBIT.jsonl.zst"


def _expected_counts(frames: tuple[Frame, ...]) -> Counter[tuple[str, type[Record]]]:
    """Rows each category should give, computed from the raw JSON alone."""
    want: Counter[tuple[str, type[Record]]] = Counter()
    for f in frames:
        if f.kind != "recv":
            continue
        msg = json.loads(f.data)
        topic, data = msg.get("topic", ""), msg.get("data")
        cat = f.url.rsplit("/", 1)[1]
        if topic.startswith("publicTrade."):
            want[cat, Trade] += sum(1 for t in data if not t.get("BT"))
        elif topic.startswith("orderbook."):
            want[cat, BookUpdate] += len(data["b"]) + len(data["a"])
        elif topic.startswith("kline."):
            want[cat, Bar] += sum(1 for k in data if k["confirm"])
        elif topic.startswith("tickers."):
            keys = set(data)
            want[cat, MarkPrice] += bool(keys & {"lastPrice", "markPrice", "indexPrice"})
            want[cat, Funding] += bool(keys & {"fundingRate", "nextFundingTime"})
            want[cat, OpenInterest] += any("penInterest" in k for k in keys)
    return +want


def test_recording_row_counts(bybit: Path) -> None:
    """Every trade, level, closed bar and ticker update of both connections becomes a row."""
    frames = _frames(bybit)
    _, by_line = _replay(bybit)
    got: Counter[tuple[str, type[Record]]] = Counter()
    for f in frames:
        for rec in flat_records(by_line.get(f.line, [])):
            got[f.url.rsplit("/", 1)[1], type(rec)] += 1
    want = _expected_counts(frames)
    assert got == want
    # Spot tickers carry no mark, funding or open interest (PROVENANCE.md, line 2577).
    assert ("spot", Funding) not in got
    assert ("spot", OpenInterest) not in got
    assert want["linear", Trade] == 327  # `zstdcat | grep publicTrade`, summed data lengths
    assert want["linear", Bar] == 4


def test_first_linear_trade(bybit: Path) -> None:
    """Line 132: publicTrade.BTCUSDT, T=1786310819680, S=Sell, v=0.004, p=65114.20."""
    _, by_line = _replay(bybit)
    (trade,) = by_line[132]
    assert trade == Trade(
        ts_event=1786310819680 * NS,
        exchange="bybit",
        market=Market.PERP,
        symbol="BTCUSDT",
        ts_recv=1786310819965676000,  # "ts":1786310819.965676 of line 132
        price=65114.2,
        qty=0.004,
        taker_side=Side.SELL,
        trade_id="a9188a0a-82bc-50de-be60-03eedbe3cdd7",
    )


def test_linear_and_spot_categories(bybit: Path) -> None:
    """BTCUSDT is a linear perp on /linear and a spot pair on /spot (instruments-info terms)."""
    decoders, by_line = _replay(bybit)
    assert {d.category for d in decoders.values()} == {"linear", "spot"}
    linear = {i.symbol: i for i in decoders[LINEAR].instruments}
    spot = {i.symbol: i for i in decoders[SPOT].instruments}
    assert sorted(linear) == ["BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT"]
    assert sorted(spot) == ["BTCUSDT", "ETHUSDT"]
    assert linear["BTCUSDT"].unified == "BTC/USDT:USDT"
    assert linear["BTCUSDT"].margin is Margin.LINEAR
    assert spot["BTCUSDT"].unified == "BTC/USDT"
    # Line 2681: spot publicTrade.ETHUSDT, v 0.04537 at 1923.28, id 2280000001739247417.
    (trade,) = by_line[2681]
    assert isinstance(trade, Trade)
    assert (trade.market, trade.symbol, trade.qty, trade.price) == (
        Market.SPOT,
        "ETHUSDT",
        0.04537,
        1923.28,
    )
    # Line 2577: spot tickers.BTCUSDT snapshot: lastPrice 65140.5 only.
    (mark,) = by_line[2577]
    assert mark == MarkPrice(
        ts_event=1786310819126 * NS,
        exchange="bybit",
        market=Market.SPOT,
        symbol="BTCUSDT",
        ts_recv=1786310819526088000,
        last_price=65140.5,
    )


def test_ticker_delta_merges_with_snapshot(bybit: Path) -> None:
    """Line 22 is the BTCUSDT snapshot, line 24 a delta with markPrice and OI value only."""
    _, by_line = _replay(bybit)
    mark, funding, oi = by_line[22]
    assert funding == Funding(
        ts_event=1786310817583 * NS,
        exchange="bybit",
        market=Market.PERP,
        symbol="BTCUSDT",
        ts_recv=1786310819526357000,
        rate=0.0001,
        is_settled=False,
        interval_hours=8.0,  # "fundingIntervalHour":"8"
        next_funding_ts=1786320000000 * NS,
        mark_price=65117.44,
    )
    assert (oi.oi_base, oi.oi_quote) == (29945.866, 1949998132.50)  # single* of line 22
    mark, oi = by_line[24]
    assert isinstance(mark, MarkPrice)
    assert isinstance(oi, OpenInterest)
    assert mark.mark_price == 65117.43  # from the delta
    assert mark.index_price == 65137.76  # only in the snapshot: survives the delta
    assert mark.last_price == 65114.30  # idem
    assert oi.oi_base == 29945.866  # singleOpenInterest of the snapshot
    assert oi.oi_quote == 1949997833.04  # singleOpenInterestValue of the delta
    assert not by_line[23]  # bid/ask-only delta: nothing we store


def test_open_interest_is_twice_the_single_side(bybit: Path) -> None:
    """Evidence for halving (decode.py docstring): openInterest ≈ 2 × singleOpenInterest.

    The single side is printed to the quantity step, so the total is within one step of twice
    it (e.g. 830090.65 vs 2 × 415045.33).
    """
    seen = 0
    for f in _frames(bybit):
        data = json.loads(f.data).get("data") if f.kind == "recv" else None
        if isinstance(data, dict) and "openInterest" in data:
            single = data["singleOpenInterest"]
            step = 10.0 ** -len(single.partition(".")[2])
            assert abs(float(data["openInterest"]) - 2 * float(single)) <= step * 1.000001
            seen += 1
    assert seen == 20  # 4 snapshots + 16 deltas carry openInterest


def test_open_interest_halved_without_single_side() -> None:
    """A feed without single* fields: openInterest is documented as both sides, so halved."""
    frame = {
        "topic": "tickers.BTCUSD",
        "type": "snapshot",
        "ts": 1700000000000,
        "data": {"symbol": "BTCUSD", "openInterest": "500000", "openInterestValue": "10"},
    }
    (oi,) = make_decoder(INVERSE).on_message(json.dumps(frame), None)
    assert isinstance(oi, OpenInterest)
    # Inverse: OI is USD (quote), its value coins (base).
    assert (oi.oi_base, oi.oi_quote) == (5.0, 250000.0)


def test_documented_liquidations() -> None:
    """Doc examples: Sell ⇒ a SHORT was liquidated; allLiquidation COMPLETE, legacy THROTTLED."""
    dec = make_decoder(LINEAR)
    (liq,) = dec.on_message(json.dumps(ALL_LIQUIDATION_DOC), 7)
    assert liq == Liquidation(
        ts_event=1739502302929 * NS,
        exchange="bybit",
        market=Market.PERP,
        symbol="ROSEUSDT",
        ts_recv=7,
        side=PositionSide.SHORT,
        price=0.04499,
        qty=20000.0,
        notional=20000 * 0.04499,
        venue_side="Sell",
        coverage=Coverage.COMPLETE,
    )
    (legacy,) = dec.on_message(json.dumps(LIQUIDATION_DOC), None)
    assert isinstance(legacy, Liquidation)
    assert (legacy.side, legacy.coverage, legacy.qty, legacy.price) == (
        PositionSide.SHORT,
        Coverage.THROTTLED,
        0.003,
        43511.7,
    )
    assert legacy.ts_event == 1703485237953 * NS


sides = st.sampled_from(["Buy", "Sell"])
sizes = st.decimals(min_value="0.001", max_value="100000", places=3).map(str)
prices = st.decimals(min_value="0.01", max_value="200000", places=2).map(str)


@settings(max_examples=60, deadline=None)
@given(side=sides, size=sizes, price=prices, inverse=st.booleans())
def test_liquidation_side_is_the_position(side: str, size: str, price: str, inverse: bool) -> None:
    """Buy ⇒ LONG, Sell ⇒ SHORT (position side, DOMAIN.md C5); inverse sizes are USD."""
    frame = json.loads(json.dumps(ALL_LIQUIDATION_DOC))
    symbol = "BTCUSD" if inverse else "BTCUSDT"
    frame["data"][0].update({"s": symbol, "S": side, "v": size, "p": price})
    (liq,) = make_decoder(INVERSE if inverse else LINEAR).on_message(json.dumps(frame), None)
    assert isinstance(liq, Liquidation)
    assert liq.side is (PositionSide.LONG if side == "Buy" else PositionSide.SHORT)
    assert liq.venue_side == side
    if inverse:
        assert liq.notional == float(size)
        assert liq.qty == float(size) / float(price)
    else:
        assert liq.qty == float(size)
        assert liq.notional == float(size) * float(price)


def test_inverse_sizes_are_usd_contracts() -> None:
    """Inverse trade and book sizes are 1-USD contracts: base = size / price."""
    dec = make_decoder(INVERSE)
    trade = {
        "topic": "publicTrade.BTCUSD",
        "type": "snapshot",
        "ts": 1700000000001,
        "data": [
            {"T": 1700000000000, "s": "BTCUSD", "S": "Buy", "v": "100", "p": "50000", "i": "x"}
        ],
    }
    (t,) = dec.on_message(json.dumps(trade), None)
    assert isinstance(t, Trade)
    assert (t.qty, t.taker_side, t.market) == (0.002, Side.BUY, Market.PERP)
    book = {
        "topic": "orderbook.50.BTCUSD",
        "type": "delta",
        "ts": 1700000000002,
        "data": {"s": "BTCUSD", "b": [["40000", "200"]], "a": [["40001", "0"]], "u": 5, "seq": 9},
    }
    bid, ask = flat_records(dec.on_message(json.dumps(book), None))
    assert isinstance(bid, BookUpdate)
    assert isinstance(ask, BookUpdate)
    assert (bid.side, bid.qty, bid.update_id, bid.is_snapshot) == (BookSide.BID, 0.005, 5, False)
    assert (ask.side, ask.qty) == (BookSide.ASK, 0.0)  # size "0" deletes the level
    (inst,) = dec.instruments
    assert (inst.unified, inst.margin, inst.contract_size) == ("BTC/USD:BTC", Margin.INVERSE, 1.0)


def test_malformed_frames_name_the_problem() -> None:
    """Broken JSON, a missing field and a non-numeric price raise errors callers can map."""
    dec = make_decoder(LINEAR)
    with pytest.raises(msgspec.DecodeError):
        dec.on_message('{"topic":"publicTrade.BTCUSDT","data":[{"T":1', None)
    bad = {"topic": "publicTrade.BTCUSDT", "type": "snapshot", "ts": 1, "data": [{"T": 1}]}
    with pytest.raises(msgspec.ValidationError, match="missing required field `s`"):
        dec.on_message(json.dumps(bad), None)
    trade = {"T": 1, "s": "BTCUSDT", "S": "Buy", "v": "1", "p": "abc", "i": "1"}
    bad["data"] = [trade]
    with pytest.raises(msgspec.ValidationError, match=r"`\$\[0\]\.p`"):
        dec.on_message(json.dumps(bad), None)
    tick = {"topic": "tickers.BTCUSDT", "type": "snapshot", "ts": 1}
    tick["data"] = {"symbol": "BTCUSDT", "markPrice": "1O0"}  # type: ignore[assignment]
    with pytest.raises(ValueError, match="markPrice"):
        dec.on_message(json.dumps(tick), None)


def test_make_decoder_reads_the_category() -> None:
    """The websocket path or REST ``category=`` picks the category; the registry agrees."""
    assert make_decoder(SPOT).category == "spot"
    assert make_decoder(INVERSE).category == "inverse"
    assert make_decoder().category == "linear"
    rest = "https://api.bybit.com/v5/market/instruments-info?category=inverse"
    assert make_decoder(rest).category == "inverse"
    dec = decoder_for("bybit", SPOT)
    assert isinstance(dec, BybitDecoder)
    assert dec.category == "spot"
    with pytest.raises(ValueError, match="names no Bybit v5 category"):
        make_decoder("wss://stream.bybit.com/v5/private")
