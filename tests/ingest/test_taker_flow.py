"""The freqtrade CVD files become taker-flow rows at the right UTC hour.

Data: ``shared/data/freqtrade-binance-perp-spot-mark-funding-2018-2026/cvd`` (PROVENANCE.md:
naive ``date`` that is UTC, plus ``timestamp`` in epoch seconds; 720 hourly rows per file,
2026-04-20 00:00 → 2026-05-19 23:00, INVENTORY.csv). Expected values are read here with
pyarrow, independently of the importer.
"""

from __future__ import annotations

import math
import shutil
from datetime import UTC, datetime
from pathlib import Path

import polars as pl
import pyarrow.feather as feather
import pytest

from flushwatch.domain.records import TakerFlow
from flushwatch.errors import ParseError
from flushwatch.ingest.registry import detect, parse
from flushwatch.store import Store
from flushwatch.store.asof import AsOfStore

FT = "freqtrade-binance-perp-spot-mark-funding-2018-2026"
SYMBOLS = ("BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT")
FIRST = int(datetime(2026, 4, 20, tzinfo=UTC).timestamp()) * 10**9
LAST = int(datetime(2026, 5, 19, 23, tzinfo=UTC).timestamp()) * 10**9
HOUR = 3600 * 10**9


def cvd(shared: Path, symbol: str) -> Path:
    return shared / FT / "cvd" / f"{symbol}_cvd_1h.feather"


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_every_cvd_file_imports_as_720_hourly_rows_on_its_utc_timestamps(
    shared_data: Path, symbol: str
) -> None:
    path = cvd(shared_data, symbol)
    assert detect(path).name == "freqtrade-cvd"
    df = parse(path).frames[TakerFlow]
    raw = feather.read_table(path)
    assert df.height == raw.num_rows == 720
    # the bar start is the epoch-seconds timestamp, i.e. the naive date read as UTC
    assert df.get_column("ts_event").to_list() == [t * 10**9 for t in raw["timestamp"].to_pylist()]
    assert df.get_column("ts_event")[0] == FIRST
    assert df.get_column("ts_event")[-1] == LAST
    assert df.get_column("taker_buy_base").to_list() == raw["taker_buy_vol"].to_pylist()
    assert df.get_column("trade_count").to_list() == raw["trades"].to_pylist()
    assert set(df.get_column("interval_s")) == {3600}
    assert set(df.get_column("market")) == {"spot"}


@pytest.mark.parametrize("symbol", ["BTC", "ETH", "XRP"])
def test_cvd_volume_is_binance_spot_volume_of_the_same_utc_hour(
    shared_data: Path, symbol: str
) -> None:
    """Why the files are spot and UTC: every hour's volume equals the spot kline's volume of
    that UTC hour exactly; a local-time reading would pair each hour with another."""
    flow = parse(cvd(shared_data, f"{symbol}USDT")).frames[TakerFlow]
    spot = feather.read_table(shared_data / FT / "spot" / f"{symbol}_USDT-1h.feather")
    by_hour = {
        int(d.timestamp()) * 10**9: v
        for d, v in zip(spot["date"].to_pylist(), spot["volume"].to_pylist(), strict=True)
    }
    rows = flow.select("ts_event", "volume_base").rows()

    def agreeing(shift_ns: int) -> int:
        pairs = [(by_hour.get(t + shift_ns), v) for t, v in rows]
        return sum(a is not None and math.isclose(a, v, rel_tol=1e-12) for a, v in pairs)

    # the spot file ends 2026-05-16 23:00: 642 of the 720 hours overlap, and all of them agree
    # (up to the last bit of a float sum); shifted by an hour, almost none do
    overlap = sum(t in by_hour for t, _ in rows)
    assert overlap == 642
    assert agreeing(0) == overlap
    assert agreeing(HOUR) < 5
    assert agreeing(-2 * HOUR) < 5
    if symbol == "BTC":
        assert flow.row(0, named=True)["volume_base"] == 787.93368  # PROVENANCE-checked hour


@pytest.mark.parametrize("symbol", SYMBOLS)
def test_the_files_cumulative_cvd_restarts_at_each_utc_midnight(
    shared_data: Path, symbol: str
) -> None:
    """``cvd_cumulative`` is a running sum of buy − sell that restarts at 00:00 UTC each day
    (more evidence the dates are UTC): the imported rows, summed per UTC day, reproduce it."""
    path = cvd(shared_data, symbol)
    flow = parse(path).frames[TakerFlow]
    raw = feather.read_table(path)["cvd_cumulative"].to_pylist()
    ours = flow.select(
        (pl.col("taker_buy_base") - pl.col("taker_sell_base"))
        .cum_sum()
        .over(pl.col("ts_event") // (24 * HOUR))
    ).to_series()
    assert ours.to_list() == pytest.approx(raw, rel=1e-9, abs=1e-6)


def test_a_date_that_disagrees_with_its_timestamp_is_refused(
    shared_data: Path, tmp_path: Path
) -> None:
    """The timezone trap: a file whose naive dates were written in local time (here UTC+2)."""
    table = feather.read_table(cvd(shared_data, "BTCUSDT"))
    shifted = pl.from_arrow(table)
    assert isinstance(shifted, pl.DataFrame)
    shifted = shifted.with_columns(pl.col("date") + pl.duration(hours=2))
    path = tmp_path / "BTCUSDT_cvd_1h.feather"
    shifted.write_ipc(path)
    with pytest.raises(ParseError, match="cannot tell which time zone") as err:
        parse(path)
    assert err.value.line == 1


def test_taker_flow_in_the_store_is_known_only_after_its_hour_closes(
    shared_data: Path, tmp_path: Path
) -> None:
    store = Store.open(tmp_path / "store")
    src = tmp_path / "ETHUSDT_cvd_1h.feather"
    shutil.copyfile(cvd(shared_data, "ETHUSDT"), src)
    (summary,) = store.write([parse(src)])
    assert summary.rows_added == {"taker_flow": 720}
    assert store.write([parse(src)])[0].rows_added == {"taker_flow": 0}  # idempotent
    assert AsOfStore(store, FIRST + HOUR - 1).read(TakerFlow, asset="ETH").height == 0
    assert AsOfStore(store, FIRST + HOUR).read(TakerFlow, asset="ETH").height == 1
    assert store.read(TakerFlow, asset="ETH").height == 720
