"""Wash-trading *suspicion* from trade prints: statistical tests, never a finding.

Volume can be inflated by trades a party makes with itself ("suspected wash trading" in the
issue's article). Prints alone cannot prove it; what they can show is a departure from the
regularities of genuine trading. Each test below gives a statistic and a p-value; the
p-values of the tests that could run are corrected together with **Holm's step-down method**
(family-wise error at ``alpha``), and a corrected p below ``alpha`` marks the test
*suspicious*. The result is labelled "suspicion", never "detected wash trading".

Tests (Cong, Li, Tang & Yang 2023, "Crypto Wash Trading", *Management Science* 69(11),
use the first three across 29 exchanges; Aloosh & Li 2024, "Direct Evidence of Bitcoin Wash
Trading", *Management Science*, find Benford and size clustering useful on leaked real wash
trades and the power-law tail test misleading, so read the tail test with care):

* ``benford_first_digit``: first significant digit of the print notional (quote units,
  scale-free) against Benford's law; Pearson χ² with 8 df, and Nigrini's MAD beside it
  (Nigrini 2012, *Benford's Law*: first-digit MAD above 0.015 is "nonconformity").
* ``round_lot_excess``: prints at round lots (multiples of 100 quantity steps) against their
  ±5-step neighbours; under a locally smooth size density a print in that set of 11 sizes
  is at the round one with probability 1/11 (one-sided exact binomial). Genuine traders also
  round (Cong et al. treat clustering as a mark of *genuine* human trading), so this test
  rejects on genuine prints too; it is kept because wash bots favour round and repeated lots.
* ``size_tail_exponent``: the tail exponent ζ of the notional's survival function,
  P(X > x) ~ x^-ζ, by the Clauset-Shalizi-Newman maximum-likelihood method (SIAM Review
  51(4), 2009: Hill's estimator above the x_min that minimises the Kolmogorov-Smirnov
  distance; standard error ζ/√n). Genuine markets show ζ near 1.5 (Gopikrishnan, Plerou,
  Gabaix & Stanley 2000, *Phys. Rev. E* 62, R4493; Gabaix et al. 2003, *Nature* 423, 267);
  the null is the band ``TAIL_BAND`` = [1.5, 2.5] and the p-value is the one-sided normal
  tail of the distance to the nearer edge (a valid test of an interval null).
* ``matched_pairs``: consecutive prints within ``pair_window_ns`` of equal size and
  opposite taker side (one party selling to itself) against the count expected if sizes were
  assigned to prints at random (Σ c(c-1) / N(N-1) per opposite-side pair); one-sided Poisson.
* ``volume_vs_oi`` / ``volume_vs_depth``: log(volume / OI) and log(volume / depth) per
  bucket in the window against the same ratio in the history before it (one-sided
  Mann-Whitney U, normal approximation with tie correction): volume that grew without
  positions or resting liquidity behind it. "Not available" without OI, depth or history.

NumPy only: SciPy is not a dependency; χ² with even df, Poisson and binomial tails have
closed forms or exact sums, the normal tail is ``math.erfc``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import msgspec
import numpy as np
import numpy.typing as npt

from flushwatch.analytics.market import F64

I64 = npt.NDArray[np.int64]

ALPHA = 0.05
BENFORD: F64 = np.log10(1.0 + 1.0 / np.arange(1, 10))
TAIL_BAND = (1.5, 2.5)
ROUND_STEPS = 100  # a round lot is a multiple of 100 quantity steps
NEIGHBOURS = 5  # ±5 steps around each round lot stand for the smooth density
MIN_PRINTS = 110  # Benford's smallest expected cell (digit 9: 4.6 %) is then ≥ 5 prints
MIN_TAIL = 50  # prints above x_min for a tail fit
MIN_BUCKETS = 6  # buckets on each side of a turnover comparison
TESTS = (
    "benford_first_digit",
    "round_lot_excess",
    "size_tail_exponent",
    "matched_pairs",
    "volume_vs_oi",
    "volume_vs_depth",
)
LABEL = "suspicion"
CAVEAT = (
    "statistical suspicion, not a finding of wash trading: genuine prints also depart from "
    "these regularities (bots, minimum order sizes, human rounding)"
)


class WashTest(msgspec.Struct, frozen=True, kw_only=True):
    """One test: its statistic, raw and Holm-corrected p-value, and what it measured."""

    name: str
    available: bool
    statistic: float | None = None
    p_value: float | None = None
    p_holm: float | None = None
    suspicious: bool = False
    n: int = 0
    detail: dict[str, float] = msgspec.field(default_factory=dict)
    note: str = ""


class WashAssessment(msgspec.Struct, frozen=True, kw_only=True):
    """Every test of one venue's prints, corrected together (Holm, family-wise ``alpha``)."""

    label: str
    correction: str
    alpha: float
    prints: int
    tests: list[WashTest]
    flagged: bool
    score: float | None
    caveat: str


class VenueWash(msgspec.Struct, frozen=True, kw_only=True):
    """One instrument's prints assessed, with the unit its sizes were tested in."""

    exchange: str
    market: str
    symbol: str
    size_unit: str
    depth_source: str | None
    assessment: WashAssessment


class TradePrints(msgspec.Struct, frozen=True, kw_only=True):
    """The report's "Trade-print suspicion" section: every venue over one window."""

    label: str = LABEL
    window_s: int
    venues: list[VenueWash]
    score: float | None
    caveat: str = CAVEAT


class Turnover(msgspec.Struct, frozen=True, kw_only=True):
    """Volume per bucket against a liquidity measure (OI or depth) per bucket."""

    volume: F64
    liquidity: F64
    in_window: npt.NDArray[np.bool_]


# -- distributions -------------------------------------------------------------------------
def normal_sf(z: float) -> float:
    """Upper tail of the standard normal.

    Examples
    --------
    >>> round(normal_sf(1.959964), 4)
    0.025
    """
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def chi2_sf_even(x: float, df: int) -> float:
    """Upper tail of χ² with an even ``df`` (exact: a Poisson sum).

    Examples
    --------
    >>> round(chi2_sf_even(15.507313, 8), 4)
    0.05
    """
    if df % 2 or df <= 0:
        raise ValueError("df must be a positive even number")
    half = x / 2.0
    terms = [half**i / math.factorial(i) for i in range(df // 2)]
    return min(1.0, math.exp(-half) * math.fsum(terms))


def _log_factorials(n: int) -> F64:
    out = np.zeros(n + 1)
    out[1:] = np.cumsum(np.log(np.arange(1, n + 1, dtype=np.float64)))
    return out


def _logsumexp(a: F64) -> float:
    top = float(a.max())
    return top + math.log(float(np.exp(a - top).sum()))


def binom_sf(k: int, n: int, p: float) -> float:
    """P(X ≥ k) for X ~ Binomial(n, p), summed exactly in log space.

    Examples
    --------
    >>> round(binom_sf(8, 10, 0.5), 6)  # (45 + 10 + 1) / 1024
    0.054688
    """
    if k <= 0:
        return 1.0
    if k > n:
        return 0.0
    lf = _log_factorials(n)
    i = np.arange(k, n + 1)
    logs = lf[n] - lf[i] - lf[n - i] + i * math.log(p) + (n - i) * math.log1p(-p)
    return min(1.0, math.exp(_logsumexp(logs)))


def poisson_sf(k: int, mu: float) -> float:
    """P(X ≥ k) for X ~ Poisson(mu), summed exactly over the upper tail.

    Examples
    --------
    >>> round(poisson_sf(3, 1.0), 6)  # 1 - e^-1 (1 + 1 + 1/2)
    0.080301
    """
    if k <= 0:
        return 1.0
    if mu <= 0:
        return 0.0
    top = int(max(k, mu) + 40 * math.sqrt(mu) + 100)
    lf = _log_factorials(top)
    i = np.arange(k, top + 1)
    return min(1.0, math.exp(_logsumexp(i * math.log(mu) - mu - lf[i])))


def holm(p_values: Sequence[float]) -> list[float]:
    """Holm's step-down adjusted p-values (same order as given).

    Examples
    --------
    >>> holm([0.01, 0.04, 0.03])
    [0.03, 0.06, 0.06]
    """
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    out = [1.0] * m
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        out[i] = round(running, 15)
    return out


# -- the tests -----------------------------------------------------------------------------
def first_digits(x: F64) -> I64:
    """First significant digit (1-9) of positive values.

    Examples
    --------
    >>> first_digits(np.array([0.3, 123.0, 9.99, 0.0021])).tolist()
    [3, 1, 9, 2]
    """
    mant = np.round(x / 10.0 ** np.floor(np.log10(x)), 9)
    d = np.floor(mant).astype(np.int64)
    return np.where(d >= 10, 1, d)


def benford_test(notional: F64) -> WashTest:
    """First digits of ``notional`` against Benford's law (χ², 8 df; MAD beside it)."""
    x = notional[np.isfinite(notional) & (notional > 0)]
    name = TESTS[0]
    if x.size < MIN_PRINTS:
        return WashTest(name=name, available=False, n=int(x.size), note=_few(x.size))
    counts = np.bincount(first_digits(x), minlength=10)[1:].astype(np.float64)
    expected = BENFORD * x.size
    chi2 = float(((counts - expected) ** 2 / expected).sum())
    mad = float(np.abs(counts / x.size - BENFORD).mean())
    detail = {f"share_{d}": float(c / x.size) for d, c in zip(range(1, 10), counts, strict=True)}
    return WashTest(
        name=name, available=True, statistic=chi2, p_value=chi2_sf_even(chi2, 8), n=int(x.size),
        detail={"mad": mad, **detail},
        note="Pearson χ² (8 df) of the notional's first digit; Nigrini MAD > 0.015 is "
        "nonconformity",
    )  # fmt: skip


def lot_step(size: F64) -> float | None:
    """The coarsest power of ten every size is a whole multiple of (the quantity step).

    Examples
    --------
    >>> lot_step(np.array([0.002, 0.015, 1.2]))
    0.001
    >>> lot_step(np.array([0.1, math.pi])) is None
    True
    """
    x = size[np.isfinite(size) & (size > 0)]
    if x.size == 0:
        return None
    for k in range(9, -13, -1):
        q = x / 10.0**k
        # float error in q stays far below 1e-6 while q < 1e9; beyond that, no grid is shown
        if q.min() >= 1 - 1e-9 and q.max() < 1e9 and np.all(np.abs(q - np.rint(q)) < 1e-6):
            return float(10.0**k) if k < 0 else float(10**k)
    return None


def round_lot_test(size: F64, step: float | None = None) -> WashTest:
    """Prints at multiples of 100 steps against their ±5-step neighbours (exact binomial)."""
    name = TESTS[1]
    step = step if step is not None else lot_step(size)
    if step is None:
        return WashTest(
            name=name, available=False, note="not available: sizes are not on a decimal lot grid"
        )
    units = np.rint(size[np.isfinite(size) & (size > 0)] / step).astype(np.int64)
    rel = units % ROUND_STEPS
    dist = np.minimum(rel, ROUND_STEPS - rel)
    near = (dist <= NEIGHBOURS) & (units > NEIGHBOURS)
    at_round = int(np.count_nonzero(near & (dist == 0)))
    n = int(np.count_nonzero(near))
    if n < 20:
        return WashTest(name=name, available=False, n=n, note=_few(n, "near round lots"))
    p0 = 1.0 / (2 * NEIGHBOURS + 1)
    expected = (n - at_round) / (2 * NEIGHBOURS)
    return WashTest(
        name=name, available=True, statistic=at_round / max(expected, 1e-12),
        p_value=binom_sf(at_round, n, p0), n=n,
        detail={"at_round": float(at_round), "expected": expected, "step": step,
                "round_lot": step * ROUND_STEPS, "share_at_round": at_round / size.size},
        note=f"round lot = {ROUND_STEPS} steps of {step:g}; statistic = observed / smooth "
        "expectation; genuine traders round too",
    )  # fmt: skip


def tail_exponent(x: F64, *, candidates: int = 60) -> tuple[float, float, float, int, float]:
    """CSN fit of the survival tail: (ζ, standard error, x_min, n_tail, KS distance)."""
    x = np.sort(x[np.isfinite(x) & (x > 0)])
    if x.size < MIN_TAIL:
        return math.nan, math.nan, math.nan, int(x.size), math.nan
    logx = np.log(x)
    hi = x.size - MIN_TAIL
    starts = np.unique(np.linspace(0, hi, min(candidates, hi + 1)).astype(np.int64))
    best = (math.inf, math.nan, math.nan, 0, math.nan)
    for s in starts:
        s = int(np.searchsorted(x, x[s], side="left"))  # every tie of x_min is in the tail
        tail = logx[s:] - logx[s]
        n = tail.size
        total = float(tail.sum())
        if n < MIN_TAIL or total <= 0:
            continue
        zeta = n / total
        emp = np.arange(n) / n
        fit = 1.0 - np.exp(-zeta * tail)
        ks = float(np.max(np.abs(emp - fit)))
        if ks < best[0]:
            best = (ks, zeta, float(x[s]), n, zeta / math.sqrt(n))
    ks, zeta, xmin, n, se = best
    return zeta, se, xmin, n, ks


def tail_test(notional: F64, band: tuple[float, float] = TAIL_BAND) -> WashTest:
    """The notional's tail exponent against the genuine-market band (interval null)."""
    name = TESTS[2]
    zeta, se, xmin, n, ks = tail_exponent(notional)
    if not np.isfinite(zeta):
        return WashTest(name=name, available=False, n=n, note=_few(n, "in the tail"))
    lo, hi = band
    dist = max(lo - zeta, zeta - hi)
    return WashTest(
        name=name, available=True, statistic=zeta, p_value=normal_sf(dist / se), n=n,
        detail={"se": se, "x_min": xmin, "ks": ks, "band_lo": lo, "band_hi": hi},
        note=f"CSN/Hill ζ of P(X > x) ~ x^-ζ above x_min; null: ζ in [{lo:g}, {hi:g}]",
    )  # fmt: skip


def matched_pairs_test(
    ts_ns: I64,
    size: F64,
    taker_buy: npt.NDArray[np.bool_],
    *,
    pair_window_ns: int = 10**9,
    step: float | None = None,
) -> WashTest:
    """Consecutive opposite-side prints of equal size against random size assignment.

    Sizes are compared in whole lots of ``step`` when given (float noise of derived sizes,
    e.g. inverse contracts, cannot split equal lots), else to 12 decimals.
    """
    name = TESTS[3]
    n_all = int(size.size)
    if n_all < MIN_PRINTS:
        return WashTest(name=name, available=False, n=n_all, note=_few(n_all))
    order = np.argsort(ts_ns, kind="stable")
    t, s, b = ts_ns[order], size[order], taker_buy[order]
    lots = np.rint(s / step) if step is not None else np.round(s, 12)
    _, key = np.unique(lots, return_inverse=True)
    close = np.diff(t) <= pair_window_ns
    opposite = close & (b[1:] != b[:-1])
    same = key[1:] == key[:-1]
    observed = int(np.count_nonzero(opposite & same))
    counts = np.bincount(key).astype(np.float64)
    p_same = float((counts * (counts - 1)).sum() / (n_all * (n_all - 1)))
    expected = int(np.count_nonzero(opposite)) * p_same
    return WashTest(
        name=name, available=True, statistic=observed / max(expected, 1e-12),
        p_value=poisson_sf(observed, expected), n=int(np.count_nonzero(opposite)),
        detail={"observed": float(observed), "expected": expected, "p_same_size": p_same},
        note=f"equal-size, opposite-side consecutive prints within {pair_window_ns / 1e9:g} s; "
        "statistic = observed / expected",
    )  # fmt: skip


def _ranks(x: F64) -> F64:
    """Average ranks (1-based), ties sharing their mean rank."""
    order = np.argsort(x, kind="stable")
    sx = x[order]
    edges = np.flatnonzero(np.r_[True, sx[1:] != sx[:-1], True])
    mean_rank = (edges[:-1] + edges[1:] + 1) / 2.0
    ranks = np.empty(x.size)
    ranks[order] = np.repeat(mean_rank, np.diff(edges))
    return ranks


def mann_whitney_greater(a: F64, b: F64) -> tuple[float, float]:
    """One-sided Mann-Whitney U of ``a`` > ``b``: (U of a, normal-approximation p-value).

    Examples
    --------
    >>> u, p = mann_whitney_greater(np.arange(10.0) + 5, np.arange(10.0))
    >>> u, round(p, 4)
    (87.5, 0.0025)
    """
    n1, n2 = a.size, b.size
    r = _ranks(np.concatenate([a, b]))
    u = float(r[:n1].sum() - n1 * (n1 + 1) / 2)
    n = n1 + n2
    _, ties = np.unique(r, return_counts=True)
    var = n1 * n2 / 12.0 * ((n + 1) - float((ties**3 - ties).sum()) / (n * (n - 1)))
    if var <= 0:
        return u, 1.0
    z = (u - n1 * n2 / 2.0 - 0.5) / math.sqrt(var)  # continuity-corrected
    return u, normal_sf(z)


def turnover_test(name: str, turnover: Turnover | None, what: str) -> WashTest:
    """log(volume / ``what``) per bucket in the window against the history before it."""
    if turnover is None:
        return WashTest(name=name, available=False, note=f"not available: no {what} in the store")
    ok = (turnover.volume > 0) & (turnover.liquidity > 0)
    ratio = np.log(turnover.volume[ok] / turnover.liquidity[ok])
    win = ratio[turnover.in_window[ok]]
    hist = ratio[~turnover.in_window[ok]]
    if win.size < MIN_BUCKETS or hist.size < MIN_BUCKETS:
        return WashTest(
            name=name, available=False, n=int(win.size + hist.size),
            note=f"not available: {win.size} window and {hist.size} history buckets with "
            f"volume and {what} (needs {MIN_BUCKETS} of each)",
        )  # fmt: skip
    u, p = mann_whitney_greater(win, hist)
    shift = float(np.median(win) - np.median(hist))
    return WashTest(
        name=name, available=True, statistic=u, p_value=p, n=int(win.size + hist.size),
        detail={"window_buckets": float(win.size), "history_buckets": float(hist.size),
                "median_log_ratio_shift": shift, "ratio_multiple": math.exp(shift)},
        note=f"Mann-Whitney U (one-sided) of log(volume / {what}) per bucket, window vs history",
    )  # fmt: skip


def _few(n: int, where: str = "") -> str:
    return f"not available: {n} prints{' ' + where if where else ''} is too few"


# -- the assessment ------------------------------------------------------------------------
def assess(
    ts_ns: I64,
    notional: F64,
    size: F64,
    taker_buy: npt.NDArray[np.bool_],
    *,
    step: float | None = None,
    oi: Turnover | None = None,
    depth: Turnover | None = None,
    alpha: float = ALPHA,
    pair_window_ns: int = 10**9,
) -> WashAssessment:
    """Run every test on one venue's prints and correct the available ones together (Holm).

    ``notional`` (quote units) feeds the scale-free tests (first digit, tail); ``size`` is in
    the venue's lot unit (base units, or quote units for inverse contracts) for the round-lot
    and matched-pair tests.
    """
    raw = [
        benford_test(notional),
        round_lot_test(size, step),
        tail_test(notional),
        matched_pairs_test(ts_ns, size, taker_buy, pair_window_ns=pair_window_ns, step=step),
        turnover_test(TESTS[4], oi, "open interest"),
        turnover_test(TESTS[5], depth, "depth"),
    ]
    return corrected(raw, prints=int(size.size), alpha=alpha)


def corrected(raw: list[WashTest], *, prints: int, alpha: float = ALPHA) -> WashAssessment:
    """Holm-correct the available tests and mark the suspicious ones."""
    live = [t for t in raw if t.available and t.p_value is not None]
    adjusted = dict(
        zip((t.name for t in live), holm([t.p_value or 0.0 for t in live]), strict=True)
    )
    tests = [
        msgspec.structs.replace(t, p_holm=adjusted[t.name], suspicious=adjusted[t.name] < alpha)
        if t.name in adjusted
        else t
        for t in raw
    ]
    return WashAssessment(
        label=LABEL,
        correction=f"Holm step-down over {len(live)} available tests, family-wise α {alpha:g}",
        alpha=alpha,
        prints=prints,
        tests=tests,
        flagged=any(t.suspicious for t in tests),
        score=suspicion_score(tests),
        caveat=CAVEAT,
    )


def suspicion_score(tests: Sequence[WashTest]) -> float | None:
    """``wash_suspicion``: the share of available tests suspicious after correction (0-1).

    None when no test could run (not available, never 0). One named number per venue for a
    cross-asset ranking; the tests themselves say which regularity failed.

    Examples
    --------
    >>> t = [WashTest(name="a", available=True, suspicious=True),
    ...      WashTest(name="b", available=True), WashTest(name="c", available=False)]
    >>> suspicion_score(t)
    0.5
    """
    live = [t for t in tests if t.available]
    if not live:
        return None
    return sum(t.suspicious for t in live) / len(live)
