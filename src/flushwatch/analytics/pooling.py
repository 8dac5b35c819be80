"""Which assets a flush's odds learn from: the asset and its K most-traded peers (issue 16).

Pooling every asset of the store makes one report cost as much as the whole universe (every
other asset assembled and judged); the pool is therefore bounded. The ranking is by quote
volume over the 30 days of closed bars before the start of the judged time's UTC month: it is
knowable at that time, and it changes at most once a month, so the scorecard judges a month's
flushes of one asset on one pool (and the report at the judging time uses the same one).
Assets with no traded volume in that window are not ranked (a mark-price-only asset, or one
not listed yet); ties go by name.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime

#: Days of closed bars before the ranking time whose quote volume ranks the assets.
VOLUME_DAYS = 30
DAY_NS = 86_400 * 10**9


def ranking_time(ts: int) -> int:
    """Start of the UTC month holding ``ts`` (ns): the pool is ranked as of then.

    Examples
    --------
    >>> from flushwatch.domain.time import iso, parse_iso
    >>> iso(ranking_time(parse_iso("2025-10-10T21:15Z")))
    '2025-10-01T00:00:00Z'
    """
    d = datetime.fromtimestamp(ts // 10**9, tz=UTC)
    return int(datetime(d.year, d.month, 1, tzinfo=UTC).timestamp()) * 10**9


def volume_window(ts: int) -> tuple[int, int]:
    """``[start, end)`` (ns) of the bars whose quote volume ranks the pool judged at ``ts``."""
    end = ranking_time(ts)
    return end - VOLUME_DAYS * DAY_NS, end


def choose_pool(volumes: Mapping[str, float], asset: str, k: int) -> tuple[str, ...]:
    """``asset`` plus the ``k`` other assets with the largest positive volume, sorted by name.

    Examples
    --------
    >>> choose_pool({"BTC": 9.0, "ETH": 5.0, "SOL": 5.0, "XRP": 0.0, "DOGE": 1.0}, "DOGE", 2)
    ('BTC', 'DOGE', 'ETH')
    """
    others = [a for a, v in volumes.items() if a != asset and v > 0]
    others.sort(key=lambda a: (-volumes[a], a))
    return tuple(sorted({asset, *others[:k]}))


def rule_text(k: int) -> str:
    """The pool rule in one sentence, for the report's notes and the scorecard's."""
    return (
        f"odds pooled over the asset and the {k} other assets with the largest quote volume "
        f"in the {VOLUME_DAYS} days of closed bars before the start of the judged time's UTC "
        "month (ties by name; assets without traded volume then are left out)"
    )
