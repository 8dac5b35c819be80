"""The fragility ranking: every asset's inputs gathered as of one time, then ranked like with like.

Point in time: every read goes through the workspace's as-of reader and starts a fixed
look-back before the as-of time, so the inputs are the same whether or not the store holds
later data. Each dataset is read once for all assets (not once per asset) and split in
memory. The price series is one kind for everyone: the (exchange, market, bar interval) of
trade bars that most of the asked assets have, perps preferred, so a 1-minute wick is never
ranked against an hourly one; an asset without it lacks every price input. Funding, OI and
depth come from that exchange too (OI and depth are divided by its volume); liquidations
from the store's buckets (often venue aggregates), else its prints, as a share of that volume.

The kernel (:mod:`flushwatch.analytics.fragility`) chooses the common inputs and ranks.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import msgspec

if TYPE_CHECKING:
    import polars as pl

    from flushwatch.analytics.fragility import (
        Apart,
        AssetInputs,
        FragilityParams,
        GroupSummary,
        InputSpec,
        Ranked,
    )
    from flushwatch.analytics.market import F64
    from flushwatch.store import SeriesInfo
    from flushwatch.store.asof import Reader

HOUR_NS = 3600 * 10**9
#: Datasets read once each (for all assets) before the per-asset inputs.
READS = 7
#: A series whose last bar closed more than this many bars before the as-of time is stale.
_STALE_BARS = 3
#: Funding older than this at the as-of time is stale (the slowest settlement is 8 h).
_FUNDING_STALE_NS = 9 * HOUR_NS
#: ``progress(step, done, total)``: six dataset reads, then one step per asset.
Progress = Callable[[str, int, int], None]


class FragilityRanking(msgspec.Struct, frozen=True, kw_only=True):
    """Assets ranked on the inputs they all have at ``as_of_ts``; the others listed apart."""

    as_of_ts: int
    bars: str
    inputs: list[InputSpec]
    used: list[str]
    method: str
    markets: list[Ranked]
    apart: list[Apart]
    groups: list[GroupSummary]
    notes: dict[str, list[str]]

    def to_dict(self) -> dict[str, Any]:
        """The ``fragility --json`` document."""
        from flushwatch.api.results import jsonable

        payload = [
            {**msgspec.to_builtins(f), "notes": self.notes.get(f.asset, [])} for f in self.markets
        ]
        apart = [
            {**msgspec.to_builtins(a), "notes": self.notes.get(a.asset, [])} for a in self.apart
        ]
        out: dict[str, Any] = jsonable(
            {
                "estimate": True,
                "as_of_ts": self.as_of_ts,
                "bars": self.bars,
                "method": self.method,
                "inputs_used": self.used,
                "inputs": self.inputs,
                "markets": payload,
                "apart": apart,
                "groups": self.groups,
            }
        )
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """One row per ranked market, one per market set apart."""
        from flushwatch.api.results import _table

        doc = self.to_dict()
        return {"markets": _table(doc["markets"]), "apart": _table(doc["apart"])}


def default_as_of(series: list[SeriesInfo], assets: list[str], share: float = 0.75) -> int | None:
    """The latest bar start by which at least ``share`` of ``assets`` still had bars.

    The store's newest bar would leave most assets stale when their files end on different
    days; this is the latest time a like-with-like ranking of most of them exists.

    Examples
    --------
    >>> from flushwatch.store import SeriesInfo
    >>> s = [SeriesInfo(dataset="bars", exchange="x", market="perp", symbol=f"{a}USDT",
    ...                 rows=1, first_ts=0, last_ts=t) for a, t in (("A", 9), ("B", 7), ("C", 5))]
    >>> default_as_of(s, ["A", "B", "C"], 0.6), default_as_of(s, ["A"], 0.6)
    (7, 9)
    """
    from flushwatch.domain.symbols import base_asset

    last: dict[str, int] = {}
    for s in series:
        a = base_asset(s.symbol)
        if s.dataset == "bars" and a in assets:
            last[a] = max(last.get(a, 0), s.last_ts)
    if not last:
        return None
    ends = sorted(last.values(), reverse=True)
    return ends[max(0, math.ceil(share * len(ends)) - 1)]


def fragility(
    store: Reader,
    assets: list[str],
    *,
    as_of_ns: int,
    params: FragilityParams | None = None,
    progress: Progress | None = None,
) -> FragilityRanking:
    """Gather every asset's inputs as of ``as_of_ns`` (one read per dataset) and rank them."""
    from flushwatch.analytics.fragility import INPUTS, METHOD, FragilityParams, rank_like_with_like

    p = params or FragilityParams()
    tick = progress or (lambda _label, _i, _n: None)
    frames = _read_all(store, assets, as_of_ns, p, tick)
    rows, bars = _inputs(frames, assets, as_of_ns, p, tick)
    rows = _with_wash(store, rows, frames["trades"], as_of_ns)
    out = rank_like_with_like(rows, p)
    tick("ranked", READS + len(assets), READS + len(assets))
    return FragilityRanking(
        as_of_ts=as_of_ns,
        bars=bars,
        inputs=list(INPUTS),
        used=out.inputs,
        method=METHOD,
        markets=out.ranked,
        apart=out.apart,
        groups=out.groups,
        notes={r.asset: r.notes for r in rows if r.notes},
    )


def _with_wash(
    store: Reader, rows: list[AssetInputs], trades: pl.DataFrame, at: int
) -> list[AssetInputs]:
    """Add ``wash_suspicion`` for the assets with trade prints in the 24 h before ``at``.

    Only those assets are assessed (the assessment reads their turnover history); the others
    lack the input, and the like-with-like choice drops it unless 3/4 of the assets have it.
    """
    import msgspec

    from flushwatch.api.wash import DEFAULT_WINDOW_S, wash_suspicion

    have = set(trades.get_column("asset").unique().to_list()) if trades.height else set()
    out = []
    for row in rows:
        score = (
            wash_suspicion(store, row.asset, as_of_ns=at, window_s=DEFAULT_WINDOW_S)
            if row.asset in have
            else None
        )
        if score is not None:
            row = msgspec.structs.replace(row, values={**row.values, "wash_suspicion": score})
        out.append(row)
    return out


def _read_all(
    store: Reader, assets: list[str], at: int, p: FragilityParams, tick: Progress
) -> dict[str, pl.DataFrame]:
    """One read per dataset, all symbols, bounded by the look-back; rows of ``assets`` only."""
    import polars as pl

    from flushwatch.domain.records import (
        Bar,
        DepthBand,
        Funding,
        Liquidation,
        LiquidationBucket,
        OpenInterest,
        Record,
        Trade,
    )
    from flushwatch.domain.symbols import base_asset

    bars_h = max(p.beta_window_h, p.vol_window_h, p.wick_window_h, p.volume_window_h, 24) + 2
    wanted = set(assets)
    spans: dict[str, tuple[type[Record], int]] = {
        "bars": (Bar, bars_h * HOUR_NS),
        "funding": (Funding, (p.funding_window + 2) * 8 * HOUR_NS),
        "oi": (OpenInterest, 2 * 24 * HOUR_NS),
        "depth": (DepthBand, 24 * HOUR_NS),
        "buckets": (LiquidationBucket, (p.volume_window_h + 1) * HOUR_NS),
        "prints": (Liquidation, p.volume_window_h * HOUR_NS),
        "trades": (Trade, 24 * HOUR_NS),
    }
    out: dict[str, pl.DataFrame] = {}
    for i, (key, (cls, back)) in enumerate(spans.items()):
        tick(f"reading {cls.dataset}", i, len(spans) + len(assets))
        df = store.read(cls, start_ns=at - back)
        if df.height:
            symbols = df.get_column("symbol").unique().to_list()
            names = pl.DataFrame(
                {"symbol": symbols, "asset": [base_asset(s) for s in symbols]},
                schema={"symbol": df.schema["symbol"], "asset": pl.String},
            )
            df = df.join(names, on="symbol").filter(pl.col("asset").is_in(wanted))
        else:
            df = df.with_columns(pl.lit(None, dtype=pl.String).alias("asset"))
        out[key] = df
    return out


def _choose_series(bars: pl.DataFrame, at: int) -> tuple[str, str, int] | None:
    """The (exchange, market, interval) of fresh trade bars most assets have; perps first."""
    import polars as pl

    fresh = (
        bars.filter(pl.col("price_kind") == "trade")
        .group_by("exchange", "market", "interval_s", "asset")
        .agg(pl.col("ts_event").max().alias("last"))
        .filter(
            pl.col("last") + pl.col("interval_s").cast(pl.Int64) * (1 + _STALE_BARS) * 10**9 > at
        )
        .group_by("exchange", "market", "interval_s")
        .agg(pl.len().alias("n"))
    )
    if not fresh.height:
        return None
    best = min(
        fresh.iter_rows(named=True),
        key=lambda r: (-r["n"], r["market"] != "perp", -r["interval_s"], r["exchange"]),
    )
    return str(best["exchange"]), str(best["market"]), int(best["interval_s"])


def _by_asset(df: pl.DataFrame) -> dict[str, pl.DataFrame]:
    """One frame per asset: its busiest symbol only (a BTCUSDT and a BTCUSDC perp are not mixed)."""
    import polars as pl

    if not df.height:
        return {}
    counts = df.group_by("asset", "symbol").agg(pl.len().alias("n"))
    pick = counts.sort(["asset", "n", "symbol"], descending=[False, True, False]).unique(
        "asset", keep="first"
    )
    keep = df.join(pick.select("asset", "symbol"), on=["asset", "symbol"])
    return {str(k[0]): g for k, g in keep.partition_by("asset", as_dict=True).items()}


def _quote_volume(df: pl.DataFrame) -> F64:
    """Quote volume per bar: the venue's, else base × close (freqtrade files carry only base)."""
    import numpy as np

    close = df.get_column("close").to_numpy().astype(np.float64)
    base = df.get_column("volume_base").cast(float).fill_null(float("nan")).to_numpy()
    quote = df.get_column("volume_quote").cast(float).fill_null(float("nan")).to_numpy()
    out: F64 = np.where(np.isfinite(quote), quote, base * close)
    return out


def _inputs(
    frames: dict[str, pl.DataFrame],
    assets: list[str],
    at: int,
    p: FragilityParams,
    tick: Progress,
) -> tuple[list[AssetInputs], str]:
    """Every asset's named inputs from the frames read once (absent = not available)."""
    import polars as pl

    from flushwatch.analytics.fragility import AssetInputs

    bars = frames["bars"]
    chosen = _choose_series(bars, at)
    exchange = None
    if chosen is None:
        label = "trade bars (none closed within 3 bars of the as-of time)"
        perp: dict[str, pl.DataFrame] = {}
        spot: dict[str, pl.DataFrame] = {}
        step = 3600
    else:
        exchange, market, step = chosen
        label = f"{exchange} {market} trade bars, {_step_label(step)}"
        same = bars.filter((pl.col("price_kind") == "trade") & (pl.col("interval_s") == step))
        perp = _by_asset(
            same.filter((pl.col("exchange") == exchange) & (pl.col("market") == market))
        )
        spot = _by_asset(same.filter(pl.col("market") == "spot")) if market == "perp" else {}
    btc = _returns(perp["BTC"], step) if "BTC" in perp else None
    # OI and depth are divided by this venue's volume: they must be this venue's too
    venue = pl.col("exchange") == exchange if exchange is not None else pl.lit(False)
    funding = _by_asset(frames["funding"].filter(pl.col("is_settled") & venue))
    oi = _by_asset(frames["oi"].filter(venue))
    depth = _by_asset(frames["depth"].filter(venue))
    buckets = _by_asset(frames["buckets"])
    prints = _by_asset(frames["prints"])
    rows = []
    for i, asset in enumerate(assets):
        tick(f"inputs of {asset}", READS + i, READS + len(assets))
        values: dict[str, float] = {}
        notes: list[str] = []
        vol_day = None
        bar = perp.get(asset)
        if bar is None:
            missing = label if chosen is None else f"{label} closed by the as-of time"
            notes.append(f"price inputs not available: no {missing}")
        else:
            vol_day = _price_inputs(values, bar, btc, spot.get(asset), at, step, p)
        fz = _funding_z(funding.get(asset), at, p)
        if fz is None:
            notes.append(
                f"funding z not available: no {exchange or 'venue'} rate settled within 9 h "
                "of the as-of"
            )
        else:
            values["funding_z"] = fz
        _structural(values, vol_day, oi.get(asset), depth.get(asset), buckets.get(asset),
                    prints.get(asset), at, p)  # fmt: skip
        rows.append(AssetInputs(asset=asset, values=values, volume_usd_day=vol_day, notes=notes))
    return rows, label


def _step_label(step: int) -> str:
    for unit, size in (("d", 86_400), ("h", 3600), ("m", 60)):
        if step % size == 0:
            return f"{step // size}{unit}"
    return f"{step}s"


def _returns(bar: pl.DataFrame, step: int) -> tuple[Any, Any]:
    from flushwatch.analytics.fragility import log_returns

    ts = bar.get_column("ts_event").to_numpy()
    close = bar.get_column("close").to_numpy()
    return log_returns(ts, close, step * 10**9)


def _price_inputs(
    values: dict[str, float],
    bar: pl.DataFrame,
    btc: tuple[Any, Any] | None,
    spot: pl.DataFrame | None,
    at: int,
    step: int,
    p: FragilityParams,
) -> float | None:
    """Wick, drawdown, volatility, beta, perp/spot volume; returns the daily quote volume."""
    import numpy as np

    from flushwatch.analytics.fragility import (
        beta,
        drawdown_pct,
        ratio,
        realised_vol_pct,
        wick_depth_pct,
    )

    ts = bar.get_column("ts_event").to_numpy()
    if ts[-1] + (1 + _STALE_BARS) * step * 10**9 <= at:
        return None
    low, high, close = (
        bar.get_column(c).to_numpy().astype(np.float64) for c in ("low", "high", "close")
    )
    qv = _quote_volume(bar)
    hours = (p.wick_window_h, p.vol_window_h, p.beta_window_h, p.volume_window_h, 24)
    since = {h: at - h * HOUR_NS for h in hours}
    # a bar counts in a window when it opened inside it (it closed by ``at``: the reader says so)
    w = ts >= since[p.wick_window_h]
    prev = np.concatenate(([np.nan], close[:-1]))
    prev = np.where(np.concatenate(([False], np.diff(ts) == step * 10**9)), prev, np.nan)
    _put(values, "wick_pct", wick_depth_pct(low[w], prev[w]))
    _put(values, "drawdown_24h_pct", drawdown_pct(high[ts >= since[24]], float(close[-1])))
    rts, r = _returns(bar, step)
    per_day = 86_400 / step
    vol_r = r[rts >= since[p.vol_window_h]]
    if vol_r.size >= 0.5 * p.vol_window_h * 3600 / step:
        _put(values, "realised_vol_pct", realised_vol_pct(vol_r, per_day))
    if btc is not None:
        keep = rts >= since[p.beta_window_h]
        common, ia, ib = np.intersect1d(rts[keep], btc[0], return_indices=True)
        if common.size >= 0.5 * p.beta_window_h * 3600 / step:
            _put(values, "beta_btc", beta(r[keep][ia], btc[1][ib]))
    day = ts >= since[p.volume_window_h]
    perp_vol = float(np.nansum(qv[day])) if np.isfinite(qv[day]).any() else None
    if spot is not None and perp_vol is not None:
        sts = spot.get_column("ts_event").to_numpy()
        sqv = _quote_volume(spot)[sts >= since[p.volume_window_h]]
        if sts[-1] + (1 + _STALE_BARS) * step * 10**9 > at and np.isfinite(sqv).any():
            _put(values, "perp_spot_volume", ratio(perp_vol, float(np.nansum(sqv))))
    month = ts >= since[p.beta_window_h]
    if not np.isfinite(qv[month]).any():
        return None
    return float(np.nansum(qv[month])) / (p.beta_window_h / 24)


def _funding_z(df: pl.DataFrame | None, at: int, p: FragilityParams) -> float | None:
    from flushwatch.analytics.fragility import funding_z

    if df is None or not df.height:
        return None
    if int(df.get_column("ts_event").max()) + _FUNDING_STALE_NS < at:  # type: ignore[arg-type]
        return None
    return funding_z(df.get_column("rate").to_numpy(), p.funding_window, p.funding_sd_floor)


def _structural(
    values: dict[str, float],
    vol_day: float | None,
    oi: pl.DataFrame | None,
    depth: pl.DataFrame | None,
    buckets: pl.DataFrame | None,
    prints: pl.DataFrame | None,
    at: int,
    p: FragilityParams,
) -> None:
    """OI over volume and depth, liquidations over volume, where the store holds them."""
    import polars as pl

    from flushwatch.analytics.fragility import ratio

    vol = None if vol_day is None else vol_day * p.volume_window_h / 24
    oi_usd = None
    if oi is not None:
        known = oi.filter(
            pl.col("oi_quote").is_not_null() & (pl.col("ts_event") > at - 24 * HOUR_NS)
        )
        if known.height:
            oi_usd = float(known.get_column("oi_quote")[-1])
    _put(values, "oi_to_volume", ratio(oi_usd, vol))
    if depth is not None and depth.height:
        last = depth.filter(pl.col("ts_event") == depth.get_column("ts_event").max())
        band = last.filter((pl.col("pct").abs() - p.near_pct).abs() < 1e-9)
        if band.filter(pl.col("pct") < 0).height and band.filter(pl.col("pct") > 0).height:
            _put(values, "oi_to_depth", ratio(oi_usd, float(band.get_column("notional").sum())))
    liq = None
    since = at - p.volume_window_h * HOUR_NS
    if buckets is not None and buckets.height:
        b = buckets.filter(pl.col("ts_event") >= since)
        liq = float(b.get_column("long_usd").sum()) + float(b.get_column("short_usd").sum())
    elif prints is not None and prints.height:
        liq = float(prints.filter(pl.col("ts_event") >= since).get_column("notional").sum())
    _put(values, "liq_to_volume", ratio(liq, vol))


def _put(values: dict[str, float], name: str, value: float | None) -> None:
    if value is not None:
        values[name] = value
