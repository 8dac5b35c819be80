"""``flushwatch record`` on every native venue and the venue factory behind it.

Bybit and OKX run for real: typer parses the options, the factory builds the connector from
``--venue`` and the ``--config`` table, the connector talks to a loopback exchange on 127.0.0.1
(run on its own thread, since the command runs ``asyncio.run`` itself) that replays the real
cryptofeed recordings, and the recorder writes recordings and the store. The store must then
hold exactly the rows a clean import of the same recording gives for what was subscribed.
"""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from pathlib import Path

import polars as pl
import pytest
from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.connectors.factory import build_connector, default_streams, venue_section
from flushwatch.domain.records import MARKET_RECORDS, Record
from flushwatch.domain.tables import key_columns
from flushwatch.errors import ConfigError
from flushwatch.ingest.registry import parse
from flushwatch.store import Store
from flushwatch.testing.loopback_bybit_okx import LoopbackVenue
from flushwatch.testing.recorded import cryptofeed_frames
from flushwatch.testing.threaded import served_in_thread

CF = "cryptofeed-ws-recordings"
FAST_SESSION = "[{venue}.session]\nbackoff_initial = 0.01\nbackoff_max = 0.05\n"


def _loopback(venue: str, path: Path) -> AbstractContextManager[LoopbackVenue]:
    """A loopback venue replaying ``path`` on its own event loop and thread."""
    return served_in_thread(lambda: LoopbackVenue(venue, cryptofeed_frames(path)))  # type: ignore[arg-type]


def _keyed(df: pl.DataFrame, cls: type[Record]) -> pl.DataFrame:
    keys = key_columns(cls)
    return df.select(keys).unique().sort(keys)


def _record(
    tmp_path: Path, venue: str, symbols: str, config: str
) -> tuple[dict[str, object], Store]:
    cfg = tmp_path / "venue.toml"
    cfg.write_text(config)
    store = tmp_path / "store"
    args = ["record", "--venue", venue, "--symbols", symbols, "--duration", "6", "--json"]
    args += ["--recordings", str(tmp_path / "rec"), "--store", str(store), "--config", str(cfg)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    stats = json.loads(result.output.strip().splitlines()[-1])
    return stats, Store.open(store, create=False)


def _assert_store_is_clean_import(
    live: Store, path: Path, tmp_path: Path, market: str, symbols: set[str]
) -> set[str]:
    """Every dataset of the subscribed markets: live rows == clean-import rows (store key)."""
    clean = Store.open(tmp_path / "clean")
    clean.write([parse(path)])
    compared = set()
    for cls in MARKET_RECORDS:
        got = live.read(cls, exchange=path.stem.split(".")[0].lower(), market=market)
        ref = clean.read(cls, exchange=path.stem.split(".")[0].lower(), market=market)
        got = got.filter(pl.col("symbol").is_in(list(symbols)))
        ref = ref.filter(pl.col("symbol").is_in(list(symbols)))
        if got.height == 0:
            continue
        compared.add(cls.dataset)
        assert _keyed(got, cls).equals(_keyed(ref, cls)), cls.dataset
    return compared


def test_record_bybit_linear_equals_clean_import(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / CF / "BYBIT.jsonl.zst"
    with _loopback("bybit", path) as lv:
        config = f'[bybit]\nws_base = "{lv.ws_base}"\nrest_base = "{lv.rest_base}"\n'
        stats, store = _record(
            tmp_path, "bybit", "BTCUSDT,ETHUSDT", config + FAST_SESSION.format(venue="bybit")
        )
    assert stats["rejected"] == 0
    assert stats["errors"] == []
    assert stats["http_frames"] == 1  # instruments-info, fetched once
    compared = _assert_store_is_clean_import(store, path, tmp_path, "perp", {"BTCUSDT", "ETHUSDT"})
    # tickers give OI, funding and mark; the book and the trades come from their topics
    assert {"open_interest", "funding", "mark_price", "book", "trades"} <= compared
    files = [p for p in (tmp_path / "rec").iterdir() if p.suffix == ".gz"]
    assert sum(s.added for s in store.write([parse(p) for p in files])) == 0


def test_record_okx_equals_clean_import(shared_data: Path, tmp_path: Path) -> None:
    path = shared_data / CF / "OKX.jsonl.zst"
    with _loopback("okx", path) as lv:
        config = f'[okx]\nws_url = "{lv.ws_base}/ws/v5/public"\nrest_base = "{lv.rest_base}"\n'
        symbols = "UNI-USD-SWAP,BTC-USD-220527"
        stats, store = _record(tmp_path, "okx", symbols, config + FAST_SESSION.format(venue="okx"))
    assert stats["rejected"] == 0
    assert stats["errors"] == []
    compared = set()
    for market in ("perp", "future"):
        compared |= _assert_store_is_clean_import(
            store, path, tmp_path / market, market, set(symbols.split(","))
        )
    assert {"trades", "book"} <= compared


def test_factory_defaults_and_refusals() -> None:
    assert "allLiquidation" in default_streams("bybit")
    assert default_streams("ccxt:kucoinfutures") == ("trades", "liquidations")
    with pytest.raises(ConfigError, match="ccxt:<ccxt id>"):
        build_connector("bitmexx", ["XBTUSD"])
    with pytest.raises(ConfigError, match="ws_bsae"):
        build_connector("bybit", ["BTCUSDT"], section={"ws_bsae": "ws://127.0.0.1:1"})
    okx = build_connector("okx", ["BTC-USDT-SWAP", "BTC-USD-250627", "BTC-USDT"])
    # liquidation-orders go per instrument type; spot has no liquidations
    assert okx.config.liquidation_inst_types == ("SWAP", "FUTURES")
    assert "liquidation-orders" not in okx.config.channels
    bybit = build_connector("bybit", ["BTCUSDT"], ["publicTrade"], {"category": "spot"})
    assert (bybit.config.category, bybit.config.channels, bybit.exchange) == (
        "spot",
        ("publicTrade",),
        "bybit",
    )


def test_config_file_tables_per_venue() -> None:
    single = {"ws_base": "ws://127.0.0.1:9", "session": {"backoff_initial": 0.01}}
    assert venue_section(single, "bybit") == single  # one venue's keys at the top
    both = {"bybit": {"ws_base": "ws://127.0.0.1:9"}, "binance-spot": {"rest": "x"}}
    assert venue_section(both, "bybit") == {"ws_base": "ws://127.0.0.1:9"}
    with pytest.raises(ConfigError, match="none for okx"):  # never another venue's settings
        venue_section(both, "okx")
    assert venue_section({"ccxt:kraken": {"params": {}}}, "ccxt:kraken") == {"params": {}}


def test_partial_session_table_keeps_the_venues_own_defaults() -> None:
    """``[bybit.session]`` with one key used to reset Bybit's ping settings to the generic
    ones (ping every 25 s only when idle), which Bybit's 20 s heartbeat does not survive."""
    bybit = build_connector("bybit", ["BTCUSDT"], section={"session": {"stale_after": 90.0}})
    session = bybit.config.session
    assert (session.stale_after, session.ping_interval, session.ping_when_idle) == (
        90.0,
        20.0,
        False,
    )
    with pytest.raises(ConfigError, match="ping_intervall"):
        build_connector("bybit", ["BTCUSDT"], section={"session": {"ping_intervall": 1.0}})


def test_backfill_table_is_left_to_backfill() -> None:
    """One venue file serves ``record``/``watch`` and ``backfill``/``update``."""
    backfill = {"page_limit": 10}
    okx = build_connector(
        "okx", ["BTC-USDT-SWAP"], section={"ws_url": "ws://127.0.0.1:9", "backfill": backfill}
    )
    assert okx.config.ws_url == "ws://127.0.0.1:9"
    bybit = build_connector(
        "bybit", ["BTCUSDT"], section={"ws_base": "ws://127.0.0.1:9", "backfill": backfill}
    )
    assert bybit.config.ws_base == "ws://127.0.0.1:9"
