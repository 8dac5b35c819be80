"""Integer-nanosecond UTC time: the only timestamp representation inside flushwatch.

Venues send seconds, milliseconds or microseconds (Binance Vision spot files switched from ms
to µs on 2025-01-01); converting at the edge with an explicit unit, and checking that the
result is plausible, is how mixed units are caught instead of silently shifted by 1000×.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

NS_PER_S = 1_000_000_000
NS_PER_MS = 1_000_000
NS_PER_US = 1_000

Unit = Literal["s", "ms", "us", "ns"]
_FACTOR: dict[str, int] = {"s": NS_PER_S, "ms": NS_PER_MS, "us": NS_PER_US, "ns": 1}

#: Plausible range for market-data event times: 2010-01-01 .. 2100-01-01 UTC.
MIN_TS_NS = 1_262_304_000 * NS_PER_S
MAX_TS_NS = 4_102_444_800 * NS_PER_S


#: Settled funding happens on the minute (Binance on the hour) but venues stamp it a few ms
#: late, differently per source: Binance's ``fundingTime`` 1621036800022 (…00:00:00.022) is the
#: 00:00 settlement that freqtrade files stamp …00:00:00.017 or …00:00:00.000 (issue 14).
FUNDING_GRID_NS = 60 * NS_PER_S
#: Snap a settled funding time to the minute only when it is this close: a time further off is
#: not jitter and is kept as sent.
FUNDING_JITTER_NS = 5 * NS_PER_S


def funding_instant(ts_ns: int) -> int:
    """Return the funding instant a settled funding time with jitter stands for.

    Examples
    --------
    >>> funding_instant(1_621_036_800_022_000_000)  # 2021-05-15T00:00:00.022Z
    1621036800000000000
    >>> funding_instant(1_621_036_830_000_000_000)  # 30 s off the minute: not jitter
    1621036830000000000
    """
    snapped = (ts_ns + FUNDING_GRID_NS // 2) // FUNDING_GRID_NS * FUNDING_GRID_NS
    return snapped if abs(ts_ns - snapped) <= FUNDING_JITTER_NS else ts_ns


def to_ns(value: int | float, unit: Unit) -> int:
    """Convert an epoch number in ``unit`` to integer nanoseconds.

    Examples
    --------
    >>> to_ns(1698364800000, "ms")
    1698364800000000000
    """
    if unit == "s" and isinstance(value, float):
        return round(value * NS_PER_S)
    return int(value) * _FACTOR[unit]


def guess_epoch_unit(value: int) -> Unit | None:
    """Return the unit that makes ``value`` a plausible 2010..2100 epoch, or None.

    Examples
    --------
    >>> guess_epoch_unit(1735689600000000)
    'us'
    """
    units: tuple[Unit, ...] = ("s", "ms", "us", "ns")
    for unit in units:
        if MIN_TS_NS <= value * _FACTOR[unit] < MAX_TS_NS:
            return unit
    return None


def iso(ts_ns: int) -> str:
    """Format nanoseconds as an ISO-8601 UTC string with a ``Z`` suffix.

    Examples
    --------
    >>> iso(1698364800000000000)
    '2023-10-27T00:00:00Z'
    """
    dt = datetime.fromtimestamp(ts_ns // NS_PER_S, tz=UTC)
    frac = ts_ns % NS_PER_S
    text = dt.strftime("%Y-%m-%dT%H:%M:%S")
    if frac:
        text += f".{frac:09d}".rstrip("0")
    return text + "Z"


def parse_iso(text: str) -> int:
    """Parse an ISO-8601 timestamp into UTC nanoseconds; naive input is taken as UTC.

    Examples
    --------
    >>> parse_iso("2021-11-17T01:00:00.000Z")
    1637110800000000000
    """
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    delta = dt - datetime(1970, 1, 1, tzinfo=UTC)
    return (delta.days * 86_400 + delta.seconds) * NS_PER_S + delta.microseconds * NS_PER_US
