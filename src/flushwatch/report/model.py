"""The flush report as data: this struct *is* the documented ``--json`` schema.

``schema`` names the version; fields are only ever added within a version. Times are
integer nanoseconds UTC (``*_ts``) with ISO copies where a human reads them.

Version 2 (the point-in-time report): ``as_of_ts``/``as_of`` say when the question was asked;
every series ends there (bars that closed by then, records stamped by then); ``focus`` is the
latest flush *confirmed ended* by then and ``in_progress`` a flush still running (no verdict).
"""

from __future__ import annotations

import msgspec

from flushwatch.analytics.accounting import LiquidationAccount
from flushwatch.analytics.results import (
    CheckItem,
    FlushEvent,
    KeyLevel,
    RuleResult,
    TrapFlag,
    Verdict,
)
from flushwatch.analytics.wash import TradePrints

SCHEMA = "flushwatch.report/2"


class Window(msgspec.Struct, frozen=True, kw_only=True):
    """The analysed period and its resolution."""

    start_ts: int
    end_ts: int
    start: str
    end: str
    step_s: int
    bars: int


class FlushReport(msgspec.Struct, frozen=True, kw_only=True):
    """Everything ``flushwatch report`` concludes about one asset over one window."""

    schema: str = SCHEMA
    asset: str
    #: The report is what was knowable at this instant (ns UTC), and nothing later.
    as_of_ts: int
    as_of: str
    window: Window
    #: Where each input series came from (``"price": "binanceusdm perp BTCUSDT 60m bars"``).
    sources: dict[str, str]
    #: Which optional inputs exist; missing ones lower the verdict's confidence.
    available: dict[str, bool]
    liquidations: LiquidationAccount | None
    events: list[FlushEvent]
    #: The flush the checklist and verdict are about: the latest one confirmed ended at
    #: ``as_of`` (its merge gap of quiet bars closed), if any.
    focus: FlushEvent | None
    #: A flush still running at ``as_of``: reported, not judged (no verdict yet).
    in_progress: FlushEvent | None
    #: Pre-flush conditions just before the focus flush started (or at the window's end).
    trap: list[TrapFlag]
    levels: list[KeyLevel]
    reference_levels: dict[str, list[KeyLevel]]
    checklist: list[CheckItem]
    risk_box: list[RuleResult]
    verdict: Verdict | None
    notes: list[str]
    #: Wash-trading *suspicion* from the day of trade prints before ``as_of`` (None: no prints);
    #: set by ``flushwatch.api`` (the wash tests read prints, which the report layer does not).
    trade_prints: TradePrints | None = None


def level_state(lvl: KeyLevel) -> str:
    """Words a trader uses: a resistance that is "lost" was broken upward."""
    if lvl.role == "resistance":
        return {"lost": "broken upward", "reclaimed": "broken, then back below"}.get(
            lvl.state, lvl.state
        )
    return {"lost": "lost", "reclaimed": "lost, then reclaimed"}.get(lvl.state, lvl.state)
