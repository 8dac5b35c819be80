"""Key levels for the live checklist: the report's level kernel on the live ring.

The offline report (``report/build.py``) gives the checklist three level maps: the asset's
own levels as of its focus flush, and BTC's and ETH's levels as of the *same* flush window,
found on their own series (their flush extremes are their own prices in that window:
:func:`~flushwatch.analytics.levels.reference_event`). The live state composes exactly
that, on closed bars only; these helpers mirror the report's composition without importing
the report package (which pulls in the store). A test checks the two stay equal.
"""

from __future__ import annotations

from flushwatch.analytics.levels import LevelParams, event_indices, key_levels, reference_event
from flushwatch.analytics.market import MarketSeries
from flushwatch.analytics.results import FlushEvent, KeyLevel

#: The markets every checklist reads levels of (as the report's ``REFERENCE_ASSETS``).
REFERENCE_ASSETS = ("BTC", "ETH")


def levels_for(m: MarketSeries, event: FlushEvent | None, p: LevelParams) -> list[KeyLevel]:
    """Return the key levels of ``m`` as of the event's last bar (or the last bar, no event).

    The same call the report makes, so live and offline levels agree on the same bars.
    """
    if m.n == 0:
        return []
    if event is None:
        return key_levels(m, m.n - 1, p)
    _, end = event_indices(m, event)
    return key_levels(m, end, p, event)


def reference_levels(ref: MarketSeries, focus: FlushEvent, p: LevelParams) -> list[KeyLevel]:
    """Return a reference market's (BTC's, ETH's) levels as of another market's focus flush."""
    return levels_for(ref, reference_event(ref, focus), p)


def nearest_levels(
    levels: list[KeyLevel], price: float | None, per_side: int = 2
) -> tuple[list[KeyLevel], list[KeyLevel]]:
    """Return the ``per_side`` levels nearest below ``price`` and nearest above it.

    Sides are by the current price, not by each level's role (fixed when it was found), so a
    lost support shows above price with its state saying so. Below: highest first; above:
    lowest first.
    """
    if price is None:
        return [], []
    below = sorted((lv for lv in levels if lv.price <= price), key=lambda lv: -lv.price)
    above = sorted((lv for lv in levels if lv.price > price), key=lambda lv: lv.price)
    return below[:per_side], above[:per_side]


__all__ = ["REFERENCE_ASSETS", "levels_for", "nearest_levels", "reference_levels"]
