"""flushwatch's use cases, shared by every front end: ``open(store)`` → a :class:`Workspace`.

Each question is a method that takes ``at=`` (a datetime, an ISO string or int ns UTC) and
answers with what was knowable then; each answer is a frozen result with ``to_dict()`` (the
command's ``--json``) and ``frames()`` (its tables as Polars frames).
"""

from flushwatch.api.fragility import FragilityRanking
from flushwatch.api.results import (
    Cascade,
    Events,
    LiqMap,
    LiqPrice,
    MapBacktest,
    MapForecast,
    Report,
    SqlResult,
    StoreInfo,
)
from flushwatch.api.times import TimeLike, to_ns
from flushwatch.api.workspace import Workspace, liq_price, open_workspace, step_seconds

open = open_workspace

__all__ = [
    "Cascade",
    "Events",
    "FragilityRanking",
    "LiqMap",
    "LiqPrice",
    "MapBacktest",
    "MapForecast",
    "Report",
    "SqlResult",
    "StoreInfo",
    "TimeLike",
    "Workspace",
    "liq_price",
    "open",
    "step_seconds",
    "to_ns",
]
