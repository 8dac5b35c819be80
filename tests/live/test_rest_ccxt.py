"""REST through ccxt (connectors.rest_ccxt) against real HTTP servers on 127.0.0.1.

Two servers: the loopback exchange replaying the real USD-M recording (recorded depth
snapshot, REAL exchangeInfo from the cryptofeed recording, CONSTRUCTED open interest, 429/418
and 5xx faults), and a small scripted HTTP/1.1 server in this file that answers each request
target with given bytes after a given delay (bodies CONSTRUCTED for the test: whitespace and
non-ASCII that ccxt's own ``last_http_response`` would not keep, out-of-order answers).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import AsyncIterator, Mapping
from pathlib import Path

import ccxt.async_support as ccxt_async
import msgspec
import pytest

from flushwatch.connectors.base import FeedEvent, RawFrame
from flushwatch.connectors.binance import BinanceConnector
from flushwatch.connectors.config import Backoff, ConnectorConfig, Endpoints
from flushwatch.connectors.okx import OkxConfig, OkxConnector, SessionConfig
from flushwatch.connectors.rest_ccxt import CcxtRest, map_error
from flushwatch.errors import (
    BadSymbol,
    ConfigError,
    ExchangeUnavailable,
    NotSupported,
    PermanentError,
    RateLimited,
)
from flushwatch.testing.loopback import Faults, LoopbackExchange
from flushwatch.testing.loopback_bybit_okx import LoopbackVenue
from flushwatch.testing.loopback_replay import Recording, load_recording, recorded_exchange_info
from flushwatch.testing.recorded import cryptofeed_frames
from flushwatch.venues.registry import decoder_for

DEPTH = "/fapi/v1/depth"
OI = "/fapi/v1/openInterest"
INFO = "/fapi/v1/exchangeInfo"
Item = RawFrame | FeedEvent


@pytest.fixture(scope="module")
def recording(shared_data: Path) -> Recording:
    """The start of the real 6-minute USD-M BTCUSDT recording, with its depth snapshot."""
    full = load_recording(
        shared_data / "hftbacktest-binance-ws-2024-08-08" / "usdm_btcusdt_20240808.gz"
    )
    return Recording(frames=full.frames[:3000], snapshots=full.snapshots)


@pytest.fixture(scope="module")
def exchange_info(shared_data: Path) -> dict[str, str]:
    """The REAL USD-M exchangeInfo body cryptofeed recorded (2021-07-22), by path."""
    path = shared_data / "cryptofeed-ws-recordings" / "BINANCE_FUTURES.jsonl.zst"
    return recorded_exchange_info(path)


class Answer(msgspec.Struct, frozen=True):
    """What the scripted server sends for one request target."""

    body: bytes
    status: int = 200
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0


class Scripted:
    """A minimal HTTP/1.1 server on 127.0.0.1 answering request targets as scripted."""

    def __init__(self, answers: Mapping[str, Answer]) -> None:
        self.answers = dict(answers)
        self.log: list[str] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._server: asyncio.Server | None = None

    @property
    def base(self) -> str:
        """``http://127.0.0.1:<port>``."""
        assert self._server is not None
        return f"http://127.0.0.1:{self._server.sockets[0].getsockname()[1]}"

    async def __aenter__(self) -> Scripted:
        """Listen on an ephemeral 127.0.0.1 port."""
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        return self

    async def __aexit__(self, *exc: object) -> None:
        """Stop listening."""
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        head = (await reader.readuntil(b"\r\n\r\n")).decode("latin-1")
        target = head.split(" ", 2)[1]
        self.log.append(target)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        answer = self.answers.get(target, Answer(b'{"code":-1,"msg":"not scripted"}', 404))
        await asyncio.sleep(answer.delay)
        lines = [
            f"HTTP/1.1 {answer.status} X",
            "Content-Type: application/json; charset=utf-8",
            f"Content-Length: {len(answer.body)}",
            "Connection: close",
            *(f"{k}: {v}" for k, v in answer.headers),
        ]
        writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + answer.body)
        await writer.drain()
        self.in_flight -= 1
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()


# -- bodies and URLs -----------------------------------------------------------------------


def test_bodies_are_the_bytes_served_and_urls_the_request_urls(
    recording: Recording, exchange_info: dict[str, str]
) -> None:
    """Depth (recorded), exchangeInfo (REAL) and OI (constructed): byte for byte, real URLs."""

    async def main() -> tuple[list[tuple[str, str]], LoopbackExchange, str]:
        async with (
            LoopbackExchange(recording, exchange_info=exchange_info) as ex,
            CcxtRest("binanceusdm", ex.http_base, timeout=10) as rest,
        ):
            got = [
                await rest.get(DEPTH, {"symbol": "BTCUSDT", "limit": 1000}),
                await rest.get(INFO),
                await rest.get(OI, {"symbol": "BTCUSDT"}),
            ]
            return got, ex, ex.http_base

    got, ex, base = asyncio.run(main())
    assert ex.http_log == [
        "/fapi/v1/depth?symbol=BTCUSDT&limit=1000",
        "/fapi/v1/exchangeInfo",
        "/fapi/v1/openInterest?symbol=BTCUSDT",
    ]  # nothing else: no load_markets, no fetch_time
    assert [url for url, _ in got] == [base + target for target in ex.http_log]
    bodies = [body.encode() for _, body in got]
    assert bodies[0] == recording.snapshots["BTCUSDT"].encode()
    assert bodies[1] == exchange_info[INFO].encode()
    assert len(bodies[1]) == 140053
    assert bodies[2] == ex.oi_served[0].encode()


def test_whitespace_and_non_ascii_survive_where_ccxt_strips() -> None:
    """The body keeps what ccxt's ``last_http_response`` loses (it stores ``.strip()``)."""
    sent = ' \n{"symbol":"BTCUSDT","note":"é ✓","openInterest":"1.5"}\r\n'.encode()
    target = "/fapi/v1/openInterest?symbol=BTCUSDT"

    async def main() -> tuple[str, str, str, list[str]]:
        async with (
            Scripted({target: Answer(sent)}) as server,
            CcxtRest("binanceusdm", server.base, timeout=10) as rest,
        ):
            url, body = await rest.get(OI, {"symbol": "BTCUSDT"})
            return url, body, rest.client.last_http_response, server.log

    url, body, theirs, log = asyncio.run(main())
    assert body.encode() == sent
    assert theirs == body.strip() != body
    assert url.endswith(target)
    assert log == [target]


def test_concurrent_calls_keep_their_bodies_apart() -> None:
    """Six overlapping calls answered in reverse order: each gets its own body and URL."""
    n = 6
    answers = {
        f"{OI}?symbol=S{i}": Answer(
            json.dumps({"symbol": f"S{i}", "openInterest": str(i)}).encode() + b" " * i,
            delay=0.15 * (n - i),  # the first asked is answered last
        )
        for i in range(n)
    }

    async def main() -> tuple[list[tuple[str, str]], Scripted, str]:
        async with (
            Scripted(answers) as server,
            CcxtRest("binanceusdm", server.base, timeout=10) as rest,
        ):
            calls = [rest.get(OI, {"symbol": f"S{i}"}) for i in range(n)]
            return list(await asyncio.gather(*calls)), server, server.base

    got, server, base = asyncio.run(main())
    assert server.max_in_flight == n  # every request was open at once: the race was on
    assert server.log == [f"{OI}?symbol=S{i}" for i in range(n)]  # asked in order
    for i, (url, body) in enumerate(got):
        target = f"{OI}?symbol=S{i}"
        assert url == base + target
        assert body.encode() == answers[target].body


# -- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("status", [429, 418])
def test_rate_limit_carries_retry_after(recording: Recording, status: int) -> None:
    """429 and 418 with Retry-After: RateLimited with that many seconds, then the body."""
    faults = Faults(limit_snapshots=1, limit_status=status, retry_after=2.5)

    async def main() -> tuple[RateLimited, str, list[str]]:
        async with (
            LoopbackExchange(recording, faults=faults) as ex,
            CcxtRest("binanceusdm", ex.http_base, timeout=10) as rest,
        ):
            with pytest.raises(RateLimited) as caught:
                await rest.get(DEPTH, {"symbol": "BTCUSDT", "limit": 1000})
            _, body = await rest.get(DEPTH, {"symbol": "BTCUSDT", "limit": 1000})
            return caught.value, body, ex.http_log

    exc, body, log = asyncio.run(main())
    assert exc.retry_after == 2.5
    assert f"HTTP {status}" in str(exc)
    assert "/fapi/v1/depth?symbol=BTCUSDT&limit=1000" in str(exc)
    assert body == recording.snapshots["BTCUSDT"]
    assert len(log) == 2


def test_rate_limit_without_retry_after() -> None:
    """A 429 that names no wait: RateLimited, retry_after None (the backoff decides)."""
    target = f"{OI}?symbol=BTCUSDT"

    async def main() -> RateLimited:
        async with (
            Scripted({target: Answer(b'{"code":-1003,"msg":"Too many requests"}', 429)}) as s,
            CcxtRest("binanceusdm", s.base, timeout=10) as rest,
        ):
            with pytest.raises(RateLimited) as caught:
                await rest.get(OI, {"symbol": "BTCUSDT"})
            return caught.value

    assert asyncio.run(main()).retry_after is None


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, b"<html>Internal Server Error</html>"),
        (502, b""),
        (503, b'{"code":-1001,"msg":"Internal error; unable to process your request."}'),
        (504, b'{"code":-1007,"msg":"Timeout waiting for response from backend server."}'),
    ],
)
def test_5xx_is_exchange_unavailable(status: int, body: bytes) -> None:
    """5xx, whatever the body (HTML, empty, a Binance error code): transient, retried."""
    target = f"{OI}?symbol=BTCUSDT"

    async def main() -> ExchangeUnavailable:
        async with (
            Scripted({target: Answer(body, status)}) as server,
            CcxtRest("binanceusdm", server.base, timeout=10) as rest,
        ):
            with pytest.raises(ExchangeUnavailable) as caught:
                await rest.get(OI, {"symbol": "BTCUSDT"})
            return caught.value

    exc = asyncio.run(main())
    assert f"HTTP {status}" in str(exc)


def test_rejected_requests_are_permanent(recording: Recording) -> None:
    """-1121 is BadSymbol; a 404 is permanent (ccxt's table would call it unavailable)."""
    target = f"{OI}?symbol=BTCUSDT"

    async def main() -> tuple[BadSymbol, PermanentError]:
        async with (
            LoopbackExchange(recording) as ex,
            CcxtRest("binanceusdm", ex.http_base, timeout=10) as rest,
        ):
            with pytest.raises(BadSymbol) as bad:
                await rest.get(DEPTH, {"symbol": "NOSUCH", "limit": 5})
        async with (
            Scripted({target: Answer(b"<html>Not Found</html>", 404)}) as server,
            CcxtRest("binanceusdm", server.base, timeout=10) as rest,
        ):
            with pytest.raises(PermanentError) as missing:
                await rest.get(OI, {"symbol": "BTCUSDT"})
        return bad.value, missing.value

    bad, missing = asyncio.run(main())
    assert '"code":-1121' in str(bad)
    assert type(missing) is PermanentError
    assert "HTTP 404" in str(missing)


def test_refused_connection_is_exchange_unavailable() -> None:
    """Nothing listening (a port just closed): ExchangeUnavailable, named by the URL."""

    async def main() -> ExchangeUnavailable:
        async with Scripted({}) as server:
            base = server.base
        async with CcxtRest("binanceusdm", base, timeout=5) as rest:
            with pytest.raises(ExchangeUnavailable) as caught:
                await rest.get(OI, {"symbol": "BTCUSDT"})
            return caught.value

    exc = asyncio.run(main())
    assert "/fapi/v1/openInterest?symbol=BTCUSDT" in str(exc)
    assert "ExchangeNotAvailable" in str(exc)


def test_only_the_configured_group_and_paths_are_reachable() -> None:
    """Other ccxt URL groups have no URL any more; unknown paths and venues are refused."""

    async def main() -> list[str]:
        async with (
            Scripted({}) as server,
            CcxtRest("binanceusdm", server.base, timeout=5) as rest,
        ):
            with pytest.raises(NotSupported):
                await rest.get("/fapi/v1/ticker/price", {"symbol": "BTCUSDT"})
            with pytest.raises(ccxt_async.NotSupported, match="sapi") as caught:
                await rest.client.sapiGetSystemStatus()  # a real-host group in stock ccxt
            assert type(map_error(caught.value, None, "sapi")) is NotSupported
            return server.log

    assert asyncio.run(main()) == []
    with pytest.raises(ConfigError):
        CcxtRest("kraken", "http://127.0.0.1:1", timeout=1)


# -- the connectors ------------------------------------------------------------------------


async def _until_live(conn: BinanceConnector) -> AsyncIterator[Item]:
    deadline = time.monotonic() + 30
    async with conn:
        async for item in conn.frames():
            yield item
            if conn.books["BTCUSDT"].state == "live" or time.monotonic() > deadline:
                return


def test_binance_connector_records_exchange_info_and_survives_an_outage(
    recording: Recording, exchange_info: dict[str, str]
) -> None:
    """exchangeInfo first (REAL body, verbatim); a 503 snapshot is retried; the book syncs."""
    faults = Faults(fail_snapshots=2)

    async def main() -> tuple[list[Item], LoopbackExchange, BinanceConnector, str]:
        require = ("btcusdt@depth@0ms",)
        async with LoopbackExchange(
            recording, faults=faults, require=require, exchange_info=exchange_info
        ) as ex:
            ep = Endpoints(
                public_ws=f"{ex.ws_base}/public", market_ws=ex.ws_base, rest=ex.http_base
            )
            cfg = ConnectorConfig(
                endpoints=ep,
                backoff=Backoff(initial=0.01, maximum=0.2, timeout=30),
                oi_interval=None,
                exchange_info=True,
            )
            conn = BinanceConnector("binanceusdm", ["BTCUSDT"], ["depth@0ms"], cfg)
            items = [item async for item in _until_live(conn)]
            return items, ex, conn, ex.http_base

    items, ex, conn, base = asyncio.run(main())
    assert conn.books["BTCUSDT"].state == "live"
    http = [i for i in items if isinstance(i, RawFrame) and i.http]
    assert [f.url for f in http] == [f"{base}{INFO}", f"{base}{DEPTH}?symbol=BTCUSDT&limit=1000"]
    assert isinstance(items[0], RawFrame)
    assert items[0].http  # before any stream frame
    assert http[0].data == exchange_info[INFO]
    assert http[1].data == recording.snapshots["BTCUSDT"]
    assert ex.http_log == [INFO] + [f"{DEPTH}?symbol=BTCUSDT&limit=1000"] * 3
    decoder = decoder_for("binanceusdm", http[0].url)
    assert decoder.on_http(http[0].url, http[0].data, http[0].ts_recv) == []  # terms learnt


def test_okx_instruments_come_through_ccxt_verbatim(shared_data: Path) -> None:
    """VenueStream's instruments bodies: the recorded bytes, one request per type, no more."""
    path = shared_data / "cryptofeed-ws-recordings" / "OKX.jsonl.zst"

    async def main() -> tuple[list[RawFrame], LoopbackVenue, str]:
        async with LoopbackVenue("okx", cryptofeed_frames(path)) as venue:
            cfg = OkxConfig(
                inst_ids=("BTC-USD-220527", "UNI-USD-SWAP", "BTC-USDT"),
                channels=("trades",),
                rest_base=venue.rest_base,
                ws_url=f"{venue.ws_base}/ws/v5/public",
                session=SessionConfig(backoff_initial=0.01, backoff_max=0.05),
            )
            http: list[RawFrame] = []
            async with OkxConnector(cfg) as conn, asyncio.timeout(20):
                async for item in conn.frames():
                    if isinstance(item, RawFrame) and item.http:
                        http.append(item)
                        if len(http) == 3:
                            break
            return http, venue, venue.rest_base

    http, venue, base = asyncio.run(main())
    targets = [f"/api/v5/public/instruments?instType={t}" for t in ("FUTURES", "SWAP", "SPOT")]
    assert venue.requests == targets
    assert [f.url for f in http] == [base + t for t in targets]
    recorded = {}
    for url, body in venue.http:  # the loopback answers with the first recorded body per type
        recorded.setdefault(url.removeprefix("https://www.okx.com"), body)
    assert [f.data for f in http] == [recorded[t] for t in targets]
