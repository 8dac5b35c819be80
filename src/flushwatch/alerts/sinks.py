"""Where alerts go: webhooks (plain JSON, Slack, Discord, Telegram bodies) and the terminal.

Bodies (the exact documented shapes; :func:`webhook_body` is pure so tests pin them):

=========  =====================================================  ===============================
format     body                                                   documented by
=========  =====================================================  ===============================
json       the :class:`~flushwatch.alerts.rules.Alert` fields     flushwatch
slack      ``{"text": "<title>\\n<text>"}``                        Slack incoming webhooks
discord    ``{"content": "<title>\\n<text>"}`` (≤ 2000 chars)       Discord execute-webhook
telegram   ``{"chat_id": "<id>", "text": "<title>\\n<text>"}``      Bot API ``sendMessage``
=========  =====================================================  ===============================

A send makes **one** attempt and maps the outcome to the error tree (:mod:`flushwatch.errors`):
429 → :class:`RateLimited` with the ``Retry-After`` seconds, 5xx and connection failures →
:class:`ExchangeUnavailable` (transient), other 4xx → :class:`PermanentError`. Retrying is the
dispatcher's job (:mod:`flushwatch.alerts.dispatch`).
"""

from __future__ import annotations

import sys
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Protocol

import httpx
import msgspec

from flushwatch.alerts.config import TerminalSink, WebhookSink
from flushwatch.alerts.rules import Alert
from flushwatch.domain.time import iso
from flushwatch.errors import ExchangeUnavailable, PermanentError, RateLimited

DISCORD_MAX = 2000  # Discord rejects longer "content"
TELEGRAM_MAX = 4096  # Telegram rejects longer "text"


class AlertSink(Protocol):
    """Something that delivers one alert once (one attempt; the dispatcher retries)."""

    name: str

    async def send(self, alert: Alert) -> None:
        """Deliver ``alert`` or raise a TransientError / PermanentError."""
        ...


def message(alert: Alert) -> str:
    """The human text of an alert: title line, then the sentence."""
    return f"{alert.title}\n{alert.text}"


def webhook_body(alert: Alert, fmt: str, chat_id: str | None = None) -> dict[str, object]:
    """Return the JSON body for ``fmt`` (see the module table).

    Examples
    --------
    >>> a = Alert(rule="r", kind="feed_stale", key="k", symbol="BTCUSDT", ts=0, title="T", text="x")
    >>> webhook_body(a, "slack"), webhook_body(a, "telegram", chat_id="42")
    ({'text': 'T\\nx'}, {'chat_id': '42', 'text': 'T\\nx'})
    """
    if fmt == "slack":
        return {"text": message(alert)}
    if fmt == "discord":
        return {"content": message(alert)[:DISCORD_MAX]}
    if fmt == "telegram":
        if not chat_id:
            raise ValueError("a telegram body needs a chat_id")
        return {"chat_id": chat_id, "text": message(alert)[:TELEGRAM_MAX]}
    if fmt == "json":
        body: dict[str, object] = msgspec.to_builtins(alert)
        body["time"] = iso(alert.ts)
        return body
    raise ValueError(f"unknown webhook format {fmt!r}")


def retry_after_s(value: str | None) -> float | None:
    """Parse a ``Retry-After`` header given in seconds (HTTP dates are not used by webhooks).

    Examples
    --------
    >>> retry_after_s("2"), retry_after_s("0.5"), retry_after_s("soon")
    (2.0, 0.5, None)
    """
    if value is None:
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    return max(seconds, 0.0)


class Webhook:
    """POST alerts to one webhook URL with a shared :class:`httpx.AsyncClient`."""

    def __init__(self, cfg: WebhookSink, client: httpx.AsyncClient) -> None:
        self.cfg = cfg
        self.url = cfg.resolved_url()
        self.chat_id = cfg.resolved_chat_id() if cfg.format == "telegram" else None
        self.name = f"webhook:{cfg.format}"
        self._client = client

    async def send(self, alert: Alert) -> None:
        """Make one POST; map the answer to the error tree (see the module docstring)."""
        body = webhook_body(alert, self.cfg.format, self.chat_id)
        try:
            resp = await self._client.post(self.url, json=body, timeout=self.cfg.timeout_s)
        except httpx.HTTPError as exc:  # connect/read errors and timeouts: try again later
            raise ExchangeUnavailable(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        status = resp.status_code
        if status < 300:
            return
        detail = f"{self.name}: HTTP {status}: {resp.text[:200]}"
        if status == 429:
            raise RateLimited(detail, retry_after=retry_after_s(resp.headers.get("Retry-After")))
        if status >= 500 or status == 408:
            raise ExchangeUnavailable(detail)
        raise PermanentError(detail)


class Terminal:
    """Write each alert as one line (``write`` defaults to stderr, so views keep stdout)."""

    def __init__(self, write: Callable[[str], object] | None = None) -> None:
        self.name = "terminal"
        self._write = write or sys.stderr.write

    async def send(self, alert: Alert) -> None:
        """Print ``[time] title — text``."""
        self._write(f"[{iso(alert.ts)}] ALERT {alert.title} — {alert.text}\n")


def build_sinks(
    configs: tuple[WebhookSink | TerminalSink, ...],
    client: httpx.AsyncClient,
    write: Callable[[str], object] | None = None,
) -> list[AlertSink]:
    """Instantiate the configured sinks (URLs and chat ids resolved from the environment)."""
    return [
        Webhook(cfg, client) if isinstance(cfg, WebhookSink) else Terminal(write) for cfg in configs
    ]


@asynccontextmanager
async def open_sinks(
    configs: tuple[WebhookSink | TerminalSink, ...],
    write: Callable[[str], object] | None = None,
) -> AsyncIterator[list[AlertSink]]:
    """Open one HTTP client for every webhook sink; close it on exit."""
    async with httpx.AsyncClient() as client:
        yield build_sinks(configs, client, write)
