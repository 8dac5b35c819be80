"""The contract every venue wire decoder follows.

A decoder turns raw frames (websocket text frames and REST bodies, exactly as received) into
domain records. It is stateful only where the venue requires it (contract sizes learned from
an instruments response, the symbol a channel was subscribed for); it does no I/O, so the
importers replay recordings through it and the live connectors feed it from sockets,
unchanged.
"""

from __future__ import annotations

from typing import Protocol

from flushwatch.domain.records import Instrument, Record


class Decoder(Protocol):
    """Decode one venue's frames into records."""

    #: Instruments learned so far (from REST instrument lists or from the frames themselves).
    instruments: list[Instrument]

    def on_message(self, data: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one websocket text frame; unknown channels and acks yield no records."""
        ...

    def on_http(self, url: str, body: str | bytes, ts_recv: int | None) -> list[Record]:
        """Decode one REST response body (depth snapshots, instrument lists, tickers)."""
        ...
