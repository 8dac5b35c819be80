"""``scorecard --workers/--scheduler``: the same JSON as a serial run, on a loopback cluster."""

from __future__ import annotations

import json
from pathlib import Path

import dask
import pytest
from distributed import Client
from typer.testing import CliRunner

import flushwatch
from flushwatch.api import open_workspace
from flushwatch.api.cluster import ClusterSpec, local_cluster, worker_version
from flushwatch.cli.app import app
from flushwatch.testing.dask_tasks import has_fork_probe

AT = "2024-01-01T00:00Z"


def _scorecard(store: Path, *extra: str) -> str:
    r = CliRunner().invoke(app, ["scorecard", "--store", str(store), "--json", *extra])
    assert r.exit_code == 0, r.output
    return r.stdout


@pytest.fixture(scope="module")
def serial(dist_store: Path) -> str:
    return _scorecard(dist_store)


def test_serial_run_scores_every_asset(serial: str) -> None:
    doc = json.loads(serial)
    assert [a["asset"] for a in doc["per_asset"]] == ["BTC", "ETH", "LTC"]
    assert all(a["events_judged"] > 20 for a in doc["per_asset"])
    assert doc["events_scored"] > 100


def test_workers_2_equals_serial(dist_store: Path, serial: str) -> None:
    assert _scorecard(dist_store, "--workers", "2") == serial


def test_scheduler_equals_serial_as_of(dist_store: Path, scheduler: str) -> None:
    """On a cluster the test started, bounded at ``--at``: byte for byte the serial answer."""
    here = _scorecard(dist_store, "--at", AT)
    there = _scorecard(dist_store, "--at", AT, "--scheduler", scheduler)
    assert there == here
    assert json.loads(here)["as_of_ts"] == 1_704_067_200 * 10**9


def test_api_on_a_subset_equals_serial_and_reports_progress(
    dist_store: Path, scheduler: str
) -> None:
    """Two assets asked for; the pooled odds still learn from every asset, judged remotely."""
    seen: list[tuple[str, int, int]] = []
    ws = open_workspace(dist_store)
    there = ws.scorecard(
        ["ltc", "btc"],
        cluster=ClusterSpec(scheduler=scheduler),
        progress=lambda a, i, n: seen.append((a, i, n)),
    )
    here = ws.scorecard(["ltc", "btc"])
    assert there.to_dict() == here.to_dict()
    assert [a["asset"] for a in there.per_asset] == ["BTC", "LTC"]
    assert sorted(seen) == sorted([(a, i, 3) for a, i, _ in seen])
    assert {a for a, _, _ in seen} == {"BTC", "ETH", "LTC"}
    assert sorted(i for _, i, _ in seen) == [1, 2, 3]  # counted as each task finished


def test_cluster_is_loopback_spawned_and_has_no_dashboard(scheduler: str) -> None:
    with Client(scheduler, set_as_default=False) as client:
        info = client.scheduler_info()
        assert scheduler.startswith("tcp://127.0.0.1:")
        assert len(info["workers"]) == 2
        assert all(w.startswith("tcp://127.0.0.1:") for w in info["workers"])
        # the scheduler's plain HTTP routes (health, metrics) sit on a free port, not 8787
        assert info["services"]["dashboard"] != 8787
        inherited = client.run(has_fork_probe)
    assert set(inherited.values()) == {False}  # spawned, not forked: the probe did not follow


@pytest.mark.parametrize(
    ("extra", "says"),
    [
        (["--scheduler", "tcp://127.0.0.1:9"], "--scheduler tcp://127.0.0.1:9: cannot connect"),
        (["--scheduler", "localhost"], "use an address such as tcp://HOST:8786"),
        (["--workers", "2", "--scheduler", "tcp://127.0.0.1:9"], "not both"),
        (["--workers", "0"], "use 1 to 512 processes"),
        (["--dashboard"], "--dashboard needs --workers N"),
    ],
)
def test_bad_cluster_options_are_one_line(dist_store: Path, extra: list[str], says: str) -> None:
    with dask.config.set({"distributed.comm.timeouts.connect": "1s"}):
        r = CliRunner().invoke(app, ["scorecard", "--store", str(dist_store), "--json", *extra])
    assert r.exit_code == 2
    assert r.stdout == ""
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr
    assert lines[0].startswith("error: ")
    assert says in lines[0]
    assert "Traceback" not in r.output


def test_a_scheduler_without_workers_is_refused_not_waited_on(dist_store: Path) -> None:
    with local_cluster(0) as empty:
        address = empty.scheduler_address
        r = CliRunner().invoke(
            app, ["scorecard", "--store", str(dist_store), "--scheduler", address]
        )
    assert r.exit_code == 2
    assert r.stderr == (
        f"error: --scheduler {address} has no workers: start some with `dask worker {address}`\n"
    )


def test_workers_run_this_flushwatch(scheduler: str) -> None:
    with Client(scheduler, set_as_default=False) as client:
        assert set(client.run(worker_version).values()) == {flushwatch.__version__}
