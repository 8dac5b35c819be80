"""Seeds fixed per task (the same draws from a task's key, here or on any worker); a worker
that dies is one error."""

from __future__ import annotations

import random

import dask
import numpy as np
import pytest

from flushwatch.api.cluster import ClusterSpec, local_cluster, run_tasks, task_seed
from flushwatch.errors import FlushwatchError
from flushwatch.testing.dask_tasks import die, global_draws


def test_draws_depend_on_the_key_not_on_where_the_task_ran(scheduler: str) -> None:
    tasks = [(f"t/{i % 3}", (2,)) for i in range(6)]  # three keys, each twice
    here = run_tasks(None, global_draws, tasks)
    there = run_tasks(ClusterSpec(scheduler=scheduler), global_draws, tasks)
    assert there == here
    assert here[0] == here[3]  # same key, same draws
    assert here[0] != here[1]
    np.random.seed(task_seed("t/0") % 2**32)
    random.seed(task_seed("t/0"))
    assert here[0] == global_draws(2)


def test_a_dead_worker_is_one_error_not_a_hang() -> None:
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": 0}),
        local_cluster(1) as cluster,
    ):
        spec = ClusterSpec(scheduler=cluster.scheduler_address)
        with pytest.raises(FlushwatchError, match=r"^the Dask cluster lost a task \(KilledWorker"):
            run_tasks(spec, die, [("t/die", ())])
