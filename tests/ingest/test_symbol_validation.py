"""Symbols become store folders, so a bad one is refused at the edge with file, line and field.

Issue 14: a 300-character symbol ended in "File name too long" (a traceback), and ``..`` placed
files outside the store's layout. Inputs are real files cut down and written to ``tmp_path``:
a Tardis book snapshot (the symbol is a column, so the error can name its line) and a Binance
Vision metrics excerpt with ``--symbol`` (a hint given on the command line).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from pathlib import Path

import polars as pl
import pytest

from flushwatch.domain.records import BookUpdate
from flushwatch.errors import ParseError, StoreError
from flushwatch.ingest.base import Hints
from flushwatch.ingest.registry import parse
from flushwatch.ingest.validate import MAX_NAME_LEN, name_problem
from flushwatch.store import Store

TARDIS = "tardis-csv-samples/binance-futures_book_snapshot_5_BTCUSDT.csv"
METRICS = "binance-vision-format-examples/HYPEUSDT-metrics-2025-05-30-excerpt.csv"
BAD = {
    "long": "X" * 300,
    "dotdot": "..",
    "slash": "a/b",
    "backslash": "a\\b",
    "nul": "A\x00B",
    "control": "A\x1bB",
    "inner-dotdot": "BTC..USDT",
}


def _snapshot(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _import(store: Store, paths: Sequence[Path], hints: Hints | None = None) -> None:
    """Import as ``flushwatch import`` does: parse every file, then one atomic write."""
    store.write([parse(p, hints=hints) for p in paths])


@pytest.fixture
def store(tmp_path: Path, shared_data: Path) -> Store:
    """A store that already holds a real file, so "unchanged" means something."""
    store = Store.open(tmp_path / "store")
    _import(store, [shared_data / TARDIS])
    return store


def _tardis_with_symbol(shared_data: Path, folder: Path, symbol: str) -> Path:
    lines = (shared_data / TARDIS).read_text().splitlines()[:6]
    lines[3] = lines[3].replace("BTCUSDT", symbol)  # physical line 4 of the file
    folder.mkdir(exist_ok=True)
    path = folder / Path(TARDIS).name
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.mark.parametrize("symbol", BAD.values(), ids=BAD.keys())
def test_a_bad_symbol_column_names_file_line_and_field(
    store: Store, shared_data: Path, tmp_path: Path, symbol: str
) -> None:
    before = _snapshot(store.root)
    path = _tardis_with_symbol(shared_data, tmp_path / "in", symbol)
    with pytest.raises(ParseError) as info:
        _import(store, [path])
    err = info.value
    assert (err.path, err.line, err.field) == (path, 4, "symbol")
    message = str(err)
    assert message.startswith(f"{path}, line 4, field 'symbol': symbol ")
    assert "\n" not in message
    assert len(message) < len(str(path)) + 160  # a 300-character value is shortened
    assert _snapshot(store.root) == before


@pytest.mark.parametrize("symbol", ["X" * 300, "..", "a/b"], ids=["long", "dotdot", "slash"])
def test_a_bad_symbol_option_is_refused_and_the_store_is_unchanged(
    store: Store, shared_data: Path, tmp_path: Path, symbol: str
) -> None:
    before = _snapshot(store.root)
    path = tmp_path / "HYPEUSDT-metrics-2025-05-30.csv"  # the name Binance Vision gives it
    path.write_bytes((shared_data / METRICS).read_bytes())
    with pytest.raises(ParseError, match=r"field 'symbol': symbol .* name folders of the store"):
        _import(store, [path], Hints(symbol=symbol))
    assert _snapshot(store.root) == before
    # the same file with a plain symbol imports: the refusal was about the name alone
    _import(store, [path], Hints(symbol="HYPEUSDT"))
    assert [s.symbol for s in store.series() if s.dataset == "open_interest"] == ["HYPEUSDT"]


def test_real_symbols_pass_and_the_limit_is_inclusive() -> None:
    real = ["BTC-USD_UM_XPERP-310404", "BTCUSDT-Binance", "1000PEPEUSDT", "BCHUSD_210924", "BTC"]
    assert [name_problem(s) for s in real] == [None] * len(real)
    assert name_problem("A" * MAX_NAME_LEN) is None
    assert name_problem("A" * (MAX_NAME_LEN + 1)) == "is 65 characters long, more than 64"
    assert name_problem("") == "is empty"


def test_the_store_refuses_a_dotdot_folder_from_any_writer(store: Store, shared_data: Path) -> None:
    """A writer that skipped validation still cannot leave the layout (``_safe`` guards)."""
    before = _snapshot(store.root)
    parsed = parse(shared_data / TARDIS)
    parsed.frames[BookUpdate] = parsed.frames[BookUpdate].with_columns(symbol=pl.lit(".."))
    with pytest.raises(StoreError, match=r"'\.\.' cannot name a store folder"):
        store.write([parsed])
    assert _snapshot(store.root) == before
    with pytest.raises(StoreError, match="cannot name a store folder"):
        store.read(BookUpdate, symbol="..")
