"""Named scenarios: each one is a set of overrides of :class:`~flushwatch.sim.params.SimParams`.

=========  ================================================================================
reset      longs crowd for a day, a spot sell-off (−7 % in 20 min) runs through their
           liquidation and stop bands; 70 % of it snaps back within the hour (the wick),
           30 % more over hours; burned traders reopen slowly: OI drops and stays down,
           funding resets, price recovers (the defaults)
trend      the same flush, but no snap-back or retracement: spot keeps falling (−4 %/day)
           while dip buyers reopen longs: the flush low and support are lost
squeeze    shorts crowd, a spot rally (+5 %) squeezes them; 30 % fades, the rest holds
calm       no shock and no crowding: an ordinary day, no flush
=========  ================================================================================
"""

from __future__ import annotations

from typing import Any

import msgspec

from flushwatch.errors import ConfigError
from flushwatch.sim.params import SimParams

__all__ = ["SCENARIOS", "scenario_params"]

SCENARIOS: dict[str, dict[str, Any]] = {
    "reset": {},
    "trend": {
        "snapback_share": 0.0,
        "recovery_share": 0.0,
        "post_drift_pct_day": -4.0,
        "post_open_mult": 1.2,
        "rebuild_hours": 12.0,
        "post_bias": 0.1,
    },
    "squeeze": {
        "shock_pct": 5.0,
        "crowd_bias": -0.06,
        "snapback_share": 0.3,
        "recovery_share": 0.0,
        "post_bias": 0.02,
    },
    "calm": {"shock_pct": 0.0, "crowd_bias": 0.0, "crowd_rate": 1.0, "post_open_mult": 1.0},
}


def scenario_params(name: str, **overrides: Any) -> SimParams:
    """Parameters of scenario ``name`` with the user's ``overrides`` on top (typos rejected)."""
    if name not in SCENARIOS:
        known = ", ".join(SCENARIOS)
        raise ConfigError(f"unknown scenario {name!r}; choose one of: {known}")
    fields = {**SCENARIOS[name], **{k: v for k, v in overrides.items() if v is not None}}
    try:
        return msgspec.convert(fields, SimParams)
    except msgspec.ValidationError as exc:
        raise ConfigError(f"scenario {name}: {exc}") from None
