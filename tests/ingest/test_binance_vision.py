"""Binance Vision importer: every real excerpt imports with exact counts and values.

Real files: ``shared/data/binance-vision-format-examples`` (verbatim excerpts quoted in public
issues, see its PROVENANCE.md) and ``shared/data/binance-btcusdt-funding-event-windows``.
Expected values are read from the files with plain Python (``line.split(",")``), never through
the importer, or copied from PROVENANCE.md as each comment says. Zips, µs timestamps and
corrupted copies are built from the real excerpts in ``tmp_path``.
"""

from __future__ import annotations

import gzip
import hashlib
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flushwatch.domain.enums import Market, PriceKind
from flushwatch.domain.records import (
    Bar,
    DepthBand,
    Funding,
    Liquidation,
    LongShortRatio,
    OpenInterest,
    Quote,
    Trade,
)
from flushwatch.errors import ChecksumError, InputError, ParseError
from flushwatch.ingest import registry
from flushwatch.ingest.base import Hints, Parsed
from flushwatch.ingest.binance_vision import FORMATS
from flushwatch.ingest.binance_vision_common import INTERVALS, path_info
from flushwatch.ingest.files import read_head

MS = 1_000_000
S = 1_000_000_000
EXAMPLES = "binance-vision-format-examples"
SPOT_KLINES = "spot-BTCUSDT-1h-2023-10-27-excerpt-noheader.csv"
CM_KLINES = "cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv"
FORMAT_OF = {
    SPOT_KLINES: "binance-vision-klines",
    CM_KLINES: "binance-vision-klines",
    "HYPEUSDT-metrics-2025-05-30-excerpt.csv": "binance-vision-metrics",
    "cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv": "binance-vision-metrics",
    "BTCUSDT-bookDepth-2025-05-19-excerpt.csv": "binance-vision-book-depth",
    "cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv": "binance-vision-liquidations",
}

Parse = Callable[..., Parsed]


@pytest.fixture
def parse(monkeypatch: pytest.MonkeyPatch) -> Parse:
    """Return ``registry.parse`` (read + validate), limited to our formats if need be.

    The registry imports every importer module; while a sibling module is not written yet,
    detection falls back to the Binance Vision formats alone so these tests still run the
    registry's real parse-then-validate path.
    """
    try:
        registry.all_formats()
    except ImportError:
        monkeypatch.setattr(registry, "all_formats", lambda: FORMATS)
    return registry.parse


@pytest.fixture(scope="module")
def examples(shared_data: Path) -> Path:
    """Return the folder of verbatim Binance Vision excerpts."""
    return shared_data / EXAMPLES


def fields(path: Path, line: int) -> list[str]:
    """Return the comma-separated fields of physical line ``line`` (1-based) of ``path``."""
    return path.read_text().splitlines()[line - 1].split(",")


def rows(parsed: Parsed, cls: type) -> list[dict[str, object]]:
    """Return the rows of one dataset as dicts."""
    return parsed.frames[cls].to_dicts()


def write_zip(folder: Path, name: str, content: bytes, *, checksum: bool = True) -> Path:
    """Write ``<name>.zip`` holding ``<name>.csv`` and, like Binance, its ``.CHECKSUM``."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.zip"
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(f"{name}.csv", content)
    if checksum:
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        (folder / f"{name}.zip.CHECKSUM").write_text(f"{digest}  {path.name}\n")
    return path


# --- every real file ---------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(FORMAT_OF))
def test_real_excerpts_are_detected(examples: Path, name: str, parse: Parse) -> None:
    path = examples / name
    assert registry.detect(path).name == FORMAT_OF[name]
    head = read_head(path)
    assert [f.name for f in FORMATS if f.sniff(path, head)] == [FORMAT_OF[name]]


def test_spot_klines_without_header(examples: Path, parse: Parse) -> None:
    path = examples / SPOT_KLINES
    parsed = parse(path)
    bars = rows(parsed, Bar)
    assert len(bars) == 3  # three lines, no header (PROVENANCE.md: "no header row")
    raw = fields(path, 1)  # line 1 of the file
    assert bars[0] == {
        "ts_event": int(raw[0]) * MS,
        "exchange": "binance",
        "market": "spot",
        "symbol": "BTCUSDT",
        "ts_recv": None,
        "price_kind": "trade",
        "interval_s": 3600,
        "open": 34151.66,
        "high": 34171.28,
        "low": 33972.39,
        "close": 34015.27,
        "volume_base": 908.27901,
        "volume_quote": 30937869.623026,
        "taker_buy_base": 416.48838,
        "taker_buy_quote": 14187002.7055006,
        "trade_count": 41459,
        "_line": 1,
    }
    assert [b["ts_event"] for b in bars] == [int(fields(path, n)[0]) * MS for n in (1, 2, 3)]
    assert [b["close"] for b in bars] == [float(fields(path, n)[4]) for n in (1, 2, 3)]
    (inst,) = parsed.instruments
    assert (inst.unified, inst.margin, inst.contract_size) == ("BTC/USDT", "none", 1.0)


def test_coin_m_klines_volume_units(examples: Path, parse: Parse) -> None:
    path = examples / CM_KLINES
    bars = rows(parse(path), Bar)
    assert len(bars) == 3  # header + 3 lines
    for n, bar in enumerate(bars, start=2):  # file lines 2..4
        raw = fields(path, n)
        assert bar["_line"] == n
        assert (bar["exchange"], bar["market"], bar["symbol"]) == (
            "binancecoinm",
            "perp",
            "BTCUSD_PERP",
        )
        assert bar["ts_event"] == int(raw[0]) * MS
        # volume is contracts of 100 USD; quote_volume holds BTC (PROVENANCE.md).
        assert bar["volume_quote"] == int(raw[5]) * 100
        assert bar["volume_base"] == float(raw[7])
        assert bar["taker_buy_quote"] == int(raw[9]) * 100
        assert bar["taker_buy_base"] == float(raw[10])
        assert bar["trade_count"] == int(raw[8])
        # The units are right when USD/BTC falls inside the bar's own low..high.
        vwap = bar["volume_quote"] / bar["volume_base"]  # type: ignore[operator]
        assert float(raw[3]) <= vwap <= float(raw[2])
    assert bars[0]["volume_quote"] == 40_995_300.0  # line 2: 409953 contracts × 100 USD


def test_um_metrics(examples: Path, parse: Parse) -> None:
    path = examples / "HYPEUSDT-metrics-2025-05-30-excerpt.csv"
    parsed = parse(path)
    oi = rows(parsed, OpenInterest)
    assert len(oi) == 31  # PROVENANCE.md: "first 31 rows"
    assert len(parsed.frames[LongShortRatio]) == 31 * 4  # four ratios, none empty
    # Line 2: 2025-05-30 10:30:00,HYPEUSDT,14088.01...,473864.30436,0.51818182,0.802265, ...
    assert oi[0]["ts_event"] == 1_748_601_000 * S
    assert (oi[0]["exchange"], oi[0]["market"], oi[0]["symbol"]) == (
        "binanceusdm",
        "perp",
        "HYPEUSDT",
    )
    assert (oi[0]["oi_base"], oi[0]["oi_quote"]) == (14088.01, 473864.30436)
    raw = fields(path, 2)
    first = {r["kind"]: r["ratio"] for r in rows(parsed, LongShortRatio) if r["_line"] == 2}
    assert first == {
        "top_trader_accounts": float(raw[4]),
        "top_trader_positions": float(raw[5]),
        "global_accounts": float(raw[6]),
        "taker_volume": float(raw[7]),
    }
    assert oi[-1]["ts_event"] == 1_748_610_000 * S  # last line: 2025-05-30 13:00:00
    assert [i.unified for i in parsed.instruments] == ["HYPE/USDT:USDT"]


def test_coin_m_metrics_units_and_empty_ratios(examples: Path, parse: Parse) -> None:
    path = examples / "cm-BTCUSD_PERP-metrics-2023-06-25-excerpt.csv"
    parsed = parse(path)
    oi = rows(parsed, OpenInterest)
    assert len(oi) == 3
    # Line 2: sum_open_interest 5578700 contracts, sum_open_interest_value 18265.00911826 BTC.
    assert oi[0]["oi_base"] == 18265.00911826
    assert oi[0]["oi_quote"] == 5578700 * 100.0
    assert oi[0]["ts_event"] == 1_687_651_200 * S  # 2023-06-25 00:00:00 UTC
    # Only sum_taker_long_short_vol_ratio is filled; the other three are "" → no row.
    ratios = rows(parsed, LongShortRatio)
    assert [(r["kind"], r["ratio"]) for r in ratios] == [
        ("taker_volume", 0.00855776),
        ("taker_volume", 1.1964513),
        ("taker_volume", 2.90028011),
    ]


def test_funding_event_windows_renamed_header(shared_data: Path, parse: Parse) -> None:
    path = shared_data / "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"
    parsed = parse(path)
    funding = rows(parsed, Funding)
    assert len(funding) == 188  # PROVENANCE.md: "188 rows"
    assert funding[0] == {  # line 2: 1621036800022,8,0.00010000
        "ts_event": 1621036800022 * MS,
        "exchange": "binanceusdm",
        "market": "perp",
        "symbol": "BTCUSDT",
        "ts_recv": None,
        "rate": 0.0001,
        "is_settled": True,
        "interval_hours": 8.0,
        "next_funding_ts": None,
        "predicted_rate": None,
        "mark_price": None,
        "_line": 2,
    }
    # PROVENANCE.md: "funding 2021-05-19 16:00 = −0.00089697" (line 16: 1621440000018).
    crash = next(f for f in funding if f["_line"] == 16)
    assert (crash["ts_event"], crash["rate"]) == (1621440000018 * MS, -0.00089697)
    assert funding[-1]["ts_event"] == 1770624000001 * MS  # last line of the file


def test_book_depth_known_bad_snapshot(examples: Path, parse: Parse) -> None:
    path = examples / "BTCUSDT-bookDepth-2025-05-19-excerpt.csv"
    parsed = parse(path)
    bands = rows(parsed, DepthBand)
    assert len(bands) == 10  # PROVENANCE.md: "one timestamp × 10 levels"
    assert bands[0] == {  # line 2: 2025-05-19 11:07:31,-5,7885.27500000,647368074.36920000
        "ts_event": 1_747_652_851 * S,
        "exchange": "binanceusdm",
        "market": "perp",
        "symbol": "BTCUSDT",
        "ts_recv": None,
        "pct": -5.0,
        "depth_base": 7885.275,
        "notional": 647368074.3692,
        "_line": 2,
    }
    assert [b["pct"] for b in bands] == [-5, -4, -3, -2, -1, 1, 2, 3, 4, 5]
    # The snapshot is internally consistent (a mid of ≈83.8k admits every band), so alone
    # it yields only the informational note with the implied mid (~83.8k; #431 says 82–83k
    # average prices while BTC traded ≈103k).
    (note,) = parsed.notes
    assert "83,829" in note
    assert "#431" in note
    assert "WARNING" not in note


def test_book_depth_off_price_against_klines_in_tree(examples: Path, tmp_path: Path) -> None:
    um = tmp_path / "data/futures/um/daily"
    depth = um / "bookDepth/BTCUSDT/BTCUSDT-bookDepth-2025-05-19.csv"
    depth.parent.mkdir(parents=True)
    depth.write_bytes((examples / "BTCUSDT-bookDepth-2025-05-19-excerpt.csv").read_bytes())
    klines = um / "klines/BTCUSDT/1h/BTCUSDT-1h-2025-05-19.csv"
    klines.parent.mkdir(parents=True)
    # Synthetic 11:00 bar at the ≈103k level issue #431 reports for that morning.
    start = 1_747_652_400_000  # 2025-05-19 11:00:00 UTC in ms
    klines.write_text(
        "open_time,open,high,low,close,volume,close_time,quote_volume,count,"
        "taker_buy_volume,taker_buy_quote_volume,ignore\n"
        f"{start},103000,103900,102600,103500,10,{start + 3_599_999},1030000,100,5,515000,0\n"
    )
    parsed = next(f for f in FORMATS if f.name == "binance-vision-book-depth").read(depth, Hints())
    (note,) = parsed.notes
    assert note.startswith("WARNING: 1 of 1 bookDepth snapshots imply a mid price outside")
    assert "2025-05-19T11:07:31Z: 83,829 vs 102,600–103,900" in note


def test_book_depth_inconsistent_bands_warn(examples: Path, tmp_path: Path, parse: Parse) -> None:
    lines = (examples / "BTCUSDT-bookDepth-2025-05-19-excerpt.csv").read_text().splitlines()
    # Line 11 (+5 %): a notional 20 % too high puts the 4..5 % band's average far outside.
    ts, pct, depth, notional = lines[10].split(",")
    lines[10] = f"{ts},{pct},{depth},{float(notional) * 1.2:.8f}"
    bad = tmp_path / "BTCUSDT-bookDepth-2025-05-19.csv"
    bad.write_text("\n".join(lines) + "\n")
    parsed = parse(bad)
    assert len(parsed.frames[DepthBand]) == 10  # still imported
    assert parsed.notes == [
        "WARNING: 1 of 1 bookDepth snapshots are inconsistent (their bands admit no common mid "
        "price within 1 %, or depth shrinks away from mid), first at 2025-05-19T11:07:31Z; "
        "treat their depth with caution"
    ]


def test_coin_m_liquidations(examples: Path, parse: Parse) -> None:
    path = examples / "cm-BTCUSD_PERP-liquidationSnapshot-2023-06-25-excerpt.csv"
    parsed = parse(path)
    liqs = rows(parsed, Liquidation)
    assert len(liqs) == 3  # duplicated first row kept (PROVENANCE.md, issue #259)
    assert liqs[0] == {  # line 2: 1687656471926,BUY,LIMIT,IOC,7,30741.3,30631.6,FILLED,6,7
        "ts_event": 1687656471926 * MS,
        "exchange": "binancecoinm",
        "market": "perp",
        "symbol": "BTCUSD_PERP",
        "ts_recv": None,
        "side": "short",  # BUY order closes a short (DOMAIN.md C5)
        "price": 30741.3,
        "qty": 7 * 100 / 30631.6,  # 7 contracts × 100 USD at the average price
        "notional": 700.0,
        "venue_side": "BUY",
        "coverage": "throttled",
        "avg_price": 30631.6,
        "status": "FILLED",
        "_line": 2,
    }
    assert liqs[1] | {"_line": 2} == liqs[0]  # line 3 repeats line 2 verbatim
    assert liqs[2]["notional"] == 4300.0  # line 4: 43 contracts
    assert parsed.notes == [
        "1 row(s) exact duplicates of an earlier row (binance-public-data#259); "
        "the store keeps one of each"
    ]


# --- zips, checksums, time units -------------------------------------------------------------


def test_zip_with_checksum_imports_like_the_csv(
    examples: Path, tmp_path: Path, parse: Parse
) -> None:
    content = (examples / SPOT_KLINES).read_bytes()
    folder = tmp_path / "data/spot/daily/klines/BTCUSDT/1h"
    path = write_zip(folder, "BTCUSDT-1h-2023-10-27", content)
    assert registry.detect(path).name == "binance-vision-klines"
    from_zip = parse(path).frames[Bar]
    from_csv = parse(examples / SPOT_KLINES).frames[Bar]
    assert from_zip.equals(from_csv)


def test_coin_m_zip_in_tree(examples: Path, tmp_path: Path, parse: Parse) -> None:
    content = (examples / CM_KLINES).read_bytes()
    folder = tmp_path / "data/futures/cm/monthly/klines/BTCUSD_PERP/1h"
    path = write_zip(folder, "BTCUSD_PERP-1h-2023-10", content)
    assert parse(path).frames[Bar].equals(parse(examples / CM_KLINES).frames[Bar])


def test_wrong_checksum(examples: Path, tmp_path: Path, parse: Parse) -> None:
    folder = tmp_path / "data/spot/daily/klines/BTCUSDT/1h"
    path = write_zip(folder, "BTCUSDT-1h-2023-10-27", (examples / SPOT_KLINES).read_bytes())
    sidecar = folder / "BTCUSDT-1h-2023-10-27.zip.CHECKSUM"
    sidecar.write_text(f"{'0' * 64}  {path.name}\n")
    with pytest.raises(ChecksumError, match="download it again"):
        parse(path, "binance-vision-klines")


def test_truncated_zip(examples: Path, tmp_path: Path, parse: Parse) -> None:
    folder = tmp_path / "data/spot/daily/klines/BTCUSDT/1h"
    path = write_zip(
        folder, "BTCUSDT-1h-2023-10-27", (examples / SPOT_KLINES).read_bytes(), checksum=False
    )
    path.write_bytes(path.read_bytes()[:-30])
    with pytest.raises(InputError, match="truncated or corrupt"):
        parse(path)


def test_microsecond_times_give_identical_bars(
    examples: Path, tmp_path: Path, parse: Parse
) -> None:
    # Binance spot files switched open/close time to µs on 2025-01-01: ×1000 both.
    out = []
    for line in (examples / SPOT_KLINES).read_text().splitlines():
        f = line.split(",")
        f[0], f[6] = str(int(f[0]) * 1000), str(int(f[6]) * 1000)
        out.append(",".join(f))
    path = tmp_path / SPOT_KLINES
    path.write_text("\n".join(out) + "\n")
    assert parse(path).frames[Bar].equals(parse(examples / SPOT_KLINES).frames[Bar])


# --- bad input ---------------------------------------------------------------------------


def _edit(src: Path, dst: Path, line: int, col: int, value: str) -> Path:
    lines = src.read_text().splitlines()
    f = lines[line - 1].split(",")
    f[col] = value
    lines[line - 1] = ",".join(f)
    dst.write_text("\n".join(lines) + "\n")
    return dst


def test_garbage_number(examples: Path, tmp_path: Path, parse: Parse) -> None:
    path = _edit(examples / CM_KLINES, tmp_path / CM_KLINES, 3, 2, "34x60.1")
    with pytest.raises(ParseError) as info:
        parse(path)
    assert (info.value.line, info.value.field) == (3, "high")


def test_missing_column(examples: Path, tmp_path: Path, parse: Parse) -> None:
    src = (examples / "BTCUSDT-bookDepth-2025-05-19-excerpt.csv").read_text().splitlines()
    path = tmp_path / "BTCUSDT-bookDepth-2025-05-19.csv"
    path.write_text("\n".join(",".join(line.split(",")[:3]) for line in src) + "\n")
    with pytest.raises(ParseError) as info:
        parse(path)  # detected from the other three columns, then the gap is named
    assert (info.value.line, info.value.field) == (1, "notional")


def test_negative_price(examples: Path, tmp_path: Path, parse: Parse) -> None:
    path = _edit(examples / SPOT_KLINES, tmp_path / SPOT_KLINES, 2, 3, "-1")
    with pytest.raises(ParseError) as info:
        parse(path)
    assert (info.value.line, info.value.field) == (2, "low")


def test_out_of_order_rows(shared_data: Path, tmp_path: Path, parse: Parse) -> None:
    src = shared_data / "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"
    lines = src.read_text().splitlines()
    lines[1], lines[2] = lines[2], lines[1]
    path = tmp_path / src.name
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(ParseError, match="back in time") as info:
        parse(path)
    assert (info.value.line, info.value.field) == (3, "ts_event")


def test_wrong_interval_in_name(examples: Path, tmp_path: Path, parse: Parse) -> None:
    path = tmp_path / "spot-BTCUSDT-1m-2023-10-27.csv"
    path.write_bytes((examples / SPOT_KLINES).read_bytes())
    with pytest.raises(ParseError, match="3600 s but the file name says 1m") as info:
        parse(path)
    assert (info.value.line, info.value.field) == (1, "close_time")


def test_monthly_interval_refused(examples: Path, tmp_path: Path, parse: Parse) -> None:
    path = tmp_path / "spot-BTCUSDT-1mo-2023-10.csv"
    path.write_bytes((examples / SPOT_KLINES).read_bytes())
    with pytest.raises(InputError, match="calendar months"):
        parse(path)


def test_unknown_market_asks_for_hint(examples: Path, tmp_path: Path, parse: Parse) -> None:
    path = tmp_path / "BTCUSDT-1h-candles.csv"
    path.write_bytes((examples / SPOT_KLINES).read_bytes())
    with pytest.raises(InputError, match="--exchange binance"):
        parse(path)
    bars = parse(path, hints=Hints(market=Market.SPOT)).frames[Bar]
    assert bars.get_column("exchange").to_list() == ["binance"] * 3


def test_odd_name_uses_hints_and_close_time(examples: Path, tmp_path: Path, parse: Parse) -> None:
    path = tmp_path / "candles.csv"
    path.write_bytes((examples / SPOT_KLINES).read_bytes())
    with pytest.raises(InputError, match="--symbol"):
        parse(path)
    hints = Hints(exchange="binanceusdm", symbol="BTCUSDT")
    bars = parse(path, hints=hints).frames[Bar]
    # interval from close_time - open_time + 1 ms (line 1: 1698368399999 - 1698364800000)
    assert bars.get_column("interval_s").to_list() == [3600] * 3
    assert set(bars.get_column("market")) == {"perp"}


def test_coin_m_book_depth_refused(examples: Path, tmp_path: Path, parse: Parse) -> None:
    path = tmp_path / "data/futures/cm/daily/bookDepth/BTCUSD_PERP/BTCUSD_PERP-bookDepth-x.csv"
    path.parent.mkdir(parents=True)
    path.write_bytes((examples / "BTCUSDT-bookDepth-2025-05-19-excerpt.csv").read_bytes())
    with pytest.raises(InputError, match="COIN-M bookDepth"):
        parse(path)


def test_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "BTCUSDT-metrics-2025-05-30.csv"
    path.write_text("")
    fmt = next(f for f in FORMATS if f.name == "binance-vision-metrics")
    parsed = fmt.read(path, Hints())
    assert (parsed.rows, parsed.notes) == (0, ["empty file: no metrics"])


# --- trades, aggTrades, bookTicker (layouts from the binance-public-data README) --------------


def test_spot_trades_and_agg_trades_without_header(tmp_path: Path, parse: Parse) -> None:
    # README example rows (spot "Trades" and "AggTrades" tables).
    trades = tmp_path / "data/spot/daily/trades/BNBUSDT/BNBUSDT-trades-2020-03-09.csv"
    trades.parent.mkdir(parents=True)
    trades.write_text("51175358,17.80180000,5.69000000,101.29224200,1583709433583,True,True\n")
    (trade,) = rows(parse(trades), Trade)
    assert trade == {
        "ts_event": 1583709433583 * MS,
        "exchange": "binance",
        "market": "spot",
        "symbol": "BNBUSDT",
        "ts_recv": None,
        "price": 17.8018,
        "qty": 5.69,
        "taker_side": "sell",  # buyer was maker → the taker sold
        "trade_id": "51175358",
        "_line": 1,
    }
    agg = tmp_path / "BNBUSDT-aggTrades-2020-12-25.csv.gz"
    agg.write_bytes(gzip.compress(b"0,0.20000000,50.00000000,0,0,1608872400000,False,True\n"))
    with pytest.raises(InputError, match="--exchange"):  # spot or USD-M? the name cannot say
        parse(agg)
    (row,) = rows(parse(agg, hints=Hints(exchange="binance")), Trade)
    assert (row["price"], row["qty"], row["taker_side"], row["trade_id"]) == (0.2, 50.0, "buy", "0")


def test_futures_trades_with_header(tmp_path: Path, parse: Parse) -> None:
    um = tmp_path / "data/futures/um/daily/trades/BTCUSDT/BTCUSDT-trades-2017-07-12.csv"
    um.parent.mkdir(parents=True)
    um.write_text(
        "id,price,qty,quote_qty,time,is_buyer_maker\n28457,4.00000100,12.00000000,48.00,"
        "1499865549590,true\n"
    )
    (row,) = rows(parse(um), Trade)
    assert (row["exchange"], row["qty"], row["taker_side"]) == ("binanceusdm", 12.0, "sell")
    # COIN-M: qty is contracts, base_qty the BTC amount (README COIN-M trades row).
    cm = tmp_path / "cm-BTCUSD_PERP-trades-2020-06-04.csv"
    cm.write_text(
        "id,price,qty,base_qty,time,is_buyer_maker\n28457,9635.0,1,0.01037883,1591250192508,true\n"
    )
    (row,) = rows(parse(cm), Trade)
    assert (row["exchange"], row["qty"], row["price"]) == ("binancecoinm", 0.01037883, 9635.0)


def test_coin_m_agg_trades_and_book_ticker_contracts(tmp_path: Path, parse: Parse) -> None:
    agg = tmp_path / "data/futures/cm/daily/aggTrades/ETHUSD_PERP/ETHUSD_PERP-aggTrades-x.csv"
    agg.parent.mkdir(parents=True)
    agg.write_text(
        "agg_trade_id,price,quantity,first_trade_id,last_trade_id,transact_time,is_buyer_maker\n"
        "1,2000.0,5,1,1,1686787200009,false\n"
    )
    (row,) = rows(parse(agg), Trade)
    assert row["qty"] == 5 * 10 / 2000.0  # 5 contracts of 10 USD (altcoin COIN-M) at 2000
    ticker = tmp_path / "cm-BTCUSD_PERP-bookTicker-2023-06-15.csv"
    ticker.write_text(
        "update_id,best_bid_price,best_bid_qty,best_ask_price,best_ask_qty,transaction_time,"
        "event_time\n1,25000.0,50,25000.1,20,1686787200009,1686787200015\n"
    )
    (quote,) = rows(parse(ticker), Quote)
    assert quote["ts_event"] == 1686787200009 * MS  # transaction (matching-engine) time
    assert quote["bid_qty"] == 50 * 100 / 25000.0
    assert quote["ask_qty"] == 20 * 100 / 25000.1


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(makers=st.lists(st.sampled_from(["true", "false", "True", "FALSE"]), min_size=1))
def test_taker_side_is_opposite_of_buyer_maker(makers: list[str]) -> None:
    body = "".join(
        f"{i},100.0,1.0,{i},{i},{1_600_000_000_000 + i},{m}\n" for i, m in enumerate(makers)
    )
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "um-BTCUSDT-aggTrades-2020-09-13.csv"
        path.write_text(
            "agg_trade_id,price,quantity,first_trade_id,last_trade_id,"
            "transact_time,is_buyer_maker\n" + body
        )
        fmt = next(f for f in FORMATS if f.name == "binance-vision-agg-trades")
        sides = fmt.read(path, Hints()).frames[Trade].get_column("taker_side").to_list()
    assert sides == ["sell" if m.lower() == "true" else "buy" for m in makers]


def test_bad_boolean_named(tmp_path: Path, parse: Parse) -> None:
    path = tmp_path / "um-BTCUSDT-trades-2020-09-13.csv"
    path.write_text("id,price,qty,quote_qty,time,is_buyer_maker\n1,1.0,1.0,1.0,1600000000000,yes\n")
    with pytest.raises(ParseError) as info:
        parse(path)
    assert (info.value.line, info.value.field) == (2, "is_buyer_maker")


# --- paths and sniffing ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        (
            "data/futures/cm/daily/klines/BTCUSD_240927/1h/BTCUSD_240927-1h-2024-06-01.zip",
            ("binancecoinm", "BTCUSD_240927", "klines", "1h", PriceKind.TRADE),
        ),
        (
            "data/futures/um/monthly/markPriceKlines/BTCUSDT/1m/BTCUSDT-1m-2024-01.zip",
            ("binanceusdm", "BTCUSDT", "klines", "1m", PriceKind.MARK),
        ),
        (
            "data/futures/um/daily/premiumIndexKlines/ETHUSDT/5m/ETHUSDT-5m-2024-01-02.zip",
            ("binanceusdm", "ETHUSDT", "klines", "5m", PriceKind.PREMIUM),
        ),
        (
            "x/BTCUSDT-fundingRate-2023-10.zip",
            (None, "BTCUSDT", "fundingRate", None, PriceKind.TRADE),
        ),
        (
            "spot-BTCUSDT-aggTrades-2025-01-01.csv.gz",
            ("binance", "BTCUSDT", "aggTrades", None, PriceKind.TRADE),
        ),
    ],
)
def test_path_info(path: str, expected: tuple[object, ...]) -> None:
    info = path_info(Path(path))
    assert (info.exchange, info.symbol, info.kind, info.interval, info.price_kind) == expected


def test_coin_m_future_and_mark_klines(examples: Path, tmp_path: Path, parse: Parse) -> None:
    folder = tmp_path / "data/futures/cm/daily/markPriceKlines/BTCUSD_231229/1h"
    folder.mkdir(parents=True)
    path = folder / "BTCUSD_231229-1h-2023-10-27.csv"
    path.write_bytes((examples / CM_KLINES).read_bytes())
    parsed = parse(path)
    bar = rows(parsed, Bar)[0]
    assert (bar["market"], bar["price_kind"], bar["volume_base"], bar["trade_count"]) == (
        "future",
        "mark",
        None,
        None,
    )
    assert [i.unified for i in parsed.instruments] == ["BTC/USD:BTC-231229"]


def test_intervals_table() -> None:
    # README "Intervals" list, less 1mo (refused) and plus spot's 1s.
    assert INTERVALS["1m"] == 60
    assert INTERVALS["1w"] == 7 * 86400
    assert len(INTERVALS) == 15


def test_does_not_claim_other_shared_files(shared_data: Path) -> None:
    others = [
        p
        for p in sorted(shared_data.rglob("*"))
        if p.is_file()
        and p.suffix not in (".md", ".json", ".feather")
        and "binance-vision" not in str(p)
        and "funding-event-windows" not in str(p)
    ]
    assert len(others) > 20
    for path in others:
        head = read_head(path)
        assert [f.name for f in FORMATS if f.sniff(path, head)] == [], path


def test_frame_columns_match_schema(examples: Path, parse: Parse) -> None:
    bars = parse(examples / SPOT_KLINES).frames[Bar]
    assert bars.schema["ts_event"] == pl.Int64
    assert bars.columns[-1] == "_line"


def test_generic_csvs_are_not_claimed(tmp_path: Path) -> None:
    heads = {
        "liquidations.csv": b"time,side,price,qty\n1687656471926,SELL,30000,1\n",
        "ohlc.csv": b"timestamp,open,high,low,close,volume\n1698364800000,1,2,0.5,1.5,10\n",
        "trades.csv": b"id,price,qty,time\n1,1.0,2.0,1600000000000\n",
    }
    for name, head in heads.items():
        path = tmp_path / name
        path.write_bytes(head)
        assert [f.name for f in FORMATS if f.sniff(path, head)] == [], name


def test_book_depth_without_header_by_name(examples: Path, tmp_path: Path, parse: Parse) -> None:
    # Header-less copy: the first cell is a date-time, so it is data, not a column name.
    lines = (examples / "BTCUSDT-bookDepth-2025-05-19-excerpt.csv").read_text().splitlines()
    path = tmp_path / "BTCUSDT-bookDepth-2025-05-19.csv"
    path.write_text("\n".join(lines[1:]) + "\n")
    bands = rows(parse(path), DepthBand)
    assert len(bands) == 10
    assert (bands[0]["_line"], bands[0]["depth_base"]) == (1, 7885.275)


def test_missing_funding_column_with_format(
    shared_data: Path, tmp_path: Path, parse: Parse
) -> None:
    src = shared_data / "binance-btcusdt-funding-event-windows/BTCUSDT-funding-event-windows.csv"
    path = tmp_path / src.name
    path.write_text(
        "\n".join(",".join(line.split(",")[::2]) for line in src.read_text().splitlines())
    )
    with pytest.raises(ParseError) as info:
        parse(path, "binance-vision-funding")
    assert (info.value.line, info.value.field) == (1, "funding_interval_hours")
