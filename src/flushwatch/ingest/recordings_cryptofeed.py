"""cryptofeed raw-data recordings (``sample_data/``), replayed through our venue decoders.

Two layouts (PROVENANCE.md of ``cryptofeed-ws-recordings``):

* format 2, ``<EXCHANGE>.jsonl[.zst]``: a header line naming the exchange, then ``http`` lines
  (REST url + body), ``connect``/``send`` lines (the websocket ``addr`` of a ``conn`` id) and
  ``recv`` lines (``conn`` + raw frame), with ``ts`` the local receive time in float seconds;
* master-branch raw text, ``<EXCHANGE>.ws.<n>.<m>[.gz]`` / ``<EXCHANGE>.<m>[.gz]``: ``<url> <->
  <ts>`` opens a connection, ``<url> <- <ts>: <msg>`` is a message we sent, ``<ts>: <frame>``
  a received frame, and ``<url> -> <ts>: <body>`` a REST response.

Each connection is routed by its URL (:class:`~flushwatch.ingest.recordings_common.Router`), so
Bybit linear and spot frames are decoded with their own category.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation
from pathlib import Path

import msgspec

from flushwatch.domain.time import NS_PER_S
from flushwatch.errors import ParseError, UnknownFormatError
from flushwatch.ingest.base import Hints, Parsed, Progress
from flushwatch.ingest.files import read_bytes, text_lines
from flushwatch.ingest.recordings_common import PROGRESS_EVERY, Router, Sink, call, finish
from flushwatch.venues.base import Decoder

#: cryptofeed exchange names → ccxt ids of the venues we decode.
CRYPTOFEED_EXCHANGES = {
    "BINANCE": "binance",
    "BINANCE_FUTURES": "binanceusdm",
    "BINANCE_DELIVERY": "binancecoinm",
    "BYBIT": "bybit",
    "OKX": "okx",
    "HYPERLIQUID": "hyperliquid",
}

_JSONL_HEAD = re.compile(rb'\A\{"t": ?"header",.*"format": ?2[,}]')
_RAW_HEAD = re.compile(rb"\A(?:wss?|https?)://\S+ (?:<->|->) \d+(?:\.\d+)?")
_CONNECT = re.compile(r"^(\S+) <-> (\S+)$")
_SENT = re.compile(r"^(\S+) <- (\S+): ")
_REST = re.compile(r"^(\S+) -> ([0-9.]+): (.*)$", re.DOTALL)


def _venue(path: Path, name: str) -> str:
    exchange = CRYPTOFEED_EXCHANGES.get(name.upper())
    if exchange is None:
        raise UnknownFormatError(
            f"no decoder for {name}; supported: {', '.join(CRYPTOFEED_EXCHANGES)}", path=path
        )
    return exchange


def _ns(path: Path, line: int, seconds: Decimal | str | None) -> int | None:
    if seconds is None:
        return None
    try:
        return int(Decimal(seconds) * NS_PER_S)  # exact: no float rounding of the µs digits
    except (InvalidOperation, ValueError) as exc:
        raise ParseError(
            f"receive time {seconds!r} is not a number", path=path, line=line, field="ts"
        ) from exc


class _Line(msgspec.Struct, frozen=True):
    """One line of a cryptofeed format-2 recording."""

    t: str  # header / http / connect / send / recv
    conn: str | None = None  # connection id, "BYBIT.ws.2"
    ts: Decimal | None = None  # local receive time, unix seconds
    url: str | None = None  # http: request URL
    addr: str | None = None  # connect/send: websocket URL
    data: str | None = None  # http body / sent message / received frame, as text
    exchange: str | None = None  # header: cryptofeed exchange name
    format: int | None = None  # header: 2


class CryptofeedJsonl:
    """cryptofeed recording format 2 (``*.jsonl.zst``)."""

    name = "cryptofeed-jsonl"
    description = "cryptofeed v3 raw recording, format 2 (header/http/connect/send/recv JSON lines)"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Recognise the format-2 header line."""
        return _JSONL_HEAD.match(head) is not None

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Replay REST bodies and received frames through the decoder of their connection."""
        lines = text_lines(read_bytes(path), path)
        header = self._line(path, 1, lines[0]) if lines else None
        if header is None or header.t != "header":
            raise ParseError("first line is not a cryptofeed header", path=path, line=1, field="t")
        exchange = hints.exchange or _venue(path, header.exchange or "")
        router = Router(path, exchange)
        sink = Sink()
        conns: dict[str, str] = {}
        for number, text in enumerate(lines[1:], start=2):
            if not text.strip():
                continue
            rec = self._line(path, number, text)
            if rec.t in ("connect", "send"):
                if rec.conn and rec.addr:
                    conns[rec.conn] = rec.addr
                continue
            if rec.t not in ("http", "recv"):
                continue
            if rec.data is None:
                raise ParseError(f"{rec.t} line has no data", path=path, line=number, field="data")
            ts = _ns(path, number, rec.ts)
            if rec.t == "http":
                label, dec = router.for_url(rec.url)
                records = call(path, number, dec.on_http, rec.url or "", rec.data, ts)
            else:
                label, dec = router.for_url(conns.get(rec.conn or ""))
                records = call(path, number, dec.on_message, rec.data, ts)
            sink.add(records, number, label)
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number)
        if progress is not None:
            progress(len(lines))
        return finish(Parsed(path=path, format=self.name), sink, router.decoders)

    @staticmethod
    def _line(path: Path, number: int, text: str) -> _Line:
        try:
            return msgspec.json.decode(text, type=_Line)
        except msgspec.ValidationError as exc:
            raise ParseError(f"not a cryptofeed line: {exc}", path=path, line=number) from exc
        except msgspec.DecodeError as exc:
            raise ParseError(
                f"not valid JSON ({exc}); the line is corrupt or cut short", path=path, line=number
            ) from exc


def _exchange_name(path: Path) -> str:
    return path.name.split(".", 1)[0]


class CryptofeedRaw:
    """cryptofeed master-branch raw text recordings (``*.ws.1.0[.gz]``, ``*.0[.gz]``)."""

    name = "cryptofeed-raw"
    description = "cryptofeed master-branch raw recording ('<url> <-> <ts>', '<ts>: <frame>')"

    def sniff(self, path: Path, head: bytes) -> bool:
        """Recognise a first line that opens a websocket or logs a REST response."""
        return _RAW_HEAD.match(head) is not None

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Replay each received frame through the decoder of the connection it arrived on."""
        lines = text_lines(read_bytes(path), path)
        name = _exchange_name(path)
        default = hints.exchange or CRYPTOFEED_EXCHANGES.get(name.upper())
        router = Router(path, default)
        sink = Sink()
        current: tuple[str, Decoder] | None = None
        for number, text in enumerate(lines, start=1):
            if not text.strip():
                continue
            if text[0].isdigit():  # "<ts>: <frame>"
                ts_text, sep, frame = text.partition(": ")
                if not sep:
                    raise ParseError("expected '<ts>: <frame>'", path=path, line=number)
                if current is None:
                    raise ParseError(
                        "frame before any '<url> <-> <ts>' connection line", path=path, line=number
                    )
                ts = _ns(path, number, ts_text)
                records = call(path, number, current[1].on_message, frame, ts)
                sink.add(records, number, current[0])
            elif (conn := _CONNECT.match(text)) is not None:
                current = self._route(router, path, name, conn.group(1))
            elif (rest := _REST.match(text)) is not None:
                label, dec = self._route(router, path, name, rest.group(1))
                ts = _ns(path, number, rest.group(2))
                records = call(path, number, dec.on_http, rest.group(1), rest.group(3), ts)
                sink.add(records, number, label)
            elif not (_SENT.match(text) or text.startswith("configuration: ")):
                raise ParseError(
                    "not a cryptofeed raw line ('<url> <-> <ts>', '<url> <- <ts>: <msg>', "
                    "'<ts>: <frame>' or '<url> -> <ts>: <body>')",
                    path=path,
                    line=number,
                )
            if progress is not None and number % PROGRESS_EVERY == 0:
                progress(number)
        if progress is not None:
            progress(len(lines))
        return finish(Parsed(path=path, format=self.name), sink, router.decoders)

    @staticmethod
    def _route(router: Router, path: Path, name: str, url: str) -> tuple[str, Decoder]:
        if router.default_exchange is None:
            _venue(path, name)  # raises "no decoder for DERIBIT; supported: ..."
        return router.for_url(url)
