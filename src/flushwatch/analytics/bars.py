"""Durations in hours (how parameters are written) to whole bars (how kernels index)."""

from __future__ import annotations


def hours_to_bars(hours: float, step_s: int, *, at_least: int = 0) -> int:
    """Convert a duration in hours to whole bars, never fewer than ``at_least``.

    Examples
    --------
    >>> hours_to_bars(168, 3600), hours_to_bars(1, 300), hours_to_bars(0.1, 3600, at_least=1)
    (168, 12, 1)
    """
    return max(at_least, round(hours * 3600.0 / step_s))
