"""Cross-asset fragility that compares like with like (DOMAIN.md §9).

A ranking is only fair if every ranked asset is measured on the same inputs at the same
as-of time. :data:`INPUTS` names every input (a list of named columns: one more, e.g. a
wash-trading suspicion score, is one more :class:`InputSpec` and one more value per asset).
:func:`rank_like_with_like` then

1. chooses the inputs to rank on: by coverage, most-held first, each kept only while at
   least ``min_share`` of the assets still hold *all* the kept inputs;
2. ranks the assets that hold every chosen input by the mean of their per-input percentile
   ranks (Hazen, ``(r - 0.5) / n``, oriented so that 1 is the fragile end);
3. lists the others apart with the chosen inputs they lack, never guessing a value.

The price-and-funding inputs (wick depth, drawdown, realised volatility, beta to BTC,
funding z-score, perp/spot volume) exist wherever bars and funding do; the structural ones
(OI against volume and depth, liquidations against volume) only where the store holds OI,
depth bands or liquidations. Every value is an estimate for ranking, not a probability.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec
import numpy as np
import numpy.typing as npt

from flushwatch.analytics.market import F64

I64 = npt.NDArray[np.int64]
Fragile = Literal["high", "low", "abs"]


class InputSpec(msgspec.Struct, frozen=True, kw_only=True):
    """One named input: which end is fragile, its unit, a short column name and why."""

    name: str
    abbrev: str
    unit: str
    fragile: Fragile
    about: str


INPUTS: tuple[InputSpec, ...] = (
    InputSpec(name="wick_pct", abbrev="wick", unit="%", fragile="low",
              about="deepest low below the previous close in the window"),
    InputSpec(name="drawdown_24h_pct", abbrev="dd24", unit="%", fragile="low",
              about="last close against the 24 h high"),
    InputSpec(name="realised_vol_pct", abbrev="vol", unit="%/day", fragile="high",
              about="sd of bar log returns, scaled to a day"),
    InputSpec(name="beta_btc", abbrev="beta", unit="x", fragile="high",
              about="OLS beta of bar log returns to BTC's (BTC = 1)"),
    InputSpec(name="funding_z", abbrev="fz", unit="sd", fragile="abs",
              about="latest funding vs its trailing window; ranked on |z|"),
    InputSpec(name="perp_spot_volume", abbrev="p/s", unit="x", fragile="high",
              about="perp over spot quote volume, trailing 24 h"),
    InputSpec(name="oi_to_volume", abbrev="oi/v", unit="x", fragile="high",
              about="open interest over 24 h perp quote volume"),
    InputSpec(name="oi_to_depth", abbrev="oi/d", unit="x", fragile="high",
              about="open interest over book depth within ±near_pct"),
    InputSpec(name="liq_to_volume", abbrev="liq/v", unit="x", fragile="high",
              about="liquidations over perp quote volume, 24 h"),
    InputSpec(name="wash_suspicion", abbrev="wash", unit="share", fragile="high",
              about="share of trade-print tests suspicious, 24 h (suspicion only)"),
)  # fmt: skip

METHOD = (
    "mean of per-input percentile ranks (Hazen (r-0.5)/n, 1 = fragile end) over the inputs "
    "every ranked asset has at the as-of time"
)


class FragilityParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Windows of each input and the coverage rule; defaults suit hourly bars."""

    wick_window_h: Annotated[int, msgspec.Meta(ge=1, description="Wick look-back.")] = 24
    vol_window_h: Annotated[int, msgspec.Meta(ge=2, description="Volatility look-back.")] = 168
    beta_window_h: Annotated[
        int, msgspec.Meta(ge=2, description="Beta and liquidity look-back (30 days).")
    ] = 720
    volume_window_h: Annotated[
        int, msgspec.Meta(ge=1, description="Volume look-back for the ratios.")
    ] = 24
    funding_window: Annotated[
        int, msgspec.Meta(ge=3, description="Trailing funding observations for the z-score.")
    ] = 90
    funding_sd_floor: Annotated[
        float,
        msgspec.Meta(
            gt=0,
            description="Floor on funding's sd (a fraction per interval): a rate pinned at "
            "the 0.01% default has sd ~0, and one tick must not read as 1e17 sd.",
        ),
    ] = 1e-5
    near_pct: Annotated[float, msgspec.Meta(gt=0, description="Depth band ±%.")] = 2.0
    min_share: Annotated[
        float,
        msgspec.Meta(gt=0, le=1, description="Least share of assets ranked on all inputs."),
    ] = 0.75
    n_majors: Annotated[
        int, msgspec.Meta(ge=0, description="Most liquid assets grouped as majors.")
    ] = 2


class AssetInputs(msgspec.Struct, frozen=True, kw_only=True):
    """What is known about one asset at the as-of time (absent key = not available)."""

    asset: str
    values: dict[str, float]
    volume_usd_day: float | None = None
    notes: list[str] = msgspec.field(default_factory=list)


class Ranked(msgspec.Struct, frozen=True, kw_only=True):
    """One ranked asset: its score, rank, group, values and per-input percentile ranks."""

    asset: str
    rank: int
    score: float
    group: str
    components: dict[str, float]
    pct_ranks: dict[str, float]
    missing: list[str]
    estimate: bool = True


class Apart(msgspec.Struct, frozen=True, kw_only=True):
    """An asset left out of the ranking: the chosen inputs it lacks, and what it has."""

    asset: str
    group: str
    lacks: list[str]
    components: dict[str, float]


class GroupSummary(msgspec.Struct, frozen=True, kw_only=True):
    """Median of each input over a group's assets that have it."""

    group: str
    assets: list[str]
    median: dict[str, float]


class LikeWithLike(msgspec.Struct, frozen=True, kw_only=True):
    """The ranking on the common inputs, the assets set apart and the group medians."""

    inputs: list[str]
    method: str
    ranked: list[Ranked]
    apart: list[Apart]
    groups: list[GroupSummary]


# -- the inputs (arrays in, a number or None out) ---------------------------------------------
def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def wick_depth_pct(low: F64, prev_close: F64) -> float | None:
    """Largest drop of ``low`` below the previous bar's close, in percent (negative).

    Examples
    --------
    >>> import numpy as np
    >>> wick_depth_pct(np.array([99.0, 50.0, 90.0]), np.array([100.0, 100.0, 60.0]))
    -50.0
    """
    ok = np.isfinite(low) & np.isfinite(prev_close) & (prev_close > 0)
    if not ok.any():
        return None
    return _finite(float(np.min(low[ok] / prev_close[ok] - 1.0)) * 100.0)


def drawdown_pct(high: F64, last_close: float) -> float | None:
    """``last_close`` against the highest ``high``, in percent (≤ 0).

    Examples
    --------
    >>> import numpy as np
    >>> drawdown_pct(np.array([100.0, 120.0]), 90.0)
    -25.0
    """
    h = high[np.isfinite(high)]
    if h.size == 0 or not h.max() > 0:
        return None
    return _finite((last_close / float(h.max()) - 1.0) * 100.0)


def log_returns(ts: I64, close: F64, step_ns: int) -> tuple[I64, F64]:
    """Log returns of consecutive bars (a gap breaks the chain), stamped at the later bar."""
    ok = (np.diff(ts) == step_ns) & (close[1:] > 0) & (close[:-1] > 0)
    r = np.log(close[1:][ok] / close[:-1][ok])
    return ts[1:][ok], r


def realised_vol_pct(returns: F64, bars_per_day: float) -> float | None:
    """Standard deviation of log returns scaled to a day, in percent.

    Examples
    --------
    >>> import numpy as np
    >>> round(realised_vol_pct(np.array([0.01, -0.01, 0.01, -0.01]), 4.0), 6)
    2.309401
    """
    if returns.size < 3:
        return None
    return _finite(float(np.std(returns, ddof=1)) * math.sqrt(bars_per_day) * 100.0)


def beta(asset: F64, market: F64) -> float | None:
    """OLS beta of ``asset`` returns on ``market`` returns (paired, same length).

    Examples
    --------
    >>> import numpy as np
    >>> round(beta(np.array([0.02, -0.04, 0.06]), np.array([0.01, -0.02, 0.03])), 12)
    2.0
    """
    if asset.size < 3:
        return None
    var = float(np.var(market, ddof=1))
    if not var > 0:
        return None
    return _finite(float(np.cov(asset, market, ddof=1)[0, 1]) / var)


def funding_z(funding: F64, window: int, sd_floor: float = 0.0) -> float | None:
    """Z-score of the last finite funding value against the ``window`` values before it.

    ``sd_floor`` bounds the denominator from below (see :class:`FragilityParams`).

    Examples
    --------
    >>> import numpy as np
    >>> funding_z(np.array([1.0, 2.0, 3.0, 6.0]), 3)
    4.0
    """
    f = np.asarray(funding, dtype=np.float64)
    f = f[np.isfinite(f)]
    if f.size < 4:
        return None
    base = f[-window - 1 : -1]
    sd = max(float(np.std(base, ddof=1)), sd_floor)
    if not sd > 0:
        return None
    return _finite(float((f[-1] - base.mean()) / sd))


def ratio(a: float | None, b: float | None) -> float | None:
    """``a / b`` when both are finite and ``b > 0``; else not available.

    Examples
    --------
    >>> ratio(3.0, 2.0), ratio(1.0, 0.0), ratio(None, 1.0)
    (1.5, None, None)
    """
    if a is None or b is None or not math.isfinite(a) or not math.isfinite(b) or b <= 0:
        return None
    return float(a / b)


# -- like with like ---------------------------------------------------------------------------
def choose_inputs(have: npt.NDArray[np.bool_], min_share: float) -> list[int]:
    """Columns of ``have`` (assets × inputs) to rank on, in column order.

    Most-held first (ties: column order); a column is kept only if at least
    ``ceil(min_share · assets)`` assets still hold every kept column.

    Examples
    --------
    >>> import numpy as np
    >>> have = np.array([[1, 1, 0], [1, 1, 0], [1, 0, 1], [1, 1, 1]], dtype=bool)
    >>> choose_inputs(have, 0.5)
    [0, 1]
    """
    n, k = have.shape
    need = max(1, math.ceil(min_share * n))
    keep = np.ones(n, dtype=bool)
    chosen: list[int] = []
    for j in sorted(range(k), key=lambda j: (-int(have[:, j].sum()), j)):
        nxt = keep & have[:, j]
        if int(nxt.sum()) >= need:
            chosen.append(j)
            keep = nxt
    return sorted(chosen)


def pct_ranks(x: F64) -> F64:
    """Hazen percentile ranks ``(r - 0.5) / n`` of ``x`` (ties share their mean rank).

    Examples
    --------
    >>> import numpy as np
    >>> pct_ranks(np.array([3.0, 1.0, 2.0, 2.0])).tolist()
    [0.875, 0.125, 0.5, 0.5]
    """
    n = x.size
    order = np.argsort(x, kind="stable")
    ranks = np.empty(n, dtype=np.float64)
    ranks[order] = np.arange(1, n + 1, dtype=np.float64)
    _, inverse = np.unique(x, return_inverse=True)
    sums = np.bincount(inverse, weights=ranks)
    counts = np.bincount(inverse)
    out: F64 = (sums / counts)[inverse]
    return (out - 0.5) / n


def _oriented(values: F64, fragile: Fragile) -> F64:
    if fragile == "low":
        return -values
    if fragile == "abs":
        return np.abs(values)
    return values


def groups_by_liquidity(rows: list[AssetInputs], n_majors: int) -> dict[str, str]:
    """``major`` for the ``n_majors`` assets with the largest daily quote volume, else ``alt``.

    Examples
    --------
    >>> rows = [AssetInputs(asset=a, values={}, volume_usd_day=v)
    ...         for a, v in (("BTC", 9.0), ("SUI", 1.0), ("ETH", 5.0))]
    >>> sorted(groups_by_liquidity(rows, 2).items())
    [('BTC', 'major'), ('ETH', 'major'), ('SUI', 'alt')]
    """
    liquid = sorted(
        (r for r in rows if r.volume_usd_day is not None and r.volume_usd_day > 0),
        key=lambda r: (-(r.volume_usd_day or 0.0), r.asset),
    )
    majors = {r.asset for r in liquid[:n_majors]}
    return {r.asset: "major" if r.asset in majors else "alt" for r in rows}


def rank_like_with_like(
    rows: list[AssetInputs],
    params: FragilityParams | None = None,
    specs: tuple[InputSpec, ...] = INPUTS,
) -> LikeWithLike:
    """Rank on the inputs all ranked assets have; list the others apart with what they lack.

    Examples
    --------
    >>> rows = [AssetInputs(asset="BTC", values={"wick_pct": -5.0, "beta_btc": 1.0}),
    ...         AssetInputs(asset="ETH", values={"wick_pct": -8.0, "beta_btc": 1.2}),
    ...         AssetInputs(asset="ADA", values={"wick_pct": -60.0, "beta_btc": 1.4}),
    ...         AssetInputs(asset="NEW", values={"wick_pct": -9.0})]
    >>> out = rank_like_with_like(rows)
    >>> out.inputs, [(r.asset, round(r.score, 3)) for r in out.ranked]
    (['wick_pct', 'beta_btc'], [('ADA', 0.833), ('ETH', 0.5), ('BTC', 0.167)])
    >>> [(a.asset, a.lacks) for a in out.apart]
    [('NEW', ['beta_btc'])]
    """
    p = params or FragilityParams()
    names = [s.name for s in specs]
    have = np.array([[n in r.values for n in names] for r in rows], dtype=bool).reshape(
        len(rows), len(names)
    )
    cols = choose_inputs(have, p.min_share) if rows else []
    used = [names[j] for j in cols]
    inside = [i for i in range(len(rows)) if all(have[i, j] for j in cols)] if cols else []
    group = groups_by_liquidity(rows, p.n_majors)
    pr: dict[str, F64] = {}
    for j in cols:
        vals = np.array([rows[i].values[names[j]] for i in inside], dtype=np.float64)
        pr[names[j]] = pct_ranks(_oriented(vals, specs[j].fragile))
    scores = np.mean([pr[n] for n in used], axis=0) if used else np.zeros(0)
    order = sorted(range(len(inside)), key=lambda k: (-float(scores[k]), rows[inside[k]].asset))
    ranked = [
        Ranked(
            asset=rows[inside[k]].asset,
            rank=pos + 1,
            score=float(scores[k]),
            group=group[rows[inside[k]].asset],
            components=dict(rows[inside[k]].values),
            pct_ranks={n: float(pr[n][k]) for n in used},
            missing=[n for n in names if n not in rows[inside[k]].values],
        )
        for pos, k in enumerate(order)
    ]
    chosen = set(inside)
    apart = [
        Apart(
            asset=r.asset,
            group=group[r.asset],
            lacks=[n for n in used if n not in r.values] or ["every input"],
            components=dict(r.values),
        )
        for i, r in enumerate(rows)
        if i not in chosen
    ]
    return LikeWithLike(
        inputs=used, method=METHOD, ranked=ranked, apart=apart, groups=_groups(rows, group, names)
    )


def _groups(rows: list[AssetInputs], group: dict[str, str], names: list[str]) -> list[GroupSummary]:
    out = []
    for g in ("major", "alt"):
        members = [r for r in rows if group[r.asset] == g]
        if not members:
            continue
        med = {}
        for n in names:
            vals = [r.values[n] for r in members if n in r.values]
            if vals:
                med[n] = float(np.median(vals))
        out.append(GroupSummary(group=g, assets=[r.asset for r in members], median=med))
    return out
