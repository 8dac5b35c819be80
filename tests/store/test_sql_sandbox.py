"""``Store.query`` runs untrusted SQL: every escape from issue 14 is refused, reads still work.

The store is real (one small freqtrade funding file imported through the real importer), and
each escape is checked by its effect as well as its message: no file appears, the store's
files are byte-identical afterwards.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from flushwatch.errors import StoreError
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.real import store_for
from flushwatch.testing.shared import data_path

FUNDING = "freqtrade-binance-xrpusdt-perp-2021-11-12/XRP_USDT_USDT-8h-funding_rate.csv"


@pytest.fixture(scope="module")
def store() -> Store:
    return store_for((FUNDING,))


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_select_over_the_views_still_works(store: Store) -> None:
    names, rows = store.query(
        "SELECT symbol, count(*) AS n, min(ts_event) FROM funding GROUP BY symbol"
    )
    assert names == ["symbol", "n", "min(ts_event)"]
    assert rows == [("XRPUSDT", 91, 1_637_193_600_017_000_000)]
    # the same answer as the unsandboxed views (types and values unchanged)
    with store.connect() as con:
        assert (
            con.sql("SELECT * FROM funding ORDER BY ts_event").fetchall()
            == (store.query("SELECT * FROM funding ORDER BY ts_event")[1])
        )
    assert store.query("FROM instruments SELECT symbol")[1] == [("XRPUSDT",)]
    assert store.query("DESCRIBE funding")[1][0][:2] == ("ts_event", "BIGINT")
    assert store.query("EXPLAIN SELECT count(*) FROM funding")[0] == [
        "explain_key",
        "explain_value",
    ]


@pytest.mark.parametrize(
    ("sql", "said"),
    [
        ("SELECT * FROM read_text('/etc/passwd')", "file, network and extension access"),
        ("SELECT * FROM glob('/root/*')", "file, network and extension access"),
        ("SELECT * FROM read_csv('/etc/hostname')", "file, network and extension access"),
        ("SELECT * FROM read_parquet('https://example.com/x.parquet')", "access is disabled"),
        ("COPY (SELECT 1) TO '{tmp}/x.csv'", "COPY statements are not allowed"),
        ("ATTACH '{tmp}/x.db'", "ATTACH statements are not allowed"),
        ("INSTALL httpfs", "statements are not allowed"),
        ("LOAD httpfs", "statements are not allowed"),
        ("EXPORT DATABASE '{tmp}/export'", "EXPORT statements are not allowed"),
        ("SET enable_external_access = true", "statements are not allowed"),
        ("CREATE TABLE t AS SELECT 1", "CREATE statements are not allowed"),
        ("DROP VIEW funding", "DROP statements are not allowed"),
        ("SELECT 1; COPY (SELECT 1) TO '{tmp}/y.csv'", "COPY statements are not allowed"),
        ("SELECT current_setting('enable_external_access')", None),
    ],
)
def test_every_escape_is_refused_and_leaves_no_trace(
    store: Store, tmp_path: Path, sql: str, said: str | None
) -> None:
    before = _snapshot(store.root)
    query = sql.format(tmp=tmp_path)
    if said is None:  # reading a setting is fine, and shows the door is shut
        assert store.query(query)[1] == [(False,)]
    else:
        with pytest.raises(StoreError, match=rf"^query refused: .*{said}") as info:
            store.query(query)
        assert "\n" not in str(info.value)  # one line for the terminal
    assert list(tmp_path.iterdir()) == []
    assert _snapshot(store.root) == before


def test_a_part_file_cannot_be_overwritten_even_by_its_own_path(store: Store) -> None:
    """The attack that broke ``info``/``import``: COPY over a part file the views read."""
    part = next((store.root / "funding").rglob("*.parquet"))
    before = part.read_bytes()
    for sql in (
        f"COPY (SELECT 1 AS x) TO '{part}' (FORMAT parquet)",
        f"SELECT * FROM read_parquet('{part}')",
    ):
        with pytest.raises(StoreError, match=r"^query refused"):
            store.query(sql)
    assert part.read_bytes() == before
    assert store.query("SELECT count(*) FROM funding")[1] == [(91,)]


def test_bad_sql_is_a_store_error_not_a_traceback(store: Store) -> None:
    with pytest.raises(StoreError, match=r"^query failed"):
        store.query("SELEC 1")
    with pytest.raises(StoreError, match=r"^query failed: no SQL statement"):
        store.query("  ;  ")


def test_a_quote_in_the_store_path_breaks_neither_kind_of_view(tmp_path: Path) -> None:
    """``--store "q'st"`` made the instruments view a SQL syntax error (issue 14)."""
    quoted = Store.open(tmp_path / "q'st")
    quoted.write([parse(data_path(*FUNDING.split("/")))])
    assert quoted.query("SELECT count(*) FROM funding")[1] == [(91,)]
    with quoted.connect() as con:
        assert con.sql("SELECT symbol FROM instruments").fetchall() == [("XRPUSDT",)]
