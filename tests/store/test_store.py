"""The store: idempotent, de-duplicating, atomic writes and a versioned layout."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import duckdb
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from flushwatch.domain import Instrument, Margin, Market, Side, Trade
from flushwatch.domain.tables import frame_from_records
from flushwatch.errors import StoreError, StoreVersionError
from flushwatch.ingest.base import Parsed
from flushwatch.store import Store

DAY = 86_400 * 10**9
T0 = 1_723_161_600 * 10**9  # 2024-08-09T00:00:00Z


def _trade(
    i: int, *, ts: int | None = None, price: float = 60_000.0, symbol: str = "BTCUSDT"
) -> Trade:
    return Trade(
        ts_event=T0 + i * 10**9 if ts is None else ts,
        exchange="binanceusdm",
        market=Market.PERP,
        symbol=symbol,
        price=price + i,
        qty=0.001 * (i + 1),
        taker_side=Side.BUY if i % 2 else Side.SELL,
        trade_id=str(i),
    )


def _parsed(path: Path, trades: list[Trade]) -> Parsed:
    path.write_text("\n".join(str(t) for t in trades) or "empty")
    p = Parsed(path=path, format="test")
    p.add(Trade, frame_from_records(Trade, trades, lines=range(1, len(trades) + 1)))
    return p


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def test_write_is_idempotent_and_partitioned(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    trades = [_trade(0), _trade(1), _trade(2, ts=T0 + DAY + 5)]
    first = store.write([_parsed(tmp_path / "a.txt", trades)])
    assert first[0].rows_added == {"trades": 3}
    files = sorted(p.relative_to(store.root).as_posix() for p in store.root.rglob("*.parquet"))
    assert files == [
        "trades/binanceusdm/perp/BTCUSDT/2024-08-09.parquet",
        "trades/binanceusdm/perp/BTCUSDT/2024-08-10.parquet",
    ]
    before = _snapshot(store.root / "trades")
    again = store.write([_parsed(tmp_path / "a.txt", trades)])
    assert again[0].rows_added == {"trades": 0}
    assert again[0].seen_before is True
    assert _snapshot(store.root / "trades") == before  # data files untouched, byte for byte
    whole = _snapshot(store.root)
    store.write([_parsed(tmp_path / "a.txt", trades)])
    assert _snapshot(store.root) == whole  # a third time, not even the ledger changes


def test_duplicates_inside_one_file_are_stored_once(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    t = _trade(0)
    summary = store.write([_parsed(tmp_path / "dup.txt", [t, t, _trade(1)])])[0]
    assert summary.rows_read == {"trades": 3}
    assert summary.rows_added == {"trades": 2}
    assert store.read(Trade).height == 2


def test_ts_recv_does_not_make_a_row_new(tmp_path: Path) -> None:
    """The same exchange event recorded twice (overlapping reconnect) is one row."""
    store = Store.open(tmp_path / "store")
    a = _trade(0)
    b = Trade(**{**{f: getattr(a, f) for f in a.__struct_fields__}, "ts_recv": T0 + 123})
    store.write([_parsed(tmp_path / "a.txt", [a]), _parsed(tmp_path / "b.txt", [b])])
    assert store.read(Trade).height == 1


def test_plain_duckdb_sql_reads_the_store(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    store.write([_parsed(tmp_path / "a.txt", [_trade(i) for i in range(5)])])
    glob = str(store.root / "trades" / "**" / "*.parquet")
    ((n, vwap),) = duckdb.sql(
        f"SELECT count(*), sum(price*qty)/sum(qty) FROM read_parquet('{glob}')"
    ).fetchall()
    assert n == 5
    prices = [60_000.0 + i for i in range(5)]
    qtys = [0.001 * (i + 1) for i in range(5)]
    assert vwap == pytest.approx(sum(p * q for p, q in zip(prices, qtys, strict=True)) / sum(qtys))


def test_failed_commit_rolls_back_every_file(tmp_path: Path) -> None:
    """A real OS failure half-way through the swap restores the store exactly."""
    store = Store.open(tmp_path / "store")
    store.write([_parsed(tmp_path / "a.txt", [_trade(0)])])
    # A directory where the second day's partition file must go makes the swap fail.
    blocker = store.partition_path("trades", "binanceusdm", "perp", "BTCUSDT", "2024-08-10")
    blocker.mkdir(parents=True)
    before = _snapshot(store.root)
    batch = [_trade(1), _trade(2, ts=T0 + DAY)]  # day 1 is rewritten first, then day 2 fails
    with pytest.raises(OSError, match=r"2024-08-10\.parquet"):
        store.write([_parsed(tmp_path / "b.txt", batch)])
    assert _snapshot(store.root) == before
    assert not list(store.root.glob(".staging-*"))


def test_store_of_another_version_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "store"
    Store.open(root)
    (root / "flushwatch-store.json").write_text(json.dumps({"schema_version": 99}))
    with pytest.raises(StoreVersionError, match="schema version 99"):
        Store.open(root)


def test_non_store_folder_is_refused(tmp_path: Path) -> None:
    (tmp_path / "mine.txt").write_text("user data")
    with pytest.raises(StoreError, match="not a flushwatch store"):
        Store.open(tmp_path)


def test_read_filters_by_symbol_and_time(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    trades = [_trade(i) for i in range(4)] + [_trade(9, symbol="ETHUSDT")]
    store.write([_parsed(tmp_path / "a.txt", trades)])
    df = store.read(Trade, symbol="BTCUSDT", start_ns=T0 + 10**9, end_ns=T0 + 3 * 10**9)
    assert df.get_column("trade_id").to_list() == ["1", "2"]
    assert store.read(Trade, symbol="SOLUSDT").height == 0
    assert {s.symbol: s.rows for s in store.series()} == {"BTCUSDT": 4, "ETHUSDT": 1}


def test_instruments_upsert(tmp_path: Path) -> None:
    store = Store.open(tmp_path / "store")
    inst = Instrument(
        exchange="binancecoinm",
        market=Market.PERP,
        symbol="BTCUSD_PERP",
        unified="BTC/USD:BTC",
        base="BTC",
        quote="USD",
        settle="BTC",
        margin=Margin.INVERSE,
        contract_size=100.0,
    )
    p = _parsed(tmp_path / "a.txt", [_trade(0)])
    p.add_instrument(inst)
    store.write([p])
    store.write([p])
    assert store.instruments() == [inst]


@settings(
    max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    ids=st.lists(st.integers(min_value=0, max_value=40), min_size=1, max_size=40),
    split=st.integers(min_value=0, max_value=40),
)
def test_property_split_and_repeated_imports_equal_one_import(
    tmp_path_factory: pytest.TempPathFactory, ids: list[int], split: int
) -> None:
    """However rows arrive (split, repeated, duplicated), the store holds each event once."""
    tmp = tmp_path_factory.mktemp("prop")
    trades = [_trade(i) for i in ids]
    a = Store.open(tmp / "a")
    a.write([_parsed(tmp / "all.txt", trades)])
    b = Store.open(tmp / "b")
    b.write([_parsed(tmp / "p1.txt", trades[:split])] if trades[:split] else [])
    b.write([_parsed(tmp / "p2.txt", trades[split:])] if trades[split:] else [])
    b.write([_parsed(tmp / "p3.txt", trades)])
    key = ["ts_event", "trade_id"]
    da = a.read(Trade).sort(key)
    db = b.read(Trade).sort(key)
    assert da.equals(db)
    assert da.height == len(set(ids))
    assert da.get_column("trade_id").to_list() == [str(i) for i in sorted(set(ids))]
    assert isinstance(da, pl.DataFrame)
