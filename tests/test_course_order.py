"""The course's own order, by hand, as a newcomer runs it (issue 22, item 15).

ingestion.py, training.py, scoring.py, deployment.py, then app.py and apicalls.py:
every endpoint answers something useful and apireturns.txt is written whole.
"""
from __future__ import annotations

import json
import sys

import pytest
from conftest import ROOT, run_script

from risk import config, history
from risk.serving import api_spec, apicalls, localserver

COURSE_ORDER = ("ingestion.py", "training.py", "scoring.py", "deployment.py")


@pytest.mark.slow
def test_the_course_order_by_hand_gives_a_full_apireturns(make_config, tmp_path, monkeypatch):
    monkeypatch.delenv(api_spec.TOKEN_ENV, raising=False)
    port = localserver.free_port()
    cfg = config.load(make_config(extra={"api_port": port}))
    for script in COURSE_ORDER:
        run = run_script(script, "--config", str(cfg.path))
        assert run.returncode == 0, f"{script}: {run.stderr}"
    cmd = [sys.executable, str(ROOT / "app.py"), "--config", str(cfg.path)]
    with localserver.running(cmd, port, log=tmp_path / "app.log"):
        run = run_script("apicalls.py", "--config", str(cfg.path))
    assert run.returncode == 0, run.stderr
    answers = json.loads((cfg.output_model_path / apicalls.RETURNS_FILE).read_text())
    print(json.dumps(answers)[:400])
    assert not (cfg.output_model_path / "apireturns.failed.txt").exists()


@pytest.mark.slow
def test_deployment_script_publishes_the_list_and_records_diagnostics(make_config, monkeypatch):
    cfg = config.load(make_config())
    for script in COURSE_ORDER:
        run = run_script(script, "--config", str(cfg.path))
        assert run.returncode == 0, f"{script}: {run.stderr}"
    assert (cfg.output_model_path / "call_list.json").is_file()
    assert len(history.rows(cfg.history_path, "diagnostics")) == 1
    assert "call list" in run.stdout and "diagnostics" in run.stdout
