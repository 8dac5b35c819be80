"""Reads open only the files of the instruments and days asked for, with the same answer."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import polars as pl
import pytest

from flushwatch.domain import Market, Side, Trade
from flushwatch.domain.symbols import base_asset
from flushwatch.domain.tables import frame_from_records
from flushwatch.ingest.base import Parsed
from flushwatch.store import SeriesInfo, Store
from flushwatch.store.select import asset_folder_test

DAY = 86_400 * 10**9
T0 = 1_723_161_600 * 10**9  # 2024-08-09T00:00:00Z
#: Native symbols of several venues, one whose folder name differs from the symbol (ccxt),
#: and an exotic one whose base asset is not letters and digits.
SYMBOLS = ("BTCUSDT", "BTC/USDT:USDT", "ETHUSDT", "ETH-USDT-SWAP", "XBTUSD", "é x/USDT")


def _trades() -> list[Trade]:
    out = []
    for k, sym in enumerate(SYMBOLS):
        for i in range(6):
            out.append(
                Trade(
                    ts_event=T0 + i * DAY // 2 + k,
                    exchange="okx" if "SWAP" in sym else "binanceusdm",
                    market=Market.PERP,
                    symbol=sym,
                    price=100.0 + i,
                    qty=1.0 + k,
                    taker_side=Side.BUY if i % 2 else Side.SELL,
                    trade_id=f"{k}-{i}",
                )
            )
    return out


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Store:
    root = tmp_path_factory.mktemp("select")
    src = root / "trades.txt"
    src.write_text("trades")
    parsed = Parsed(path=src, format="test")
    parsed.add(Trade, frame_from_records(Trade, _trades()))
    st = Store.open(root / "store")
    st.write([parsed])
    return st


def _everything(store: Store) -> pl.DataFrame:
    with store.connect() as con:
        df: pl.DataFrame = con.sql("SELECT * FROM trades ORDER BY ts_event, trade_id").pl()
    return df


@pytest.mark.parametrize("asset", ["BTC", "btc", "ETH", "É X", "SOL"])
def test_asset_read_equals_filtering_everything(store: Store, asset: str) -> None:
    full = _everything(store)
    want = full.filter(
        pl.col("symbol").map_elements(base_asset, return_dtype=pl.String) == asset.upper()
    )
    got = store.read(Trade, asset=asset)
    assert got.select(want.columns).to_dicts() == want.to_dicts()
    assert got.height == {"BTC": 18, "ETH": 12, "É X": 6, "SOL": 0}[asset.upper()]


@pytest.mark.parametrize(
    ("start", "end"), [(None, None), (T0 + DAY // 2, T0 + 2 * DAY), (T0 + DAY, None), (None, T0)]
)
def test_time_and_venue_filters_equal_filtering_everything(
    store: Store, start: int | None, end: int | None
) -> None:
    full = _everything(store)
    want = full.filter(
        (pl.col("exchange") == "okx")
        & (pl.lit(start is None) | (pl.col("ts_event") >= (start or 0)))
        & (pl.lit(end is None) | (pl.col("ts_event") < (end or 0)))
    )
    got = store.read(Trade, exchange="okx", start_ns=start, end_ns=end)
    assert got.select(want.columns).to_dicts() == want.to_dicts()


def test_a_read_never_opens_other_instruments_or_days(store: Store, tmp_path: Path) -> None:
    """Break every file the read must not touch: it still answers."""
    spoiled = [
        p
        for p in store.root.joinpath("trades").rglob("*.parquet")
        if "BTCUSDT" not in p.parts or p.name != "2024-08-10.parquet"
    ]
    saved = {p: p.read_bytes() for p in spoiled}
    try:
        for p in spoiled:
            p.write_bytes(b"not parquet")
        got = store.read(
            Trade, symbol="BTCUSDT", asset="BTC", start_ns=T0 + DAY, end_ns=T0 + 2 * DAY
        )
        assert got.get_column("ts_event").to_list() == [T0 + DAY, T0 + DAY + DAY // 2]
    finally:
        for p, data in saved.items():
            p.write_bytes(data)


def test_series_from_footers_equals_a_full_scan(store: Store) -> None:
    with store.connect() as con:
        rows = con.execute(
            "SELECT exchange, market, symbol, count(*), min(ts_event), max(ts_event) "
            "FROM trades GROUP BY ALL ORDER BY ALL"
        ).fetchall()
    want = [
        SeriesInfo(
            dataset="trades",
            exchange=r[0],
            market=r[1],
            symbol=r[2],
            rows=r[3],
            first_ts=r[4],
            last_ts=r[5],
        )
        for r in rows
    ]
    assert store.series() == want
    assert store.series() == want  # cached footers give the same
    assert [s.symbol for s in store.series(asset="BTC")] == ["BTC/USDT:USDT", "BTCUSDT", "XBTUSD"]


def test_two_symbols_in_one_folder_are_told_apart(tmp_path: Path) -> None:
    """``BTC/USDT`` and ``BTC:USDT`` share the folder ``BTC_USDT``: the footer cannot name
    one symbol, so the file's rows are grouped."""
    src = tmp_path / "x.txt"
    src.write_text("x")
    parsed = Parsed(path=src, format="test")
    trades = [
        Trade(
            ts_event=T0 + i,
            exchange="x",
            market=Market.PERP,
            symbol=sym,
            price=1.0,
            qty=1.0,
            taker_side=Side.BUY,
        )
        for i, sym in enumerate(["BTC/USDT", "BTC:USDT", "BTC/USDT"])
    ]
    parsed.add(Trade, frame_from_records(Trade, trades))
    st = Store.open(tmp_path / "store")
    st.write([parsed])
    assert [(s.symbol, s.rows, s.first_ts, s.last_ts) for s in st.series()] == [
        ("BTC/USDT", 2, T0, T0 + 2),
        ("BTC:USDT", 1, T0 + 1, T0 + 1),
    ]
    assert st.read(Trade, symbol="BTC:USDT").height == 1


def test_asset_folder_test_keeps_what_it_cannot_judge() -> None:
    plain = asset_folder_test("btc")
    assert [plain(n) for n in ("BTCUSDT", "BTC_USDT_USDT", "XBTUSD", "ETHUSDT")] == [
        True,
        True,
        True,
        False,
    ]
    odd = asset_folder_test("É X")
    assert odd("ETHUSDT")


def test_the_same_store_sees_a_symbol_written_after_its_first_read(tmp_path: Path) -> None:
    """Folder listings are cached per store; a new symbol folder invalidates them."""
    st = Store.open(tmp_path / "store")

    def write(symbol: str, name: str) -> None:
        src = tmp_path / name
        src.write_text(symbol)
        parsed = Parsed(path=src, format="test")
        trade = Trade(
            ts_event=T0,
            exchange="binanceusdm",
            market=Market.PERP,
            symbol=symbol,
            price=1.0,
            qty=1.0,
            taker_side=Side.BUY,
        )
        parsed.add(Trade, frame_from_records(Trade, [trade]))
        st.write([parsed])

    write("BTCUSDT", "a.txt")
    assert st.read(Trade, asset="BTC").get_column("symbol").to_list() == ["BTCUSDT"]
    write("BTCUSDC", "b.txt")
    assert sorted(st.read(Trade, asset="BTC").get_column("symbol")) == ["BTCUSDC", "BTCUSDT"]
    assert [s.symbol for s in st.series(asset="BTC")] == ["BTCUSDC", "BTCUSDT"]


def test_one_store_reads_from_threads(store: Store) -> None:
    """Reads share one DuckDB per store and process; each thread takes its own cursor."""
    want = store.read(Trade, asset="BTC")
    with ThreadPoolExecutor(4) as pool:
        got = list(pool.map(lambda _: store.read(Trade, asset="BTC"), range(8)))
    assert all(g.equals(want) for g in got)
