"""What every venue's REST history plan shares: pages, pagers, and the plan contract.

A backfill of one series is a conversation: the plan names the first request, reads each body
the venue sends back (the only place that knows where the venue's cursor lives) and names the
next request, until the series is complete. A :data:`Pager` is that conversation as a
generator: it yields a :class:`Page`, is sent the body, and returns when done. Plans do no I/O
(the runner in :mod:`flushwatch.live.backfill` fetches, records and retries), so paging is
tested without a network.

Dataset names (the ``--data`` values) are :data:`DATASETS`.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import NamedTuple, Protocol
from urllib.parse import parse_qs, urlsplit

#: Every history dataset a plan may offer, in fetch order.
DATASETS = ("klines", "funding", "open_interest", "long_short_ratio", "liquidations")

Params = dict[str, str | int]


class Page(NamedTuple):
    """One GET of a venue path with its query."""

    path: str
    params: Params


#: Yields the next page, is sent that page's body, returns when the series is complete.
#: A body that is not the documented shape raises :class:`ValueError` naming the field.
Pager = Generator[Page, str, None]


class HistoryPlan(Protocol):
    """How one venue's history is asked for (one implementation per venue package)."""

    #: ccxt exchange id.
    exchange: str
    #: The datasets this venue serves, a subset of :data:`DATASETS`.
    datasets: tuple[str, ...]

    def prelude(self, symbol: str) -> list[Page]:
        """Requests made (and recorded) before any history: the contract terms."""
        ...

    def pager(self, dataset: str, symbol: str, start_ms: int, end_ms: int) -> Pager:
        """The pages of ``dataset`` for ``symbol`` over ``[start_ms, end_ms)``."""
        ...


def query(url: str, name: str) -> str:
    """The value of ``?name=`` in ``url``; ValueError when absent (the body did not say)."""
    value = (parse_qs(urlsplit(url).query).get(name) or [""])[0]
    if not value:
        raise ValueError(f"{url}: no ?{name}= in the URL (the body does not name it)")
    return value


def spacing_hours(times_ms: list[int]) -> list[float | None]:
    """Funding interval per settlement: the whole hours since the previous one (the first
    takes the next one's; a lone settlement is None rather than a guessed 8 h).

    Examples
    --------
    >>> spacing_hours([0, 28_800_000, 43_200_000])
    [8.0, 8.0, 4.0]
    >>> spacing_hours([5])
    [None]
    """
    order = sorted(times_ms)
    gaps: dict[int, float | None] = {}
    for i, t in enumerate(order):
        pair = (order[i - 1], t) if i > 0 else (t, order[i + 1]) if len(order) > 1 else None
        hours = round((pair[1] - pair[0]) / 3_600_000) if pair else 0
        gaps.setdefault(t, float(hours) if hours > 0 else None)
    return [gaps[t] for t in times_ms]
