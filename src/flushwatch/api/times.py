"""Times as the API accepts them (datetimes, ISO strings, integer ns) → integer ns UTC."""

from __future__ import annotations

from datetime import UTC, datetime

from flushwatch.domain.time import MAX_TS_NS, MIN_TS_NS, iso, parse_iso
from flushwatch.errors import ConfigError

#: What every ``at``/``start``/``end`` argument accepts.
TimeLike = datetime | str | int


def to_ns(value: TimeLike | None, name: str) -> int | None:
    """``value`` as integer nanoseconds UTC; a naive datetime or ISO string is read as UTC.

    Examples
    --------
    >>> to_ns("2026-02-05T20:00", "at"), to_ns(None, "at")
    (1770321600000000000, None)
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise ConfigError(f"{name}: a time is a datetime, an ISO string or int ns, not a bool")
    if isinstance(value, datetime):
        aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
        delta = aware - datetime(1970, 1, 1, tzinfo=UTC)
        ns = (delta.days * 86_400 + delta.seconds) * 10**9 + delta.microseconds * 1000
    elif isinstance(value, int):
        ns = value
    elif isinstance(value, str):
        try:
            ns = parse_iso(value)
        except ValueError:
            raise ConfigError(
                f"{name} {value!r}: use an ISO date or time, e.g. 2026-02-05 or 2026-02-05T20:00"
            ) from None
    else:
        raise ConfigError(f"{name}: expected a datetime, an ISO string or int ns, got {value!r}")
    if not MIN_TS_NS <= ns < MAX_TS_NS:
        raise ConfigError(f"{name} {value!r}: not a time between 2010 and 2100 (ns since 1970)")
    return ns


def window(
    start: TimeLike | None, end: TimeLike | None, at: TimeLike | None
) -> tuple[int | None, int | None]:
    """``(start_ns, as_of_ns)``: ``end`` is an as-of bound too; one later than ``at`` is refused."""
    start_ns, end_ns, at_ns = to_ns(start, "start"), to_ns(end, "end"), to_ns(at, "at")
    if at_ns is not None and end_ns is not None and end_ns > at_ns:
        raise ConfigError(
            f"end {iso(end_ns)} is later than at {iso(at_ns)}: as of {iso(at_ns)} nothing "
            "after it is known (drop --end, or move --at)"
        )
    as_of = at_ns if at_ns is not None else end_ns
    if start_ns is not None and as_of is not None and start_ns >= as_of:
        raise ConfigError(f"start {iso(start_ns)} is not before the end {iso(as_of)}")
    return start_ns, as_of
