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

from collections.abc import Callable
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
    from flushwatch.domain.records import Record
    from flushwatch.store import Store
    from flushwatch.store.asof import Reader

CHUNK_NS = 86_400 * 10**9  # history is read a day at a time
HISTORY = 7  # windows of history before the window, for the turnover tests
BUCKETS = 12  # buckets per window for the turnover tests
DEFAULT_WINDOW_S = 86_400


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
    """Assess every instrument of ``asset`` with prints in the window (reads end at as-of).

    The window's prints are read whole; the history behind the turnover tests is read a day
    at a time into per-bucket sums, so memory stays bounded by one day of rows.
    """
    from flushwatch.domain.records import Trade

    win_ns = window_s * 10**9
    start = as_of_ns - win_ns
    trades = reader.read(Trade, asset=asset, exchange=venue, start_ns=start, end_ns=as_of_ns + 1)
    out: list[VenueWash] = []
    edges = np.arange(start - HISTORY * win_ns, as_of_ns + 1, win_ns // BUCKETS, dtype=np.int64)
    if edges[-1] != as_of_ns:
        edges = np.append(edges, as_of_ns)
    in_window = edges[1:] > start
    for key, df in trades.group_by(["exchange", "market", "symbol"], maintain_order=True):
        exchange, market, symbol = (str(k) for k in key)
        df = df.sort("ts_event")
        ts = df.get_column("ts_event").to_numpy().astype(np.int64)
        qty = df.get_column("qty").to_numpy().astype(np.float64)
        price = df.get_column("price").to_numpy().astype(np.float64)
        size, unit, step = qty, "base", lot_step(qty)
        if step is None and (q_step := lot_step(qty * price)) is not None:
            size, unit, step = qty * price, "quote (inverse contracts)", q_step
        where = {"exchange": exchange, "symbol": symbol}
        vol_sum, _ = _accumulate(reader, Trade, where, edges, int(edges[0]), start, _notional)
        vol_sum += _bucket(ts, qty * price, edges)[0]
        oi = _liquidity_oi(reader, where, edges, float(np.median(price)))
        depth, depth_source = _liquidity_depth(reader, where, edges)
        assessment = assess(
            ts,
            qty * price,
            size,
            (df.get_column("taker_side") == "buy").to_numpy(),
            step=step,
            oi=None if oi is None else Turnover(volume=vol_sum, liquidity=oi, in_window=in_window),
            depth=None
            if depth is None
            else Turnover(volume=vol_sum, liquidity=depth, in_window=in_window),
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
    return out, []


Values = Callable[["pl.DataFrame"], tuple[Any, "F64"]]


def _bucket(ts: Any, values: F64, edges: Any) -> tuple[F64, F64]:
    """Per-bucket sums and counts of the finite ``values``."""
    idx = np.searchsorted(edges, ts, side="right") - 1
    ok = (idx >= 0) & (idx < edges.size - 1) & np.isfinite(values)
    n = edges.size - 1
    total = np.bincount(idx[ok], weights=values[ok], minlength=n).astype(np.float64)
    return total, np.bincount(idx[ok], minlength=n).astype(np.float64)


def _accumulate(
    reader: Reader,
    cls: type[Record],
    where: dict[str, Any],
    edges: Any,
    lo: int,
    hi: int,
    values: Values,
) -> tuple[F64, F64]:
    """Sums and counts per bucket of ``cls`` rows in ``[lo, hi)``, read a day at a time."""
    total = np.zeros(edges.size - 1)
    count = np.zeros(edges.size - 1)
    for a in range(lo, hi, CHUNK_NS):
        df = reader.read(cls, **where, start_ns=a, end_ns=min(a + CHUNK_NS, hi))
        if df.height:
            t, c = _bucket(*values(df), edges)
            total += t
            count += c
    return total, count


def _mean(parts: tuple[F64, F64]) -> F64 | None:
    total, count = parts
    if not count.any():
        return None
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.asarray(np.where(count > 0, total / np.maximum(count, 1), np.nan), np.float64)


def _notional(df: pl.DataFrame) -> tuple[Any, F64]:
    ts = df.get_column("ts_event").to_numpy()
    return ts, (df.get_column("qty") * df.get_column("price")).to_numpy().astype(np.float64)


def _liquidity_oi(reader: Reader, where: dict[str, Any], edges: Any, price: float) -> F64 | None:
    """Mean OI in quote units per bucket (base OI at the median print price); None without."""
    from flushwatch.domain.records import OpenInterest

    def values(df: pl.DataFrame) -> tuple[Any, F64]:
        quote = df.get_column("oi_quote").to_numpy().astype(np.float64)  # null → nan
        base = df.get_column("oi_base").to_numpy().astype(np.float64)
        return df.get_column("ts_event").to_numpy(), np.where(
            np.isfinite(quote), quote, base * price
        )

    span = (int(edges[0]), int(edges[-1]) + 1)
    return _mean(_accumulate(reader, OpenInterest, where, edges, *span, values))


def _liquidity_depth(
    reader: Reader, where: dict[str, Any], edges: Any
) -> tuple[F64 | None, str | None]:
    """Mean depth in quote units per bucket: the bands nearest ±1 %, else top of book."""
    import polars as pl

    from flushwatch.domain.records import DepthBand, Quote

    picked: list[float] = []

    def bands(df: pl.DataFrame) -> tuple[Any, F64]:
        width = df.get_column("pct").abs().to_numpy()
        pick = float(width[np.argmin(np.abs(width - 1.0))])  # cumulative bands: one width
        picked.append(pick)
        per_ts = (
            df.filter((pl.col("pct").abs() - pick).abs() < 1e-9)
            .group_by("ts_event")
            .agg(pl.col("notional").sum())
        )
        notional = per_ts.get_column("notional").to_numpy().astype(np.float64)
        return per_ts.get_column("ts_event").to_numpy(), notional

    def top(df: pl.DataFrame) -> tuple[Any, F64]:
        book = df.get_column("bid_price") * df.get_column("bid_qty") + df.get_column(
            "ask_price"
        ) * df.get_column("ask_qty")
        return df.get_column("ts_event").to_numpy(), book.to_numpy().astype(np.float64)

    span = (int(edges[0]), int(edges[-1]) + 1)
    depth = _mean(_accumulate(reader, DepthBand, where, edges, *span, bands))
    if depth is not None:
        widths = ", ".join(f"±{w:g} %" for w in sorted(set(picked)))
        return depth, f"depth bands within {widths}"
    book = _mean(_accumulate(reader, Quote, where, edges, *span, top))
    return (book, "top of book (quotes)") if book is not None else (None, None)
