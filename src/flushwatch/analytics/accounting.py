"""Liquidation accounting over a time window, from the raw ``liquidations`` and
``liquidation_buckets`` tables: by side, asset, venue and hour, the largest hours and prints,
and liquidations relative to open interest.

Coverage rule (DOMAIN.md C1): sources of different coverage are never added silently.

* Venue prints (``liquidations`` rows) are one *kind* of source: different venues do not
  overlap, so their prints may be summed. The sum is labelled **lower bound** when any
  throttled (or unknown-coverage) feed contributes, because those feeds drop prints.
* Vendor aggregates (``liquidation_buckets`` rows, and prints marked ``aggregated``) are kept
  per vendor and venue set: two vendors overlap each other and the venues' own prints, so
  they are never added to each other nor to venue prints.

Every total row says which source it comes from, whether it is a lower bound, and why.
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec
import polars as pl

from flushwatch.domain.symbols import base_asset

SourceKind = Literal["venue_prints", "vendor_aggregate"]

_HOUR_NS = 3600 * 10**9
_PARTIAL = ("throttled", "unknown")
VENUE_PRINTS = "venue prints"


class AccountingParams(msgspec.Struct, frozen=True, kw_only=True, forbid_unknown_fields=True):
    """How many of the largest hours and prints the account lists."""

    top_n: Annotated[
        int,
        msgspec.Meta(ge=0, description="Largest hours/prints to list: enough to see a cascade."),
    ] = 5


class LiqTotal(msgspec.Struct, frozen=True, kw_only=True):
    """Long and short liquidation USD of one group within one source."""

    source_kind: SourceKind
    #: "venue prints" or the vendor and its venue set, e.g. "coinglass (Binance,Bybit,OKX)".
    source: str
    #: The group: "all", a coverage class, an asset, a venue, or an hour (ISO, UTC).
    key: str
    ts: int | None = None
    long_usd: float
    short_usd: float
    total_usd: float
    count: int
    lower_bound: bool
    #: "complete", "lower bound (throttled feeds)", "vendor aggregate", ...
    label: str
    pct_of_oi: float | None = None


class LiqPrint(msgspec.Struct, frozen=True, kw_only=True):
    """One venue liquidation print, as listed among the largest."""

    ts: int
    exchange: str
    symbol: str
    side: str
    price: float
    notional: float
    coverage: str


class LiquidationAccount(msgspec.Struct, frozen=True, kw_only=True):
    """Liquidations in ``[start_ts, end_ts)``, kept apart by coverage (see module docstring)."""

    start_ts: int
    end_ts: int
    #: One row per print coverage class and one per vendor source: never summed together.
    by_coverage: list[LiqTotal]
    #: All venue prints added up (the only cross-source total); None without prints.
    venue_prints_total: LiqTotal | None
    by_asset: list[LiqTotal]
    by_venue: list[LiqTotal]
    by_hour: list[LiqTotal]
    largest_hours: list[LiqTotal]
    largest_prints: list[LiqPrint]
    notes: list[str]


def _label(kind: SourceKind, coverages: set[str]) -> tuple[bool, str]:
    if kind == "vendor_aggregate":
        return False, "vendor aggregate (coverage set by the vendor)"
    partial = sorted(coverages & set(_PARTIAL))
    if partial:
        return True, f"lower bound ({' and '.join(partial)} feeds)"
    return False, "complete"


_COLS = ("ts_event", "exchange", "coverage", "asset", "kind", "source", "long", "short", "hourly")


def _prints_frame(prints: pl.DataFrame, start_ns: int, end_ns: int) -> pl.DataFrame:
    df = prints.filter((pl.col("ts_event") >= start_ns) & (pl.col("ts_event") < end_ns))
    mapping = {s: base_asset(s) for s in df.get_column("symbol").unique().to_list()}
    aggregated = pl.col("coverage").cast(pl.String) == "aggregated"
    side = pl.col("side").cast(pl.String)
    return df.with_columns(
        pl.col("side").cast(pl.String),
        pl.col("coverage").cast(pl.String),
        pl.col("symbol").replace_strict(mapping, return_dtype=pl.String).alias("asset"),
        pl.when(aggregated)
        .then(pl.lit("vendor_aggregate"))
        .otherwise(pl.lit("venue_prints"))
        .alias("kind"),
        pl.when(aggregated)
        .then(pl.col("exchange") + " (aggregated prints)")
        .otherwise(pl.lit(VENUE_PRINTS))
        .alias("source"),
        pl.when(side == "long").then(pl.col("notional")).otherwise(0.0).alias("long"),
        pl.when(side == "short").then(pl.col("notional")).otherwise(0.0).alias("short"),
        pl.lit(True).alias("hourly"),
    )


def _buckets_frame(
    buckets: pl.DataFrame, start_ns: int, end_ns: int, notes: list[str]
) -> pl.DataFrame:
    bucket_end = pl.col("ts_event") + pl.col("interval_s") * 10**9
    overlap = buckets.filter((pl.col("ts_event") < end_ns) & (bucket_end > start_ns))
    inside = overlap.filter((pl.col("ts_event") >= start_ns) & (bucket_end <= end_ns))
    if overlap.height > inside.height:
        notes.append(
            f"{overlap.height - inside.height} vendor bucket(s) straddle the window edge and "
            "are left out (their split inside the window is unknown)."
        )
    longer = inside.filter(pl.col("interval_s") > 3600).height
    if longer:
        notes.append(
            f"{longer} vendor bucket(s) longer than an hour count in the totals but not in "
            "the hourly rows."
        )
    mapping = {s: base_asset(s) for s in inside.get_column("symbol").unique().to_list()}
    return inside.select(
        pl.col("ts_event"),
        pl.col("exchange"),
        pl.lit("aggregated").alias("coverage"),
        pl.col("symbol").replace_strict(mapping, return_dtype=pl.String).alias("asset"),
        pl.lit("vendor_aggregate").alias("kind"),
        (pl.col("exchange") + " (" + pl.col("venues") + ")").alias("source"),
        pl.col("long_usd").cast(pl.Float64).alias("long"),
        pl.col("short_usd").cast(pl.Float64).alias("short"),
        (pl.col("interval_s") <= 3600).alias("hourly"),
    )


def _totals(
    df: pl.DataFrame, key: pl.Expr, oi_quote: float | None = None, with_ts: bool = False
) -> list[LiqTotal]:
    """Sum long/short per (source, key); rows never mix sources."""
    if df.height == 0:
        return []
    grouped = (
        df.with_columns(key.cast(pl.String).alias("_key"))
        .group_by(["kind", "source", "_key"])
        .agg(
            pl.col("long").sum(),
            pl.col("short").sum(),
            pl.len().alias("count"),
            pl.col("coverage").unique().alias("coverages"),
            pl.col("_hour").first(),
        )
        .sort(["kind", "source", "_key"])
    )
    out = []
    for row in grouped.iter_rows(named=True):
        lower, label = _label(row["kind"], set(row["coverages"]))
        total = float(row["long"]) + float(row["short"])
        out.append(
            LiqTotal(
                source_kind=row["kind"],
                source=row["source"],
                key=row["_key"],
                ts=int(row["_hour"]) if with_ts else None,
                long_usd=float(row["long"]),
                short_usd=float(row["short"]),
                total_usd=total,
                count=int(row["count"]),
                lower_bound=lower,
                label=label,
                pct_of_oi=None if not oi_quote else total / oi_quote * 100.0,
            )
        )
    return out


def _largest_hours(by_hour: list[LiqTotal], top_n: int) -> list[LiqTotal]:
    out: list[LiqTotal] = []
    for source in sorted({r.source for r in by_hour}):
        rows = [r for r in by_hour if r.source == source]
        out.extend(sorted(rows, key=lambda r: (-r.total_usd, r.key))[:top_n])
    return out


def _largest_prints(prints: pl.DataFrame, top_n: int) -> list[LiqPrint]:
    venue = prints.filter(pl.col("kind") == "venue_prints")
    top = venue.sort(["notional", "ts_event"], descending=[True, False]).head(top_n)
    return [
        LiqPrint(
            ts=int(r["ts_event"]),
            exchange=r["exchange"],
            symbol=r["symbol"],
            side=r["side"],
            price=float(r["price"]),
            notional=float(r["notional"]),
            coverage=r["coverage"],
        )
        for r in top.iter_rows(named=True)
    ]


def account_liquidations(
    prints: pl.DataFrame | None,
    buckets: pl.DataFrame | None,
    start_ns: int,
    end_ns: int,
    *,
    oi_quote: float | None = None,
    p: AccountingParams | None = None,
) -> LiquidationAccount:
    """Account for the liquidations in ``[start_ns, end_ns)`` without mixing coverage.

    ``prints`` has the ``liquidations`` columns and ``buckets`` the ``liquidation_buckets``
    columns (either may be None). ``oi_quote`` (USD open interest, e.g. before the flush)
    adds ``pct_of_oi`` to the coverage rows and the venue-print total.
    """
    p = p or AccountingParams()
    notes: list[str] = []
    frames = []
    pr = None
    if prints is not None and prints.height:
        pr = _prints_frame(prints, start_ns, end_ns)
        frames.append(pr.select(_COLS))
    if buckets is not None and buckets.height:
        frames.append(_buckets_frame(buckets, start_ns, end_ns, notes).select(_COLS))
    rows = pl.concat(frames, how="vertical_relaxed") if frames else pl.DataFrame()
    if rows.height == 0:
        notes.append("No liquidation prints or vendor buckets in the window.")
        return LiquidationAccount(
            start_ts=start_ns, end_ts=end_ns, by_coverage=[], venue_prints_total=None,
            by_asset=[], by_venue=[], by_hour=[], largest_hours=[], largest_prints=[],
            notes=notes,
        )  # fmt: skip
    rows = rows.with_columns((pl.col("ts_event") // _HOUR_NS * _HOUR_NS).alias("_hour"))
    # one vectorised format (a Python iso() per row was most of a 1,000-asset report's time)
    hour_key = pl.from_epoch(pl.col("_hour"), time_unit="ns").dt.strftime("%Y-%m-%d %H:%M")
    by_hour = _totals(rows.filter(pl.col("hourly")), hour_key, with_ts=True)
    total = _totals(rows.filter(pl.col("kind") == "venue_prints"), pl.lit("all"), oi_quote)
    return LiquidationAccount(
        start_ts=start_ns,
        end_ts=end_ns,
        by_coverage=_totals(rows, pl.col("coverage"), oi_quote),
        venue_prints_total=total[0] if total else None,
        by_asset=_totals(rows, pl.col("asset")),
        by_venue=_totals(rows, pl.col("exchange")),
        by_hour=by_hour,
        largest_hours=_largest_hours(by_hour, p.top_n),
        largest_prints=[] if pr is None else _largest_prints(pr, p.top_n),
        notes=notes,
    )
