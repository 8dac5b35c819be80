"""Seeds fixed per task: the same draws from a task's key, here or on any worker."""

from __future__ import annotations

import random

import numpy as np

from flushwatch.api.cluster import ClusterSpec, run_tasks, task_seed
from flushwatch.testing.dask_tasks import global_draws


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
