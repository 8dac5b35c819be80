"""``backtest-map`` over several assets: one task per (asset, protocol), here or on Dask.

The nowcast (:meth:`Workspace.backtest_map`) and the forecast protocol
(:meth:`Workspace.forecast_map`) of each asset are independent, and each reads only its own
asset, so they are the units of work. Each task opens the store itself from its path (on a
worker too) and returns the small scored result; :func:`flushwatch.api.cluster.run_tasks`
hands them back in the order asked, so a run on ``--workers 2`` prints what a serial run does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flushwatch.errors import ConfigError

if TYPE_CHECKING:
    from flushwatch.api.cluster import ClusterSpec
    from flushwatch.api.results import MapBacktest, MapForecast

PROTOCOLS = ("both", "forecast", "nowcast")


@dataclass(frozen=True)
class MapSettings:
    """What ``backtest-map`` was asked for, the same for every asset."""

    exchange: str | None = None
    step: str | None = None
    warmup_hours: float = 72.0
    k_sigma: float = 2.0
    cadence_hours: float = 24.0


@dataclass(frozen=True)
class MapScores:
    """One asset's nowcast and forecast scores (None where not asked for or not run)."""

    asset: str
    nowcast: MapBacktest | None
    forecast: MapForecast | None
    skipped: str = ""  # why the forecast protocol was not run under ``both``


def score_maps(
    root: str,
    assets: Sequence[str],
    *,
    protocol: str = "both",
    settings: MapSettings | None = None,
    cluster: ClusterSpec | None = None,
) -> list[MapScores]:
    """Each asset's map scores under ``protocol``, in the order of ``assets``."""
    from flushwatch.api.cluster import run_tasks
    from flushwatch.api.workspace import open_workspace

    if protocol not in PROTOCOLS:
        raise ConfigError(f"--protocol {protocol!r}: use both, forecast or nowcast")
    open_workspace(root)  # a missing store fails here, before any cluster starts
    s = settings or MapSettings()
    kinds = [k for k in ("nowcast", "forecast") if protocol in (k, "both")]
    tasks = [
        (f"backtest-map/{a.upper()}/{k}", (root, a.upper(), k, protocol, s))
        for a in assets
        for k in kinds
    ]
    from flushwatch.api.results import MapBacktest, MapForecast

    done = dict(zip((key for key, _ in tasks), run_tasks(cluster, _task, tasks), strict=True))
    out = []
    for a in (x.upper() for x in assets):
        now = done.get(f"backtest-map/{a}/nowcast")
        fc = done.get(f"backtest-map/{a}/forecast")
        out.append(
            MapScores(
                asset=a,
                nowcast=now if isinstance(now, MapBacktest) else None,
                forecast=fc if isinstance(fc, MapForecast) else None,
                skipped=fc if isinstance(fc, str) else "",
            )
        )
    return out


def _task(
    root: str, asset: str, kind: str, protocol: str, s: MapSettings
) -> MapBacktest | MapForecast | str:
    """One protocol of one asset; under ``both``, a forecast that cannot run says why."""
    from flushwatch.api.workspace import open_workspace

    ws = open_workspace(root)
    if kind == "nowcast":
        return ws.backtest_map(asset, exchange=s.exchange, step=s.step, warmup_hours=s.warmup_hours)
    try:
        return ws.forecast_map(
            asset,
            exchange=s.exchange,
            step=s.step,
            k_sigma=s.k_sigma,
            cadence_hours=s.cadence_hours,
        )
    except ConfigError as exc:
        if protocol == "forecast":
            raise
        return f"forecast protocol not run: {exc}"
