"""What the loopback exchange sends: recorded frames, the faults applied to them, built frames.

Kept apart from the server (:mod:`flushwatch.testing.loopback`) so the schedule — the exact
sequence of frames a client will see, duplicates, swaps, malformed frames and dropped depth
diffs included — is a pure, deterministic function of the recording, the faults and the seed.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Iterable, Sequence
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlsplit

import msgspec

from flushwatch.testing.recorded import cryptofeed_frames, ws_lines

_STREAM = re.compile(r'^\{"stream":"([^"]+)"')
_SIDES = ("bids", "asks")


class Faults(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Faults the loopback exchange injects; every position is fixed by ``seed``.

    "Every N" faults fire on frames whose index ``i`` (0-based, over the recording) satisfies
    ``i % N == offset`` with a per-fault offset drawn from ``seed``: reproducible, yet not
    aligned with each other.
    """

    seed: int = 0
    #: Close each connection after it was sent this many frames (0 = never).
    disconnect_every: int = 0
    #: After every N-th frame, also send a copy cut in half (invalid JSON).
    malformed_every: int = 0
    #: Send every N-th frame twice.
    duplicate_every: int = 0
    #: Swap every N-th frame with the frame after it.
    reorder_every: int = 0
    #: 1-based positions, among depth diffs, of diffs never sent (a sequence gap).
    drop_depth: tuple[int, ...] = ()
    #: Answer the first K REST snapshot requests with ``limit_status`` and ``Retry-After``.
    limit_snapshots: int = 0
    #: Answer the first K open-interest requests the same way.
    limit_open_interest: int = 0
    limit_status: int = 429
    retry_after: float = 1.0
    #: Then answer the next K snapshot requests with ``fail_status`` (an outage; no Retry-After).
    fail_snapshots: int = 0
    fail_status: int = 503
    #: Streams that are acknowledged and then never served.
    silent: frozenset[str] = frozenset()
    #: Slow consumer: close a connection whose send waits longer than this (seconds).
    send_timeout: float | None = None
    #: Server write buffer high-water mark in bytes (small = a slow consumer shows sooner).
    write_limit: int = 32768


class Recording(msgspec.Struct, frozen=True, kw_only=True):
    """Frames of one recording in order, and the REST depth snapshot bodies by symbol."""

    frames: list[tuple[str, str]]  # (stream, combined-stream frame text)
    snapshots: dict[str, str]  # upper-case symbol → recorded REST body


class Out(msgspec.Struct, frozen=True):
    """One scheduled frame: the stream it belongs to, its text, and whether it is a diff."""

    stream: str
    data: str
    index: int  # position in the recording (-1 for injected copies)


def stream_of(text: str) -> str | None:
    """Return the stream name of a combined-stream frame (also of a truncated one)."""
    found = _STREAM.match(text)
    return found.group(1) if found else None


def load_recording(*paths: Path) -> Recording:
    """Read hftbacktest ``<ns> <json>`` files: stream frames plus their depth snapshots."""
    frames: list[tuple[str, str]] = []
    snapshots: dict[str, str] = {}
    for path in paths:
        pending: list[str] = []  # snapshot bodies seen before any frame names the symbol
        last_symbol: str | None = None
        for _, _, text in ws_lines(path):
            stream = stream_of(text)
            if stream is None:
                if '"lastUpdateId"' in text[:32]:
                    if last_symbol is None:
                        pending.append(text)
                    else:
                        snapshots.setdefault(last_symbol, text)
                continue
            last_symbol = stream.split("@", 1)[0].upper()
            for body in pending:
                snapshots.setdefault(last_symbol, body)
            pending.clear()
            frames.append((stream, text))
    return Recording(frames=frames, snapshots=snapshots)


def recorded_exchange_info(path: Path) -> dict[str, str]:
    """Return the REAL exchangeInfo bodies of a cryptofeed recording, by request path.

    The cryptofeed recordings (``BINANCE``, ``BINANCE_FUTURES``, ``BINANCE_DELIVERY``) each
    start with the venue's exchangeInfo as received, e.g. ``{"/fapi/v1/exchangeInfo": body}``.
    """
    return {
        urlsplit(frame.url).path: frame.data
        for frame in cryptofeed_frames(path)
        if frame.kind == "http" and urlsplit(frame.url).path.endswith("/exchangeInfo")
    }


def is_depth_diff(stream: str) -> bool:
    """Tell a diff depth stream (``@depth``, ``@depth@100ms``) from partial-depth snapshots."""
    tail = stream.split("@", 1)[1] if "@" in stream else ""
    return tail == "depth" or tail.startswith("depth@")


def _fires(every: int, offset: int, index: int) -> bool:
    return every > 0 and index % every == offset


def schedule(recording: Recording, faults: Faults) -> list[Out]:
    """Return the frames a client will receive, in order, with every fault applied."""
    rng = random.Random(faults.seed)
    offs = {name: rng.randrange(max(n, 1)) for name, n in _everies(faults)}
    drop = set(faults.drop_depth)
    out: list[Out] = []
    depth_seen = 0
    held: Out | None = None
    for index, (stream, text) in enumerate(recording.frames):
        if stream in faults.silent:
            continue
        if is_depth_diff(stream):
            depth_seen += 1
            if depth_seen in drop:
                continue
        item = Out(stream, text, index)
        if held is None and _fires(faults.reorder_every, offs["reorder"], index):
            held = item
            continue
        batch = [item] if held is None else [item, held]
        held = None
        for one in batch:
            out.append(one)
            if _fires(faults.duplicate_every, offs["duplicate"], one.index):
                out.append(Out(one.stream, one.data, -1))
            if _fires(faults.malformed_every, offs["malformed"], one.index):
                out.append(Out(one.stream, one.data[: len(one.data) // 2], -1))
    if held is not None:
        out.append(held)
    return out


def _everies(faults: Faults) -> Iterable[tuple[str, int]]:
    yield "reorder", faults.reorder_every
    yield "duplicate", faults.duplicate_every
    yield "malformed", faults.malformed_every


def raw_payload(frame: str) -> str:
    """Return the ``data`` part of a combined-stream frame (what a ``/ws`` connection gets)."""
    start = frame.find('"data":')
    if start < 0 or not frame.endswith("}"):
        return frame
    return frame[start + len('"data":') : -1]


class TrueBook:
    """The exchange's own book: the recorded snapshot plus every diff the replay passed.

    Serves later snapshot requests (a resync after a gap) the way the venue would: the book
    as of the last diff sent, dropped diffs included (the exchange never lost them), in the
    recorded body's own layout (spot has no ``E``/``T``; COIN-M adds ``symbol``/``pair``).
    """

    def __init__(self, body: str) -> None:
        snap = json.loads(body)
        #: The recorded body's keys in order and their values (the layout served back).
        self.layout: dict[str, object] = {k: v for k, v in snap.items() if k not in _SIDES}
        self.update_id: int = int(snap["lastUpdateId"])
        self.times: tuple[int, int] = (int(snap.get("E", 0)), int(snap.get("T", 0)))
        self.sides: tuple[dict[str, str], dict[str, str]] = (
            dict(snap["bids"]),
            dict(snap["asks"]),
        )

    def apply(self, frame: str) -> None:
        """Apply one combined-stream depth diff if it is newer than the book."""
        ev = json.loads(frame)["data"]
        if int(ev["u"]) < self.update_id:
            return
        for side, levels in zip(self.sides, (ev["b"], ev["a"]), strict=True):
            for price, qty in levels:
                if float(qty) == 0.0:
                    side.pop(price, None)
                else:
                    side[price] = qty
        self.update_id = int(ev["u"])
        self.times = (int(ev.get("E", 0)), int(ev.get("T", 0)))

    def body(self, limit: int) -> str:
        """Return a REST depth snapshot body of the current book (best ``limit`` levels)."""
        bids = sorted(self.sides[0].items(), key=lambda kv: -float(kv[0]))[:limit]
        asks = sorted(self.sides[1].items(), key=lambda kv: float(kv[0]))[:limit]
        current: dict[str, object] = {
            "lastUpdateId": self.update_id,
            "E": self.times[0],
            "T": self.times[1],
            "bids": [list(level) for level in bids],
            "asks": [list(level) for level in asks],
        }
        snap = {key: current.get(key, value) for key, value in self.layout.items()}
        snap["bids"], snap["asks"] = current["bids"], current["asks"]
        return json.dumps(snap, separators=(",", ":"))


def force_order_frame(
    symbol: str,
    *,
    side: str,
    price: str,
    qty: str,
    ts_ms: int,
    avg_price: str | None = None,
    status: str = "FILLED",
) -> str:
    """Build a ``<symbol>@forceOrder`` combined-stream frame exactly as the USDⓈ-M docs show.

    ``side`` is the liquidation ORDER side (``SELL`` liquidates a long). Layout from the
    Liquidation-Order-Streams page: ``{"e":"forceOrder","E":..,"o":{"s","S","o":"LIMIT",
    "f":"IOC","q","p","ap","X","l","z","T"}}``.
    """
    order = {
        "s": symbol.upper(),
        "S": side,
        "o": "LIMIT",
        "f": "IOC",
        "q": qty,
        "p": price,
        "ap": avg_price if avg_price is not None else price,
        "X": status,
        "l": qty,
        "z": qty,
        "T": ts_ms,
    }
    data = {"e": "forceOrder", "E": ts_ms + 3, "o": order}
    stream = f"{symbol.lower()}@forceOrder"
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":"))


def mark_price_frame(symbol: str, *, price: str, ts_ms: int, rate: str = "0.00010000") -> str:
    """Build a ``<symbol>@markPrice@1s`` frame in the documented ``markPriceUpdate`` layout."""
    data = {
        "e": "markPriceUpdate",
        "E": ts_ms,
        "s": symbol.upper(),
        "p": price,
        "i": price,
        "P": price,
        "r": rate,
        "T": (ts_ms // 28_800_000 + 1) * 28_800_000,
    }
    stream = f"{symbol.lower()}@markPrice@1s"
    return json.dumps({"stream": stream, "data": data}, separators=(",", ":"))


#: Constructed open interest (not recorded: Binance streams none, the recordings hold none).
#: It starts at the docs' example values and moves by a fixed step per poll, so a test can
#: tell every answer apart and predict it exactly.
OI_START = {"fapi": Decimal("10659.509"), "dapi": Decimal("15004")}
OI_STEP = {"fapi": Decimal("0.125"), "dapi": Decimal("3")}


def open_interest_body(api: str, symbol: str, n: int, ts_ms: int) -> str:
    """Build the ``n``-th (0-based) open-interest body in the documented layout; constructed.

    ``api`` is ``"fapi"`` (USDⓈ-M: base coins, 3 decimals, keys ``openInterest, symbol,
    time``) or ``"dapi"`` (COIN-M: contracts, keys ``symbol, pair, openInterest,
    contractType, time``), as on the Open-Interest docs pages.
    """
    value = OI_START[api] + n * OI_STEP[api]
    if api == "fapi":
        body: dict[str, object] = {"openInterest": f"{value:.3f}", "symbol": symbol, "time": ts_ms}
    else:
        kind = "PERPETUAL" if symbol.endswith("_PERP") else "CURRENT_QUARTER"
        body = {
            "symbol": symbol,
            "pair": symbol.partition("_")[0],
            "openInterest": str(value),
            "contractType": kind,
            "time": ts_ms,
        }
    return json.dumps(body, separators=(",", ":"))


def depth_positions(frames: Sequence[tuple[str, str]]) -> list[int]:
    """Return the recording indices of the depth diffs (for choosing ``drop_depth``)."""
    return [i for i, (stream, _) in enumerate(frames) if is_depth_diff(stream)]
