"""Replay raw recordings frame by frame, for decoder tests and notebooks.

Deliberately independent of the importers (:mod:`flushwatch.ingest`): a decoder test feeds the
frames itself and checks the records against values read from the same lines with plain JSON,
so a bug in a reader cannot hide a bug in a decoder (or the other way round). The ws-lines
reader is product code (:func:`flushwatch.live.wslines.ws_lines`, re-exported here).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Literal

import msgspec

from flushwatch.live.wslines import decompressed_text, ws_lines

Kind = Literal["http", "recv"]


class Frame(msgspec.Struct, frozen=True):
    """One replayable line: where it came from and what it carried."""

    line: int  # 1-based line number in the decompressed file
    kind: Kind  # "http" (REST body) or "recv" (websocket frame)
    url: str  # REST URL, or the websocket address of the connection
    data: str  # raw body / frame text
    ts: int  # local receive time, integer ns


def _ns(seconds: Decimal) -> int:
    return int(seconds * 1_000_000_000)


def cryptofeed_frames(path: Path) -> Iterator[Frame]:
    """Yield the REST bodies and received frames of a cryptofeed format-2 ``.jsonl[.zst]``.

    ``recv`` frames carry the websocket address their connection was opened with (``connect`` /
    ``send`` lines); times are the recorder's float seconds, rounded to ns.
    """
    conns: dict[str, str] = {}
    for number, text in enumerate(decompressed_text(path).splitlines(), start=1):
        rec = json.loads(text, parse_float=Decimal)  # exact µs receive times
        kind = rec["t"]
        if kind in ("connect", "send"):
            conns[rec["conn"]] = rec["addr"]
        elif kind == "http":
            yield Frame(number, "http", rec["url"], rec["data"], _ns(rec["ts"]))
        elif kind == "recv":
            url = conns[rec["conn"]]
            yield Frame(number, "recv", url, rec["data"], _ns(rec["ts"]))


__all__ = ["Frame", "Kind", "cryptofeed_frames", "ws_lines"]
