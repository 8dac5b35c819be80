"""Helpers for ``bench/live_throughput.py`` (not a test module, not a benchmark).

The real frames, the ccxt.pro side (an offline ``binanceusdm`` with a stub websocket client)
and the conversion of decoded depth rows into the columns :func:`rebuild_book` takes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import msgspec
import numpy as np

from flushwatch.domain.enums import BookSide
from flushwatch.domain.records import BookUpdate, Record
from flushwatch.domain.tables import frames_by_type
from flushwatch.testing.recorded import ws_lines
from flushwatch.testing.shared import data_path
from flushwatch.venues.binance import wire
from flushwatch.venues.binance.symbols import snapshot_url

SOURCE = ("hftbacktest-binance-ws-2024-08-08", "usdm_btcusdt_20240808.gz")
EXCHANGE = "binanceusdm"
SYMBOL = "BTCUSDT"
CCXT_SYMBOL = "BTC/USDT:USDT"
#: The address ccxt.pro itself connects to for USDⓈ-M public streams (``urls.api.ws.future``):
#: its handlers tell spot from swap by the client URL, so the stub must carry the real one.
CCXT_WS_URL = "wss://fstream.binance.com/ws"
STREAMS = ("bookTicker", "trade", "depthUpdate")


@dataclass
class Frames:
    """The recording split the way the benchmark needs it (text exactly as received)."""

    snapshot: str  # the REST depth snapshot body taken after connecting
    snapshot_ts: int
    snapshot_url: str
    mixed: list[tuple[str, int]]  # every websocket frame, in order, with its receive time
    by_stream: dict[str, list[tuple[str, int]]] = field(default_factory=dict)

    @property
    def depth(self) -> list[tuple[str, int]]:
        return self.by_stream["depthUpdate"]


def load_frames() -> Frames:
    """Read the recording once; classify frames by their combined-stream name."""
    snapshot: tuple[str, int] | None = None
    mixed: list[tuple[str, int]] = []
    by_stream: dict[str, list[tuple[str, int]]] = {s: [] for s in STREAMS}
    for _, ts, frame in ws_lines(data_path(*SOURCE)):
        if not frame.startswith('{"stream"'):
            if snapshot is None and '"lastUpdateId"' in frame[:32]:
                snapshot = (frame, ts)
            continue
        mixed.append((frame, ts))
        stream = frame[11 : frame.index('"', 11)]
        kind = "depthUpdate" if "@depth" in stream else stream.split("@", 1)[1]
        by_stream[kind].append((frame, ts))
    if snapshot is None:
        raise SystemExit(f"no REST depth snapshot in {'/'.join(SOURCE)}")
    return Frames(snapshot[0], snapshot[1], snapshot_url(EXCHANGE, SYMBOL), mixed, by_stream)


class Combined(msgspec.Struct, frozen=True):
    """A combined-stream frame with its event typed: one msgspec pass into the wire structs."""

    stream: str
    data: wire.Event


def decode_only_decoder() -> msgspec.json.Decoder[Combined]:
    """msgspec structs only, no domain records (the decoder exposes no such method)."""
    return msgspec.json.Decoder(Combined, strict=False)


# -- ccxt.pro ------------------------------------------------------------------------------


class StubClient:
    """What ccxt.pro's Binance handlers use of a websocket client, and nothing else.

    ``resolve`` counts what would have been handed to waiting futures (a real client with no
    waiter does a dict look-up and returns); ``reject`` raises, so a handler error is never
    silently swallowed by the benchmark.
    """

    url = CCXT_WS_URL

    def __init__(self) -> None:
        self.subscriptions: dict[str, Any] = {}
        self.resolved = 0

    def resolve(self, result: Any, message_hash: str | None = None) -> Any:
        self.resolved += 1
        return result

    def reject(self, result: Any, message_hash: str | None = None) -> Any:
        raise RuntimeError(f"ccxt.pro rejected {message_hash}: {result!r}")


def _ccxt_market() -> dict[str, Any]:
    """The BTCUSDT perpetual as ccxt's ``load_markets`` would describe it (no network)."""
    limits = {k: {"min": None, "max": None} for k in ("amount", "price", "cost", "leverage")}
    limits["amount"]["min"] = 0.001
    return {
        "id": SYMBOL,
        "symbol": CCXT_SYMBOL,
        "base": "BTC",
        "quote": "USDT",
        "settle": "USDT",
        "baseId": "BTC",
        "quoteId": "USDT",
        "settleId": "USDT",
        "type": "swap",
        "spot": False,
        "margin": False,
        "swap": True,
        "future": False,
        "option": False,
        "active": True,
        "contract": True,
        "linear": True,
        "inverse": False,
        "contractSize": 1.0,
        "expiry": None,
        "expiryDatetime": None,
        "strike": None,
        "optionType": None,
        "taker": 0.0005,
        "maker": 0.0002,
        "created": None,
        "precision": {"amount": 0.001, "price": 0.1},
        "limits": limits,
        "info": {},
    }


class CcxtSide:
    """An offline ``ccxt.pro.binanceusdm`` fed frames exactly as its websocket client would.

    ccxt.pro's client parses each text frame with ``orjson.loads`` (its ``json_parser`` when
    orjson is importable, which it is as a ccxt dependency) and calls
    ``exchange.handle_message(client, message)``; :meth:`feed` does the same. The order book is
    installed from the recording's REST snapshot with its ``lastUpdateId`` as nonce, as
    ``fetch_order_book_snapshot`` does after ``watch_order_book``, and kept in full (no depth
    limit), so every depthUpdate goes through ccxt's Binance sequence checks and is applied.
    """

    def __init__(self, snapshot: str) -> None:
        import ccxt.pro
        import orjson

        self.loads = orjson.loads
        self.exchange = ccxt.pro.binanceusdm()
        self.exchange.set_markets([_ccxt_market()])
        snap = orjson.loads(snapshot)
        parsed = self.exchange.parse_order_book(snap, CCXT_SYMBOL, snap["T"])
        parsed["nonce"] = snap["lastUpdateId"]
        self._snapshot = parsed
        self.client = StubClient()
        self.reset()

    def reset(self) -> None:
        """A fresh book from the snapshot (untimed, before every run)."""
        self.exchange.orderbooks[CCXT_SYMBOL] = self.exchange.order_book(self._snapshot)
        self.client = StubClient()

    def feed(self, frames: list[tuple[str, int]]) -> int:
        """Parse and handle every frame; return how many results the handlers resolved."""
        loads, handle, client = self.loads, self.exchange.handle_message, self.client
        for frame, _ in frames:
            handle(client, loads(frame))
        return client.resolved

    def handle(self, messages: list[Any]) -> int:
        """Handle already-parsed messages (ccxt's handlers alone, without the JSON parse)."""
        handle, client = self.exchange.handle_message, self.client
        for message in messages:
            handle(client, message)
        return client.resolved

    def book(self) -> tuple[list[list[float]], list[list[float]], int]:
        ob = self.exchange.orderbooks[CCXT_SYMBOL]
        return list(ob["bids"]), list(ob["asks"]), int(ob["nonce"])


# -- flushwatch depth rows → rebuild_book columns -------------------------------------------


def book_columns(records: list[Record]) -> tuple[np.ndarray, ...]:
    """The arguments of :func:`rebuild_book` after ``at_ns``, from decoded book records.

    Through the product's own records → frame path (:func:`frames_by_type`, what the store
    writes: book deltas flattened into BookUpdate rows), then the columns as the cascade tests
    read them back.
    """
    df = frames_by_type(records)[BookUpdate]

    def col(name: str, dtype: type = np.float64) -> np.ndarray:
        return df.get_column(name).fill_null(-1).to_numpy().astype(dtype)

    return (
        col("ts_event", np.int64),
        (df.get_column("side") == BookSide.BID.value).to_numpy(),
        col("price"),
        col("qty"),
        df.get_column("is_snapshot").to_numpy(),
        col("update_id", np.int64),
        col("first_update_id", np.int64),
        col("prev_update_id", np.int64),
    )


# -- flushwatch's live order book (connectors/book.py) -------------------------------------


class _DepthFrame(msgspec.Struct, frozen=True):
    stream: str
    data: wire.DepthUpdate


class LiveBook:
    """``flushwatch.connectors.book.OrderBook`` fed the way the Binance connector feeds it.

    The connector decodes each depth frame once into a ``wire.DepthUpdate`` (a msgspec struct
    of the combined-stream envelope) and hands it to ``OrderBook.on_diff``; the REST snapshot
    goes to ``on_snapshot``. Here the snapshot is loaded first (untimed, in :meth:`reset`) and
    then every diff of the recording in order: the ones older than the snapshot are dropped
    by the book's own rules, the straddling one bridges, the rest are applied.
    """

    def __init__(self, snapshot: str) -> None:
        self._snapshot = msgspec.json.decode(snapshot, type=wire.DepthSnapshot, strict=False)
        self._decode = msgspec.json.Decoder(_DepthFrame, strict=False).decode
        self.reset()

    def reset(self) -> None:
        from flushwatch.connectors.book import OrderBook

        self.book = OrderBook(SYMBOL, futures=True)
        self.book.on_snapshot(self._snapshot)

    def feed(self, frames: list[tuple[str, int]]) -> Any:
        """Decode and apply every depth frame; return the book."""
        decode, on_diff = self._decode, self.book.on_diff
        for frame, _ in frames:
            on_diff(decode(frame).data)
        return self.book

    def apply(self, events: list[wire.DepthUpdate]) -> Any:
        """Apply already-decoded diffs (the book's own cost, without the JSON decode)."""
        on_diff = self.book.on_diff
        for ev in events:
            on_diff(ev)
        return self.book

    def decoded(self, frames: list[tuple[str, int]]) -> list[wire.DepthUpdate]:
        return [self._decode(f).data for f, _ in frames]


def live_book_levels(book: Any) -> tuple[list[list[float]], list[list[float]]]:
    """Every level of a live book, best first, as ``[price, qty]`` lists."""
    bids = [[p, q] for p, q in sorted(book.bids.items(), key=lambda kv: -kv[0])]
    asks = [[p, q] for p, q in sorted(book.asks.items())]
    return bids, asks


# -- end to end: loopback exchange → BinanceConnector → Recorder → store --------------------

E2E_STREAMS = ("depth@0ms", "bookTicker", "trade")


@dataclass
class E2EResult:
    """One end-to-end run."""

    seconds: float
    data_frames: int  # websocket data frames the consumer saw (acks and REST bodies excluded)
    frames: int  # everything the connector yielded, REST snapshot bodies included
    records: int = 0
    rows_added: int = 0
    gaps: int = 0
    errors: int = 0
    first_error: str = ""


#: What a loopback URL stands for: the real USDⓈ-M host, same path (see ``map_urls``).
REAL_WS = "wss://fstream.binance.com"


async def _e2e(
    recording: Any, store_root: Any, record: bool, deadline_s: float, map_urls: bool
) -> E2EResult:
    import time

    from flushwatch.connectors.base import FeedEvent
    from flushwatch.connectors.binance import BinanceConnector
    from flushwatch.connectors.config import Backoff, ConnectorConfig, Endpoints
    from flushwatch.live.recorder import Recorder, RecorderConfig
    from flushwatch.store import Store
    from flushwatch.testing.loopback import LoopbackExchange

    require = tuple(f"{SYMBOL.lower()}@{s}" for s in E2E_STREAMS)
    expected = len(recording.frames)
    seen = {"data": 0, "all": 0, "gaps": 0}
    t0 = time.perf_counter()
    async with LoopbackExchange(recording, require=require) as ex:
        ep = Endpoints(
            public_ws=f"{ex.ws_base}/public", market_ws=f"{ex.ws_base}/market", rest=ex.http_base
        )
        config = ConnectorConfig(endpoints=ep, backoff=Backoff(initial=0.01, maximum=0.2))
        conn = BinanceConnector("binanceusdm", [SYMBOL], E2E_STREAMS, config)

        async def source() -> Any:
            deadline = time.monotonic() + deadline_s
            async with conn:
                async for item in conn.frames():
                    seen["all"] += 1
                    if isinstance(item, FeedEvent):
                        seen["gaps"] += item.kind == "gap"
                    elif not item.http and not item.data.startswith('{"result"'):
                        seen["data"] += 1
                    if map_urls and not isinstance(item, FeedEvent) and not item.http:
                        # the recorder picks a decoder from the frame's URL and cannot yet
                        # route a loopback (127.0.0.1) URL: name the real host it stands for
                        item = msgspec.structs.replace(
                            item, url=REAL_WS + item.url.split(str(ex.port), 1)[1]
                        )
                    yield item
                    if seen["data"] >= expected or time.monotonic() > deadline:
                        return

        if record:
            store = Store.open(store_root / "store")
            rec_config = RecorderConfig(recordings=store_root / "rec")
            recorder = Recorder(rec_config, exchange="binanceusdm", store=store)
            stats = await recorder.run(source())
            dt = time.perf_counter() - t0
            return E2EResult(
                dt,
                seen["data"],
                seen["all"],
                records=stats.records,
                rows_added=stats.rows_added,
                gaps=seen["gaps"],
                errors=len(stats.errors),
                first_error=stats.errors[0] if stats.errors else "",
            )
        async for _ in source():
            pass
        return E2EResult(time.perf_counter() - t0, seen["data"], seen["all"], gaps=seen["gaps"])


def e2e_run(record: bool, *, map_urls: bool = False, deadline_s: float = 90.0) -> E2EResult:
    """One run on a fresh temporary store; the recording is loaded once per process."""
    import asyncio
    import shutil
    import tempfile
    from pathlib import Path

    from flushwatch.testing.loopback_replay import load_recording

    global _RECORDING
    if _RECORDING is None:
        _RECORDING = load_recording(data_path(*SOURCE))
    tmp = Path(tempfile.mkdtemp(prefix="flushwatch-bench-live-"))
    try:
        return asyncio.run(_e2e(_RECORDING, tmp, record, deadline_s, map_urls))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


_RECORDING: Any = None
