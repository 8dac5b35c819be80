"""Walk-forward probabilities of a flush's outcomes: a small logistic model and its base rate.

For an event judged at ``T`` the training set is every *earlier* event whose outcome was
already known at ``T`` (``resolved_ts ≤ T``): never an event from the future, never an
outcome not yet seen. The base rate is the Laplace-smoothed share of positives in that set
(the baseline every model must beat); the model is a ridge-penalised logistic regression on
standardised features, fitted only once ``min_train`` resolved events with both outcomes
exist; until then ``new_extreme`` takes the volatility band's probability (a formula with no
fitted parameter) and the other outcomes the base rate. Missing features take the training
mean (the model's estimate, not data).

Everything here is pure numpy: the report calls it for one event, the scorecard for each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np

from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.outcomes import (
    OUTCOME_TEXT,
    EventRow,
    OutcomeParams,
    event_row,
    event_rows,
    outcome_ids,
)
from flushwatch.analytics.results import FlushEvent, Probability
from flushwatch.analytics.scorecard import Scored, score


def feature_names(outcome_id: str) -> list[str]:
    """The features a model of ``outcome_id`` uses (the band's distance for its horizon)."""
    horizon = outcome_id.rsplit("_", 1)[1]
    names = [f"rw_logit_{horizon}", "momentum_1d", "trend_30d", "size"]
    if outcome_id.startswith(("oi_back", "new_extreme")):
        names.append("oi_rebuild")
    if outcome_id.startswith(("funding_reset", "new_extreme")):
        names.append("funding")
    return names


def fit_logistic(x: F64, y: F64, ridge: float, iters: int = 25) -> F64:
    """Ridge logistic regression by Newton steps; returns ``[intercept, *weights]``.

    The intercept is not penalised. ``x`` is already standardised.

    Examples
    --------
    >>> import numpy as np
    >>> x = np.array([[-2.0], [-1.0], [1.0], [2.0]]); y = np.array([0.0, 0.0, 1.0, 1.0])
    >>> bool(fit_logistic(x, y, 1.0)[1] > 0)
    True
    """
    xa = np.column_stack([np.ones(len(y)), x])
    w = np.zeros(xa.shape[1])
    pen = np.full(xa.shape[1], ridge)
    pen[0] = 0.0
    for _ in range(iters):
        z = np.clip(xa @ w, -30, 30)
        mu = 1.0 / (1.0 + np.exp(-z))
        grad = xa.T @ (mu - y) + pen * w
        hess = (xa * (mu * (1 - mu))[:, None]).T @ xa + np.diag(pen) + 1e-9 * np.eye(len(w))
        step = np.linalg.solve(hess, grad)
        w -= step
        if float(np.max(np.abs(step))) < 1e-8:
            break
    return w


def _matrix(rows: Sequence[EventRow], names: list[str]) -> F64:
    return np.array([[r.features.get(n, math.nan) for n in names] for r in rows], dtype=float)


def predict(
    history: Sequence[EventRow], row: EventRow, outcome_id: str, p: OutcomeParams
) -> Probability:
    """P(``outcome_id``) for ``row`` from the events of ``history`` resolved by its judge time."""
    lab = outcome_id.rsplit("_", 1)[1]
    band = row.p_rw.get(lab) if outcome_id.startswith("new_extreme") else None
    band = band if band is not None and math.isfinite(band) else None
    train = [
        r
        for r in history
        if r.judge_ts < row.judge_ts
        and r.resolved_ts[outcome_id] <= row.judge_ts
        and math.isfinite(r.outcomes[outcome_id])
    ]
    if len(train) < p.min_base:
        return Probability(
            p=None, base_rate=None, n_train=len(train), method="not_available", p_band=band
        )
    y = np.array([r.outcomes[outcome_id] for r in train])
    base = float((y.sum() + 1.0) / (len(y) + 2.0))
    positives = int(y.sum())
    if len(train) < p.min_train or min(positives, len(y) - positives) < 5:
        # Too few events to fit: the band needs no fitting, so it speaks for new_extreme.
        method, p_first = ("vol_band", band) if band is not None else ("base_rate", base)
        return Probability(
            p=p_first, base_rate=base, n_train=len(train), method=method, p_band=band
        )
    names = feature_names(outcome_id)
    x = _matrix(train, names)
    usable = [i for i in range(len(names)) if np.isfinite(x[:, i]).sum() >= p.min_base]
    x = x[:, usable]
    mean = np.array([np.nanmean(x[:, i]) for i in range(x.shape[1])])
    std = np.array([np.nanstd(x[:, i]) for i in range(x.shape[1])])
    std[~(std > 0)] = 1.0
    xs = np.nan_to_num((x - mean) / std, nan=0.0)
    w = fit_logistic(xs, y, p.ridge)
    xr = _matrix([row], names)[0, usable]
    xr = np.nan_to_num((xr - mean) / std, nan=0.0)
    z = float(np.clip(w[0] + xr @ w[1:], -30, 30))
    return Probability(
        p=1.0 / (1.0 + math.exp(-z)),
        base_rate=base,
        n_train=len(train),
        method="model",
        p_band=band,
    )


def walk_forward(
    history: Sequence[EventRow], rows: Sequence[EventRow], outcome_id: str, p: OutcomeParams
) -> list[Scored]:
    """Each of ``rows`` with the prediction :func:`predict` makes for it from ``history``."""
    return [Scored(row=r, prob=predict(history, r, outcome_id, p)) for r in rows]


def outcome_odds(
    m: MarketSeries,
    events: Sequence[FlushEvent],
    focus: FlushEvent,
    as_of_ts: int,
    p: OutcomeParams,
    merge_gap_hours: float,
) -> dict[str, Probability]:
    """P(each outcome) for ``focus`` judged at the last bar closed by ``as_of_ts``.

    Trained on the other flushes of ``m`` judged the scorecard's way and resolved by then; each
    probability carries the track record of the same procedure on those past flushes (is it
    better than the base rate yet?). Identical to the scorecard's numbers when ``as_of_ts``
    is the scorecard's judging time (tested).
    """
    if m.n == 0:
        return {}
    judge = int(m.ts[-1]) + m.step_s * 10**9
    judge = min(judge, as_of_ts)
    row = event_row(m, focus, judge, p)
    if row is None:
        return {}
    history = [
        r
        for r in event_rows(m, events, p, merge_gap_hours)
        if r.start_ts != focus.start_ts and r.judge_ts < judge
    ]
    out: dict[str, Probability] = {}
    for oid in outcome_ids(p):
        prob = predict(history, row, oid, p)
        known = [r for r in history if r.resolved_ts[oid] <= judge]
        track = score(walk_forward(history, known, oid, p), oid)
        beats = (
            None if track.n < p.min_base or track.brier_diff_ci is None else track.beats_base_rate
        )
        out[oid] = msgspec.structs.replace(prob, track_n=track.n, beats_base_rate=beats)
    return out


def odds_sentence(probs: dict[str, Probability], horizon: str = "3d") -> str | None:
    """One line for the verdict: the headline outcome's odds and whether they have skill yet.

    The headline is ``new_extreme`` at ``horizon`` (does the flush turn into a trend?); the
    sentence always names the base rate beside the estimate, and says plainly when the
    procedure has not beaten that base rate on the past flushes it could be scored on.
    """
    oid = f"new_extreme_{horizon}"
    prob = probs.get(oid)
    if prob is None or prob.p is None or prob.base_rate is None:
        return None
    head = (
        f"Estimate: P({OUTCOME_TEXT['new_extreme']} within {horizon}) = {prob.p:.0%} "
        f"({prob.method.replace('_', ' ')}; base rate {prob.base_rate:.0%} over "
        f"{prob.n_train} past flushes)"
    )
    if prob.beats_base_rate is True:
        return f"{head}; it beat the base rate on {prob.track_n} scored past flushes"
    if prob.beats_base_rate is False:
        return f"{head}; no better than the base rate on {prob.track_n} scored past flushes"
    return f"{head}; too few scored past flushes ({prob.track_n}) to know if it beats the base rate"
