"""Issue 14, "secrets in URLs": a key in an endpoint never reaches the recordings folder.

A real :class:`Recorder` records CONSTRUCTED frames whose URLs carry a key (query string and
userinfo): a websocket frame, a REST body, a frame the decoder refuses and feed events whose
detail holds the URL. No file it writes (``streams.json``, ``feed-events.json``, the
recordings, gzip included) holds the key; the recording still re-imports.
"""

from __future__ import annotations

import asyncio
import gzip
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.live.recorder import Recorder, RecorderConfig
from flushwatch.redact import redact_text, redact_url
from flushwatch.store import Store

KEY = "SeCrEtKeY123"
WS = f"wss://bob:{KEY}@fstream.binance.com/market/stream?streams=btcusdt@aggTrade&apiKey={KEY}"
REST = f"https://fapi.binance.com/fapi/v1/depth?symbol=BTCUSDT&limit=5&signature={KEY}"
TS = 1_722_816_000_000_000_000
AGG = (
    '{"stream":"btcusdt@aggTrade","data":{"e":"aggTrade","E":1722816000100,"s":"BTCUSDT",'
    '"a":7,"p":"57000.10","q":"0.010","f":1,"l":1,"T":1722816000099,"m":true}}'
)
DEPTH = '{"lastUpdateId":10,"E":1722816000200,"T":1722816000199,"bids":[["56999.9","1.5"]],"asks":[["57000.1","2.0"]]}'  # noqa: E501


async def _items() -> AsyncIterator[RawFrame | FeedEvent]:
    yield FeedEvent(ts=TS, kind="unreachable", exchange="binanceusdm", stream=WS,
                    detail=f"cannot connect to {WS}: refused")  # fmt: skip
    yield RawFrame(ts_recv=TS, url=WS, data=AGG)
    yield RawFrame(ts_recv=TS + 1, url=REST, data=DEPTH, http=True)
    yield RawFrame(ts_recv=TS + 2, url=WS, data="not json at all")


def _texts(folder: Path) -> dict[str, str]:
    out = {}
    for path in folder.rglob("*"):
        if path.is_file():
            raw = path.read_bytes()
            out[path.name] = (gzip.decompress(raw) if path.suffix == ".gz" else raw).decode()
    return out


def test_no_file_of_a_recording_holds_the_key(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    store = Store.open(tmp_path / "store")
    recorder = Recorder(RecorderConfig(recordings=rec), exchange="binanceusdm", store=store)
    stats = asyncio.run(recorder.run(_items()))
    texts = _texts(rec)
    assert {"streams.json", "feed-events.json"} <= set(texts)
    assert any(name.endswith(".jsonl.gz") for name in texts)  # the REST body was recorded
    assert any(name.endswith(".rejected.txt") for name in texts)
    leaks = [name for name, text in texts.items() if KEY in text]
    assert leaks == []
    assert "apiKey=***" in texts["streams.json"]
    assert "signature=***" in "".join(texts.values())
    assert KEY not in str(stats.unreachable) + str(stats.errors)
    assert stats.rows_added >= 1  # the aggTrade reached the store through the masked URL


@pytest.mark.parametrize(
    ("url", "want"),
    [
        ("wss://stream.bybit.com/v5/public/linear", "wss://stream.bybit.com/v5/public/linear"),
        ("wss://u:p@h/x", "wss://u:***@h/x"),
        ("wss://tok@h/x", "wss://***@h/x"),
        ("https://h/x?symbol=BTC&api_key=k&X-Auth-Token=t", "https://h/x?symbol=BTC&api_key=***&X-Auth-Token=***"),
    ],
)  # fmt: skip
def test_redact_url_keeps_what_routes_and_masks_what_is_secret(url: str, want: str) -> None:
    assert redact_url(url) == want


def test_redact_text_masks_every_url_in_a_message() -> None:
    text = f"GET {REST}: HTTP 500; then {WS}."
    assert KEY not in redact_text(text)
    assert redact_text(text).endswith("apiKey=***.")


def test_stale_episodes_shown_by_watch_and_sent_by_alerts_hold_no_key() -> None:
    """The STALE line of ``watch`` and the feed_stale alert print StaleStream as is."""
    from flushwatch.alerts.config import FeedStale
    from flushwatch.alerts.rules import _stale
    from flushwatch.live.feed import FeedLiveness
    from flushwatch.live.state import LiveState

    live = FeedLiveness()
    live.on_frame(WS, TS)
    detail = f"no pong from {WS}"
    live.on_event(FeedEvent(ts=TS + 10**9, kind="stale", exchange="binanceusdm", stream=WS,
                            detail=detail))  # fmt: skip
    live.expect(REST, 1.0, TS)
    episodes = live.check(TS + 60 * 10**9)
    assert len(episodes) == 2
    for ep in episodes:
        assert KEY not in ep.stream
        assert KEY not in ep.reason
    assert {ep.stream for ep in episodes} == {redact_url(WS), redact_url(REST)}
    snap = LiveState("BTCUSDT").snapshot(stale=episodes)
    alerts = _stale(FeedStale(name="stale"), snap)
    assert len(alerts) == 2
    assert all(KEY not in a.text and KEY not in a.key for a in alerts)
