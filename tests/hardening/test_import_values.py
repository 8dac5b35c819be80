"""Issue 14, "bad values stored": implausible values are refused at import with file, line and
field, and one natural key (instrument, time, series) is stored once.

The inputs are CONSTRUCTED freqtrade CSVs (a few lines each, the real format's header and
naming) and the REAL freqtrade XRPUSDT CSV/JSON pair, whose floats differ in the last digit.
"""

from __future__ import annotations

import json
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.domain.enums import Market
from flushwatch.domain.records import Quote
from flushwatch.domain.tables import frame_from_records
from flushwatch.errors import ParseError
from flushwatch.ingest.validate import validate

HEADER = "date,open,high,low,close,volume\n"
GOOD = [
    "2024-08-05T00:00:00.000Z,100.0,101.0,99.0,100.5,10.0",
    "2024-08-05T01:00:00.000Z,100.5,102.0,100.0,101.0,12.0",
    "2024-08-05T02:00:00.000Z,101.0,101.5,98.0,99.0,15.0",
]
XRP = "freqtrade-binance-xrpusdt-perp-2021-11-12"


def _bars(folder: Path, rows: list[str], name: str = "BTC_USDT_USDT-1h-futures.csv") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(HEADER + "\n".join(rows) + "\n")
    return path


def _import(store: Path, *paths: Path) -> tuple[int, str, dict[str, object]]:
    args = ["import", "--store", str(store), "--json", *map(str, paths)]
    result = CliRunner().invoke(app, args)
    doc = json.loads(result.stdout) if result.exit_code == 0 else {}
    return result.exit_code, result.output, doc


@pytest.mark.parametrize(
    ("line", "field", "why"),
    [
        ("2024-08-05T03:00:00.000Z,99.0,98.0,99.5,98.5,1.0", "low", "above the bar's high"),
        ("2024-08-05T03:00:00.000Z,99.0,100.0,98.0,100.5,1.0", "close", "outside the bar's"),
        ("2024-08-05T03:00:00.000Z,97.0,100.0,98.0,99.0,1.0", "open", "outside the bar's"),
        ("2099-01-01T00:00:00.000Z,99.0,100.0,98.0,99.0,1.0", "ts_event", "in the future"),
        ("2024-08-05T03:00:00.000Z,1e20,1e20,1e20,1e20,1.0", "open", "implausible"),
        ("2024-08-05T03:00:00.000Z,99.0,100.0,98.0,99.0,1e20", "volume_base", "implausible"),
    ],
)
def test_an_implausible_bar_is_refused_with_file_line_and_field(
    tmp_path: Path, line: str, field: str, why: str
) -> None:
    path = _bars(tmp_path / "in", [*GOOD, line])
    code, out, _ = _import(tmp_path / "store", path)
    assert code == 2, out
    assert f"{path.name}, line 5, field {field!r}" in out.replace("\n", "")
    assert why in out
    assert not (tmp_path / "store" / "bars").exists()  # nothing written


def test_a_funding_rate_of_1e20_is_refused(tmp_path: Path) -> None:
    rows = ["2024-08-05T00:00:00.000Z,0.0001,0,0,0,0", "2024-08-05T08:00:00.000Z,1e20,0,0,0,0"]
    path = _bars(tmp_path / "in", rows, "BTC_USDT_USDT-8h-funding_rate.csv")
    code, out, _ = _import(tmp_path / "store", path)
    assert code == 2, out
    assert "line 3, field 'rate'" in out
    assert "100 % per interval" in out


def test_a_crossed_quote_is_refused() -> None:
    common = {"exchange": "binanceusdm", "market": Market.PERP, "symbol": "BTCUSDT"}
    quotes = [
        Quote(ts_event=1_722_816_000_000_000_000, bid_price=100.0, bid_qty=1.0, ask_price=100.1,
              ask_qty=1.0, **common),  # type: ignore[arg-type]
        Quote(ts_event=1_722_816_001_000_000_000, bid_price=100.2, bid_qty=1.0, ask_price=100.1,
              ask_qty=1.0, **common),  # type: ignore[arg-type]
    ]  # fmt: skip
    df = frame_from_records(Quote, quotes, lines=[2, 3])
    with pytest.raises(ParseError, match=r"line 3, field 'bid_price': bid 100.2 is above the ask"):
        validate(Quote, df, Path("quotes.csv"))
    validate(Quote, df.head(1), Path("quotes.csv"))  # an uncrossed quote passes


def test_a_bar_of_the_same_hour_is_stored_once_first_version_wins(tmp_path: Path) -> None:
    first = _bars(tmp_path / "a", GOOD)
    code, out, _ = _import(tmp_path / "store", first)
    assert code == 0, out
    noise = GOOD[0].replace("100.5,10.0", "100.50000000000001,10.0")  # float noise only
    other = GOOD[1].replace("101.0,12.0", "101.25,12.0")  # another close for 01:00
    second = _bars(tmp_path / "b", [noise, other, GOOD[2]])
    code, out, doc = _import(tmp_path / "store", second)
    assert code == 0, out
    (summary,) = doc["imported"]  # type: ignore[misc]
    assert summary["rows_added"] == {"bars": 0}
    (note,) = summary["notes"]
    assert note.startswith("1 bars rows repeat an instrument and time already held")
    assert "line 3, field 'close': kept 101.0, ignored 101.25" in note
    closes = pl.read_parquet(tmp_path / "store" / "bars" / "**" / "*.parquet")["close"]
    assert closes.to_list() == [100.5, 101.0, 99.0]


def test_the_real_freqtrade_csv_and_json_of_the_same_candles_add_nothing_twice(
    tmp_path: Path, shared_data: Path
) -> None:
    folder = shared_data / XRP
    csv = folder / "XRP_USDT_USDT-1h-futures.csv"
    js = folder / "original" / "XRP_USDT_USDT-1h-futures.json.gz"
    code, out, doc = _import(tmp_path / "store", csv)
    assert code == 0, out
    assert doc["rows_added"] == 100
    code, out, doc = _import(tmp_path / "store", js)
    assert code == 0, out
    assert doc["rows_added"] == 0  # was 10: last-digit differences stored as second versions
    (summary,) = doc["imported"]  # type: ignore[misc]
    assert summary["notes"] == []  # float noise is not a conflict


def test_fuzz_tracebacks_become_one_line_errors(tmp_path: Path, shared_data: Path) -> None:
    """Two fuzz findings: a bare Deribit name in a Tardis file (IndexError) and an empty
    ``close_time`` in a Binance Vision kline (a row stored without its interval check)."""
    ticker = shared_data / "tardis-csv-samples" / "deribit_derivative_ticker_BTC-PERPETUAL.csv"
    head = ticker.read_text().splitlines()[:3]
    bare = tmp_path / "in" / "deribit_derivative_ticker_BTC.csv"
    bare.parent.mkdir()
    bare.write_text("\n".join(line.replace("BTC-PERPETUAL", "BTC") for line in head) + "\n")
    code, out, _ = _import(tmp_path / "store", bare)
    assert "Traceback" not in out
    assert code in (0, 2), out
    kline = (
        shared_data / "binance-vision-format-examples" / "cm-BTCUSD_PERP-1h-2023-10-27-excerpt.csv"
    )
    rows = kline.read_text().splitlines()[:3]
    rows[2] = rows[2].replace(",1698371999999,", ",,")
    cut = tmp_path / "in" / kline.name
    cut.write_text("\n".join(rows) + "\n")
    code, out, _ = _import(tmp_path / "store2", cut)
    assert code == 2, out
    assert "line 3, field 'close_time': close_time or open_time is empty" in out.replace("\n", "")


def test_a_last_row_cut_short_is_refused_not_stored_with_nulls(tmp_path: Path) -> None:
    path = _bars(tmp_path / "in", [*GOOD[:2], "2024-08-05T02:00:00.000Z,101.0,101.5,98.0,99.0"])
    path.write_text(path.read_text().rstrip("\n"))  # a download cut before the last field
    code, out, _ = _import(tmp_path / "store", path)
    assert code == 2, out
    flat = out.replace("\n", "")
    assert "line 4, field 'volume': the last line has 5 fields, the header 6" in flat
    assert not (tmp_path / "store" / "bars").exists()
