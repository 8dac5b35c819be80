"""Terminal and JSON output of ``flushwatch cascade`` and ``flushwatch fragility``."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import msgspec
import numpy as np
from rich.console import Console
from rich.table import Table

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
    console.print(
        f"[bold]{out['asset']} cascade (estimated)[/]: a {r.shock_move_pct:+.2f}% shock "
        f"({_usd(r.shock_usd)} of market orders) ends at [bold]{r.final_move_pct:+.2f}%[/] "
        f"({r.final_price:,.2f}), amplification ×{r.amplification:.2f}, "
        f"{_usd(r.liquidated_usd)} of {side} liquidated in {r.steps} steps."
    )
    if r.book_exhausted:
        console.print(
            f"[red]The flow ran past the end of the known book[/] "
            f"({_usd(r.unabsorbed_usd)} unabsorbed): the move is at least this large."
        )
    console.print(f"Depth: {out['depth_source']}: {out['depth_note']}")
    console.print(f"Map: {out['map_note']}")
    console.print(f"Venues: {out.get('venue_note') or 'not stated'}")
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
        t.add_row(f"{s:+.1f}%", f"{f:+.2f}%" + (" ≥ (book end)" if ex else ""), _usd(float(liq)))
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
            f"Median move {mc.move_p50_pct:+.2f}% (5–95%: {mc.move_p05_pct:+.2f}% to "
            f"{mc.move_p95_pct:+.2f}%) over the {mc.runs_within_depth:,} runs inside the known "
            f"depth; beyond known depth (excluded): {100 * mc.prob_book_exhausted:.1f}%."
        )
    if html is not None:
        console.print(f"HTML written to [bold]{html}[/]")


def show_fragility(result: FragilityRanking, *, json_out: bool) -> None:
    """Print the fragility ranking with each market's components and what is missing."""
    if json_out:
        sys.stdout.write(to_json(result.to_dict()) + "\n")
        return
    ranked, notes = result.markets, result.notes
    t = Table(title="Fragility ranking (heuristic estimate; higher = more fragile)")
    cols = ("lev_to_depth", "oi_to_depth", "oi_to_volume", "funding_z", "max_gain")
    for col in ("rank", "asset", "score", *cols, "G≥1 width %", "depth"):
        t.add_column(col, justify="right")
    for f in ranked:
        vals = [f"{f.components[c]:.2f}" if c in f.components else "n/a" for c in cols]
        width = f.components.get("gain_width_pct")
        t.add_row(
            str(f.rank),
            f.asset,
            "n/a" if not np.isfinite(f.score) else f"{f.score:.2f}",
            *vals,
            "n/a" if width is None else f"{width:.2f}",
            f.depth_source or "n/a",
        )
    console.print(t)
    for f in ranked:
        for n in notes.get(f.asset, []):
            console.print(f"{f.asset}: {n}")
        if f.missing:
            console.print(
                f"{f.asset}: not available, left out of the score: {', '.join(f.missing)}"
            )
