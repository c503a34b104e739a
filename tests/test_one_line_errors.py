"""One line, not a traceback, for what newcomers and operators get wrong (issue 22, item 16)."""
from __future__ import annotations

import json
import shutil
import subprocess

import pytest
from conftest import ROOT, run_script

from risk import config
from risk.serving import api_spec, localserver

BARE_PYTHON = shutil.which("python3.11", path="/usr/bin:/usr/local/bin") or "/usr/bin/python3"


@pytest.mark.slow
def test_gunicorn_with_a_bad_config_says_so_in_one_line_and_exits_2(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text(json.dumps({"input_folder_path": 3}))
    port = localserver.free_port()
    run = subprocess.run(localserver.gunicorn_command(port), capture_output=True, text=True, timeout=60,
                         env={"PATH": "/usr/bin:/bin", api_spec.CONFIG_ENV: str(bad)}, cwd=tmp_path)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and str(bad) in lines[0], lines


def _bare_python_lacks_pandas() -> bool:
    return subprocess.run([BARE_PYTHON, "-c", "import pandas"], capture_output=True).returncode != 0


@pytest.mark.slow
@pytest.mark.parametrize("script", ["scoring.py", "training.py", "fullprocess.py", "app.py", "reporting.py"])
def test_a_script_run_by_a_python_without_the_packages_names_the_python_to_use(script, make_config):
    if not _bare_python_lacks_pandas():
        pytest.skip(f"{BARE_PYTHON} has pandas: no interpreter without the packages here")
    run = subprocess.run([BARE_PYTHON, str(ROOT / script), "--config", str(make_config())],
                         capture_output=True, text=True, cwd="/", timeout=60)
    assert run.returncode == 2, run.stderr
    lines = run.stderr.strip().splitlines()
    assert len(lines) == 1, lines
    assert "requirements.txt" in lines[0] and BARE_PYTHON in lines[0], lines[0]


@pytest.mark.slow
def test_a_cron_tick_by_a_python_without_the_packages_says_so_before_data_arrive(make_config):
    if not _bare_python_lacks_pandas():
        pytest.skip(f"{BARE_PYTHON} has pandas: no interpreter without the packages here")
    cfg = make_config()
    settled = run_script("fullprocess.py", "--config", str(cfg))  # by the right Python: all handled
    assert settled.returncode == 0, settled.stderr
    run = subprocess.run([BARE_PYTHON, str(ROOT / "fullprocess.py"), "--config", str(cfg)],
                         capture_output=True, text=True, cwd="/", timeout=60)
    assert run.returncode == 2, run.stderr
    assert len(run.stderr.strip().splitlines()) == 1 and "requirements.txt" in run.stderr


@pytest.mark.slow
def test_scoring_with_no_trained_model_says_to_train_first(make_config):
    cfg = config.load(make_config())
    run = run_script("scoring.py", "--config", str(cfg.path))
    assert run.returncode == 1
    assert "refusing" not in run.stderr
    assert "no trained model" in run.stderr and "training.py" in run.stderr, run.stderr
