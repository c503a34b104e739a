"""apicalls.py against the real WSGI server (gunicorn with the shipped settings, a subprocess) and
in-process; app.py serving; what the server does with hostile and slow clients."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
from conftest import ROOT
from test_app import deployed_project

import apicalls as apicalls_script
from risk import config
from risk.reports import diagnostics
from risk.serving import api_spec, apicalls, localserver
from risk.serving import app as risk_api

TOKEN = "test-token-123"
ENDPOINTS = ["health", "prediction", "scoring", "summarystats", "diagnostics", "risk", "openapi"]


def record_diagnostics(cfg: config.Config) -> dict:
    """A real recorded diagnostics run, without its slow parts (timing the scripts, asking PyPI)."""
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(diagnostics, "recorded_timings", lambda cfg, sha: {"ingestion_s": 0.5, "training_s": 0.7})
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
    """The production command: gunicorn with gunicorn.conf.py, wsgi:app, started outside the repo,
    with the bearer token set."""
    port = localserver.free_port()
    log = tmp_path_factory.mktemp("gunicorn") / "server.log"
    env = {api_spec.CONFIG_ENV: str(project.path), api_spec.TOKEN_ENV: TOKEN}
    with localserver.running(localserver.gunicorn_command(port), port, env=env, log=log) as srv:
        yield srv.url


def run_apicalls(cfg: config.Config, *args: str, token: str | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != api_spec.TOKEN_ENV}
    if token is not None:
        env[api_spec.TOKEN_ENV] = token
    return subprocess.run([sys.executable, str(ROOT / "apicalls.py"), "--config", str(cfg.path), *args],
                          capture_output=True, text=True, cwd="/", timeout=120, env=env)


def returns(cfg: config.Config, name: str = apicalls.RETURNS_FILE) -> dict:
    return json.loads((cfg.output_model_path / name).read_text())


def same_project_config(project: config.Config, folder: Path, **extra) -> config.Config:
    """A config file in `folder` naming `project`'s folders, with other optional keys."""
    raw = json.loads(project.path.read_text())
    path = folder / "config.json"
    path.write_text(json.dumps({**{k: str(project.path.parent / v) for k, v in raw.items()}, **extra}))
    return config.load(path)


@pytest.mark.slow
def test_apicalls_needs_none_of_the_data_libraries():
    run = subprocess.run([sys.executable, "-c", "import apicalls, sys; print(sorted("
                          "{'pandas', 'sklearn', 'numpy', 'flask'} & set(sys.modules)))"],
                         cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert run.stdout.strip() == "[]", run.stderr


@pytest.mark.slow
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
    assert bodies["health"]["deployment"] == api_spec.deployment_id(project.prod_deployment_path)
    assert bodies["prediction"]["rows"] == 300
    assert len(bodies["prediction"]["predictions"]) == 300
    assert 0 <= bodies["scoring"]["f1"] <= 1
    assert set(bodies["summarystats"]["statistics"]) >= {"lastmonth_activity", "lastyear_activity"}
    assert bodies["diagnostics"]["source"] == "recorded"
    assert bodies["risk"]["top"] == apicalls.RISK_TOP
    assert set(bodies["openapi"]["paths"]) >= {"/prediction", "/scoring", "/summarystats", "/diagnostics"}


@pytest.mark.slow
def test_apicalls_uses_the_configured_server_once_it_proves_to_be_this_deployment(project, server, tmp_path,
                                                                                 monkeypatch):
    here = same_project_config(project, tmp_path, api_port=int(server.rsplit(":", 1)[1]))
    run = run_apicalls(here, token=TOKEN)
    assert run.returncode == 0, run.stderr
    assert returns(project)["url"] == server
    assert apicalls.identity_problem(here, server) is None
    monkeypatch.setenv(api_spec.TOKEN_ENV, TOKEN)
    assert apicalls.call_api_of_deployment(here).where == server  # what fullprocess.py's report calls


class OtherApp(BaseHTTPRequestHandler):
    """Another project's API: answers every GET with 200 and a plausible health."""

    def do_GET(self):  # noqa: N802 (http.server's name)
        body = json.dumps({"status": "ok", "model_version": 7, "deployed_at": "2020-01-01"}).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args):
        pass


@pytest.fixture
def other_app():
    srv = ThreadingHTTPServer(("127.0.0.1", 0), OtherApp)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    yield srv.server_address[1]
    srv.shutdown()
    srv.server_close()


def test_a_server_of_another_project_at_the_configured_port_is_never_used(deployed_cfg, other_app, tmp_path,
                                                                          monkeypatch):
    monkeypatch.delenv(api_spec.TOKEN_ENV, raising=False)
    record_diagnostics(deployed_cfg)
    cfg = same_project_config(deployed_cfg, tmp_path, api_port=other_app)
    assert "is not this deployment" in apicalls.identity_problem(cfg, cfg.api_url)

    result = apicalls.call_api_of_deployment(cfg)  # what fullprocess.py's report calls
    assert result.where == "in-process"
    doc = returns(cfg)
    assert doc["url"] == "in-process"
    assert doc["responses"]["health"]["body"]["model_version"] == 1  # ours, not the other's 7

    assert apicalls_script.main(["--config", str(cfg.path)]) == 1  # asked for the server: refused, said why


@pytest.mark.slow
def test_apicalls_without_the_token_fails_and_keeps_the_last_good_returns(project, server):
    assert run_apicalls(project, "--url", server, token=TOKEN).returncode == 0
    good = (project.output_model_path / apicalls.RETURNS_FILE).read_bytes()
    run = run_apicalls(project, "--url", server)
    assert run.returncode == 1
    error = run.stderr.strip().splitlines()[-1]
    assert error.endswith(
        f"API call(s) to {server} failed: prediction, scoring, summarystats, diagnostics, risk "
        f"(401: {risk_api.UNAUTHORIZED})")
    assert "health" not in error
    assert (project.output_model_path / apicalls.RETURNS_FILE).read_bytes() == good
    failed = returns(project, apicalls.FAILED_RETURNS_FILE)  # what came back is kept to read
    assert failed["responses"]["health"]["status"] == 200
    assert failed["responses"]["scoring"]["status"] == 401


@pytest.mark.slow
@pytest.mark.parametrize("mode, ok", [(0o600, True), (0o644, False)])
def test_apicalls_reads_the_token_file_without_the_environment(project, server, tmp_path, mode, ok):
    token = tmp_path / "api.token"
    token.write_text(TOKEN + "\n")
    token.chmod(mode)
    cfg = same_project_config(project, tmp_path, api_token_file=str(token))
    run = run_apicalls(cfg, "--url", server)  # as cron runs it: no token in the environment
    if ok:
        assert run.returncode == 0, run.stderr
    else:
        assert run.returncode == 1
        assert run.stderr.strip().splitlines()[-1].endswith(
            f"{token}: the API token file is readable by others (mode 644); run: chmod 600 {token}")


@pytest.mark.slow
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
    assert "POST" in r.headers["Allow"] and "POST" in r.json()["allow"]
    r = requests.delete(f"{server}/health", timeout=10)
    assert r.status_code == 405
    assert r.json() == {"error": "method DELETE not allowed on /health"}


@pytest.mark.slow
@pytest.mark.parametrize("request_head, status", [
    (b"GET /health?" + b"x" * 5000 + b" HTTP/1.1\r\nHost: x\r\n\r\n", 414),
    (b"GET /health HTTP/1.1\r\nHost: x\r\n" + b"X-A: 1\r\n" * 101 + b"\r\n", 431),
    (b"GET /health HTTP/1.1\r\nHost: x\r\nX-A: " + b"a" * 9000 + b"\r\n\r\n", 431),
    (b"NONSENSE\r\n\r\n", 400),
])
def test_errors_gunicorn_answers_before_the_app_are_json_too(server, request_head, status):
    """Issue 13 item 6: the shipped gunicorn.conf.py turns gunicorn's own HTML error pages into JSON."""
    with socket.create_connection(("127.0.0.1", int(server.rsplit(":", 1)[1])), timeout=10) as sock:
        sock.sendall(request_head)
        answer = b""
        while data := sock.recv(65536):
            answer += data
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 %d " % status), answer[:300]
    assert b"Content-Type: application/json" in head
    assert set(json.loads(body)) == {"error"}


@pytest.mark.slow
def test_a_chunked_body_past_the_limit_is_refused_by_the_real_server(server, project):
    """Issue 13 item 2: 20 MB sent chunked, without Content-Length; the answer is read while sending
    (the server answers once past the limit and may close before the rest is sent)."""
    sock = socket.create_connection(("127.0.0.1", int(server.rsplit(":", 1)[1])), timeout=30)
    sock.sendall(b"POST /prediction HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
                 b"Authorization: Bearer " + TOKEN.encode() + b"\r\nTransfer-Encoding: chunked\r\n\r\n")
    block = b"corporation,lastmonth_activity,lastyear_activity,number_of_employees\n" + b"abcd,1,2,3\n" * 100_000

    def send():
        try:
            for _ in range(20):  # ~20 MB
                sock.sendall(b"%x\r\n%s\r\n" % (len(block), block))
            sock.sendall(b"0\r\n\r\n")
        except OSError:
            pass  # closed by the server after its answer

    sender = threading.Thread(target=send)
    sender.start()
    answer = b""
    try:
        while b"}" not in answer:
            data = sock.recv(65536)
            if not data:
                break
            answer += data
    finally:
        sender.join()
        sock.close()
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), answer[:200]
    assert json.loads(body) == {"error": f"request body over the {risk_api.MAX_BODY_BYTES}-byte limit"}


@pytest.mark.slow
def test_slow_clients_cannot_starve_the_server(server):
    """Issue 13 item 3: 50 connections trickling a request a byte at a time for 8 s,
    10 more sending nothing; /health answers within 1 s throughout."""
    port = int(server.rsplit(":", 1)[1])
    slow = [socket.create_connection(("127.0.0.1", port)) for _ in range(60)]
    stop = threading.Event()

    def trickle():
        for s in slow[:50]:
            s.sendall(b"POST /prediction HTTP/1.1\r\nHost: x\r\n")
        while not stop.wait(0.5):
            for s in slow[:50]:
                s.sendall(b"X")  # a header line that never ends

    sender = threading.Thread(target=trickle)
    sender.start()
    answered = []
    try:
        end = time.monotonic() + 8
        while time.monotonic() < end:
            start = time.monotonic()
            r = requests.get(f"{server}/health", timeout=1)  # raises if not answered within 1 s
            answered.append((r.status_code, time.monotonic() - start < 1))
            time.sleep(0.2)
    finally:
        stop.set()
        sender.join()
        for s in slow:
            s.close()
    assert len(answered) >= 20
    assert set(answered) == {(200, True)}


@pytest.mark.slow
def test_apicalls_reports_an_unreachable_server_and_writes_nothing(deployed_cfg):
    url = f"http://127.0.0.1:{localserver.free_port()}"
    run = run_apicalls(deployed_cfg, "--url", url, "--timeout", "5")
    assert run.returncode == 1
    assert run.stderr.strip().splitlines()[-1].endswith(
        f"cannot reach the API at {url} (health: unreachable (ConnectionError))")
    assert not (deployed_cfg.output_model_path / "apireturns.txt").exists()


def test_apicalls_in_process_needs_no_server(deployed_cfg, monkeypatch, capsys):
    monkeypatch.delenv(api_spec.TOKEN_ENV, raising=False)
    record_diagnostics(deployed_cfg)
    assert apicalls_script.main(["--config", str(deployed_cfg.path), "--in-process"]) == 0
    doc = returns(deployed_cfg)
    assert doc["url"] == "in-process"
    assert {name: r["status"] for name, r in doc["responses"].items()} == dict.fromkeys(ENDPOINTS, 200)
    assert "prediction    200  300 rows" in capsys.readouterr().out


def test_call_api_returns_what_it_wrote(deployed_cfg, monkeypatch):
    monkeypatch.delenv(api_spec.TOKEN_ENV, raising=False)
    record_diagnostics(deployed_cfg)
    result = apicalls.call_api(deployed_cfg)
    assert str(result) == str(deployed_cfg.output_model_path / "apireturns.txt")
    assert result.failed == []
    result.check()


def test_apicalls_names_each_failing_endpoint_and_writes_them_beside(cfg, monkeypatch, capsys):
    # Nothing ingested or deployed yet: the calls are answered, with errors.
    monkeypatch.delenv(api_spec.TOKEN_ENV, raising=False)
    monkeypatch.setattr(diagnostics, "latest_diagnostics", lambda cfg: {"run_at": "x"})
    assert apicalls_script.main(["--config", str(cfg.path), "--in-process"]) == 1
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error.endswith(
        "API call(s) to in-process failed: health, prediction, scoring, risk "
        "(503: prod: no model deployed yet (run deployment.py)); "
        "summarystats (404: ingested data not found: out/finaldata.csv (run ingestion.py))")
    assert returns(cfg, apicalls.FAILED_RETURNS_FILE)["responses"]["prediction"]["status"] == 503
    assert not (cfg.output_model_path / apicalls.RETURNS_FILE).exists()


@pytest.mark.slow
def test_app_script_serves_locally_on_the_configured_port(make_config, tmp_path):
    port = localserver.free_port()
    cfg = config.load(make_config(extra={"api_port": port}))
    cmd = [sys.executable, str(ROOT / "app.py"), "--config", str(cfg.path)]
    with localserver.running(cmd, port, log=tmp_path / "app.log") as srv:
        r = requests.get(f"{srv.url}/health", timeout=5)
    assert r.status_code == 503  # nothing deployed in this project: served, and says so
    assert r.json()["status"] == "unavailable"
    assert "Debug mode: off" in (tmp_path / "app.log").read_text()


@pytest.mark.slow
def test_app_script_port_option_overrides_the_config(deployed_cfg, tmp_path):
    port = localserver.free_port()
    cmd = [sys.executable, str(ROOT / "app.py"), "--config", str(deployed_cfg.path), "--port", str(port)]
    with localserver.running(cmd, port, log=tmp_path / "app.log") as srv:
        assert requests.get(f"{srv.url}/health", timeout=5).json()["model_version"] == 1
