"""Tardis.dev CSV importer: every real sample imports with exact counts and values.

Expected values are read from the sample files with the stdlib ``csv`` module (never through
the importer) or copied from the file's lines, as each comment says. Samples:
``shared/data/tardis-csv-samples`` (PROVENANCE.md: nautilus_trader test data, Tardis CSVs).
"""

from __future__ import annotations

import csv
import gzip
import tempfile
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from flushwatch.domain.enums import Coverage, Margin, Market
from flushwatch.domain.records import (
    BookUpdate,
    Funding,
    Liquidation,
    MarkPrice,
    OpenInterest,
    Quote,
    Record,
    Trade,
)
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Format, Hints, Parsed
from flushwatch.ingest.files import read_head
from flushwatch.ingest.tardis import FORMATS
from flushwatch.ingest.tardis_venues import terms_for
from flushwatch.ingest.validate import validate

SAMPLES = {
    "binance-futures_book_snapshot_25_BTCUSDT.csv": "tardis-book-snapshot",
    "binance-futures_book_snapshot_5_BTCUSDT.csv": "tardis-book-snapshot",
    "bitmex_trades_XBTUSD.csv": "tardis-trades",
    "deribit_derivative_ticker_BTC-PERPETUAL.csv": "tardis-derivative-ticker",
    "deribit_incremental_book_L2_BTC-PERPETUAL.csv": "tardis-incremental-book",
    "huobi-dm-swap_quotes_BTC-USD.csv": "tardis-quotes",
    "okex-futures_derivative_ticker_BTC-USD_UM_XPERP-310404.csv": "tardis-derivative-ticker",
    "okex-swap_derivative_ticker_BTC-USDC-SWAP.csv": "tardis-derivative-ticker",
}
US = 1_000


@pytest.fixture(scope="module")
def samples(shared_data: Path) -> Path:
    """Return the Tardis sample folder."""
    return shared_data / "tardis-csv-samples"


def fmt(name: str) -> Format:
    """Return the Tardis format called ``name``."""
    return next(f for f in FORMATS if f.name == name)


def parse(path: Path, name: str) -> Parsed:
    """Read and validate like ``registry.parse`` does (read, then validate every frame)."""
    parsed = fmt(name).read(path, Hints())
    for cls, df in parsed.frames.items():
        validate(cls, df, path)
    return parsed


def rows(path: Path) -> list[dict[str, str]]:
    """Return the data rows of a CSV as dicts, with the stdlib reader."""
    with path.open(newline="") as fh:
        return list(csv.DictReader(fh))


def frame(parsed: Parsed, cls: type[Record]) -> pl.DataFrame:
    """Return one dataset's frame (empty frame when the file yielded none)."""
    return parsed.frames.get(cls, pl.DataFrame())


def write(tmp: Path, name: str, text: str) -> Path:
    """Write a small CSV under ``tmp``."""
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


# --- detection -------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "expected"), sorted(SAMPLES.items()))
def test_each_sample_is_claimed_by_exactly_one_format(
    samples: Path, name: str, expected: str
) -> None:
    path = samples / name
    head = read_head(path)
    assert [f.name for f in FORMATS if f.sniff(path, head)] == [expected]


def test_format_names() -> None:
    assert [f.name for f in FORMATS] == [
        "tardis-trades",
        "tardis-liquidations",
        "tardis-derivative-ticker",
        "tardis-book-snapshot",
        "tardis-incremental-book",
        "tardis-quotes",
    ]


def test_trade_header_needs_the_file_name_to_say_trades_or_liquidations(tmp_path: Path) -> None:
    text = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
    for name, expected in (
        ("bybit_liquidations_2024-01-01_BTCUSDT.csv", ["tardis-liquidations"]),
        ("bybit_trades_2024-01-01_BTCUSDT.csv", ["tardis-trades"]),
        ("renamed.csv", []),
    ):
        path = write(tmp_path, name, text)
        assert [f.name for f in FORMATS if f.sniff(path, read_head(path))] == expected


def test_other_csvs_are_not_claimed(tmp_path: Path) -> None:
    path = write(tmp_path, "x_trades_y.csv", "id,price,qty,quote_qty,time,is_buyer_maker\n")
    assert not any(f.sniff(path, read_head(path)) for f in FORMATS)


# --- real samples ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "name",
    ["binance-futures_book_snapshot_25_BTCUSDT.csv", "binance-futures_book_snapshot_5_BTCUSDT.csv"],
)
def test_book_snapshots(samples: Path, name: str) -> None:
    path = samples / name
    raw = rows(path)
    depth = sum(1 for c in raw[0] if c.startswith("asks[") and c.endswith(".price"))
    # Expected: one row per non-empty level cell in the file, counted with csv.
    levels = [
        (i, side, r[f"{side}s[{k}].price"], r[f"{side}s[{k}].amount"])
        for i, r in enumerate(raw)
        for k in range(depth)
        for side in ("ask", "bid")
        if r[f"{side}s[{k}].price"]
    ]
    assert depth == (25 if "_25_" in name else 5)
    assert len(raw) == 10  # 11 lines in the file, header included
    assert len(levels) == 10 * depth * 2  # no empty level in these samples

    df = frame(parse(path, "tardis-book-snapshot"), BookUpdate)
    assert df.height == len(levels)
    assert df.get_column("is_snapshot").all()
    assert df.get_column("side").to_list() == [s for _, s, _, _ in levels]
    assert df.get_column("price").to_list() == [float(p) for _, _, p, _ in levels]
    # binance-futures BTCUSDT is linear: amounts are already BTC.
    assert df.get_column("qty").to_list() == [float(a) for _, _, _, a in levels]
    # Line 2 of both files: asks[0] = 11657.08 × 1.714, bids[0] = 11657.07 × 10.896.
    first = df.head(2).to_dicts()
    assert (first[0]["side"], first[0]["price"], first[0]["qty"]) == ("ask", 11657.08, 1.714)
    assert (first[1]["side"], first[1]["price"], first[1]["qty"]) == ("bid", 11657.07, 10.896)
    assert first[0]["ts_event"] == 1598918403696000 * US
    assert first[0]["ts_recv"] == 1598918403810979 * US
    assert first[0]["_line"] == 2
    assert set(df.get_column("exchange")) == {"binanceusdm"}
    assert set(df.get_column("market")) == {"perp"}
    assert set(df.get_column("symbol")) == {"BTCUSDT"}


def test_book_snapshot_instrument(samples: Path) -> None:
    parsed = parse(samples / "binance-futures_book_snapshot_5_BTCUSDT.csv", "tardis-book-snapshot")
    (inst,) = parsed.instruments
    assert (inst.exchange, inst.unified, inst.margin, inst.contract_size) == (
        "binanceusdm",
        "BTC/USDT:USDT",
        Margin.LINEAR,
        1.0,
    )


def test_bitmex_trades_are_converted_from_usd_contracts(samples: Path) -> None:
    path = samples / "bitmex_trades_XBTUSD.csv"
    raw = rows(path)
    df = frame(parse(path, "tardis-trades"), Trade)
    assert df.height == len(raw) == 10
    # XBTUSD: 1 contract = 1 USD, so base qty = amount / price.
    assert df.get_column("qty").to_list() == [float(r["amount"]) / float(r["price"]) for r in raw]
    assert df.get_column("trade_id").to_list() == [r["id"] for r in raw]
    # Line 2: ccc3c1fa-…, sell, 8531.5, 2152 contracts, timestamp 1583020803145000 µs.
    first = df.row(0, named=True)
    assert first["price"] == 8531.5
    assert first["qty"] == pytest.approx(2152 / 8531.5, rel=1e-15)
    assert first["taker_side"] == "sell"
    assert first["trade_id"] == "ccc3c1fa-212c-e8b0-1706-9b9c4f3d5ecf"
    assert first["ts_event"] == 1583020803145000 * US
    assert first["ts_recv"] == 1583020803307160 * US
    assert (first["exchange"], first["market"], first["symbol"]) == ("bitmex", "perp", "XBTUSD")


def test_deribit_incremental_book(samples: Path) -> None:
    path = samples / "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    raw = rows(path)
    df = frame(parse(path, "tardis-incremental-book"), BookUpdate)
    assert df.height == len(raw) == 15
    assert df.get_column("is_snapshot").to_list() == [r["is_snapshot"] == "true" for r in raw]
    assert set(df.get_column("side")) == {"ask"}  # the 15-row excerpt holds asks only
    # Deribit inverse amounts are USD (API docs: "For perpetual ... the amount is in USD").
    assert df.get_column("qty").to_list() == [float(r["amount"]) / float(r["price"]) for r in raw]
    # Line 2: ask 6421.5 × 18640 USD.
    assert df.row(0, named=True)["price"] == 6421.5
    assert df.row(0, named=True)["qty"] == pytest.approx(18640 / 6421.5, rel=1e-15)


def test_huobi_quotes_are_converted_from_100_usd_contracts(samples: Path) -> None:
    path = samples / "huobi-dm-swap_quotes_BTC-USD.csv"
    raw = rows(path)
    parsed = parse(path, "tardis-quotes")
    df = frame(parsed, Quote)
    assert df.height == len(raw) == 10
    # BTC-USD coin-margined swap: 100 USD per contract (Huobi swap specifications).
    assert df.get_column("ask_qty").to_list() == [
        float(r["ask_amount"]) * 100 / float(r["ask_price"]) for r in raw
    ]
    assert df.get_column("bid_qty").to_list() == [
        float(r["bid_amount"]) * 100 / float(r["bid_price"]) for r in raw
    ]
    # Line 2: ask 5494 @ 8629.3, bid 806 @ 8629.2.
    first = df.row(0, named=True)
    assert (first["ask_price"], first["bid_price"]) == (8629.3, 8629.2)
    assert first["ask_qty"] == pytest.approx(549400 / 8629.3, rel=1e-15)
    assert (first["exchange"], first["market"]) == ("huobi", "perp")
    (inst,) = parsed.instruments
    assert (inst.unified, inst.margin, inst.contract_size) == ("BTC/USD:BTC", Margin.INVERSE, 100.0)


def test_deribit_derivative_ticker(samples: Path) -> None:
    path = samples / "deribit_derivative_ticker_BTC-PERPETUAL.csv"
    raw = rows(path)
    parsed = parse(path, "tardis-derivative-ticker")
    marks = frame(parsed, MarkPrice)
    assert marks.height == len(raw) == 3
    assert marks.get_column("mark_price").to_list() == [float(r["mark_price"]) for r in raw]
    assert marks.get_column("index_price").to_list() == [65203.53, 65221.3, 65221.3]
    # funding_rate is 0.00000459 on lines 2-3 and 0.00000452 on line 4: two changes.
    funding = frame(parsed, Funding)
    assert funding.get_column("rate").to_list() == [0.00000459, 0.00000452]
    assert funding.get_column("_line").to_list() == [2, 4]
    assert not funding.get_column("is_settled").any()
    assert funding.get_column("next_funding_ts").null_count() == 2  # empty cells stay null
    assert funding.get_column("predicted_rate").null_count() == 2
    # open_interest 705041730 USD on every line: one OI row, base derived at mark 65220.13.
    oi = frame(parsed, OpenInterest).row(0, named=True)
    assert frame(parsed, OpenInterest).height == 1
    assert oi["oi_quote"] == 705041730.0
    assert oi["oi_base"] == pytest.approx(705041730 / 65220.13, rel=1e-15)
    (inst,) = parsed.instruments
    assert (inst.exchange, inst.unified, inst.contract_size) == ("deribit", "BTC/USD:BTC", 10.0)


def test_okex_swap_usdc_ticker(samples: Path) -> None:
    path = samples / "okex-swap_derivative_ticker_BTC-USDC-SWAP.csv"
    raw = rows(path)
    parsed = parse(path, "tardis-derivative-ticker")
    assert frame(parsed, MarkPrice).height == len(raw) == 6
    funding = frame(parsed, Funding)
    # Lines 2-4 (2023-04-01) repeat one rate, lines 5-7 (2023-05-01) another.
    assert funding.get_column("_line").to_list() == [2, 5]
    assert funding.get_column("rate").to_list() == [0.0001035718476117, -0.000055804472025]
    assert funding.get_column("predicted_rate").to_list() == [
        -0.0002170715502003,
        0.000013752625801,
    ]
    assert funding.get_column("next_funding_ts").to_list() == [
        1680336000000000 * US,
        1682928000000000 * US,
    ]
    oi = frame(parsed, OpenInterest)
    # 1653109 and 2113695 contracts of 0.0001 BTC (OKX BTCUSDC perpetual face value).
    assert oi.get_column("oi_base").to_list() == pytest.approx([165.3109, 211.3695], rel=1e-12)
    assert oi.get_column("oi_quote").to_list() == pytest.approx(
        [1653109 * 0.0001 * 28479, 2113695 * 0.0001 * 29304.1], rel=1e-12
    )
    (inst,) = parsed.instruments
    assert (inst.exchange, inst.unified, inst.contract_size) == ("okx", "BTC/USDC:USDC", 0.0001)


def test_okex_xperp_ticker_is_a_perp_with_unknown_oi_units(samples: Path) -> None:
    path = samples / "okex-futures_derivative_ticker_BTC-USD_UM_XPERP-310404.csv"
    raw = rows(path)
    parsed = parse(path, "tardis-derivative-ticker")
    marks = frame(parsed, MarkPrice)
    assert marks.height == len(raw) == 8
    assert set(marks.get_column("market")) == {str(Market.PERP)}
    assert set(marks.get_column("exchange")) == {"okx"}
    assert set(marks.get_column("symbol")) == {"BTC-USD_UM_XPERP-310404"}
    funding = frame(parsed, Funding)
    # funding_timestamp changes from 1786320000000000 to 1786348800000000 on line 5.
    assert funding.get_column("_line").to_list() == [2, 5]
    assert funding.get_column("rate").to_list() == [-0.0003972900658902, -0.0003962534258591]
    assert OpenInterest not in parsed.frames
    assert parsed.notes == [
        "8 open interest values skipped: the unit of open_interest is not known for "
        "BTC-USD_UM_XPERP-310404 (see tardis_venues.py)"
    ]
    assert parsed.instruments == []


@pytest.mark.parametrize(
    ("name", "format_name"),
    [
        ("bitmex_trades_XBTUSD.csv", "tardis-trades"),
        ("binance-futures_book_snapshot_25_BTCUSDT.csv", "tardis-book-snapshot"),
        ("okex-swap_derivative_ticker_BTC-USDC-SWAP.csv", "tardis-derivative-ticker"),
    ],
)
def test_gzipped_copy_imports_identically(
    samples: Path, tmp_path: Path, name: str, format_name: str
) -> None:
    plain = samples / name
    packed = tmp_path / (name + ".gz")
    packed.write_bytes(gzip.compress(plain.read_bytes()))
    assert [f.name for f in FORMATS if f.sniff(packed, read_head(packed))] == [format_name]
    a, b = parse(plain, format_name), parse(packed, format_name)
    assert a.frames.keys() == b.frames.keys()
    for cls, df in a.frames.items():
        assert df.equals(b.frames[cls])
    assert a.instruments == b.instruments


# --- bad input -------------------------------------------------------------------------------


def _edit(samples: Path, tmp_path: Path, name: str, line: int, old: str, new: str) -> Path:
    lines = (samples / name).read_text().splitlines(keepends=True)
    assert old in lines[line - 1]
    lines[line - 1] = lines[line - 1].replace(old, new, 1)
    path = tmp_path / name
    path.write_text("".join(lines))
    return path


def test_garbage_number_names_line_and_field(samples: Path, tmp_path: Path) -> None:
    path = _edit(samples, tmp_path, "bitmex_trades_XBTUSD.csv", 3, ",8531.5,", ",8531.5x,")
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-trades")
    assert (info.value.line, info.value.field) == (3, "price")


def test_garbage_in_a_book_level(samples: Path, tmp_path: Path) -> None:
    name = "binance-futures_book_snapshot_5_BTCUSDT.csv"
    path = _edit(samples, tmp_path, name, 4, ",10.896,", ",ten,")
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-book-snapshot")
    assert (info.value.line, info.value.field) == (4, "bids[0].amount")


def test_missing_column(samples: Path, tmp_path: Path) -> None:
    raw = (samples / "bitmex_trades_XBTUSD.csv").read_text().splitlines()
    text = "\n".join(line.rsplit(",", 1)[0] for line in raw) + "\n"  # drop 'amount'
    path = write(tmp_path, "bitmex_trades_XBTUSD.csv", text)
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-trades")
    assert (info.value.line, info.value.field) == (1, "amount")


def test_millisecond_timestamps_are_refused(samples: Path, tmp_path: Path) -> None:
    # Line 2 timestamp 1583020803145000 µs written as 1583020803145 ms.
    path = _edit(
        samples, tmp_path, "bitmex_trades_XBTUSD.csv", 2, ",1583020803145000,", ",1583020803145,"
    )
    with pytest.raises(ParseError, match="looks like ms") as info:
        parse(path, "tardis-trades")
    assert (info.value.line, info.value.field) == (2, "timestamp")


def test_negative_price_fails_validation(samples: Path, tmp_path: Path) -> None:
    path = _edit(samples, tmp_path, "bitmex_trades_XBTUSD.csv", 4, ",8531.5,", ",-8531.5,")
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-trades")
    assert (info.value.line, info.value.field) == (4, "price")


def test_half_empty_book_level_is_refused(samples: Path, tmp_path: Path) -> None:
    name = "binance-futures_book_snapshot_5_BTCUSDT.csv"
    path = _edit(samples, tmp_path, name, 3, ",11657.07,10.896,", ",11657.07,,")
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-book-snapshot")
    assert (info.value.line, info.value.field) == (3, "bids[0].amount")


def test_empty_trailing_levels_are_skipped(samples: Path, tmp_path: Path) -> None:
    name = "binance-futures_book_snapshot_5_BTCUSDT.csv"
    path = _edit(samples, tmp_path, name, 2, ",11657.92,0.918,11655.68,0.111", ",,,,")
    df = frame(parse(path, "tardis-book-snapshot"), BookUpdate)
    assert df.height == 100 - 2  # line 2 loses its asks[4] and bids[4]


def test_bad_book_side(samples: Path, tmp_path: Path) -> None:
    name = "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    path = _edit(samples, tmp_path, name, 5, ",ask,", ",offer,")
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-incremental-book")
    assert (info.value.line, info.value.field) == (5, "side")


def test_unknown_contract_size_is_refused(tmp_path: Path) -> None:
    text = (
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "bitmex,ETHUSD,1583020803145000,1583020803307160,a,buy,230.5,10\n"
    )
    path = write(tmp_path, "bitmex_trades_2020-03-01_ETHUSD.csv", text)
    with pytest.raises(InputError, match="unit of 'amount'"):
        parse(path, "tardis-trades")


def test_unsupported_exchange(tmp_path: Path) -> None:
    text = (
        "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"
        "kraken,XBT/USD,1583020803145000,1583020803307160,a,buy,8530,0.1\n"
    )
    path = write(tmp_path, "kraken_trades_2020-03-01_XBTUSD.csv", text)
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-trades")
    assert (info.value.line, info.value.field) == (2, "exchange")


def test_one_sided_quotes_are_skipped_with_a_note(tmp_path: Path) -> None:
    text = (
        "exchange,symbol,timestamp,local_timestamp,ask_amount,ask_price,bid_price,bid_amount\n"
        "binance-futures,BTCUSDT,1598918403696000,1598918403810979,1.5,11657.08,11657.07,2\n"
        "binance-futures,BTCUSDT,1598918403697000,1598918403811979,,,11657.07,2\n"
    )
    path = write(tmp_path, "binance-futures_quotes_2020-09-01_BTCUSDT.csv", text)
    parsed = parse(path, "tardis-quotes")
    assert frame(parsed, Quote).get_column("_line").to_list() == [2]
    assert parsed.notes == ["1 rows with an empty bid or ask side were skipped"]


# --- liquidations (no real sample in shared data: synthetic rows in Tardis's layout) ----------

LIQ_HEADER = "exchange,symbol,timestamp,local_timestamp,id,side,price,amount\n"


def test_liquidation_side_and_units(tmp_path: Path) -> None:
    text = LIQ_HEADER + (
        "binance-futures,BTCUSDT,1704067200000000,1704067200100000,,sell,42000.5,0.5\n"
        "binance-futures,BTCUSDT,1704067201000000,1704067201100000,,buy,42100,0.25\n"
        "binance-futures,BTCUSDT,1704067202000000,1704067202100000,,unknown,42100,1\n"
    )
    path = write(tmp_path, "binance-futures_liquidations_2024-01-01_BTCUSDT.csv", text)
    parsed = parse(path, "tardis-liquidations")
    df = frame(parsed, Liquidation)
    # Tardis: 'sell' = long liquidated, 'buy' = short liquidated.
    assert df.get_column("side").to_list() == ["long", "short"]
    assert df.get_column("venue_side").to_list() == ["sell", "buy"]
    assert df.get_column("qty").to_list() == [0.5, 0.25]
    assert df.get_column("notional").to_list() == [0.5 * 42000.5, 0.25 * 42100]
    assert set(df.get_column("coverage")) == {str(Coverage.THROTTLED)}  # DOMAIN.md C1
    assert df.get_column("avg_price").null_count() == 2
    assert parsed.notes == ["1 liquidations with side 'unknown' were skipped"]


def test_inverse_liquidation_notional_is_the_usd_amount(tmp_path: Path) -> None:
    text = LIQ_HEADER + "deribit,BTC-PERPETUAL,1704067200000000,1704067200100000,7,buy,40000,1000\n"
    path = write(tmp_path, "deribit_liquidations_2024-01-01_BTC-PERPETUAL.csv", text)
    row = frame(parse(path, "tardis-liquidations"), Liquidation).row(0, named=True)
    assert (row["side"], row["qty"], row["notional"]) == ("short", 1000 / 40000, 1000.0)
    assert row["coverage"] == str(Coverage.UNKNOWN)


@settings(max_examples=25, deadline=None)
@given(
    st.lists(
        st.tuples(st.sampled_from(["buy", "sell"]), st.integers(1, 10**6)), min_size=1, max_size=20
    )
)
def test_liquidation_side_is_the_opposite_of_the_order_side(sides: list[tuple[str, int]]) -> None:
    body = "".join(
        f"bybit,BTCUSDT,{1704067200000000 + i},{1704067200000000 + i},,{side},42000,{n / 1000}\n"
        for i, (side, n) in enumerate(sides)
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = write(Path(tmp), "bybit_liquidations_2024-01-01_BTCUSDT.csv", LIQ_HEADER + body)
        df = frame(parse(path, "tardis-liquidations"), Liquidation)
    flip = {"buy": "short", "sell": "long"}
    assert df.get_column("side").to_list() == [flip[s] for s, _ in sides]
    assert df.get_column("venue_side").to_list() == [s for s, _ in sides]
    assert df.get_column("qty").to_list() == [n / 1000 for _, n in sides]


# --- venue terms -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tardis", "symbol", "exchange", "market", "unit", "factor", "unified"),
    [
        (
            "binance-delivery",
            "BTCUSD_PERP",
            "binancecoinm",
            Market.PERP,
            "quote",
            100.0,
            "BTC/USD:BTC",
        ),
        (
            "binance-delivery",
            "ETHUSD_210326",
            "binancecoinm",
            Market.FUTURE,
            "quote",
            10.0,
            "ETH/USD:ETH-210326",
        ),
        ("okex-swap", "BTC-USD-SWAP", "okx", Market.PERP, "quote", 100.0, "BTC/USD:BTC"),
        ("okex-swap", "BTC-USDT-SWAP", "okx", Market.PERP, "base", 0.01, "BTC/USDT:USDT"),
        (
            "okex-futures",
            "BTC-USD-210326",
            "okx",
            Market.FUTURE,
            "quote",
            100.0,
            "BTC/USD:BTC-210326",
        ),
        ("okex", "BTC-USDT", "okx", Market.SPOT, "base", 1.0, "BTC/USDT"),
        ("binance", "ETHBTC", "binance", Market.SPOT, "base", 1.0, "ETH/BTC"),
        ("bybit", "BTCUSD", "bybit", Market.PERP, "quote", 1.0, "BTC/USD:BTC"),
        ("bybit", "BTCUSDT", "bybit", Market.PERP, "base", 1.0, "BTC/USDT:USDT"),
        ("deribit", "BTC-25SEP20", "deribit", Market.FUTURE, "quote", 1.0, "BTC/USD:BTC-200925"),
    ],
)
def test_venue_terms(
    tardis: str,
    symbol: str,
    exchange: str,
    market: Market,
    unit: str,
    factor: float,
    unified: str,
) -> None:
    terms = terms_for(tardis, symbol)
    assert terms is not None
    assert (terms.exchange, terms.market, terms.amount_unit, terms.amount_factor) == (
        exchange,
        market,
        unit,
        factor,
    )
    assert terms.instrument is not None
    assert terms.instrument.unified == unified


@pytest.mark.parametrize("format_name", [f.name for f in FORMATS])
def test_empty_gzip_file_yields_nothing_with_a_note(tmp_path: Path, format_name: str) -> None:
    # Tardis serves an empty gzip file for a day without data (datasets API docs).
    path = tmp_path / "deribit_trades_2020-03-01_BTC-PERPETUAL.csv.gz"
    path.write_bytes(gzip.compress(b""))
    parsed = parse(path, format_name)
    assert parsed.frames == {}
    assert parsed.notes == ["empty file: Tardis had no data for this day and symbol"]


@pytest.mark.parametrize(("name", "format_name"), sorted(SAMPLES.items()))
def test_header_only_file_yields_no_rows(
    samples: Path, tmp_path: Path, name: str, format_name: str
) -> None:
    first_line = (samples / name).read_text().splitlines()[0]
    path = write(tmp_path, name, first_line + "\n")
    assert parse(path, format_name).rows == 0


def test_bad_is_snapshot_flag(samples: Path, tmp_path: Path) -> None:
    name = "deribit_incremental_book_L2_BTC-PERPETUAL.csv"
    path = _edit(samples, tmp_path, name, 7, ",true,", ",yes,")
    with pytest.raises(ParseError) as info:
        parse(path, "tardis-incremental-book")
    assert (info.value.line, info.value.field) == (7, "is_snapshot")
