"""Benchmark: the dependency check, online, offline and against an index that never answers.

Times `depcheck.dependency_status` on requirements.txt (wall time and CPU
time of this process) against PyPI (skipped when unreachable), a closed local
port (offline: refused at once), and a local port that accepts connections and
never answers (the timeout path); with --pip also `pip list --outdated`, the
course's way, for comparison. Targets: online <= 3 s, offline <= timeout + 1 s.
Also `diagnostics.run_all` on a deployed project of 10,000 generated clients,
as a tick calls it (recorded timings, the index asked at most daily): well
under a second.

    python bench/bench_diagnostics.py [--timeout 3] [--repeats 3] [--pip] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from risk.reports import depcheck  # noqa: E402


def measure(run: Callable[[], object], repeats: int) -> dict[str, float]:
    """Median wall and CPU seconds of `run` over `repeats` calls."""
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    return {"wall_s": round(statistics.median(walls), 3), "cpu_s": round(statistics.median(cpus), 3)}


def check(index_url: str, timeout: float) -> Callable[[], list]:
    return lambda: depcheck.dependency_status(depcheck.REQUIREMENTS, timeout, index_url)


def run_all_s(repeats: int) -> dict[str, float]:
    """Wall and CPU seconds of diagnostics.run_all on a fresh deployed project (after its first run)."""
    import tempfile

    import numpy as np

    import generate_data
    from risk import config
    from risk.data import contract, ingestion
    from risk.loop import deployment
    from risk.model import scoring, training
    from risk.reports import diagnostics

    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        rng = np.random.default_rng(5)
        for folder, name, n in (("in", "a.csv", 6000), ("in", "b.csv", 4000), ("test", "testdata.csv", 2000)):
            (base / folder).mkdir(exist_ok=True)
            (base / folder / name).write_bytes(contract.write_csv(generate_data.clients(rng, n)))
        (base / "config.json").write_text(json.dumps({
            "input_folder_path": "in", "output_folder_path": "out", "test_data_path": "test",
            "output_model_path": "models", "prod_deployment_path": "prod"}))
        cfg = config.load(base / "config.json")
        for step in (ingestion.ingest, training.train, scoring.score, deployment.deploy, diagnostics.run_all):
            step(cfg)
        return measure(lambda: diagnostics.run_all(cfg), repeats)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--timeout", type=float, default=3.0)
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--pip", action="store_true", help="also time `pip list --outdated`")
    p.add_argument("--json", type=Path, help="write the results here as JSON")
    args = p.parse_args(argv)

    results: dict[str, object] = {"timeout_s": args.timeout,
                                  "packages": len(depcheck.requirements(depcheck.REQUIREMENTS))}
    online = depcheck.dependency_status(depcheck.REQUIREMENTS, args.timeout, depcheck.DEFAULT_INDEX)
    if all(r["outdated"] is None for r in online):
        results["online"] = f"skipped: {online[0]['reason']}"
    else:
        results["online"] = measure(check(depcheck.DEFAULT_INDEX, args.timeout), args.repeats)
    with socket.socket() as closed, socket.socket() as silent:
        closed.bind(("127.0.0.1", 0))
        silent.bind(("127.0.0.1", 0))
        silent.listen(64)
        results["offline"] = measure(
            check(f"http://127.0.0.1:{closed.getsockname()[1]}/simple", args.timeout), args.repeats)
        results["no_answer"] = measure(
            check(f"http://127.0.0.1:{silent.getsockname()[1]}/simple", args.timeout), 1)
    results["run_all"] = run_all_s(args.repeats)
    if args.pip:
        cmd = [sys.executable, "-m", "pip", "list", "--outdated", "--disable-pip-version-check"]
        results["pip_list_outdated"] = measure(
            lambda: subprocess.run(cmd, capture_output=True, check=False), 1)
        results["pip_list_outdated"]["note"] = "CPU of the child process is not in cpu_s"
    text = json.dumps(results, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
