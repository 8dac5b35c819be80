"""Score the estimated liquidation map against realized liquidations (``backtest-map``).

The map is :mod:`flushwatch.analytics.liqmap`, run once over the whole series; at the start
of every bar it is asked what that bar's range predicts, so the prediction for bar t uses
bars before t only; the scores are :mod:`flushwatch.analytics.backtest_map`. The price grid
is fixed from the first bar's open (± ``range_pct``), never from later prices, so it leaks
nothing from the future.

Memory does not grow with bars × bins (issue 16): :func:`stream_predictions` answers each
bar while the map is built (:class:`~flushwatch.analytics.liqmap.RangeSink`, a window of
rows at a time) and scores each day's levels on the day's own bins as its 00:00 map goes
by. :func:`map_state` + :func:`bar_predictions` (a snapshot per bar) are the dense
reference, equal to the bit and kept for small series and the tests.
"""

from __future__ import annotations

import functools
import math
from typing import TYPE_CHECKING, Any

from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.analytics.backtest_map import BacktestParams, BacktestResult, LevelDay
    from flushwatch.analytics.liqmap import LiqMapParams, LiqMapState
    from flushwatch.analytics.market import F64, MarketSeries

_DAY_NS = 86_400 * 10**9


def causal_edges(first_open: float, n_bins: int, range_pct: float) -> F64:
    """Bin edges from the first bar's open only, so later prices never shape the grid."""
    import numpy as np

    r = range_pct / 100.0
    return np.linspace(first_open * (1.0 - r), first_open * (1.0 + r), n_bins + 1)


def from_first_oi(market: MarketSeries) -> MarketSeries:
    """The market from its first bar with open interest on (causal: known at that bar).

    Before it the map can hold no position, and a grid drawn from a years-older open (ETH's
    2019 price for a 2026 map) would put every later liquidation price in its edge bin.
    """
    import numpy as np

    if market.oi_quote is None:
        raise ConfigError(f"{market.asset}: the store has no open interest: the map needs it")
    have = np.flatnonzero(np.isfinite(market.oi_quote))
    if have.size == 0:
        raise ConfigError(f"{market.asset}: the store has no open interest: the map needs it")
    first = int(have[0])
    return market if first == 0 else market.slice(first, market.n)


def _fill_gaps(market: MarketSeries) -> tuple[F64, F64, F64, F64]:
    """Bars missing from the source become flat bars at the last known close (causal).

    They are never scored; the fill keeps the map's bar loop on a continuous price path
    (no consumption or entries are attributed to a bar the source does not have).
    """
    import numpy as np

    c = market.close
    idx = np.where(np.isfinite(c), np.arange(market.n), -1)
    last = np.maximum.accumulate(idx)
    cf = np.where(last >= 0, c[np.maximum(last, 0)], np.nan)
    gap = ~(np.isfinite(market.open) & np.isfinite(market.high) & np.isfinite(market.low))
    gap |= ~np.isfinite(c)
    o, h, lo = (np.where(gap, cf, x) for x in (market.open, market.high, market.low))
    return o, h, lo, cf


def map_state(market: MarketSeries, params: LiqMapParams | None = None) -> LiqMapState:
    """The map over the whole series with a snapshot at the start of every bar (causal)."""
    import numpy as np

    from flushwatch.analytics.liqmap import LiqMapParams, build_map
    from flushwatch.analytics.liqmap_params import tiers_for

    p = params or LiqMapParams()
    if market.oi_quote is None:
        raise ConfigError(f"{market.asset}: the store has no open interest: the map needs it")
    finite = np.flatnonzero(np.isfinite(market.open))
    if finite.size == 0:
        raise ConfigError(f"{market.asset}: no bar with a price")
    edges = causal_edges(float(market.open[finite[0]]), p.n_bins, p.range_pct)
    o, h, lo, c = _fill_gaps(market)
    return build_map(
        market.ts,
        o,
        h,
        lo,
        c,
        market.oi_quote,
        p,
        tiers_for(market.asset, market.sources.get("oi")),
        edges=edges,
        snapshot_every=1,
    )


def bar_predictions(market: MarketSeries, state: LiqMapState) -> tuple[F64, F64]:
    """Map-predicted long USD in ``[low, open]`` and short USD in ``[open, high]`` per bar."""
    import numpy as np

    from flushwatch.analytics.liqmap import predicted_in_range

    ok, ranges = _bar_ranges(market)
    pl = np.asarray(predicted_in_range(state, *ranges["long"], "long"), np.float64)
    ps = np.asarray(predicted_in_range(state, *ranges["short"], "short"), np.float64)
    return np.where(ok, pl, np.nan), np.where(ok, ps, np.nan)


class _Days:
    """Each scored day's bars for the level capture (bucket ranges, opens) and its first bar."""

    def __init__(self, market: MarketSeries, first: int, edges: F64) -> None:
        import numpy as np

        from flushwatch.analytics.forecast_map import bucket_ranges

        # A bucket longer than a bar sits on the bar where it closes: its USD is spread over
        # the range of all the bars it covers, from the open of its first bar.
        ib = max(1, (market.liq_interval_s or market.step_s) // market.step_s)
        self.low, self.high = bucket_ranges(market.low, market.high, ib)
        self.opens = np.r_[np.full(ib - 1, np.nan), market.open][: market.n]
        self.open = market.open
        self.edges = edges
        starts = np.flatnonzero((market.ts % _DAY_NS == 0) & (np.arange(market.n) >= first))
        self.span = dict(zip(starts.tolist(), [*starts[1:].tolist(), market.n], strict=True))

    def score(self, a: int, density: F64, liq: F64, side: str, q: float) -> LevelDay | None:
        """The level capture of the day starting at bar ``a`` (None: nothing to score)."""
        import numpy as np

        from flushwatch.analytics.backtest_map import level_capture

        sl = slice(a, self.span[a])
        ok = np.isfinite(self.opens[sl]) & np.isfinite(self.low[sl])
        ok &= np.isfinite(self.high[sl]) & np.isfinite(liq[sl])
        if not ok.any() or not np.isfinite(self.open[a]):
            return None
        o, h, lw, lq = (x[sl][ok] for x in (self.opens, self.high, self.low, liq))
        return level_capture(self.edges, density, o, h, lw, lq, side=side, q=q)


def _level_days(
    market: MarketSeries, state: LiqMapState, first: int, liq: F64, side: str, q: float
) -> list[LevelDay]:
    """Dense reference: each day's level capture from the per-bar snapshots."""
    snaps = state.snap_long if side == "long" else state.snap_short
    if snaps is None:
        return []
    days = _Days(market, first, state.edges)
    out = [days.score(a, snaps[a], liq, side, q) for a in days.span]
    return [d for d in out if d is not None]


def _bar_ranges(market: MarketSeries) -> tuple[Any, dict[str, tuple[F64, F64]]]:
    """Per bar: valid, and the ranges asked of the map: long ``[low, open]``, short ``[open,
    high]`` (a bar without a full price asks a dummy range, answered NaN)."""
    import numpy as np

    ok = np.isfinite(market.open) & np.isfinite(market.high) & np.isfinite(market.low)
    o = np.where(ok, market.open, 1.0)
    lo = np.where(ok, np.minimum(market.low, o), 1.0)
    hi = np.where(ok, np.maximum(market.high, o), 1.0)
    return ok, {"long": (lo, o), "short": (o, hi)}


def stream_predictions(
    market: MarketSeries,
    params: LiqMapParams | None = None,
    *,
    levels: dict[str, F64] | None = None,
    first: int = 0,
    q: float = 0.25,
    window: int = 1024,
) -> tuple[F64, F64, dict[str, list[LevelDay]]]:
    """:func:`bar_predictions` of :func:`map_state`, and each side's level days, streamed.

    ``levels`` (side → realized USD per bar) asks for the level capture of every day from
    bar ``first`` on, scored as the day's 00:00 map goes by. Nothing of size bars × bins is
    held: the map is shown to the sinks bar by bar (``window`` rows at a time).
    """
    import numpy as np

    from flushwatch.analytics.liqmap import LiqMapParams, RangeSink, build_map
    from flushwatch.analytics.liqmap_params import tiers_for

    p = params or LiqMapParams()
    if market.oi_quote is None:
        raise ConfigError(f"{market.asset}: the store has no open interest: the map needs it")
    finite = np.flatnonzero(np.isfinite(market.open))
    if finite.size == 0:
        raise ConfigError(f"{market.asset}: no bar with a price")
    edges = causal_edges(float(market.open[finite[0]]), p.n_bins, p.range_pct)
    ok, ranges = _bar_ranges(market)
    ranges_sink = RangeSink(edges, ranges, window)  # type: ignore[arg-type]
    days = _Days(market, first, edges)
    found: dict[str, list[LevelDay]] = {side: [] for side in levels or {}}

    def sink(t: int, long: F64, short: F64, g: float) -> None:
        ranges_sink(t, long, short, g)
        if levels and t in days.span:
            for side, row in (("long", long), ("short", short)):
                if side in levels:
                    day = days.score(t, row * g, levels[side], side, q)
                    if day is not None:
                        found[side].append(day)

    o, h, lo, c = _fill_gaps(market)
    build_map(
        market.ts,
        o,
        h,
        lo,
        c,
        market.oi_quote,
        p,
        tiers_for(market.asset, market.sources.get("oi")),
        edges=edges,
        sink=sink,
        accounting=False,
    )
    ranges_sink.finish()
    pl, ps = ranges_sink.out["long"], ranges_sink.out["short"]
    return np.where(ok, pl, np.nan), np.where(ok, ps, np.nan), found


def backtest_market(
    market: MarketSeries,
    params: BacktestParams | None = None,
    map_params: LiqMapParams | None = None,
) -> tuple[BacktestResult, dict[str, F64]]:
    """Score the map on one market; returns the table and the per-bar arrays for the chart."""
    import numpy as np

    from flushwatch.analytics.backtest_map import (
        BacktestParams,
        BacktestResult,
        level_summary,
        naive_baseline,
        score_side,
    )
    from flushwatch.analytics.liqmap_params import tiers_for
    from flushwatch.domain.time import iso

    bt = params or BacktestParams()
    market = from_first_oi(market)
    first = min(market.n, math.ceil(bt.warmup_hours * 3600 / market.step_s))
    real = {"long": market.liq_long, "short": market.liq_short}
    has_liq = all(r is not None and float(np.nansum(r)) > 0 for r in real.values())
    liq = {side: np.asarray(r, np.float64) for side, r in real.items() if r is not None}
    map_l, map_s, level_days = stream_predictions(
        market, map_params, levels=liq if has_liq else None, first=first, q=bt.quantile
    )
    assert market.oi_quote is not None  # stream_predictions checked it
    oi_prev = np.r_[np.nan, market.oi_quote[:-1]]
    base_l, base_s = naive_baseline(market.open, market.high, market.low, oi_prev)
    keep = np.arange(market.n) >= first
    block = max(1, round(bt.block_hours * 3600 / market.step_s))
    score = functools.partial(
        score_side, q=bt.quantile, block=block, n_boot=bt.n_boot, seed=bt.seed
    )
    series: dict[str, F64] = {}
    notes = [
        f"first {first} bars not scored (warm-up: the map knows no position opened before the "
        "window)",
        "map: estimated; liquidation prices at the tiers of "
        f"{tiers_for(market.asset, market.sources.get('oi')).source}; long/short "
        "split 50/50 (no taker flow in the series)",
    ]
    sides, levels = [], []
    proxy = None
    if has_liq:
        for side, mp, bp in (("long", map_l, base_l), ("short", map_s, base_s)):
            r = np.asarray(real[side], np.float64)
            rk = np.where(keep, r, np.nan)
            sides.append(score(mp, bp, rk, side=side))
            series |= {f"map_{side}": mp, f"base_{side}": bp, f"real_{side}": rk}
            days = level_days[side]
            levels.append(level_summary(days, side=side, q=bt.quantile, n_boot=bt.n_boot))
        if market.liq_lower_bound:
            notes.append("realized liquidations are lower bounds (throttled feeds)")
        if market.liq_interval_s and market.liq_interval_s > market.step_s:
            notes.append(
                f"liquidations come in {market.liq_interval_s / 3600:g} h buckets, longer than "
                "the bars: the hourly scores set each bucket against the range of the bar where "
                "it closes (read them with care); the level scores spread it over the range of "
                "the bars it covers"
            )
    else:
        notes.append(
            "no realized liquidations for this market (e.g. Binance has no public liquidation "
            "history; its 5-minute export writes zeros): nothing is scored against liquidations"
        )
        drop = np.maximum(oi_prev - market.oi_quote, 0.0)
        proxy = score(
            map_l + map_s,
            base_l + base_s,
            np.where(keep, drop, np.nan),
            side="oi_drop_proxy",
        )
        notes.append(
            "proxy shown instead: map (long + short in range) vs the bar's open-interest "
            "decrease, which mixes liquidations with voluntary closes; not a liquidation score"
        )
    result = BacktestResult(
        asset=market.asset,
        step_s=market.step_s,
        start=iso(int(market.ts[first])) if first < market.n else "",
        end=iso(int(market.ts[-1]) + market.step_s * 10**9),
        sources=market.sources,
        liquidations_available=has_liq,
        notes=notes,
        sides=sides,
        levels=levels,
        oi_drop_proxy=proxy,
    )
    return result, series
