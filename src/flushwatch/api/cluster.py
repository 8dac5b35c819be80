"""Running a use case's per-asset tasks here, on a local Dask cluster, or on an existing one.

A universe job (the scorecard over hundreds of assets) splits into independent tasks, one per
asset, whose small results are gathered and finished serially. :func:`run_tasks` runs them in
this process (no :class:`ClusterSpec`), on a :class:`distributed.LocalCluster` of
``workers`` processes bound to 127.0.0.1, or on the scheduler at ``scheduler``. Results come
back in the order the tasks were given, whatever order they finish in, so a distributed run
equals a serial one.

Why spawn: Polars (and DuckDB) hold thread pools that a forked child inherits locked; a
forked worker hangs. The workers are started with the ``spawn`` method, whatever the user's
Dask configuration says.

Why seeds from the key: a task may draw random numbers (a bootstrap); seeding from which
worker ran it, or from a shared generator, would make the answer depend on the schedule.
:func:`seeded` seeds Python's and NumPy's global generators from a hash of the task's own key
before it runs, here and on a worker alike.

Workers read the store themselves, from its path: only the task's arguments (a path, an
asset, a config) and its small result travel through the scheduler. On a real cluster the
path must name the same store on every machine (shared storage).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import uuid
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from flushwatch.errors import ConfigError, FlushwatchError

if TYPE_CHECKING:
    from distributed import Client, LocalCluster

T = TypeVar("T")

#: Where ``--dashboard`` serves Dask's diagnostics page (loopback only).
DASHBOARD_ADDRESS = "127.0.0.1:8787"
_ANY = "127.0.0.1:0"


@dataclass(frozen=True)
class ClusterSpec:
    """Where tasks run: ``workers`` local processes, or the scheduler at ``scheduler``.

    Examples
    --------
    >>> ClusterSpec(workers=2)
    ClusterSpec(workers=2, scheduler=None, dashboard=False)
    >>> ClusterSpec(workers=2, scheduler="tcp://10.0.0.5:8786")
    Traceback (most recent call last):
    ...
    flushwatch.errors.ConfigError: give --workers or --scheduler, not both
    """

    workers: int | None = None
    scheduler: str | None = None
    dashboard: bool = False

    def __post_init__(self) -> None:
        if self.workers is not None and self.scheduler is not None:
            raise ConfigError("give --workers or --scheduler, not both")
        if self.workers is None and self.scheduler is None:
            raise ConfigError("give --workers N or --scheduler tcp://HOST:PORT")
        if self.workers is not None and not 1 <= self.workers <= 512:
            raise ConfigError(f"--workers {self.workers}: use 1 to 512 processes")
        if self.scheduler is not None and "://" not in self.scheduler:
            raise ConfigError(
                f"--scheduler {self.scheduler!r}: use an address such as tcp://HOST:8786"
            )
        if self.dashboard and self.scheduler is not None:
            raise ConfigError("--dashboard starts a local cluster's page: use it with --workers")


def spec_from_options(
    workers: int | None, scheduler: str | None, dashboard: bool = False
) -> ClusterSpec | None:
    """The spec the command-line options ask for, or None (run here, serially)."""
    if workers is None and scheduler is None:
        if dashboard:
            raise ConfigError("--dashboard needs --workers N")
        return None
    return ClusterSpec(workers=workers, scheduler=scheduler, dashboard=dashboard)


def task_seed(key: str) -> int:
    """A 64-bit seed that depends on the task's key only (stable across runs and machines).

    Examples
    --------
    >>> task_seed("scorecard/BTC") == task_seed("scorecard/BTC") != task_seed("scorecard/ETH")
    True
    """
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def seeded(fn: Callable[..., T], key: str, *args: Any) -> T:
    """Run ``fn(*args)`` with the global random generators seeded from ``key``."""
    import random

    import numpy as np

    seed = task_seed(key)
    random.seed(seed)
    np.random.seed(seed % 2**32)  # the legacy global generator: pinned for old-style code
    return fn(*args)


@contextlib.contextmanager
def connect(spec: ClusterSpec) -> Iterator[Client]:
    """A client of the cluster ``spec`` names; a local cluster is shut down on leaving."""
    from distributed import Client

    if spec.scheduler is not None:
        try:
            client = Client(spec.scheduler, set_as_default=False)  # type: ignore[no-untyped-call]
        except (OSError, TimeoutError, ValueError, TypeError) as exc:
            raise ConfigError(
                f"--scheduler {spec.scheduler}: cannot connect ({_first_line(exc)}); start one "
                "with `dask scheduler` or use --workers N for a local cluster"
            ) from None
        with client:
            _check_workers(client, spec.scheduler)
            yield client
        return
    assert spec.workers is not None
    with (
        local_cluster(spec.workers, dashboard=spec.dashboard) as cluster,
        Client(cluster, set_as_default=False) as client,  # type: ignore[no-untyped-call]
    ):
        yield client


def worker_version() -> str:
    """The flushwatch version a worker imports (run there before any task)."""
    from importlib.metadata import version

    return version("flushwatch")


def _check_workers(client: Client, address: str) -> None:
    """Refuse a scheduler whose workers would never run our tasks (they would hang)."""
    if not client.scheduler_info()["workers"]:
        raise ConfigError(
            f"--scheduler {address} has no workers: start some with `dask worker {address}`"
        )
    try:
        found = client.run(worker_version)
    except Exception as exc:  # whatever the worker raised, the fix is the same
        raise ConfigError(
            f"--scheduler {address}: a worker cannot import flushwatch ({_first_line(exc)}); "
            "install the same flushwatch on every worker"
        ) from None
    here = worker_version()
    other = sorted({v for v in found.values() if v != here})
    if other:
        raise ConfigError(
            f"--scheduler {address}: workers run flushwatch {', '.join(other)}, this is {here}; "
            "install the same version everywhere"
        )


@contextlib.contextmanager
def local_cluster(workers: int, *, dashboard: bool = False) -> Iterator[LocalCluster]:
    """``workers`` spawn-started processes and their scheduler, on 127.0.0.1 only."""
    import dask
    from distributed import LocalCluster

    if dashboard and importlib.util.find_spec("bokeh") is None:
        raise ConfigError("--dashboard needs Bokeh: pip install 'dask[diagnostics]'")
    # Without a dashboard the scheduler still serves its health/metrics routes over HTTP, on
    # 8787 unless told otherwise: put them on a free loopback port, and leave 8787 alone.
    http = {"dashboard": dashboard, "dashboard_address": DASHBOARD_ADDRESS if dashboard else _ANY}
    with dask.config.set({"distributed.worker.multiprocessing-method": "spawn"}):
        # distributed's constructors and as_completed are not annotated: hence the ignores
        cluster = LocalCluster(  # type: ignore[no-untyped-call]
            n_workers=workers,
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
            worker_dashboard_address=None,
            scheduler_kwargs=http,
            silence_logs=logging.CRITICAL,  # a task's error is raised here, in one line
        )
    with cluster:
        yield cluster


def run_tasks(
    spec: ClusterSpec | None,
    fn: Callable[..., T],
    tasks: Sequence[tuple[str, tuple[Any, ...]]],
    progress: Callable[[str, int, int], None] | None = None,
) -> list[T]:
    """``fn(*args)`` for each ``(key, args)`` of ``tasks``, results in the tasks' order.

    ``fn`` must be a module-level function (a worker imports it by name) and its arguments
    small. ``progress(key, done, total)`` is called before each task here, and as each
    finishes on a cluster.
    """
    if spec is None:
        out = []
        for i, (key, args) in enumerate(tasks):
            if progress is not None:
                progress(key, i, len(tasks))
            out.append(seeded(fn, key, *args))
        return out
    with connect(spec) as client:
        return _on_cluster(client, fn, tasks, progress)


def _on_cluster(
    client: Client,
    fn: Callable[..., T],
    tasks: Sequence[tuple[str, tuple[Any, ...]]],
    progress: Callable[[str, int, int], None] | None,
) -> list[T]:
    from concurrent.futures import CancelledError

    from distributed import KilledWorker, as_completed
    from distributed.comm.core import CommClosedError

    run = uuid.uuid4().hex[:12]  # a fresh Dask key per run: a shared scheduler may hold old ones
    futures = [
        client.submit(seeded, fn, key, *args, key=f"flushwatch-{run}-{i}", pure=False)
        for i, (key, args) in enumerate(tasks)
    ]
    index = {f.key: i for i, f in enumerate(futures)}
    results: list[Any] = [None] * len(futures)
    done_in_turn = as_completed(futures, loop=client.loop)  # type: ignore[no-untyped-call]
    try:
        for done, future in enumerate(done_in_turn, start=1):
            i = index[future.key]
            results[i] = future.result()  # a task's own error is raised here, as it was
            if progress is not None:
                progress(tasks[i][0], done, len(tasks))
    except (KilledWorker, CommClosedError, CancelledError) as exc:
        raise FlushwatchError(
            f"the Dask cluster lost a task ({type(exc).__name__}: {_first_line(exc)}): a "
            "worker died or the scheduler went away; retry with fewer --workers, or without"
        ) from None
    return results


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0]
