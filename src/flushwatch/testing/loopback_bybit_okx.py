"""A loopback Bybit v5 / OKX v5 exchange on 127.0.0.1 that replays real recordings.

One server per venue speaks the venue's websocket protocol (subscribe → ack, Bybit's
``{"op":"ping"}`` → pong, OKX's text ``ping`` → ``pong``) on the recording's websocket paths
(``/v5/public/linear``, ``/v5/public/spot``, ``/ws/v5/public``) and answers plain HTTP GETs with
the recording's REST bodies (instruments), matched on path and query parameters.

Each path replays its recorded frames once, in recorded order, across all connections: a frame
is sent only while its topic (Bybit) or ``(channel, instId)`` (OKX) is subscribed, and frames of
a topic not (yet) subscribed wait for it, so a late subscription loses nothing. The recorder's
own acks and pongs are not replayed: the server makes its own.

Faults (:class:`Faults`): close every connection after N frames (the client must reconnect
and resubscribe; the replay resumes where it stopped), resend the last K frames after a
reconnect (duplicates), or acknowledge subscriptions and then stay silent.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import json
from collections import deque
from collections.abc import Iterable
from http import HTTPStatus
from types import TracebackType
from typing import Literal
from urllib.parse import parse_qsl, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from flushwatch.testing.loopback_bound import Bound
from flushwatch.testing.recorded import Frame

Venue = Literal["bybit", "okx"]
Key = str | tuple[str, str]


class Faults(msgspec.Struct, frozen=True, kw_only=True):
    """What goes wrong on purpose."""

    #: Close each connection after sending this many recorded frames.
    disconnect_every: int | None = None
    #: After a reconnect, send the last K frames of the path again (duplicates).
    resend_on_reconnect: int = 0
    #: Acknowledge subscriptions and pings, never send data.
    silent: bool = False


def frame_key(venue: Venue, text: str) -> Key | None:
    """Return the subscription a recorded frame belongs to, or None for acks and pongs."""
    if text == "pong":
        return None
    msg = json.loads(text)
    if venue == "bybit":
        topic = msg.get("topic")
        return topic if isinstance(topic, str) else None
    arg = msg.get("arg")
    if msg.get("event") is not None or not isinstance(arg, dict):
        return None
    return (arg["channel"], arg.get("instId") or arg.get("instType") or "")


class _Path:
    """The replay state of one websocket path, shared by its connections."""

    def __init__(self) -> None:
        self.frames: list[tuple[Key, str]] = []
        self.pending: dict[Key, deque[int]] = {}
        self.log: list[int] = []

    def add(self, key: Key, text: str) -> None:
        self.pending.setdefault(key, deque()).append(len(self.frames))
        self.frames.append((key, text))

    def next_for(self, subs: set[Key]) -> int | None:
        heads = [q[0] for k in subs if (q := self.pending.get(k))]
        return heapq.nsmallest(1, heads)[0] if heads else None


class LoopbackVenue(Bound):
    """Serve one venue's recording on 127.0.0.1 (an async context manager)."""

    def __init__(self, venue: Venue, frames: Iterable[Frame], faults: Faults | None = None) -> None:
        self.venue = venue
        self.faults = faults or Faults()
        self.paths: dict[str, _Path] = {}
        self.http: list[tuple[str, str]] = []
        #: Every HTTP request target (path and query), in arrival order.
        self.requests: list[str] = []
        self.connections = 0
        self.sent = 0
        self.pings = 0
        self.subscribes = 0
        self._server: Server | None = None
        for frame in frames:
            if frame.kind == "http":
                self.http.append((frame.url, frame.data))
                continue
            key = frame_key(venue, frame.data)
            if key is not None:
                self.paths.setdefault(urlsplit(frame.url).path, _Path()).add(key, frame.data)

    @property
    def rest_base(self) -> str:
        """The REST base, as the Bybit/OKX connector configurations name it."""
        return self.http_base

    def recorded(self, path: str, keys: Iterable[Key]) -> list[str]:
        """Return the frames the server will replay on ``path`` for these subscriptions."""
        wanted = set(keys)
        return [text for key, text in self.paths[path].frames if key in wanted]

    async def __aenter__(self) -> LoopbackVenue:
        """Bind 127.0.0.1 on a free port and serve."""
        self._server = await serve(self._handle, "127.0.0.1", 0, process_request=self._rest)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Close every connection and the listening socket."""
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- HTTP ------------------------------------------------------------------------------

    def _rest(self, connection: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.requests.append(request.path)
        asked = urlsplit(request.path)
        params = set(parse_qsl(asked.query))
        for url, body in self.http:
            parts = urlsplit(url)
            if parts.path == asked.path and params <= set(parse_qsl(parts.query)):
                return connection.respond(HTTPStatus.OK, body)
        return connection.respond(HTTPStatus.NOT_FOUND, '{"error":"not recorded"}')

    # -- websocket -------------------------------------------------------------------------

    async def _handle(self, ws: ServerConnection) -> None:
        path = self.paths.get(urlsplit(ws.request.path if ws.request else "").path)
        if path is None:
            await ws.close(1008, "no recording on this path")
            return
        self.connections += 1
        subs: set[Key] = set()
        changed = asyncio.Event()
        sender = asyncio.create_task(self._send(ws, path, subs, changed))
        try:
            async for message in ws:
                for reply in self._answer(str(message), subs):
                    await ws.send(reply)
                changed.set()
        except ConnectionClosed:
            pass
        finally:
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender

    def _answer(self, message: str, subs: set[Key]) -> list[str]:
        if message == "ping":
            self.pings += 1
            return ["pong"]
        msg = json.loads(message)
        op = msg.get("op")
        if op == "ping":
            self.pings += 1
            return [json.dumps({"success": True, "ret_msg": "pong", "op": "ping"})]
        if op not in ("subscribe", "unsubscribe"):
            return []
        self.subscribes += op == "subscribe"
        args = msg.get("args", [])
        keys: list[Key] = (
            list(args)
            if self.venue == "bybit"
            else [(a["channel"], a.get("instId") or a.get("instType") or "") for a in args]
        )
        for key in keys:
            (subs.add if op == "subscribe" else subs.discard)(key)
        if self.venue == "bybit":
            ack = {"success": True, "ret_msg": op, "conn_id": "loopback", "op": op}
            return [json.dumps(ack)]
        return [json.dumps({"event": op, "arg": a, "connId": "loopback"}) for a in args]

    async def _send(
        self, ws: ServerConnection, path: _Path, subs: set[Key], changed: asyncio.Event
    ) -> None:
        if self.faults.silent:
            return
        while not subs:
            changed.clear()
            await changed.wait()
        if self.connections > 1 and self.faults.resend_on_reconnect:
            for old in path.log[-self.faults.resend_on_reconnect :]:
                key, text = path.frames[old]
                if key in subs:
                    await ws.send(text)
        sent_here = 0
        while True:
            index = path.next_for(subs)
            if index is None:
                changed.clear()
                await changed.wait()
                continue
            key, text = path.frames[index]
            await ws.send(text)
            path.pending[key].popleft()
            path.log.append(index)
            self.sent += 1
            sent_here += 1
            if self.faults.disconnect_every and sent_here >= self.faults.disconnect_every:
                await ws.close(1012, "loopback: planned disconnect")
                return
            await asyncio.sleep(0)  # let the receive side answer pings and subscriptions


__all__ = ["Faults", "Key", "LoopbackVenue", "Venue", "frame_key"]
