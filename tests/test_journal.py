"""Killed runs, round three (issue 22, items 11 and 12): a list's changes are against the last
list a finished run published; going live and recording it is one recoverable step."""
from __future__ import annotations

import json
import subprocess
import sys

import pytest
from conftest import ROOT, client_csv

import fullprocess
from risk import artifacts, config, history
from risk.loop import deployment

KILL_AFTER = """
import os, signal, sys
sys.path.insert(0, {root!r})
import fullprocess
from {module} import {owner} as target
setattr(target, {name!r}, lambda *a, **k: os.kill(os.getpid(), signal.SIGKILL))
fullprocess.main(["--config", {config!r}, *{extra!r}])
"""


def killed_tick(cfg, module, owner, name, *extra):
    """A real tick in a subprocess, SIGKILLed when it calls module.owner.name."""
    code = KILL_AFTER.format(root=str(ROOT), module=module, owner=owner, name=name, config=str(cfg.path),
                             extra=list(extra))
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert run.returncode == -9, run.stderr


def tick(cfg):
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    return run


@pytest.fixture
def project(make_config):
    cfg = config.load(make_config(inputs={"a.csv": client_csv(1500, seed=1), "b.csv": client_csv(1500, seed=2)},
                                  test=client_csv(2000, seed=3), extra={"min_labelled_rows": 200}))
    tick(cfg)
    return cfg


@pytest.mark.slow
def test_a_run_killed_after_publishing_leaves_the_next_list_compared_with_the_last_finished_one(project):
    cfg = project
    (cfg.input_folder_path / "c.csv").write_bytes(client_csv(1500, seed=9))
    killed_tick(cfg, "risk.reports", "diagnostics", "run_all")  # after the list, before the run's end

    tick(cfg)

    summary = json.loads((cfg.output_model_path / "call_list.json").read_text())
    assert summary["new_to_top"], "1,500 new clients: some are new to the top of the list"
    assert len(history.rows(cfg.history_path, "call_lists")) == 2  # the bootstrap's and this one


@pytest.mark.slow
def test_a_run_killed_between_going_live_and_its_records_is_finished_by_the_next_tick(make_config):
    cfg = config.load(make_config(inputs={"a.csv": client_csv(1500, seed=1)}, test=client_csv(2000, seed=3),
                                  extra={"min_labelled_rows": 200}))
    tick(cfg)
    (cfg.input_folder_path / "c.csv").write_bytes(client_csv(1500, seed=9))
    # --force-retrain: the challenger goes live whatever it scores; the kill is what is tested.
    killed_tick(cfg, "risk.loop", "deployment", "prune", "--force-retrain")  # just after the switch
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 2

    tick(cfg)

    assert [d["version"] for d in history.rows(cfg.history_path, "deployments")] == [1, 2]
    assert [d["deployed_version"] for d in history.rows(cfg.history_path, "challenger_decisions")] == [2]
    assert "c.csv" in {r["name"] for r in history.rows(cfg.history_path, "handled_files")}
    deployment.rollback_with_notes(cfg)  # the operator goes back to v0001
    run = tick(cfg)
    assert not any(d.startswith("new data") for d in run.decisions), run.decisions
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 1


@pytest.mark.slow
def test_a_recalibration_killed_between_going_live_and_its_records_is_finished_by_the_next_tick(project):
    cfg = project
    for name, seed in (("c.csv", 40), ("d.csv", 41)):  # the base rate moves twice in a row
        (cfg.input_folder_path / name).write_bytes(client_csv(3000, seed=seed, law="base_rate"))
        if name == "c.csv":
            tick(cfg)
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 1
    killed_tick(cfg, "risk.loop", "deployment", "prune")  # just after the switch, before any record
    live = artifacts.read_manifest(cfg.prod_deployment_path)
    assert live["version"] == 2 and live["reason"].startswith("recalibrated v0001")
    assert [d["version"] for d in history.rows(cfg.history_path, "deployments")] == [1]

    run = tick(cfg)

    assert run.decisions[0].startswith("journal of a killed run finished: recorded the deployment of v0002")
    assert not any(d.startswith("new data") for d in run.decisions), run.decisions  # d.csv is handled
    assert [d["version"] for d in history.rows(cfg.history_path, "deployments")] == [1, 2]
    decisions = history.rows(cfg.history_path, "challenger_decisions")
    assert decisions[-1]["deployed_version"] == 2 and "recalibrated" in decisions[-1]["reason"]
    assert ("d.csv", "redeployed") in {(r["name"], r["outcome"])
                                       for r in history.rows(cfg.history_path, "handled_files")}
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 2  # not recalibrated twice
