"""``flushwatch map``: the estimated liquidation map of one asset, from the store.

Composition only: :func:`flushwatch.report.assemble.assemble` gives the market, the kernels in
:mod:`flushwatch.analytics.liqmap` and :mod:`flushwatch.analytics.stops` estimate, this module
prints (Rich), writes JSON, or hands the figures to :mod:`flushwatch.report.map_html`.

``--json`` shape (every number is an estimate; ``"estimate": true``)::

    {"asset", "estimate": true, "asof", "asof_ts", "price", "bars_used", "tiers",
     "sources": {series: description, "split": ..., "entry": ...}, "params": {...},
     "totals": {"long_usd", "short_usd"},
     "bands": {"long": [{"lo", "hi", "notional_usd", "distance_pct"}], "short": [...]},
     "cumulative": [{"move_pct", "long_usd_if_down", "short_usd_if_up"}],
     "bins": [{"price", "long_usd", "short_usd"}],      # non-empty bins only
     "stops": {"heuristic": true, "params": {...}, "clusters": [{"side", "level_price",
               "stop_price", "kind", "notional", "distance_pct", "heuristic"}]}}
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from flushwatch.analytics.liqmap import LiqMapState
    from flushwatch.analytics.market import F64, MarketSeries
    from flushwatch.analytics.stops import StopCluster
    from flushwatch.store import Store

MOVES = (1.0, 2.0, 5.0, 10.0)
BAND_PCT = 0.5
BANDS_SHOWN = 6
_MAX_SNAPSHOTS = 600  # heatmap columns in the HTML page


def _side_inputs(store: Store, m: MarketSeries) -> tuple[F64 | None, F64 | None, dict[str, str]]:
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
    bars = mine(store.read(Bar, market="perp", start_ns=t0, end_ns=t1))
    if bars.height:
        bars = bars.filter(
            (pl.col("interval_s") == m.step_s) & pl.col("taker_buy_quote").is_not_null()
        ).with_columns((pl.col("taker_buy_quote") / pl.col("volume_quote")).alias("share"))
    if bars.height:
        taker = aligned(bars, "share", at_close=False)
        notes["split"] = "taker-buy share of each bar's perp volume"
    ratios = mine(store.read(LongShortRatio, start_ns=t0 - 3600 * 10**9, end_ns=t1))
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
    store_root: Path,
    asset: str,
    *,
    exchange: str | None,
    at: str | None,
    start: str | None,
    end: str | None,
    bins: int,
    snapshots: bool,
) -> tuple[MarketSeries, LiqMapState, list[StopCluster], dict[str, str]]:
    """Assemble the market and estimate its map as of ``at`` (bars before it only)."""
    import numpy as np

    from flushwatch.analytics.levels import LevelParams
    from flushwatch.analytics.liqmap import LiqMapParams, build_map
    from flushwatch.analytics.mechanics import BINANCE_BTCUSDT_2021
    from flushwatch.analytics.stops import StopParams, stop_clusters
    from flushwatch.cli.commands import parse_time
    from flushwatch.errors import ConfigError
    from flushwatch.report.assemble import assemble
    from flushwatch.store import Store

    store = Store.open(store_root, create=False)
    m = assemble(
        store,
        asset,
        exchange=exchange,
        start_ns=parse_time(start, "--start"),
        end_ns=parse_time(end, "--end"),
    )
    if m.oi_quote is None or not np.any(np.isfinite(m.oi_quote)):
        raise ConfigError(
            f"the liquidation map needs open interest, and the store has none for {m.asset} "
            "in this window (import an OI series, e.g. Binance Vision metrics or a vendor export)"
        )
    at_ns = parse_time(at, "--at")
    upto = m.n if at_ns is None else int(np.searchsorted(m.ts, at_ns, side="left"))
    if upto < 2:
        raise ConfigError(f"--at {at}: the map needs at least two bars before that time")
    taker, ls, notes = _side_inputs(store, m)
    every = max(1, -(-upto // _MAX_SNAPSHOTS)) if snapshots else 0
    state = build_map(
        m.ts,
        m.open,
        m.high,
        m.low,
        m.close,
        m.oi_quote,
        LiqMapParams(n_bins=bins),
        BINANCE_BTCUSDT_2021,
        taker_buy_share=taker,
        ls_ratio=ls,
        upto=upto,
        snapshot_every=every,
    )
    clusters = stop_clusters(m, upto - 1, StopParams(), LevelParams())
    notes |= {"tiers": BINANCE_BTCUSDT_2021.source or "Binance BTCUSDT 2021 tiers"}
    return m, state, clusters, notes


def to_json(
    m: MarketSeries, state: LiqMapState, clusters: list[StopCluster], notes: dict[str, str]
) -> dict[str, Any]:
    """The documented ``--json`` shape (see the module docstring)."""
    import msgspec
    import numpy as np

    from flushwatch.analytics.liqmap import LiqMapParams, bands, map_at, moves_totals
    from flushwatch.analytics.stops import StopParams
    from flushwatch.domain.time import iso

    view = map_at(state)
    nz = np.flatnonzero((view.long > 0) | (view.short > 0))
    params = msgspec.to_builtins(LiqMapParams(n_bins=state.centres.size))
    return {
        "asset": m.asset,
        "estimate": True,
        "asof": iso(state.asof_ts),
        "asof_ts": state.asof_ts,
        "price": state.price,
        "bars_used": state.asof_index,
        "tiers": notes.get("tiers"),
        "sources": m.sources
        | {"split": notes.get("split", "50/50 (no taker flow or long/short ratio stored)")}
        | {"entry": "typical price (H+L+C)/3" if state.entry_source != "vwap" else "VWAP"},
        "params": params,
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


def _usd(x: float | None) -> str:
    if x is None:
        return "n/a"
    for div, unit in ((1e9, "B"), (1e6, "M"), (1e3, "k")):
        if abs(x) >= div:
            return f"${x / div:,.2f}{unit}"
    return f"${x:,.0f}"


def render(doc: dict[str, Any]) -> None:
    """Print the map for a terminal (estimates, labelled as such)."""
    from rich.console import Console
    from rich.table import Table

    con = Console()
    con.print(
        f"[bold]{doc['asset']}[/] estimated liquidation map as of {doc['asof']} "
        f"(price {doc['price']:,.2f}, {doc['bars_used']} bars) — an estimate, read it relatively"
    )
    for side, where in (("short", "above"), ("long", "below")):
        t = Table(title=f"Estimated {side} liquidation bands {where} price ({BAND_PCT}% wide)")
        for col in ("from", "to", "distance", "notional (est.)"):
            t.add_column(col, justify="right")
        for b in doc["bands"][side]:
            t.add_row(
                f"{b['lo']:,.2f}",
                f"{b['hi']:,.2f}",
                f"{b['distance_pct']:.1f}%",
                _usd(b["notional_usd"]),
            )
        con.print(t)
    t = Table(title="Estimated cumulative liquidations if price moves")
    for col in ("move", "longs if down", "shorts if up"):
        t.add_column(col, justify="right")
    for c in doc["cumulative"]:
        t.add_row(f"±{c['move_pct']:g}%", _usd(c["long_usd_if_down"]), _usd(c["short_usd_if_up"]))
    con.print(t)
    t = Table(title="Stop clusters (heuristic, separate from liquidations)")
    for col in ("side", "level", "kind", "stops at", "distance", "notional (heuristic)"):
        t.add_column(col, justify="right")
    for c in doc["stops"]["clusters"][:10]:
        t.add_row(
            c["side"],
            f"{c['level_price']:,.2f}",
            c["kind"],
            f"{c['stop_price']:,.2f}",
            f"{c['distance_pct']:+.2f}%",
            _usd(c["notional"]),
        )
    con.print(t)
    for name, src in doc["sources"].items():
        con.print(f"[dim]{name}: {src}[/]")
    con.print(f"[dim]tiers: {doc['tiers']}; leverage prior and parameters: see --json[/]")


def run_map(
    store_root: Path,
    asset: str,
    *,
    exchange: str | None,
    at: str | None,
    start: str | None,
    end: str | None,
    bins: int,
    json_out: bool,
    html: Path | None,
) -> None:
    """Build, then print / write JSON / write HTML."""
    from flushwatch.cli import render as base_render

    m, state, clusters, notes = build(
        store_root,
        asset,
        exchange=exchange,
        at=at,
        start=start,
        end=end,
        bins=bins,
        snapshots=html is not None,
    )
    doc = to_json(m, state, clusters, notes)
    if html is not None:
        from flushwatch.report.map_html import write_map_html

        write_map_html(html, m, state, clusters)
    if json_out:
        base_render.print_json(doc)
        return
    render(doc)
    if html is not None:
        typer.echo(f"HTML map written to {html}")


# Option types are spelled out here rather than imported from ``cli.app``: that module
# imports this one to register the command, and annotations are resolved at registration.
_Asset = Annotated[str, typer.Argument(help="Asset, e.g. BTC, ETH, XRP (all its markets).")]
_Store = Annotated[
    Path | None,
    typer.Option(
        "--store",
        help="Store folder (default: $FLUSHWATCH_STORE, else your user data directory).",
        show_default=False,
    ),
]
_Exchange = Annotated[
    str | None, typer.Option(help="Use this exchange's price series (default: the fullest one).")
]
_Start = Annotated[str | None, typer.Option(help="Window start, ISO date/time UTC.")]
_End = Annotated[str | None, typer.Option(help="Window end (exclusive), ISO date/time UTC.")]
_At = Annotated[
    str | None,
    typer.Option(help="Map as of this time (bars before it only); default: after the last bar."),
]
_Bins = Annotated[int, typer.Option(min=10, max=100_000, help="Price bins of the map.")]
_Json = Annotated[
    bool, typer.Option("--json", help="Print machine-readable JSON instead of tables.")
]
_Html = Annotated[
    Path | None,
    typer.Option(help="Also write a self-contained HTML page: heatmap, bars, curves."),
]


def register(app: typer.Typer) -> None:
    """Add ``flushwatch map`` to the application."""

    @app.command("map")
    def map_(
        asset: _Asset,
        store: _Store = None,
        exchange: _Exchange = None,
        at: _At = None,
        start: _Start = None,
        end: _End = None,
        bins: _Bins = 2000,
        json_out: _Json = False,
        html: _Html = None,
    ) -> None:
        """Estimated liquidation map: where leveraged longs and shorts would be liquidated.

        New positions come from rises in open interest at each bar's price, spread over a
        documented leverage prior capped by Binance's tiers, placed at the exact isolated
        liquidation price, and removed when price trades through them or OI falls. Needs open
        interest in the store. Stop clusters at key levels are a separate heuristic.
        """
        from flushwatch.cli.app import _run, _store_path

        _run(
            lambda: run_map(
                _store_path(store),
                asset,
                exchange=exchange,
                at=at,
                start=start,
                end=end,
                bins=bins,
                json_out=json_out,
                html=html,
            )
        )
