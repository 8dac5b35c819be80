"""The estimated liquidation map of one asset as of a time (``flushwatch map``).

:func:`flushwatch.report.assemble.assemble` gives the market (bounded at the as-of time by
the reader), the kernels in :mod:`flushwatch.analytics.liqmap` and
:mod:`flushwatch.analytics.stops` estimate, :func:`to_json` shapes the documented result.

``to_dict()`` shape (every number is an estimate; ``"estimate": true``)::

    {"asset", "estimate": true, "as_of_ts", "asof", "asof_ts", "price", "bars_used", "tiers",
     "forecast_skill": {"beats_baselines": false, "statement", "asset_statement",
                        "priced_prints", ...},                   # forecast_map.skill_for
     "sources": {series: description, "split": ..., "entry": ...}, "params": {...},
     "totals": {"long_usd", "short_usd"},
     "bands": {"long": [{"lo", "hi", "notional_usd", "distance_pct"}], "short": [...]},
     "cumulative": [{"move_pct", "long_usd_if_down", "short_usd_if_up"}],
     "bins": [{"price", "long_usd", "short_usd"}],      # non-empty bins only
     "stops": {"heuristic": true, "params": {...}, "clusters": [{"side", "level_price",
               "stop_price", "kind", "notional", "distance_pct", "heuristic"}]}}

``as_of_ts`` is the time asked; ``asof_ts`` the close of the last bar the map used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flushwatch.analytics.liqmap import LiqMapState
    from flushwatch.analytics.market import F64, MarketSeries
    from flushwatch.analytics.stops import StopCluster
    from flushwatch.store.asof import Reader

MOVES = (1.0, 2.0, 5.0, 10.0)
BAND_PCT = 0.5
BANDS_SHOWN = 6
MAX_SNAPSHOTS = 600  # heatmap columns in the HTML page


def _side_inputs(store: Reader, m: MarketSeries) -> tuple[F64 | None, F64 | None, dict[str, str]]:
    """Taker-buy share per bar (bars' taker volume, else Binance's taker ratio) and the
    long/short account ratio, aligned to the market's grid; None where the store has none."""
    import numpy as np
    import polars as pl

    from flushwatch.domain.records import Bar, LongShortRatio
    from flushwatch.domain.symbols import base_asset

    t0, t1 = int(m.ts[0]), int(m.ts[-1]) + m.step_s * 10**9
    notes: dict[str, str] = {}

    def mine(df: pl.DataFrame) -> pl.DataFrame:
        if df.height == 0:
            return df
        syms = [s for s in df.get_column("symbol").unique().to_list() if base_asset(s) == m.asset]
        return df.filter(pl.col("symbol").is_in(syms))

    def aligned(df: pl.DataFrame, col: str, at_close: bool) -> F64:
        """Bar values by exact bar start; state values: last one at or before the close."""
        df = df.group_by("ts_event").agg(pl.col(col).mean()).sort("ts_event")
        when = df.get_column("ts_event").to_numpy()
        vals = df.get_column(col).to_numpy().astype(np.float64)
        if at_close:
            i = np.searchsorted(when, m.ts + m.step_s * 10**9, side="right") - 1
            hit = i >= 0
        else:
            i = np.minimum(np.searchsorted(when, m.ts), when.size - 1)
            hit = when[i] == m.ts
        return np.asarray(np.where(hit, vals[np.maximum(i, 0)], np.nan), dtype=np.float64)

    taker: F64 | None = None
    bars = mine(store.read(Bar, market="perp", start_ns=t0, end_ns=t1, asset=m.asset))
    if bars.height:
        bars = bars.filter(
            (pl.col("interval_s") == m.step_s) & pl.col("taker_buy_quote").is_not_null()
        ).with_columns((pl.col("taker_buy_quote") / pl.col("volume_quote")).alias("share"))
    if bars.height:
        taker = aligned(bars, "share", at_close=False)
        notes["split"] = "taker-buy share of each bar's perp volume"
    ratios = mine(store.read(LongShortRatio, start_ns=t0 - 3600 * 10**9, end_ns=t1, asset=m.asset))
    ls: F64 | None = None
    for kind, use in (("taker_volume", "taker"), ("global_accounts", "ls")):
        rows = ratios.filter(pl.col("kind") == kind) if ratios.height else ratios
        if rows.height == 0:
            continue
        values = aligned(rows, "ratio", at_close=True)
        if use == "taker" and taker is None:
            taker = values / (1.0 + values)
            notes["split"] = "taker buy/sell volume ratio (long/short ratio dataset)"
        elif use == "ls":
            ls = values
            notes.setdefault("split", "long/short account ratio")
    return taker, ls, notes


def build(
    store: Reader,
    asset: str,
    *,
    exchange: str | None,
    start_ns: int | None,
    bins: int,
    snapshots: bool,
) -> tuple[MarketSeries, LiqMapState, list[StopCluster], dict[str, str]]:
    """Assemble the market from ``store`` (already bounded at the as-of time) and estimate
    its map after the last closed bar."""
    import numpy as np

    from flushwatch.analytics.levels import LevelParams
    from flushwatch.analytics.liqmap import LiqMapParams, build_map
    from flushwatch.analytics.liqmap_params import tiers_for
    from flushwatch.analytics.stops import StopParams, stop_clusters
    from flushwatch.errors import ConfigError
    from flushwatch.report.assemble import assemble

    m = assemble(store, asset, exchange=exchange, start_ns=start_ns)
    if m.oi_quote is None or not np.any(np.isfinite(m.oi_quote)):
        raise ConfigError(
            f"the liquidation map needs open interest, and the store has none for {m.asset} "
            "in this window (import an OI series, e.g. Binance Vision metrics or a vendor export)"
        )
    upto = m.n
    if upto < 2:
        raise ConfigError(f"the map of {m.asset} needs at least two closed bars before that time")
    taker, ls, notes = _side_inputs(store, m)
    every = max(1, -(-upto // MAX_SNAPSHOTS)) if snapshots else 0
    tiers = tiers_for(m.asset, m.sources.get("oi"))
    state = build_map(
        m.ts,
        m.open,
        m.high,
        m.low,
        m.close,
        m.oi_quote,
        LiqMapParams(n_bins=bins),
        tiers,
        taker_buy_share=taker,
        ls_ratio=ls,
        upto=upto,
        snapshot_every=every,
    )
    clusters = stop_clusters(m, upto - 1, StopParams(), LevelParams())
    notes |= {"tiers": tiers.source or "Binance BTCUSDT 2021 tiers"}
    return m, state, clusters, notes


def to_json(
    m: MarketSeries,
    state: LiqMapState,
    clusters: list[StopCluster],
    notes: dict[str, str],
    as_of_ts: int,
) -> dict[str, Any]:
    """The documented ``--json`` shape (see the module docstring)."""
    import msgspec
    import numpy as np

    from flushwatch.analytics.forecast_map import skill_for
    from flushwatch.analytics.liqmap import LiqMapParams, bands, map_at, moves_totals
    from flushwatch.analytics.stops import StopParams
    from flushwatch.domain.time import iso

    view = map_at(state)
    nz = np.flatnonzero((view.long > 0) | (view.short > 0))
    params = msgspec.to_builtins(LiqMapParams(n_bins=state.centres.size))
    return {
        "asset": m.asset,
        "estimate": True,
        "as_of_ts": as_of_ts,
        "as_of": iso(as_of_ts),
        "asof": iso(state.asof_ts),
        "asof_ts": state.asof_ts,
        "price": state.price,
        "bars_used": state.asof_index,
        "tiers": notes.get("tiers"),
        "sources": m.sources
        | {"split": notes.get("split", "50/50 (no taker flow or long/short ratio stored)")}
        | {"entry": "typical price (H+L+C)/3" if state.entry_source != "vwap" else "VWAP"},
        "params": params,
        "forecast_skill": skill_for(m.asset),  # measured, not per call: see forecast_map
        "totals": {"long_usd": float(view.long.sum()), "short_usd": float(view.short.sum())},
        "bands": {
            side: [
                {"lo": b.lo, "hi": b.hi, "notional_usd": b.notional, "distance_pct": b.distance_pct}
                for b in bands(view, side, BAND_PCT, BANDS_SHOWN)
            ]
            for side in ("long", "short")
        },
        "cumulative": [
            {"move_pct": pct, "long_usd_if_down": lo, "short_usd_if_up": hi}
            for pct, lo, hi in moves_totals(view, MOVES)
        ],
        "bins": [
            {
                "price": float(view.centres[i]),
                "long_usd": float(view.long[i]),
                "short_usd": float(view.short[i]),
            }
            for i in nz
        ],
        "stops": {
            "heuristic": True,
            "params": msgspec.to_builtins(StopParams()),
            "clusters": msgspec.to_builtins(clusters),
        },
    }
