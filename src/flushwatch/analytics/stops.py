"""Estimated stop-loss clusters at key levels: a **heuristic**, kept apart from liquidations.

Nobody publishes where stop orders rest. Traders are taught to put them just beyond the levels
everybody watches, so flushwatch places a documented share of open interest there:

* levels: :func:`flushwatch.analytics.levels.key_levels` as known at ``asof_index`` (round
  numbers by price magnitude, prior highs and lows, swing pivots, volume nodes);
* longs' stops sit ``offset_pct`` % *below* each support, shorts' stops ``offset_pct`` %
  *above* each resistance (a stop is placed beyond the level, not on it);
* mass: ``stop_oi_pct`` % of the open interest at ``asof_index``, half for longs' stops and
  half for shorts' stops, shared among the levels of that side within ``max_distance_pct`` %
  of price in proportion to a weight per kind: prior high/low and flush extremes 3, swing
  pivots and major round numbers 2, minor round numbers and volume nodes 1.

Every :class:`StopCluster` carries ``heuristic=True``; never add it to liquidation mass
without saying so (the cascade simulator takes the two as separate inputs).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

from flushwatch.analytics.levels import LevelParams, is_key_level, key_levels
from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.results import KeyLevel

__all__ = ["StopCluster", "StopParams", "stop_clusters", "stops_on_grid"]

_KIND_WEIGHT = {
    "flush_low": 3.0,
    "flush_high": 3.0,
    "prior_high": 3.0,
    "prior_low": 3.0,
    "swing_high": 2.0,
    "swing_low": 2.0,
    "volume_node": 1.0,
}
_ROUND_MAJOR, _ROUND_MINOR = 2.0, 1.0


class StopParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """The stop-cluster heuristic's assumptions (see the module docstring)."""

    stop_oi_pct: Annotated[
        float,
        msgspec.Meta(ge=0, le=100, description="Share of OI assumed to rest as stops at levels."),
    ] = 5.0
    offset_pct: Annotated[
        float, msgspec.Meta(ge=0, description="Stops sit this % beyond the level, not on it.")
    ] = 0.1
    max_distance_pct: Annotated[
        float, msgspec.Meta(gt=0, description="Levels farther than this % from price are ignored.")
    ] = 15.0


class StopCluster(msgspec.Struct, frozen=True, kw_only=True):
    """Estimated stop-loss notional just beyond one key level (a heuristic, not a model)."""

    side: Literal["long_stops", "short_stops"]
    level_price: float
    stop_price: float
    kind: str
    notional: float | None
    distance_pct: float
    heuristic: bool = True


def _weight(level: KeyLevel, p: LevelParams) -> float:
    if level.kind == "round_number":
        return _ROUND_MAJOR if is_key_level(level, p.round_major_pct) else _ROUND_MINOR
    return _KIND_WEIGHT.get(level.kind, 1.0)


def _oi_at(m: MarketSeries, idx: int) -> float | None:
    if m.oi_quote is None:
        return None
    oi = m.oi_quote[: idx + 1]
    ok = np.flatnonzero(np.isfinite(oi))
    return float(oi[ok[-1]]) if ok.size else None


def stop_clusters(
    m: MarketSeries, asof_index: int, p: StopParams, levels: LevelParams
) -> list[StopCluster]:
    """Place the heuristic stop mass at the key levels known at ``asof_index``; nearest first.

    ``notional`` is None when the market has no open interest (the levels are still shown).
    """
    idx = min(max(asof_index, 0), m.n - 1)
    closes = m.close[: idx + 1][np.isfinite(m.close[: idx + 1])]
    if closes.size == 0:
        return []
    price = float(closes[-1])
    oi = _oi_at(m, idx)
    chosen: list[tuple[KeyLevel, float, bool]] = []
    for lv in key_levels(m, idx, levels):
        dist = abs(lv.price - price) / price * 100.0
        if dist <= p.max_distance_pct and lv.price != price:
            chosen.append((lv, _weight(lv, levels), lv.price < price))
    out: list[StopCluster] = []
    for below in (True, False):
        side = [(lv, w) for lv, w, b in chosen if b == below]
        total_w = sum(w for _, w in side)
        pool = None if oi is None else oi * p.stop_oi_pct / 100.0 / 2.0
        for lv, w in side:
            level = float(lv.price)
            stop = level * (1.0 - p.offset_pct / 100.0 if below else 1.0 + p.offset_pct / 100.0)
            out.append(
                StopCluster(
                    side="long_stops" if below else "short_stops",
                    level_price=level,
                    stop_price=stop,
                    kind=lv.kind,
                    notional=None if pool is None else pool * w / total_w,
                    distance_pct=(stop - price) / price * 100.0,
                )
            )
    return sorted(out, key=lambda c: abs(c.distance_pct))


def stops_on_grid(clusters: list[StopCluster], edges: F64) -> tuple[F64, F64]:
    """Bin the heuristic stop mass onto a price grid: (longs' stops, shorts' stops)."""
    nb = edges.shape[0] - 1
    out = (np.zeros(nb), np.zeros(nb))
    for c in clusters:
        if c.notional is None:
            continue
        b = int(np.clip(np.searchsorted(edges, c.stop_price, side="right") - 1, 0, nb - 1))
        out[0 if c.side == "long_stops" else 1][b] += c.notional
    return out
