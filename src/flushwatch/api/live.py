"""What ``flushwatch watch`` asks of the store: history to prime with, the map near price.

The live monitor runs the report's kernels on the live bars (``live/state.py``); what it needs
from the store beforehand is composed here, so the terminal front end holds no analytics.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flushwatch.analytics.cascade_gain import GainProfile
    from flushwatch.analytics.market import MarketSeries
    from flushwatch.api.cascade import MapArrays
    from flushwatch.store.asof import Reader


def history(
    store: Reader, asset: str, venue: str | None, start: int, end: int, bar_s: int
) -> MarketSeries | None:
    """The store's series for ``asset`` in ``[start, end)``: the venue's own bars first."""
    from flushwatch.errors import InputError
    from flushwatch.report.assemble import assemble

    for exchange in dict.fromkeys((venue, None)):
        try:
            return assemble(
                store, asset, exchange=exchange, start_ns=start, end_ns=end, step_s=bar_s
            )
        except InputError:
            continue
    return None


def map_and_gains(store: Reader, asset: str) -> tuple[MapArrays, list[GainProfile]]:
    """The estimated map after the store's last bar and the cascade gain down and up.

    Raises a :class:`~flushwatch.errors.FlushwatchError` when the store cannot support a map
    (no price, no open interest).
    """
    from flushwatch.analytics.cascade import cascade_gain, forced_flow
    from flushwatch.api.cascade import depth_for, liq_map
    from flushwatch.report.assemble import assemble

    m = assemble(store, asset)
    mp = liq_map(m, m.n)
    at = int(m.ts[-1])
    gains = [
        cascade_gain(
            forced_flow("down", mp.price, mp.edges, mp.long),
            depth_for(store, m, m.n, at, "bid", mp.price),
        ),
        cascade_gain(
            forced_flow("up", mp.price, mp.edges, mp.short),
            depth_for(store, m, m.n, at, "ask", mp.price),
        ),
    ]
    return mp, gains
