"""``flushwatch watch --store``: primed from the store, key levels and BTC/ETH items on screen.

The command runs for real: typer parses the options, the Binance connector connects to a
loopback exchange on 127.0.0.1 (run in a thread) replaying the real 2024-08-08 BTC and ETH
recordings, which hold none of the watched streams (aggTrade, forceOrder, markPrice), so the
screen is the primed state; the store is a real one. Its bars and liquidations are
CONSTRUCTED for this test (the real files are years old, and watch primes from the hours
before now): a long flush at minute 150 of 180, after which BTC falls through its flush low
and ETH recovers.
"""

from __future__ import annotations

import json
import math
import time
from contextlib import AbstractContextManager
from pathlib import Path

from typer.testing import CliRunner

from flushwatch.cli.app import app
from flushwatch.cli.cmd_watch import prime_from_store
from flushwatch.domain.enums import Coverage, Market, PositionSide
from flushwatch.domain.records import Bar, Liquidation
from flushwatch.domain.tables import frame_from_records
from flushwatch.ingest.base import Parsed
from flushwatch.live.state import LiveMonitor, LiveParams, LiveState
from flushwatch.store import Store
from flushwatch.testing.loopback import LoopbackExchange
from flushwatch.testing.loopback_replay import Recording, load_recording
from flushwatch.testing.threaded import served_in_thread

MIN = 60 * 10**9
BARS, FLUSH = 180, 150
DIR = "hftbacktest-binance-ws-2024-08-08"
PAIRS = ("btcusdt", "ethusdt")


def _constructed(
    symbol: str, base: float, falls: bool, start: int
) -> tuple[list[Bar], list[Liquidation]]:
    bars: list[Bar] = []
    liqs: list[Liquidation] = []
    prev = base
    common = {"exchange": "binanceusdm", "market": Market.PERP, "symbol": symbol}
    for i in range(BARS):
        if i < FLUSH:
            c = base * (1 + 0.002 * math.sin(i / 9.0))
        else:
            c = base * (0.975 - 0.001 * (i - FLUSH) if falls else 0.975 + 0.0002 * (i - FLUSH))
        h, lo = max(prev, c) * 1.0004, min(prev, c) * 0.9996
        lo = base * 0.965 if i == FLUSH else lo
        t = start + i * MIN
        bars.append(Bar(ts_event=t, price_kind="trade", interval_s=60, open=prev, high=h, low=lo,
                        close=c, volume_quote=1e6, **common))  # type: ignore[arg-type]  # fmt: skip
        usd = 6e7 if i == FLUSH else 2e4 * (1.5 + math.sin(i))
        liqs.append(Liquidation(ts_event=t + 10**9, side=PositionSide.LONG, price=c, qty=usd / c,
                                notional=usd, venue_side="SELL", coverage=Coverage.COMPLETE,
                                **common))  # fmt: skip
        prev = c
    return bars, liqs


def _store(root: Path, until: int) -> Path:
    start = until - until % MIN - BARS * MIN
    label = root / "constructed.txt"
    label.write_text("constructed bars and liquidations for tests/cli/test_watch_prime.py\n")
    parsed = Parsed(path=label, format="test")
    for sym, base, falls in (("BTCUSDT", 60_000.0, True), ("ETHUSDT", 3_000.0, False)):
        bars, liqs = _constructed(sym, base, falls, start)
        parsed.add(Bar, frame_from_records(Bar, bars))
        parsed.add(Liquidation, frame_from_records(Liquidation, liqs))
    store = Store.open(root / "store")
    store.write([parsed])
    return store.root


def _loopback(recording: Recording) -> AbstractContextManager[LoopbackExchange]:
    """A loopback exchange on its own event loop (the CLI runs ``asyncio.run`` itself)."""
    return served_in_thread(lambda: LoopbackExchange(recording))


def test_watch_primes_from_the_store_and_shows_levels_and_btc_eth_items(
    tmp_path: Path, shared_data: Path
) -> None:
    # watch primes from its own clock: start early in a minute so that no minute boundary
    # falls between building the store (its last bar is the minute before) and priming
    if (second := time.time() % 60) > 45:
        time.sleep(60.5 - second)
    store = _store(tmp_path, time.time_ns())
    recording = load_recording(*(shared_data / DIR / f"usdm_{s}_20240808.gz" for s in PAIRS))
    with _loopback(recording) as ex:
        config = tmp_path / "endpoints.toml"
        config.write_text(
            "[binanceusdm.endpoints]\n"
            f'public_ws = "{ex.ws_base}/public"\n'
            f'market_ws = "{ex.ws_base}/market"\n'
            f'rest = "{ex.http_base}"\n'
        )
        alerts = tmp_path / "alerts.toml"
        alerts.write_text('[[rules]]\nkind = "invalidation_fired"\nname = "btc-lost"\n')
        args = ["watch", "--no-spot", "--store", str(store), "--prime-hours", "1.5"]
        args += ["--duration", "2", "--config", str(config), "--alerts", str(alerts)]
        for sym in PAIRS:
            args += ["--symbols", sym.upper()]
        result = CliRunner().invoke(app, args, env={"COLUMNS": "320"})
    out = result.output
    assert result.exit_code == 0, out
    # 90 one-minute bars primed per market.
    assert out.count("primed with 1.5 h from the store (binanceusdm perp") == 2, out
    assert out.count("key levels (nearest)") == 2
    assert "flush low" in out
    # Both checklists read BTC's lost flush low and ETH's held levels; the BTC rule fires.
    lines = [ln for ln in out.splitlines() if "levels_btc" in ln or "btc_support_lost" in ln]
    assert sum("flush_low_lost" in ln for ln in lines) == 2, lines
    assert sum("FIRED" in ln for ln in lines) == 2, lines
    assert sum("levels_eth" in ln and " held " in ln for ln in out.splitlines()) == 2
    # The fired rule also reached <store>/alerts.jsonl (the dashboard's Live page reads it).
    lines = (store / "alerts.jsonl").read_text().splitlines()
    fired = [json.loads(ln) for ln in lines]
    assert {a["rule"] for a in fired} == {"btc-lost"}
    assert {a["symbol"] for a in fired} == {p.upper() for p in PAIRS}


def test_markets_the_store_cannot_prime_get_a_note_not_a_guess(tmp_path: Path) -> None:
    now = time.time_ns()
    store = Store.open(_store(tmp_path, now), create=False)
    monitor = LiveMonitor(
        [LiveState("SOLUSDT"), LiveState("BTCUSDT", LiveParams(bar_s=30)), LiveState("ETHUSDT")]
    )
    notes = prime_from_store(store, monitor, hours=1.0, until_ns=now, venue="binanceusdm")
    assert len(notes) == 2
    assert notes[0].startswith("SOLUSDT: no SOL bars in the store in the 1 h before ")
    assert notes[1] == (
        "BTCUSDT: the store's BTC bars are 60s, the live bars 30s: not primed "
        "(bars are never split)"
    )
    assert [s.history_bars for s in monitor.states.values()] == [0, 0, 60]
    assert not monitor.states["BTCUSDT"].bars
