"""Liveness of the streams and decoding of live frames, for the live state and the watch.

:class:`FeedLiveness` turns connector ``stale`` events and silences longer than
``stale_factor`` × a stream's expected interval into one :class:`StaleStream` episode each,
ended by the next frame on that stream. :class:`FrameDecoder` reuses the importers' venue
decoders on live frames, so live and imported records are normalised by the same code.
"""

from __future__ import annotations

from collections.abc import Mapping

import msgspec

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.domain.records import Record
from flushwatch.redact import redact_text, redact_url
from flushwatch.venues.base import Decoder
from flushwatch.venues.registry import (
    decoder_for,
    default_url,
    exchange_from_url,
    rehost,
    routing_url,
)

NS = 1_000_000_000


class StaleStream(msgspec.Struct, frozen=True, kw_only=True):
    """One stale episode of one stream: silent since ``since`` (ns), noticed at ``noticed``.

    Printed by ``watch`` and sent by alerts, so the stream URL and reason are redacted
    (a key in a URL never reaches a terminal or a webhook).
    """

    stream: str
    since: int
    noticed: int
    reason: str


class FeedLiveness:
    """Stale episodes per stream, from connector events and from silences (see module doc)."""

    def __init__(self, stale_factor: float = 2.0) -> None:
        self.stale_factor = stale_factor
        self._expected: dict[str, tuple[int, int]] = {}  # stream → (interval ns, since ns)
        self._last: dict[str, int] = {}
        self._episodes: dict[str, StaleStream] = {}

    def expect(self, stream: str, interval_s: float, now: int, *, if_new: bool = False) -> None:
        """Declare that ``stream`` should deliver a frame at least every ``interval_s``."""
        if not (if_new and stream in self._expected):
            self._expected[stream] = (int(interval_s * NS), now)

    def on_frame(self, stream: str, ts_recv: int) -> None:
        """A frame arrived: the stream is alive, its episode (if any) is over."""
        self._last[stream] = ts_recv
        self._episodes.pop(stream, None)

    def on_event(self, ev: FeedEvent) -> None:
        """Open an episode on ``stale``; a (re)connect ends it (a still-silent feed reopens)."""
        if ev.kind == "stale" and ev.stream not in self._episodes:
            since = self._last.get(ev.stream, ev.ts)
            reason = ev.detail or f"{ev.exchange} reported the stream stale"
            self._episodes[ev.stream] = StaleStream(
                stream=redact_url(ev.stream), since=since, noticed=ev.ts, reason=redact_text(reason)
            )
        elif ev.kind == "connected":
            self._episodes.pop(ev.stream, None)

    def check(self, now: int) -> list[StaleStream]:
        """Open episodes for streams silent past ``stale_factor`` × interval; return all open."""
        for stream, (interval, registered) in self._expected.items():
            since = self._last.get(stream, registered)
            if stream not in self._episodes and now - since > self.stale_factor * interval:
                reason = (
                    f"no frame for {(now - since) / NS:.1f}s (expected every {interval / NS:g}s)"
                )
                self._episodes[stream] = StaleStream(
                    stream=redact_url(stream), since=since, noticed=now, reason=reason
                )
        return list(self._episodes.values())


class FrameDecoder:
    """One venue decoder per routed URL, so live frames reuse the importers' normalization.

    ``url_exchanges`` maps URL prefixes to exchange ids for hosts the registry does not know
    (a loopback exchange in tests); frames from such URLs use that venue's default decoder.
    """

    def __init__(self, url_exchanges: Mapping[str, str] | None = None) -> None:
        self.url_exchanges = dict(url_exchanges or {})
        self._decoders: dict[str, Decoder] = {}  # by routed URL: REST and ws share one
        self._by_url: dict[str, Decoder] = {}  # by frame URL: parse each URL once
        self.errors = 0

    def _decoder(self, url: str) -> Decoder:
        found = self._by_url.get(url)
        if found is None:
            found = self._by_url[url] = self._route(url)
        return found

    def _route(self, url: str) -> Decoder:
        exchange = next((ex for pre, ex in self.url_exchanges.items() if url.startswith(pre)), None)
        if exchange:  # a mapped (loopback) host: route as the venue's own host would
            route = routing_url(rehost(exchange, url)) or default_url(exchange) or url
        else:
            route = routing_url(url) or url
        found = self._decoders.get(route)
        if found is None:
            found = decoder_for(exchange or exchange_from_url(url) or "", route)
            self._decoders[route] = found
        return found

    def decoders(self) -> list[Decoder]:
        """Every decoder built so far (one per routed URL)."""
        return list(self._decoders.values())

    def decode(self, frame: RawFrame) -> list[Record]:
        """Decode one frame; a malformed frame is counted, not fatal (the raw is recorded)."""
        try:
            dec = self._decoder(frame.url)
            if frame.http:
                return dec.on_http(frame.url, frame.data, frame.ts_recv)
            return dec.on_message(frame.data, frame.ts_recv)
        except (msgspec.DecodeError, msgspec.ValidationError, ValueError):
            self.errors += 1
            return []


__all__ = ["FeedLiveness", "FrameDecoder", "StaleStream"]
