"""The live state is built incrementally from real frames, and the watch view renders it."""

from __future__ import annotations

import asyncio
import heapq
import io
import json
from collections import defaultdict
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from rich.console import Console

from flushwatch.alerts.config import FlushDetected
from flushwatch.alerts.rules import Alert, evaluate
from flushwatch.analytics.flushes import FlushParams, detect_flushes
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import FlushEvent
from flushwatch.cli.cmd_watch import Band, nearest_bands, render_view
from flushwatch.connectors.base import RawFrame
from flushwatch.domain.enums import Coverage, Market, PositionSide, Side
from flushwatch.domain.records import Liquidation, Trade
from flushwatch.live.state import FrameDecoder, LiveMonitor, LiveParams, LiveState
from flushwatch.testing.recorded import ws_lines

S = 1_000_000_000
MIN = 60 * S
PERP_URL = "wss://fstream.binance.com/public/stream"
SPOT_URL = "wss://stream.binance.com:9443/stream"
DIR = "hftbacktest-binance-ws-2024-08-08"


class Counting:
    """Wrap the detector to count calls and the size of each input."""

    def __init__(self) -> None:
        self.sizes: list[int] = []

    def __call__(self, m: MarketSeries, p: FlushParams) -> list[FlushEvent]:
        self.sizes.append(m.n)
        return detect_flushes(m, p)


def _frames(path: Path, url: str) -> Iterator[RawFrame]:
    for _, ts, text in ws_lines(path):
        if text.startswith('{"stream"'):
            yield RawFrame(ts_recv=ts, url=url, data=text)


def _replay(
    shared_data: Path, extra: Sequence[RawFrame] = ()
) -> tuple[LiveMonitor, Counting, list[RawFrame]]:
    perp = list(_frames(shared_data / DIR / "usdm_btcusdt_20240808.gz", PERP_URL))
    spot = list(_frames(shared_data / DIR / "spot_btcusdt_20240808.gz", SPOT_URL))
    merged = list(
        heapq.merge(perp, spot, sorted(extra, key=lambda f: f.ts_recv), key=lambda f: f.ts_recv)
    )
    counting = Counting()
    monitor = LiveMonitor([LiveState("BTCUSDT", detector=counting)])
    for frame in merged:
        monitor.on_item(frame)
    return monitor, counting, perp


def test_real_frames_build_bars_matching_plain_json(shared_data: Path) -> None:
    monitor, counting, perp = _replay(shared_data)
    state = monitor.states["BTCUSDT"]
    # Per-minute perp quote volume, from the same lines read with plain JSON.
    want: dict[int, float] = defaultdict(float)
    for f in perp:
        d = json.loads(f.data)["data"]
        if d.get("e") == "trade":
            want[d["T"] * 1_000_000 // MIN * MIN] += float(d["p"]) * float(d["q"])
    now = monitor.snapshots(perp[-1].ts_recv)[0].ts  # the state's event clock
    closed = [m for m in sorted(want) if m + MIN <= now]  # later minutes are still open
    assert [b.ts for b in state.bars] == closed
    for bar in state.bars:
        assert bar.volume_quote == pytest.approx(want[bar.ts], rel=1e-9)
        assert bar.spot_volume_quote > 0
        assert bar.low <= bar.close <= bar.high
    # The kernels ran once per closed bar (the first bar alone is not a series), never per message.
    assert len(counting.sizes) == len(state.bars) - 1
    assert counting.sizes == list(range(2, len(state.bars) + 1))
    snap = monitor.snapshots(perp[-1].ts_recv)[0]
    assert snap.basis == pytest.approx(snap.last_price / snap.spot_price - 1.0)
    assert snap.perp_volume_quote == pytest.approx(sum(want.values()), rel=1e-9)  # < 15 min
    assert snap.decode_errors == 0


def _trade(ts: int, price: float, qty: float = 1.0) -> Trade:
    return Trade(
        ts_event=ts,
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        price=price,
        qty=qty,
        taker_side=Side.BUY,
    )


def _liq(ts: int, usd: float) -> Liquidation:
    return Liquidation(
        ts_event=ts,
        exchange="binanceusdm",
        market=Market.PERP,
        symbol="BTCUSDT",
        side=PositionSide.LONG,
        price=60_000.0,
        qty=usd / 60_000.0,
        notional=usd,
        venue_side="SELL",
        coverage=Coverage.THROTTLED,
    )


def test_updates_are_incremental_and_the_detector_runs_once_per_closed_bar() -> None:
    counting = Counting()
    params = LiveParams(history_bars=240)
    state = LiveState("BTCUSDT", params, detector=counting)
    minutes, per_minute = 600, 20
    t0 = 1_723_161_600 * S
    for minute in range(minutes):
        for k in range(per_minute):
            ts = t0 + minute * MIN + k * (MIN // per_minute)
            state.on_record(_trade(ts, 60_000.0 + (k % 3)))
            if k == 0:
                state.on_record(_liq(ts, 5e7 if minute == 500 else 1e4))
    assert state.records_seen == minutes * per_minute + minutes
    # 599 bars closed; the ring keeps 240; each closed bar ran the detector exactly once on at
    # most a ring of bars, so the work per bar is bounded whatever the message count.
    assert len(state.bars) == 240
    assert len(counting.sizes) == minutes - 2
    assert max(counting.sizes) == 240
    (event,) = state.events
    assert event.kind == "long_flush"
    assert event.start_ts == t0 + 500 * MIN
    assert event.liq_lower_bound
    assert state.checklist  # the checklist ran on the event, on closed bars only
    alerts = evaluate([FlushDetected(name="flush")], state.snapshot())
    assert [a.key for a in alerts] == [f"flush|BTCUSDT|{t0 + 500 * MIN}"]


def test_a_long_silence_materialises_at_most_one_ring_of_bars() -> None:
    counting = Counting()
    state = LiveState("BTCUSDT", LiveParams(history_bars=60), detector=counting)
    t0 = 1_723_161_600 * S
    state.on_record(_trade(t0, 60_000.0))
    state.on_record(_trade(t0 + 30 * 24 * 60 * MIN, 61_000.0))  # a month later
    assert len(state.bars) == 60
    assert len(counting.sizes) == 1


def _force_order(ts_ms: int, side: str, qty: str, price: str) -> RawFrame:
    """A USD-M forceOrder frame exactly as Binance documents it (combined-stream envelope)."""
    order = {
        "s": "BTCUSDT",
        "S": side,
        "o": "LIMIT",
        "f": "IOC",
        "q": qty,
        "p": price,
        "ap": price,
        "X": "FILLED",
        "l": qty,
        "z": qty,
        "T": ts_ms,
    }
    data = {"e": "forceOrder", "E": ts_ms, "o": order}
    text = json.dumps({"stream": "btcusdt@forceOrder", "data": data}, separators=(",", ":"))
    return RawFrame(ts_recv=ts_ms * 1_000_000 + 5_000_000, url=PERP_URL, data=text)


def test_watch_view_renders_real_state(shared_data: Path) -> None:
    # 2024-08-09 00:00:00.1 UTC: exchange time at the recording's end (its clock lags 1.2 s).
    t = 1_723_161_600_100
    extra = [
        _force_order(t, "SELL", "2.5", "61650.0"),
        _force_order(t + 500, "BUY", "0.1", "61700"),
    ]
    extra.append(RawFrame(ts_recv=(t + 600) * 1_000_000, url=PERP_URL, data='{"stream":'))
    monitor, _, perp = _replay(shared_data, extra)
    snaps = monitor.snapshots(perp[-1].ts_recv)
    snap = snaps[0]
    assert snap.liq_hour.long_usd == pytest.approx(2.5 * 61650.0)
    assert snap.liq_hour.short_usd == pytest.approx(0.1 * 61700.0)
    assert snap.liq_hour.lower_bound  # Binance forceOrder is throttled (C1)
    assert snap.window(5).total_usd == snap.liq_hour.total_usd  # type: ignore[union-attr]
    assert [liq.side for liq in snap.recent_liqs] == ["short", "long"]  # newest first
    assert snap.decode_errors == 1  # the truncated frame is counted, not fatal
    bands = {"BTCUSDT": [Band(side="long", price_lo=60_000.0, price_hi=60_500.0, usd=3.2e7)]}
    out = io.StringIO()
    Console(file=out, width=200, color_system=None, force_terminal=False).print(
        render_view(snaps, bands=bands)
    )
    text = out.getvalue()
    for needle in (
        "BTCUSDT",
        "recent liquidations",
        "$154.12k",
        "long",
        "short",
        "basis",
        "floor: throttled feed",
        "nearest liquidation bands",
        "$32.00M",
        "no flush detected",
        "volume 15m perp / spot",
        "could not be decoded",
    ):
        assert needle in text, needle


def test_nearest_bands_pick_mass_below_for_longs_and_above_for_shorts() -> None:
    edges = [90.0, 95.0, 100.0, 105.0, 110.0]
    got = nearest_bands(edges, [1.0, 2.0, 0.0, 0.0], [0.0, 0.0, 3.0, 4.0], 100.0, n=1)
    assert got == [
        Band(side="long", price_lo=95.0, price_hi=100.0, usd=2.0),
        Band(side="short", price_lo=100.0, price_hi=105.0, usd=3.0),
    ]


def test_frame_decoder_routes_loopback_urls_by_prefix() -> None:
    dec = FrameDecoder({"ws://127.0.0.1:9/public": "binanceusdm"})
    frame = _force_order(1_723_161_590_000, "SELL", "1", "60000")
    (rec,) = dec.decode(
        RawFrame(ts_recv=frame.ts_recv, url="ws://127.0.0.1:9/public/stream", data=frame.data)
    )
    assert isinstance(rec, Liquidation)
    assert rec.market == Market.PERP
    assert rec.side == PositionSide.LONG


def test_watch_end_to_end_over_loopback_raises_one_stale_alert_per_stream(
    shared_data: Path,
) -> None:
    """Real frames through the loopback exchange and the Binance connector into the watch loop.

    ``forceOrder`` is acknowledged and never served, so its ``/market`` connection is silent:
    one ``feed_stale`` alert for it within twice the expected interval, however many refreshes
    follow.
    """
    from flushwatch.alerts.config import AlertsConfig, FeedStale, TerminalSink
    from flushwatch.cli.cmd_watch import run_watch
    from flushwatch.connectors.binance import BinanceConnector
    from flushwatch.connectors.config import Backoff, ConnectorConfig, Endpoints
    from flushwatch.testing.loopback import LoopbackExchange
    from flushwatch.testing.loopback_replay import Faults, load_recording

    recording = load_recording(shared_data / DIR / "usdm_btcusdt_20240808.gz")
    lines: list[str] = []
    silence_s = 0.5

    async def main() -> tuple[LiveMonitor, list[str], str]:
        faults = Faults(silent=frozenset({"btcusdt@forceOrder"}))
        async with LoopbackExchange(recording, faults=faults, require=("btcusdt@trade",)) as ex:
            ep = Endpoints(
                public_ws=f"{ex.ws_base}/public",
                market_ws=f"{ex.ws_base}/market",
                rest=ex.http_base,
            )
            cfg = ConnectorConfig(endpoints=ep, backoff=Backoff(initial=0.01, maximum=0.2))
            conn = BinanceConnector("binanceusdm", ["BTCUSDT"], ["trade", "forceOrder"], cfg)
            prefixes = dict.fromkeys((ep.public_ws, ep.market_ws, ep.rest), "binanceusdm")
            monitor = LiveMonitor([LiveState("BTCUSDT")], FrameDecoder(prefixes))
            rules = AlertsConfig(rules=(FeedStale(name="stale"),), sinks=(TerminalSink(),))
            refreshes_after: list[int] = []

            def stop(raised: list[Alert]) -> bool:
                market = [a for a in raised if "/market" in a.text]
                if market and ex.done.is_set():
                    refreshes_after.append(1)
                return len(refreshes_after) >= 3  # three more evaluations after the alert

            console = Console(file=io.StringIO(), width=200, color_system=None)
            await asyncio.wait_for(
                run_watch(
                    [conn],
                    monitor,
                    rules,
                    console=console,
                    duration=120.0,
                    silence_s=silence_s,
                    write=lines.append,
                    stop_when=stop,
                ),
                timeout=180,
            )
            return monitor, lines, ep.market_ws

    monitor, lines, market = asyncio.run(main())
    state = monitor.states["BTCUSDT"]
    assert len(state.bars) >= 4  # 6 minutes of trades replayed
    market_lines = [x for x in lines if market in x and "feed stale" in x]
    assert len(market_lines) == 1, lines
    assert len(lines) == len(set(lines))  # no alert twice
