"""Version 2 layout: month files for hourly-and-slower data, and the migration from version 1."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import polars as pl
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.domain import Bar, Funding, Market, Side, Trade
from flushwatch.domain.enums import PriceKind
from flushwatch.domain.tables import frame_from_records
from flushwatch.errors import StoreError, StoreVersionError
from flushwatch.ingest.base import Parsed
from flushwatch.store import Store
from flushwatch.store.io import write_frame
from flushwatch.store.migrate import migrate

HOUR = 3600 * 10**9
T0 = 1_738_195_200 * 10**9  # 2025-01-30T00:00:00Z: four days across a month boundary


def _bars(symbol: str) -> list[Bar]:
    close = 100.0 + np.cumsum(np.sin(np.arange(96)))
    return [
        Bar(
            ts_event=T0 + i * HOUR,
            exchange="binanceusdm",
            market=Market.PERP,
            symbol=symbol,
            price_kind=PriceKind.TRADE,
            interval_s=3600,
            open=float(c),
            high=float(c) + 1,
            low=float(c) - 1,
            close=float(c),
            volume_base=1.0 + i,
        )
        for i, c in enumerate(close)
    ]


def _store(tmp_path: Path) -> Store:
    src = tmp_path / "src.txt"
    src.write_text("bars, funding and trades")
    parsed = Parsed(path=src, format="test")
    parsed.add(Bar, frame_from_records(Bar, _bars("BTCUSDT") + _bars("ETHUSDT")))
    funding = [
        Funding(
            ts_event=T0 + i * 8 * HOUR,
            exchange="binanceusdm",
            market=Market.PERP,
            symbol="BTCUSDT",
            rate=1e-4 * i,
            is_settled=True,
        )
        for i in range(12)
    ]
    parsed.add(Funding, frame_from_records(Funding, funding))
    trades = [
        Trade(
            ts_event=T0 + i * 7 * HOUR,
            exchange="binanceusdm",
            market=Market.PERP,
            symbol="BTCUSDT",
            price=100.0,
            qty=1.0,
            taker_side=Side.BUY,
            trade_id=str(i),
        )
        for i in range(13)
    ]
    parsed.add(Trade, frame_from_records(Trade, trades))
    store = Store.open(tmp_path / "store")
    store.write([parsed])
    return store


def _names(root: Path, dataset: str) -> list[str]:
    return sorted(p.name for p in (root / dataset).rglob("*.parquet"))


def _downgrade(root: Path) -> None:
    """Rewrite a version-2 store as version 1 wrote it: a file per UTC day (one day in two
    parts, as a second import leaves it), and the version-1 marker."""
    for dataset, cls in (("bars", Bar), ("funding", Funding)):
        for path in sorted((root / dataset).rglob("*.parquet")):
            df = pl.from_arrow(pq.read_table(path))
            assert isinstance(df, pl.DataFrame)
            df = df.with_columns((pl.col("ts_event") // (24 * HOUR)).alias("_d"))
            for (day,), part in df.group_by(["_d"], maintain_order=True):
                name = np.datetime_as_string(np.datetime64(int(day), "D"))
                rows = part.drop("_d")
                if name == "2025-01-31" and rows.height > 2:
                    write_frame(rows.head(2), cls, path.parent / f"{name}.parquet")
                    write_frame(rows.slice(2), cls, path.parent / f"{name}.part-000001.parquet")
                else:
                    write_frame(rows, cls, path.parent / f"{name}.parquet")
            path.unlink()
    marker = {"schema_version": 1, "kind": "flushwatch-store"}
    (root / "flushwatch-store.json").write_text(json.dumps(marker) + "\n")


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest()
        for f in sorted(root.rglob("*"))
        if f.is_file()
    }


def test_hourly_datasets_get_a_file_per_month_events_a_file_per_day(tmp_path: Path) -> None:
    store = _store(tmp_path)
    assert _names(store.root, "bars") == 2 * ["2025-01.parquet"] + 2 * ["2025-02.parquet"]
    assert _names(store.root, "funding") == ["2025-01.parquet", "2025-02.parquet"]
    days = ("2025-01-30", "2025-01-31", "2025-02-01", "2025-02-02")
    assert _names(store.root, "trades") == [f"{d}.parquet" for d in days]
    feb = store.read(Bar, symbol="BTCUSDT", start_ns=T0 + 48 * HOUR, end_ns=T0 + 50 * HOUR)
    assert feb.get_column("ts_event").to_list() == [T0 + 48 * HOUR, T0 + 49 * HOUR]


def test_migrate_rewrites_a_version_1_store_with_the_same_rows(tmp_path: Path) -> None:
    store = _store(tmp_path)
    want = {cls: store.read(cls) for cls in (Bar, Funding, Trade)}
    trades = _snapshot(store.root / "trades")
    _downgrade(store.root)
    assert len(_names(store.root, "bars")) == 10  # 4 days x 2 symbols, one day in two parts
    with pytest.raises(StoreVersionError, match="run `flushwatch migrate --store"):
        Store.open(store.root)

    summary = migrate(store.root)
    assert (summary.from_version, summary.to_version, summary.partitions) == (1, 2, 6)
    # bars 8 days + 2 second parts, funding 4 days + 1, trades 4 days; after: 4 + 2 + 4
    assert (summary.files_before, summary.files_after) == (10 + 5 + 4, 4 + 2 + 4)
    assert summary.rows == {"bars": 192, "funding": 12, "trades": 13}
    again = Store.open(store.root)
    for cls, frame in want.items():
        assert again.read(cls).equals(frame)
    assert _names(store.root, "funding") == ["2025-01.parquet", "2025-02.parquet"]
    assert _snapshot(store.root / "trades") == trades  # day datasets are left as they were
    assert migrate(store.root).already


def test_a_failed_migration_leaves_the_store_as_it_was(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _downgrade(store.root)
    # the last month merged: its footer reads, its pages do not (after others were staged)
    broken = sorted((store.root / "funding").rglob("2025-02-01.parquet"))[0]
    data = bytearray(broken.read_bytes())
    data[4:64] = b"\xff" * 60
    broken.write_bytes(bytes(data))
    assert pq.read_metadata(broken).num_rows == 3
    before = _snapshot(store.root)
    with pytest.raises(StoreError, match="migration stopped, nothing changed"):
        migrate(store.root)
    assert _snapshot(store.root) == before
    assert not list(store.root.glob(".staging-*"))


def test_cli_migrate_and_the_one_line_refusal(tmp_path: Path) -> None:
    store = _store(tmp_path)
    _downgrade(store.root)
    r = CliRunner().invoke(app, ["info", "--store", str(store.root)])
    assert r.exit_code == 2
    assert r.stderr.strip().count("\n") == 0
    assert "flushwatch migrate" in r.stderr
    r = CliRunner().invoke(app, ["migrate", "--store", str(store.root), "--json"])
    assert r.exit_code == 0, r.stderr
    assert json.loads(r.stdout)["rows"] == {"bars": 192, "funding": 12, "trades": 13}
    r = CliRunner().invoke(app, ["migrate", "--store", str(store.root)])
    assert r.exit_code == 0
    assert "nothing to do" in r.stdout
