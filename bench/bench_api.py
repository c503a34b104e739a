"""Benchmark: the risk API under gunicorn against a hello-world app served the same way.

Starts gunicorn (2 sync workers, 127.0.0.1, free ports) serving (a) the real app
on a temporary project deployed from the shipped data, with one diagnostics run
recorded, and (b) a Flask hello-world app with the same settings, both up side
by side. Then, in rounds that alternate between the targets so machine noise
hits all alike:

- latency: one client, sequential requests; the p50 of each round, reported as
  the median of the rounds and their min-max: hello world, one-record
  /prediction, /health and /diagnostics (served from the recorded run);
- throughput of hello world and /prediction: a bounded concurrent load (wrk
  if installed, else as many Python processes as connections, each with
  http.client), requests/s per round;
- worker CPU per request: the gunicorn workers' user+system CPU time (from
  /proc) over the load round, divided by the requests served. Other processes
  on the machine slow the wall-clock figures; they barely move this one, so
  it shows what the app itself costs when the machine is shared;
- worker peak RSS: the largest VmHWM (/proc/<pid>/status) among each server's
  workers at the end.

gunicorn's sync workers answer `Connection: close`: every request, here as in
production behind them, pays for a new TCP connection. The client keeps its
connection object, but the server ends the connection after each response;
that cost is in every figure, hello world's included. On a 2-core machine the
load generator shares the CPUs with the 2 workers, which also holds for both.

Targets (issue 7): /prediction p50 <= 2.5 ms and throughput >= 60 % of hello
world's; /diagnostics p50 <= 20 ms.

    python bench/bench_api.py [--quick] [--requests 1000] [--rounds 5] [--duration 10]
                              [--connections 8] [--python-load] [--json bench/bench_api.json]
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

import config  # noqa: E402

GUNICORN = Path(sys.executable).parent / "gunicorn"
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


def deployed_project(folder: Path) -> config.Config:
    """A copy of the shipped data in `folder`, ingested, trained, scored and deployed."""
    import deployment
    import ingestion
    import scoring
    import training

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


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(port: int, path: str) -> int:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        return conn.getresponse().status
    finally:
        conn.close()


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
def gunicorn(chdir: Path, target: str, ready_path: str, log: Path,
             env: dict[str, str] | None = None) -> Iterator[Server]:
    """Serve `target` from `chdir` under gunicorn on a free port; always stop it."""
    port = free_port()
    cmd = [str(GUNICORN), "--workers", str(WORKERS), "--bind", f"127.0.0.1:{port}",
           "--no-control-socket", "--chdir", str(chdir), target]
    with open(log, "wb") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env={**os.environ, **(env or {})})
    try:
        deadline = time.monotonic() + 30
        while True:
            if proc.poll() is not None:
                raise SystemExit(f"gunicorn {target} exited: see {log}")
            try:
                if get(port, ready_path) == 200:
                    break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise SystemExit(f"gunicorn {target} not ready after 30 s: see {log}")
            time.sleep(0.1)
        yield Server(port, proc.pid)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


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
    import diagnostics

    with socket.socket() as closed:  # a refused port: "unknown" at once, no network needed
        closed.bind(("127.0.0.1", 0))
        os.environ[diagnostics.INDEX_URL_ENV] = f"http://127.0.0.1:{closed.getsockname()[1]}/pypi"
        try:
            diagnostics.run_all(cfg)
        finally:
            del os.environ[diagnostics.INDEX_URL_ENV]


# name -> (server, method, path, body, measure throughput too)
TARGETS = {
    "hello world GET /": ("hello", "GET", "/", None, True),
    "risk API POST /prediction (1 record)": ("api", "POST", "/prediction", RECORD, True),
    "risk API GET /health": ("api", "GET", "/health", None, False),
    "risk API GET /diagnostics (recorded)": ("api", "GET", "/diagnostics", None, False),
}


def measure(requests: int = 1000, rounds: int = 5, duration: float = 10.0, connections: int = 8,
            python_load: bool = False) -> dict:
    """Latency, throughput, worker CPU and worker peak RSS of every target; see the module docstring."""
    use_wrk = shutil.which("wrk") is not None and not python_load
    with ExitStack() as stack:
        scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-api-")))
        (scratch / "project").mkdir()
        cfg = deployed_project(scratch / "project")
        record_diagnostics(cfg)
        (scratch / "hello").mkdir()
        (scratch / "hello" / "hello.py").write_text(HELLO_APP)
        servers = {
            "hello": stack.enter_context(gunicorn(scratch / "hello", "hello:app", "/",
                                                  scratch / "hello.log")),
            "api": stack.enter_context(gunicorn(ROOT, "wsgi:app", "/health", scratch / "api.log",
                                                {"RISK_CONFIG": str(cfg.path)})),
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
            "worker_cpu_us_per_request": spread(cpu[name]),
            "hello_cpu_vs_this": statistics.median(cpu[hello]) / statistics.median(cpu[name]),
        })
    return {
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                    "platform": platform.platform()},
        "server": f"gunicorn, {WORKERS} sync workers, 127.0.0.1, Connection: close after each response",
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
    lines = [f"{'endpoint':<38}{'p50 ms (min-max)':>20}{'req/s (min-max)':>22}{'vs hello':>10}"
             f"{'CPU us/req (min-max)':>24}{'vs hello':>10}"]
    for name, res in results.items():
        lat = res["p50_ms"]
        line = f"{name:<38}{lat['median']:>6.2f} ({lat['min']:.2f}-{lat['max']:.2f})"
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
        f"load: {report['load']}",
        f"targets: /prediction p50 <= 2.5 ms: {pred['p50_ms']['median']:.2f} ms "
        f"({'holds' if pred['p50_ms']['median'] <= 2.5 else 'MISSED'}); throughput >= 60 % of hello: "
        f"{pred['throughput_vs_hello']:.0%} ({'holds' if pred['throughput_vs_hello'] >= 0.6 else 'MISSED'}); "
        f"/diagnostics p50 <= 20 ms: {diag['p50_ms']['median']:.2f} ms "
        f"({'holds' if diag['p50_ms']['median'] <= 20 else 'MISSED'})",
        f"worker peak RSS (VmHWM): risk API {rss['api']:.0f} MB, hello world {rss['hello']:.0f} MB",
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
    p.add_argument("--json", type=Path, default=Path(__file__).with_suffix(".json"))
    return p.parse_args(argv)


QUICK = {"requests": 500, "rounds": 3, "duration": 3.0}


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = {"requests": args.requests, "rounds": args.rounds, "duration": args.duration}
    report = measure(**(QUICK if args.quick else settings), connections=args.connections,
                     python_load=args.python_load)
    report["command"] = " ".join(["python bench/bench_api.py", *(argv if argv is not None else sys.argv[1:])])
    print(table(report))
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
