"""Binance wire decoding: documented payloads, side/contract normalization and the registry."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.domain.enums import Coverage, Market, PositionSide, Side
from flushwatch.domain.records import Bar, Funding, Liquidation, MarkPrice, Quote, Trade
from flushwatch.errors import UnknownFormatError
from flushwatch.venues.binance import BinanceDecoder, make_decoder
from flushwatch.venues.registry import decoder_for, exchange_from_url, routing_url

NS = 1_000_000

# Response example of https://developers.binance.com/docs/derivatives/usds-margined-futures/
# websocket-market-streams/Liquidation-Order-Streams (the values vary in the property test).
FORCE_ORDER_DOC = {
    "e": "forceOrder",
    "E": 1568014460893,
    "o": {
        "s": "BTCUSDT",
        "S": "SELL",
        "o": "LIMIT",
        "f": "IOC",
        "q": "0.014",
        "p": "9910",
        "ap": "9910",
        "X": "FILLED",
        "l": "0.014",
        "z": "0.014",
        "T": 1568014460893,
    },
}

# Response example of .../usds-margined-futures/websocket-market-streams/Mark-Price-Stream.
MARK_PRICE_DOC = (
    b'{"e":"markPriceUpdate","E":1562305380000,"s":"BTCUSDT","p":"11794.15000000",'
    b'"i":"11784.62659091","P":"11784.25641265","r":"0.00038167","T":1562306400000}'
)
# Response example of .../coin-margined-futures/websocket-market-streams/Mark-Price-Stream
# (a delivery contract: funding rate "" and next funding time 0).
MARK_PRICE_COINM_DOC = (
    b'{"e":"markPriceUpdate","E":1596095725000,"s":"BTCUSD_201225","p":"10934.62615417",'
    b'"P":"10962.17178236","i":"10933.62615417","r":"","T":0}'
)

quantities = st.decimals(min_value="0.001", max_value="5000", places=3).map(str)
prices = st.decimals(min_value="0.01", max_value="200000", places=2).map(str)


def _force_order(symbol: str, side: str, qty: str, price: str, status: str = "FILLED") -> bytes:
    frame = json.loads(json.dumps(FORCE_ORDER_DOC))
    frame["o"].update({"s": symbol, "S": side, "q": qty, "z": qty, "l": qty, "ap": price})
    frame["o"]["X"] = status
    return json.dumps({"stream": f"{symbol.lower()}@forceOrder", "data": frame}).encode()


@settings(max_examples=60, deadline=None)
@given(side=st.sampled_from(["BUY", "SELL"]), qty=quantities, price=prices)
def test_force_order_side_is_the_liquidated_position(side: str, qty: str, price: str) -> None:
    """SELL order ⇒ a long was liquidated; BUY ⇒ a short (DOMAIN.md C5); qty is z, at ap."""
    dec = make_decoder("wss://fstream.binance.com/stream")
    (liq,) = dec.on_message(_force_order("BTCUSDT", side, qty, price), 5)
    assert isinstance(liq, Liquidation)
    assert liq.side is (PositionSide.LONG if side == "SELL" else PositionSide.SHORT)
    assert liq.venue_side == side
    assert liq.qty == float(qty)
    assert liq.avg_price == float(price)
    assert liq.price == 9910.0  # "p" of the doc example: the order price, kept apart from ap
    assert liq.notional == float(qty) * float(price)
    assert liq.coverage is Coverage.THROTTLED
    assert liq.ts_event == 1568014460893 * NS
    assert liq.ts_recv == 5


@settings(max_examples=40, deadline=None)
@given(side=st.sampled_from(["BUY", "SELL"]), contracts=st.integers(1, 10_000), price=prices)
def test_coinm_force_order_converts_contracts(side: str, contracts: int, price: str) -> None:
    """COIN-M z is in 100-USD contracts for BTCUSD_*: notional exact in USD, qty in BTC."""
    dec = make_decoder("wss://dstream.binance.com/stream")
    (liq,) = dec.on_message(_force_order("BTCUSD_PERP", side, str(contracts), price), None)
    assert isinstance(liq, Liquidation)
    assert liq.side is (PositionSide.LONG if side == "SELL" else PositionSide.SHORT)
    assert liq.notional == contracts * 100.0
    assert liq.qty == contracts * 100.0 / float(price)


def test_force_order_unfilled_has_no_average_price() -> None:
    """ap "0" (no fill yet) means no average price; notional falls back to the order price."""
    frame = _force_order("BTCUSDT", "BUY", "0.5", "0", status="NEW")
    (liq,) = make_decoder("wss://fstream.binance.com/stream").on_message(frame, None)
    assert isinstance(liq, Liquidation)
    assert liq.avg_price is None
    assert liq.status == "NEW"
    assert liq.notional == 0.5 * 9910.0


def test_mark_price_update_from_doc_example() -> None:
    """The USD-M doc payload gives a MarkPrice and a current (unsettled) Funding row."""
    mark, funding = make_decoder("wss://fstream.binance.com/ws").on_message(MARK_PRICE_DOC, None)
    assert mark == MarkPrice(
        ts_event=1562305380000 * NS,
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        mark_price=11794.15,
        index_price=11784.62659091,
    )
    assert funding == Funding(
        ts_event=1562305380000 * NS,
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        rate=0.00038167,
        is_settled=False,
        next_funding_ts=1562306400000 * NS,
        mark_price=11794.15,
    )


def test_mark_price_array_stream() -> None:
    """``!markPrice@arr`` pushes a JSON list of markPriceUpdate events, raw or in an envelope."""
    dec = make_decoder("wss://fstream.binance.com/ws/!markPrice@arr")
    listed = b"[" + MARK_PRICE_DOC + b"," + MARK_PRICE_DOC + b"]"
    assert len(dec.on_message(listed, None)) == 4
    wrapped = b'{"stream":"!markPrice@arr","data":' + listed + b"}"
    assert len(dec.on_message(wrapped, None)) == 4


def test_delivery_mark_price_has_no_funding() -> None:
    """COIN-M doc: delivery contracts send r "" and T 0, so no Funding row."""
    (mark,) = make_decoder("wss://dstream.binance.com/ws").on_message(MARK_PRICE_COINM_DOC, None)
    assert isinstance(mark, MarkPrice)
    assert mark.market is Market.FUTURE
    assert mark.index_price == 10933.62615417


def test_spot_book_ticker_without_event_type_uses_receive_time() -> None:
    """Spot bookTicker has no e/E/T (hftbacktest spot file line 3): ts_event = ts_recv."""
    frame = (
        b'{"stream":"btcusdt@bookTicker","data":{"u":50093239212,"s":"BTCUSDT","b":"61837.63",'
        b'"B":"3.78826","a":"61837.64","A":"1.54698"}}'
    )
    dec = make_decoder("wss://stream.binance.com:9443/stream")
    (quote,) = dec.on_message(frame, 1723161254087891268)
    assert isinstance(quote, Quote)
    assert quote.ts_event == quote.ts_recv == 1723161254087891268
    assert (quote.bid_price, quote.ask_qty) == (61837.63, 1.54698)
    raw = frame[frame.index(b'"data":') + 7 : -1]  # the same event on a raw /ws/ stream
    fresh = make_decoder("wss://stream.binance.com:9443/ws")
    assert fresh.on_message(raw, 7)[0] == msgspec.structs.replace(quote, ts_event=7, ts_recv=7)
    # received again (a resent frame): its receive time differs, so the store could not
    # de-duplicate it; the update id u identifies it, and the repeat gives no row
    assert dec.on_message(raw, 9) == []
    assert dec.skipped["bookTicker repeats (same u, no exchange time)"] == 1
    with pytest.raises(ValueError, match="receive time"):
        dec.on_message(frame, None)


def test_trade_taker_side_follows_buyer_is_maker() -> None:
    """m true ⇒ the buyer was the maker, so the taker sold."""
    dec = make_decoder("wss://stream.binance.com:9443/ws")
    base = {"e": "trade", "E": 1, "s": "BTCUSDT", "t": 7, "p": "2", "q": "3", "T": 1700000000000}
    (sold,) = dec.on_message(json.dumps({**base, "m": True}), None)
    (bought,) = dec.on_message(json.dumps({**base, "m": False}), None)
    assert isinstance(sold, Trade)
    assert isinstance(bought, Trade)
    assert (sold.taker_side, bought.taker_side) == (Side.SELL, Side.BUY)
    assert sold.trade_id == "7"


def test_skipped_frames_are_counted() -> None:
    """Acks, unknown event types, open klines and partial-depth streams are counted, not lost."""
    dec = make_decoder("wss://fstream.binance.com/stream")
    assert dec.on_message(b'{"result":null,"id":1}', None) == []
    assert dec.on_message(b'{"e":"24hrTicker","E":1,"s":"BTCUSDT"}', None) == []
    depth20 = b'{"stream":"btcusdt@depth20@100ms","data":{"e":"depthUpdate"}}'
    assert dec.on_message(depth20, None) == []
    assert dict(dec.skipped) == {
        "subscription results": 1,
        "24hrTicker events": 1,
        "frames of partial-depth stream btcusdt@depth20@100ms": 1,
    }


def _recording(path: Path) -> list[dict[str, object]]:
    with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as reader:
        return [json.loads(line) for line in reader.read().decode().splitlines()]


def test_coinm_kline_and_exchange_info(shared_data: Path) -> None:
    """exchangeInfo teaches contract sizes; a closed COIN-M kline converts v/V contracts."""
    lines = _recording(shared_data / "cryptofeed-ws-recordings" / "BINANCE_DELIVERY.jsonl.zst")
    info = next(x for x in lines if x["t"] == "http" and "exchangeInfo" in str(x["url"]))
    dec = make_decoder("wss://dstream.binance.com/stream")
    assert dec.on_http(str(info["url"]), str(info["data"]), None) == []
    # Line 2 of the recording lists ETHUSD_210924 with contractSize 10 and BTCUSD_PERP with 100.
    assert dec.terms("ETHUSD_210924").inverse_size == 10.0
    assert dec.terms("BTCUSD_PERP").inverse_size == 100.0
    kline = next(
        json.loads(str(x["data"]))
        for x in lines
        if x["t"] == "recv" and "ethusd_210924@kline_1m" in str(x["data"])
    )
    k = kline["data"]["k"]
    assert dec.on_message(json.dumps(kline), None) == []  # x false: still open
    kline["data"]["k"]["x"] = True
    (bar,) = dec.on_message(json.dumps(kline), None)
    assert isinstance(bar, Bar)
    assert bar.ts_event == k["t"] * NS
    assert bar.interval_s == 60
    assert bar.volume_base == float(k["q"])  # COIN-M "q" is the base asset volume
    assert bar.volume_quote == float(k["v"]) * 10.0  # "v" contracts × 10 USD
    assert bar.market is Market.FUTURE
    assert dec.skipped["open (unclosed) kline updates"] == 1
    assert [i.unified for i in dec.instruments] == ["ETH/USD:ETH-210924", "BTC/USD:BTC"]


@pytest.mark.parametrize(
    ("url", "exchange"),
    [
        ("wss://stream.binance.com:9443/stream?streams=btcusdt@trade", "binance"),
        ("wss://fstream.binance.com/ws/btcusdt@trade", "binanceusdm"),
        ("wss://dstream.binance.com/stream", "binancecoinm"),
        ("wss://stream.bybit.com/v5/public/linear", "bybit"),
        ("wss://ws.okx.com:8443/ws/v5/public", "okx"),
        ("wss://api.hyperliquid.xyz/ws", "hyperliquid"),
        ("https://api.binance.com/api/v3/depth?symbol=BTCUSDT", "binance"),
        ("https://fapi.binance.com/fapi/v1/exchangeInfo", "binanceusdm"),
        ("https://dapi.binance.com/dapi/v1/depth", "binancecoinm"),
        ("https://api.bybit.com/v5/market/instruments-info", "bybit"),
        ("https://www.okx.com/api/v5/public/instruments", "okx"),
        ("wss://www.deribit.com/ws/api/v2", None),
    ],
)
def test_exchange_from_url(url: str, exchange: str | None) -> None:
    """Websocket and REST hosts map to ccxt ids."""
    assert exchange_from_url(url) == exchange


def test_routing_and_decoder_for() -> None:
    """REST traffic routes to its websocket decoder; unknown venues fail clearly."""
    assert (
        routing_url("https://fapi.binance.com/fapi/v1/depth") == "wss://fstream.binance.com/stream"
    )
    bybit = "https://api.bybit.com/v5/market/instruments-info?&category=linear&limit=1000"
    assert routing_url(bybit) == "wss://stream.bybit.com/v5/public/linear"
    dec = decoder_for("binancecoinm")
    assert isinstance(dec, BinanceDecoder)
    assert dec.exchange == "binancecoinm"
    with pytest.raises(UnknownFormatError, match="no decoder for exchange 'deribit'"):
        decoder_for("deribit")
