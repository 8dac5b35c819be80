"""Recordings of ``flushwatch download coinalyze|coinglass``, imported again without a network.

A download records every response body verbatim, one JSON line each,
``{"t": "http", "ts": <receive time, s>, "url": <request URL>, "data": <body>}``
(:class:`flushwatch.api.vendor_pages.Recording`). The file is recognised by CONTENT: its first
line is such an object whose URL asks a Coinalyze or CoinGlass history endpoint (the host is
whatever base URL the download used, so only the path is looked at; the file name is not
needed). Every body is decoded by the very functions the download used
(:mod:`flushwatch.venues.vendor_records`, everything read back from the URLs), so an import of
the recordings gives the rows the download stored. Coinalyze needs its ``/future-markets`` body
(recorded first by every download) for each symbol's market; predicted funding joins the
funding body of the same symbols and window, as in the download.

Bad input is one :class:`~flushwatch.errors.ParseError` naming the file, the line and the field
(``t``/``ts``/``url``/``data``, or the path inside the body the vendor decoder rejected); the
importer writes nothing itself, so the store is unchanged.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import NamedTuple

import msgspec

from flushwatch.domain.records import Record
from flushwatch.domain.tables import frame_from_records, row_class
from flushwatch.domain.time import NS_PER_S
from flushwatch.errors import DataIntegrityError, ParseError
from flushwatch.ingest.base import Format, Hints, Parsed, Progress
from flushwatch.ingest.files import iter_lines
from flushwatch.venues import coinalyze as cz
from flushwatch.venues import vendor_records as vr

#: The first line's request URL (``"url": "..."`` of a ``"t": "http"`` line).
_FIRST = re.compile(rb'\A\{[^\n]*?"t": ?"http"[^\n]*?"url": ?"([^"\n]+)"')
#: msgspec's "... - at `$[0].history[3].o`": the field inside the body.
_AT = re.compile(r"at `(\$[^`]*)`")
_DECODE_ERRORS = (ValueError, KeyError, TypeError, msgspec.MsgspecError, DataIntegrityError)


class _Body(NamedTuple):
    url: str
    body: str
    ts_recv: int


def vendor_of(url: str) -> str | None:
    """``coinalyze`` / ``coinglass`` for a URL asking one of their endpoints, else None."""
    if vr.coinalyze_kind(url) is not None:
        return cz.VENDOR
    return "coinglass" if vr.coinglass_path(url) is not None else None


def _lines(path: Path) -> list[tuple[int, _Body]]:
    out: list[tuple[int, _Body]] = []
    for n, raw in enumerate(iter_lines(path), 1):
        if not raw.strip():
            continue
        try:
            doc = json.loads(raw)
        except ValueError as exc:
            raise ParseError(f"not a JSON line ({exc})", path=path, line=n) from None
        if not isinstance(doc, dict) or doc.get("t") != "http":
            raise ParseError('expected a recorded body ("t": "http")', path=path, line=n, field="t")
        ts, url, data = doc.get("ts"), doc.get("url"), doc.get("data")
        if not isinstance(ts, int | float) or isinstance(ts, bool):
            raise ParseError(f"receive time {ts!r} is not a number", path=path, line=n, field="ts")
        if not isinstance(url, str):
            raise ParseError(f"{url!r} is not a URL", path=path, line=n, field="url")
        if not isinstance(data, str):
            raise ParseError("the body is not a string", path=path, line=n, field="data")
        out.append((n, _Body(url, data, round(ts * NS_PER_S))))
    return out


def _fail(path: Path, line: int, exc: BaseException) -> ParseError:
    text = str(exc)
    at = _AT.search(text)
    return ParseError(text, path=path, line=line, field=at.group(1) if at else "data")


class VendorRecording:
    """A Coinalyze or CoinGlass download recording (``<vendor>_rest_<stamp>.jsonl``)."""

    def __init__(self, vendor: str) -> None:
        self.vendor = vendor
        self.name = f"{vendor}-recording"
        self.description = (
            f"{'Coinalyze' if vendor == cz.VENDOR else 'CoinGlass'} download recording "
            "(flushwatch download: JSON lines of verbatim response bodies)"
        )

    def sniff(self, path: Path, head: bytes) -> bool:
        """Claim a file whose first line records a body of this vendor's endpoints."""
        match = _FIRST.match(head.lstrip(b"\xef\xbb\xbf"))
        return match is not None and vendor_of(match.group(1).decode(errors="replace")) == (
            self.vendor
        )

    def read(self, path: Path, hints: Hints, progress: Progress | None = None) -> Parsed:
        """Decode every body as the download did (module docstring)."""
        lines = _lines(path)
        for n, body in lines:
            if vendor_of(body.url) != self.vendor:
                raise ParseError(
                    f"{body.url} is not a {self.vendor} history endpoint (one recording holds "
                    "one vendor's bodies)",
                    path=path,
                    line=n,
                    field="url",
                )
        decode = _coinalyze if self.vendor == cz.VENDOR else _coinglass
        records = decode(path, lines)
        parsed = Parsed(path=path, format=self.name)
        by_cls: dict[type[Record], list[tuple[Record, int]]] = {}
        for rec, line in records:
            by_cls.setdefault(type(rec), []).append((rec, line))
        for cls, pairs in by_cls.items():
            rows, numbers = [r for r, _ in pairs], [n for _, n in pairs]
            parsed.add(row_class(cls), frame_from_records(cls, rows, numbers))
        if not records:
            parsed.notes.append("the recording holds no history rows")
        if progress is not None:
            progress(path.stat().st_size)  # bytes done: the whole file
        return parsed


#: A record and the recording line its body is on.
Placed = tuple[Record, int]


def _coinalyze(path: Path, lines: list[tuple[int, _Body]]) -> list[Placed]:
    markets: dict[str, cz.FutureMarket] = {}
    predicted: dict[tuple[str, str, str], tuple[int, _Body]] = {}
    for n, body in lines:
        kind = vr.coinalyze_kind(body.url)
        if kind == "markets":
            try:
                markets.update(cz.decode_markets(body.url, body.body))
            except _DECODE_ERRORS as exc:
                raise _fail(path, n, exc) from None
        elif kind == "predicted-funding":
            predicted[_window(body.url)] = (n, body)
    if not markets:
        raise ParseError(
            "no /future-markets body: a Coinalyze download records it first (it gives each "
            "symbol's market); this recording is incomplete",
            path=path,
            line=lines[0][0] if lines else 1,
            field="url",
        )
    out: list[Placed] = []
    for n, body in lines:
        kind = vr.coinalyze_kind(body.url)
        if kind in ("markets", "predicted-funding"):
            continue
        page: list[_Body] = [body]
        partner = predicted.get(_window(body.url)) if kind == "funding" else None
        if partner is not None:
            page.append(partner[1])
        try:
            out += [(r, n) for r in vr.coinalyze_records(page, markets)]
        except _DECODE_ERRORS as exc:
            line = partner[0] if partner is not None and partner[1].url in str(exc) else n
            raise _fail(path, line, exc) from None
    return out


def _coinglass(path: Path, lines: list[tuple[int, _Body]]) -> list[Placed]:
    out: list[Placed] = []
    for n, body in lines:
        try:
            out += [(r, n) for r in vr.coinglass_records([body])]
        except _DECODE_ERRORS as exc:
            raise _fail(path, n, exc) from None
    return out


def _window(url: str) -> tuple[str, str, str]:
    _, q = vr.params(url)
    return q.get("symbols", ""), q.get("from", ""), q.get("to", "")


FORMATS: tuple[Format, ...] = (VendorRecording(cz.VENDOR), VendorRecording("coinglass"))
__all__ = ["FORMATS", "VendorRecording", "vendor_of"]
