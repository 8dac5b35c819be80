"""``flushwatch watch`` on Bybit and OKX: the real CLI against a loopback venue.

The loopback (127.0.0.1, its own thread: the command runs ``asyncio.run`` itself) replays the
real cryptofeed recordings; the screen must show what those frames say: the last open
interest and funding the venue sent, the spot companion's price, and a depth figure from the
connector's sequence-checked book.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from tests.live.test_record_venues import CF, FAST_SESSION, _loopback
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.cli.watch_venues import book_stream_for, spot_symbol
from flushwatch.domain.records import Funding, OpenInterest, Trade
from flushwatch.errors import ConfigError
from flushwatch.ingest.registry import parse
from flushwatch.store import Store


def _clean(path: Path, tmp_path: Path) -> Store:
    store = Store.open(tmp_path / "clean")
    store.write([parse(path)])
    return store


def _last(store: Store, cls: type, market: str, symbol: str, column: str) -> float:
    df = store.read(cls, market=market, symbol=symbol)
    return float(df.sort("ts_event", maintain_order=True).get_column(column).drop_nulls()[-1])


def _watch(tmp_path: Path, venue: str, symbol: str, config: str) -> str:
    cfg = tmp_path / "venue.toml"
    cfg.write_text(config)
    args = ["watch", "--venue", venue, "--symbols", symbol, "--duration", "5"]
    args += ["--config", str(cfg)]
    result = CliRunner().invoke(app, args, env={"COLUMNS": "320"})
    assert result.exit_code == 0, result.output
    return result.output


def test_watch_bybit_shows_oi_funding_spot_and_book(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / CF / "BYBIT.jsonl.zst"
    clean = _clean(path, tmp_path)
    with _loopback("bybit", path) as lv:
        config = f'[bybit]\nws_base = "{lv.ws_base}"\nrest_base = "{lv.rest_base}"\n'
        out = _watch(tmp_path, "bybit", "BTCUSDT", config + FAST_SESSION.format(venue="bybit"))
    oi = _last(clean, OpenInterest, "perp", "BTCUSDT", "oi_base")
    rate = _last(clean, Funding, "perp", "BTCUSDT", "rate")
    spot = _last(clean, Trade, "spot", "BTCUSDT", "price")
    assert f"{oi:,.0f} coins" in out  # Bybit's two-sided figure halved (C10)
    assert f"{rate * 100:+.4f}%" in out
    assert f"/ {spot:,.2f}" in out  # last / spot: the spot companion's last trade
    depth = next(line for line in out.splitlines() if "depth ±1% bid / ask" in line)
    assert "$" in depth, depth  # orderbook.200 kept in sync


def test_watch_okx_shows_trades_and_book(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / CF / "OKX.jsonl.zst"
    clean = _clean(path, tmp_path)
    with _loopback("okx", path) as lv:
        config = f'[okx]\nws_url = "{lv.ws_base}/ws/v5/public"\nrest_base = "{lv.rest_base}"\n'
        symbol = "BTC-USD-220527"  # the future whose book the recording holds
        out = _watch(tmp_path, "okx", symbol, config + FAST_SESSION.format(venue="okx"))
    last = _last(clean, Trade, "future", symbol, "price")
    spot = _last(clean, Trade, "spot", "BTC-USDT", "price")  # coin-margined: USDT spot
    assert f"{last:,.2f} / {spot:,.2f}" in out
    depth = next(line for line in out.splitlines() if "depth ±1% bid / ask" in line)
    # the book is counted in coins with the contract value the instruments body gave
    assert "$" in depth, depth
    assert clean.read(Trade).filter(pl.col("symbol") == symbol).height > 0


def test_watch_venue_choices() -> None:
    assert spot_symbol("okx", "BTC-USDT-SWAP") == "BTC-USDT"
    assert spot_symbol("okx", "BTC-USD-220527") == "BTC-USDT"
    assert spot_symbol("bybit", "BTCUSDT") == "BTCUSDT"
    assert book_stream_for("bybit", None) == "orderbook.200"
    assert book_stream_for("okx", "none") is None
    assert book_stream_for("ccxt:kraken", None) is None
    with pytest.raises(ConfigError, match="orderbook"):
        book_stream_for("bybit", "depth@100ms")
