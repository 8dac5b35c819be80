"""Raw websocket recordings, replayed through the venue decoders.

``ws-lines`` is hftbacktest's collector format and the one our live recorder will write: text
(optionally gzip/zstd), one message per line as ``<local_receive_ns> <raw JSON frame>``. The
cryptofeed formats live in :mod:`flushwatch.ingest.recordings_cryptofeed`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

from flushwatch.domain.records import BookDelta
from flushwatch.errors import InputError, ParseError
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.files import iter_lines, read_bytes
from flushwatch.ingest.recordings_common import PROGRESS_EVERY, Sink, build_decoder, call, finish
from flushwatch.ingest.recordings_cryptofeed import CryptofeedJsonl, CryptofeedRaw
from flushwatch.venues.binance import snapshot_url
from flushwatch.venues.registry import exchange_of_prefix, supported_exchanges

_HEAD = re.compile(rb"\A\d{16,19} [\[{]")
#: hftbacktest example file prefixes → exchange ids (PROVENANCE.md of the hftbacktest folder).
_PREFIXES = {
    "usdm": "binanceusdm",
    "spot": "binance",
    "cm": "binancecoinm",
    "hyperliquid": "hyperliquid",
}
_BINANCE = ("binance", "binanceusdm", "binancecoinm")
_STREAM = b'{"stream":"'


def _exchange(path: Path, hints: Hints) -> str:
    if hints.exchange:
        return hints.exchange
    prefix = path.name.split("_", 1)[0].lower()
    exchange = _PREFIXES.get(prefix) or exchange_of_prefix(prefix)
    if exchange is None:
        raise InputError(
            "cannot tell the exchange of this recording from its name (expected a prefix like "
            f"usdm_, spot_, cm_ or hyperliquid_); pass --exchange with one of: "
            f"{', '.join(supported_exchanges())} or ccxt-<id>",
            path=path,
        )
    return exchange


def _stream_symbol(lines: list[bytes], index: int) -> str | None:
    """Symbol of the nearest combined-stream frame, looking back first, then ahead."""
    order = [*range(index - 1, -1, -1), *range(index + 1, len(lines))]
    for j in order:
        line = lines[j]
        start = line.find(_STREAM)
        if start >= 0:
            begin = start + len(_STREAM)
            end = line.find(b"@", begin)
            if end > begin:
                symbol: str = line[begin:end].decode("ascii", "replace")
                return symbol.upper()
    return None


def _recorded_url(path: Path) -> str | None:
    """The websocket URL ``flushwatch record`` noted for this file in ``streams.json``.

    A ws-lines line does not say which connection it came on; the recorder names files
    ``<exchange>_<group>_<stamp>`` and maps each group to its URL beside them. The URL decides
    what the exchange's default cannot (Bybit spot vs linear: the category is in the path).
    """
    streams = path.with_name("streams.json")
    parts = path.name.split("_")
    if len(parts) < 3 or not streams.is_file():
        return None
    try:
        table = json.loads(streams.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise InputError(f"streams.json beside it is unreadable ({exc})", path=path) from exc
    url = table.get(parts[1]) if isinstance(table, dict) else None
    return url if isinstance(url, str) else None


class WsLines:
    """``<local_receive_ns> <raw JSON frame>`` per line (hftbacktest collector, our recorder)."""

    name = "ws-lines"
    description = "raw websocket frames, one '<receive ns> <json>' per line (hftbacktest)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Recognise a first line made of a 16-19 digit receive time, a space and JSON."""
        return _HEAD.match(head) is not None

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Replay every line through the exchange's decoder."""
        exchange = _exchange(path, hints)
        decoder = build_decoder(path, exchange, _recorded_url(path))
        lines = read_bytes(path).split(b"\n")
        sink = Sink()
        on_message, add = decoder.on_message, sink.add
        for index, raw in enumerate(lines):
            number = index + 1
            split = _split_line(raw, path, number)
            if split is None:
                continue
            ts_recv, frame = split
            if exchange in _BINANCE and b'"lastUpdateId"' in frame[:32]:
                # hftbacktest stores the REST depth snapshot it took after connecting as a bare
                # body (PROVENANCE.md); replay it as the REST response it was.
                symbol = _stream_symbol(lines, index)
                if symbol is None:
                    raise ParseError(
                        "depth snapshot, but no stream frame says which symbol it is for",
                        path=path,
                        line=number,
                    )
                url = snapshot_url(exchange, symbol)
                records = call(path, number, decoder.on_http, url, frame, ts_recv)
            else:
                records = call(path, number, on_message, frame, ts_recv)
            add(records, number, exchange)
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number)
        if progress is not None:
            progress(len(lines))
        parsed = Parsed(path=path, format=self.name)
        return finish(parsed, sink, {exchange: decoder})


def _split_line(raw: bytes, path: Path, number: int) -> tuple[int, bytes] | None:
    """``<receive time in ns> <json frame>`` → (time, frame); None for a blank line."""
    line = raw.rstrip(b"\r")
    if not line.strip():
        return None
    head, sep, frame = line.partition(b" ")
    if not sep or not head.isdigit() or not frame.strip():
        raise ParseError(
            "expected '<receive time in ns> <json frame>'",
            path=path,
            line=number,
            field="local_receive_ns" if not head.isdigit() else "frame",
        )
    return int(head), frame


def ws_lines_chunks(path: Path, hints: Hints, max_rows: int) -> Iterator[Parsed]:
    """Parse a ws-lines recording in pieces of about ``max_rows`` store rows, streaming.

    What the recorder's catch-up uses (issue 14: importing a whole rotated file at once grew
    the recorder with the rotation size): memory is bounded by ``max_rows`` plus one line's
    rows, whatever the size of the file. One decoder sees every line in order, so book
    sequences and contract sizes carry over between pieces. A bare depth snapshot line
    (hftbacktest's convention, never written by ``flushwatch record``) is refused: use
    ``flushwatch import``, which reads the file whole. Pieces are not validated here.
    """
    exchange = _exchange(path, hints)
    decoder = build_decoder(path, exchange, _recorded_url(path))
    sink, rows = Sink(), 0
    for index, raw in enumerate(iter_lines(path)):
        number = index + 1
        split = _split_line(raw, path, number)
        if split is None:
            continue
        ts_recv, frame = split
        if exchange in _BINANCE and b'"lastUpdateId"' in frame[:32]:
            raise ParseError(
                "a bare depth snapshot line: import this file with `flushwatch import`",
                path=path,
                line=number,
            )
        records = call(path, number, decoder.on_message, frame, ts_recv)
        sink.add(records, number, exchange)
        rows += sum(r.levels if type(r) is BookDelta else 1 for r in records)
        if rows >= max_rows:
            yield finish(Parsed(path=path, format=WsLines.name), sink, {exchange: decoder})
            sink, rows = Sink(), 0
    if rows:
        yield finish(Parsed(path=path, format=WsLines.name), sink, {exchange: decoder})


FORMATS: tuple[Format, ...] = (WsLines(), CryptofeedJsonl(), CryptofeedRaw())
