"""The scorecard's two tables as rows of text: one layout for the terminal, the page and the
bench, so all three say the same thing the same way (and none imports Plotly to print)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flushwatch.analytics.scorecard import OutcomeScore

OUTCOME_HEADER = (
    "outcome", "n", "happened", "Brier est.", "Brier base rate", "est − base [95% CI]",
    "Brier vol band", "est − band [95% CI]", "hit est.", "hit majority", "hit momentum",
    "hit drift",
)  # fmt: skip
#: Columns of :data:`OUTCOME_HEADER` holding an interval that is a win when below zero.
BASE_CI, BAND_CI = 5, 7
ASSET_HEADER = (
    "asset", "price", "liquidations", "found by", "episodes (flushes)", "judged", "scored",
    "recall", "precision", "most episodes / year",
)  # fmt: skip


def pct(x: float | None) -> str:
    """``0.523`` → ``"52%"``; ``None``/NaN → ``"n/a"``."""
    return "n/a" if x is None or not math.isfinite(x) else f"{100 * x:.0f}%"


def num(x: float | None) -> str:
    """A Brier score to three decimals; ``None``/NaN → ``"n/a"``."""
    return "n/a" if x is None or not math.isfinite(x) else f"{x:.3f}"


def ci(interval: tuple[float, float] | None) -> str:
    """``"[-0.140, -0.098]"``; no interval → ``"n/a"``."""
    return "n/a" if interval is None else f"[{interval[0]:+.3f}, {interval[1]:+.3f}]"


def outcome_cells(oid: str, s: OutcomeScore) -> list[str]:
    """One outcome's row under :data:`OUTCOME_HEADER`."""
    b = s.baselines
    return [
        oid, str(s.n), pct(s.observed_rate), num(s.brier), num(s.baseline_brier),
        ci(s.brier_diff_ci), num(b.get("vol_band_brier")), ci(s.band_diff_ci), pct(s.hit_rate),
        pct(s.baseline_hit_rate), pct(b.get("momentum_hit_rate")), pct(b.get("drift_hit_rate")),
    ]  # fmt: skip


def asset_cells(a: dict[str, Any]) -> list[str]:
    """One asset's row under :data:`ASSET_HEADER` (``a`` is a ``Scorecard.per_asset`` entry)."""
    d = a["detector"]
    recall = f"{d.clusters_found}/{d.clusters} = {pct(d.recall)}" if d.recall is not None else "n/a"
    precision = (
        f"{d.flushes_with_notable}/{d.flushes_judged} = {pct(d.precision)}"
        if d.precision is not None
        else "n/a"
    )
    return [
        a["asset"],
        str(a["sources"].get("price", "n/a")),
        str(a["sources"].get("liquidations", "not available")),
        ", ".join(a["detected_by"]) or "-",
        f"{a['events']} ({a['flushes']})",
        str(a["events_judged"]),
        str(a["events_scored"]),
        recall,
        precision,
        str(d.max_events_per_year),
    ]


def rate_line(oid: str, s: OutcomeScore) -> str:
    """Which base rate the events got and how often the model fell back to it, in words."""
    used = ", ".join(f"{k} {v}" for k, v in s.rate_sources.items()) or "none"
    return (
        f"{oid}: base rate {used} (own: the asset's flushes; pooled: every asset's; shrunk: "
        f"the asset's toward the pool); model on {s.n_model}, fell back to the base rate on "
        f"{s.n_fell_back}"
    )
