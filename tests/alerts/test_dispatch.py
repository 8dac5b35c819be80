"""Alerts reach a real loopback webhook receiver once each, through 500s and 429s."""

from __future__ import annotations

import asyncio
import json
import random

import httpx
import pytest

from flushwatch.alerts.config import WebhookSink
from flushwatch.alerts.dispatch import Delivery, Dispatcher, RetryPolicy, backoff_s, should_retry
from flushwatch.alerts.rules import Alert
from flushwatch.alerts.sinks import Terminal, Webhook
from flushwatch.errors import ExchangeUnavailable, PermanentError, RateLimited

TIMEOUT = 30.0


class Receiver:
    """A tiny HTTP/1.1 server on 127.0.0.1: answers from a script, one request per connection."""

    def __init__(self, script: list[tuple[int, dict[str, str]]]) -> None:
        self.script = list(script)
        self.requests: list[tuple[float, int, dict[str, object]]] = []  # (time, status, body)
        self.accepted: list[dict[str, object]] = []
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Receiver:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            headers = dict(
                line.split(": ", 1) for line in head.decode().split("\r\n")[1:] if ": " in line
            )
            length = int({k.lower(): v for k, v in headers.items()}.get("content-length", "0"))
            body = json.loads(await reader.readexactly(length))
            status, extra = self.script.pop(0) if self.script else (200, {})
            self.requests.append((asyncio.get_running_loop().time(), status, body))
            if status < 300:
                self.accepted.append(body)
            lines = [f"HTTP/1.1 {status} X", "Content-Length: 2", "Connection: close"]
            lines += [f"{k}: {v}" for k, v in extra.items()]
            writer.write(("\r\n".join(lines) + "\r\n\r\n{}").encode())
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()


def _alert(key: str = "k1") -> Alert:
    return Alert(
        rule="longs",
        kind="liquidations_over",
        key=key,
        symbol="BTCUSDT",
        ts=1_723_161_600_000_000_000,
        title="BTCUSDT long liquidations over $5.00M/5m",
        text="BTCUSDT: $6.00M of long liquidations in the last 5 min.",
        value=6e6,
        threshold=5e6,
    )


def test_alert_reaches_receiver_once_through_500_then_429_retry_after() -> None:
    async def main() -> tuple[Receiver, list[Delivery], list[Delivery]]:
        script = [(500, {}), (429, {"Retry-After": "1"}), (200, {})]
        async with Receiver(script) as rx, httpx.AsyncClient() as client:
            cfg = WebhookSink(format="json", url=rx.url)
            fast = RetryPolicy(attempts=5, base_s=0.05, max_s=0.2, jitter=0.5)
            disp = Dispatcher([Webhook(cfg, client)], policies={"webhook:json": fast})
            first = await asyncio.wait_for(disp.dispatch([_alert(), _alert()]), TIMEOUT)
            again = await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)
        return rx, list(first), list(again)

    rx, first, again = asyncio.run(main())
    assert [s for _, s, _ in rx.requests] == [500, 429, 200]
    assert len(rx.accepted) == 1  # exactly once, though it was submitted three times
    assert rx.accepted[0]["key"] == "k1"
    assert rx.accepted[0]["value"] == 6e6
    waited = rx.requests[2][0] - rx.requests[1][0]
    assert waited >= 1.0, f"retried {waited:.3f}s after a 429 with Retry-After: 1"
    assert len(first) == 1
    assert first[0].ok
    assert first[0].attempts == 3
    assert again == []


def test_failed_delivery_is_released_for_a_later_retry() -> None:
    async def main() -> Receiver:
        async with Receiver([(503, {}), (200, {})]) as rx, httpx.AsyncClient() as client:
            cfg = WebhookSink(format="slack", url=rx.url)
            one = RetryPolicy(attempts=1)
            disp = Dispatcher([Webhook(cfg, client)], policies={"webhook:slack": one})
            (failed,) = await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)
            assert not failed.ok
            assert "503" in (failed.error or "")
            (ok,) = await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)
            assert ok.ok
        return rx

    rx = asyncio.run(main())
    assert rx.accepted == [{"text": "BTCUSDT long liquidations over $5.00M/5m\n" + _alert().text}]


def test_client_error_is_not_retried_and_dedupe_window_reopens() -> None:
    clock = [0.0]
    lines: list[str] = []

    async def main() -> Receiver:
        async with Receiver([(400, {})]) as rx, httpx.AsyncClient() as client:
            sinks = [Webhook(WebhookSink(url=rx.url), client), Terminal(lines.append)]
            disp = Dispatcher(sinks, repeat_after_s={"longs": 60.0}, clock=lambda: clock[0])
            res = await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)
            assert [(d.sink, d.ok, d.attempts) for d in res] == [
                ("webhook:json", False, 1),
                ("terminal", True, 1),
            ]
            clock[0] = 59.0
            assert await disp.dispatch([_alert()]) == []
            clock[0] = 60.0
            assert len(await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)) == 2
        return rx

    rx = asyncio.run(main())
    assert [s for _, s, _ in rx.requests] == [400, 200]
    assert len(lines) == 2
    assert "ALERT BTCUSDT long liquidations" in lines[0]


def test_unreachable_webhook_is_transient() -> None:
    async def main() -> None:
        server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        server.close()
        await server.wait_closed()  # nothing listens on the port any more
        async with httpx.AsyncClient() as client:
            sink = Webhook(WebhookSink(url=f"http://127.0.0.1:{port}/"), client)
            with pytest.raises(ExchangeUnavailable) as info:
                await sink.send(_alert())
            assert should_retry(info.value) is True

    asyncio.run(main())


def test_retry_policy_is_pure() -> None:
    assert should_retry(RateLimited("slow", retry_after=3.0)) == 3.0
    assert should_retry(RateLimited("slow")) is True
    assert should_retry(PermanentError("no")) is False
    assert should_retry(ValueError("bug")) is False
    p = RetryPolicy(base_s=1.0, max_s=10.0, jitter=0.5)
    waits = [backoff_s(p, n, random.Random(n)) for n in range(6)]
    for n, w in enumerate(waits):
        cap = min(10.0, 2.0**n)
        assert cap / 2 <= w <= cap
