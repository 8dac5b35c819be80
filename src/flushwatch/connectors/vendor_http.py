"""What the vendor API clients share: a token-bucket rate limiter and one keyed GET with retries.

The key travels in a request header only (Coinalyze ``api_key``, CoinGlass ``CG-API-KEY``):
never in a URL, so nothing that records or prints a URL can leak it, and every error message
is built from the URL and the status alone.

HTTP outcomes map onto the ConnectorError tree so :func:`~flushwatch.connectors.retry.retrying`
applies one policy: 429 → :class:`RateLimited` (waiting ``Retry-After`` when the vendor sends
it, and holding the shared bucket that long so no other call goes out meanwhile); 5xx, 408 and
transport failures → :class:`ExchangeUnavailable` (backoff); 401/403 → :class:`PermanentError`
naming the environment variable to check; any other 4xx → :class:`PermanentError`.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from types import TracebackType
from typing import NamedTuple, Self
from urllib.parse import urlencode

import httpx

from flushwatch.connectors.config import Backoff
from flushwatch.connectors.retry import retry_after, retrying, venue_should_retry
from flushwatch.errors import ExchangeUnavailable, PermanentError, RateLimited

Params = dict[str, str | int]
#: A vendor's check of a 200 body (its JSON envelope); raises a ConnectorError to refuse it.
BodyCheck = Callable[[str, str], None]


class Window(NamedTuple):
    """One request's time range, both ends inclusive, in the vendor's unit (s or ms)."""

    start: int
    end: int


def windows(start: int, end: int, step: int, rows: int) -> list[Window]:
    """Windows of at most ``rows`` buckets covering every bucket inside ``[start, end)``.

    A bucket ``[t, t + step)`` is asked for when it starts at or after ``start`` and has
    closed by ``end``: a bucket still open would be stored with a partial value, and the
    store keeps the first version of a row. Each window ends one unit before the bucket
    after its last, so no window can return a bucket of the next.

    Examples
    --------
    >>> windows(0, 7200 * 3, 3600, 4)
    [Window(start=0, end=14399), Window(start=14400, end=21599)]
    >>> windows(1800, 3 * 3600 + 60, 3600, 10)
    [Window(start=3600, end=10799)]
    """
    first = -(-start // step) * step
    starts = range(first, end - step + 1, step)
    return [
        Window(starts[i], starts[min(i + rows, len(starts)) - 1] + step - 1)
        for i in range(0, len(starts), rows)
    ]


def chunks(symbols: list[str], size: int) -> list[list[str]]:
    """``symbols`` in requests of at most ``size`` (Coinalyze takes 20 a call)."""
    return [symbols[i : i + size] for i in range(0, len(symbols), size)]


class TokenBucket:
    """``per_minute`` tokens a minute, a burst of ``capacity``, shared by every call of a client.

    A call costing more than the capacity is charged the capacity (it could never start
    otherwise). :meth:`hold` empties the bucket for a vendor-imposed pause (``Retry-After``).
    """

    def __init__(
        self,
        per_minute: float,
        capacity: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = capacity if capacity is not None else per_minute
        self.tokens = self.capacity
        self.clock = clock
        self.updated = clock()
        self.blocked_until = 0.0
        self.waited = 0.0
        self._lock = asyncio.Lock()

    def _refill(self) -> float:
        now = self.clock()
        self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.rate)
        self.updated = now
        return now

    def delay(self, cost: float) -> float:
        """Seconds until ``cost`` tokens are available (0: now)."""
        cost = min(cost, self.capacity)
        now = self._refill()
        short = max(0.0, cost - self.tokens) / self.rate
        return max(short, self.blocked_until - now)

    async def acquire(self, cost: float = 1.0) -> None:
        """Wait until ``cost`` tokens are available, then take them."""
        async with self._lock:
            while (wait := self.delay(cost)) > 0:
                self.waited += wait
                await asyncio.sleep(wait)
            self.tokens -= min(cost, self.capacity)

    def lower(self, per_minute: float) -> bool:
        """Slow down to ``per_minute`` when that is lower (the vendor said so); True if it was."""
        if per_minute <= 0 or per_minute / 60.0 >= self.rate:
            return False
        self._refill()
        self.rate = per_minute / 60.0
        self.capacity = min(self.capacity, per_minute)
        self.tokens = min(self.tokens, self.capacity)
        return True

    def hold(self, seconds: float) -> None:
        """Let no call start for ``seconds`` and empty the bucket (the vendor said wait)."""
        now = self._refill()
        self.blocked_until = max(self.blocked_until, now + seconds)
        self.tokens = 0.0


class Reply(NamedTuple):
    """One 200 response: the URL asked (no key in it), the body as received, when it came."""

    url: str
    body: str
    ts_recv: int


class VendorHttp:
    """GET ``base_url + path`` with the key header, rate-limited and retried (a context manager)."""

    def __init__(
        self,
        base_url: str,
        *,
        vendor: str,
        key_header: str,
        key: str,
        key_env: str,
        bucket: TokenBucket,
        backoff: Backoff,
        timeout: float,
        check: BodyCheck | None = None,
        limit_header: str | None = None,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.vendor = vendor
        self.key_env = key_env
        self.bucket = bucket
        self.backoff = backoff
        self.check = check
        #: A response header giving the key's requests a minute (CoinGlass API-KEY-MAX-LIMIT).
        self.limit_header = limit_header
        #: The lower rate a vendor header imposed, if it did.
        self.lowered_to: int | None = None
        self.requests = 0
        self.rate_limited = 0
        self.bytes = 0
        self._headers = {key_header: key, "accept": "application/json"}
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self._rng = random.Random()

    async def __aenter__(self) -> Self:
        self._client = httpx.AsyncClient(
            headers=self._headers, timeout=self._timeout, follow_redirects=False
        )
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

    def url_for(self, path: str, params: Params) -> str:
        """The URL a call requests (also the recording's and the error messages' label)."""
        return f"{self.base}{path}?{urlencode(params, safe=',')}"

    async def get(self, path: str, params: Params, *, cost: float = 1.0) -> Reply:
        """GET once the bucket allows ``cost`` calls; retry transients; return the 200 reply."""
        url = self.url_for(path, params)

        async def call() -> Reply:
            await self.bucket.acquire(cost)
            return await self._once(url)

        def verdict(exc: BaseException) -> bool | float:
            if isinstance(exc, RateLimited):
                self.rate_limited += 1
            return venue_should_retry(exc)

        return await retrying(
            call, on=verdict, backoff=self.backoff, rng=self._rng, what=f"GET {url}"
        )

    async def _once(self, url: str) -> Reply:
        if self._client is None:
            raise RuntimeError("VendorHttp used outside 'async with'")
        self.requests += 1
        try:
            response = await self._client.get(url)
        except httpx.TransportError as exc:
            raise ExchangeUnavailable(f"GET {url}: {type(exc).__name__}: {exc}") from None
        body = response.text
        self.bytes += len(response.content)
        status = response.status_code
        if status in (418, 429):
            after = retry_after(response.headers.get("Retry-After"))
            self.bucket.hold(after or 0.0)
            raise RateLimited(f"GET {url}: HTTP {status} (rate limited)", retry_after=after)
        if status in (401, 403):
            said = " ".join(body[:200].split())  # the vendor's reason ("not in your plan" ...)
            raise PermanentError(
                f"GET {url}: HTTP {status}: {self.vendor} refused the request; check the key "
                f"in ${self.key_env} (and your plan){': ' + said if said else ''}"
            )
        if status >= 500 or status == 408:
            raise ExchangeUnavailable(f"GET {url}: HTTP {status}")
        if status != 200:
            raise PermanentError(f"GET {url}: HTTP {status} {body[:200]}")
        if self.check is not None:
            self.check(url, body)
        self._follow_limit(response.headers.get(self.limit_header or "", ""))
        return Reply(url=url, body=body, ts_recv=time.time_ns())

    def _follow_limit(self, text: str) -> None:
        try:
            limit = int(text)
        except ValueError:
            return
        if self.bucket.lower(limit):
            self.lowered_to = limit


class VendorClient:
    """A vendor's endpoints over one :class:`VendorHttp`: entering the client opens it."""

    http: VendorHttp

    async def __aenter__(self) -> Self:
        await self.http.__aenter__()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.http.__aexit__(exc_type, exc, tb)
