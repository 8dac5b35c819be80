"""Turn a ``ws-lines`` recording back into the frames a connector would yield.

Used to test the recorder without a network (and by the crash test's feeder process): each
line becomes a :class:`~flushwatch.connectors.base.RawFrame` on ``ws_url``, and a bare Binance
depth snapshot line (the hftbacktest convention) becomes a REST frame for ``rest_url``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterable
from pathlib import Path

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.live.wslines import ws_lines


def frames_from_ws_lines(path: Path, ws_url: str, rest_url: str) -> list[RawFrame]:
    """Return every line of ``path`` as a frame, snapshots as REST frames."""
    out = []
    for _, ts, text in ws_lines(path):
        http = '"lastUpdateId"' in text[:32]
        out.append(RawFrame(ts_recv=ts, url=rest_url if http else ws_url, data=text, http=http))
    return out


async def feed(
    items: Iterable[RawFrame | FeedEvent], *, yield_every: int = 256
) -> AsyncIterator[RawFrame | FeedEvent]:
    """Yield ``items`` as an async source, giving the event loop a turn every few frames."""
    for n, item in enumerate(items, start=1):
        yield item
        if n % yield_every == 0:
            await asyncio.sleep(0)
