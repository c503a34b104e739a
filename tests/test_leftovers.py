"""Full disks and killed writes, round three (issue 22, item 13): the call list's history
writer says one line, and temporary files left by a killed write are swept away."""
from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from conftest import ROOT, run_script
from test_reliability import CAUSES, fill, small_disk

from risk import artifacts, config, history
from risk.loop import deployment
from risk.model import scoring
from tests.conftest import deploy_project


@pytest.mark.slow
def test_a_full_history_disk_while_the_call_list_is_recorded_is_one_line(make_config):
    cfg = config.load(make_config())
    with small_disk(cfg.history_path.parent):
        deploy_project(cfg, publish=False)
        fill(cfg.history_path.parent)
        run = run_script("scoring.py", "--config", str(cfg.path), "--call-list")
    assert run.returncode == 1, run.stdout + run.stderr
    assert "Traceback" not in run.stderr
    [error] = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
    assert any(cause in error for cause in CAUSES) and str(cfg.history_path) in error, error


def test_reading_a_broken_history_for_a_client_is_a_history_error(tmp_path):
    broken = tmp_path / "runs.sqlite"
    broken.write_bytes(b"this is not a database" * 100)
    with pytest.raises(history.HistoryError, match="runs.sqlite"):
        history.client_risk(broken, "acme")
    with pytest.raises(history.HistoryError, match="runs.sqlite"):
        history.latest_call_list(broken)
    with pytest.raises(history.HistoryError, match="runs.sqlite"):
        history.record_call_list(broken, {"run_at": "x", "model_version": 1}, [])


KILLED_WRITE = """
import os, signal, sys
from pathlib import Path
sys.path.insert(0, {root!r})
from risk import artifacts
os.replace = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
artifacts.write_atomic(Path({target!r}), b"new bytes")
"""

HOUR = 3600


def _age(path, seconds):
    then = time.time() - seconds
    os.utime(path, (then, then), follow_symlinks=False)


@pytest.mark.slow
def test_a_killed_writes_temporary_file_is_swept_by_the_next_write(tmp_path):
    target = tmp_path / "out" / "risk_ranking.csv"
    target.parent.mkdir()
    target.write_bytes(b"old bytes")
    killed = subprocess.run([sys.executable, "-c", KILLED_WRITE.format(root=str(ROOT), target=str(target))])
    assert killed.returncode == -9
    [left] = [p for p in target.parent.iterdir() if p.name != target.name]
    assert left.name.startswith(".risk_ranking.csv.") and left.name.endswith(".tmp")
    fresh = target.parent / ".other.csv.abc123.tmp"  # another writer's, still being written
    fresh.write_bytes(b"partial")
    _age(left, 2 * HOUR)

    artifacts.write_atomic(target.parent / "call_list.json", b"{}")

    assert not left.exists()
    assert fresh.exists()
    assert target.read_bytes() == b"old bytes"


def test_a_killed_deployments_staging_folder_is_swept_by_the_next_deployment(deployed_cfg):
    from test_deployment import retrain
    releases = deployed_cfg.prod_deployment_path / "releases"
    staging = releases / ".staging-v0002-killed"
    staging.mkdir()
    (staging / "trainedmodel.pkl").write_bytes(b"half a model")
    _age(staging, 2 * HOUR)
    retrain(deployed_cfg, 16)
    assert deployment.deploy(deployed_cfg).version == 2
    assert not staging.exists()
    assert scoring.publish_call_list(deployed_cfg)
