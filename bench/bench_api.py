"""Benchmark: the risk API under gunicorn against the peers' design and a hello-world app, served alike.

Starts gunicorn with the shipped gunicorn.conf.py (2 gthread workers; `--sync`:
2 sync workers instead, as the issue's target states it), 127.0.0.1, free
ports, serving (a) the real app on a temporary project deployed from the
shipped data, with one diagnostics run recorded, (b) the peers' design: a Flask
app that unpickles the deployed model on every request and builds a DataFrame
of the record, and (c) a Flask hello-world app, all up side by side. Then, in
rounds that alternate between the targets so machine noise hits all alike:

- latency: one client, sequential requests; the p50 of each round, reported as
  the median of the rounds and their min-max: hello world, one-record
  /prediction, /health and /diagnostics (served from the recorded run);
- throughput of hello world, the peers' /prediction and ours: a bounded concurrent load (wrk
  if installed, else as many Python processes as connections, each with
  http.client), requests/s per round;
- worker CPU per request: the gunicorn workers' user+system CPU time (from
  /proc) over the load round, divided by the requests served. Other processes
  on the machine slow the wall-clock figures; they barely move this one, so
  it shows what the app itself costs when the machine is shared;
- worker peak RSS: the largest VmHWM (/proc/<pid>/status) among each server's
  workers at the end.

gthread workers keep connections alive; sync workers answer `Connection:
close`, so with `--sync` every request pays for a new TCP connection, hello
world's included. On a 2-core machine the load generator shares the CPUs with
the workers, which holds for all three.

Targets (issues 7, 10): /prediction p50 <= 2.5 ms and throughput >= 2x the
peers' design; /diagnostics p50 <= 20 ms. The model's maths is scikit-learn's
own (serving.predict): no hand-written scorer.

    python bench/bench_api.py [--quick] [--requests 1000] [--rounds 5] [--duration 10]
                              [--connections 8] [--python-load] [--sync] [--json bench/bench_api.json]
"""
from __future__ import annotations

import argparse
import http.client
import json
import logging
import multiprocessing
import os
import platform
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from risk import (
    artifacts,  # noqa: E402
    config,  # noqa: E402
)
from risk.serving import (
    api_spec,  # noqa: E402
    localserver,  # noqa: E402
)

WORKERS = 2
RECORD = json.dumps({"records": [
    {"lastmonth_activity": 45, "lastyear_activity": 1200, "number_of_employees": 30}
]}).encode()
JSON_HEADERS = {"Content-Type": "application/json"}
HELLO_APP = '''
from flask import Flask, jsonify

app = Flask(__name__)


@app.get("/")
def hello():
    return jsonify(hello="world")
'''
# The peers' design: every request unpickles the deployed model (through
# artifacts.load_model, hash check included: our rule for unpickling) and puts
# the records in a DataFrame for the model.
PEER_APP = '''
import os
import sys
from pathlib import Path

import pandas as pd
from flask import Flask, jsonify, request

sys.path.insert(0, os.environ["RISK_ROOT"])
from risk import artifacts
from risk.data import contract

app = Flask(__name__)
MODEL = Path(os.environ["PEER_MODEL"])
SHA256 = os.environ["PEER_SHA256"]


@app.post("/prediction")
def prediction():
    model = artifacts.load_model(MODEL, SHA256)
    frame = pd.DataFrame(request.get_json()["records"])[list(contract.FEATURES)]
    return jsonify(predictions=model.predict(frame).tolist(),
                   probabilities=model.predict_proba(frame)[:, 1].tolist())
'''


def deployed_project(folder: Path) -> config.Config:
    """A copy of the shipped data in `folder`, ingested, trained, scored and deployed."""
    from risk.data import ingestion
    from risk.loop import deployment
    from risk.model import scoring, training

    shutil.copytree(ROOT / "sourcedata", folder / "sourcedata")
    shutil.copytree(ROOT / "testdata", folder / "testdata")
    (folder / "config.json").write_text(json.dumps({
        "input_folder_path": "sourcedata", "output_folder_path": "ingesteddata",
        "test_data_path": "testdata", "output_model_path": "models",
        "prod_deployment_path": "production_deployment",
    }))
    cfg = config.load(folder / "config.json")
    for step in (ingestion.ingest, training.train, scoring.score, deployment.deploy):
        step(cfg)
    return cfg


@dataclass(frozen=True)
class Server:
    port: int
    pid: int  # gunicorn's master; the workers are its children

    def workers(self) -> dict[int, list[str]]:
        """Worker pid -> the fields of its /proc/<pid>/stat after the command name."""
        out = {}
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:  # the process ended meanwhile
                continue
            if int(fields[1]) == self.pid:  # fields[1] is the parent pid
                out[int(stat.parent.name)] = fields
        return out

    def worker_cpu_s(self) -> float:
        """User + system CPU seconds used so far by the workers."""
        ticks = sum(int(f[11]) + int(f[12]) for f in self.workers().values())  # utime, stime
        return ticks / os.sysconf("SC_CLK_TCK")

    def worker_peak_rss_mb(self) -> float:
        """The largest peak resident memory (VmHWM) among the workers, in MB."""
        peaks = [0]
        for pid in self.workers():
            try:
                status = Path(f"/proc/{pid}/status").read_text()
            except OSError:
                continue
            peaks += [int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")]
        return max(peaks) / 1024  # kB


@contextmanager
def gunicorn(chdir: Path, target: str, ready_path: str, log: Path, env: dict[str, str],
             sync: bool = False) -> Iterator[Server]:
    """Serve `target` from `chdir` under gunicorn with the shipped settings on a free port."""
    port = localserver.free_port()
    extra = ("--workers", str(WORKERS), *(("--worker-class", "sync", "--threads", "1") if sync else ()))
    cmd = localserver.gunicorn_command(port, target, chdir, localserver.GUNICORN_CONFIG, *extra)
    with localserver.running(cmd, port, env=env, log=log, ready_path=ready_path, timeout_s=60) as srv:
        yield Server(port, srv.pid)


def latencies(port: int, method: str, path: str, body: bytes | None, n: int) -> list[float]:
    """Seconds per request, `n` sequential requests from one client (connect included: see above)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = JSON_HEADERS if body else {}
    out = []
    for _ in range(n):
        start = time.perf_counter()
        conn.request(method, path, body=body, headers=headers)
        response = conn.getresponse()
        response.read()
        out.append(time.perf_counter() - start)
        if response.status != 200:
            raise SystemExit(f"{method} {path}: status {response.status}")
    conn.close()
    return out


def _client(args: tuple[int, str, str, bytes | None, float]) -> tuple[int, int]:
    port, method, path, body, until = args
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    headers = JSON_HEADERS if body else {}
    done = bad = 0
    while time.time() < until:
        try:
            conn.request(method, path, body=body, headers=headers)
            response = conn.getresponse()
            response.read()
        except OSError:
            conn.close()
            bad += 1
            continue
        done += 1
        bad += response.status != 200
    return done, bad


def throughput_python(port: int, method: str, path: str, body: bytes | None,
                      duration: float, connections: int) -> tuple[int, float]:
    """Requests served and seconds, with `connections` client processes (threads would share one GIL)."""
    until = time.time() + 0.5 + duration  # the pool starts within the half second
    with multiprocessing.Pool(connections) as pool:
        results = pool.map(_client, [(port, method, path, body, until)] * connections)
    done, bad = map(sum, zip(*results))
    if bad:
        raise SystemExit(f"{method} {path}: {bad} failed requests under load")
    return done, duration


def throughput_wrk(port: int, method: str, path: str, body: bytes | None,
                   duration: float, connections: int, scratch: Path) -> tuple[int, float]:
    """Requests served and seconds, with wrk (one thread, `connections` connections)."""
    script = scratch / "request.lua"
    script.write_text(
        f"wrk.method = {json.dumps(method)}\n"
        + (f"wrk.body = {json.dumps(body.decode())}\n"
           'wrk.headers["Content-Type"] = "application/json"\n' if body else "")
    )
    run = subprocess.run(
        ["wrk", "-t1", f"-c{connections}", f"-d{duration:g}s", "-s", str(script),
         f"http://127.0.0.1:{port}{path}"],
        capture_output=True, text=True, check=True,
    )
    if "Non-2xx" in run.stdout or "Socket errors" in run.stdout:
        raise SystemExit(f"{method} {path}: failed requests under load:\n{run.stdout}")
    m = re.search(r"(\d+) requests in ([\d.]+)(m?s)", run.stdout)
    return int(m.group(1)), float(m.group(2)) / (1000 if m.group(3) == "ms" else 1)


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values),
            "rounds": values}


def record_diagnostics(cfg: config.Config) -> None:
    """One recorded diagnostics run, as /diagnostics serves it; the dependency check offline."""
    from risk.reports import depcheck, diagnostics

    with socket.socket() as closed:  # a refused port: "unknown" at once, no network needed
        closed.bind(("127.0.0.1", 0))
        os.environ[depcheck.INDEX_URL_ENV] = f"http://127.0.0.1:{closed.getsockname()[1]}/pypi"
        try:
            diagnostics.run_all(cfg)
        finally:
            del os.environ[depcheck.INDEX_URL_ENV]


# name -> (server, method, path, body, measure throughput too)
PEER = "peers' design POST /prediction (1 record)"
TARGETS = {
    "hello world GET /": ("hello", "GET", "/", None, True),
    PEER: ("peer", "POST", "/prediction", RECORD, True),
    "risk API POST /prediction (1 record)": ("api", "POST", "/prediction", RECORD, True),
    "risk API GET /health": ("api", "GET", "/health", None, False),
    "risk API GET /diagnostics (recorded)": ("api", "GET", "/diagnostics", None, False),
}


def measure(requests: int = 1000, rounds: int = 5, duration: float = 10.0, connections: int = 8,
            python_load: bool = False, sync: bool = False) -> dict:
    """Latency, throughput, worker CPU and worker peak RSS of every target; see the module docstring."""
    use_wrk = shutil.which("wrk") is not None and not python_load
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        (scratch / "project").mkdir()
        cfg = deployed_project(scratch / "project")
        record_diagnostics(cfg)
        (scratch / "apps").mkdir()
        (scratch / "apps" / "hello.py").write_text(HELLO_APP)
        (scratch / "apps" / "peer.py").write_text(PEER_APP)
        live = artifacts.deployed(cfg.prod_deployment_path)
        env = {api_spec.CONFIG_ENV: str(cfg.path), "RISK_ROOT": str(ROOT),
               "PEER_MODEL": str(live.release / artifacts.MODEL_FILE),
               "PEER_SHA256": live.manifest["files"][artifacts.MODEL_FILE]}
        servers = {
            "hello": stack.enter_context(gunicorn(scratch / "apps", "hello:app", "/", scratch / "hello.log",
                                                  env, sync)),
            "peer": stack.enter_context(gunicorn(scratch / "apps", "peer:app", "/", scratch / "peer.log",
                                                 env, sync)),
            "api": stack.enter_context(gunicorn(ROOT, "wsgi:app", "/health", scratch / "api.log", env, sync)),
        }
        p50: dict[str, list[float]] = {name: [] for name in TARGETS}
        rps: dict[str, list[float]] = {name: [] for name, t in TARGETS.items() if t[4]}
        cpu: dict[str, list[float]] = {name: [] for name in rps}
        for server, method, path, body, _ in TARGETS.values():
            latencies(servers[server].port, method, path, body, 200)  # warm up both workers
        for r in range(rounds):
            # Rounds alternate between the targets, so that machine noise hits all alike.
            for name, (server, method, path, body, load) in TARGETS.items():
                srv = servers[server]
                p50[name].append(
                    statistics.median(latencies(srv.port, method, path, body, requests)) * 1000)
                if not load:
                    continue
                before = srv.worker_cpu_s()
                if use_wrk:
                    done, seconds = throughput_wrk(srv.port, method, path, body, duration, connections,
                                                   scratch)
                else:
                    done, seconds = throughput_python(srv.port, method, path, body, duration, connections)
                cpu[name].append((srv.worker_cpu_s() - before) / done * 1e6)
                rps[name].append(done / seconds)
            print(f"api round {r + 1}/{rounds} done", file=sys.stderr)
        rss = {server: srv.worker_peak_rss_mb() for server, srv in servers.items()}

    hello = "hello world GET /"
    results = {name: {"p50_ms": spread(p50[name])} for name in TARGETS}
    for name in rps:
        results[name].update({
            "requests_per_s": spread(rps[name]),
            "throughput_vs_hello": statistics.median(rps[name]) / statistics.median(rps[hello]),
            "throughput_vs_peer": statistics.median(rps[name]) / statistics.median(rps[PEER]),
            "worker_cpu_us_per_request": spread(cpu[name]),
            "hello_cpu_vs_this": statistics.median(cpu[hello]) / statistics.median(cpu[name]),
        })
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "server": (f"gunicorn, {WORKERS} sync workers, Connection: close after each response" if sync else
                   f"gunicorn.conf.py: {WORKERS} gthread workers, keep-alive") + ", 127.0.0.1",
        "load_generator": "wrk" if use_wrk else "python",
        "connections": connections,
        "load": (f"wrk -t1 -c{connections}" if use_wrk else f"{connections} Python processes (http.client)")
                + f", {duration:g} s per round",
        "latency": f"{requests} sequential requests per round, one client, p50 per round",
        "rounds": rounds,
        "results": results,
        "worker_peak_rss_mb": rss,
    }


def table(report: dict) -> str:
    results = report["results"]
    lines = [f"{'endpoint':<44}{'p50 ms (min-max)':>20}{'req/s (min-max)':>22}{'vs hello':>10}"
             f"{'CPU us/req (min-max)':>24}{'vs hello':>10}"]
    for name, res in results.items():
        lat = res["p50_ms"]
        line = f"{name:<44}{lat['median']:>6.2f} ({lat['min']:.2f}-{lat['max']:.2f})"
        if "requests_per_s" in res:
            thr, c = res["requests_per_s"], res["worker_cpu_us_per_request"]
            line += (f"{thr['median']:>9.0f} ({thr['min']:.0f}-{thr['max']:.0f})"
                     f"{res['throughput_vs_hello']:>9.0%}"
                     f"{c['median']:>10.0f} ({c['min']:.0f}-{c['max']:.0f})"
                     f"{res['hello_cpu_vs_this']:>9.0%}")
        lines.append(line)
    pred = results["risk API POST /prediction (1 record)"]
    diag = results["risk API GET /diagnostics (recorded)"]
    rss = report["worker_peak_rss_mb"]
    lines += [
        f"server: {report['server']}; load: {report['load']}",
        f"targets: /prediction p50 <= 2.5 ms: {pred['p50_ms']['median']:.2f} ms "
        f"({'holds' if pred['p50_ms']['median'] <= 2.5 else 'MISSED'}); throughput >= 2x the peers' design: "
        f"{pred['throughput_vs_peer']:.2f}x ({'holds' if pred['throughput_vs_peer'] >= 2 else 'MISSED'}); "
        f"/diagnostics p50 <= 20 ms: {diag['p50_ms']['median']:.2f} ms "
        f"({'holds' if diag['p50_ms']['median'] <= 20 else 'MISSED'})",
        f"worker peak RSS (VmHWM): risk API {rss['api']:.0f} MB, peers' design {rss['peer']:.0f} MB, "
        f"hello world {rss['hello']:.0f} MB",
    ]
    return "\n".join(lines)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 rounds of 500 requests and 3 s of load")
    p.add_argument("--requests", type=int, default=1000, help="sequential requests per latency round")
    p.add_argument("--rounds", type=int, default=5, help="rounds of each measurement")
    p.add_argument("--duration", type=float, default=10.0, help="seconds per throughput round")
    p.add_argument("--connections", type=int, default=8, help="concurrent connections under load")
    p.add_argument("--python-load", action="store_true", help="use Python clients even if wrk is installed")
    p.add_argument("--sync", action="store_true", help="2 sync workers instead of the shipped gthread ones")
    p.add_argument("--json", type=Path, default=Path(__file__).with_suffix(".json"))
    return p.parse_args(argv)


QUICK = {"requests": 500, "rounds": 3, "duration": 3.0}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = {"requests": args.requests, "rounds": args.rounds, "duration": args.duration}
    report = measure(**(QUICK if args.quick else settings), connections=args.connections,
                     python_load=args.python_load, sync=args.sync)
    report["command"] = " ".join(["python bench/bench_api.py", *(argv if argv is not None else sys.argv[1:])])
    print(table(report))
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
