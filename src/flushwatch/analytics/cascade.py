"""The cascade simulator: one shock, a curve of shocks, and Monte Carlo over both.

The walk itself (forced liquidations and stops crossing the book step by step) is in
:mod:`flushwatch.analytics.cascade_core`; the local cascade gain in
:mod:`flushwatch.analytics.cascade_gain`. Everything rests on an *estimated* liquidation map
and, without a stored book, on a modelled depth: every result carries ``estimate = True``.
"""

from __future__ import annotations

from typing import Annotated

import msgspec
import numpy as np

from flushwatch.analytics.cascade_core import (
    CascadeParams,
    Direction,
    ForcedFlow,
    PathLog,
    RunState,
    forced_flow,
    run_batch,
)
from flushwatch.analytics.cascade_gain import GainBand, GainProfile, cascade_gain
from flushwatch.analytics.depth import DepthCurve
from flushwatch.analytics.market import F64


class CascadePath(msgspec.Struct, frozen=True, kw_only=True):
    """Price and cumulative executed flow after each step (step 0 = the shock alone)."""

    price: F64
    move_pct: F64
    liquidated_usd: F64
    stops_usd: F64
    flow_usd: F64


class TriggerLevel(msgspec.Struct, frozen=True, kw_only=True):
    """A map bin whose forced mass the cascade set off (all of it, or the part crossed)."""

    price_from: float
    price_to: float
    liquidated_usd: float
    stops_usd: float


class CascadeResult(msgspec.Struct, frozen=True, kw_only=True):
    """One simulated cascade (moves are signed percent: negative = down)."""

    direction: Direction
    start_price: float
    shock_usd: float
    shock_move_pct: float
    final_price: float
    final_move_pct: float
    #: Largest excursion (equals the final move unless the book refills).
    extreme_move_pct: float
    #: Final move over the move of the shock alone.
    amplification: float
    liquidated_usd: float
    stops_usd: float
    steps: int
    converged: bool
    book_exhausted: bool
    unabsorbed_usd: float
    residual_usd: float
    refilled_usd: float
    path: CascadePath
    triggers: list[TriggerLevel]
    gain: GainProfile
    depth_source: str
    depth_note: str
    estimate: bool = True


def _signed(direction: Direction, x: F64 | float) -> F64:
    return np.asarray((-100.0 if direction == "down" else 100.0) * np.asarray(x), dtype=np.float64)


def shock_to_usd(depth: DepthCurve, shock_pct: F64 | float, mult: F64 | float = 1.0) -> F64:
    """USD of market orders that alone move the price ``|shock_pct|`` percent on ``depth``."""
    x = np.abs(np.asarray(shock_pct, dtype=np.float64)) / 100.0
    base = np.interp(x, depth.offsets, depth.notional)
    over = x > depth.max_offset  # beyond the known book: one unit more than the whole curve
    return np.asarray(np.where(over, depth.total * (1 + 1e-9), base) * mult, dtype=np.float64)


def _triggers(flow: ForcedFlow, executed_to: float) -> list[TriggerLevel]:
    lo, hi = flow.offsets[:-1], flow.offsets[1:]
    frac = np.clip((executed_to - lo) / np.where(hi > lo, hi - lo, 1.0), 0.0, 1.0)
    liq, stops = flow.liq_bin * frac, flow.stop_bin * frac
    out = []
    for i in np.flatnonzero((liq + stops) > 0):
        a, b = float(flow.price(lo[i])), float(flow.price(hi[i]))
        out.append(
            TriggerLevel(
                price_from=a, price_to=b, liquidated_usd=float(liq[i]), stops_usd=float(stops[i])
            )
        )
    return out


def simulate(
    direction: Direction,
    start_price: float,
    edges: F64,
    liq_usd: F64,
    stop_usd: F64 | None,
    depth: DepthCurve,
    *,
    shock_pct: float | None = None,
    shock_usd: float | None = None,
    params: CascadeParams | None = None,
) -> CascadeResult:
    """Run one cascade from a shock given as a move (percent) or as USD of market orders.

    ``direction="down"`` uses the long-liquidation map and the bid curve (a long flush),
    ``"up"`` the short-liquidation map and the ask curve (a squeeze).

    Examples
    --------
    >>> import numpy as np
    >>> from flushwatch.analytics.depth import DepthCurve
    >>> book = DepthCurve(side="bid", reference=100.0, offsets=np.array([0.0, 0.2]),
    ...                   notional=np.array([0.0, 2000.0]), source="test", estimate=False)
    >>> edges = np.array([96.0, 97.0, 100.0])  # 60 USD of longs liquidate between 96 and 97
    >>> r = simulate("down", 100.0, edges, np.array([60.0, 0.0]), None, book, shock_pct=3.5)
    >>> round(r.final_move_pct, 6), round(r.amplification, 6), r.liquidated_usd
    (-4.1, 1.171429, 60.0)
    """
    if (shock_pct is None) == (shock_usd is None):
        raise ValueError("give exactly one of shock_pct and shock_usd")
    p = params or CascadeParams()
    flow = forced_flow(direction, start_price, edges, liq_usd, stop_usd)
    q0 = shock_to_usd(depth, shock_pct) if shock_pct is not None else np.array([shock_usd])
    log = PathLog()
    st = run_batch(np.atleast_1d(q0).astype(np.float64), np.ones(1), flow, depth, p, path=log)
    x = np.asarray(log.x)
    shock_move = float(st.shock_move[0])
    final = float(st.final[0])
    return CascadeResult(
        direction=direction,
        start_price=float(start_price),
        shock_usd=float(st.shock_usd[0]),
        shock_move_pct=float(_signed(direction, shock_move)),
        final_price=float(flow.price(final)),
        final_move_pct=float(_signed(direction, final)),
        extreme_move_pct=float(_signed(direction, st.deepest[0])),
        amplification=final / shock_move if shock_move > 0 else float("nan"),
        liquidated_usd=float(st.liquidated_usd[0]),
        stops_usd=float(st.stops_usd[0]),
        steps=int(st.steps[0]),
        converged=bool(st.converged[0]),
        book_exhausted=bool(st.exhausted[0]),
        unabsorbed_usd=float(st.unabsorbed_usd[0]),
        residual_usd=float(st.residual_usd[0]),
        refilled_usd=float(st.refilled_usd[0]),
        path=CascadePath(
            price=flow.price(x),
            move_pct=_signed(direction, x),
            liquidated_usd=np.asarray(log.liq),
            stops_usd=np.asarray(log.stops),
            flow_usd=np.asarray(log.flow),
        ),
        triggers=_triggers(flow, float(st.executed_to[0])),
        gain=cascade_gain(flow, depth, stops=p.include_stops),
        depth_source=depth.source,
        depth_note=depth.note,
    )


def cascade_curve(
    flow: ForcedFlow, depth: DepthCurve, shocks_pct: F64, params: CascadeParams | None = None
) -> RunState:
    """Final state for each shock in ``shocks_pct`` (the shock → final move curve)."""
    q0 = shock_to_usd(depth, shocks_pct)
    return run_batch(q0, np.ones_like(q0), flow, depth, params)


class MonteCarloParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Uncertainty of the Monte Carlo: lognormal shock size and lognormal depth multiplier."""

    runs: Annotated[int, msgspec.Meta(ge=1, description="Number of simulated cascades.")] = 10_000
    shock_sigma: Annotated[
        float,
        msgspec.Meta(ge=0, description="Log-sd of shock size around its median (0.5 ≈ ×1.65)."),
    ] = 0.5
    depth_sigma: Annotated[
        float,
        msgspec.Meta(ge=0, description="Log-sd of the depth multiplier (books thin in stress)."),
    ] = 0.5
    seed: Annotated[int, msgspec.Meta(ge=0, description="Random seed (results repeat).")] = 0


class MonteCarloResult(msgspec.Struct, frozen=True, kw_only=True):
    """Probability of a move at least each threshold, over shock and depth uncertainty."""

    direction: Direction
    runs: int
    seed: int
    shock_pct_median: float
    thresholds_pct: list[float]
    #: P(|final move| ≥ threshold) among the runs that stayed inside the known depth: a run
    #: that exhausts it has no known final move ("beyond known depth"), so it is left out
    #: here and counted in ``prob_book_exhausted`` instead (NaN when every run exhausts it).
    prob_beyond: list[float]
    #: Runs that stayed inside the known depth (the denominator of ``prob_beyond``).
    runs_within_depth: int
    #: 5th, 50th and 95th percentile of the move size (signed like the move), percent, over
    #: the runs inside the known depth.
    move_p05_pct: float
    move_p50_pct: float
    move_p95_pct: float
    amplification_median: float
    prob_book_exhausted: float
    prob_not_converged: float
    estimate: bool = True


def monte_carlo(
    flow: ForcedFlow,
    depth: DepthCurve,
    shock_pct: float,
    thresholds_pct: list[float],
    mc: MonteCarloParams | None = None,
    params: CascadeParams | None = None,
) -> MonteCarloResult:
    """Simulate ``mc.runs`` cascades at once, each with its own shock and depth multiplier.

    Shocks are ``|shock_pct| · e^{σ_s z₁}`` (percent moves the shock alone would cause on the
    unscaled book) and depth multipliers ``e^{σ_d z₂}``, with ``z`` standard normal from
    ``numpy.random.default_rng(seed)``: the same seed gives the same answer.
    """
    m = mc or MonteCarloParams()
    rng = np.random.default_rng(m.seed)
    z = rng.standard_normal((2, m.runs))
    shocks = abs(shock_pct) * np.exp(m.shock_sigma * z[0])
    mult = np.exp(m.depth_sigma * z[1])
    st = run_batch(shock_to_usd(depth, shocks, mult), mult, flow, depth, params)
    inside = ~st.exhausted
    move = 100.0 * st.final[inside]
    n_in = int(inside.sum())
    nan = float("nan")
    beyond = [float(np.mean(move >= t)) if n_in else nan for t in map(abs, thresholds_pct)]
    q = (
        np.percentile(_signed(flow.direction, st.final[inside]), [5, 50, 95])
        if n_in
        else np.full(3, nan)
    )
    with np.errstate(divide="ignore", invalid="ignore"):
        amp = np.where(st.shock_move > 0, st.final / st.shock_move, np.nan)[inside]
    lo_hi = (q[0], q[2]) if flow.direction == "up" else (q[2], q[0])
    return MonteCarloResult(
        direction=flow.direction,
        runs=m.runs,
        seed=m.seed,
        shock_pct_median=float(_signed(flow.direction, abs(shock_pct) / 100.0)),
        thresholds_pct=[float(abs(t)) for t in thresholds_pct],
        prob_beyond=beyond,
        runs_within_depth=n_in,
        move_p05_pct=float(lo_hi[0]),
        move_p50_pct=float(q[1]),
        move_p95_pct=float(lo_hi[1]),
        amplification_median=float(np.nanmedian(amp)) if np.isfinite(amp).any() else float("nan"),
        prob_book_exhausted=float(np.mean(st.exhausted)),
        prob_not_converged=float(np.mean(~st.converged & ~st.exhausted)),
    )


__all__ = [
    "CascadeParams",
    "CascadePath",
    "CascadeResult",
    "Direction",
    "ForcedFlow",
    "GainBand",
    "GainProfile",
    "MonteCarloParams",
    "MonteCarloResult",
    "TriggerLevel",
    "cascade_curve",
    "cascade_gain",
    "forced_flow",
    "monte_carlo",
    "run_batch",
    "shock_to_usd",
    "simulate",
]
