"""Plumbing shared by the raw-recording readers: decoder calls, row collection and notes.

Every recording reader replays frames through the same venue decoders the live connectors use
(:func:`flushwatch.venues.registry.decoder_for`); this module turns what the decoders return or
raise into frames with ``_line`` and into user-facing errors naming the file and line.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import msgspec
import polars as pl

from flushwatch.domain.records import Record
from flushwatch.domain.tables import frame_from_records, row_class
from flushwatch.errors import FlushwatchError, InputError, ParseError
from flushwatch.ingest.base import Parsed
from flushwatch.venues.base import Decoder
from flushwatch.venues.registry import (
    decoder_for,
    default_url,
    exchange_from_url,
    routing_url,
    supported_exchanges,
)

#: Report progress every this many lines.
PROGRESS_EVERY = 20_000

_MISSING = re.compile(r"missing required field `([^`]+)`")
_AT = re.compile(r"at `\$\.?([^`]*)`")


def _field(message: str) -> str | None:
    found = _MISSING.search(message) or _AT.search(message)
    return found.group(1) if found else None


def call(path: Path, line: int, fn: Callable[..., list[Record]], *args: object) -> list[Record]:
    """Run one decoder call, turning any decoding failure into a ParseError at ``line``."""
    try:
        return fn(*args)
    except FlushwatchError:
        raise
    except msgspec.ValidationError as exc:
        raise ParseError(
            f"message does not have the venue's documented shape: {exc}",
            path=path,
            line=line,
            field=_field(str(exc)),
        ) from exc
    except msgspec.DecodeError as exc:
        raise ParseError(
            f"message is not valid JSON ({exc}); the line is corrupt or cut short",
            path=path,
            line=line,
        ) from exc
    except (ValueError, KeyError, TypeError, IndexError, ZeroDivisionError) as exc:
        raise ParseError(f"cannot decode message: {exc}", path=path, line=line) from exc


class Sink:
    """Collects decoded records per type with their source line, then builds frames once."""

    def __init__(self) -> None:
        self._rows: dict[type[Record], tuple[list[Record], list[int]]] = {}
        #: Frames that produced no record, per decoder label (used when a decoder has no counts).
        self.empty: Counter[str] = Counter()

    def add(self, records: list[Record], line: int, label: str) -> None:
        """Remember ``records`` decoded from ``line`` (``label`` names the decoder)."""
        if not records:
            self.empty[label] += 1
            return
        rows = self._rows
        for rec in records:
            cls = type(rec)
            entry = rows.get(cls)
            if entry is None:
                entry = rows[cls] = ([], [])
            entry[0].append(rec)
            entry[1].append(line)

    def into(self, parsed: Parsed) -> None:
        """Add every collected dataset to ``parsed``."""
        for cls, (records, lines) in self._rows.items():
            try:
                frame = frame_from_records(cls, records, lines)
            except (OverflowError, pl.exceptions.PolarsError) as exc:
                raise _out_of_range(parsed.path, records, lines, exc) from exc
            parsed.add(row_class(cls), frame)


#: Integer columns are 64-bit: a decoded value outside this range cannot be stored.
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1


def _out_of_range(
    path: Path, records: list[Record], lines: list[int], exc: BaseException
) -> ParseError:
    """Name the line and field of the first integer no 64-bit column holds (issue 14 fuzzing:
    a trade id or a time of 1e38 in a recording made the frame build fail with a traceback)."""
    for rec, line in zip(records, lines, strict=True):
        for name, value in msgspec.structs.asdict(rec).items():
            values = value if isinstance(value, list) else [value]
            for v in values:
                if isinstance(v, int) and not isinstance(v, bool) and not _INT_MIN <= v <= _INT_MAX:
                    return ParseError(
                        f"{v} is out of range for a 64-bit integer",
                        path=path,
                        line=line,
                        field=name,
                    )
    first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return ParseError(f"a decoded value cannot be stored: {first}", path=path)


class Router:
    """One decoder per venue market, shared by that market's websocket and REST traffic.

    A REST ``exchangeInfo`` body must reach the decoder that later decodes the websocket frames
    (it carries the contract sizes), and Bybit linear and spot connections need different
    decoders: :func:`routing_url` gives the key for both.
    """

    def __init__(self, path: Path, default_exchange: str | None) -> None:
        self.path = path
        self.default_exchange = default_exchange
        self.decoders: dict[str, Decoder] = {}

    def for_url(self, url: str | None) -> tuple[str, Decoder]:
        """Return ``(label, decoder)`` for traffic to or from ``url``."""
        key = routing_url(url) if url else None
        if key is None and self.default_exchange is not None:
            key = default_url(self.default_exchange)
        if key is None:
            raise InputError(
                f"no decoder for {url}; supported exchanges: {', '.join(supported_exchanges())}",
                path=self.path,
            )
        decoder = self.decoders.get(key)
        if decoder is None:
            exchange = exchange_from_url(key) or ""
            decoder = self.decoders[key] = build_decoder(self.path, exchange, key)
        return key, decoder


def build_decoder(path: Path, exchange: str, url: str | None = None) -> Decoder:
    """Return ``decoder_for(exchange, url)``, naming ``path`` if there is none."""
    try:
        return decoder_for(exchange, url)
    except InputError as exc:
        raise type(exc)(str(exc), path=path) from exc


def finish(parsed: Parsed, sink: Sink, decoders: Mapping[str, Decoder]) -> Parsed:
    """Store frames, instruments and a note per decoder about frames it skipped."""
    sink.into(parsed)
    for label, decoder in decoders.items():
        for inst in decoder.instruments:
            parsed.add_instrument(inst)
        skipped = getattr(decoder, "skipped", None)
        if isinstance(skipped, Mapping):
            counts = {str(k): int(v) for k, v in skipped.items() if v}
            if counts:
                items = ", ".join(f"{n:,} {what}" for what, n in sorted(counts.items()))
                parsed.notes.append(f"{label}: skipped {items}")
        elif sink.empty[label]:
            parsed.notes.append(
                f"{label}: {sink.empty[label]:,} frames produced no rows (acks, unsupported "
                "channels or empty updates)"
            )
        assumed = getattr(decoder, "assumed", None)
        if isinstance(assumed, Mapping) and assumed:
            parsed.notes.append(
                f"{label}: assumed contract sizes (no instruments body) for "
                f"{', '.join(sorted(assumed))}: "
                + "; ".join(sorted({str(v) for v in assumed.values()}))
            )
        anomalies = getattr(decoder, "anomalies", None)
        if isinstance(anomalies, Mapping) and anomalies:
            parsed.notes.append(
                f"{label}: " + ", ".join(f"{n:,} {k}" for k, n in sorted(anomalies.items()))
            )
    if parsed.rows == 0:
        parsed.notes.append(
            "no market-data rows in this file (REST instrument lists only teach contract terms)"
        )
    return parsed
