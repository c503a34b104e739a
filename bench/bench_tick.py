"""Benchmark: the cron tick that finds no new data, as a whole process, against a bare interpreter.

Sets up a temporary project, runs fullprocess.py once to deploy, then times
`python fullprocess.py --config …` (no new data: exit 0) and `python -c pass`
alternately, and reports medians, min-max, the ratio and the peak RSS of the
tick. Target: ratio <= 4.

    python bench/bench_tick.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def deployed_project(folder: Path) -> Path:
    """A project on a copy of the shipped practice data, deployed by one full run."""
    (folder / "in").mkdir()
    for p in (ROOT / "practicedata").glob("*.csv"):
        (folder / "in" / p.name).write_bytes(p.read_bytes())
    config_path = folder / "config.json"
    config_path.write_text(json.dumps({
        "input_folder_path": "in", "output_folder_path": "out",
        "test_data_path": str(ROOT / "testdata"), "output_model_path": "models",
        "prod_deployment_path": "prod", "api_port": 1,  # no API there: apicalls starts its own
    }))
    subprocess.run([sys.executable, str(ROOT / "fullprocess.py"), "--config", str(config_path)],
                   check=True, capture_output=True)
    return config_path


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - start


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory of one run of `cmd` (children's maxrss, measured in isolation)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True)
    return int(out.stdout) / 1024


def measure(repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config_path = deployed_project(Path(tmp))
        tick = [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(config_path)]
        bare = [sys.executable, "-c", "pass"]
        wall(tick), wall(bare)  # warm the file cache
        ticks, bares = [], []
        for _ in range(repeats):
            ticks.append(wall(tick))
            bares.append(wall(bare))
        rss = peak_rss_mb(tick)
    return {
        "tick_median_s": statistics.median(ticks), "tick_min_s": min(ticks), "tick_max_s": max(ticks),
        "bare_median_s": statistics.median(bares), "bare_min_s": min(bares), "bare_max_s": max(bares),
        "ratio": statistics.median(ticks) / statistics.median(bares),
        "repeats": repeats, "tick_peak_rss_mb": rss,
    }


def table(r: dict) -> str:
    return "\n".join([
        f"{'':<28} {'median ms':>9} {'min-max ms':>15}",
        f"{'fullprocess.py, no new data':<28} {r['tick_median_s'] * 1000:>9.1f} "
        f"{r['tick_min_s'] * 1000:>7.1f}-{r['tick_max_s'] * 1000:<7.1f}",
        f"{'python -c pass':<28} {r['bare_median_s'] * 1000:>9.1f} "
        f"{r['bare_min_s'] * 1000:>7.1f}-{r['bare_max_s'] * 1000:<7.1f}",
        f"ratio {r['ratio']:.2f} (target <= 4: {'holds' if r['ratio'] <= 4 else 'MISSED'}); "
        f"peak RSS of the tick {r['tick_peak_rss_mb']:.0f} MB",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="10 repeats (else 30)")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_tick.json"))
    args = p.parse_args(argv)
    result = measure(10 if args.quick else 30)
    print(table(result))
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
