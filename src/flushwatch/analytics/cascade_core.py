"""How far a liquidation cascade runs: forced market orders walk the book, step by step.

Design (DOMAIN.md §7, a Cifuentes–Ferrucci–Shin fixed point on a visible book). All
quantities live on one axis, the fractional distance ``x`` from the start price in the
cascade's direction (down for a long flush, up for a short squeeze):

* ``B(x)``: cumulative book notional within ``x`` (a :class:`~.depth.DepthCurve`, times a
  depth multiplier ``m`` for uncertainty);
* ``M(x)``: forced-flow mass (estimated liquidations plus stop-losses) whose trigger price
  lies within ``x``; each price bin's mass is spread evenly over the bin.

Step 0 executes the exogenous shock ``Q_0`` (given in USD, or as the move ``s`` it alone
would cause: ``Q_0 = m·B(s)``). Step k executes ``Q_k = M(X_k) − M(X_{k−1})``, the mass of
the band the price just crossed; the book walk sets ``x_{k+1} = B⁻¹(C_{k+1} / m)``, where
``C`` is the displaced depth, ``C_{k+1} = C_k·e^{−ρΔt} + Q_k`` (with resilience ``ρ`` the
book refills between steps, Obizhaeva & Wang 2013; ``ρ = 0`` by default). The cascade stops
when a step would add less than ``max(min_step_usd, tol_frac × flow so far)`` (that residue
is reported, not executed) or when the flow runs past the end of the known book.

The **local cascade gain** of a price bin is ``G = forced mass in the bin / book depth in the
bin``, i.e. ``λ(p)/b(p)`` with both per unit price: where ``G ≥ 1`` the flow released by
crossing the bin is at least the depth needed to cross it, so the cascade propagates by
itself (the branching-ratio analogue of Caccioli et al. 2014).

Everything here is an estimate built on an estimated liquidation map: results say so.
The public entry points (``simulate``, ``cascade_curve``, ``monte_carlo``) are in
:mod:`flushwatch.analytics.cascade`; this module is the shared walk.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import numpy as np

from flushwatch.analytics.depth import B8, I64, DepthCurve
from flushwatch.analytics.market import F64

Direction = Literal["down", "up"]


class CascadeParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Stopping rule and book resilience of the cascade walk."""

    tol_frac: Annotated[
        float,
        msgspec.Meta(ge=0, description="A step adding < this share of the flow so far ends it."),
    ] = 1e-6
    min_step_usd: Annotated[
        float, msgspec.Meta(ge=0, description="...or less than this many USD (dust).")
    ] = 1.0
    max_steps: Annotated[
        int, msgspec.Meta(ge=1, description="Hard cap on steps; a run still going is flagged.")
    ] = 2000
    resilience_per_s: Annotated[
        float,
        msgspec.Meta(ge=0, description="Book refill rate ρ (1/s); 0 = no refill (worst case)."),
    ] = 0.0
    step_seconds: Annotated[
        float, msgspec.Meta(gt=0, description="Time between steps (engine + order latency).")
    ] = 1.0
    include_stops: Annotated[
        bool, msgspec.Meta(description="Count stop-loss mass as forced flow (a heuristic).")
    ] = True


class ForcedFlow(msgspec.Struct, frozen=True, kw_only=True):
    """Forced-flow mass on the cascade axis, ready for the walk (see :func:`forced_flow`)."""

    direction: Direction
    start_price: float
    #: Bin edges as distances from the start price, ascending from 0 (length bins + 1).
    offsets: F64
    #: Cumulative liquidation / stop USD at each edge.
    liq_cum: F64
    stop_cum: F64

    @property
    def liq_bin(self) -> F64:
        """Liquidation USD per bin (in axis order: nearest the price first)."""
        return np.diff(self.liq_cum)

    @property
    def stop_bin(self) -> F64:
        """Stop-loss USD per bin."""
        return np.diff(self.stop_cum)

    def price(self, x: F64 | float) -> F64:
        """Price at distance ``x`` on this axis."""
        sign = -1.0 if self.direction == "down" else 1.0
        return np.asarray(self.start_price * (1.0 + sign * np.asarray(x)), dtype=np.float64)

    def mass(self, x: F64, *, stops: bool = True) -> F64:
        """Forced mass (USD) whose trigger lies within distance ``x``."""
        m = np.interp(x, self.offsets, self.liq_cum)
        if stops:
            m = m + np.interp(x, self.offsets, self.stop_cum)
        return np.asarray(m, dtype=np.float64)


def forced_flow(
    direction: Direction, start_price: float, edges: F64, liq_usd: F64, stop_usd: F64 | None = None
) -> ForcedFlow:
    """Put a price-binned map (ascending ``edges``, USD per bin) on the cascade axis.

    For ``"down"`` only mass below the start price counts (long liquidations and sell
    stops), for ``"up"`` only mass above it; a bin that straddles the price keeps the share
    on the cascade's side.

    Examples
    --------
    >>> import numpy as np
    >>> f = forced_flow("down", 100.0, np.array([97.0, 98.0, 99.0, 101.0]),
    ...                 np.array([30.0, 20.0, 10.0]))
    >>> f.offsets.tolist(), f.liq_cum.tolist()
    ([0.0, 0.01, 0.02, 0.03], [0.0, 5.0, 25.0, 55.0])
    """
    edges = np.asarray(edges, dtype=np.float64)
    liq = np.nan_to_num(np.asarray(liq_usd, dtype=np.float64))
    stops = np.zeros_like(liq) if stop_usd is None else np.nan_to_num(np.asarray(stop_usd))
    if edges.ndim != 1 or edges.size != liq.size + 1 or stops.shape != liq.shape:
        raise ValueError("edges must have one more element than the per-bin arrays")
    if np.any(np.diff(edges) <= 0) or not start_price > 0:
        raise ValueError("edges must strictly increase and the start price be positive")
    if direction == "down":
        off = (start_price - edges[::-1]) / start_price
        liq, stops = liq[::-1], stops[::-1]
    else:
        off = (edges - start_price) / start_price
    lo, hi = off[:-1], off[1:]
    share = np.clip(hi / (hi - lo), 0.0, 1.0)  # part of each bin on the cascade's side
    share = np.where(lo >= 0, 1.0, share)
    clipped = np.maximum(off, 0.0)
    liq_cum = np.concatenate([[0.0], np.cumsum(liq * share)])
    stop_cum = np.concatenate([[0.0], np.cumsum(stops * share)])
    start = int(np.flatnonzero(clipped == 0.0)[-1]) if clipped[0] == 0.0 else 0
    offsets = clipped[start:]
    liq_cum, stop_cum = liq_cum[start:], stop_cum[start:]
    if offsets[0] > 0:
        offsets = np.concatenate([[0.0], offsets])
        liq_cum = np.concatenate([[0.0], liq_cum])
        stop_cum = np.concatenate([[0.0], stop_cum])
    return ForcedFlow(
        direction=direction,
        start_price=float(start_price),
        offsets=offsets,
        liq_cum=liq_cum,
        stop_cum=stop_cum,
    )


class RunState(msgspec.Struct, kw_only=True):
    """Final state of a batch of cascade runs (arrays of the batch's length)."""

    shock_usd: F64
    #: Distance the shock alone moves the price.
    shock_move: F64
    #: Final distance, and the deepest distance reached (they differ only with refill).
    final: F64
    deepest: F64
    #: Deepest distance whose forced mass was executed (the trigger front).
    executed_to: F64
    liquidated_usd: F64
    stops_usd: F64
    refilled_usd: F64
    #: Flow left over when the known book ran out.
    unabsorbed_usd: F64
    #: Mass crossed by the last walk but below the stopping tolerance (not executed).
    residual_usd: F64
    steps: I64
    exhausted: B8
    converged: B8


class PathLog(msgspec.Struct, kw_only=True):
    """Per-step record of the first run of a batch (for the single-cascade report)."""

    x: list[float] = msgspec.field(default_factory=list)
    liq: list[float] = msgspec.field(default_factory=list)
    stops: list[float] = msgspec.field(default_factory=list)
    flow: list[float] = msgspec.field(default_factory=list)


def _walk(c: F64, mult: F64, depth: DepthCurve) -> tuple[F64, F64]:
    """Distance reached when ``c`` USD have been taken from ``mult × depth``; and overflow."""
    per_unit = c / mult
    x = np.interp(per_unit, depth.notional, depth.offsets)
    over = np.maximum(per_unit - depth.total, 0.0) * mult
    return np.asarray(x, dtype=np.float64), np.asarray(over, dtype=np.float64)


def run_batch(
    shock_usd: F64,
    mult: F64,
    flow: ForcedFlow,
    depth: DepthCurve,
    params: CascadeParams | None = None,
    path: PathLog | None = None,
) -> RunState:
    """Advance many cascades together (one numpy pass per step over the runs still going)."""
    p = params or CascadeParams()
    q0 = np.asarray(shock_usd, dtype=np.float64)
    mult = np.broadcast_to(np.asarray(mult, dtype=np.float64), q0.shape).copy()
    n = q0.size
    decay = float(np.exp(-p.resilience_per_s * p.step_seconds))
    c, over = q0.copy(), np.zeros(n)
    x, over = _walk(c, mult, depth)
    deep = x.copy()
    x_exec = np.zeros(n)  # deepest distance whose mass has been executed
    m_exec = np.zeros(n)
    refilled = np.zeros(n)
    steps = np.ones(n, dtype=np.int64)
    exhausted = over > 0
    converged = np.zeros(n, dtype=bool)
    if path is not None:
        path.x.append(float(x[0]))
        path.liq.append(0.0)
        path.stops.append(0.0)
        path.flow.append(float(q0[0]))
    idx = np.flatnonzero(~exhausted)
    for _ in range(p.max_steps - 1):
        if idx.size == 0:
            break
        m_now = flow.mass(deep[idx], stops=p.include_stops)
        inflow = m_now - m_exec[idx]
        small = inflow < np.maximum(p.min_step_usd, p.tol_frac * (q0[idx] + m_exec[idx]))
        converged[idx[small]] = True
        idx = idx[~small]
        if idx.size == 0:
            break
        inflow = inflow[~small]
        refilled[idx] += c[idx] * (1.0 - decay)
        c[idx] = c[idx] * decay + inflow
        m_exec[idx] += inflow
        x_exec[idx] = deep[idx]
        xi, oi = _walk(c[idx], mult[idx], depth)
        x[idx] = xi
        deep[idx] = np.maximum(deep[idx], xi)
        steps[idx] += 1
        hit = oi > 0
        over[idx] = oi
        exhausted[idx[hit]] = True
        idx = idx[~hit]
        if path is not None:
            path.x.append(float(x[0]))
            path.liq.append(float(flow.mass(x_exec[:1], stops=False)[0]))
            path.stops.append(float(m_exec[0] - path.liq[-1]))
            path.flow.append(float(q0[0] + m_exec[0]))
    # A run that exhausts the known depth has traded through every level up to the book's
    # end: those positions are triggered even though the loop stops before executing them.
    # They count as liquidated (so liquidated USD never falls as the shock grows) and, with
    # no known depth left to absorb them, as unabsorbed (so depth taken + unabsorbed =
    # shock + forced flow still holds). Such runs are flagged ``exhausted``.
    # A converged run keeps its executed mass (exact conservation); what it left below the
    # tolerance is ``residual_usd``, so it is monotone in the shock up to that tolerance.
    liq_to = np.where(exhausted, np.maximum(x_exec, deep), x_exec)
    pending = np.where(exhausted, flow.mass(liq_to, stops=p.include_stops) - m_exec, 0.0)
    pending = np.maximum(pending, 0.0)
    m_exec = m_exec + pending
    over = over + pending
    liq = flow.mass(liq_to, stops=False)
    return RunState(
        shock_usd=q0,
        shock_move=_walk(q0, mult, depth)[0],
        final=x,
        deepest=deep,
        executed_to=x_exec,
        liquidated_usd=liq,
        stops_usd=np.maximum(m_exec - liq, 0.0),
        refilled_usd=refilled,
        unabsorbed_usd=over,
        residual_usd=flow.mass(deep, stops=p.include_stops) - m_exec,
        steps=steps,
        exhausted=exhausted,
        converged=converged,
    )
