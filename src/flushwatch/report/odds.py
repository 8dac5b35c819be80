"""The verdict's outcome odds as rows for people: one row per outcome, one cell per horizon.

Shared by the terminal and the HTML page so both say the same thing the same way: each cell
is the walk-forward estimate next to the base rate it must beat, and the footnote says
whether the procedure has beaten that base rate on the past flushes it could be scored on.
"""

from __future__ import annotations

from flushwatch.analytics.outcomes import OUTCOME_TEXT, OUTCOMES
from flushwatch.analytics.results import Probability


def horizons(probs: dict[str, Probability]) -> list[str]:
    """The horizons present, in the configured order (``1d``, ``3d``, ...)."""
    seen: dict[str, None] = {}
    for oid in probs:
        seen.setdefault(oid.rsplit("_", 1)[1], None)
    return list(seen)


def cell(prob: Probability | None) -> str:
    """``"41% (base 47%)"``, or ``"n/a"`` when the outcome cannot be estimated."""
    if prob is None or prob.p is None:
        return "n/a"
    base = f"base {_pct(prob.base_rate)}" if prob.base_rate is not None else "no base rate"
    return f"{_pct(prob.p)} ({base})"


def _pct(p: float) -> str:
    """A probability in whole percent, never a bare 0% or 100% for an estimate."""
    return "<1%" if p < 0.005 else ">99%" if p > 0.995 else f"{p:.0%}"


def rows(probs: dict[str, Probability]) -> list[tuple[str, list[str]]]:
    """``[(outcome text, [cell per horizon])]`` for every outcome with any estimate."""
    out = []
    for name in OUTCOMES:
        cells = [cell(probs.get(f"{name}_{h}")) for h in horizons(probs)]
        if any(c != "n/a" for c in cells):
            out.append((OUTCOME_TEXT[name], cells))
    return out


def footnote(probs: dict[str, Probability]) -> str:
    """How the numbers were made and whether they have shown skill yet."""
    methods = sorted({p.method.replace("_", " ") for p in probs.values() if p.p is not None})
    rates = sorted({p.rate_source for p in probs.values() if p.rate_source is not None})
    fell = sorted(oid for oid, p in probs.items() if p.fell_back)
    beat = sorted(oid for oid, p in probs.items() if p.beats_base_rate is True)
    lost = sorted(oid for oid, p in probs.items() if p.beats_base_rate is False)
    unknown = len(probs) - len(beat) - len(lost)
    parts = [
        "Estimates, walk-forward from earlier flushes resolved by the as-of time "
        f"(method: {', '.join(methods) or 'none'}; base rate: "
        f"{', '.join(RATE_TEXT.get(r, r) for r in rates) or 'none'})."
    ]
    if fell:
        parts.append(
            f"The model did worse than the base rate on past flushes, so the base rate is "
            f"shown: {', '.join(fell)}."
        )
    if beat:
        parts.append(f"Beat the base rate on past flushes: {', '.join(beat)}.")
    if lost:
        parts.append(f"No better than the base rate on past flushes: {', '.join(lost)}.")
    if unknown:
        parts.append(f"Too few scored past flushes to tell: {unknown} outcome(s).")
    return " ".join(parts)


#: The base rate's source (:attr:`Probability.rate_source`) for people.
RATE_TEXT = {
    "own": "this asset's own",
    "pooled": "all assets' (none of this one's yet)",
    "shrunk": "this asset's, shrunk toward all assets'",
}
