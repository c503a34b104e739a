"""Attack: SIGKILL Dask workers of `scaleout.py score` and `scaleout.py ingest` as the cluster starts and while it works.

Sets up a project in a temporary folder (ingest, train, score, deploy on
pandas; not timed), writes a client CSV, and ranks it once without a kill (the
reference bytes). Then each trial runs the real script as a subprocess and,
a random time after its first worker process appears, SIGKILLs one worker
(or every worker). A trial *survives* when the script
  - ends (no hang: a guard of 240 s),
  - exits 0 with the reference bytes, or exits 1 with exactly one line on
    stderr besides INFO progress (no traceback) and the previous output kept,
  - and leaves none of the processes it started running.

    python bench/attack_dask.py [--quick] [--trials N] [--seed S]

Timings depend on the machine's load (start-up took 3 to 15 s on the shared
2-core machine), so the kill times are drawn relative to the first worker.
"""
from __future__ import annotations

import argparse
import json
import random
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
import psutil  # noqa: E402

import generate_data  # noqa: E402
from risk import config  # noqa: E402
from risk.data import contract, ingestion  # noqa: E402
from risk.loop import deployment  # noqa: E402
from risk.model import scoring, training  # noqa: E402

GUARD_S = 240
# (name, step, which workers, seconds after the first worker appears: low, high)
PHASES = (
    ("score: one worker, as the cluster starts", "score", "one", 0.0, 3.0),
    ("score: one worker, while it works", "score", "one", 3.0, 14.0),
    ("score: every worker, any time", "score", "all", 0.0, 14.0),
    ("ingest: one worker, any time", "ingest", "one", 0.0, 10.0),
)


def project(base: Path, rows: int) -> Path:
    (base / "in").mkdir(parents=True)
    (base / "test").mkdir()
    rng = np.random.default_rng(1)
    (base / "in" / "a.csv").write_bytes(contract.write_csv(generate_data.clients(rng, 3000)))
    (base / "test" / "testdata.csv").write_bytes(contract.write_csv(generate_data.clients(rng, 500)))
    (base / "config.json").write_text(json.dumps({
        "input_folder_path": "in", "output_folder_path": "out", "test_data_path": "test",
        "output_model_path": "models", "prod_deployment_path": "prod"}))
    cfg = config.load(base / "config.json")
    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)
    deployment.deploy(cfg)
    (base / "in" / "b.csv").write_bytes(contract.write_csv(generate_data.clients(rng, rows)))
    (base / "clients.csv").write_bytes(contract.write_csv(generate_data.clients(rng, rows).assign(exited=np.nan)))
    return base / "config.json"


def command(step: str, cfg: Path) -> list[str]:
    if step == "score":
        return [sys.executable, str(ROOT / "scaleout.py"), "score", "--input", str(cfg.parent / "clients.csv"),
                "--output", str(cfg.parent / "ranked.csv"), "--config", str(cfg)]
    return [sys.executable, str(ROOT / "scaleout.py"), "ingest", "--config", str(cfg)]


def output(step: str, cfg: Path) -> Path:
    return cfg.parent / ("ranked.csv" if step == "score" else "out/finaldata.csv")


def workers(pid: int) -> list[psutil.Process]:
    found = []
    try:
        children = psutil.Process(pid).children(recursive=True)
    except psutil.NoSuchProcess:
        return []
    for child in children:
        try:
            if "resource_tracker" not in " ".join(child.cmdline()):
                found.append(child)
        except psutil.Error:
            continue
    return found


def trial(step: str, which: str, delay: float, cfg: Path, reference: bytes) -> dict:
    out = output(step, cfg)
    out.write_bytes(b"the previous output\n")
    run = subprocess.Popen(command(step, cfg), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/")
    started, first, killed, seen = time.monotonic(), None, None, []
    while killed is None and run.poll() is None and time.monotonic() - started < GUARD_S:
        found = workers(run.pid)
        seen += [p for p in found if p not in seen]
        first = first or (time.monotonic() if found else None)
        if found and time.monotonic() - first >= delay:
            for p in found if which == "all" else found[:1]:
                p.send_signal(signal.SIGKILL)
            killed = round(time.monotonic() - started, 1)
        time.sleep(0.02)
    try:
        stdout, stderr = run.communicate(timeout=GUARD_S)
        hung = False
    except subprocess.TimeoutExpired:
        run.kill()
        stdout, stderr = run.communicate()
        hung = True
    seen += [p for p in workers(run.pid) if p not in seen]
    time.sleep(1)
    left = [p.pid for p in seen if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
    for p in seen:
        if p.pid in left:
            p.kill()
    said = [line for line in stderr.splitlines() if not line.startswith("INFO ")]
    errors = [line for line in said if not line.startswith("WARNING ")]
    data = out.read_bytes()
    ok = run.returncode == 0 and data == reference
    failed_cleanly = run.returncode == 1 and len(errors) == 1 and data == b"the previous output\n"
    return {"killed_at_s": killed, "exit": None if hung else run.returncode, "hung": hung,
            "traceback": any("Traceback" in line for line in said), "error": errors[-1] if errors else "",
            "left_running": len(left), "outcome": "finished" if ok else "one-line failure" if failed_cleanly else "BAD",
            "survived": not hung and not left and (ok or failed_cleanly)}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="4 trials per phase, 300,000 rows")
    p.add_argument("--trials", type=int, default=None, help="trials per phase (default 10; 4 with --quick)")
    p.add_argument("--rows", type=int, default=None, help="client rows (default 1,000,000; 300,000 with --quick)")
    p.add_argument("--seed", type=int, default=22)
    args = p.parse_args()
    trials = args.trials or (4 if args.quick else 10)
    rows = args.rows or (300_000 if args.quick else 1_000_000)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="attack-dask-") as tmp:
        cfg = project(Path(tmp), rows)
        reference = {}
        for step in ("score", "ingest"):  # uninterrupted runs: the bytes a finished run must give
            subprocess.run(command(step, cfg), check=True, capture_output=True)
            reference[step] = output(step, cfg).read_bytes()
        print(f"{rows:,} client rows; load average {psutil.getloadavg()[0]:.1f} on {psutil.cpu_count()} cores")
        total = survived = 0
        for name, step, which, low, high in PHASES:
            results = [trial(step, which, round(rng.uniform(low, high), 2), cfg, reference[step])
                       for _ in range(trials)]
            ok = sum(r["survived"] for r in results)
            total, survived = total + len(results), survived + ok
            outcomes = {o: sum(r["outcome"] == o for r in results) for o in ("finished", "one-line failure", "BAD")}
            print(f"{name}: {ok}/{len(results)} survived ({outcomes['finished']} finished, "
                  f"{outcomes['one-line failure']} one-line failures, {outcomes['BAD']} bad; "
                  f"hangs {sum(r['hung'] for r in results)}, tracebacks {sum(r['traceback'] for r in results)}, "
                  f"processes left {sum(r['left_running'] for r in results)})")
            for r in results:
                if r["error"] or not r["survived"]:
                    print(f"    killed at {r['killed_at_s']} s, exit {r['exit']}: {r['error'][:160]}")
        print(f"all: {survived}/{total} survived")


if __name__ == "__main__":
    main()
