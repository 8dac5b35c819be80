"""HTTP fetching from the Binance Vision archive (data.binance.vision): the only network code
of ``flushwatch download binance-vision``.

Two calls, both bounded by one semaphore (``concurrency`` requests in flight at most) and
retried on transient failures (5xx, 429/418 with ``Retry-After``, a dropped connection) with
the configured backoff: :meth:`VisionClient.checksum` reads a ``.CHECKSUM`` sidecar
(``<sha256>  <name>``), :meth:`VisionClient.fetch_to` streams a zip into a ``.part`` file and
returns its SHA-256. A 404 is "not published" (``None``), never an error. Which files to ask
for, verification against the sidecar, resumption and the import are the caller's
(:mod:`flushwatch.api.download_vision`).
"""

from __future__ import annotations

import asyncio
import hashlib
import random
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx
import msgspec

from flushwatch.connectors.config import VisionConfig
from flushwatch.connectors.retry import retry_after, retrying, venue_should_retry
from flushwatch.errors import (
    ConnectorError,
    ExchangeUnavailable,
    PermanentError,
    RateLimited,
)

_CHUNK = 1 << 16


class Fetched(msgspec.Struct, frozen=True):
    """A zip written to its ``.part`` file: its size and SHA-256 (lower-case hex)."""

    size: int
    sha256: str


def _status_error(url: str, status: int, headers: httpx.Headers) -> ConnectorError:
    if status in (418, 429):
        return RateLimited(
            f"{url}: HTTP {status} (rate limited)",
            retry_after=retry_after(headers.get("Retry-After")),
        )
    if status >= 500:
        return ExchangeUnavailable(f"{url}: HTTP {status}")
    return PermanentError(f"{url}: HTTP {status}; check [binance_vision] base_url in --config")


class VisionClient:
    """An async HTTP client for one archive host, with bounded concurrency and counters."""

    def __init__(self, config: VisionConfig, *, concurrency: int) -> None:
        if concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.config = config
        self.base = config.base_url.rstrip("/")
        self._sem = asyncio.Semaphore(concurrency)
        self._client: httpx.AsyncClient | None = None
        self._rng = random.Random()
        #: Requests sent (retries included) and body bytes received.
        self.requests = 0
        self.bytes = 0

    async def __aenter__(self) -> VisionClient:
        self._client = httpx.AsyncClient(timeout=self.config.timeout, follow_redirects=True)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    def url(self, rel: str) -> str:
        """The full URL of an archive path such as ``data/spot/daily/...zip``."""
        return f"{self.base}/{rel.lstrip('/')}"

    def _http(self) -> httpx.AsyncClient:
        if self._client is None:
            raise RuntimeError("use VisionClient as an async context manager")
        return self._client

    async def checksum(self, rel: str) -> str | None:
        """Return the body of the ``.CHECKSUM`` at ``rel`` (None when it is not published)."""
        url = self.url(rel)

        async def once() -> str | None:
            async with self._sem:
                self.requests += 1
                try:
                    resp = await self._http().get(url)
                except httpx.TransportError as exc:
                    raise ExchangeUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise _status_error(url, resp.status_code, resp.headers)
            self.bytes += len(resp.content)
            return resp.text

        return await retrying(
            once, on=venue_should_retry, backoff=self.config.backoff, rng=self._rng, what=url
        )

    async def fetch_to(
        self, rel: str, part: Path, progress: Callable[[int], None] | None = None
    ) -> Fetched | None:
        """Stream ``rel`` into ``part`` (truncated first: a partial download restarts).

        Returns None when the file is not published (HTTP 404).
        ``progress`` is called with the byte count of each chunk written.
        """
        url = self.url(rel)

        async def once() -> Fetched | None:
            async with self._sem:
                self.requests += 1
                try:
                    return await self._stream(url, part, progress)
                except httpx.TransportError as exc:  # the retry truncates the .part again
                    raise ExchangeUnavailable(f"{url}: {type(exc).__name__}: {exc}") from exc

        return await retrying(
            once, on=venue_should_retry, backoff=self.config.backoff, rng=self._rng, what=url
        )

    async def _stream(
        self, url: str, part: Path, progress: Callable[[int], None] | None
    ) -> Fetched | None:
        async with self._http().stream("GET", url) as resp:
            if resp.status_code == 404:
                return None
            if resp.status_code != 200:
                raise _status_error(url, resp.status_code, resp.headers)
            part.parent.mkdir(parents=True, exist_ok=True)
            digest = hashlib.sha256()
            size = 0
            with part.open("wb") as fh:
                async for chunk in resp.aiter_bytes(_CHUNK):
                    fh.write(chunk)
                    digest.update(chunk)
                    size += len(chunk)
                    self.bytes += len(chunk)
                    if progress is not None:
                        progress(len(chunk))
        return Fetched(size=size, sha256=digest.hexdigest())
