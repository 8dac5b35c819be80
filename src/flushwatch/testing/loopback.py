"""A loopback Binance exchange on 127.0.0.1 that replays real recordings, with faults.

Tests point a connector at it (endpoints are configuration) and check what comes out against
a clean offline import of the same file. It speaks Binance's wire protocol:

* websocket ``/ws``, ``/ws/<a>/<b>``, ``/stream?streams=<a>/<b>`` (combined-stream envelopes
  ``{"stream","data"}``), also under ``/public`` and ``/market``; ``SUBSCRIBE`` /
  ``UNSUBSCRIBE`` / ``LIST_SUBSCRIPTIONS`` requests answered ``{"result":...,"id":N}``; server
  pings (``ping_interval``);
* the USDⓈ-M tier split since 2026-04-23 (DOMAIN.md C3): ``/market``-tier streams (aggTrade,
  markPrice, forceOrder, kline) are served only under ``/market``, ``/public``-tier streams
  (depth, bookTicker, trade) only under ``/public`` and the legacy path; a stream on the wrong
  path is acknowledged and then stays silent, exactly the failure that fooled cryptofeed;
* HTTP ``GET /fapi/v1/depth`` (and ``/api/v3/depth``, ``/dapi/v1/depth``) on the same port:
  the recorded snapshot first, later requests the exchange's book as of the last diff sent;
* HTTP ``GET /fapi/v1/openInterest`` and ``/dapi/v1/openInterest``: CONSTRUCTED values (no
  recording holds open interest) in the documented layout, a deterministic sequence per symbol
  (:func:`~flushwatch.testing.loopback_replay.open_interest_body`) stamped with the replay's
  clock (the event time of the last frame sent), so they sit in the recording's timeline;
* HTTP ``GET /fapi/v1/exchangeInfo`` (and the spot/COIN-M ones) when given ``exchange_info``:
  a REAL recorded body (:func:`~flushwatch.testing.loopback_replay.recorded_exchange_info`,
  from another day than the replay), served as recorded;
* HTTP history when given ``history`` (:func:`shared_history`): ``/fapi/v1/klines``,
  ``/fapi/v1/fundingRate`` and ``/futures/data/openInterestHist`` from REAL files, honouring
  ``startTime``/``endTime``/``limit`` and the documented maximum limits (see :class:`History`).

Every HTTP request target (path and query) is logged in ``http_log``, so a test can check
that a client asked for nothing it was not told to.

The replay is a broadcast in recording order, as fast as the client reads. Frames of a stream
listed in ``require`` wait until some connection is subscribed to it (so a test can
disconnect every N frames and still expect every record); other streams are skipped while
nobody listens, like a live venue. Faults are described in
:class:`~flushwatch.testing.loopback_replay.Faults`.
"""

from __future__ import annotations

import asyncio
import contextlib
import csv
import json
import re
import time
from collections.abc import Collection, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from urllib.parse import parse_qs, urlsplit

import msgspec
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.datastructures import Headers
from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response

from flushwatch.testing.loopback_bound import Bound
from flushwatch.testing.loopback_replay import (
    Faults,
    Out,
    Recording,
    TrueBook,
    force_order_frame,
    is_depth_diff,
    mark_price_frame,
    open_interest_body,
    raw_payload,
    recorded_exchange_info,
    schedule,
    stream_of,
)

__all__ = [
    "Faults",
    "History",
    "LoopbackExchange",
    "Recording",
    "force_order_frame",
    "recorded_exchange_info",
    "shared_history",
    "stream_tier",
]

_MARKET_TIER = re.compile(r"@(aggTrade|markPrice|forceOrder|kline|continuousKline)|^!(force|mark)")
_PRICE = re.compile(r'"p":"([^"]+)"')
_EVENT_MS = re.compile(r'"E":(\d+)')
_DEPTH_PATHS = ("/fapi/v1/depth", "/api/v3/depth", "/dapi/v1/depth")
_OI_PATHS = {"/fapi/v1/openInterest": "fapi", "/dapi/v1/openInterest": "dapi"}
#: Body of a constructed outage answer: error -1001's text from Binance's error-code list.
_OUTAGE = '{"code":-1001,"msg":"Internal error; unable to process your request. Please try again."}'


#: History endpoint → (time field, default limit, maximum limit), from Binance's USDⓈ-M docs
#: ("Kline/Candlestick Data" 500/1500, "Get Funding Rate History" 100/1000, "Open Interest
#: Statistics" 30/500).
_HISTORY_PATHS: dict[str, tuple[int | str, int, int]] = {
    "/fapi/v1/klines": (0, 500, 1500),
    "/fapi/v1/fundingRate": ("fundingTime", 100, 1000),
    "/futures/data/openInterestHist": ("timestamp", 30, 500),
}
_BAD_LIMIT = '{"code":-1130,"msg":"Data sent for parameter \'limit\' is not valid."}'
_INVALID_SYMBOL = '{"code":-1121,"msg":"Invalid symbol."}'

#: A REST kline (array) or a fundingRate / openInterestHist entry (object).
Row = list[object] | dict[str, object]


class History(msgspec.Struct, kw_only=True):
    """Rows the history endpoints serve, in time order, in Binance's REST layout.

    ``klines`` maps (symbol, interval) to kline arrays, ``funding`` and ``open_interest`` map a
    symbol to entries (open interest at period ``5m`` only).
    """

    klines: dict[tuple[str, str], list[list[object]]] = msgspec.field(default_factory=dict)
    funding: dict[str, list[dict[str, object]]] = msgspec.field(default_factory=dict)
    open_interest: dict[str, list[dict[str, object]]] = msgspec.field(default_factory=dict)

    def symbols(self) -> set[str]:
        """Every symbol some endpoint has rows for (others are answered -1121)."""
        return {s for s, _ in self.klines} | set(self.funding) | set(self.open_interest)


def _iso_ms(text: str) -> int:
    """Milliseconds of an ISO UTC time, in integers (a float timestamp can lose the .017)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return (moment - datetime(1970, 1, 1, tzinfo=UTC)) // timedelta(milliseconds=1)


def _eight(text: str) -> str:
    """A decimal string with Binance's 8 places (exact for every value in these files)."""
    value = Decimal(text)
    fixed = value.quantize(Decimal("1e-8"))
    if fixed != value:
        raise ValueError(f"{text} does not fit 8 decimal places")
    return f"{fixed:f}"


def shared_history(root: Path) -> History:
    """Load the REAL history files of ``root`` (the shared data folder) into a :class:`History`.

    * klines XRPUSDT 5m and 1h: ``freqtrade-binance-xrpusdt-perp-2021-11-12`` (Binance USD-M
      REST via ccxt; dates are candle STARTS in UTC, volume in XRP). freqtrade keeps OHLCV only,
      so the quote volume, trade count and taker-buy fields of each kline are CONSTRUCTED as
      ``"0"``/``0`` placeholders; close time is open + interval - 1 ms, as Binance stamps it;
    * funding XRPUSDT: the same folder's ``8h-funding_rate`` file (rate in ``open``, ms-jittered
      settlement times kept); BTCUSDT: ``binance-btcusdt-funding-event-windows`` (ms epoch).
      Neither holds the mark price, so ``markPrice`` is ``""``. Rates are served as the files
      write them (Binance writes 8 places; freqtrade's derived CSV carries float noise such as
      ``-0.0021933400000000002``, kept so the rows equal a direct import of the file);
    * open interest HYPEUSDT 5m: the Binance Vision metrics excerpt in
      ``binance-vision-format-examples`` (``create_time`` UTC; sum_open_interest[_value]).
    """
    hist = History()
    ft = root / "freqtrade-binance-xrpusdt-perp-2021-11-12"
    for interval, ms in (("5m", 300_000), ("1h", 3_600_000)):
        rows: list[list[object]] = []
        with (ft / f"XRP_USDT_USDT-{interval}-futures.csv").open(newline="") as fh:
            for r in csv.DictReader(fh):
                t = _iso_ms(r["date"])
                ohlcv = [r[k] for k in ("open", "high", "low", "close", "volume")]
                rows.append([t, *ohlcv, t + ms - 1, "0", 0, "0", "0", "0"])
        hist.klines["XRPUSDT", interval] = rows
    with (ft / "XRP_USDT_USDT-8h-funding_rate.csv").open(newline="") as fh:
        hist.funding["XRPUSDT"] = [
            _funding_row("XRPUSDT", _iso_ms(r["date"]), r["open"]) for r in csv.DictReader(fh)
        ]
    btc = root / "binance-btcusdt-funding-event-windows" / "BTCUSDT-funding-event-windows.csv"
    with btc.open(newline="") as fh:
        hist.funding["BTCUSDT"] = [
            _funding_row("BTCUSDT", int(r["funding_time"]), r["funding_rate"])
            for r in csv.DictReader(fh)
        ]
    metrics = root / "binance-vision-format-examples" / "HYPEUSDT-metrics-2025-05-30-excerpt.csv"
    with metrics.open(newline="") as fh:
        hist.open_interest["HYPEUSDT"] = [
            {
                "symbol": r["symbol"],
                "sumOpenInterest": _eight(r["sum_open_interest"]),
                "sumOpenInterestValue": _eight(r["sum_open_interest_value"]),
                "timestamp": _iso_ms(r["create_time"] + "Z"),
            }
            for r in csv.DictReader(fh)
        ]
    return hist


def _funding_row(symbol: str, ms: int, rate: str) -> dict[str, object]:
    return {"symbol": symbol, "fundingTime": ms, "fundingRate": rate, "markPrice": ""}


def stream_tier(stream: str) -> str:
    """Return ``"market"`` or ``"public"``: the USDⓈ-M path tier that serves ``stream`` (C3)."""
    return "market" if _MARKET_TIER.search(stream) else "public"


class _Request(msgspec.Struct):
    method: str
    id: int | str | None = None
    params: list[str] = msgspec.field(default_factory=list)


class _Conn:
    """One client connection: which path it opened and what it subscribed to."""

    def __init__(self, ws: ServerConnection, tier: str, combined: bool) -> None:
        self.ws = ws
        self.tier = tier  # "public", "market" or "legacy"
        self.combined = combined
        self.subs: set[str] = set()
        self.sent = 0


class LoopbackExchange(Bound):
    """A Binance-speaking websocket + HTTP server on 127.0.0.1 that replays a recording."""

    def __init__(
        self,
        recording: Recording,
        *,
        faults: Faults | None = None,
        require: Collection[str] = (),
        tiered: bool = True,
        ping_interval: float | None = 20.0,
        mark_every: float | None = None,
        exchange_info: Mapping[str, str] | None = None,
        history: History | None = None,
        limit_history: int = 0,
    ) -> None:
        self.recording = recording
        #: Rows of the history endpoints (None: they answer 404 like any unknown path).
        self.history = history
        #: The first this many history requests are rate limited (``faults`` status/Retry-After).
        self.limit_history = limit_history
        #: Every history request target answered, rate-limited ones included.
        self.history_requests: list[str] = []
        #: Request path (``/fapi/v1/exchangeInfo``) → recorded body to answer it with.
        self.exchange_info = dict(exchange_info or {})
        self.faults = faults or Faults()
        self.require = frozenset(require)
        self.tiered = tiered
        self.ping_interval = ping_interval
        self.mark_every = mark_every
        self.schedule: list[Out] = schedule(recording, self.faults)
        #: Data frames written to clients (acks excluded), duplicates and fragments included.
        self.sent = 0
        #: Connections closed by the fault injector (disconnect every N, slow consumer).
        self.kicked = 0
        #: Wall-clock times (s) of every REST snapshot request, answered or rate limited.
        self.snapshot_requests: list[float] = []
        #: Monotonic times (s) of every open-interest request, answered or rate limited.
        self.oi_requests: list[float] = []
        #: Every open-interest body answered, in order.
        self.oi_served: list[str] = []
        #: Every HTTP request target (path and query), in arrival order.
        self.http_log: list[str] = []
        self.done = asyncio.Event()
        self._conns: list[_Conn] = []
        self._changed = asyncio.Event()
        self._books = {sym: TrueBook(body) for sym, body in recording.snapshots.items()}
        self._served_first: set[str] = set()
        self._applied = -1  # last recording index the true books have seen
        self._last_price: dict[str, str] = {}
        self._symbols = {stream.split("@", 1)[0].upper() for stream, _ in recording.frames}
        self._clock_ms = 0  # event time of the last frame replayed: the replay's "now"
        self._oi_last: dict[str, tuple[int, float]] = {}  # symbol → (time served, when)
        self._oi_polls: dict[str, int] = {}
        self._server: Server | None = None
        self._tasks: list[asyncio.Task[None]] = []

    # -- lifecycle -------------------------------------------------------------------------

    async def __aenter__(self) -> LoopbackExchange:
        """Start listening on an ephemeral 127.0.0.1 port and start the replay."""
        self._server = await serve(
            self._handler,
            "127.0.0.1",
            0,
            process_request=self._http,
            ping_interval=self.ping_interval,
            compression=None,
            max_size=None,
            write_limit=self.faults.write_limit,
            close_timeout=2,
        )
        self._tasks.append(asyncio.create_task(self._replay()))
        if self.mark_every is not None:
            self._tasks.append(asyncio.create_task(self._marks(self.mark_every)))
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the replay and close every connection."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    # -- websocket -------------------------------------------------------------------------

    def _serves(self, conn: _Conn, stream: str) -> bool:
        if stream not in conn.subs:
            return False
        if not self.tiered:
            return True
        tier = stream_tier(stream)
        return tier == conn.tier or (conn.tier == "legacy" and tier == "public")

    async def _handler(self, ws: ServerConnection) -> None:
        parts = urlsplit(ws.request.path if ws.request is not None else "/")
        path = parts.path
        tier = "legacy"
        for name in ("public", "market"):
            if path.startswith(f"/{name}/"):
                tier, path = name, path[len(name) + 1 :]
        conn = _Conn(ws, tier, combined=path.startswith("/stream"))
        initial = (parse_qs(parts.query).get("streams") or [""])[0]
        if path.startswith("/ws/"):
            initial = path[len("/ws/") :]
        conn.subs.update(s for s in initial.split("/") if s)
        self._conns.append(conn)
        self._changed.set()
        try:
            async for message in ws:
                await self._on_request(conn, message)
        except ConnectionClosed:
            pass
        finally:
            if conn in self._conns:
                self._conns.remove(conn)
            self._changed.set()

    async def _on_request(self, conn: _Conn, message: str | bytes) -> None:
        try:
            req = msgspec.json.decode(message, type=_Request)
        except msgspec.DecodeError:
            await conn.ws.send('{"error":{"code":-2,"msg":"Invalid request"},"id":null}')
            return
        result: list[str] | None = None
        if req.method == "SUBSCRIBE":
            conn.subs.update(req.params)
            self._changed.set()
        elif req.method == "UNSUBSCRIBE":
            conn.subs.difference_update(req.params)
        elif req.method == "LIST_SUBSCRIPTIONS":
            result = sorted(conn.subs)
        else:
            await conn.ws.send(f'{{"error":{{"code":-1,"msg":"unknown method"}},"id":{req.id}}}')
            return
        await conn.ws.send(msgspec.json.encode({"result": result, "id": req.id}).decode())

    async def _targets(self, stream: str) -> list[_Conn]:
        """Connections that get ``stream`` now, waiting for one if the stream is required."""
        while True:
            self._changed.clear()
            targets = [c for c in self._conns if self._serves(c, stream)]
            if targets or stream not in self.require:
                return targets
            await self._changed.wait()

    async def _send(self, conn: _Conn, data: str) -> None:
        payload = data if conn.combined else raw_payload(data)
        try:
            if self.faults.send_timeout is None:
                await conn.ws.send(payload)
            else:
                await asyncio.wait_for(conn.ws.send(payload), self.faults.send_timeout)
        except ConnectionClosed:
            return
        except TimeoutError:  # slow consumer: Binance drops such connections too
            await self._kick(conn, 1008, "slow consumer")
            return
        conn.sent += 1
        self.sent += 1
        every = self.faults.disconnect_every
        if every and conn.sent % every == 0:
            await self._kick(conn, 1001, "fault injection: disconnect")

    async def _kick(self, conn: _Conn, code: int, reason: str) -> None:
        if conn in self._conns:
            self._conns.remove(conn)
        self.kicked += 1
        await conn.ws.close(code, reason)

    def _advance_books(self, index: int) -> None:
        """Apply every recorded diff up to ``index`` (dropped ones too) to the true books."""
        frames = self.recording.frames
        for i in range(self._applied + 1, index + 1):
            stream, text = frames[i]
            found = _EVENT_MS.search(text)
            if found:
                self._clock_ms = max(self._clock_ms, int(found.group(1)))
            if is_depth_diff(stream):
                book = self._books.get(stream.split("@", 1)[0].upper())
                if book is not None:
                    book.apply(text)
            elif stream.endswith("@trade") or stream.endswith("@aggTrade"):
                found = _PRICE.search(text)
                if found:
                    self._last_price[stream.split("@", 1)[0].upper()] = found.group(1)
        self._applied = max(self._applied, index)

    async def _replay(self) -> None:
        for n, out in enumerate(self.schedule):
            if out.index >= 0:
                self._advance_books(out.index)
            for conn in await self._targets(out.stream):
                await self._send(conn, out.data)
            if n % 64 == 0:
                await asyncio.sleep(0)  # let handlers answer subscriptions between bursts
        self.done.set()

    async def inject(self, frame: str) -> int:
        """Send a built frame (e.g. ``force_order_frame``) to its subscribers; return how many."""
        stream = stream_of(frame) or ""
        targets = [c for c in self._conns if self._serves(c, stream)]
        for conn in targets:
            await self._send(conn, frame)
        return len(targets)

    async def _marks(self, every: float) -> None:
        """Push ``<symbol>@markPrice@1s`` frames every ``every`` seconds to subscribers."""
        while True:
            await asyncio.sleep(every)
            streams = {s for c in self._conns for s in c.subs if "@markPrice" in s}
            for stream in sorted(streams):
                symbol = stream.split("@", 1)[0].upper()
                price = self._last_price.get(symbol, "60000.00")
                await self.inject(
                    mark_price_frame(symbol, price=price, ts_ms=time.time_ns() // 10**6)
                )

    # -- HTTP ------------------------------------------------------------------------------

    def _http(self, ws: ServerConnection, request: Request) -> Response | None:
        if request.headers.get("Upgrade", "").lower() == "websocket":
            return None
        self.http_log.append(request.path)
        parts = urlsplit(request.path)
        query = parse_qs(parts.query)
        symbol = (query.get("symbol") or [""])[0].upper()
        api = _OI_PATHS.get(parts.path)
        if api is not None:
            return self._open_interest(ws, api, symbol)
        info = self.exchange_info.get(parts.path)
        if info is not None:
            return _json(ws, 200, info)
        if parts.path in _HISTORY_PATHS and self.history is not None:
            return self._history(ws, parts.path, query, symbol)
        if parts.path not in _DEPTH_PATHS:
            return _json(ws, 404, '{"code":-1,"msg":"not found"}')
        self.snapshot_requests.append(time.monotonic())
        asked = len(self.snapshot_requests)
        if asked <= self.faults.limit_snapshots:
            return self._limited(ws)
        if asked <= self.faults.limit_snapshots + self.faults.fail_snapshots:
            return _json(ws, self.faults.fail_status, _OUTAGE)
        limit = int((query.get("limit") or ["1000"])[0])
        book = self._books.get(symbol)
        if book is None:
            return _json(ws, 400, '{"code":-1121,"msg":"Invalid symbol."}')
        if symbol not in self._served_first:
            self._served_first.add(symbol)
            return _json(ws, 200, self.recording.snapshots[symbol])
        return _json(ws, 200, book.body(limit))

    def _limited(self, ws: ServerConnection) -> Response:
        resp = _json(ws, self.faults.limit_status, '{"code":-1003,"msg":"Too many requests"}')
        after = self.faults.retry_after
        resp.headers["Retry-After"] = str(int(after)) if after == int(after) else str(after)
        return resp

    def _open_interest(self, ws: ServerConnection, api: str, symbol: str) -> Response:
        """Answer an open-interest poll with the symbol's next constructed value."""
        self.oi_requests.append(time.monotonic())
        if len(self.oi_requests) <= self.faults.limit_open_interest:
            return self._limited(ws)
        if symbol not in self._symbols:
            return _json(ws, 400, '{"code":-1121,"msg":"Invalid symbol."}')
        if not self._clock_ms:  # nothing replayed yet: the recording's first event time
            found = (_EVENT_MS.search(text) for _, text in self.recording.frames)
            self._clock_ms = next((int(m.group(1)) for m in found if m), 0)
        n = self._oi_polls.get(symbol, 0)
        self._oi_polls[symbol] = n + 1
        # Binance stamps the body with its server time, so successive polls never share a
        # time: when the replay has not moved since the last poll, the clock runs on by the
        # wall time that passed (the store keeps the first version of a timestamp).
        now = time.monotonic()
        last_ms, last_at = self._oi_last.get(symbol, (0, now))
        ts_ms = max(self._clock_ms, last_ms + max(1, round((now - last_at) * 1000)))
        self._oi_last[symbol] = (ts_ms, now)
        body = open_interest_body(api, symbol, n, ts_ms)
        self.oi_served.append(body)
        return _json(ws, 200, body)

    def _history(
        self, ws: ServerConnection, path: str, query: dict[str, list[str]], symbol: str
    ) -> Response:
        """Answer a history request as Binance does: ascending rows with time in [start, end],
        the first ``limit`` of them from ``startTime``, else the last ``limit`` up to ``endTime``.
        """
        assert self.history is not None
        self.history_requests.append(path)
        if len(self.history_requests) <= self.limit_history:
            return self._limited(ws)
        field, default, maximum = _HISTORY_PATHS[path]
        arg = {k: v[0] for k, v in query.items() if v}
        limit = int(arg.get("limit", default))
        if not 0 < limit <= maximum:
            return _json(ws, 400, _BAD_LIMIT)
        if symbol not in self.history.symbols():
            return _json(ws, 400, _INVALID_SYMBOL)
        rows: list[Row]
        if path.endswith("klines"):
            rows = list(self.history.klines.get((symbol, arg.get("interval", "")), []))
        elif path.endswith("fundingRate"):
            rows = list(self.history.funding.get(symbol, []))
        elif arg.get("period") == "5m":
            rows = list(self.history.open_interest.get(symbol, []))
        else:
            return _json(ws, 400, '{"code":-1102,"msg":"Mandatory parameter period invalid."}')
        start = int(arg.get("startTime", -1))
        end = int(arg.get("endTime", 2**62))
        picked = [r for r in rows if start <= _row_time(r, field) <= end]
        picked = picked[:limit] if "startTime" in arg else picked[-limit:]
        return _json(ws, 200, json.dumps(picked, separators=(",", ":")))


def _row_time(row: Row, field: int | str) -> int:
    value = row[field] if isinstance(row, list) else row[str(field)]  # type: ignore[index]
    assert isinstance(value, int)
    return value


def _json(ws: ServerConnection, status: int, body: str) -> Response:
    resp = ws.respond(status, body)
    headers = Headers(
        (k, v) for k, v in resp.headers.raw_items() if k.lower() not in ("content-type",)
    )
    headers["Content-Type"] = "application/json"
    resp.headers = headers
    return resp
