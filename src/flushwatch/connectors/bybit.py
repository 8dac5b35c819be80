"""Bybit v5 public streaming client: subscribe, keep alive, keep each order book honest.

Frames are yielded exactly as received (:class:`~flushwatch.connectors.base.RawFrame`) and
decoded elsewhere by :func:`flushwatch.venues.registry.decoder_for`. The connector only watches
the ``orderbook.*`` topics to keep a book per topic with Bybit's rules:

* ``type: snapshot`` resets the book; a delta with ``u == 1`` is a snapshot too ("Occasionally,
  you'll receive "u"=1, which is a snapshot data due to the restart of the service") and is
  reported as a ``resync``.
* A delta before any snapshot, or whose ``u`` is not the previous ``u`` + 1 (observed on every
  one of the 2,142 real deltas in the cryptofeed recording), is a ``gap``: the book is dropped and
  the topic resubscribed, which makes Bybit send a fresh snapshot. A delta repeating the last
  ``u`` is a duplicate (a replayed frame) and changes nothing.

Open interest needs no REST polling on Bybit: ``tickers`` carry ``openInterest``.

The reconnect loop, keep-alive, stale watchdog and instruments fetch are
:class:`flushwatch.connectors.venue_stream.VenueStream`, driving :class:`BybitWire`.
"""

from __future__ import annotations

import json

import msgspec

from flushwatch.connectors.base import Capability, FeedEvent
from flushwatch.connectors.okx import Book
from flushwatch.connectors.venue_stream import SessionConfig, StreamConnector, VenueStream
from flushwatch.errors import BadSymbol, ConfigError, NotSupported

EXCHANGE = "bybit"
_CATEGORIES = ("linear", "inverse", "spot")
#: Bybit accepts at most 10 topics per subscribe request on spot; used for every category.
_ARGS_PER_REQUEST = 10
_CAPABILITIES: dict[str, frozenset[Capability]] = {
    "linear": frozenset(Capability),
    "inverse": frozenset(Capability),
    "spot": frozenset({Capability.TRADES, Capability.BOOK, Capability.QUOTES, Capability.KLINES}),
}
#: Topic prefix → capability it needs (``tickers`` carry quotes, mark, funding and OI).
_NEEDS = {
    "tickers": Capability.QUOTES,
    "orderbook": Capability.BOOK,
    "publicTrade": Capability.TRADES,
    "allLiquidation": Capability.LIQUIDATIONS,
    "liquidation": Capability.LIQUIDATIONS,
    "kline": Capability.KLINES,
}


class BybitConfig(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Where and what to stream from Bybit; tests point ``ws_base``/``rest_base`` at loopback."""

    category: str = "linear"
    symbols: tuple[str, ...] = ("BTCUSDT",)
    #: Topic prefixes, each subscribed as ``<prefix>.<symbol>``.
    channels: tuple[str, ...] = ("tickers", "orderbook.200", "publicTrade", "allLiquidation")
    ws_base: str = "wss://stream.bybit.com"
    #: Instruments-info is fetched from here once per start (None: skip; terms are inferred).
    rest_base: str | None = "https://api.bybit.com"
    session: SessionConfig = SessionConfig(ping_interval=20.0, ping_when_idle=False)

    @property
    def ws_url(self) -> str:
        """Return the websocket URL of this category."""
        return f"{self.ws_base}/v5/public/{self.category}"

    def topics(self) -> list[str]:
        """Return every topic to subscribe, in order."""
        return [f"{ch}.{sym}" for sym in self.symbols for ch in self.channels]


class _Env(msgspec.Struct):
    topic: str | None = None
    type: str | None = None
    op: str | None = None
    success: bool | None = None
    ret_msg: str = ""
    ts: int | None = None
    data: msgspec.Raw = msgspec.Raw()


class _BookData(msgspec.Struct):
    s: str
    u: int
    b: list[tuple[str, str]]
    a: list[tuple[str, str]]


class BybitWire:
    """Bybit's side of a :class:`~.venue_stream.VenueStream`: subscribes, pings, book sequencing."""

    exchange = EXCHANGE

    def __init__(self, config: BybitConfig) -> None:
        self.config = config
        self.books: dict[str, Book] = {}
        #: Book topics whose gap was reported and that wait for a snapshot.
        self._waiting: set[str] = set()
        self._last_ts: dict[str, int] = {}
        self._env = msgspec.json.Decoder(_Env)
        self._book = msgspec.json.Decoder(_BookData)

    def subscribe_messages(self) -> list[str]:
        """Return the subscribe requests, at most 10 topics each."""
        topics = self.config.topics()
        return [
            _op("subscribe", topics[i : i + _ARGS_PER_REQUEST])
            for i in range(0, len(topics), _ARGS_PER_REQUEST)
        ]

    def keepalive(self) -> str:
        """Return Bybit's application-level ping."""
        return '{"op":"ping"}'

    def reset(self) -> None:
        """Forget every book: a new connection starts from fresh snapshots."""
        self.books.clear()
        self._waiting.clear()

    def inspect(self, text: str, ts: int) -> tuple[list[FeedEvent], list[str], bool]:
        """Check one frame: feed events, requests to send, and whether it carried data."""
        env = self._env.decode(text)
        if env.topic is None:
            if env.success is False and env.op == "subscribe":
                raise BadSymbol(f"bybit rejected a subscription: {env.ret_msg}")
            return [], [], False
        if env.topic.startswith("orderbook.") and len(env.data) > 0:
            events, resubscribe = self._on_book(env, self._book.decode(env.data), ts)
            again = [_op("unsubscribe", [env.topic]), _op("subscribe", [env.topic])]
            return events, again if resubscribe else [], True
        return [], [], True

    def _on_book(self, env: _Env, data: _BookData, ts: int) -> tuple[list[FeedEvent], bool]:
        topic = env.topic or ""
        book = self.books.get(topic)
        last_ts = self._last_ts.get(topic)
        self._last_ts[topic] = ts
        if env.type == "snapshot" or data.u == 1:
            events = []
            if topic in self._waiting or (env.type != "snapshot" and book is not None):
                why = "snapshot after a gap" if env.type == "snapshot" else "u=1: service restart"
                events.append(self._event("resync", topic, ts, why))
            self._waiting.discard(topic)
            book = self.books[topic] = Book()
            book.apply(data.b, data.a)
            book.seq = data.u
            return events, False
        if book is None or book.seq is None:
            if topic in self._waiting:
                return [], False
            self._waiting.add(topic)
            return [self._event("gap", topic, ts, "delta before any snapshot", None)], True
        if data.u == book.seq:
            return [], False  # a duplicate of the last delta
        if data.u != book.seq + 1:
            detail = f"update id went from {book.seq} to {data.u}"
            del self.books[topic]
            self._waiting.add(topic)
            return [self._event("gap", topic, ts, detail, last_ts)], True
        book.apply(data.b, data.a)
        book.seq = data.u
        return [], False

    def _event(
        self, kind: str, topic: str, ts: int, detail: str, since: int | None = None
    ) -> FeedEvent:
        return FeedEvent(
            ts=ts,
            kind="gap" if kind == "gap" else "resync",
            exchange=EXCHANGE,
            stream=f"{self.config.category}:{topic}",
            detail=detail,
            gap_start=since if kind == "gap" else None,
            gap_end=ts if kind == "gap" else None,
        )


def _op(op: str, args: list[str]) -> str:
    return json.dumps({"op": op, "args": args}, separators=(",", ":"))


class BybitConnector(StreamConnector):
    """Stream one Bybit v5 category (see the module docstring); an async context manager."""

    exchange = EXCHANGE

    def __init__(self, config: BybitConfig) -> None:
        if config.category not in _CATEGORIES:
            raise ConfigError(f"bybit category must be one of {_CATEGORIES}: {config.category!r}")
        self.capabilities = _CAPABILITIES[config.category]
        for channel in config.channels:
            need = _NEEDS.get(channel.partition(".")[0])
            if need is None:
                raise ConfigError(f"unknown bybit channel {channel!r}")
            if need not in self.capabilities:
                raise NotSupported(f"bybit {config.category} has no {channel} stream")
        self.config = config
        self.wire = BybitWire(config)
        rest: list[str] = []
        if config.rest_base is not None:
            rest.append(f"{config.rest_base}/v5/market/instruments-info?category={config.category}")
        self._session = VenueStream(self.wire, config.ws_url, config.session, rest_urls=rest)


__all__ = ["EXCHANGE", "BybitConfig", "BybitConnector", "BybitWire"]
