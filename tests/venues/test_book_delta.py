"""Book messages decode to one BookDelta each, and flatten to exactly the rows they stand for."""

from __future__ import annotations

import json

import polars as pl

from flushwatch.domain.enums import Market
from flushwatch.domain.records import BookDelta, BookUpdate, Record, flat_records
from flushwatch.domain.tables import book_frame, frame_from_records, frames_by_type
from flushwatch.testing.recorded import ws_lines
from flushwatch.testing.shared import data_path
from flushwatch.venues.binance import BinanceDecoder

NS = 1_000_000
HFT = "hftbacktest-binance-ws-2024-08-08"

# Response example of https://developers.binance.com/docs/derivatives/usds-margined-futures/
# websocket-market-streams/Diff-Book-Depth-Streams
DEPTH_DOC = {
    "e": "depthUpdate",
    "E": 123456789,
    "T": 123456788,
    "s": "BTCUSDT",
    "U": 157,
    "u": 160,
    "pu": 149,
    "b": [["0.0024", "10"]],
    "a": [["0.0026", "100"]],
}


def _decode_all(name: str, exchange: str) -> tuple[list[Record], list[dict[str, object]]]:
    """Every record of a real recording, and every depth payload as plain JSON (for counts)."""
    dec = BinanceDecoder(exchange)
    records: list[Record] = []
    payloads: list[dict[str, object]] = []
    for _, ts, frame in ws_lines(data_path(HFT, name)):
        if frame.startswith('{"stream"'):
            records += dec.on_message(frame, ts)
            data = json.loads(frame)["data"]
            if data.get("e") == "depthUpdate":
                payloads.append(data)
    return records, payloads


def test_documented_diff_is_one_delta() -> None:
    frame = json.dumps({"stream": "btcusdt@depth@0ms", "data": DEPTH_DOC})
    (delta,) = BinanceDecoder("binanceusdm").on_message(frame, 5)
    assert delta == BookDelta(
        ts_event=123456788 * NS,  # T (transaction time) preferred over E
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        ts_recv=5,
        is_snapshot=False,
        bids=[(0.0024, 10.0)],
        asks=[(0.0026, 100.0)],
        update_id=160,
        first_update_id=157,
        prev_update_id=149,
    )
    (bid, ask) = delta.rows()
    assert (bid.side, bid.price, bid.qty, ask.side, ask.price, ask.qty) == (
        "bid",
        0.0024,
        10.0,
        "ask",
        0.0026,
        100.0,
    )


def test_real_usdm_depth_frames_one_delta_each_levels_all_kept() -> None:
    records, payloads = _decode_all("usdm_btcusdt_20240808.gz", "binanceusdm")
    deltas = [r for r in records if isinstance(r, BookDelta)]
    assert len(deltas) == len(payloads) == 6_551  # depthUpdate frames in the recording
    levels = sum(len(p["b"]) + len(p["a"]) for p in payloads)  # type: ignore[arg-type]
    assert sum(d.levels for d in deltas) == levels
    # the values are the venue's strings parsed, in the venue's order
    first = payloads[0]
    assert deltas[0].bids == [(float(p), float(q)) for p, q in first["b"]]  # type: ignore[attr-defined]
    assert deltas[0].update_id == first["u"]


def test_bulk_flattening_equals_row_by_row() -> None:
    records, _ = _decode_all("usdm_btcusdt_20240808.gz", "binanceusdm")
    deltas = [r for r in records if isinstance(r, BookDelta)][:500]
    bulk = book_frame(deltas)
    one_by_one = frame_from_records(BookUpdate, flat_records(list(deltas)))
    assert bulk.height == sum(d.levels for d in deltas)
    assert bulk.equals(one_by_one)
    # grouping for the store maps deltas to the rows' type and merges with plain rows
    mixed: list[Record] = [*deltas[:10], *deltas[10].rows(), *deltas[11:20]]
    frames = frames_by_type(mixed)
    assert list(frames) == [BookUpdate]
    expected = frame_from_records(BookUpdate, flat_records(list(deltas[:20])))
    assert frames[BookUpdate].sort(pl.all()).equals(expected.sort(pl.all()))


def test_coinm_levels_are_converted_from_contracts() -> None:
    records, payloads = _decode_all("cm_btcusd_perp_20240808.gz", "binancecoinm")
    deltas = [r for r in records if isinstance(r, BookDelta)]
    assert len(deltas) == len(payloads)
    first, raw = deltas[0], payloads[0]
    # BTCUSD_PERP: one contract is 100 USD, so base = contracts * 100 / price
    assert first.bids == [(float(p), float(q) * 100 / float(p)) for p, q in raw["b"]]  # type: ignore[attr-defined]
    assert first.asks == [(float(p), float(q) * 100 / float(p)) for p, q in raw["a"]]  # type: ignore[attr-defined]


def test_empty_diff_gives_no_record() -> None:
    empty = {**DEPTH_DOC, "b": [], "a": []}
    frame = json.dumps({"stream": "btcusdt@depth@0ms", "data": empty})
    assert BinanceDecoder("binanceusdm").on_message(frame, 5) == []
    assert book_frame([]).height == 0
