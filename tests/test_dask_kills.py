"""Dask workers killed at the worst moments (issue 22, item 10): one line, exit 1, no hang, no orphans.

Real LocalClusters with worker processes and real SIGKILLs. The subprocess
timeouts are hang guards (a run that hangs fails the test), not timed promises.
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import dask
import psutil
import pytest
from conftest import ROOT, client_csv

from risk.scale import daskrun


def _workers(pid: int) -> list[psutil.Process]:
    """The worker processes a LocalCluster of process `pid` spawned (not multiprocessing's tracker)."""
    found = []
    for child in psutil.Process(pid).children(recursive=True):
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def _alive(processes: list[psutil.Process]) -> list[int]:
    alive = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                alive.append(p.pid)
        except psutil.NoSuchProcess:
            continue
    return alive


@pytest.mark.slow
def test_a_worker_killed_as_the_local_cluster_starts_is_one_line_exit_1_and_leaves_no_process(deployed_cfg):
    source = deployed_cfg.output_folder_path / "clients.csv"
    source.write_bytes(client_csv(2_000, seed=4))
    out = deployed_cfg.output_folder_path / "ranked.csv"
    run = subprocess.Popen(
        [sys.executable, str(ROOT / "scaleout.py"), "score", "--input", str(source), "--output", str(out),
         "--config", str(deployed_cfg.output_folder_path.parent / "config.json")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    seen: list[psutil.Process] = []
    try:
        while not seen and run.poll() is None:  # the first worker, killed as soon as it exists
            seen = _workers(run.pid)
            time.sleep(0.02)
        assert seen, "scaleout.py ended before it started a worker"
        seen[0].send_signal(signal.SIGKILL)
        seen += [p for p in _workers(run.pid) if p not in seen]
        stdout, stderr = run.communicate(timeout=240)
    finally:
        if run.poll() is None:
            run.kill()
    said = [line for line in stderr.splitlines() if not line.startswith("INFO ")]
    assert run.returncode == 1, stderr
    assert len(said) == 1 and said[0].startswith("ERROR pipeline: starting a local Dask cluster: "), said
    assert not out.exists() and stdout == ""
    time.sleep(1)
    assert _alive(seen) == []


@pytest.fixture
def process_cluster():
    """A LocalCluster of one worker process; a task that kills it is not run again."""
    from distributed import Client, LocalCluster
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=1, threads_per_worker=1, dashboard_address="127.0.0.1:0") as lc, \
            Client(lc) as c:
        yield lc, c


def _die() -> None:
    os.kill(os.getpid(), signal.SIGKILL)


@pytest.mark.slow
def test_a_task_whose_worker_is_killed_ends_the_run_in_one_line(process_cluster):
    from dask import delayed
    _, client = process_cluster
    with pytest.raises(daskrun.ScaleoutError) as error:
        daskrun.run(client, [delayed(_die)()], "reading the input")
    assert str(error.value) == ("reading the input: a task's Dask worker died 1 times (killed, or out of memory); "
                                "see the log of the workers")


@pytest.mark.slow
def test_tasks_with_no_worker_left_end_the_run_instead_of_waiting_forever(process_cluster, monkeypatch):
    from dask import delayed
    cluster, client = process_cluster
    cluster.scale(0)
    deadline = time.monotonic() + 60
    while client.nthreads() and time.monotonic() < deadline:
        time.sleep(0.1)
    monkeypatch.setattr(daskrun, "WORKERLESS_S", 1)
    monkeypatch.setattr(daskrun, "POLL_S", 0.2)
    with pytest.raises(daskrun.ScaleoutError, match=r"^writing the ranking: no Dask worker alive for 1 s$"):
        daskrun.run(client, [delayed(sum)([1, 2])], "writing the ranking")


def test_a_cluster_that_cannot_start_is_named_with_its_first_cause():
    try:
        try:
            raise RuntimeError("Nanny failed to start worker process")
        except RuntimeError as inner:
            raise RuntimeError("Nanny failed to start.") from inner
    except RuntimeError as exc:
        assert daskrun._reason(exc) == "Nanny failed to start (Nanny failed to start worker process)"
