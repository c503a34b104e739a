"""apicalls.py against the real WSGI server (gunicorn, a subprocess) and in-process; app.py serving."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

import pytest
import requests

import apicalls
import app as risk_api
import config
import diagnostics
from conftest import ROOT
from test_app import deployed_project

TOKEN = "test-token-123"
ENDPOINTS = ["health", "prediction", "scoring", "summarystats", "diagnostics", "risk", "openapi"]
READY_TIMEOUT_S = 60


@contextmanager
def serving(cmd: list[str], port: int, log: Path, env: dict[str, str] | None = None) -> Iterator[str]:
    """Run a server command from /, wait until /health answers at all, yield its URL; always stop it."""
    url = f"http://127.0.0.1:{port}"
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, cwd="/", stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            assert proc.poll() is None, f"server exited {proc.returncode}:\n{log.read_text()}"
            try:
                requests.get(f"{url}/health", timeout=1)
                break
            except requests.RequestException:
                pass
            assert time.monotonic() < deadline, f"server not ready in {READY_TIMEOUT_S} s:\n{log.read_text()}"
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def record_diagnostics(cfg: config.Config) -> dict:
    """A real recorded diagnostics run, without its slow parts (timing the scripts, asking PyPI)."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(diagnostics, "step_timings", lambda cfg, repeats=1: {"ingestion_s": 0.5, "training_s": 0.7})
        mp.setattr(diagnostics, "dependency_status", lambda *a, **k: [])
        return diagnostics.run_all(cfg)
    finally:
        mp.undo()


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    cfg = deployed_project(tmp_path_factory.mktemp("served"))
    record_diagnostics(cfg)
    return cfg


@pytest.fixture(scope="module")
def server(project, tmp_path_factory):
    """The production command: gunicorn, 2 sync workers, wsgi:app, started outside the repo
    (--chdir), with the bearer token set."""
    port = apicalls.free_port()
    cmd = [sys.executable, "-m", "gunicorn", "--workers", "2", "--bind", f"127.0.0.1:{port}",
           "--no-control-socket", "--chdir", str(ROOT), "wsgi:app"]
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    with serving(cmd, port, log, {risk_api.CONFIG_ENV: str(project.path), risk_api.TOKEN_ENV: TOKEN}) as url:
        yield url


def run_apicalls(cfg: config.Config, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != risk_api.TOKEN_ENV}
    if token is not None:
        env[risk_api.TOKEN_ENV] = token
    return subprocess.run([sys.executable, str(ROOT / "apicalls.py"), "--config", str(cfg.path), *args],
                          capture_output=True, text=True, cwd="/", timeout=120, env=env)


def returns(cfg: config.Config) -> dict:
    return json.loads((cfg.output_model_path / "apireturns.txt").read_text())


def test_apicalls_sends_the_token_the_app_checks():
    assert apicalls.TOKEN_ENV == risk_api.TOKEN_ENV


def test_apicalls_records_every_endpoint_of_the_real_server(project, server):
    before = datetime.now(timezone.utc).replace(microsecond=0)
    run = run_apicalls(project, "--url", server, token=TOKEN)
    assert run.returncode == 0, run.stderr
    for name in ENDPOINTS:
        assert name in run.stdout
    assert str(project.output_model_path / "apireturns.txt") in run.stdout

    doc = returns(project)
    assert doc["url"] == server
    assert before <= datetime.fromisoformat(doc["called_at"]) <= datetime.now(timezone.utc)
    assert set(doc["responses"]) == set(ENDPOINTS)
    assert {name: r["status"] for name, r in doc["responses"].items()} == dict.fromkeys(ENDPOINTS, 200)
    bodies = {name: r["body"] for name, r in doc["responses"].items()}
    assert bodies["health"]["model_version"] == 1
    assert bodies["prediction"]["rows"] == 300
    assert len(bodies["prediction"]["predictions"]) == 300
    assert 0 <= bodies["scoring"]["f1"] <= 1
    assert set(bodies["summarystats"]["statistics"]) >= {"lastmonth_activity", "lastyear_activity"}
    assert bodies["diagnostics"]["source"] == "recorded"
    assert bodies["risk"]["top"] == apicalls.RISK_TOP
    assert set(bodies["openapi"]["paths"]) >= {"/prediction", "/scoring", "/summarystats", "/diagnostics"}


def test_apicalls_uses_the_configured_address_by_default(project, server, tmp_path):
    port = int(server.rsplit(":", 1)[1])
    raw = json.loads(project.path.read_text())
    here = tmp_path / "config.json"  # same project folders, the server's port
    here.write_text(json.dumps({**{k: str(project.path.parent / v) for k, v in raw.items()}, "api_port": port}))
    run = run_apicalls(config.load(here), token=TOKEN)
    assert run.returncode == 0, run.stderr
    assert returns(project)["url"] == server


def test_apicalls_without_the_token_fails_naming_the_endpoints(project, server):
    run = run_apicalls(project, "--url", server)
    assert run.returncode == 1
    error = run.stderr.strip().splitlines()[-1]
    assert error.endswith(
        f"API call(s) to {server} failed: prediction, scoring, summarystats, diagnostics, risk, openapi "
        f"(401: missing or wrong bearer token (set by {risk_api.TOKEN_ENV}))")
    assert "health" not in error
    assert returns(project)["responses"]["health"]["status"] == 200  # the file records what came back
    assert returns(project)["responses"]["scoring"]["status"] == 401


def test_the_real_server_answers_errors_in_json(server, project):
    auth = {"Authorization": f"Bearer {TOKEN}"}
    r = requests.post(f"{server}/prediction", data=b"x" * (risk_api.MAX_BODY_BYTES + 1),
                      headers={**auth, "Content-Type": "text/csv"}, timeout=30)
    assert r.status_code == 413
    assert r.json() == {"error": f"request body over the {risk_api.MAX_BODY_BYTES}-byte limit"}
    r = requests.get(f"{server}/prediction", params={"filepath": "../config.json"}, headers=auth, timeout=10)
    assert r.status_code == 403
    assert r.json() == {"error": "'filepath' '../config.json' is outside the project's data folders"}
    r = requests.get(f"{server}/prediction/../../etc/passwd", headers=auth, timeout=10)
    assert r.status_code == 404
    assert r.headers["Content-Type"] == "application/json"
    r = requests.options(f"{server}/prediction", timeout=10)
    assert r.status_code == 200
    assert "POST" in r.headers["Allow"]
    r = requests.delete(f"{server}/health", timeout=10)
    assert r.status_code == 405
    assert r.json() == {"error": "method DELETE not allowed on /health"}


def test_apicalls_reports_an_unreachable_server_and_writes_nothing(deployed_cfg):
    url = f"http://127.0.0.1:{apicalls.free_port()}"
    run = run_apicalls(deployed_cfg, "--url", url, "--timeout", "5")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].endswith(
        f"cannot reach the API at {url} (health: unreachable (ConnectionError))")
    assert not (deployed_cfg.output_model_path / "apireturns.txt").exists()


def test_apicalls_in_process_needs_no_server(deployed_cfg, monkeypatch, capsys):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    record_diagnostics(deployed_cfg)
    assert apicalls.main(["--config", str(deployed_cfg.path), "--in-process"]) == 0
    doc = returns(deployed_cfg)
    assert doc["url"] == "in-process"
    assert {name: r["status"] for name, r in doc["responses"].items()} == dict.fromkeys(ENDPOINTS, 200)
    assert "prediction    200  300 rows" in capsys.readouterr().out


def test_call_api_returns_what_it_wrote(deployed_cfg, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    record_diagnostics(deployed_cfg)
    result = apicalls.call_api(deployed_cfg)
    assert str(result) == str(deployed_cfg.output_model_path / "apireturns.txt")
    assert result.failed == []
    result.check()


def test_apicalls_names_each_failing_endpoint(cfg, monkeypatch, capsys):
    # Nothing ingested or deployed yet: the calls are answered, with errors.
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    monkeypatch.setattr(diagnostics, "latest_diagnostics", lambda cfg: {"run_at": "x"})
    assert apicalls.main(["--config", str(cfg.path), "--in-process"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(
        "API call(s) to in-process failed: health, prediction, scoring, risk "
        "(503: prod: no model deployed yet (run deployment.py)); "
        "summarystats (404: ingested data not found: out/finaldata.csv (run ingestion.py))")
    assert returns(cfg)["responses"]["prediction"]["status"] == 503


def test_app_script_serves_locally_on_the_configured_port(make_config, tmp_path):
    port = apicalls.free_port()
    cfg = config.load(make_config(extra={"api_port": port}))
    cmd = [sys.executable, str(ROOT / "app.py"), "--config", str(cfg.path)]
    with serving(cmd, port, tmp_path / "app.log") as url:
        r = requests.get(f"{url}/health", timeout=5)
    assert r.status_code == 503  # nothing deployed in this project: served, and says so
    assert r.json()["status"] == "unavailable"
    assert "Debug mode: off" in (tmp_path / "app.log").read_text()


def test_app_script_port_option_overrides_the_config(deployed_cfg, tmp_path):
    port = apicalls.free_port()
    cmd = [sys.executable, str(ROOT / "app.py"), "--config", str(deployed_cfg.path), "--port", str(port)]
    with serving(cmd, port, tmp_path / "app.log") as url:
        assert requests.get(f"{url}/health", timeout=5).json()["model_version"] == 1
