"""Terminal and JSON output of ``flushwatch cascade`` and ``flushwatch fragility``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from rich import box
from rich.console import Console
from rich.table import Table

from flushwatch.domain.numbers import signed_pct

if TYPE_CHECKING:
    from flushwatch.api import FragilityRanking

console = Console()


def _enc(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return [None if isinstance(v, float) and not np.isfinite(v) else v for v in obj.tolist()]
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot encode {type(obj).__name__}")


def to_json(obj: Any) -> str:
    """Indented JSON; numpy arrays become lists (NaN/inf → null)."""
    raw = msgspec.json.encode(obj, enc_hook=_enc)
    return msgspec.json.format(raw, indent=2).decode()


def _usd(x: float) -> str:
    return f"${x / 1e6:,.2f}M" if abs(x) >= 1e5 else f"${x:,.0f}"


def show_cascade(
    out: dict[str, Any], doc: dict[str, Any], *, json_out: bool, html: Path | None
) -> None:
    """Print one cascade (``out`` keeps its structs; ``doc`` is its JSON document)."""
    if json_out:
        sys.stdout.write(to_json(doc) + "\n")
        return
    r = out["result"]
    side = "longs" if r.direction == "down" else "shorts"
    shock, final = signed_pct(r.shock_move_pct, 2), signed_pct(r.final_move_pct, 2)
    console.print(
        f"[bold]{out['asset']} cascade (estimated)[/]: a {shock} shock "
        f"({_usd(r.shock_usd)} of market orders) ends at [bold]{final}[/] "
        f"({r.final_price:,.2f}), amplification ×{r.amplification:.2f}, "
        f"{_usd(r.liquidated_usd)} of {side} liquidated in {r.steps} steps."
    )
    if r.book_exhausted:
        console.print(
            f"[red]The flow ran past the end of the known book[/] "
            f"({_usd(r.unabsorbed_usd)} unabsorbed): the move is at least this large."
        )
    console.print(f"Depth: {out['depth_source']}: {out['depth_note']}", markup=False)
    console.print(f"Map: {out['map_note']}", markup=False)
    console.print(f"Venues: {out.get('venue_note') or 'not stated'}", markup=False)
    trig = sorted(r.triggers, key=lambda t: -t.liquidated_usd)[:10]
    if trig:
        t = Table(title="Largest trigger levels crossed (estimated)")
        t.add_column("price band")
        t.add_column("liquidated", justify="right")
        for lv in trig:
            t.add_row(f"{lv.price_from:,.2f} → {lv.price_to:,.2f}", _usd(lv.liquidated_usd))
        console.print(t)
    g = r.gain
    if g.bands:
        t = Table(title=f"Self-propagating bands (G ≥ 1), max G {g.max_gain:.2f}")
        for col in ("price band", "distance", "max G", "forced", "depth"):
            t.add_column(col, justify="right")
        for b in g.bands[:15]:
            t.add_row(
                f"{b.price_from:,.2f} → {b.price_to:,.2f}",
                f"{b.from_pct:.2f}–{b.to_pct:.2f}%",
                f"{b.max_gain:.2f}",
                _usd(b.forced_usd),
                _usd(b.depth_usd),
            )
        console.print(t)
    else:
        console.print(f"No band with G ≥ 1 in the known book (max G {g.max_gain:.2f}).")
    c = out["curve"]
    t = Table(title="Cascade curve (estimated): shock → final move")
    t.add_column("shock", justify="right")
    t.add_column("final move", justify="right")
    t.add_column("liquidated", justify="right")
    for s, f, liq, ex in zip(
        c["shock_pct"], c["final_move_pct"], c["liquidated_usd"], c["book_exhausted"], strict=True
    ):
        end = signed_pct(float(f), 2) + (" ≥ (book end)" if ex else "")
        t.add_row(signed_pct(float(s)), end, _usd(float(liq)))
    console.print(t)
    mc = out.get("monte_carlo")
    if mc is not None:
        t = Table(title=f"Monte Carlo: {mc.runs:,} runs, seed {mc.seed} (estimated)")
        t.add_column("move at least", justify="right")
        t.add_column("probability", justify="right")
        for x, p in zip(mc.thresholds_pct, mc.prob_beyond, strict=True):
            t.add_row(f"{x:g}%", f"{100 * p:.1f}%")
        console.print(t)
        console.print(
            f"Median move {signed_pct(mc.move_p50_pct, 2)} (5–95%: "
            f"{signed_pct(mc.move_p05_pct, 2)} to {signed_pct(mc.move_p95_pct, 2)}) over the "
            f"{mc.runs_within_depth:,} runs inside the known depth; beyond known depth "
            f"(excluded): {100 * mc.prob_book_exhausted:.1f}%."
        )
    if html is not None:
        console.print(f"HTML written to {html}", markup=False)


def show_fragility(result: FragilityRanking, *, json_out: bool, wide: bool = False) -> None:
    """Print the ranking on the common inputs, the legend, the groups and who is set apart.

    80 columns: short column names with a legend below; ``wide``: full names, every input
    any asset has, and each asset's notes.
    """
    if json_out:
        sys.stdout.write(to_json(result.to_dict()) + "\n")
        return
    specs = {s.name: s for s in result.inputs}
    held = {k for f in result.markets for k in f.components}
    cols = [s.name for s in result.inputs if s.name in held] if wide else list(result.used)
    head = (lambda n: n) if wide else (lambda n: specs[n].abbrev)
    console.print(
        f"[bold]Fragility, like with like, as of {_iso(result.as_of_ts)}[/] (estimate): "
        f"{len(result.markets)} ranked, {len(result.apart)} set apart"
    )
    if result.markets:
        t = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
        for col in ("#", "asset", "group", "score", *(head(c) for c in cols)):
            t.add_column(col, justify="left" if col in ("asset", "group") else "right")
        for f in result.markets:
            vals = [_num(f.components.get(c)) for c in cols]
            t.add_row(str(f.rank), f.asset, f.group, f"{f.score:.2f}", *vals)
        console.print(t)
    else:
        console.print("No input is held by enough of the assets to rank them on it.")
    console.print(f"Bars: {result.bars}. Score: {result.method}; higher = more fragile.")
    if not wide:
        for c in cols:
            sp = specs[c]
            console.print(f"  {sp.abbrev:<5} {sp.name} ({sp.unit}): {sp.about}")
    _show_groups(result, cols, head)
    if result.apart:
        lacks = ", ".join(f"{a.asset} ({', '.join(a.lacks)})" for a in result.apart)
        console.print(f"Set apart, lacking an input the others have: {lacks}")
    shown = [f.asset for f in result.markets] if wide else []
    for asset in [*shown, *(a.asset for a in result.apart)]:
        for n in result.notes.get(asset, []):
            console.print(f"  {asset}: {n}")


def _show_groups(result: FragilityRanking, cols: list[str], head: Any) -> None:
    console.print("Group medians (major = the most liquid by 30-day quote volume):")
    t = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 1))
    for col in ("group", "n", *(head(c) for c in cols)):
        t.add_column(col, justify="left" if col == "group" else "right")
    for g in result.groups:
        t.add_row(g.group, str(len(g.assets)), *(_num(g.median.get(c)) for c in cols))
    console.print(t)


def _num(x: float | None) -> str:
    if x is None or not np.isfinite(x):
        return "n/a"
    return f"{x:.2f}" if abs(x) < 10 else f"{x:.1f}"


def _iso(ns: int) -> str:
    from flushwatch.domain.time import iso

    return iso(ns)
