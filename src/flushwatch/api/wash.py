"""Wash-trading suspicion of one asset, per venue, as of a time (``flushwatch wash``).

Reads the asset's trade prints in ``(at - window, at]`` through a point-in-time reader (and,
for the turnover tests, prints, OI and depth over the ``HISTORY`` windows before it), then
runs :func:`flushwatch.analytics.wash.assess` per instrument. Sizes are in the venue's lot
unit: base units, or quote units when the base quantities lie on no decimal grid (inverse
contracts: Binance COIN-M ``qty × price`` is a whole number of 100-USD contracts). Depth is
the store's ±1 % depth bands, else the top of book from quotes (labelled which).

``to_dict()`` shape::

    {"asset", "label": "suspicion", "as_of_ts", "as_of", "window_s", "caveat",
     "venues": [{"exchange", "market", "symbol", "prints", "size_unit", "depth_source",
                 "flagged", "score", "correction", "alpha",
                 "tests": [{"name", "available", "statistic", "p_value", "p_holm",
                            "suspicious", "n", "detail", "note"}]}],
     "score": max venue score or null, "notes": [...]}
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np

from flushwatch.analytics.wash import (
    CAVEAT,
    LABEL,
    TradePrints,
    Turnover,
    VenueWash,
    assess,
    lot_step,
)
from flushwatch.errors import ConfigError, InputError

if TYPE_CHECKING:
    import polars as pl

    from flushwatch.analytics.market import F64
    from flushwatch.store import Store
    from flushwatch.store.asof import Reader

HISTORY = 7  # windows of history before the window, for the turnover tests
BUCKETS = 12  # buckets per window for the turnover tests
DEFAULT_WINDOW_S = 86_400
#: How the fragility ranking can name the score (fields of ``analytics.fragility.InputSpec``).
WASH_INPUT = {
    "name": "wash_suspicion",
    "abbrev": "wash",
    "unit": "share",
    "fragile": "high",
    "about": "share of the Holm-corrected trade-print tests suspicious on the asset's most "
    "suspicious venue, last 24 h (suspicion, not a finding)",
}


class WashReport(msgspec.Struct, frozen=True, kw_only=True):
    """Every venue's wash-trading suspicion for one asset, as of one time."""

    asset: str
    as_of_ts: int
    window_s: int
    venues: list[VenueWash]
    notes: list[str]

    @property
    def score(self) -> float | None:
        """``wash_suspicion`` of the asset: its most suspicious venue's score."""
        return max_score(self.venues)

    def to_dict(self) -> dict[str, Any]:
        """The ``wash --json`` document."""
        from flushwatch.api.results import jsonable
        from flushwatch.domain.time import iso

        venues = []
        for v in self.venues:
            a = v.assessment
            venues.append(
                {
                    "exchange": v.exchange, "market": v.market, "symbol": v.symbol,
                    "prints": a.prints, "size_unit": v.size_unit,
                    "depth_source": v.depth_source, "flagged": a.flagged, "score": a.score,
                    "correction": a.correction, "alpha": a.alpha, "tests": a.tests,
                }
            )  # fmt: skip
        out: dict[str, Any] = jsonable(
            {
                "asset": self.asset, "label": LABEL, "as_of_ts": self.as_of_ts,
                "as_of": iso(self.as_of_ts), "window_s": self.window_s, "caveat": CAVEAT,
                "venues": venues, "score": self.score, "notes": self.notes,
            }
        )  # fmt: skip
        return out

    def frames(self) -> dict[str, pl.DataFrame]:
        """One row per venue and test."""
        import polars as pl

        rows = [
            {"exchange": v["exchange"], "symbol": v["symbol"], **{k: t[k] for k in _COLS}}
            for v in self.to_dict()["venues"]
            for t in v["tests"]
        ]
        return {"tests": pl.DataFrame(rows)}


_COLS = ("name", "available", "statistic", "p_value", "p_holm", "suspicious", "n", "note")


def window_seconds(window: str | int) -> int:
    """``"30m"``, ``"6h"``, ``"1d"`` or seconds → seconds (a positive duration).

    Examples
    --------
    >>> window_seconds("6h"), window_seconds(90)
    (21600, 90)
    """
    units = {"s": 1, "m": 60, "h": 3600, "d": 86_400}
    seconds = 0
    if isinstance(window, int) and not isinstance(window, bool):
        seconds = window
    elif isinstance(window, str) and window[-1:].lower() in units and window[:-1].isdigit():
        seconds = int(window[:-1]) * units[window[-1].lower()]
    if seconds <= 0:
        raise ConfigError(f"--window {window!r}: use a duration such as 30m, 6h or 1d")
    return seconds


def max_score(venues: list[VenueWash]) -> float | None:
    """The largest venue score (None when no venue could be tested)."""
    scores = [v.assessment.score for v in venues if v.assessment.score is not None]
    return max(scores) if scores else None


def trade_coverage(store: Store, asset: str) -> tuple[int, int] | None:
    """First and last trade print of ``asset`` in the store, or None."""
    from flushwatch.domain.symbols import base_asset

    spans = [
        (s.first_ts, s.last_ts)
        for s in store.series(asset=asset)
        if s.dataset == "trades" and base_asset(s.symbol) == asset.upper()
    ]
    if not spans:
        return None
    return min(a for a, _ in spans), max(b for _, b in spans)


def wash(
    store: Store, asset: str, *, at_ns: int | None, window_s: int, venue: str | None = None
) -> WashReport:
    """The suspicion report of ``asset`` as of ``at_ns`` (default: its last trade print)."""
    from flushwatch.domain.time import iso
    from flushwatch.store.asof import AsOfStore

    span = trade_coverage(store, asset)
    if span is None:
        raise InputError(
            f"the store at {store.root} holds no {asset.upper()} trade prints: import trades "
            "(Binance Vision trades/aggTrades, Tardis trades, a websocket recording) first"
        )
    as_of = span[1] if at_ns is None else at_ns
    if not span[0] < as_of:
        raise InputError(
            f"at {iso(as_of)} is before the store's {asset.upper()} trade prints "
            f"({iso(span[0])} to {iso(span[1])})"
        )
    venues, notes = assess_reader(
        AsOfStore(store, as_of), asset, as_of_ns=as_of, window_s=window_s, venue=venue
    )
    if not venues:
        where = f" on {venue}" if venue else ""
        notes.append(f"not available: no {asset.upper()} trade prints{where} in the window")
    return WashReport(
        asset=asset.upper(), as_of_ts=as_of, window_s=window_s, venues=venues, notes=notes
    )


def wash_suspicion(
    reader: Reader, asset: str, *, as_of_ns: int, window_s: int = DEFAULT_WINDOW_S
) -> float | None:
    """``wash_suspicion``: one per-asset score (0-1, None = not available) for a ranking.

    The share of available tests suspicious after Holm correction, on the asset's most
    suspicious venue over the ``window_s`` before ``as_of_ns``.
    """
    venues, _ = assess_reader(reader, asset, as_of_ns=as_of_ns, window_s=window_s)
    return max_score(venues)


def trade_prints_section(
    reader: Reader, asset: str, *, as_of_ns: int, window_s: int = DEFAULT_WINDOW_S
) -> TradePrints | None:
    """The report's section over the ``window_s`` before ``as_of_ns``; None without prints."""
    venues, _ = assess_reader(reader, asset, as_of_ns=as_of_ns, window_s=window_s)
    if not venues:
        return None
    return TradePrints(window_s=window_s, venues=venues, score=max_score(venues))


def assess_reader(
    reader: Reader,
    asset: str,
    *,
    as_of_ns: int,
    window_s: int,
    venue: str | None = None,
) -> tuple[list[VenueWash], list[str]]:
    """Assess every instrument of ``asset`` with prints in the window (reads end at as-of)."""
    from flushwatch.domain.records import Trade

    win_ns = window_s * 10**9
    start = as_of_ns - win_ns
    hist_start = start - HISTORY * win_ns
    end = as_of_ns + 1
    trades = reader.read(Trade, asset=asset, exchange=venue, start_ns=hist_start, end_ns=end)
    notes: list[str] = []
    out: list[VenueWash] = []
    if trades.height == 0:
        return out, notes
    for key, df in trades.group_by(["exchange", "market", "symbol"], maintain_order=True):
        exchange, market, symbol = (str(k) for k in key)
        df = df.sort("ts_event")
        ts = df.get_column("ts_event").to_numpy()
        inside = ts >= start
        if not inside.any():
            continue
        qty = df.get_column("qty").to_numpy().astype(np.float64)
        price = df.get_column("price").to_numpy().astype(np.float64)
        size, unit = qty, "base"
        step = lot_step(qty[inside])
        if step is None and (q_step := lot_step((qty * price)[inside])) is not None:
            size, unit, step = qty * price, "quote (inverse contracts)", q_step
        edges = np.arange(hist_start, as_of_ns + 1, win_ns // BUCKETS, dtype=np.int64)
        if edges[-1] != as_of_ns:
            edges = np.append(edges, as_of_ns)
        volume = _bucket_sum(ts, qty * price, edges)
        in_window = edges[1:] > start
        where = {"exchange": exchange, "symbol": symbol, "start_ns": hist_start, "end_ns": end}
        oi = _liquidity_oi(reader, where, edges, float(np.median(price)))
        depth, depth_source = _liquidity_depth(reader, where, edges)
        assessment = assess(
            ts[inside].astype(np.int64),
            (qty * price)[inside],
            size[inside],
            (df.get_column("taker_side") == "buy").to_numpy()[inside],
            step=step,
            oi=None if oi is None else Turnover(volume=volume, liquidity=oi, in_window=in_window),
            depth=None
            if depth is None
            else Turnover(volume=volume, liquidity=depth, in_window=in_window),
        )
        out.append(
            VenueWash(
                exchange=exchange,
                market=market,
                symbol=symbol,
                size_unit=unit,
                depth_source=depth_source,
                assessment=assessment,
            )
        )
    return out, notes


def _bucket_sum(ts: Any, values: F64, edges: Any) -> F64:
    idx = np.searchsorted(edges, ts, side="right") - 1
    ok = (idx >= 0) & (idx < edges.size - 1)
    return np.bincount(idx[ok], weights=values[ok], minlength=edges.size - 1).astype(np.float64)


def _bucket_mean(ts: Any, values: F64, edges: Any) -> F64:
    idx = np.searchsorted(edges, ts, side="right") - 1
    ok = (idx >= 0) & (idx < edges.size - 1) & np.isfinite(values)
    total = np.bincount(idx[ok], weights=values[ok], minlength=edges.size - 1)
    count = np.bincount(idx[ok], minlength=edges.size - 1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan), np.float64)


def _liquidity_oi(reader: Reader, where: dict[str, Any], edges: Any, price: float) -> F64 | None:
    """Mean OI in quote units per bucket (base OI at the median print price); None without."""
    from flushwatch.domain.records import OpenInterest

    df = reader.read(OpenInterest, **where)
    if df.height == 0:
        return None
    quote = df.get_column("oi_quote").to_numpy().astype(np.float64)  # null → nan
    base = df.get_column("oi_base").to_numpy().astype(np.float64)
    vals = np.where(np.isfinite(quote), quote, base * price)
    if not np.isfinite(vals).any():
        return None
    return _bucket_mean(df.get_column("ts_event").to_numpy(), vals, edges)


def _liquidity_depth(
    reader: Reader, where: dict[str, Any], edges: Any
) -> tuple[F64 | None, str | None]:
    """Mean depth in quote units per bucket: ±1 % bands, else top of book; None without."""
    import polars as pl

    from flushwatch.domain.records import DepthBand, Quote

    bands = reader.read(DepthBand, **where)
    if bands.height:
        width = bands.get_column("pct").abs().to_numpy()
        pick = float(width[np.argmin(np.abs(width - 1.0))])  # cumulative bands: one width
        per_ts = (
            bands.filter((pl.col("pct").abs() - pick).abs() < 1e-9)
            .group_by("ts_event")
            .agg(pl.col("notional").sum())
            .sort("ts_event")
        )
        vals = per_ts.get_column("notional").to_numpy().astype(np.float64)
        ts = per_ts.get_column("ts_event").to_numpy()
        return _bucket_mean(ts, vals, edges), f"depth bands within ±{pick:g} %"
    quotes = reader.read(Quote, **where)
    if quotes.height == 0:
        return None, None
    top = quotes.select(
        "ts_event",
        (pl.col("bid_price") * pl.col("bid_qty") + pl.col("ask_price") * pl.col("ask_qty")).alias(
            "top"
        ),
    )
    vals = top.get_column("top").to_numpy().astype(np.float64)
    return _bucket_mean(top.get_column("ts_event").to_numpy(), vals, edges), "top of book (quotes)"
