"""Raw websocket recordings (hftbacktest lines, cryptofeed jsonl/raw) read from the real files.

Expected counts come from PROVENANCE.md where it states them, and are otherwise recounted here
with plain ``gzip``/``zstandard`` + ``json``, independently of the code under test.
"""

from __future__ import annotations

import functools
import gzip
import json
from collections import Counter
from pathlib import Path
from typing import Any

import polars as pl
import pytest
import zstandard

from flushwatch.domain.records import Bar, BookUpdate, Quote, Trade
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Hints, Parsed
from flushwatch.ingest.files import read_head
from flushwatch.ingest.recordings import FORMATS
from flushwatch.ingest.validate import validate

HFT = "hftbacktest-binance-ws-2024-08-08"
CF = "cryptofeed-ws-recordings"
NS = 1_000_000
FORMAT = {f.name: f for f in FORMATS}


def _read(path: Path, fmt: str, hints: Hints | None = None) -> Parsed:
    parsed = FORMAT[fmt].read(path, hints or Hints())
    for cls, df in parsed.frames.items():
        validate(cls, df, path)
    return parsed


@functools.cache
def _read_hft(path: Path) -> Parsed:
    """Parse one hftbacktest file once per session (several tests look at the same rows)."""
    return _read(path, "ws-lines")


@functools.cache
def _count_hft(path: Path) -> dict[str, Any]:
    """Recount an hftbacktest file with plain json."""
    out: dict[str, Any] = {"events": Counter(), "levels": 0, "first_trade": None}
    with gzip.open(path, "rt") as fh:
        for number, line in enumerate(fh, start=1):
            ts, _, raw = line.partition(" ")
            msg = json.loads(raw)
            if "stream" not in msg:  # the REST depth snapshot
                out["snapshot"] = (number, msg)
                continue
            data = msg["data"]
            kind = msg["stream"].split("@", 1)[1].split("@")[0]
            out["events"][kind] += 1
            if kind == "depth":
                out["levels"] += len(data["b"]) + len(data["a"])
            if kind == "trade" and out["first_trade"] is None:
                out["first_trade"] = (number, int(ts), data)
    return out


# (file, bookTicker, trade, depthUpdate) as listed in the folder's PROVENANCE.md table.
HFT_FILES = [
    ("usdm_btcusdt_20240808.gz", 66_089, 21_313, 6_551),
    ("usdm_ethusdt_20240808.gz", 53_992, 14_076, 6_586),
    ("spot_btcusdt_20240808.gz", 28_040, 9_757, 3_451),
    ("cm_btcusd_perp_20240808.gz", 19_136, 2_286, 26_847),
]


@pytest.mark.parametrize(("name", "quotes", "trades", "depth"), HFT_FILES)
def test_hftbacktest_counts(
    shared_data: Path, name: str, quotes: int, trades: int, depth: int
) -> None:
    """Every bookTicker, trade and depth level of the file becomes exactly one row."""
    path = shared_data / HFT / name
    expected = _count_hft(path)
    assert expected["events"] == {"bookTicker": quotes, "trade": trades, "depth": depth}
    parsed = _read_hft(path)
    assert parsed.frames[Quote].height == quotes
    assert parsed.frames[Trade].height == trades
    book = parsed.frames[BookUpdate]
    snap_line, snap = expected["snapshot"]
    snap_levels = len(snap["bids"]) + len(snap["asks"])
    assert snap_levels == 2000  # each snapshot holds 1000 bids + 1000 asks
    assert book.height == expected["levels"] + snap_levels
    snapshot = book.filter(pl.col("is_snapshot"))
    assert snapshot.height == snap_levels
    assert snapshot["update_id"].unique().to_list() == [snap["lastUpdateId"]]
    assert snapshot["_line"].unique().to_list() == [snap_line]
    assert parsed.notes == []
    (inst,) = parsed.instruments
    assert inst.symbol == name.split("_20")[0].split("_", 1)[1].upper()


def test_usdm_first_trade_exact(shared_data: Path) -> None:
    """The first trade row equals the first trade line of the USD-M BTCUSDT file."""
    path = shared_data / HFT / "usdm_btcusdt_20240808.gz"
    number, ts_recv, data = _count_hft(path)["first_trade"]
    row = _read_hft(path).frames[Trade].row(0, named=True)
    assert row == {
        "ts_event": data["T"] * NS,
        "exchange": "binanceusdm",
        "market": "perp",
        "symbol": data["s"],
        "ts_recv": ts_recv,
        "price": float(data["p"]),
        "qty": float(data["q"]),
        "taker_side": "sell" if data["m"] else "buy",
        "trade_id": str(data["t"]),
        "_line": number,
    }
    # Line 3 of the file, as printed by `zcat | head -3`:
    assert (number, row["price"], row["qty"], row["taker_side"]) == (3, 61800.3, 0.006, "buy")


def test_coinm_trade_converted_to_btc(shared_data: Path) -> None:
    """COIN-M BTCUSD_PERP trades are 100-USD contracts: qty = contracts × 100 / price."""
    path = shared_data / HFT / "cm_btcusd_perp_20240808.gz"
    number, _, data = _count_hft(path)["first_trade"]
    row = _read_hft(path).frames[Trade].row(0, named=True)
    assert row["_line"] == number
    assert row["qty"] == float(data["q"]) * 100.0 / float(data["p"])
    assert row["market"] == "perp"


def test_truncated_gzip_is_an_input_error(shared_data: Path, tmp_path: Path) -> None:
    """A cut-off download fails before anything is parsed."""
    data = (shared_data / HFT / "spot_btcusdt_20240808.gz").read_bytes()
    bad = tmp_path / "spot_btcusdt_20240808.gz"
    bad.write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="truncated or corrupt"):
        _read(bad, "ws-lines")


def _copy_lines(src: Path, dst: Path, count: int, edit: dict[int, str]) -> None:
    with gzip.open(src, "rt") as fh:
        lines = [next(fh) for _ in range(count)]
    for number, text in edit.items():
        lines[number - 1] = text
    with gzip.open(dst, "wt") as out:
        out.writelines(lines)


def test_broken_json_names_its_line(shared_data: Path, tmp_path: Path) -> None:
    """A line cut in the middle of its JSON raises ParseError at that line."""
    src = shared_data / HFT / "usdm_btcusdt_20240808.gz"
    with gzip.open(src, "rt") as fh:
        line7 = [next(fh) for _ in range(7)][-1]
    bad = tmp_path / "usdm_btcusdt_bad.gz"
    _copy_lines(src, bad, 60, {7: line7[:80] + "\n"})
    with pytest.raises(ParseError, match="not valid JSON") as err:
        _read(bad, "ws-lines")
    assert err.value.line == 7


def test_missing_field_and_bad_time_name_line_and_field(shared_data: Path, tmp_path: Path) -> None:
    """A trade without its price, or a garbage receive time, names the line and the field."""
    src = shared_data / HFT / "usdm_btcusdt_20240808.gz"
    bad = tmp_path / "usdm_btcusdt_bad.gz"
    trade = '1 {"stream":"btcusdt@trade","data":{"e":"trade","E":1,"s":"BTCUSDT","t":1,"T":1}}\n'
    _copy_lines(src, bad, 20, {5: trade.replace("1 ", "1723161255088176367 ", 1)})
    with pytest.raises(ParseError) as err:
        _read(bad, "ws-lines")
    assert (err.value.line, err.value.field) == (5, "p")
    _copy_lines(src, bad, 20, {9: "17231612550x8 {}\n"})
    with pytest.raises(ParseError) as err:
        _read(bad, "ws-lines")
    assert (err.value.line, err.value.field) == (9, "local_receive_ns")


def test_unknown_exchange_prefix_asks_for_a_hint(shared_data: Path, tmp_path: Path) -> None:
    """A renamed file cannot say its exchange; Hints.exchange supplies it."""
    src = shared_data / HFT / "spot_btcusdt_20240808.gz"
    renamed = tmp_path / "btcusdt.gz"
    _copy_lines(src, renamed, 30, {})
    with pytest.raises(InputError, match="pass --exchange"):
        _read(renamed, "ws-lines")
    parsed = _read(renamed, "ws-lines", Hints(exchange="binance"))
    assert parsed.frames[Quote]["exchange"].unique().to_list() == ["binance"]


def _cf_lines(path: Path) -> list[dict[str, Any]]:
    with zstandard.ZstdDecompressor().stream_reader(path.open("rb")) as reader:
        return [json.loads(line) for line in reader.read().decode().splitlines()]


def _count_cf(frames: list[str], bodies: list[str]) -> Counter[str]:
    """Count rows a Binance recording must give: quotes, trades, levels, closed/open klines."""
    out: Counter[str] = Counter()
    for text in frames:
        msg = json.loads(text)
        data, kind = msg["data"], msg["stream"].split("@", 1)[1]
        if kind == "bookTicker":
            out["quotes"] += 1
        elif kind == "aggTrade":
            out["trades"] += 1
        elif kind.startswith("depth"):
            out["levels"] += len(data["b"]) + len(data["a"])
        elif kind.startswith("kline"):
            out["bars" if data["k"]["x"] else "open_klines"] += 1
    for body in bodies:
        snap = json.loads(body)
        out["levels"] += len(snap["bids"]) + len(snap["asks"])
    return out


@pytest.mark.parametrize(
    ("name", "exchange"),
    [
        ("BINANCE_FUTURES", "binanceusdm"),
        ("BINANCE", "binance"),
        ("BINANCE_DELIVERY", "binancecoinm"),
    ],
)
def test_cryptofeed_jsonl_binance(shared_data: Path, name: str, exchange: str) -> None:
    """Every bookTicker, aggTrade, depth level (diffs + REST snapshots) and closed kline."""
    path = shared_data / CF / f"{name}.jsonl.zst"
    lines = _cf_lines(path)
    frames = [x["data"] for x in lines if x["t"] == "recv"]
    bodies = [x["data"] for x in lines if x["t"] == "http" and "/depth" in x["url"]]
    expected = _count_cf(frames, bodies)
    parsed = _read(path, "cryptofeed-jsonl")
    heights = {cls: df.height for cls, df in parsed.frames.items()}
    want = {Quote: expected["quotes"], Trade: expected["trades"], BookUpdate: expected["levels"]}
    if expected["bars"]:
        want[Bar] = expected["bars"]
    assert heights == want
    assert parsed.notes == [
        f"{_ws(exchange)}: skipped {expected['open_klines']:,} open (unclosed) kline updates"
    ]
    assert {i.exchange for i in parsed.instruments} == {exchange}
    symbols = {s for df in parsed.frames.values() for s in df["symbol"].unique()}
    assert {i.symbol for i in parsed.instruments} == symbols


def _ws(exchange: str) -> str:
    return {
        "binance": "wss://stream.binance.com:9443/stream",
        "binanceusdm": "wss://fstream.binance.com/stream",
        "binancecoinm": "wss://dstream.binance.com/stream",
    }[exchange]


def test_cryptofeed_jsonl_delivery_uses_learned_contract_sizes(shared_data: Path) -> None:
    """ETHUSD_210924 is 10 USD a contract (exchangeInfo on line 2): quote sizes converted."""
    path = shared_data / CF / "BINANCE_DELIVERY.jsonl.zst"
    lines = _cf_lines(path)
    number, first = next(
        (n, json.loads(x["data"])["data"])
        for n, x in enumerate(lines, start=1)
        if x["t"] == "recv" and "ethusd_210924@bookTicker" in x["data"]
    )
    quotes = _read(path, "cryptofeed-jsonl").frames[Quote]
    row = quotes.filter(pl.col("_line") == number).row(0, named=True)
    assert row["bid_qty"] == float(first["B"]) * 10.0 / float(first["b"])
    assert row["market"] == "future"


def test_cryptofeed_unsupported_exchange(shared_data: Path) -> None:
    """Deribit has no decoder: say so and list what is supported."""
    with pytest.raises(InputError, match="no decoder for DERIBIT; supported: BINANCE"):
        _read(shared_data / CF / "DERIBIT.jsonl.zst", "cryptofeed-jsonl")
    with pytest.raises(InputError, match="no decoder for DERIBIT"):
        _read(shared_data / CF / "master-branch-raw" / "DERIBIT.ws.1.0.gz", "cryptofeed-raw")


def test_cryptofeed_raw_binance_futures(shared_data: Path) -> None:
    """The master-branch raw file of the same session gives the same websocket rows."""
    path = shared_data / CF / "master-branch-raw" / "BINANCE_FUTURES.ws.1.0.gz"
    with gzip.open(path, "rt") as fh:
        text = fh.read().splitlines()
    frames = [line.partition(": ")[2] for line in text if line[0].isdigit()]
    expected = _count_cf(frames, [])
    parsed = _read(path, "cryptofeed-raw")
    assert {cls: df.height for cls, df in parsed.frames.items()} == {
        Quote: expected["quotes"],
        Trade: expected["trades"],
        BookUpdate: expected["levels"],
        Bar: expected["bars"],
    }
    first_ts = text[1].partition(": ")[0]  # line 2: "1626992741.06217: {...bookTicker...}"
    quote = parsed.frames[Quote].row(0, named=True)
    assert (quote["_line"], quote["ts_recv"]) == (2, 1626992741062170000)
    assert first_ts == "1626992741.06217"


def test_cryptofeed_raw_rest_only_file_notes_it(shared_data: Path) -> None:
    """BINANCE_FUTURES.0.gz holds only exchangeInfo: no rows, and a note saying so."""
    parsed = _read(
        shared_data / CF / "master-branch-raw" / "BINANCE_FUTURES.0.gz", "cryptofeed-raw"
    )
    assert parsed.rows == 0
    assert parsed.notes == [
        "no market-data rows in this file (REST instrument lists only teach contract terms)"
    ]


@pytest.mark.parametrize(
    ("relpath", "fmt"),
    [
        (f"{HFT}/usdm_btcusdt_20240808.gz", "ws-lines"),
        (f"{HFT}/hyperliquid_btcusd_20250126.gz", "ws-lines"),
        (f"{CF}/BYBIT.jsonl.zst", "cryptofeed-jsonl"),
        (f"{CF}/master-branch-raw/OKX.ws.1.0.gz", "cryptofeed-raw"),
        (f"{CF}/master-branch-raw/BINANCE_FUTURES.0.gz", "cryptofeed-raw"),
        ("tardis-csv-samples", None),
    ],
)
def test_sniff_is_specific(shared_data: Path, relpath: str, fmt: str | None) -> None:
    """Each file is claimed by exactly its own format (and a CSV by none of them)."""
    path = shared_data / relpath
    if path.is_dir():
        path = sorted(p for p in path.iterdir() if p.name != "PROVENANCE.md")[0]
    claims = [f.name for f in FORMATS if f.sniff(path, read_head(path))]
    assert claims == ([fmt] if fmt else [])


def test_ws_lines_route_by_the_recorders_streams_json(shared_data: Path, tmp_path: Path) -> None:
    """A recorder file of Bybit *spot* frames: streams.json says so; without it, linear."""
    from flushwatch.ingest.registry import parse
    from flushwatch.testing.recorded import cryptofeed_frames

    src = shared_data / "cryptofeed-ws-recordings" / "BYBIT.jsonl.zst"
    spot = [
        f
        for f in cryptofeed_frames(src)
        if f.kind == "recv" and f.url.endswith("/spot") and '"publicTrade.' in f.data
    ]
    assert spot  # the real recording has a spot connection with trades
    name = "bybit_spot-0123abcd_20260809T212657Z.lines"
    (tmp_path / name).write_text("".join(f"{f.ts} {f.data}\n" for f in spot), encoding="utf-8")
    (tmp_path / "streams.json").write_text(
        json.dumps({"spot-0123abcd": "wss://stream.bybit.com/v5/public/spot"}), encoding="utf-8"
    )
    trades = parse(tmp_path / name).frames[Trade]
    assert set(trades["market"].to_list()) == {"spot"}
    (tmp_path / "streams.json").unlink()
    trades = parse(tmp_path / name).frames[Trade]
    assert set(trades["market"].to_list()) == {"perp"}  # the venue default: linear
