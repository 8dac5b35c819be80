"""flushwatch: monitor and analyse leverage flushes in crypto perpetual-futures markets.

>>> import flushwatch
>>> ws = flushwatch.open("./out/store")                        # doctest: +SKIP
>>> ws.report("BTC", at="2026-02-07T00:00").to_dict()["focus"]  # doctest: +SKIP

The API (:mod:`flushwatch.api`) is imported on first use, so ``import flushwatch`` and the
CLI's ``--help`` stay light.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from flushwatch.api import (
        Cascade,
        Events,
        FragilityRanking,
        LiqMap,
        LiqPrice,
        MapBacktest,
        Report,
        SqlResult,
        StoreInfo,
        Workspace,
        liq_price,
        open,
    )
    from flushwatch.errors import ConfigError, FlushwatchError, InputError, StoreError

_API = {
    "Cascade", "Events", "FragilityRanking", "LiqMap", "LiqPrice", "MapBacktest", "Report",
    "SqlResult", "StoreInfo", "Workspace", "liq_price", "open",
}  # fmt: skip
_ERRORS = {"ConfigError", "FlushwatchError", "InputError", "StoreError"}

__all__ = [
    "Cascade",
    "ConfigError",
    "Events",
    "FlushwatchError",
    "FragilityRanking",
    "InputError",
    "LiqMap",
    "LiqPrice",
    "MapBacktest",
    "Report",
    "SqlResult",
    "StoreError",
    "StoreInfo",
    "Workspace",
    "__version__",
    "liq_price",
    "open",
]


def __getattr__(name: str) -> Any:
    if name in _API:
        return getattr(importlib.import_module("flushwatch.api"), name)
    if name in _ERRORS:
        return getattr(importlib.import_module("flushwatch.errors"), name)
    raise AttributeError(f"module 'flushwatch' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
