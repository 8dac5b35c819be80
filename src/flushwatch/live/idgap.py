"""Name the ids a restart lost: trade and book-update ids across a crash (issue 14).

A killed recorder loses the frames of its last flush period and everything until it is back.
The time span is reported by the recorder (a ``gap`` on stream ``recorder``); where the venue
numbers its messages, the new session can say exactly what is missing. At start, the
crashed session's parts are replayed through the venue decoder and the last id of every
sequence is remembered (:meth:`IdGaps.learn`); the first record of the same sequence in the
new session is compared with it (:meth:`IdGaps.check`) and a hole becomes a ``gap`` event
naming the id range.

A *sequence* is one connection's (file group's) channel, record type and symbol: trades by
``trade_id`` when it is an integer (Binance ``t`` and ``a``, OKX ``tradeId``), book deltas by
``update_id`` (Binance ``u``, with ``pu`` when the venue sends it). The channel is the frame's
``stream``/``topic``/``channel`` name, so a ``trade`` and an ``aggTrade`` stream of one symbol
on one connection are two sequences. Venues without integer ids keep the time gap only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flushwatch.connectors.base import FeedEvent
from flushwatch.domain.records import BookDelta, BookUpdate, Trade
from flushwatch.errors import FlushwatchError

if TYPE_CHECKING:
    from collections.abc import Iterable

    from flushwatch.domain.records import Record
    from flushwatch.venues.base import Decoder

_CHANNEL = re.compile(r'"(?:stream|topic|channel)"\s*:\s*"([^"]{1,100})"')

#: (file group, channel, what the ids number, symbol)
Key = tuple[str, str, str, str]


@dataclass(frozen=True)
class Seq:
    """The ids one record carries: ``first``..``last``, ``prev`` = the venue's previous id."""

    kind: str
    first: int
    last: int
    prev: int | None
    ts: int


def seq_of(rec: Record) -> Seq | None:
    """The sequence ids of ``rec``, when its venue numbers it with integers."""
    if type(rec) is Trade:
        tid = rec.trade_id
        if tid is not None and tid.isdigit():
            n = int(tid)
            return Seq("trade ids", n, n, None, rec.ts_event)
        return None
    if isinstance(rec, BookDelta | BookUpdate) and rec.update_id is not None:
        first = rec.first_update_id if rec.first_update_id is not None else rec.update_id
        return Seq("book update ids", first, rec.update_id, rec.prev_update_id, rec.ts_event)
    return None


def channel_of(text: str) -> str:
    """The stream/topic/channel a frame names near its start ("" when none)."""
    found = _CHANNEL.search(text, 0, 240)
    return found.group(1) if found else ""


class IdGaps:
    """Last ids of the crashed session; gap events for the first ids of the new one."""

    def __init__(self) -> None:
        self._last: dict[Key, Seq] = {}
        self._waiting: set[tuple[str, str, str]] = set()  # (group, kind, symbol) of _last

    def __bool__(self) -> bool:
        """Whether any sequence still waits for its first id after the restart."""
        return bool(self._last)

    def learn(self, group: str, lines: Iterable[bytes], decoder: Decoder) -> None:
        """Replay a crashed part's ws-lines through ``decoder`` and keep each last id."""
        for line in lines:
            head, _, frame = line.partition(b" ")
            if not head.isdigit():
                continue
            text = frame.decode("utf-8", "replace")
            try:
                records = decoder.on_message(text, int(head))
            except (FlushwatchError, ValueError, KeyError, TypeError):
                continue  # the recorder rejected it too: no ids from it
            channel = channel_of(text)
            for rec in records:
                seq = seq_of(rec)
                if seq is not None:
                    self._last[(group, channel, seq.kind, rec.symbol)] = seq
                    self._waiting.add((group, seq.kind, rec.symbol))

    def check(self, group: str, text: str, records: list[Record], exchange: str) -> list[FeedEvent]:
        """Compare the new session's first ids with the last ones; the gaps found."""
        out: list[FeedEvent] = []
        channel: str | None = None
        for rec in records:
            seq = seq_of(rec)
            if seq is None or (group, seq.kind, rec.symbol) not in self._waiting:
                continue  # the hot path: no frame text is searched
            channel = channel_of(text) if channel is None else channel
            old = self._last.pop((group, channel, seq.kind, rec.symbol), None)
            if old is None:
                continue
            if not any(k[0] == group and k[2:] == (seq.kind, rec.symbol) for k in self._last):
                self._waiting.discard((group, seq.kind, rec.symbol))
            # With a previous id (Binance futures ``pu``) ids need not be contiguous: the hole
            # is what lies after the old last id up to ``pu``; otherwise up to ``first - 1``.
            upto = seq.prev if seq.prev is not None else seq.first - 1
            if upto <= old.last:
                continue  # the new session starts at or before where the old one stopped
            n = upto - old.last
            where = f"{rec.symbol} on {channel}" if channel else rec.symbol
            out.append(
                FeedEvent(
                    ts=seq.ts,
                    kind="gap",
                    exchange=exchange,
                    stream=channel or group,
                    detail=(
                        f"restarted after a crash: {seq.kind} {old.last + 1}..{upto} "
                        f"({n:,}) of {where} were not recorded"
                    ),
                    gap_start=old.ts,
                    gap_end=seq.ts,
                )
            )
        return out
