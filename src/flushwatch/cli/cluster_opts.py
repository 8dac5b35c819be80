"""The ``--workers`` / ``--scheduler`` / ``--dashboard`` options of the universe commands.

Only the options: what they mean is :mod:`flushwatch.api.cluster` (imported when used, so
``--help`` does not load Dask).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from flushwatch.api.cluster import ClusterSpec

WorkersOpt = Annotated[
    int | None,
    typer.Option(
        "--workers",
        help="Run the per-asset work on a local Dask cluster of this many processes "
        "(127.0.0.1 only). Same result as without.",
        show_default=False,
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Run the per-asset work on the Dask scheduler at tcp://HOST:PORT; its workers "
        "must see the store at the same path.",
        show_default=False,
    ),
]
DashboardOpt = Annotated[
    bool,
    typer.Option(
        "--dashboard",
        help="With --workers: serve Dask's diagnostics page on 127.0.0.1:8787 (off by default).",
    ),
]


def cluster_spec(workers: int | None, scheduler: str | None, dashboard: bool) -> ClusterSpec | None:
    """The cluster the options ask for, or None to run here."""
    from flushwatch.api.cluster import spec_from_options

    return spec_from_options(workers, scheduler, dashboard)
