"""OKX v5 public streaming client: subscribe, keep alive, keep each order book honest.

OKX keeps its connection alive with the text ``ping`` → ``pong`` ("if there is no message in
30 s the connection breaks": we ping after 25 s without one). Order books (``books``,
``books-l2-tbt``, ``books50-l2-tbt``) arrive as a snapshot then updates, each with a CRC32
``checksum`` of the top 25 levels, "bid1[price:size]:ask1[price:size]:bid2..." (interleaved;
when one side is shorter the other continues alone; the price and size texts exactly as
sent), as a signed 32-bit integer: :func:`checksum`. A mismatch, an update before any snapshot,
or a ``prevSeqId`` that is not the last ``seqId`` is a ``gap``: the book is dropped and the
channel resubscribed, which makes OKX send a fresh snapshot. OKX deprecated the checksum on
2026-06-23 (it is then always 0): a zero checksum is not checked and ``seqId``/``prevSeqId``
carry the continuity check alone.

The reconnect loop, keep-alive, stale watchdog and instruments fetch are
:class:`flushwatch.connectors.venue_stream.VenueStream`, driving :class:`OkxWire`.
"""

from __future__ import annotations

import heapq
import json
import zlib
from collections.abc import Iterable, Sequence

import msgspec

from flushwatch.connectors.base import Capability, FeedEvent, FeedEventKind
from flushwatch.connectors.venue_stream import SessionConfig, StreamConnector, VenueStream, Wire
from flushwatch.errors import BadSymbol, ConfigError, ExchangeUnavailable

EXCHANGE = "okx"
_BOOKS = frozenset({"books", "books-l2-tbt", "books50-l2-tbt"})
_CHECKSUM_DEPTH = 25


class Book:
    """One order book keyed by price, keeping the price and size texts as sent."""

    __slots__ = ("asks", "bids", "seq")

    def __init__(self) -> None:
        self.bids: dict[float, tuple[str, str]] = {}
        self.asks: dict[float, tuple[str, str]] = {}
        self.seq: int | None = None

    def apply(self, bids: Iterable[Sequence[str]], asks: Iterable[Sequence[str]]) -> None:
        """Set (or, at size 0, remove) each level."""
        for side, levels in ((self.bids, bids), (self.asks, asks)):
            for level in levels:
                price = float(level[0])
                if float(level[1]) == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = (level[0], level[1])

    def top(self, depth: int) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
        """Return the best ``depth`` bids (high→low) and asks (low→high)."""
        bids = [self.bids[p] for p in heapq.nlargest(depth, self.bids)]
        asks = [self.asks[p] for p in heapq.nsmallest(depth, self.asks)]
        return bids, asks


def checksum(bids: Sequence[tuple[str, str]], asks: Sequence[tuple[str, str]]) -> int:
    """Return OKX's book checksum of the given top levels (see the module docstring).

    Examples
    --------
    >>> checksum([("3366.1", "7")], [("3366.8", "9"), ("3368", "8")]) == checksum(
    ...     [("3366.1", "7")], [("3366.8", "9"), ("3368", "8")])
    True
    """
    parts: list[str] = []
    for i in range(max(len(bids), len(asks))):
        if i < len(bids):
            parts.extend(bids[i])
        if i < len(asks):
            parts.extend(asks[i])
    crc = zlib.crc32(":".join(parts).encode())
    return crc - (1 << 32) if crc >= 1 << 31 else crc


class OkxConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and what to stream from OKX; tests point ``ws_url``/``rest_base`` at loopback."""

    inst_ids: tuple[str, ...] = ("BTC-USDT-SWAP",)
    channels: tuple[str, ...] = ("books", "trades", "tickers")
    #: ``liquidation-orders`` is subscribed per instrument type, e.g. ("SWAP",).
    liquidation_inst_types: tuple[str, ...] = ()
    ws_url: str = "wss://ws.okx.com:8443/ws/v5/public"
    #: Instruments (contract values) are fetched from here once per start; None: skip.
    rest_base: str | None = "https://www.okx.com"
    session: SessionConfig = SessionConfig()

    def args(self) -> list[dict[str, str]]:
        """Return every subscription argument, in order."""
        out = [{"channel": ch, "instId": i} for i in self.inst_ids for ch in self.channels]
        out += [
            {"channel": "liquidation-orders", "instType": t} for t in self.liquidation_inst_types
        ]
        return out

    def inst_types(self) -> list[str]:
        """Return the instrument types of :attr:`inst_ids` (for the instruments request)."""
        kinds: dict[str, None] = {}
        for inst in self.inst_ids:
            parts = inst.split("-")
            kind = "SPOT" if len(parts) == 2 else "SWAP" if parts[-1] == "SWAP" else "FUTURES"
            kinds[kind] = None
        return list(kinds)


class _Arg(msgspec.Struct):
    channel: str
    instId: str | None = None  # OKX field name


class _Env(msgspec.Struct):
    event: str | None = None
    code: str = ""
    msg: str = ""
    arg: _Arg | None = None
    action: str | None = None
    data: msgspec.Raw = msgspec.Raw()


class _BookData(msgspec.Struct):
    bids: list[list[str]]
    asks: list[list[str]]
    checksum: int | None = None
    seqId: int | None = None  # OKX field name
    prevSeqId: int | None = None  # OKX field name


class OkxWire:
    """OKX's side of a :class:`~.venue_stream.VenueStream`: subscribes, pings, book checksums."""

    exchange = EXCHANGE

    def __init__(self, config: OkxConfig) -> None:
        self.config = config
        self.books: dict[tuple[str, str], Book] = {}
        #: Checksums compared so far, and how many matched.
        self.checked = 0
        self.matched = 0
        self._waiting: set[tuple[str, str]] = set()
        self._env = msgspec.json.Decoder(_Env)
        self._data = msgspec.json.Decoder(list[_BookData])

    def subscribe_messages(self) -> list[str]:
        """Return one subscribe request for every channel."""
        return [json.dumps({"op": "subscribe", "args": self.config.args()}, separators=(",", ":"))]

    def keepalive(self) -> str:
        """Return OKX's text ping."""
        return "ping"

    def reset(self) -> None:
        """Forget every book: a new connection starts from fresh snapshots."""
        self.books.clear()
        self._waiting.clear()

    def inspect(self, text: str, ts: int) -> tuple[list[FeedEvent], list[str], bool]:
        """Check one frame: feed events, requests to send, and whether it carried data."""
        if text == "pong":
            return [], [], False
        env = self._env.decode(text)
        if env.event == "error":
            if env.code == "60018":  # "doesn't exist"
                raise BadSymbol(f"okx: {env.msg}")
            raise ExchangeUnavailable(f"okx error {env.code}: {env.msg}")
        if env.event is not None or env.arg is None:
            return [], [], False
        arg = env.arg
        if arg.channel in _BOOKS and arg.instId and env.action and len(env.data) > 0:
            key = (arg.channel, arg.instId)
            resubscribe = False
            events: list[FeedEvent] = []
            for data in self._data.decode(env.data):
                gap = self._on_book(key, env.action == "snapshot", data, ts, events)
                resubscribe = resubscribe or gap
            if resubscribe:
                one = [{"channel": arg.channel, "instId": arg.instId}]
                again = [json.dumps({"op": op, "args": one}) for op in ("unsubscribe", "subscribe")]
                return events, again, True
            return events, [], True
        return [], [], True

    def _on_book(
        self, key: tuple[str, str], snapshot: bool, data: _BookData, ts: int, out: list[FeedEvent]
    ) -> bool:
        book = self.books.get(key)
        if snapshot:
            if key in self._waiting:
                out.append(self._event("resync", key, ts, "snapshot after a gap"))
                self._waiting.discard(key)
            book = self.books[key] = Book()
        elif book is None:
            if key in self._waiting:
                return False
            return self._gap(key, ts, "update before any snapshot", out)
        elif data.prevSeqId is not None and book.seq is not None and data.prevSeqId != book.seq:
            if data.seqId is not None and data.seqId <= book.seq:
                return False  # a replayed update
            return self._gap(key, ts, f"prevSeqId {data.prevSeqId} != seqId {book.seq}", out)
        book.apply(data.bids, data.asks)
        book.seq = data.seqId
        if data.checksum:  # 0: deprecated (module docstring)
            self.checked += 1
            if checksum(*book.top(_CHECKSUM_DEPTH)) != data.checksum:
                return self._gap(key, ts, f"checksum mismatch ({data.checksum})", out)
            self.matched += 1
        return False

    def _gap(self, key: tuple[str, str], ts: int, detail: str, out: list[FeedEvent]) -> bool:
        self.books.pop(key, None)
        self._waiting.add(key)
        out.append(self._event("gap", key, ts, detail))
        return True

    def _event(self, kind: FeedEventKind, key: tuple[str, str], ts: int, detail: str) -> FeedEvent:
        return FeedEvent(
            ts=ts, kind=kind, exchange=EXCHANGE, stream=":".join(key), detail=detail,
            gap_end=ts if kind == "gap" else None,
        )  # fmt: skip


class OkxConnector(StreamConnector):
    """Stream OKX v5 public channels (see the module docstring); an async context manager."""

    exchange = EXCHANGE
    capabilities = frozenset(Capability) - {Capability.KLINES}

    def __init__(self, config: OkxConfig) -> None:
        unknown = set(config.channels) - (
            _BOOKS | {"books5", "bbo-tbt", "trades", "tickers", "funding-rate"}
            | {"open-interest", "mark-price", "index-tickers"}
        )  # fmt: skip
        if unknown:
            raise ConfigError(f"unknown or unsupported okx channels: {sorted(unknown)}")
        self.config = config
        self.wire = OkxWire(config)
        rest = []
        if config.rest_base is not None:
            base = f"{config.rest_base}/api/v5/public/instruments?instType="
            rest = [base + kind for kind in config.inst_types()]
        self._session = VenueStream(self.wire, config.ws_url, config.session, rest_urls=rest)


__all__ = [
    "EXCHANGE",
    "Book",
    "OkxConfig",
    "OkxConnector",
    "OkxWire",
    "SessionConfig",
    "Wire",
    "checksum",
]
