"""Pre-flush conditions ("the trap"), per bar and at one time, and their backtest.

Three conditions from the seed article, each judged against the market's *own trailing*
history (causal: the window ends before the bar), so the same rule works for BTC and for a
thin alt:

* ``oi_elevated``: open interest (USD; coin units when USD is missing) at or above the
  ``oi_pct`` percentile of its previous ``oi_baseline_hours``.
* ``funding_overheated``: funding at or above the ``funding_pct`` percentile of its previous
  ``funding_baseline_hours`` *and* strictly above the interest floor (0.01 % per 8 h, scaled
  to the funding interval). Binance-style funding rests exactly on the floor in calm markets,
  so sitting on it is never "overheated".
* ``crowded_above_level``: the close is at most ``crowd_pct`` % above a support: the nearest
  round number below (step by price magnitude, see :func:`round_step`) or the lowest low of
  the previous ``prior_low_hours`` that is at least ``prior_low_skip_hours`` old (a level the
  market already bounced from, not the low of the current slide) — where stops and
  liquidation levels cluster.

:func:`trap_state` gives boolean arrays per bar; :func:`flags_before` and
:func:`backtest_flags` tell whether the flags were on before detected flushes, and how
often they are on anyway (the base rate), which is the honest way to judge a warning.
"""

from __future__ import annotations

import math
from typing import Annotated, Literal

import msgspec
import numpy as np

from flushwatch.analytics import rolling
from flushwatch.analytics.bars import hours_to_bars
from flushwatch.analytics.market import F64, I64, MarketSeries
from flushwatch.analytics.results import FlushEvent, FlushKind, TrapFlag
from flushwatch.analytics.rolling import trailing_count

FlagName = Literal["oi_elevated", "funding_overheated", "crowded_above_level"]
FLAG_NAMES: tuple[FlagName, ...] = ("oi_elevated", "funding_overheated", "crowded_above_level")


class TrapParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """Thresholds of the pre-flush conditions (hours and percent)."""

    oi_baseline_hours: Annotated[
        float, msgspec.Meta(gt=0, description="OI is compared with its own last 30 days.")
    ] = 720.0
    oi_pct: Annotated[
        float, msgspec.Meta(ge=0, le=100, description="OI percentile rank that counts as elevated.")
    ] = 90.0
    funding_baseline_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Funding baseline: 90 days, as in DOMAIN.md 2.4.")
    ] = 2160.0
    funding_pct: Annotated[
        float, msgspec.Meta(ge=0, le=100, description="Funding percentile that counts as hot.")
    ] = 90.0
    funding_floor_8h: Annotated[
        float, msgspec.Meta(ge=0, description="Interest floor, fraction per 8 h (Binance 0.01%).")
    ] = 0.0001
    min_history_share: Annotated[
        float,
        msgspec.Meta(gt=0, le=1, description="Share of a baseline window that must have data."),
    ] = 0.5
    crowd_pct: Annotated[
        float, msgspec.Meta(ge=0, description="Close within this % above support is crowded.")
    ] = 1.0
    round_step_units: Annotated[
        float,
        msgspec.Meta(gt=0, description="Round step = this × 10^(digits−2): 5 → BTC 65k, ETH 3.5k."),
    ] = 5.0
    prior_low_hours: Annotated[
        float, msgspec.Meta(gt=0, description="Prior-low support: lowest low of the last week.")
    ] = 168.0
    prior_low_skip_hours: Annotated[
        float,
        msgspec.Meta(ge=0, description="A prior low must be a day old: price bounced off it."),
    ] = 24.0


class FlagsBefore(msgspec.Struct, frozen=True, kw_only=True):
    """Which trap flags were on in the lookback window before one flush started."""

    start_ts: int
    kind: FlushKind
    on: list[FlagName]
    off: list[FlagName]
    not_available: list[FlagName]


class FlagBacktest(msgspec.Struct, frozen=True, kw_only=True):
    """How often a flag preceded flushes, against how often it is on at all."""

    name: FlagName
    events: int
    preceded: int
    hit_rate: float | None
    #: Share of all bars whose lookback window had the flag on (the rate by chance).
    base_rate: float | None


def round_step(price: float, units: float = 5.0) -> float:
    """Spacing of watched round numbers at this price: ``units × 10^(digits − 2)``.

    With ``units=5``: 10k–100k → 5,000; 1k–10k → 500; 1–10 → 0.5 — the levels a chart
    reader names ("65k", "3,500", "2.50"), coarse enough not to be everywhere.

    Examples
    --------
    >>> round_step(65_300.0), round_step(3_420.0), round_step(2.31)
    (5000.0, 500.0, 0.5)
    """
    return float(units * 10.0 ** (math.floor(math.log10(price)) - 1))


def _round_level_below(close: F64, units: float) -> F64:
    with np.errstate(divide="ignore", invalid="ignore"):
        step = units * 10.0 ** (np.floor(np.log10(close)) - 1)
        return np.asarray(np.floor(close / step) * step, dtype=np.float64)


def _rolling(
    x: F64, window: int, min_bars: int, fn: str, q: float = 50.0, *, finite_only: bool = True
) -> F64:
    """Trailing percentile rank of x_t ("rank"), percentile ("pct") or min ("min").

    O(n log n) (:mod:`flushwatch.analytics.rolling`), equal to the per-window NumPy
    computation (rank counts, ``nanpercentile``, ``nanmin``).
    """
    x = np.asarray(x, dtype=np.float64)
    out = np.full(x.shape[0], np.nan)
    enough = trailing_count(x, window) >= max(min_bars, 1)
    rows = np.flatnonzero(enough & np.isfinite(x) if finite_only else enough)
    if rows.size == 0:
        return out
    if fn == "rank":
        out[rows] = rolling.rank_pct(x, window, rows)
    elif fn == "pct":
        out[rows] = rolling.percentile(x, window, rows, q)
    else:
        out[rows] = rolling.extreme(x, window, largest=False)[rows]
    return out


def trap_values(m: MarketSeries, p: TrapParams | None = None) -> dict[str, F64]:
    """Return the per-bar numbers behind the flags (NaN = no verdict possible).

    Keys: ``oi_rank`` (percentile), ``funding``, ``funding_pct_value`` (trailing percentile),
    ``funding_threshold`` (max of it and the floor), ``round_level``, ``prior_low``,
    ``support`` (the nearer of the two below the close) and ``crowd_distance_pct``.
    OI and funding keys are absent when the series is not available.
    """
    p = p or TrapParams()
    out: dict[str, F64] = {}
    oi = m.oi_quote if m.oi_quote is not None else m.oi_base
    if oi is not None:
        w = max(1, hours_to_bars(p.oi_baseline_hours, m.step_s))
        out["oi_rank"] = _rolling(oi, w, math.ceil(w * p.min_history_share), "rank")
    if m.funding is not None:
        w = max(1, hours_to_bars(p.funding_baseline_hours, m.step_s))
        pct = _rolling(m.funding, w, math.ceil(w * p.min_history_share), "pct", p.funding_pct)
        floor = p.funding_floor_8h * (m.funding_interval_h / 8.0)
        out["funding"] = np.asarray(m.funding, dtype=np.float64)
        out["funding_threshold"] = np.where(np.isnan(pct), np.nan, np.maximum(pct, floor))
        out["funding_pct_value"] = pct
    skip = hours_to_bars(p.prior_low_skip_hours, m.step_s)
    w = max(1, hours_to_bars(p.prior_low_hours, m.step_s) - skip)
    lows = _rolling(m.low, w, math.ceil(w * p.min_history_share), "min", finite_only=False)
    prior_low = np.concatenate([np.full(min(skip, m.n), np.nan), lows[: m.n - skip]])
    round_below = _round_level_below(m.close, p.round_step_units)
    prior_ok = np.isfinite(prior_low) & (prior_low <= m.close)
    support = np.where(prior_ok, np.fmax(round_below, prior_low), round_below)
    out["round_level"] = round_below
    out["prior_low"] = prior_low
    out["support"] = support
    with np.errstate(divide="ignore", invalid="ignore"):
        out["crowd_distance_pct"] = (m.close - support) / support * 100.0
    return out


def trap_state(m: MarketSeries, p: TrapParams | None = None) -> dict[str, np.ndarray]:
    """Return one boolean array per available flag (False where no verdict is possible).

    A flag whose input series is not available is *absent*, never all-False.
    """
    p = p or TrapParams()
    v = trap_values(m, p)
    floor = p.funding_floor_8h * (m.funding_interval_h / 8.0)
    state: dict[str, np.ndarray] = {}
    with np.errstate(invalid="ignore"):
        if "oi_rank" in v:
            state["oi_elevated"] = np.asarray(v["oi_rank"] >= p.oi_pct)
        if "funding" in v:
            f = v["funding"]
            state["funding_overheated"] = np.asarray((f >= v["funding_pct_value"]) & (f > floor))
        state["crowded_above_level"] = np.asarray(
            (v["crowd_distance_pct"] >= 0) & (v["crowd_distance_pct"] <= p.crowd_pct)
        )
    return state


def _ordinal(value: float) -> str:
    n = round(value)
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def _oi_flag(v: dict[str, F64], i: int, ts: int, p: TrapParams) -> TrapFlag:
    if "oi_rank" not in v:
        value, text = None, "Open interest not available: cannot tell whether leverage is elevated."
    elif np.isnan(v["oi_rank"][i]):
        value, text = None, "Not enough OI history for its trailing baseline: not judged."
    else:
        value = float(v["oi_rank"][i])
        verdict = "elevated" if value >= p.oi_pct else "not elevated"
        text = (
            f"OI is at the {_ordinal(value)} percentile of its last {p.oi_baseline_hours / 24:.0f} "
            f"days (threshold {_ordinal(p.oi_pct)}): {verdict}."
        )
    fired = value is not None and value >= p.oi_pct
    return TrapFlag(
        name="oi_elevated", ts=ts, value=value, threshold=p.oi_pct, fired=fired, sentence=text
    )


def _funding_flag(v: dict[str, F64], i: int, ts: int, floor: float, p: TrapParams) -> TrapFlag:
    if "funding" not in v:
        text = "Funding not available: cannot tell whether longs are paying up."
        return TrapFlag(
            name="funding_overheated",
            ts=ts,
            value=None,
            threshold=floor,
            fired=False,
            sentence=text,
        )
    f, pct = float(v["funding"][i]), float(v["funding_pct_value"][i])
    if math.isnan(f) or math.isnan(pct):
        text = "Not enough funding history for its trailing baseline: not judged."
        value = None if math.isnan(f) else f
        return TrapFlag(
            name="funding_overheated",
            ts=ts,
            value=value,
            threshold=floor,
            fired=False,
            sentence=text,
        )
    fired = f >= pct and f > floor
    verdict = "overheated" if fired else "not overheated"
    text = (
        f"Funding {f * 100:.4f}% per interval vs its {p.funding_baseline_hours / 24:.0f}-day "
        f"{_ordinal(p.funding_pct)} percentile {pct * 100:.4f}% and the {floor * 100:.4f}% floor: "
        f"{verdict}."
    )
    return TrapFlag(
        name="funding_overheated",
        ts=ts,
        value=f,
        threshold=max(pct, floor),
        fired=fired,
        sentence=text,
    )


def _crowd_flag(m: MarketSeries, v: dict[str, F64], i: int, ts: int, p: TrapParams) -> TrapFlag:
    d, level = float(v["crowd_distance_pct"][i]), float(v["support"][i])
    if math.isnan(d):
        text = "No close at this bar: crowding not judged."
        return TrapFlag(
            name="crowded_above_level",
            ts=ts,
            value=None,
            threshold=p.crowd_pct,
            fired=False,
            sentence=text,
        )
    fired = 0 <= d <= p.crowd_pct
    kind = "round number" if level == float(v["round_level"][i]) else "prior low"
    verdict = "crowded above support" if fired else "not crowded at a level"
    text = (
        f"Close {m.close[i]:,.6g} sits {d:.2f}% above the {kind} {level:,.6g} "
        f"(within {p.crowd_pct:g}% counts): {verdict}."
    )
    return TrapFlag(
        name="crowded_above_level",
        ts=ts,
        value=d,
        threshold=p.crowd_pct,
        fired=fired,
        sentence=text,
    )


def trap_flags(m: MarketSeries, ts: int, p: TrapParams | None = None) -> list[TrapFlag]:
    """Return the three trap flags at the last bar at or before ``ts`` (e.g. a flush start).

    A missing series gives a flag with ``value=None``, ``fired=False`` and a sentence that
    says it is not available.
    """
    p = p or TrapParams()
    i = int(np.searchsorted(m.ts, ts, side="right")) - 1
    if i < 0:
        raise ValueError(f"ts {ts} is before the first bar {int(m.ts[0]) if m.n else None}")
    v = trap_values(m, p)
    bar_ts = int(m.ts[i])
    floor = p.funding_floor_8h * (m.funding_interval_h / 8.0)
    return [
        _oi_flag(v, i, bar_ts, p),
        _funding_flag(v, i, bar_ts, floor, p),
        _crowd_flag(m, v, i, bar_ts, p),
    ]


def flags_before(
    events: list[FlushEvent],
    state: dict[str, np.ndarray],
    ts: I64,
    step_s: int,
    lookback_hours: float,
) -> list[FlagsBefore]:
    """For each event, list the flags that were on in ``[start − lookback, start)``."""
    lb = max(1, hours_to_bars(lookback_hours, step_s))
    out = []
    for e in events:
        i = int(np.searchsorted(ts, e.start_ts, side="left"))
        lo = max(0, i - lb)
        on = [n for n in FLAG_NAMES if n in state and bool(np.any(state[n][lo:i]))]
        off = [n for n in FLAG_NAMES if n in state and n not in on]
        missing = [n for n in FLAG_NAMES if n not in state]
        out.append(
            FlagsBefore(start_ts=e.start_ts, kind=e.kind, on=on, off=off, not_available=missing)
        )
    return out


def backtest_flags(
    events: list[FlushEvent],
    state: dict[str, np.ndarray],
    ts: I64,
    step_s: int,
    lookback_hours: float,
) -> list[FlagBacktest]:
    """Share of events each flag preceded, next to its base rate over all bars."""
    lb = max(1, hours_to_bars(lookback_hours, step_s))
    before = flags_before(events, state, ts, step_s, lookback_hours)
    out = []
    for name in FLAG_NAMES:
        if name not in state:
            out.append(
                FlagBacktest(
                    name=name, events=len(events), preceded=0, hit_rate=None, base_rate=None
                )
            )
            continue
        c = np.concatenate([[0], np.cumsum(state[name].astype(np.int64))])
        idx = np.arange(lb, ts.shape[0] + 1)
        windows_on = (c[idx] - c[idx - lb]) > 0
        base = float(np.mean(windows_on)) if windows_on.size else None
        preceded = sum(name in b.on for b in before)
        hit = preceded / len(events) if events else None
        out.append(
            FlagBacktest(
                name=name, events=len(events), preceded=preceded, hit_rate=hit, base_rate=base
            )
        )
    return out
