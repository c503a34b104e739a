"""Attack: SIGKILL a tick of the main job (`fullprocess.py`) at random moments, then let the next tick recover.

Sets up a project (two labelled extracts, test data, the bootstrap tick on
them; not timed), adds a drifted extract, and copies the project once per
trial. The reference is an uninterrupted tick on a copy. Each trial starts the
tick, SIGKILLs it a random time into it (uniform over the reference tick's
duration), runs the next tick and then one more. A trial *survives* when
  - the next tick exits 0 without a traceback,
  - the live release loads and verifies (its files match its manifest),
  - the deployed version, the call list's "new to the top" count and the
    number of lists in the history are the uninterrupted tick's,
  - the tick after that has nothing new to do (exit 0, no release made).

    python bench/attack_crash.py [--quick] [--trials N] [--seed S]
"""
from __future__ import annotations

import argparse
import json
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402

import generate_data  # noqa: E402
from risk import artifacts, config, history  # noqa: E402
from risk.data import contract  # noqa: E402
from risk.serving import apicalls  # noqa: E402

GUARD_S = 600


def project(base: Path) -> Path:
    for folder in ("in", "test"):
        (base / folder).mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in ("a.csv", "b.csv"):
        (base / "in" / name).write_bytes(contract.write_csv(generate_data.clients(rng, 1500)))
    (base / "test" / "testdata.csv").write_bytes(contract.write_csv(generate_data.clients(rng, 2000)))
    (base / "config.json").write_text(json.dumps({
        "input_folder_path": "in", "output_folder_path": "out", "test_data_path": "test",
        "output_model_path": "models", "prod_deployment_path": "prod", "min_labelled_rows": 200,
        "api_port": apicalls.free_port()}))  # no API server there
    tick(base)
    generate_data.main(["--extract", str(base / "in" / "c.csv"), "--law", "drifted", "--rows", "3000",
                        "--seed", "6"])
    return base


def tick(base: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "fullprocess.py"), "--config", str(base / "config.json")],
                          capture_output=True, text=True, cwd="/", timeout=GUARD_S)


def state(base: Path) -> dict:
    cfg = config.load(base / "config.json")
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    artifacts.verify_release(artifacts.current_release(cfg.prod_deployment_path), manifest)
    summary = json.loads((cfg.output_model_path / "call_list.json").read_text())
    return {"version": manifest["version"], "new_to_top": len(summary["new_to_top"]),
            "lists_published": len(history.rows(cfg.history_path, "call_lists"))}


def trial(base: Path, work: Path, delay: float, reference: dict) -> dict:
    shutil.copytree(base, work, symlinks=True)
    run = subprocess.Popen([sys.executable, str(ROOT / "fullprocess.py"), "--config", str(work / "config.json")],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    try:
        run.wait(timeout=delay)
        killed = False
    except subprocess.TimeoutExpired:
        run.send_signal(signal.SIGKILL)
        run.wait()
        killed = True
    after = tick(work)
    problems = []
    if after.returncode != 0 or "Traceback" in after.stderr:
        problems.append(f"next tick exit {after.returncode}: {after.stderr.strip().splitlines()[-1:]}")
    try:
        got = state(work)
    except Exception as exc:  # noqa: BLE001 - whatever broke is the finding
        got = {}
        problems.append(f"state: {type(exc).__name__}: {exc}")
    for key, want in reference.items():
        if got and got.get(key) != want:
            problems.append(f"{key} {got.get(key)} (uninterrupted: {want})")
    settled = tick(work)
    if settled.returncode != 0 or (got and state(work)["version"] != got["version"]):
        problems.append(f"third tick exit {settled.returncode}, not settled")
    return {"delay_s": delay, "killed": killed, "problems": problems}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="8 trials (else 20)")
    p.add_argument("--trials", type=int, default=None)
    p.add_argument("--seed", type=int, default=11)
    args = p.parse_args()
    trials = args.trials or (8 if args.quick else 20)
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="attack-crash-") as tmp:
        base = project(Path(tmp) / "base")
        shutil.copytree(base, Path(tmp) / "reference", symlinks=True)
        started = time.monotonic()
        first = tick(Path(tmp) / "reference")
        duration = time.monotonic() - started
        assert first.returncode == 0, first.stderr
        reference = state(Path(tmp) / "reference")
        print(f"uninterrupted tick: {duration:.1f} s, {reference}")
        results = [trial(base, Path(tmp) / f"t{i}", round(rng.uniform(0.3, duration), 2), reference)
                   for i in range(trials)]
        for r in results:
            print(f"  killed at {r['delay_s']} s: " + ("; ".join(r["problems"]) or "survived")
                  + ("" if r["killed"] else " (the tick had ended)"))
        killed = [r for r in results if r["killed"]]
        print(f"SIGKILL of a tick: {sum(not r['problems'] for r in killed)}/{len(killed)} survived "
              f"({len(results) - len(killed)} trials ended before the kill)")


if __name__ == "__main__":
    main()
