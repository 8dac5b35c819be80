"""Build a :class:`MarketSeries` for one asset from whatever the store holds.

Choices are written into ``MarketSeries.sources`` so a reader can check them:

* price: the perp trade-price bars with the most bars in the window (``--exchange``
  narrows the choice); the grid is their interval (or ``step_s`` when coarser: bars are
  resampled, never interpolated);
* liquidations: vendor buckets of the same exchange as the price when present (of any
  interval: a bucket longer than a bar is put whole on the bar where it closes, the bars
  before it stay NaN, and the source says so), else venue prints summed per bar over every
  venue for the asset (marked as lower bounds when any feed is throttled); vendor buckets and
  venue prints are never added together. Bars outside the chosen source's coverage are NaN,
  so the detector falls back to price and volume there only;
* open interest, funding, spot price, depth: the last observation at or before each bar's
  close, preferring the price source's exchange;
* basis: perp close over spot close minus one, when both exist;
* bars from trades: where no bars of a market (perp, spot) exist in the window but its trades
  do, bars are built from the trades (``analytics.trade_bars``; only bars closed by the as-of
  time) and the source says "built from N trades";
* spot volume from taker flow: with no spot volume from bars or trades, a spot taker-flow
  series (the CVD files) gives it, base volume × the spot close (else the perp close), labelled.

A series with no data in the window stays ``None``: the kernels report it as not available.
"""

from __future__ import annotations

import re

import msgspec
import numpy as np
import numpy.typing as npt
import polars as pl

from flushwatch.analytics.market import F64, MarketSeries
from flushwatch.analytics.trade_bars import trade_bars
from flushwatch.domain.records import (
    Bar,
    BookUpdate,
    DepthBand,
    Funding,
    Liquidation,
    LiquidationBucket,
    MarkPrice,
    OpenInterest,
    Record,
    TakerFlow,
    Trade,
)
from flushwatch.domain.symbols import base_asset
from flushwatch.domain.tables import conform
from flushwatch.errors import InputError
from flushwatch.report.book_depth import bid_depth_at_closes
from flushwatch.store.asof import Reader

_TS = "ts_event"
HOUR_NS = 3600 * 10**9


def _for_asset(
    store: Reader, cls: type[Record], asset: str, start_ns: int | None, end_ns: int | None
) -> pl.DataFrame:
    df = store.read(cls, start_ns=start_ns, end_ns=end_ns, asset=asset)
    if df.height == 0:
        return df
    symbols = df.get_column("symbol").unique().to_list()
    mine = [s for s in symbols if base_asset(s) == asset.upper()]
    return df.filter(pl.col("symbol").is_in(mine))


def _family(exchange: str) -> str:
    """ccxt splits one venue into ids per market (binance, binanceusdm, binancecoinm)."""
    return exchange.removesuffix("usdm").removesuffix("coinm")


def _prefer(df: pl.DataFrame, exchange: str) -> pl.DataFrame:
    """Rows of the preferred exchange, else of its venue family (Binance spot price →
    Binance USD-M funding), else of the exchange with most rows."""
    if df.height == 0:
        return df
    own = df.filter(pl.col("exchange") == exchange)
    if own.height:
        return own
    family = [
        e for e in df.get_column("exchange").unique().to_list() if _family(e) == _family(exchange)
    ]
    if family:
        return df.filter(pl.col("exchange").is_in(family))
    best = df.group_by("exchange").len().sort(["len", "exchange"], descending=[True, False])
    return df.filter(pl.col("exchange") == best.get_column("exchange")[0])


class _Span(msgspec.Struct, frozen=True, kw_only=True):
    """The grid and how far back a state observation may come from."""

    grid: pl.DataFrame
    step_ns: int
    since: int
    t1: int
    age: int


def _one_series(df: pl.DataFrame) -> tuple[pl.DataFrame, str]:
    """Keep the single (exchange, market, symbol) with most rows; describe it."""
    counts = (
        df.group_by(["exchange", "market", "symbol"])
        .len()
        .sort(["len", "exchange", "symbol"], descending=[True, False, False])
    )
    ex, mk, sym = (counts.get_column(c)[0] for c in ("exchange", "market", "symbol"))
    out = df.filter(
        (pl.col("exchange") == ex) & (pl.col("market") == mk) & (pl.col("symbol") == sym)
    )
    return out, f"{ex} {mk} {sym}"


def _bars_from_trades(
    store: Reader,
    asset: str,
    market: str,
    exchange: str | None,
    window: tuple[int | None, int | None],
    step_s: int,
) -> tuple[pl.DataFrame, str] | None:
    """One series of ``market`` trades as Bar rows of ``step_s`` (bars closed by the as-of
    time and the window's end only: a half-built bar is no bar), or None without trades."""
    start_ns, end_ns = window
    trades = _for_asset(store, Trade, asset, start_ns, end_ns).filter(pl.col("market") == market)
    if exchange is not None:
        trades = (
            _prefer(trades, exchange)
            if market == "spot"
            else trades.filter(pl.col("exchange") == exchange)
        )
    if trades.height == 0:
        return None
    trades, desc = _one_series(trades)
    known = [t for t in (end_ns, getattr(store, "at_ns", None)) if t is not None]
    tb = trade_bars(
        trades.get_column(_TS).to_numpy(),
        trades.get_column("price").to_numpy(),
        trades.get_column("qty").to_numpy(),
        (trades.get_column("taker_side") == "buy").to_numpy(),
        step_s,
        known_at_ns=min(known, default=None),
    )
    if tb.n == 0:
        return None
    ex, sym = _leg(trades)
    bars = pl.DataFrame(
        {
            _TS: tb.ts,
            "open": tb.open,
            "high": tb.high,
            "low": tb.low,
            "close": tb.close,
            "volume_base": tb.volume_base,
            "volume_quote": tb.volume_quote,
            "taker_buy_base": tb.taker_buy_base,
            "taker_buy_quote": tb.taker_buy_quote,
            "trade_count": tb.trade_count,
        }
    ).with_columns(
        exchange=pl.lit(ex),
        market=pl.lit(market),
        symbol=pl.lit(sym),
        price_kind=pl.lit("trade"),
        interval_s=pl.lit(step_s, dtype=pl.Int64),
    )
    used = int(tb.trade_count.sum())
    return conform(Bar, bars), f"{desc} {step_s // 60}m bars built from {used} trades"


def _bars_from_samples(
    store: Reader,
    asset: str,
    exchange: str | None,
    start_ns: int | None,
    end_ns: int | None,
    step_s: int | None,
) -> tuple[pl.DataFrame, str, int] | None:
    """OHLC of perp last-price samples per bar, for sources that only sample (OKX hourly)."""
    ticks = _for_asset(store, MarkPrice, asset, start_ns, end_ns).filter(
        (pl.col("market") == "perp") & pl.col("last_price").is_not_null()
    )
    if exchange is not None:
        ticks = ticks.filter(pl.col("exchange") == exchange)
    if ticks.height == 0:
        return None
    ticks, desc = _one_series(ticks)
    step = step_s or 3600
    step_ns = step * 10**9
    bars = (
        ticks.with_columns(((pl.col(_TS) // step_ns) * step_ns).alias(_TS))
        .group_by(_TS)
        .agg(
            pl.col("last_price").first().alias("open"),
            pl.col("last_price").max().alias("high"),
            pl.col("last_price").min().alias("low"),
            pl.col("last_price").last().alias("close"),
            pl.len().alias("samples"),
        )
        .sort(_TS)
        .with_columns(
            pl.lit(None, dtype=pl.Float64).alias("volume_base"),
            pl.lit(None, dtype=pl.Float64).alias("volume_quote"),
            pl.lit(str(ticks.get_column("exchange")[0])).alias("exchange"),
            pl.lit(str(ticks.get_column("symbol")[0])).alias("symbol"),
        )
    )
    return bars, f"{desc} last-price samples ({ticks.height}) as {step // 60}m OHLC", step


def _liq_times(store: Reader, asset: str) -> pl.Series:
    """Event times of every liquidation row (vendor buckets and prints) for the asset."""
    parts = [
        _for_asset(store, cls, asset, None, None).get_column(_TS)
        for cls in (LiquidationBucket, Liquidation)
    ]
    return pl.concat(parts) if parts else pl.Series(_TS, [], dtype=pl.Int64)


def _main_segment(bars: pl.DataFrame, step: int, liq: pl.Series) -> pl.DataFrame:
    """Split a series at gaps longer than a day (and 10 bars); keep the run with the most
    liquidation rows, then the longest: a 2023 excerpt must not stretch a 2026 report."""
    gap = max(10 * step, 86_400) * 10**9
    seg = bars.with_columns((pl.col(_TS).diff().fill_null(0) > gap).cum_sum().alias("_seg"))
    runs = seg.group_by("_seg").agg(
        pl.col(_TS).min().alias("first"), pl.col(_TS).max().alias("last"), pl.len()
    )
    if runs.height == 1:
        return bars
    runs = runs.with_columns(
        pl.struct("first", "last")
        .map_elements(
            lambda r: int(((liq >= r["first"]) & (liq <= r["last"])).sum()),
            return_dtype=pl.Int64,
        )
        .alias("liq_rows")
    ).sort(["liq_rows", "len"], descending=True)
    return seg.filter(pl.col("_seg") == runs.get_column("_seg")[0]).drop("_seg")


def _pick_price(
    store: Reader,
    asset: str,
    exchange: str | None,
    start_ns: int | None,
    end_ns: int | None,
    step_s: int | None = None,
) -> tuple[pl.DataFrame, str, int]:
    """Choose the price series: a flush report is about liquidations, so the series whose
    span holds the most liquidation rows wins; then perp over spot (spot only stands in when
    it is the only price with context), then the longest history, then the most bars."""
    bars = _for_asset(store, Bar, asset, start_ns, end_ns).filter(
        (pl.col("price_kind") == "trade") & pl.col("market").is_in(["perp", "spot"])
    )
    if exchange is not None:
        bars = bars.filter(pl.col("exchange") == exchange)
    if bars.filter(pl.col("market") == "perp").height == 0:
        sampled = _bars_from_samples(store, asset, exchange, start_ns, end_ns, step_s)
        if sampled is not None:
            return sampled
        step = step_s or 60
        built = _bars_from_trades(store, asset, "perp", exchange, (start_ns, end_ns), step)
        if built is not None:
            return built[0], built[1], step
    if bars.height == 0:
        where = f" on {exchange}" if exchange else ""
        raise InputError(
            f"no price bars for {asset}{where} in the store for this window; "
            "import klines or a vendor export first (see `flushwatch info`)"
        )
    liq = _liq_times(store, asset)
    counts = bars.group_by(["exchange", "market", "symbol", "interval_s"]).agg(
        pl.len(),
        pl.col(_TS).min().alias("first"),
        pl.col(_TS).max().alias("last"),
    )
    counts = counts.with_columns(
        pl.struct("first", "last")
        .map_elements(
            lambda r: int(((liq >= r["first"]) & (liq <= r["last"])).sum()),
            return_dtype=pl.Int64,
        )
        .alias("liq_rows"),
        (pl.col("market") == "perp").alias("is_perp"),
        (pl.col("last") - pl.col("first")).alias("span"),
    ).sort(
        ["liq_rows", "is_perp", "span", "len", "exchange"],
        descending=[True, True, True, True, False],
    )
    row = counts.row(0, named=True)
    chosen = bars.filter(
        (pl.col("exchange") == row["exchange"])
        & (pl.col("market") == row["market"])
        & (pl.col("symbol") == row["symbol"])
        & (pl.col("interval_s") == row["interval_s"])
    )
    step = int(row["interval_s"])
    chosen = _main_segment(chosen.sort(_TS), step, liq)
    note = " (spot price: no perp price covers these liquidations)" if not row["is_perp"] else ""
    desc = f"{row['exchange']} {row['market']} {row['symbol']} {step // 60}m bars{note}"
    return chosen, desc, step


def _grid(bars: pl.DataFrame, native: int, step_s: int) -> pl.DataFrame:
    """Bars on a complete grid of ``step_s`` (resampled when coarser than ``native``)."""
    step_ns = step_s * 10**9
    b = bars.with_columns(((pl.col(_TS) // step_ns) * step_ns).alias("ts"))
    if step_s != native:
        b = b.group_by("ts").agg(
            pl.col("open").sort_by(_TS).first(),
            pl.col("high").max(),
            pl.col("low").min(),
            pl.col("close").sort_by(_TS).last(),
            pl.col("volume_base").sum(),
            pl.col("volume_quote").sum(),
        )
    else:
        b = b.select("ts", "open", "high", "low", "close", "volume_base", "volume_quote")
    first, last = b.get_column("ts").min(), b.get_column("ts").max()
    assert isinstance(first, int)
    assert isinstance(last, int)
    full = pl.DataFrame({"ts": _span_ts(first, last, step_ns)})
    return full.join(b, on="ts", how="left").sort("ts")


def _span_ts(first: int, last: int, step_ns: int) -> npt.NDArray[np.int64]:
    """``first, first + step, …, last`` in integers: ``np.arange`` sizes its result in float
    and, at nanosecond epochs, can drop the last bar (2025-05-01 → 2026-02-07 09:00 hourly:
    6,781 stamps instead of 6,782), so a report as of a bar's close lost that bar."""
    return first + step_ns * np.arange((last - first) // step_ns + 1, dtype=np.int64)


def _array(df: pl.DataFrame, col: str) -> F64:
    return df.get_column(col).cast(pl.Float64).fill_null(float("nan")).to_numpy().astype(np.float64)


def _asof(
    grid: pl.DataFrame, obs: pl.DataFrame, col: str, step_ns: int, max_age_ns: int
) -> F64 | None:
    """Last observed ``col`` at or before each bar's close (``ts + step``), if not older than
    ``max_age_ns`` (a stale value is not the state of the market: it stays NaN); None if none.
    """
    obs = obs.filter(pl.col(col).is_not_null()).select(pl.col(_TS).alias("t"), col).sort("t")
    if obs.height == 0:
        return None
    # An observation stamped exactly at the close is the state at the close.
    left = grid.select("ts").with_columns((pl.col("ts") + step_ns).alias("t"))
    joined = left.join_asof(obs, on="t", strategy="backward", tolerance=max_age_ns)
    arr = _array(joined, col)
    return None if np.isnan(arr).all() else arr


def _flow(grid: pl.DataFrame, obs: pl.DataFrame, cols: list[str], step_ns: int) -> pl.DataFrame:
    """Sum flow columns into the grid's bars (zeros where the source has no rows)."""
    summed = (
        obs.with_columns(((pl.col(_TS) // step_ns) * step_ns).alias("ts"))
        .group_by("ts")
        .agg([pl.col(c).sum() for c in cols])
    )
    return grid.select("ts").join(summed, on="ts", how="left").fill_null(0.0)


def assemble(
    store: Reader,
    asset: str,
    *,
    exchange: str | None = None,
    start_ns: int | None = None,
    end_ns: int | None = None,
    step_s: int | None = None,
) -> MarketSeries:
    """Assemble every available series for ``asset`` on one grid (see module docstring)."""
    asset = asset.upper()
    bars, price_src, native = _pick_price(store, asset, exchange, start_ns, end_ns, step_s)
    step = max(step_s or native, native)
    grid = _grid(bars, native, step)
    step_ns = step * 10**9
    t0 = int(grid.get_column("ts")[0])
    t1 = int(grid.get_column("ts")[-1]) + step_ns
    src_ex = str(bars.get_column("exchange")[0])
    age = max(3 * step_ns, 2 * HOUR_NS)  # state series older than this are stale
    span = _Span(grid=grid, step_ns=step_ns, since=t0 - age, t1=t1, age=age)
    sources = {"price": price_src}
    missing_bars = int(grid.get_column("close").is_null().sum())
    if missing_bars:
        sources["price"] += f" ({missing_bars} bars missing, left empty)"

    volume: F64 | None = None
    vq = grid.get_column("volume_quote")
    vb = grid.get_column("volume_base")
    if vq.is_not_null().any():
        volume = _array(grid, "volume_quote")
    elif vb.is_not_null().any():
        volume = _array(grid, "volume_base") * _array(grid, "close")
        sources["volume_quote"] = "base volume × close (estimate)"

    liq = _liquidations(store, asset, src_ex, grid, t0, t1, step, sources)

    oi_quote, oi_base, derived, oi_leg = _open_interest(store, asset, src_ex, span, sources)
    if liq is not None and oi_leg is not None:
        mixed = _venue_mix(liq.venues, _oi_venue(*oi_leg))
        if mixed is not None:
            sources["liq_to_oi"] = mixed

    fund_age = max(3 * step_ns, 12 * HOUR_NS)  # one 8 h interval plus settlement jitter
    fund_all = _for_asset(store, Funding, asset, t0 - fund_age, t1 + 1)
    funding, interval_h, fund_desc = _funding(grid, fund_all, src_ex, step_ns, fund_age)
    if funding is not None:
        sources["funding"] = fund_desc

    basis = None
    spot_close, spot_vol, spot_desc, spot_leg = _spot_side(store, asset, src_ex, span, sources)
    if spot_close is not None and spot_leg is not None:
        sources["spot"] = spot_desc
        basis = _array(grid, "close") / spot_close - 1.0
        sources["basis"] = _basis_label(price_src, spot_desc, _leg(bars), spot_leg)

    depth_1pct = _depth(store, asset, src_ex, span, sources)

    return MarketSeries(
        asset=asset,
        sources=sources,
        ts=grid.get_column("ts").to_numpy().astype(np.int64),
        step_s=step,
        open=_array(grid, "open"),
        high=_array(grid, "high"),
        low=_array(grid, "low"),
        close=_array(grid, "close"),
        volume_quote=volume,
        liq_long=None if liq is None else liq.long,
        liq_short=None if liq is None else liq.short,
        liq_lower_bound=liq is not None and liq.lower_bound,
        liq_interval_s=None if liq is None else liq.interval_s,
        oi_quote=oi_quote,
        oi_base=oi_base,
        oi_base_derived=derived,
        funding=funding,
        funding_interval_h=interval_h,
        spot_close=spot_close,
        spot_volume_quote=spot_vol,
        basis=basis,
        depth_1pct=depth_1pct,
    )


def _depth(
    store: Reader, asset: str, src_ex: str, span: _Span, sources: dict[str, str]
) -> F64 | None:
    """Bid depth within 1 % at each close: depth bands, else the recorded book rebuilt."""
    grid, t1 = span.grid, span.t1
    depth = _prefer(
        _for_asset(store, DepthBand, asset, span.since, t1 + 1).filter(pl.col("pct") == -1.0),
        src_ex,
    )
    if depth.height:
        depth, desc = _one_series(depth)
        depth_1pct = _asof(grid, depth, "notional", span.step_ns, span.age)
        if depth_1pct is not None:
            sources["depth_1pct"] = f"{desc} bid depth within 1%"
            return depth_1pct
    book = _for_asset(store, BookUpdate, asset, span.since, t1 + 1)
    if book.height == 0:
        return None
    perp = book.filter(pl.col("market") == "perp")
    book, desc = _one_series(_prefer(perp if perp.height else book, src_ex))
    closes = grid.get_column("ts").to_numpy().astype(np.int64) + span.step_ns
    depth_1pct, note = bid_depth_at_closes(book, closes, 0.01, span.age)
    if depth_1pct is not None:
        sources["depth_1pct"] = f"{desc} bid depth within 1%: {note}"
    return depth_1pct


def _open_interest(
    store: Reader,
    asset: str,
    src_ex: str,
    span: _Span,
    sources: dict[str, str],
) -> tuple[F64 | None, F64 | None, bool, tuple[str, str] | None]:
    """OI in quote and base units (one derived from the other, labelled, when needed) and the
    (exchange, symbol) it came from."""
    grid = span.grid
    oi = _for_asset(store, OpenInterest, asset, span.since, span.t1 + 1)
    if oi.height == 0:
        return None, None, False, None
    oi, desc = _fullest(grid, _series_ranked(oi, src_ex), span)
    oi_quote = _asof(grid, oi, "oi_quote", span.step_ns, span.age)
    oi_base = _asof(grid, oi, "oi_base", span.step_ns, span.age)
    close = _array(grid, "close")
    derived = False
    if oi_base is None and oi_quote is not None:
        oi_base, derived = oi_quote / close, True
        desc += " (coin units derived from USD / price)"
    if oi_quote is None and oi_base is not None:
        oi_quote = oi_base * close
        desc += " (quote value = base × close)"
    sources["oi"] = desc
    return oi_quote, oi_base, derived, _leg(oi)


class _Liq(msgspec.Struct, frozen=True, kw_only=True):
    """The liquidation series on the grid (NaN outside its coverage)."""

    long: F64
    short: F64
    lower_bound: bool = False
    #: Bucket length when coarser than the grid (USD on the bar where a bucket closes).
    interval_s: int | None = None
    #: Venue families the series covers; None when the vendor does not say.
    venues: frozenset[str] | None = None


def _covered_flow(
    grid: pl.DataFrame, obs: pl.DataFrame, cols: list[str], step_ns: int, interval_ns: int
) -> pl.DataFrame:
    """Flow columns on the grid: NaN outside the source's span, 0 where it had no row.

    Buckets no longer than a bar are summed into the bar they start in. A longer bucket is
    put whole on the bar where it closes (its USD is known only then and its hourly split is
    not measured); the bars before it inside the bucket are NaN, as are those of a missing
    bucket, whose closing bar gets 0.
    """
    ts = grid.get_column("ts")
    first, last = int(obs.get_column(_TS).min()), int(obs.get_column(_TS).max())  # type: ignore[arg-type]
    if interval_ns <= step_ns:
        placed = obs.with_columns(((pl.col(_TS) // step_ns) * step_ns).alias("ts"))
        lo, hi = (first // step_ns) * step_ns, last + interval_ns  # bars [lo, hi)
        slots = (ts >= lo) & (ts < hi)
    else:

        def close_bar(col: pl.Expr) -> pl.Expr:
            return ((col + interval_ns - 1) // step_ns) * step_ns

        placed = obs.with_columns(close_bar(pl.col(_TS)).alias("ts"))
        # The bars where a bucket of the series closes, missing buckets included.
        expected = pl.DataFrame({_TS: _span_ts(first, last, interval_ns)}).select(
            close_bar(pl.col(_TS)).alias("ts")
        )
        slots = ts.is_in(expected.get_column("ts").implode())
    summed = placed.group_by("ts").agg([pl.col(c).sum() for c in cols])
    out = grid.select("ts").join(summed, on="ts", how="left")
    return out.with_columns(
        [pl.when(slots).then(pl.col(c).fill_null(0.0)).otherwise(None).alias(c) for c in cols]
    )


def _coverage_note(flows: pl.DataFrame, col: str, n: int) -> str:
    covered = flows.filter(pl.col(col).is_not_null()).get_column("ts")
    if covered.len() == 0:
        return ""
    from flushwatch.domain.time import iso

    text = f"; covers {iso(int(covered[0]))} → {iso(int(covered[-1]))}"
    return text if covered.len() < n else ""


def _liquidations(
    store: Reader,
    asset: str,
    src_ex: str,
    grid: pl.DataFrame,
    t0: int,
    t1: int,
    step: int,
    sources: dict[str, str],
) -> _Liq | None:
    """The liquidation series on the grid, or None when the store has none in the window.

    Bars outside the chosen source's coverage are NaN, so the detector can fall back to
    price and volume there only (and say so) instead of reading "no liquidations".
    """
    step_ns = step * 10**9
    # A day back: a coarse bucket that started before the grid may close inside it.
    buckets = _for_asset(store, LiquidationBucket, asset, t0 - 86_400 * 10**9, t1)
    if buckets.height:
        # One vendor series only: exports of different venue sets or bucket sizes overlap and
        # disagree (DOMAIN.md C13), so they are never added together. Prefer the one covering
        # most of the grid, then a known venue set, then finer buckets.
        series = (
            _prefer(buckets, src_ex)
            .filter((pl.col(_TS) + pl.col("interval_s") * 10**9 > t0) & (pl.col(_TS) < t1))
            .with_columns(pl.max_horizontal(pl.col("interval_s"), step).alias("_slot"))
            .group_by(["exchange", "symbol", "venues", "interval_s"])
            .agg(
                # Seconds of the grid covered: distinct slots of max(bucket, bar) each (30-minute
                # buckets cover an hour bar twice, not two hours).
                (
                    (pl.col(_TS) // (pl.col("_slot") * 10**9)).n_unique() * pl.col("_slot").first()
                ).alias("covered_s"),
            )
            .with_columns((pl.col("venues") != "unspecified").alias("known"))
            .sort(
                ["covered_s", "known", "interval_s", "venues"],
                descending=[True, True, False, False],
            )
        )
        if series.height:
            return _vendor_buckets(buckets, series, grid, step, sources)
    prints = _for_asset(store, Liquidation, asset, t0, t1)
    if prints.height == 0:
        return None
    prints = prints.with_columns(
        pl.when(pl.col("side") == "long").then(pl.col("notional")).otherwise(0.0).alias("l"),
        pl.when(pl.col("side") == "short").then(pl.col("notional")).otherwise(0.0).alias("s"),
    )
    flows = _covered_flow(grid, prints, ["l", "s"], step_ns, 1)
    lower = bool((prints.get_column("coverage") == "throttled").any())
    venues = ",".join(sorted(set(prints.get_column("exchange").to_list())))
    sources["liquidations"] = (
        f"venue prints summed over {venues}"
        + (" (lower bound: throttled feeds)" if lower else "")
        + _coverage_note(flows, "l", grid.height)
    )
    return _Liq(
        long=_array(flows, "l"),
        short=_array(flows, "s"),
        lower_bound=lower,
        venues=frozenset(_family(v) for v in prints.get_column("exchange").unique().to_list()),
    )


def _vendor_buckets(
    buckets: pl.DataFrame,
    series: pl.DataFrame,
    grid: pl.DataFrame,
    step: int,
    sources: dict[str, str],
) -> _Liq:
    pick = series.row(0, named=True)
    interval = int(pick["interval_s"])
    chosen = buckets.filter(
        (pl.col("exchange") == pick["exchange"])
        & (pl.col("symbol") == pick["symbol"])
        & (pl.col("venues") == pick["venues"])
        & (pl.col("interval_s") == interval)
    )
    flows = _covered_flow(grid, chosen, ["long_usd", "short_usd"], step * 10**9, interval * 10**9)
    desc = (
        f"{pick['exchange']} {pick['symbol']} {interval // 60}m vendor buckets "
        f"(venues: {pick['venues']})"
    )
    if interval > step:
        desc += (
            f", each on the {step // 60}m bar where it closes (not spread over its bars; "
            "the bars before it are empty)"
        )
    desc += _coverage_note(flows, "long_usd", grid.height)
    if series.height > 1:
        desc += f"; {series.height - 1} overlapping export(s) not added"
    sources["liquidations"] = desc
    return _Liq(
        long=_array(flows, "long_usd"),
        short=_array(flows, "short_usd"),
        interval_s=interval if interval > step else None,
        venues=_vendor_venues(pick["venues"]),
    )


def _series_ranked(df: pl.DataFrame, exchange: str) -> list[tuple[pl.DataFrame, str]]:
    """Every (exchange, market, symbol) series of ``df``: the preferred venue's first, then by
    rows (so a sparse file of the preferred venue leads, and fuller ones fill its gaps)."""
    out = []
    rest = df
    while rest.height:
        series, desc = _one_series(_prefer(rest, exchange))
        out.append((series, desc))
        ex, mk, sym = (series.get_column(c)[0] for c in ("exchange", "market", "symbol"))
        rest = rest.filter(
            (pl.col("exchange") != ex) | (pl.col("market") != mk) | (pl.col("symbol") != sym)
        )
    return out


def _fullest(
    grid: pl.DataFrame, ranked: list[tuple[pl.DataFrame, str]], span: _Span
) -> tuple[pl.DataFrame, str]:
    """The first ranked OI series covering at least 80 % of what the fullest one covers.

    OI levels differ by venue (set), so one series is used for the whole grid, never
    stitched; a few stray rows of the price's own venue (three COIN-M samples) must not win
    over a vendor series covering every bar.
    """

    def covered(series: pl.DataFrame) -> int:
        counts = [
            int(np.isfinite(a).sum())
            for col in ("oi_quote", "oi_base")
            if (a := _asof(grid, series, col, span.step_ns, span.age)) is not None
        ]
        return max(counts, default=0)

    cover = [covered(series) for series, _ in ranked]
    best = max(cover)
    for (series, desc), n in zip(ranked, cover, strict=True):
        if n >= 0.8 * best:
            return series, desc
    return ranked[0]  # pragma: no cover - the fullest series always qualifies


def _funding(
    grid: pl.DataFrame, fund: pl.DataFrame, exchange: str, step_ns: int, age: int
) -> tuple[F64 | None, float, str]:
    """Funding on the grid: the preferred series, each bar it leaves empty filled from the
    next series that covers that bar (rates rescaled to the first series' interval).

    A sparse file (Binance's funding windows) must not blank the funding of every other bar
    when a fuller series (CoinGlass hourly, freqtrade 8 h) covers them; which series filled
    how many bars is said.
    """
    if fund.height == 0:
        return None, 8.0, ""
    # Settlement prints land a few ms after the boundary (08:00:00.004): floor them to the
    # second so each belongs to the bar whose close it settles, not the next one.
    fund = fund.with_columns((pl.col(_TS) // 10**9 * 10**9).alias(_TS))
    out: F64 | None = None
    interval_h = 8.0
    used: list[str] = []
    for series, desc in _series_ranked(fund, exchange):
        hours = series.get_column("interval_hours").drop_nulls()
        own_h = float(hours[-1]) if hours.len() else 8.0
        arr = _asof(grid, series, "rate", step_ns, age)
        if arr is None:
            continue
        if out is None:
            out, interval_h = arr, own_h
            used.append(f"{desc}, fraction per {own_h:g}h")
            continue
        fill = np.isnan(out) & np.isfinite(arr)
        if fill.any():
            out[fill] = arr[fill] * (interval_h / own_h)
            scaled = f", rescaled from per {own_h:g}h" if own_h != interval_h else ""
            used.append(f"{int(fill.sum())} bars from {desc}{scaled}")
        if not np.isnan(out).any():
            break
    if out is None:
        return None, interval_h, ""
    if len(used) == 1:
        return out, interval_h, used[0]
    return out, interval_h, used[0] + "; where it is silent: " + ", ".join(used[1:])


def _leg(series: pl.DataFrame) -> tuple[str, str]:
    """(exchange, symbol) of a single series (its first row)."""
    return str(series.get_column("exchange")[0]), str(series.get_column("symbol")[0])


def _vendor_venues(venues: str | None) -> frozenset[str] | None:
    """A vendor's venue list (``"Binance,Bybit,OKX"``) as venue families; None if unsaid."""
    names = {v.strip().lower() for v in (venues or "").split(",") if v.strip()}
    return None if not names or names == {"unspecified"} else frozenset(map(_family, names))


def _oi_venue(exchange: str, symbol: str) -> str:
    """The venue (family) of an OI series: a vendor's per-venue symbol names it."""
    if "-" in symbol and not symbol.upper().endswith(("SWAP", "PERP")):
        return _family(symbol.rsplit("-", 1)[1].lower())  # CoinGlass "BTCUSDT-Binance"
    return _family(exchange)


def _venue_mix(liq: frozenset[str] | None, oi: str) -> str | None:
    """A warning when liquidations and OI cover different venue sets (their ratio is off)."""
    if liq == frozenset({oi}):
        return None
    what = "an unknown venue set" if liq is None else ", ".join(sorted(liq))
    return (
        f"mixed venue sets: liquidations of {what}, open interest of {oi} only; "
        "liquidations relative to OI are not one market's (an estimate)"
    )


def _basis_label(
    perp_desc: str, spot_desc: str, perp: tuple[str, str], spot: tuple[str, str]
) -> str:
    """Name both legs of the basis, and say so when they are not one venue and one quote.

    A coin-margined (USD) perp against a USDT spot market, or one venue's perp against
    another's spot, measures the venues' or stablecoin's spread as much as leverage demand.
    """
    label = f"{perp_desc} close / {spot_desc} close − 1"
    caveats = []
    if _family(perp[0]) != _family(spot[0]):
        caveats.append(f"mixed venues: {perp[0]} perp vs {spot[0]} spot")
    quote = _quote(perp[1]), _quote(spot[1])
    if None not in quote and quote[0] != quote[1]:
        caveats.append(f"mixed quotes: {quote[0]} vs {quote[1]}")
    return label + (f" ({'; '.join(caveats)}: an estimate)" if caveats else "")


def _quote(symbol: str) -> str | None:
    """``BTCUSDT``/``BTC-USDT-SWAP`` → ``USDT``; ``BTCUSD_PERP``/``BTC-USD-SWAP`` → ``USD``."""
    s = symbol.upper()
    for q in ("USDT", "USDC", "USD"):
        if re.search(rf"(^|[-_/]|[A-Z0-9]){q}($|[-_:])", s):
            return q
    return None


def _spot_side(
    store: Reader, asset: str, src_ex: str, span: _Span, sources: dict[str, str]
) -> tuple[F64 | None, F64 | None, str, tuple[str, str] | None]:
    """Spot close and volume (volume from taker flow when the spot bars have none)."""
    if " spot " in sources["price"]:  # with a spot price source there is no perp to compare
        return None, None, "", None
    spot_close, spot_vol, spot_desc, spot_leg = _spot(store, asset, src_ex, span)
    if spot_vol is None:
        spot_vol, flow_desc = _taker_spot_volume(store, asset, src_ex, span, spot_close)
        if spot_vol is not None:
            sources["spot_volume"] = flow_desc
    return spot_close, spot_vol, spot_desc, spot_leg


def _spot(
    store: Reader, asset: str, src_ex: str, span: _Span
) -> tuple[F64 | None, F64 | None, str, tuple[str, str] | None]:
    grid, step_ns = span.grid, span.step_ns
    bars = _for_asset(store, Bar, asset, span.since, span.t1).filter(
        (pl.col("price_kind") == "trade") & (pl.col("market") == "spot")
    )
    built = None
    if bars.height == 0:
        step_s = span.step_ns // 10**9
        built = _bars_from_trades(store, asset, "spot", src_ex, (span.since, span.t1), step_s)
    if bars.height or built is not None:
        bars, desc = built if built is not None else _one_series(_prefer(bars, src_ex))
        # A spot bar's close is known at its end: join on the end, or the perp close of one
        # hour would meet the spot close of the next.
        ends = bars.with_columns(
            (pl.col(_TS) + pl.col("interval_s").cast(pl.Int64) * 10**9).alias(_TS)
        )
        close = _asof(grid, ends, "close", step_ns, span.age)
        if close is not None:
            vol, note = None, ""
            quote = pl.col("volume_quote")
            if not bars.get_column("volume_quote").is_not_null().any():
                # base volume only (freqtrade, ccxt): quote it at the bar's close, as the perp
                # side does, and say it is an estimate
                quote = pl.col("volume_base") * pl.col("close")
                if bars.get_column("volume_base").is_not_null().any():
                    note = " (volume: base × close, estimate)"
            if bars.select(quote.is_not_null().any()).item():
                vol = _flow(
                    grid,
                    bars.with_columns(quote.fill_null(0.0).alias("volume_quote")),
                    ["volume_quote"],
                    step_ns,
                )
            vol_arr = None if vol is None else _array(vol, "volume_quote")
            label = desc if built is not None else desc + " bars"
            return close, vol_arr, label + note, _leg(bars)
    ticks = _for_asset(store, MarkPrice, asset, span.since, span.t1 + 1).filter(
        (pl.col("market") == "spot") & pl.col("last_price").is_not_null()
    )
    if ticks.height:
        ticks, desc = _one_series(_prefer(ticks, src_ex))
        close = _asof(grid, ticks, "last_price", step_ns, span.age)
        if close is not None:
            return close, None, desc + " last-price samples", _leg(ticks)
    return None, None, "", None


def _taker_spot_volume(
    store: Reader, asset: str, src_ex: str, span: _Span, spot_close: F64 | None
) -> tuple[F64 | None, str]:
    """Spot quote volume from a spot taker-flow series (base volume × a close), NaN outside
    its coverage; None without one whose bars fit the grid (an hour is not split into 5m)."""
    flow = _for_asset(store, TakerFlow, asset, span.since, span.t1).filter(
        (pl.col("market") == "spot") & (pl.col("interval_s") * 10**9 <= span.step_ns)
    )
    if flow.height == 0:
        return None, ""
    flow, desc = _one_series(_prefer(flow, src_ex))
    interval_ns = int(flow.get_column("interval_s")[0]) * 10**9
    summed = _covered_flow(span.grid, flow, ["volume_base"], span.step_ns, interval_ns)
    price = _array(span.grid, "close") if spot_close is None else spot_close
    which = "perp close" if spot_close is None else "spot close"
    return (
        _array(summed, "volume_base") * price,
        f"{desc} taker flow: base volume × {which} (estimate)",
    )
