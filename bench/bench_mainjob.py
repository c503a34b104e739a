"""Benchmark: the main job on the shipped data, as a new user runs it, against importing its libraries.

Issue 10's targets, measured side by side in one run:
- the main job after install (`python fullprocess.py` on a fresh copy of the
  shipped data: bootstrap, call list, diagnostics, report, API calls):
  <= 2.5x the wall time of the reference;
- a tick that finds one new same-law extract (gate, drift, challenger
  decision, ingestion, call list, report, API calls): <= 2x the reference.
The reference is `python -c "import pandas, sklearn.linear_model,
matplotlib.pyplot, flask"`: what any run that does model work must import.

Each repeat uses a new project folder (the shipped sourcedata/ and testdata/
copied, a config with the course's five keys) and a closed port as the
package index, so no run reaches the network. The extract is made by
generate_data.py before the clock starts.

    python bench/bench_mainjob.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = "import pandas, sklearn.linear_model, matplotlib.pyplot, flask"
TARGETS = {"bootstrap": 2.5, "new_extract": 2.0}


def project(folder: Path) -> Path:
    """A fresh project on a copy of the shipped data; its config.json."""
    for name in ("sourcedata", "testdata"):
        shutil.copytree(ROOT / name, folder / name)
    config_path = folder / "config.json"
    config_path.write_text(json.dumps({
        "input_folder_path": "sourcedata", "output_folder_path": "ingesteddata",
        "test_data_path": "testdata", "output_model_path": "models",
        "prod_deployment_path": "production_deployment",
    }))
    return config_path


def timed(cmd: list[str], env: dict[str, str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=env)
    return time.perf_counter() - start


def measure(repeats: int) -> dict:
    with socket.socket() as closed, tempfile.TemporaryDirectory() as tmp:
        closed.bind(("127.0.0.1", 0))
        env = {"PATH": "/usr/bin:/bin",  # as cron: almost no environment
               "RISK_PYPI_URL": f"http://127.0.0.1:{closed.getsockname()[1]}/pypi"}
        reference = [sys.executable, "-c", REFERENCE]
        timed(reference, env)  # warm the file cache
        runs: dict[str, list[float]] = {"reference": [], "bootstrap": [], "new_extract": []}
        for i in range(repeats):
            config_path = project(Path(tmp) / f"run{i}")
            job = [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(config_path)]
            runs["reference"].append(timed(reference, env))
            runs["bootstrap"].append(timed(job, env))
            subprocess.run([sys.executable, str(ROOT / "generate_data.py"), "--extract",
                            str(config_path.parent / "sourcedata" / "clients_2026_11.csv"), "--law", "base"],
                           check=True, capture_output=True, env=env)
            runs["new_extract"].append(timed(job, env))
    out: dict = {"repeats": repeats, "reference_command": f'python -c "{REFERENCE}"'}
    for name, times in runs.items():
        out[name] = {"median_s": statistics.median(times), "min_s": min(times), "max_s": max(times)}
    for name, limit in TARGETS.items():
        ratio = out[name]["median_s"] / out["reference"]["median_s"]
        out[name].update(ratio=ratio, target=limit, holds=ratio <= limit)
    return out


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="2 repeats instead of 5")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_mainjob.json"))
    args = p.parse_args()
    r = measure(2 if args.quick else 5)
    args.json.write_text(json.dumps(r, indent=2))
    ref = r["reference"]
    print(f"reference {r['reference_command']}: {ref['median_s']:.2f} s")
    for name in TARGETS:
        s = r[name]
        print(f"{name}: {s['median_s']:.2f} s ({s['min_s']:.2f}-{s['max_s']:.2f}), "
              f"{s['ratio']:.2f}x the reference (target <= {s['target']}x: "
              f"{'holds' if s['holds'] else 'MISSED'})")


if __name__ == "__main__":
    main()
