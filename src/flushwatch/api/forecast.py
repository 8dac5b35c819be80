"""The map as an honest forecast (``backtest-map --protocol forecast``; issue 13).

:mod:`flushwatch.analytics.forecast_map` holds the protocol and its scores; this module runs
the map once per prior setting over the whole (as-of bounded) series, reads it at each issue
time as it goes by (no snapshot kept: memory flat in history, issue 16), scores every
setting and the baselines on the same fixed bin sets, and then reports, per side:

* ``forecast.<side>``: walk-forward, every test window scored with the map setting that did
  best on the days before it (out of sample), against the four baselines, with the paired
  block-bootstrap interval of map − best baseline;
* ``holdout.<side>``: the last third of days, scored with the setting chosen on the first
  two thirds;
* ``sensitivity``: every setting's share on all days (descriptive, in sample).

``statement`` says in one sentence whether the map beats the baselines — and says so when it
does not. The map's price grid comes from the first bar's open (causal), as in
:mod:`flushwatch.api.backtest`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, Literal

import msgspec

from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.analytics.forecast_map import DayScores, ForecastParams, IssueSet
    from flushwatch.analytics.liqmap import LiqMapParams
    from flushwatch.analytics.market import F64, MarketSeries
    from flushwatch.store.asof import Reader

#: Leverage mixes of the sensitivity grid (weights on the default buckets 2..125x).
LEVERAGE_MIXES: dict[str, tuple[float, ...]] = {
    "default": (0.10, 0.15, 0.20, 0.20, 0.12, 0.08, 0.07, 0.04, 0.03, 0.01),
    "low": (0.25, 0.25, 0.25, 0.15, 0.05, 0.03, 0.01, 0.005, 0.004, 0.001),
    "high": (0.02, 0.03, 0.05, 0.15, 0.20, 0.15, 0.15, 0.10, 0.10, 0.05),
}
HALF_LIVES = (0.0, 168.0)
POSITION_NOTIONALS = (10_000.0, 1_000_000.0)
#: How a fall in OI closes mapped positions (:class:`~flushwatch.analytics.liqmap.LiqMapParams`).
CLOSURES: tuple[Literal["own", "pro_rata"], ...] = ("pro_rata", "own")


def settings_grid() -> list[tuple[str, LiqMapParams]]:
    """The prior settings tried (the default first: ties keep it)."""
    from flushwatch.analytics.liqmap import LiqMapParams

    out = []
    for cl in CLOSURES:
        for mix, w in LEVERAGE_MIXES.items():
            for hl in HALF_LIVES:
                for pn in POSITION_NOTIONALS:
                    name = f"lev={mix},half_life={hl:g}h,position={pn:,.0f},closures={cl}"
                    lp = LiqMapParams(
                        weights=w, half_life_hours=hl, position_notional=pn, closures=cl
                    )
                    out.append((name, lp))
    return out


class Prints(msgspec.Struct, frozen=True, kw_only=True):
    """Priced liquidation prints of one asset: time (ns), side, price and USD notional."""

    ts: Any  # I64
    long: Any  # bool array: True = long position liquidated
    price: Any  # F64
    usd: Any  # F64
    source: str


class ForecastResult(msgspec.Struct, frozen=True, kw_only=True):
    """The forecast protocol's result (``forecast`` in ``backtest-map --json``)."""

    asset: str
    estimate: bool = True
    protocol: dict[str, Any]
    realized_source: str
    start: str
    end: str
    long: Any  # SideForecast
    short: Any
    holdout: dict[str, Any]
    walk_forward: list[dict[str, Any]]
    sensitivity: list[dict[str, Any]]
    beats_every_baseline: bool
    statement: str
    notes: list[str]


def _aligned(market: MarketSeries, cad_s: int) -> MarketSeries:
    import numpy as np

    from flushwatch.api.backtest import from_first_oi

    market = from_first_oi(market)
    hit = np.flatnonzero(market.ts % (cad_s * 10**9) == 0)
    if hit.size == 0:
        raise ConfigError(f"{market.asset}: no bar starts on the forecast cadence")
    return market.slice(int(hit[0]), market.n)


def _realized(
    m: MarketSeries, sets: IssueSet, side: str, hb: int, prints: Prints | None
) -> tuple[list[F64], list[float]]:
    import numpy as np

    from flushwatch.analytics.forecast_map import (
        bucket_ranges,
        realized_from_buckets,
        realized_from_prints,
    )

    edges = sets.long_edges if side == "long" else sets.short_edges
    per, out = [], []
    ib = max(1, (m.liq_interval_s or m.step_s) // m.step_s)
    low, high = bucket_ranges(m.low, m.high, ib)
    for j, i in enumerate(sets.index.tolist()):
        if prints is not None:
            t0 = int(m.ts[i])
            t1 = t0 + hb * m.step_s * 10**9
            sel = (prints.ts >= t0) & (prints.ts < t1)
            sel &= prints.long if side == "long" else ~prints.long
            r, o = realized_from_prints(edges[j], prints.price[sel], prints.usd[sel])
        else:
            liq = m.liq_long if side == "long" else m.liq_short
            assert liq is not None
            sl = slice(i, i + hb)
            r, o = realized_from_buckets(edges[j], low[sl], high[sl], liq[sl])
        per.append(np.asarray(r, np.float64))
        out.append(o)
    return per, out


def _map_preds(
    m: MarketSeries, sets: IssueSet, lp: LiqMapParams, every: int
) -> dict[str, tuple[list[F64], list[F64]]]:
    """Per side: the map's notional and map × reach on each issue's bin set."""
    import numpy as np

    from flushwatch.analytics.forecast_map import reach_probability, rebin
    from flushwatch.analytics.liqmap import build_map
    from flushwatch.analytics.liqmap_params import tiers_for
    from flushwatch.api.backtest import _fill_gaps, causal_edges

    assert m.oi_quote is not None
    first = float(m.open[np.flatnonzero(np.isfinite(m.open))[0]])
    edges = causal_edges(first, lp.n_bins, lp.range_pct)
    o, h, lo, c = _fill_gaps(m)
    # Issue j reads the map at the start of bar (index // every) * every; each is rebinned
    # onto its sets as the map goes by, so no snapshot is kept (memory flat in history).
    at: dict[int, list[int]] = {}
    for j, i in enumerate(sets.index.tolist()):
        at.setdefault((i // every) * every, []).append(j)
    got: dict[str, dict[int, tuple[F64, F64]]] = {"long": {}, "short": {}}

    def sink(t: int, long: F64, short: F64, g: float) -> None:
        for j in at.get(t, ()):
            for side, row in (("long", long), ("short", short)):
                set_edges = (sets.long_edges if side == "long" else sets.short_edges)[j]
                mass = rebin(edges, row * g, set_edges)
                reach = reach_probability(set_edges, float(sets.ref[j]), float(sets.sigma[j]))
                got[side][j] = (mass, mass * reach)

    build_map(
        m.ts,
        o,
        h,
        lo,
        c,
        m.oi_quote,
        lp,
        tiers_for(m.asset, m.sources.get("oi")),
        edges=edges,
        sink=sink,
        accounting=False,
    )
    out: dict[str, tuple[list[F64], list[F64]]] = {}
    for side, per in got.items():
        rows = [per[j] for j in range(sets.index.shape[0])]
        out[side] = ([x for x, _ in rows], [y for _, y in rows])
    return out


def _side_doc(s: Any) -> dict[str, Any]:
    from flushwatch.api.results import jsonable

    doc: dict[str, Any] = jsonable(s)
    return doc


def _statement(asset: str, long: Any, short: Any, source: str) -> tuple[bool, str]:
    def pct(x: float) -> str:
        return f"{100 * x:.1f}%" if math.isfinite(x) else "n/a"

    parts = []
    for s in (long, short):
        if s.days == 0:
            parts.append(f"{s.side}: no day with realized liquidations in the set")
            continue
        parts.append(
            f"{s.side}: map {pct(s.map_share)} vs {s.best_baseline} "
            f"{pct(s.baselines[s.best_baseline])}"
            f" (map − best {100 * s.diff:+.1f} pp, 95% CI {100 * s.diff_ci_low:+.1f} to "
            f"{100 * s.diff_ci_high:+.1f} pp, {s.days} days)"
        )
    beats = bool(long.beats_every_baseline and short.beats_every_baseline)
    head = (
        f"{asset}: the map beats every baseline out of sample on both sides"
        if beats
        else f"{asset}: the map does NOT beat the simple baselines out of sample "
        "(the interval of map − best baseline is not above zero on both sides); "
        "read it as positioning context, not as a forecast of where liquidations happen"
    )
    if long.days == 0 and short.days == 0:
        head = (
            f"{asset}: nothing to score out of sample (no window with realized liquidations "
            "after the walk-forward's training windows); no skill is shown or claimed"
        )
    return beats, f"{head}. " + "; ".join(parts) + f". Realized USD: {source}."


def _restrict(sets: IssueSet, keep: Any) -> IssueSet:
    names = ("index", "ts", "ref", "sigma", "low24", "high24", "long_edges", "short_edges")
    return msgspec.structs.replace(sets, **{f: getattr(sets, f)[keep] for f in names})


def _source(
    m: MarketSeries, sets: IssueSet, hb: int, prints: Prints | None
) -> tuple[IssueSet, str, list[str]]:
    """Keep the issues the realized source covers; say what the source is."""
    import numpy as np

    from flushwatch.domain.time import iso

    if prints is None:
        span = (
            f"the low-high range of the {m.liq_interval_s / 3600:g} h each bucket covers"
            if m.liq_interval_s and m.liq_interval_s > m.step_s
            else "each bar's low-high range"
        )
        text = f"bucket totals spread uniformly over {span} (synthetic: the buckets carry no price)"
        return sets, text, []
    t_first, t_last = int(np.min(prints.ts)), int(np.max(prints.ts))
    t0 = m.ts[sets.index]
    when = np.sort(np.asarray(prints.ts, np.int64))
    held = np.searchsorted(when, t0 + hb * m.step_s * 10**9) - np.searchsorted(when, t0)
    keep = held > 0
    note = (
        f"realized USD from priced prints ({prints.source}) between {iso(t_first)} and "
        f"{iso(t_last)}: only the {int(keep.sum())} windows holding at least one print are "
        "scored (the prints are sparse: a window without any is no data, not zero)"
    )
    from flushwatch.analytics.forecast_map import PRINTS_NOTE

    text = f"priced liquidation prints at their own price ({prints.source})"
    return _restrict(sets, keep), text, [note, PRINTS_NOTE]


def _oos(
    ss: list[DayScores], starts: list[int], ends: list[int], test: slice
) -> tuple[DayScores, list[int], list[int]]:
    """Map models walk-forward over the windows; the scores restricted to ``test``."""
    from flushwatch.analytics.forecast_map import DayScores, walk_forward

    tot = ss[0].total
    cap = dict(ss[0].captured)
    chosen: dict[str, list[int]] = {}
    for model in ("map", "map_x_reach"):
        cap[model], chosen[model] = walk_forward([s.captured[model] for s in ss], tot, starts, ends)
    sub = DayScores(
        total=tot[test], outside=ss[0].outside[test], captured={k: v[test] for k, v in cap.items()}
    )
    return sub, chosen["map"], chosen["map_x_reach"]


def _sensitivity(
    grid: list[tuple[str, LiqMapParams]], scores: dict[str, list[DayScores]]
) -> list[dict[str, Any]]:
    rows = []
    for k, (name, lp) in enumerate(grid):
        row: dict[str, Any] = {
            "setting": name,
            "in_sample": True,
            "params": {
                "leverage_weights": list(lp.weights),
                "half_life_hours": lp.half_life_hours,
                "position_notional": lp.position_notional,
                "closures": lp.closures,
            },
        }
        for side in ("long", "short"):
            s = scores[side][k]
            t = float(s.total.sum())
            for model in ("map", "map_x_reach"):
                v = float(s.captured[model].sum()) / t if t > 0 else math.nan
                row[f"{side}_{model}_share"] = v
        rows.append(row)
    return rows


def _check(market: MarketSeries, p: ForecastParams, prints: Prints | None) -> None:
    import numpy as np

    if market.oi_quote is None or not np.any(np.isfinite(market.oi_quote)):
        raise ConfigError(f"{market.asset}: the map needs open interest and the store has none")
    if prints is None and (market.liq_long is None or market.liq_short is None):
        raise ConfigError(
            f"{market.asset}: no realized liquidations (buckets or priced prints) to score on"
        )
    if round(p.cadence_hours * 3600) % market.step_s or round(p.horizon_hours * 3600) % (
        market.step_s
    ):
        raise ConfigError("cadence and horizon must be whole multiples of the bar size")


def forecast_market(
    market: MarketSeries,
    params: ForecastParams | None = None,
    prints: Prints | None = None,
) -> tuple[ForecastResult, dict[str, Any]]:
    """Run the protocol on one market; returns the result and per-issue series for the chart."""
    from flushwatch.analytics.forecast_map import (
        BASELINES,
        ForecastParams,
        issue_set,
        score_issues,
        summarize,
        windows,
    )
    from flushwatch.domain.time import iso

    p = params or ForecastParams()
    _check(market, p, prints)
    cad_s = round(p.cadence_hours * 3600)
    m = _aligned(market, cad_s)
    every = cad_s // market.step_s
    hb = round(p.horizon_hours * 3600) // market.step_s
    sets, source, notes = _source(
        m, issue_set(m.ts, m.high, m.low, m.close, m.step_s, p), hb, prints
    )
    n = int(sets.index.shape[0])
    if n < 2:
        raise ConfigError(f"{market.asset}: fewer than two forecast days with data to score")
    grid = settings_grid()
    realized = {s: _realized(m, sets, s, hb, prints) for s in ("long", "short")}
    scores: dict[str, list[DayScores]] = {"long": [], "short": []}
    for _, lp in grid:
        preds = _map_preds(m, sets, lp, every)
        for side in ("long", "short"):
            r, o = realized[side]
            plain, reach = preds[side]
            scores[side].append(
                score_issues(sets, side, r, o, {"map": plain, "map_x_reach": reach}, p.quantile)
            )
    starts, ends, hold = windows(n, p)
    dpi = p.cadence_hours / 24.0
    out: dict[str, Any] = {}
    hold_doc: dict[str, Any] = {"start": iso(int(sets.ts[hold])) if hold < n else None}
    wf_doc: list[dict[str, Any]] = [
        {"start": iso(int(sets.ts[a])), "end": iso(int(sets.ts[b - 1]) + hb * m.step_s * 10**9)}
        for a, b in zip(starts, ends, strict=True)
    ]
    series: dict[str, Any] = {"ts": sets.ts[starts[0] :].tolist() if starts else []}
    for side in ("long", "short"):
        sub, ch_map, ch_reach = _oos(
            scores[side], starts, ends, slice(starts[0] if starts else n, n)
        )
        out[side] = summarize(side, sub, p, days_per_issue=dpi)
        for w, k1, k2 in zip(wf_doc, ch_map, ch_reach, strict=True):
            w[f"{side}_map_setting"], w[f"{side}_map_x_reach_setting"] = grid[k1][0], grid[k2][0]
        hsub, h_map, h_reach = _oos(scores[side], [hold], [n], slice(hold, n))
        hold_doc[side] = _side_doc(summarize(side, hsub, p, days_per_issue=dpi))
        hold_doc[f"{side}_map_setting"] = grid[h_map[0]][0]
        hold_doc[f"{side}_map_x_reach_setting"] = grid[h_reach[0]][0]
        series[f"{side}_total"] = sub.total.tolist()
        for key in ("map", "map_x_reach", *BASELINES):
            series[f"{side}_{key}"] = sub.captured[key].tolist()
    beats, text = _statement(market.asset, out["long"], out["short"], source)
    if prints is not None:
        from flushwatch.analytics.forecast_map import PRINTS_NOTE

        text = f"{text} {PRINTS_NOTE}"
    protocol = msgspec.to_builtins(p) | {
        "issued_at": "00:00 UTC and every cadence_hours after",
        "bin_set": "k_sigma × trailing σ (log) around the last close before the issue time",
        "settings_tried": len(grid),
    }
    notes.append(
        "map settings are chosen per side on earlier days only (walk-forward windows, "
        "hold-out); the baselines have no parameters"
    )
    from flushwatch.analytics.liqmap_params import tiers_for

    tiers = tiers_for(m.asset, m.sources.get("oi")).source
    notes.append(
        f"the map is estimated with the tiers of {tiers} and the store's open interest; the "
        "realized liquidations may come from another venue set"
    )
    return (
        ForecastResult(
            asset=market.asset,
            protocol=protocol,
            realized_source=source,
            start=iso(int(sets.ts[starts[0]])) if starts else "",
            end=iso(int(sets.ts[-1]) + hb * m.step_s * 10**9),
            long=out["long"],
            short=out["short"],
            holdout=hold_doc,
            walk_forward=wf_doc,
            sensitivity=_sensitivity(grid, scores),
            beats_every_baseline=beats,
            statement=text,
            notes=notes,
        ),
        series,
    )


def prints_from_store(reader: Reader, asset: str, t0: int, t1: int) -> Prints | None:
    """The store's priced liquidation prints of ``asset`` in ``[t0, t1)``, or None."""
    import numpy as np
    import polars as pl

    from flushwatch.domain.records import Liquidation
    from flushwatch.domain.symbols import base_asset

    df = reader.read(Liquidation, start_ns=t0, end_ns=t1, asset=asset)
    if df.height == 0:
        return None
    syms = [s for s in df.get_column("symbol").unique().to_list() if base_asset(s) == asset]
    df = df.filter(pl.col("symbol").is_in(syms) & (pl.col("price") > 0) & (pl.col("notional") > 0))
    if df.height == 0:
        return None
    venues = ", ".join(sorted(df.get_column("exchange").unique().to_list()))
    return Prints(
        ts=df.get_column("ts_event").to_numpy().astype(np.int64),
        long=(df.get_column("side") == "long").to_numpy(),
        price=df.get_column("price").to_numpy().astype(np.float64),
        usd=df.get_column("notional").to_numpy().astype(np.float64),
        source=f"{venues} prints, {df.height} rows",
    )


def run(
    reader: Reader,
    asset: str,
    *,
    exchange: str | None,
    step_s: int | None,
    params: ForecastParams,
    realized: str = "auto",
) -> tuple[MarketSeries, ForecastResult, dict[str, Any]]:
    """Assemble the market from ``reader`` (as-of bounded) and run the forecast protocol.

    ``realized``: ``"buckets"`` (liquidation totals per bar), ``"prints"`` (priced prints in
    the store) or ``"auto"`` (buckets when the market has them, else prints).
    """
    from flushwatch.report.assemble import assemble

    if realized not in ("auto", "buckets", "prints"):
        raise ConfigError(f"realized {realized!r}: use auto, buckets or prints")
    m = assemble(reader, asset, exchange=exchange, step_s=step_s)
    has_buckets = m.liq_long is not None and m.liq_short is not None
    prints = None
    if realized == "prints" or (realized == "auto" and not has_buckets):
        prints = prints_from_store(reader, m.asset, int(m.ts[0]), int(m.ts[-1]) + m.step_s * 10**9)
        if prints is None:
            raise ConfigError(f"{m.asset}: the store holds no priced liquidation prints here")
    res, series = forecast_market(m, params, prints)
    return m, res, series
