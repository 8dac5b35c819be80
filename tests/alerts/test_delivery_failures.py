"""A webhook that answers 500, or a port nobody listens on, is a reported failure, not silence.

Issue 14: such deliveries produced no message and the command exited 0. The dispatcher now
keeps every delivery that failed for good in ``failures`` and hands it to ``on_failure``
(default: a warning on the ``flushwatch.alerts`` logger). The servers are real, on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import logging

import httpx
import pytest

from flushwatch.alerts.config import WebhookSink
from flushwatch.alerts.dispatch import Delivery, Dispatcher
from flushwatch.alerts.rules import Alert
from flushwatch.alerts.sinks import Terminal, Webhook

TIMEOUT = 30.0
SECRET = "T0KEN-do-not-print"  # webhook URLs carry tokens (Slack, Telegram bot URLs)


def _alert() -> Alert:
    return Alert(
        rule="longs",
        kind="liquidations_over",
        key="longs:BTCUSDT:1",
        symbol="BTCUSDT",
        ts=1_723_161_600_000_000_000,
        title="BTCUSDT long liquidations over $5.00M/5m",
        text="BTCUSDT: $6.00M of long liquidations in the last 5 min.",
        value=6e6,
        threshold=5e6,
    )


class Always:
    """An HTTP/1.1 server on 127.0.0.1 that answers every request with one status."""

    def __init__(self, status: int) -> None:
        self.status = status
        self.requests = 0
        self.url = ""
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> Always:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}/hook/{SECRET}"
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        await self._server.wait_closed()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            await reader.readexactly(length)
            self.requests += 1
            body = b'{"error":"boom"}'
            writer.write(
                f"HTTP/1.1 {self.status} X\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        finally:
            writer.close()
            await writer.wait_closed()


async def _closed_port_url() -> str:
    server = await asyncio.start_server(lambda r, w: None, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    server.close()
    await server.wait_closed()  # nothing listens on the port any more
    return f"http://127.0.0.1:{port}/hook/{SECRET}"


def _sink(url: str, client: httpx.AsyncClient) -> Webhook:
    """Three attempts, fast backoff, as an alerts file would configure them."""
    cfg = WebhookSink(format="slack", url=url, attempts=3, backoff_s=0.01, max_backoff_s=0.02)
    return Webhook(cfg, client)


def test_http_500_after_retries_is_reported_once_and_counted() -> None:
    reported: list[Delivery] = []
    lines: list[str] = []

    async def main() -> tuple[Always, Dispatcher, list[Delivery]]:
        async with Always(500) as rx, httpx.AsyncClient() as client:
            disp = Dispatcher(
                [_sink(rx.url, client), Terminal(lines.append)], on_failure=reported.append
            )
            out = await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)
        return rx, disp, out

    rx, disp, out = asyncio.run(main())
    assert rx.requests == 3  # the sink's own `attempts = 3`, not the default 5
    assert [(d.sink, d.ok) for d in out] == [("webhook:slack", False), ("terminal", True)]
    assert reported == disp.failures == [out[0]]
    line = reported[0].describe()
    assert line.startswith(f"alert {_alert().title!r} NOT delivered to webhook:slack after 3 ")
    assert "HTTP 500" in line
    assert SECRET not in line
    assert "\n" not in line
    assert len(lines) == 1  # the terminal still got the alert


def test_refused_connection_after_retries_is_reported() -> None:
    reported: list[Delivery] = []

    async def main() -> Dispatcher:
        url = await _closed_port_url()
        async with httpx.AsyncClient() as client:
            disp = Dispatcher([_sink(url, client)], on_failure=reported.append)
            await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)
        return disp

    disp = asyncio.run(main())
    (failed,) = disp.failures
    assert reported == [failed]
    assert (failed.ok, failed.attempts, len(failed.waits_s)) == (False, 3, 2)
    assert "ExchangeUnavailable" in (failed.error or "")
    assert "ConnectError" in failed.describe()
    assert SECRET not in failed.describe()


def test_by_default_a_failure_is_logged_as_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    async def main() -> None:
        async with Always(500) as rx, httpx.AsyncClient() as client:
            disp = Dispatcher([_sink(rx.url, client)])
            await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)

    with caplog.at_level(logging.WARNING, logger="flushwatch.alerts"):
        asyncio.run(main())
    (record,) = [r for r in caplog.records if r.name == "flushwatch.alerts"]
    assert record.levelno == logging.WARNING
    assert "NOT delivered to webhook:slack" in record.getMessage()
    assert "HTTP 500" in record.getMessage()


def test_a_delivered_alert_reports_no_failure() -> None:
    reported: list[Delivery] = []

    async def main() -> Dispatcher:
        async with Always(200) as rx, httpx.AsyncClient() as client:
            disp = Dispatcher([_sink(rx.url, client)], on_failure=reported.append)
            (ok,) = await asyncio.wait_for(disp.dispatch([_alert()]), TIMEOUT)
            assert ok.ok
            assert (
                ok.describe()
                == f"alert {_alert().title!r} delivered to webhook:slack after 1 attempt"
            )
        return disp

    assert asyncio.run(main()).failures == []
    assert reported == []
