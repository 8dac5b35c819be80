"""The cascade: the store, the liquidation map and a depth curve
composed, and the cascade kernels run (all outputs are estimates).

Depth, in order of preference: the order book rebuilt from the store's ``book`` rows
(snapshot + diffs, at most ``BOOK_MAX_AGE_NS`` before the time asked), else the store's depth
bands, else the square-root-law model calibrated on the price bars (labelled "model", an
estimate). The liquidation map comes from :mod:`flushwatch.analytics.liqmap` with its
documented defaults and the tiers of the venue whose OI it spreads (``tiers_for``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl

    from flushwatch.analytics.cascade_core import Direction
    from flushwatch.analytics.depth import DepthCurve, Side
    from flushwatch.analytics.market import MarketSeries
    from flushwatch.api.results import Cascade
    from flushwatch.store.asof import Reader

BOOK_MAX_AGE_NS = 3600 * 10**9  # a book older than an hour is not the market's state
_MODEL_DAYS = 30  # bars used to estimate σ_D and V_D for the square-root model
CURVE_SHOCKS = (0.5, 1.0, 2.0, 3.0, 5.0, 8.0, 10.0, 15.0)
THRESHOLDS = (2.0, 5.0, 10.0, 15.0, 20.0)


class MapArrays:
    """The liquidation map as plain arrays, with where it came from."""

    def __init__(
        self, edges: Any, long: Any, short: Any, price: float, note: str, stops: tuple[Any, Any]
    ) -> None:
        self.edges, self.long, self.short, self.price, self.note = edges, long, short, price, note
        #: Heuristic stop-loss mass per bin: (longs' stops, below price; shorts' stops, above).
        self.long_stops, self.short_stops = stops


def parse_shock(text: str) -> tuple[Direction, float | None, float | None]:
    """``-3%`` → (down, 3.0, None); ``+2%`` → up; ``-5e6usd`` / ``-5000000$`` → USD.

    Examples
    --------
    >>> parse_shock("-3%"), parse_shock("+1.5%"), parse_shock("-2e6usd")
    (('down', 3.0, None), ('up', 1.5, None), ('down', None, 2000000.0))
    """
    from flushwatch.errors import ConfigError

    t = text.strip().lower().replace(",", "").replace("_", "")
    usd = t.endswith(("usd", "$"))
    num = t.removesuffix("%").removesuffix("usd").removesuffix("$")
    try:
        value = float(num)
    except ValueError:
        raise ConfigError(
            f"--shock {text!r}: give a signed move like -3% (down) or +2% (up), "
            "or signed USD of market orders like -5e6usd"
        ) from None
    if value == 0 or not abs(value) < float("inf"):
        raise ConfigError(f"--shock {text!r}: the shock must be non-zero and finite")
    direction: Direction = "down" if value < 0 else "up"
    return (direction, None, abs(value)) if usd else (direction, abs(value), None)


def _rows_for(store: Reader, cls: Any, asset: str, end_ns: int) -> pl.DataFrame:
    import polars as pl

    from flushwatch.domain.symbols import base_asset

    df = store.read(cls, end_ns=end_ns + 1, asset=asset)
    if df.height == 0:
        return df
    mine = [s for s in df.get_column("symbol").unique().to_list() if base_asset(s) == asset]
    df = df.filter(pl.col("symbol").is_in(mine) & (pl.col("market") == "perp"))
    if df.height == 0:
        return df
    best = df.group_by(["exchange", "symbol"]).len().sort("len", descending=True).row(0)
    return df.filter((pl.col("exchange") == best[0]) & (pl.col("symbol") == best[1]))


def book_curve(store: Reader, asset: str, at_ns: int, side: Side) -> DepthCurve | None:
    """Depth curve from the order book rebuilt at ``at_ns``, or None without a fresh book."""
    import numpy as np
    import polars as pl

    from flushwatch.analytics.depth import curve_from_book, rebuild_book
    from flushwatch.domain.records import BookUpdate

    df = _rows_for(store, BookUpdate, asset.upper(), at_ns)
    snaps = df.filter(pl.col("is_snapshot")) if df.height else df
    if (
        snaps.height == 0
        or at_ns - int(df.get_column("ts_event").to_numpy().max()) > BOOK_MAX_AGE_NS
    ):
        return None

    def col(name: str, dtype: Any = np.float64) -> Any:
        return df.get_column(name).fill_null(-1).to_numpy().astype(dtype)

    book = rebuild_book(
        at_ns,
        col("ts_event", np.int64),
        (df.get_column("side") == "bid").to_numpy(),
        col("price"),
        col("qty"),
        df.get_column("is_snapshot").to_numpy(),
        col("update_id", np.int64),
        col("first_update_id", np.int64),
        col("prev_update_id", np.int64),
    )
    curve = curve_from_book(book, side)
    sym = f"{df.get_column('exchange')[0]} {df.get_column('symbol')[0]}"
    gaps = {-1: "sequence not checkable", 0: "sequence verified"}.get(
        book.gaps, f"{book.gaps} sequence gap(s): levels may be stale"
    )
    import msgspec

    return msgspec.structs.replace(curve, note=f"{sym} book: {curve.note}; {gaps}")


def bands_curve(store: Reader, asset: str, at_ns: int, side: Side, ref: float) -> DepthCurve | None:
    """Depth curve from the latest depth bands at or before ``at_ns`` (an hour at most)."""
    import polars as pl

    from flushwatch.analytics.depth import curve_from_bands
    from flushwatch.domain.records import DepthBand

    df = _rows_for(store, DepthBand, asset.upper(), at_ns)
    if df.height == 0:
        return None
    last = int(df.get_column("ts_event").to_numpy().max())
    if at_ns - last > BOOK_MAX_AGE_NS:
        return None
    snap = df.filter(pl.col("ts_event") == last)
    try:
        return curve_from_bands(
            snap.get_column("pct").to_numpy(), snap.get_column("notional").to_numpy(), side, ref
        )
    except ValueError:
        return None


def volume_bars(store: Reader, asset: str, at_ns: int) -> tuple[Any, Any, int, str] | None:
    """Closes and quote volumes of the asset's fullest bar series with volume in the
    ``_MODEL_DAYS`` before ``at_ns`` (perps first), or None: the square-root model's input
    when the market's own price series carries no volume (a vendor export)."""
    import numpy as np
    import polars as pl

    from flushwatch.domain.records import Bar
    from flushwatch.domain.symbols import base_asset

    df = store.read(Bar, start_ns=at_ns - _MODEL_DAYS * 86_400 * 10**9, end_ns=at_ns, asset=asset)
    if df.height == 0:
        return None
    mine = [s for s in df.get_column("symbol").unique().to_list() if base_asset(s) == asset]
    # quote volume, else base volume at the close (freqtrade klines carry base volume only)
    quote = pl.coalesce(pl.col("volume_quote"), pl.col("volume_base") * pl.col("close"))
    df = df.with_columns(quote.alias("volume_quote")).filter(
        pl.col("symbol").is_in(mine)
        & (pl.col("volume_quote") > 0)
        & (pl.col("ts_event").cast(pl.Int64) + pl.col("interval_s").cast(pl.Int64) * 10**9 <= at_ns)
        & (pl.col("market").is_in(["perp", "spot"]))
    )
    if df.height == 0:
        return None
    keys = ["exchange", "market", "symbol", "interval_s"]
    best = (
        df.group_by(keys)
        .len()
        .with_columns((pl.col("market") == "perp").alias("perp"))
        .sort(
            ["perp", "len", "interval_s", "exchange", "symbol"],
            descending=[True, True, False, False, False],
        )
        .row(0, named=True)
    )
    rows = df.filter(pl.all_horizontal(pl.col(k) == best[k] for k in keys)).sort("ts_event")
    label = f"{best['exchange']} {best['market']} {best['symbol']} {best['interval_s'] // 60}m bars"
    close = rows.get_column("close").to_numpy().astype(np.float64)
    vol = rows.get_column("volume_quote").to_numpy().astype(np.float64)
    return close, vol, int(best["interval_s"]), label


def model_curve(
    m: MarketSeries,
    upto: int,
    side: Side,
    ref: float,
    store: Reader | None = None,
    at_ns: int | None = None,
) -> DepthCurve:
    """The square-root-law curve from the last ``_MODEL_DAYS`` of bars before ``upto``.

    Without volume on the market's own price series, the store's fullest bar series with
    volume for the asset in the same window is used (named in the curve's note).
    """
    import msgspec
    import numpy as np

    from flushwatch.analytics.depth import curve_from_model, sqrt_law_inputs
    from flushwatch.errors import InputError

    start = max(0, upto - _MODEL_DAYS * 86_400 // m.step_s)
    if m.volume_quote is not None and np.isfinite(m.volume_quote[start:upto]).any():
        close, vol, step, label = m.close[start:upto], m.volume_quote[start:upto], m.step_s, ""
    else:
        found = None if store is None or at_ns is None else volume_bars(store, m.asset, at_ns)
        if found is None:
            raise InputError(
                f"no order book, depth bands or volume for {m.asset} in the store before that "
                "time: the depth cannot be observed nor modelled (import a book recording, "
                "depth bands or klines)"
            )
        close, vol, step, label = found
    try:
        sigma, volume = sqrt_law_inputs(close, vol, step)
        curve = curve_from_model(sigma, volume, side, ref)
    except ValueError as exc:
        raise InputError(f"{m.asset}: cannot calibrate the depth model: {exc}") from None
    if label:
        curve = msgspec.structs.replace(
            curve, note=f"{curve.note}; calibrated on {label} ({_MODEL_DAYS} days before)"
        )
    return curve


def depth_for(
    store: Reader, m: MarketSeries, upto: int, at_ns: int, side: Side, ref: float
) -> DepthCurve:
    """Best available depth: book, then depth bands, then the square-root model."""
    return (
        book_curve(store, m.asset, at_ns, side)
        or bands_curve(store, m.asset, at_ns, side, ref)
        or model_curve(m, upto, side, ref, store, at_ns)
    )


def liq_map(m: MarketSeries, upto: int) -> MapArrays:
    """The estimated liquidation map of ``m`` as of bar ``upto`` (requires the liqmap module)."""
    from flushwatch.analytics import liqmap
    from flushwatch.analytics.levels import LevelParams
    from flushwatch.analytics.liqmap_params import tiers_for
    from flushwatch.analytics.stops import StopParams, stop_clusters, stops_on_grid
    from flushwatch.errors import InputError

    if m.oi_quote is None:
        raise InputError(
            f"the liquidation map of {m.asset} needs open interest, and the store has none: "
            "import an open-interest series (Binance Vision metrics, a vendor export)"
        )
    tiers = tiers_for(m.asset, m.sources.get("oi"))
    state = liqmap.build_map(
        m.ts, m.open, m.high, m.low, m.close, m.oi_quote, liqmap.LiqMapParams(), tiers,
        upto=upto,
    )  # fmt: skip
    clusters = stop_clusters(m, upto - 1, StopParams(), LevelParams())
    stops = stops_on_grid(clusters, state.edges)
    note = (
        f"estimated liquidation map from {upto} bars ({m.sources.get('price', '')}); "
        f"long/short split: {state.split_source}; tiers: {tiers.source}; "
        f"plus heuristic stop-loss mass at {len(clusters)} key levels"
    )
    return MapArrays(state.edges, state.long, state.short, state.price, note, stops)


def _venues(text: str) -> set[str]:
    """Venue names mentioned in a source description (``binanceusdm`` counts as binance)."""
    known = ("binance", "bybit", "okx", "deribit", "hyperliquid", "coinbase", "kraken", "bitget")
    low = text.lower()
    found = {v for v in known if v in low}
    if "coinglass" in low and ("aggregat" in low or not found):
        found.add("aggregate")
    return found


def venue_note(oi_source: str, depth_source: str, depth_note: str, sources: dict[str, str]) -> str:
    """Say which venues the map's positions and the depth come from, and whether they match.

    The map is not rescaled (no venue's share of open interest is known here): when the
    venue sets differ the note says which way the cascade is biased.
    """
    depth_text = (
        depth_note
        if depth_source != "model" or "calibrated on" in depth_note
        else (f"{depth_note}; calibrated on {sources.get('price', 'the price bars')}")
    )
    pos, dep = _venues(oi_source), _venues(depth_text)
    head = f"positions (map) from open interest: {oi_source or 'unknown'}; depth: {depth_text}"
    if pos and dep and pos == dep:
        return f"{head}. Same venue set: not rescaled."
    if pos and dep and pos > dep:
        return (
            f"{head}. The map holds more venues ({', '.join(sorted(pos))}) than the depth "
            f"({', '.join(sorted(dep))}), and is not rescaled: the cascade is overstated."
        )
    return (
        f"{head}. Venue sets differ or are unknown ({', '.join(sorted(pos)) or '?'} vs "
        f"{', '.join(sorted(dep)) or '?'}); the map is not rescaled: read the cascade as "
        "labelled, not as one venue's."
    )


def _at_index(m: MarketSeries, as_of_ns: int | None) -> tuple[int, int]:
    """Bars closed by ``as_of_ns`` (default: all) and the time the book is read at."""
    import numpy as np

    from flushwatch.errors import InputError

    if as_of_ns is None:
        return m.n, int(m.ts[-1]) + m.step_s * 10**9
    upto = int(np.searchsorted(m.ts + m.step_s * 10**9, as_of_ns, side="right"))
    if upto < 3:
        from flushwatch.domain.time import iso

        raise InputError(f"fewer than three closed bars of {m.asset} before {iso(as_of_ns)}")
    return upto, as_of_ns


def cascade(
    store: Reader,
    asset: str,
    shock: str,
    *,
    exchange: str | None,
    as_of_ns: int | None,
    runs: int,
) -> Cascade:
    """Compose and run one cascade (plus its curve and, with ``runs``, a Monte Carlo)."""
    import numpy as np

    from flushwatch.analytics.cascade import (
        MonteCarloParams,
        cascade_curve,
        forced_flow,
        monte_carlo,
        simulate,
    )
    from flushwatch.api.results import Cascade
    from flushwatch.report.assemble import assemble

    direction, shock_pct, shock_usd = parse_shock(shock)
    m = assemble(store, asset, exchange=exchange)
    upto, at_ns = _at_index(m, as_of_ns)
    mp = liq_map(m, upto)
    side: Side = "bid" if direction == "down" else "ask"
    depth = depth_for(store, m, upto, at_ns, side, mp.price)
    liq = mp.long if direction == "down" else mp.short
    stops = mp.long_stops if direction == "down" else mp.short_stops
    result = simulate(
        direction, mp.price, mp.edges, liq, stops, depth, shock_pct=shock_pct, shock_usd=shock_usd
    )
    flow = forced_flow(direction, mp.price, mp.edges, liq, stops)
    shocks = np.array(CURVE_SHOCKS)
    curve = cascade_curve(flow, depth, shocks)
    sign = -1.0 if direction == "down" else 1.0
    mc = None
    if runs > 0:
        med = shock_pct if shock_pct is not None else abs(result.shock_move_pct)
        mc = monte_carlo(flow, depth, med, list(THRESHOLDS), MonteCarloParams(runs=runs))
    return Cascade(
        asset=m.asset,
        as_of_ts=at_ns,
        map_note=mp.note,
        venue_note=venue_note(m.sources.get("oi", ""), depth.source, depth.note, m.sources),
        depth_source=depth.source,
        depth_estimate=depth.estimate,
        depth_note=depth.note,
        result=result,
        curve={
            "shock_pct": [float(s) for s in sign * shocks],
            "final_move_pct": [float(x) for x in sign * 100.0 * curve.final],
            "liquidated_usd": curve.liquidated_usd,
            "book_exhausted": curve.exhausted,
        },
        monte_carlo=mc,
    )
