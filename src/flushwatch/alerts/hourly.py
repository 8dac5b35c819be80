"""Probability alert rules, evaluated on the store's report at each closed hour.

The live ring holds hours of minute bars; walk-forward odds need days of resolved flushes of
every asset, which only the store has. So ``watch --store`` asks the report API, point in
time at each closed hour, for the latest judged flush's odds, and
:func:`~flushwatch.alerts.rules.probability_alert` decides (firing only where the estimate
has beaten its base rate on earlier flushes). The report takes seconds on a large store, so
the live loop starts it in a thread and collects the alerts when it is done.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from flushwatch.alerts.config import ProbabilityAbove
from flushwatch.alerts.rules import Alert, probability_alert
from flushwatch.analytics.results import FlushEvent, Probability
from flushwatch.domain.symbols import base_asset
from flushwatch.domain.time import iso
from flushwatch.errors import FlushwatchError

HOUR_NS = 3600 * 10**9
#: ``(asset, as-of ns) → (the report's judged flush, its odds by outcome id)``.
ReportFn = Callable[[str, int], tuple[FlushEvent | None, Mapping[str, Probability]]]


def store_reports(store: Path) -> ReportFn:
    """The report API on ``store``, as of the asked time (nothing later is read)."""
    import flushwatch.report.build  # noqa: F401 - imported here, not in the live loop's thread
    from flushwatch.api import open as open_store

    ws = open_store(store)

    def report(asset: str, at_ns: int) -> tuple[FlushEvent | None, Mapping[str, Probability]]:
        r = ws.report(asset, at=at_ns).report
        return r.focus, ({} if r.verdict is None else r.verdict.probabilities)

    return report


class HourlyOdds:
    """The probability rules of a watch: one evaluation per closed hour, off the live loop."""

    def __init__(
        self, rules: Sequence[ProbabilityAbove], symbols: Sequence[str], report: ReportFn
    ) -> None:
        self.rules = tuple(rules)
        self.symbols = tuple(symbols)
        self._report = report
        self._last: int | None = None
        self._task: asyncio.Future[list[Alert]] | None = None
        #: What each rule said at the last evaluated hour (fired, or why it is silent).
        self.notes: list[str] = []

    def due(self, now_ns: int) -> int | None:
        """The close of the last closed hour, when it has not been evaluated yet."""
        hour = now_ns // HOUR_NS * HOUR_NS
        return None if hour == self._last else hour

    def evaluate(self, at_ns: int) -> list[Alert]:
        """Every rule on every watched symbol's report as of ``at_ns`` (blocking)."""
        self._last = at_ns
        alerts: list[Alert] = []
        notes: list[str] = []
        for symbol in self.symbols:
            rules = [r for r in self.rules if not r.symbols or symbol in r.symbols]
            if not rules:
                continue
            try:
                focus, probs = self._report(base_asset(symbol), at_ns)
            except FlushwatchError as exc:
                notes.append(f"{symbol}: probability rules silent as of {iso(at_ns)}: {exc}")
                continue
            for rule in rules:
                alert, note = probability_alert(rule, symbol, at_ns, focus, probs)
                notes.append(f"{rule.name}: {note}")
                if alert is not None:
                    alerts.append(alert)
        self.notes = notes
        return alerts

    async def poll(self, now_ns: int) -> list[Alert]:
        """Start the hour's evaluation in a thread when due; its alerts once it has finished."""
        if self._task is not None:
            if not self._task.done():
                return []
            task, self._task = self._task, None
            return task.result()
        hour = self.due(now_ns)
        if hour is not None:
            self._last = hour
            self._task = asyncio.ensure_future(asyncio.to_thread(self.evaluate, hour))
        return []
