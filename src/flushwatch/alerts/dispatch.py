"""Send alerts once: de-duplicate by key and window, retry transient failures with backoff.

Policy (one for every sink; no sink-specific branches here):

* :func:`should_retry` is pure: a :class:`~flushwatch.errors.RateLimited` answer returns its
  ``Retry-After`` seconds (the next attempt waits at least that long), any other
  :class:`~flushwatch.errors.TransientError` returns True, everything else False.
* The wait before attempt ``n+1`` is exponential, ``min(max_s, base_s·2ⁿ)``, with the top
  ``jitter`` share randomised (so many monitors restarting together do not hammer a webhook
  in step), and never less than ``Retry-After``. A total ``deadline_s`` bounds one delivery.
* De-duplication: an alert whose ``key`` was delivered less than ``repeat_after_s`` ago (per
  rule, else the dispatcher default) is dropped. A key is claimed before sending, so two
  evaluations racing each other send once; it is released again if no sink accepted it, so
  the next evaluation retries.
* Failures are reported, never silent: every delivery that ends not ok (HTTP 500 after the
  last retry, a refused connection, a 4xx) is kept in :attr:`Dispatcher.failures` and passed
  to ``on_failure`` (default: a warning on the ``flushwatch.alerts`` logger, which Python
  prints to stderr when nothing else is configured). :meth:`Delivery.describe` is the line to
  show; it never holds the webhook URL, which may carry a token.
* A :class:`~flushwatch.alerts.sinks.Webhook` is retried as its own config says
  (``attempts``, ``backoff_s``, ``max_backoff_s``) unless ``policies`` names its sink.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping

import msgspec

from flushwatch.alerts.rules import Alert
from flushwatch.alerts.sinks import AlertSink, Webhook
from flushwatch.errors import RateLimited, TransientError

Sleep = Callable[[float], Awaitable[None]]
log = logging.getLogger("flushwatch.alerts")


class RetryPolicy(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How often and how patiently one delivery is retried."""

    attempts: int = 5
    base_s: float = 1.0
    max_s: float = 60.0
    jitter: float = 0.5  # share of each backoff that is random
    deadline_s: float = 300.0


class Delivery(msgspec.Struct, frozen=True, kw_only=True):
    """The outcome of one alert on one sink."""

    key: str
    sink: str
    ok: bool
    attempts: int
    waits_s: list[float]
    error: str | None = None
    #: The alert's title, so a failure report says which alert was lost.
    title: str | None = None

    def describe(self) -> str:
        """One line for the terminal or a log: what was (not) delivered, where, and why.

        Examples
        --------
        >>> Delivery(key="k", sink="webhook:json", ok=False, attempts=3, waits_s=[1.0, 2.0],
        ...          error="ExchangeUnavailable: webhook:json: HTTP 500", title="BTC flush").describe()
        "alert 'BTC flush' NOT delivered to webhook:json after 3 attempts: ExchangeUnavailable: webhook:json: HTTP 500"
        """  # noqa: E501
        what = f"alert {self.title or self.key!r}"
        tries = f"{self.attempts} attempt{'s' if self.attempts != 1 else ''}"
        if self.ok:
            return f"{what} delivered to {self.sink} after {tries}"
        return f"{what} NOT delivered to {self.sink} after {tries}: {self.error}"


def should_retry(exc: BaseException) -> bool | float:
    """Return the seconds to wait at least (rate limited), True (transient) or False."""
    if isinstance(exc, RateLimited) and exc.retry_after is not None:
        return exc.retry_after
    return isinstance(exc, TransientError)


def backoff_s(policy: RetryPolicy, attempt: int, rng: random.Random) -> float:
    """Wait before retry number ``attempt`` (0-based), jittered.

    Examples
    --------
    >>> p = RetryPolicy(base_s=1.0, max_s=8.0, jitter=0.0)
    >>> [backoff_s(p, n, random.Random(0)) for n in range(5)]
    [1.0, 2.0, 4.0, 8.0, 8.0]
    """
    cap = min(policy.max_s, policy.base_s * 2.0**attempt)
    return cap * (1.0 - policy.jitter) + rng.uniform(0.0, cap * policy.jitter)


async def send_with_retry(
    sink: AlertSink,
    alert: Alert,
    policy: RetryPolicy,
    *,
    sleep: Sleep = asyncio.sleep,
    rng: random.Random | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> Delivery:
    """Deliver ``alert`` to ``sink``, retrying what :func:`should_retry` allows."""
    rng = rng or random.Random()
    start = clock()
    waits: list[float] = []
    for attempt in range(policy.attempts):
        try:
            await sink.send(alert)
        except Exception as exc:  # any failure ends up in the Delivery
            verdict = should_retry(exc)
            wait = backoff_s(policy, attempt, rng)
            if not isinstance(verdict, bool):
                wait = max(wait, verdict)
            last = attempt + 1 == policy.attempts
            late = clock() - start + wait > policy.deadline_s
            if verdict is False or last or late:
                error = f"{type(exc).__name__}: {exc}"
                return Delivery(
                    key=alert.key,
                    sink=sink.name,
                    ok=False,
                    attempts=attempt + 1,
                    waits_s=waits,
                    error=error,
                    title=alert.title,
                )
            waits.append(wait)
            await sleep(wait)
        else:
            return Delivery(
                key=alert.key,
                sink=sink.name,
                ok=True,
                attempts=attempt + 1,
                waits_s=waits,
                title=alert.title,
            )
    raise AssertionError("unreachable: the loop returns on its last attempt")


def log_failure(delivery: Delivery) -> None:
    """Report a failed delivery as a warning (the default ``on_failure``)."""
    log.warning("%s", delivery.describe())


def sink_policy(sink: AlertSink) -> RetryPolicy:
    """The retry policy a sink's own configuration asks for (the default for other sinks)."""
    if isinstance(sink, Webhook):
        cfg = sink.cfg
        return RetryPolicy(attempts=cfg.attempts, base_s=cfg.backoff_s, max_s=cfg.max_backoff_s)
    return RetryPolicy()


class Dispatcher:
    """Fan alerts out to sinks once per key and window (see the module docstring).

    ``on_failure`` is called once with each delivery that failed for good (after its
    retries); the same deliveries accumulate in :attr:`failures`, so a command can print
    them as they happen and still end with a non-zero status if any were lost.
    """

    def __init__(
        self,
        sinks: Iterable[AlertSink],
        *,
        policies: Mapping[str, RetryPolicy] | None = None,
        repeat_after_s: Mapping[str, float] | None = None,
        default_repeat_s: float = 900.0,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        rng: random.Random | None = None,
        on_failure: Callable[[Delivery], object] | None = log_failure,
    ) -> None:
        self.sinks = list(sinks)
        self.policies = dict(policies or {})
        self.repeat_after_s = dict(repeat_after_s or {})
        self.default_repeat_s = default_repeat_s
        self._sleep, self._clock, self._rng = sleep, clock, rng or random.Random()
        self._sent: dict[str, float] = {}
        self.deliveries: list[Delivery] = []
        #: Every delivery that failed for good, in the order they ended.
        self.failures: list[Delivery] = []
        self._on_failure = on_failure

    def _fresh(self, alert: Alert, now: float) -> bool:
        last = self._sent.get(alert.key)
        window = self.repeat_after_s.get(alert.rule, self.default_repeat_s)
        return last is None or now - last >= window

    def _prune(self, now: float) -> None:
        horizon = max([self.default_repeat_s, *self.repeat_after_s.values()])
        for key in [k for k, t in self._sent.items() if now - t >= horizon]:
            del self._sent[key]

    async def dispatch(self, alerts: Iterable[Alert]) -> list[Delivery]:
        """Send every alert not sent within its window to every sink, concurrently."""
        now = self._clock()
        self._prune(now)
        todo = []
        for alert in alerts:
            if self._fresh(alert, now):
                self._sent[alert.key] = now  # claim before awaiting: racing callers skip it
                todo.append(alert)
        results = await asyncio.gather(*(self._one(a) for a in todo))
        out = [d for batch in results for d in batch]
        self.deliveries += out
        for d in out:
            if not d.ok:
                self.failures.append(d)
                if self._on_failure is not None:
                    self._on_failure(d)
        return out

    async def _one(self, alert: Alert) -> list[Delivery]:
        jobs = [
            send_with_retry(
                sink,
                alert,
                self.policies.get(sink.name) or sink_policy(sink),
                sleep=self._sleep,
                rng=self._rng,
                clock=self._clock,
            )
            for sink in self.sinks
        ]
        done = list(await asyncio.gather(*jobs))
        if done and not any(d.ok for d in done):
            self._sent.pop(alert.key, None)  # nobody got it: let the next evaluation retry
        return done
