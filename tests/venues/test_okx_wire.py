"""OKX v5 wire decoding: the real 2022 recordings, contract values, documented payloads."""

from __future__ import annotations

import gzip
import json
from collections import Counter
from functools import cache
from pathlib import Path

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.domain.enums import BookSide, Coverage, Market, PositionSide, Side
from flushwatch.domain.records import (
    BookUpdate,
    Funding,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Quote,
    Record,
    Trade,
    flat_records,
)
from flushwatch.testing.recorded import Frame, cryptofeed_frames
from flushwatch.venues.okx import DEFAULT_SIZES, OkxDecoder, liquidated_side, make_decoder

NS = 1_000_000
CF = "cryptofeed-ws-recordings"

# Response example of https://www.okx.com/docs-v5/en/#public-data-websocket-liquidation-orders-
# channel (verbatim).
LIQUIDATION_DOC = {
    "arg": {"channel": "liquidation-orders", "instType": "SWAP"},
    "data": [
        {
            "details": [
                {
                    "bkLoss": "0",
                    "bkPx": "0.007831",
                    "ccy": "",
                    "posSide": "short",
                    "side": "buy",
                    "sz": "13",
                    "ts": "1692266434010",
                }
            ],
            "instFamily": "IOST-USDT",
            "instId": "IOST-USDT-SWAP",
            "instType": "SWAP",
            "uly": "IOST-USDT",
        }
    ],
}
# Fields of .../#public-data-websocket-funding-rate-channel (values illustrative).
FUNDING_DOC = {
    "arg": {"channel": "funding-rate", "instId": "BTC-USD-SWAP"},
    "data": [
        {
            "fundingRate": "0.0001875391284828",
            "fundingTime": "1700726400000",
            "instId": "BTC-USD-SWAP",
            "instType": "SWAP",
            "method": "current_period",
            "nextFundingRate": "",
            "nextFundingTime": "1700755200000",
            "settFundingRate": "0.0001699799259033",
            "settState": "settled",
            "ts": "1700724675402",
        }
    ],
}


@cache
def _frames(path: Path) -> tuple[Frame, ...]:
    return tuple(cryptofeed_frames(path))


@cache
def _replay(path: Path) -> tuple[OkxDecoder, dict[int, list[Record]]]:
    dec = make_decoder("wss://ws.okx.com:8443/ws/v5/public")
    by_line: dict[int, list[Record]] = {}
    for f in _frames(path):
        if f.kind == "http":
            dec.on_http(f.url, f.data, f.ts)
        else:
            by_line[f.line] = dec.on_message(f.data, f.ts)
    return dec, by_line


@pytest.fixture
def okx(shared_data: Path) -> Path:
    return shared_data / CF / "OKX.jsonl.zst"


def test_recording_row_counts(okx: Path) -> None:
    """Every trade, book level and ticker of OKX.jsonl.zst becomes a row (counts from JSON)."""
    want: Counter[type[Record]] = Counter()
    for f in _frames(okx):
        msg = json.loads(f.data) if f.kind == "recv" else {}
        channel = msg.get("arg", {}).get("channel") if "data" in msg else None
        for item in msg.get("data", []) if channel else []:
            if channel == "trades":
                want[Trade] += 1
            elif channel == "books":
                want[BookUpdate] += len(item["asks"]) + len(item["bids"])
            elif channel == "tickers":
                want[MarkPrice] += item["last"] != ""
                want[Quote] += all(item[k] for k in ("bidPx", "askPx", "bidSz", "askSz"))
    dec, by_line = _replay(okx)
    got = Counter(type(r) for recs in by_line.values() for r in flat_records(recs))
    assert got == want
    assert want[Trade] == 74  # PROVENANCE: 69 BTC-USDT + 4 BTC-USD-220527 + 1 UNI-USD-SWAP
    assert dec.assumed == {}  # every contract value came from the instruments bodies
    assert dec.skipped == Counter({"subscribe events": 18})


def test_swap_trade_contract_conversion(okx: Path) -> None:
    """Line 53: UNI-USD-SWAP sell 100 contracts at 5.123; ctVal 10 USD (line 3 body)."""
    _, by_line = _replay(okx)
    (trade,) = by_line[53]
    assert trade == Trade(
        ts_event=1652459215150 * NS,
        exchange="okx",
        market=Market.PERP,
        symbol="UNI-USD-SWAP",
        ts_recv=1652459225507172000,
        price=5.123,
        qty=100 * 10 / 5.123,  # inverse: contracts × USD / price
        taker_side=Side.SELL,
        trade_id="12883020",
    )
    (future,) = by_line[52]  # BTC-USD-220527 buy 1 contract of 100 USD at 30218.8
    assert isinstance(future, Trade)
    assert (future.market, future.qty) == (Market.FUTURE, 100 / 30218.8)
    (spot,) = by_line[54]  # BTC-USDT buy 0.0002 BTC: spot sizes are base already
    assert isinstance(spot, Trade)
    assert (spot.market, spot.qty, spot.taker_side) == (Market.SPOT, 0.0002, Side.BUY)


def test_book_update_levels(okx: Path) -> None:
    """Line 58: books update of BTC-USD-220527, 1 bid and 3 asks (bids come first in rows)."""
    _, by_line = _replay(okx)
    (delta,) = by_line[58]  # one record per book push, standing for one row per level
    rows = flat_records([delta])
    assert all(isinstance(r, BookUpdate) for r in rows)
    bid, ask0, ask1, ask2 = rows
    assert isinstance(bid, BookUpdate)
    assert (bid.side, bid.price, bid.qty) == (BookSide.BID, 30182.6, 452 * 100 / 30182.6)
    assert isinstance(ask0, BookUpdate)
    assert (ask0.side, ask0.price, ask0.qty, ask0.is_snapshot) == (
        BookSide.ASK,
        30249.4,
        0.0,  # "0" deletes the level
        False,
    )
    assert isinstance(ask1, BookUpdate)
    assert isinstance(ask2, BookUpdate)
    assert (ask1.price, ask1.qty) == (30261.0, 4 * 100 / 30261)
    assert (ask2.price, ask2.qty) == (30310.3, 19 * 100 / 30310.3)
    assert ask0.ts_event == 1652459225464 * NS
    snapshot = flat_records(by_line[55])  # the first books push, action "snapshot"
    assert all(isinstance(r, BookUpdate) and r.is_snapshot for r in snapshot)


def test_raw_recording_uses_documented_defaults(shared_data: Path) -> None:
    """The master-branch raw file has no REST bodies: defaults give the same trades."""
    dec = make_decoder()
    trades: list[Record] = []
    with gzip.open(shared_data / CF / "master-branch-raw" / "OKX.ws.1.0.gz", "rt") as fh:
        for text in fh:
            if text[0].isdigit():
                _, _, frame = text.rstrip("\n").partition(": ")
                trades += [r for r in dec.on_message(frame, None) if isinstance(r, Trade)]
    assert set(dec.assumed) == {"BTC-USD-220527", "UNI-USD-SWAP"}
    _, by_line = _replay(shared_data / CF / "OKX.jsonl.zst")
    learned = [r for recs in by_line.values() for r in recs if isinstance(r, Trade)]
    assert [msgspec.structs.replace(t, ts_recv=None) for t in learned] == trades


def test_defaults_table_matches_recorded_instruments(okx: Path) -> None:
    """Each default contract value agrees with the instruments bodies of the recording."""
    body = json.loads(next(f for f in _frames(okx) if "instType=SWAP" in f.url).data)
    by_id = {x["instId"]: float(x["ctVal"]) for x in body["data"]}
    assert by_id["BTC-USD-SWAP"] == DEFAULT_SIZES["inverse", "BTC"][0]
    assert by_id["BTC-USDT-SWAP"] == DEFAULT_SIZES["linear", "BTC"][0]
    assert by_id["ETH-USDT-SWAP"] == DEFAULT_SIZES["linear", "ETH"][0]
    others = {v for k, v in by_id.items() if k.endswith("-USD-SWAP") and k != "BTC-USD-SWAP"}
    assert others == {DEFAULT_SIZES["inverse", "*"][0]}


def test_documented_liquidation(okx: Path) -> None:
    """Doc example: side buy / posSide short ⇒ SHORT; 13 contracts of IOST-USDT-SWAP (ctVal
    1000 IOST in the recorded instruments body) at bankruptcy price 0.007831."""
    dec = make_decoder()
    assert dec.on_message(json.dumps(LIQUIDATION_DOC), None) == []  # ctVal unknown: skipped
    swap = next(f for f in _frames(okx) if "instType=SWAP" in f.url)
    dec.on_http(swap.url, swap.data, None)
    (liq,) = dec.on_message(json.dumps(LIQUIDATION_DOC), 3)
    assert liq == Liquidation(
        ts_event=1692266434010 * NS,
        exchange="okx",
        market=Market.PERP,
        symbol="IOST-USDT-SWAP",
        ts_recv=3,
        side=PositionSide.SHORT,
        price=0.007831,
        qty=13 * 1000.0,
        notional=13 * 1000.0 * 0.007831,
        venue_side="buy/short",
        coverage=Coverage.THROTTLED,
    )


@settings(max_examples=80, deadline=None)
@given(
    side=st.sampled_from(["buy", "sell", ""]),
    pos=st.sampled_from(["long", "short", "net", ""]),
    sz=st.integers(min_value=1, max_value=10_000),
)
def test_liquidation_side_normalization(side: str, pos: str, sz: int) -> None:
    """posSide names the position; else sell ⇒ LONG, buy ⇒ SHORT; contradictions are counted."""
    frame = json.loads(json.dumps(LIQUIDATION_DOC))
    frame["data"][0]["instId"] = "BTC-USD-SWAP"  # default contract value: 100 USD
    frame["data"][0]["details"][0].update({"side": side, "posSide": pos, "sz": str(sz)})
    dec = make_decoder()
    out = dec.on_message(json.dumps(frame), None)
    by_pos = {"long": PositionSide.LONG, "short": PositionSide.SHORT}.get(pos)
    by_order = {"sell": PositionSide.LONG, "buy": PositionSide.SHORT}.get(side)
    expected = by_pos or by_order
    if expected is None:
        assert out == []
        return
    (liq,) = out
    assert isinstance(liq, Liquidation)
    assert liq.side is expected
    assert liq.notional == sz * 100.0
    assert liq.venue_side == f"{side}/{pos}"
    contradicts = by_pos is not None and by_order is not None and by_pos is not by_order
    assert sum(dec.anomalies.values()) == int(contradicts)
    assert liquidated_side(side, pos) == (expected, not contradicts)


def test_funding_open_interest_mark_and_index() -> None:
    """Derivative channels: current rate not settled, interval from the two funding times."""
    dec = make_decoder()
    (funding,) = dec.on_message(json.dumps(FUNDING_DOC), None)
    assert funding == Funding(
        ts_event=1700724675402 * NS,
        exchange="okx",
        market=Market.PERP,
        symbol="BTC-USD-SWAP",
        rate=0.0001875391284828,
        is_settled=False,
        interval_hours=8.0,
        next_funding_ts=1700726400000 * NS,
        predicted_rate=None,  # nextFundingRate ""
    )
    oi_frame = {
        "arg": {"channel": "open-interest", "instId": "BTC-USDT-SWAP"},
        "data": [
            {
                "instId": "BTC-USDT-SWAP",
                "instType": "SWAP",
                "oi": "2216113.01",
                "oiCcy": "22161.1301",
                "oiUsd": "1449802090.63",
                "ts": "1700724675402",
            }
        ],
    }
    (oi,) = dec.on_message(json.dumps(oi_frame), None)
    assert isinstance(oi, OpenInterest)
    assert (oi.oi_base, oi.oi_quote) == (22161.1301, 1449802090.63)
    mark = {"arg": {"channel": "mark-price", "instId": "BTC-USDT-SWAP"}}
    mark["data"] = [{"instId": "BTC-USDT-SWAP", "markPx": "42310.6", "ts": "1700724675402"}]
    (m,) = dec.on_message(json.dumps(mark), None)
    assert isinstance(m, MarkPrice)
    assert (m.mark_price, m.market) == (42310.6, Market.PERP)
    index = {"arg": {"channel": "index-tickers", "instId": "BTC-USDT"}}
    index["data"] = [{"instId": "BTC-USDT", "idxPx": "42305.1", "ts": "1700724675402"}]
    (i,) = dec.on_message(json.dumps(index), None)
    assert isinstance(i, MarkPrice)
    assert (i.index_price, i.market, i.symbol) == (42305.1, Market.SPOT, "BTC-USDT")


def test_malformed_frames_name_the_problem() -> None:
    """Broken JSON, a missing field and a non-numeric value raise errors callers can map."""
    dec = make_decoder()
    assert dec.on_message("pong", None) == []
    with pytest.raises(msgspec.DecodeError):
        dec.on_message('{"arg":{"channel":"trades"', None)
    trade = {"instId": "BTC-USDT", "tradeId": "1", "px": "1", "sz": "1", "side": "buy"}
    frame = {"arg": {"channel": "trades", "instId": "BTC-USDT"}, "data": [trade]}
    with pytest.raises(msgspec.ValidationError, match="missing required field `ts`"):
        dec.on_message(json.dumps(frame), None)
    trade.update({"ts": "1652459224818", "px": "3O236"})
    with pytest.raises(msgspec.ValidationError, match=r"`\$\[0\]\.px`"):
        dec.on_message(json.dumps(frame), None)
    bad = json.loads(json.dumps(FUNDING_DOC))
    bad["data"][0]["fundingRate"] = "n/a"
    with pytest.raises(ValueError, match="fundingRate"):
        dec.on_message(json.dumps(bad), None)
