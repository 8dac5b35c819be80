"""Walk-forward probabilities of a flush's outcomes: a small logistic model and its base rate.

For an event judged at ``T`` the training set is every *earlier* event — of any asset in the
pool — whose outcome was already known at ``T`` (``resolved_ts ≤ T``): never an event from
the future, never an outcome not yet seen. Pooling is what lets an asset with a year of
history (five flushes) be scored at all. The **base rate** is the asset's own share while it
is alone in the set, the pool's (Laplace-smoothed) while it has no flush of its own, and
otherwise its own shrunk toward the pool's by a beta-binomial prior whose strength comes from
the spread between assets (empirical Bayes, :func:`prior_strength`); the probability says
which (``rate_source``). The **model** is a ridge-penalised logistic regression on
standardised features of the pooled set, fitted once ``min_train`` resolved events with both
outcomes exist; until then ``new_extreme`` takes the volatility band's probability (a formula
with no fitted parameter) and the other outcomes the base rate. Where the model's own
walk-forward record is worse than the base rate, the base rate is given instead
(``fell_back``). Missing features take the training mean (the model's estimate, not data).

Everything here is pure numpy: the report calls it for one event, the scorecard for each.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Hashable, Mapping, Sequence

import msgspec
import numpy as np
import numpy.typing as npt

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
from flushwatch.domain.numbers import odds


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


#: Bounds of the beta-binomial prior strength κ (pseudo-events of the pool in an asset's rate).
KAPPA_MIN, KAPPA_MAX = 2.0, 1000.0


def prior_strength(k: F64, n: F64) -> float:
    """κ of a beta-binomial prior across assets, by the method of moments (empirical Bayes).

    ``k``/``n``: positives/events per asset. The spread of the assets' rates beyond what
    binomial noise explains is τ²; κ = m(1−m)/τ² − 1 (m: the pooled rate). No spread beyond
    noise gives ``KAPPA_MAX`` (the pool decides); a wide spread a small κ (each asset's own).

    Examples
    --------
    >>> import numpy as np
    >>> prior_strength(np.array([5.0, 5.0]), np.array([10.0, 10.0]))  # identical: pool
    1000.0
    >>> round(prior_strength(np.array([1.0, 9.0]), np.array([10.0, 10.0])), 2)
    2.0
    """
    sel = n > 0
    k, n = k[sel], n[sel]
    total = float(n.sum())
    if k.size < 2 or total <= 0:
        return KAPPA_MAX
    m = float(k.sum()) / total
    if not 0.0 < m < 1.0:
        return KAPPA_MAX
    spread = float((n * (k / n - m) ** 2).sum())
    tau2 = (spread - (k.size - 1) * m * (1 - m)) / (total - float((n**2).sum()) / total)
    if not tau2 > 0:
        return KAPPA_MAX
    return float(np.clip(m * (1 - m) / tau2 - 1.0, KAPPA_MIN, KAPPA_MAX))


class _Pool:
    """The rows of one outcome as arrays, so each walk-forward step is a mask, not a loop."""

    def __init__(self, rows: Sequence[EventRow], outcome_id: str) -> None:
        # One canonical order, so sums (and fits) are bit-identical however rows were gathered.
        rows = sorted(rows, key=lambda r: (r.judge_ts, r.asset, r.start_ts))
        self.rows = rows
        self.judge = np.array([r.judge_ts for r in rows], dtype=np.int64)
        self.resolved = np.array([r.resolved_ts[outcome_id] for r in rows], dtype=np.int64)
        self.y = np.array([r.outcomes[outcome_id] for r in rows], dtype=float)
        names = sorted({r.asset for r in rows})
        code = {a: i for i, a in enumerate(names)}
        self.assets = names
        self.asset = np.array([code[r.asset] for r in rows], dtype=np.int64)
        self.names = feature_names(outcome_id)
        self.x = _matrix(rows, self.names).reshape(len(rows), len(self.names))
        self.index = {id(r): i for i, r in enumerate(rows)}

    def known(self, judge_ts: int) -> npt.NDArray[np.bool_]:
        """Rows judged before ``judge_ts`` whose outcome was known by then."""
        sel: npt.NDArray[np.bool_] = (
            (self.judge < judge_ts) & (self.resolved <= judge_ts) & np.isfinite(self.y)
        )
        return sel


def _base_rate(pool: _Pool, sel: npt.NDArray[np.bool_], asset: str) -> tuple[float, str]:
    """The walk-forward base rate of ``asset`` and which it is: own, pooled or shrunk.

    One asset in the training set: its own Laplace-smoothed share. Several: the pool's share
    ``m`` (Laplace), and for an asset with flushes of its own, the beta-binomial posterior
    mean ``(k + κ·m) / (n + κ)`` with κ from :func:`prior_strength` on the same set.
    """
    y, codes = pool.y[sel], pool.asset[sel]
    pooled = float((y.sum() + 1.0) / (y.size + 2.0))
    present = np.unique(codes)
    me = pool.assets.index(asset) if asset in pool.assets else -1
    own = codes == me
    if present.size == 1 and present[0] == me:
        return pooled, "own"
    if not own.any():
        return pooled, "pooled"
    n = np.bincount(codes, minlength=len(pool.assets)).astype(float)
    k = np.bincount(codes, weights=y, minlength=len(pool.assets)).astype(float)
    kappa = prior_strength(k, n)
    return float((k[me] + kappa * pooled) / (n[me] + kappa)), "shrunk"


def _predict(pool: _Pool, row: EventRow, outcome_id: str, p: OutcomeParams) -> Probability:
    lab = outcome_id.rsplit("_", 1)[1]
    band = row.p_rw.get(lab) if outcome_id.startswith("new_extreme") else None
    band = band if band is not None and math.isfinite(band) else None
    sel = pool.known(row.judge_ts)
    n_train = int(sel.sum())
    if n_train < p.min_base:
        return Probability(
            p=None, base_rate=None, n_train=n_train, method="not_available", p_band=band
        )
    base, rate = _base_rate(pool, sel, row.asset)
    y = pool.y[sel]
    positives = int(y.sum())
    if n_train < p.min_train or min(positives, n_train - positives) < 5:
        # Too few events to fit: the band needs no fitting, so it speaks for new_extreme.
        method, p_first = ("vol_band", band) if band is not None else ("base_rate", base)
        return Probability(
            p=p_first, base_rate=base, n_train=n_train, method=method, p_band=band,
            rate_source=rate,
        )  # fmt: skip
    x = pool.x[sel]
    usable = np.flatnonzero(np.isfinite(x).sum(axis=0) >= p.min_base)
    x = x[:, usable]
    # Column statistics as contiguous rows: one call each, and the same pairwise sums (so
    # the same bits) as the per-column 1-D reductions they replace.
    cols = np.ascontiguousarray(x.T)
    mean = np.nanmean(cols, axis=1)
    std = np.nanstd(cols, axis=1)
    std[~(std > 0)] = 1.0
    xs = np.nan_to_num((x - mean) / std, nan=0.0)
    w = fit_logistic(xs, y, p.ridge)
    xr = pool.x[pool.index[id(row)], usable] if id(row) in pool.index else None
    xr = _matrix([row], pool.names)[0, usable] if xr is None else xr
    xr = np.nan_to_num((xr - mean) / std, nan=0.0)
    z = float(np.clip(w[0] + xr @ w[1:], -30, 30))
    return Probability(
        p=1.0 / (1.0 + math.exp(-z)), base_rate=base, n_train=n_train, method="model",
        p_band=band, rate_source=rate,
    )  # fmt: skip


def predict(
    history: Sequence[EventRow], row: EventRow, outcome_id: str, p: OutcomeParams
) -> Probability:
    """P(``outcome_id``) for ``row`` from the events of ``history`` resolved by its judge time.

    ``history`` may hold every asset's rows (the pool): the model is fitted on all of them and
    the base rate is the asset's own, the pool's or the one shrunk toward the pool
    (:func:`_base_rate`). Before any track-record check (:func:`walk_forward` does that).
    """
    return _predict(_Pool(history, outcome_id), row, outcome_id, p)


#: Raw predictions by (outcome, settings, event, its training rows): see :func:`walk_forward`.
RawMemo = dict[Hashable, Probability]


def digests(rows: Sequence[EventRow]) -> dict[str, bytes]:
    """A digest of each asset's rows (content, in judging order): equal digests, equal rows."""
    by_asset: dict[str, list[EventRow]] = {}
    for r in sorted(rows, key=lambda r: (r.asset, r.judge_ts, r.start_ts)):
        by_asset.setdefault(r.asset, []).append(r)
    return {
        a: hashlib.blake2b(msgspec.msgpack.encode(rs), digest_size=16).digest()
        for a, rs in by_asset.items()
    }


def _raw_all(
    pool: _Pool,
    outcome_id: str,
    p: OutcomeParams,
    memo: RawMemo,
    digest: Mapping[str, bytes] | None,
) -> list[Probability]:
    """:func:`_predict` for every row, remembered by what it depends on: its training rows.

    Those are every row of the pool's assets known at the row's judging time, so the assets
    that have any identify them when every pool draws from one set of rows (the scorecard);
    across sets (reports), each asset's ``digest`` of its rows names them. An asset has a
    known row from the earliest time one of its rows is known, ``max(judge + 1, resolved)``.
    """
    ok = np.isfinite(pool.y)
    tau = np.full(len(pool.assets), np.iinfo(np.int64).max, dtype=np.int64)
    np.minimum.at(tau, pool.asset[ok], np.maximum(pool.judge + 1, pool.resolved)[ok])
    order = np.argsort(tau, kind="stable")
    count = np.searchsorted(tau[order], pool.judge, side="right")
    names = [pool.assets[i] for i in order]
    named = [(a, digest.get(a)) for a in names] if digest is not None else names
    tags = [tuple(sorted(named[:n])) for n in range(len(order) + 1)]
    out = []
    for row, n in zip(pool.rows, count, strict=True):
        own = None if digest is None else digest.get(row.asset)
        key = (outcome_id, p, row.asset, row.start_ts, own, tags[n])
        hit = memo.get(key)
        if hit is None:
            hit = memo[key] = _predict(pool, row, outcome_id, p)
        out.append(hit)
    return out


def walk_forward(
    history: Sequence[EventRow],
    rows: Sequence[EventRow],
    outcome_id: str,
    p: OutcomeParams,
    memo: RawMemo | None = None,
    digest: Mapping[str, bytes] | None = None,
) -> list[Scored]:
    """Each of ``rows`` with its walk-forward prediction from ``history``, track record checked.

    The model's raw prediction stands only while its own walk-forward record on the earlier
    flushes of ``history`` resolved by the judging time is no worse than the base rate (mean
    Brier difference ≤ 0 over at least ``min_base`` of them); otherwise the event gets the
    base rate, ``method="base_rate"`` with ``fell_back=True``. The record is of the raw
    model, so a model that improves comes back.

    ``memo`` shares raw predictions between calls whose histories are subsets of one set of
    rows (the scorecard's per-pool walks): a prediction depends only on its training rows.
    With ``digest`` (:func:`digests` of ``history``) the histories may come from anywhere
    (reports at different times and of different assets): rows are named by content.
    """
    pool = _Pool(history, outcome_id)
    if memo is None:
        raw = [_predict(pool, r, outcome_id, p) for r in pool.rows]
    else:
        raw = _raw_all(pool, outcome_id, p, memo, digest)
    is_model = np.array([q.method == "model" for q in raw], dtype=bool)
    loss = np.array(
        [
            ((q.p or 0.0) - y) ** 2 - ((q.base_rate or 0.0) - y) ** 2 if m else math.nan
            for q, y, m in zip(raw, pool.y, is_model, strict=True)
        ],
        dtype=float,
    ).reshape(len(raw))
    by_id = {id(r): q for r, q in zip(pool.rows, raw, strict=True)}
    out = []
    for r in rows:
        q = by_id.get(id(r)) or _predict(pool, r, outcome_id, p)
        if q.method == "model":
            track = pool.known(r.judge_ts) & is_model
            if int(track.sum()) >= p.min_base and float(loss[track].mean()) > 0:
                q = msgspec.structs.replace(q, p=q.base_rate, method="base_rate", fell_back=True)
        out.append(Scored(row=r, prob=q))
    return out


def outcome_odds(
    m: MarketSeries,
    events: Sequence[FlushEvent],
    focus: FlushEvent,
    as_of_ts: int,
    p: OutcomeParams,
    merge_gap_hours: float,
    pool: Sequence[EventRow] = (),
    memo: RawMemo | None = None,
) -> dict[str, Probability]:
    """P(each outcome) for ``focus`` judged at the last bar closed by ``as_of_ts``.

    Trained on the other flushes of ``m`` and of ``pool`` (other assets' rows, judged the
    scorecard's way) resolved by then; each probability carries the track record of the same
    procedure on those past flushes (is it better than the base rate yet?). Identical to the
    scorecard's numbers when ``as_of_ts`` is the scorecard's judging time and ``pool`` holds
    the scorecard's other assets (tested).
    """
    if m.n == 0:
        return {}
    judge = int(m.ts[-1]) + m.step_s * 10**9
    judge = min(judge, as_of_ts)
    row = event_row(m, focus, judge, p)
    if row is None:
        return {}
    own = [
        r
        for r in event_rows(m, events, p, merge_gap_hours)
        if r.start_ts != focus.start_ts and r.judge_ts < judge
    ]
    history = [*own, *(r for r in pool if r.asset != m.asset and r.judge_ts < judge)]
    digest = None if memo is None else digests(history)
    out: dict[str, Probability] = {}
    for oid in outcome_ids(p):
        scored = walk_forward(history, [*history, row], oid, p, memo, digest)
        prob = scored[-1].prob
        known = [s for s in scored[:-1] if s.row.resolved_ts[oid] <= judge]
        track = score(known, oid)
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
        f"Estimate: P({OUTCOME_TEXT['new_extreme']} within {horizon}) = {odds(prob.p)} "
        f"({prob.method.replace('_', ' ')}; base rate {prob.base_rate:.0%} over "
        f"{prob.n_train} past flushes)"
    )
    if prob.fell_back:
        head += "; the model did worse than this base rate on past flushes, so it is the base rate"
    if prob.beats_base_rate is True:
        return f"{head}; it beat the base rate on {prob.track_n} scored past flushes"
    if prob.beats_base_rate is False:
        return f"{head}; no better than the base rate on {prob.track_n} scored past flushes"
    return f"{head}; too few scored past flushes ({prob.track_n}) to know if it beats the base rate"
