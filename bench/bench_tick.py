"""Benchmark: the cron tick that finds no new data, as a whole process, against a bare interpreter.

Sets up a temporary project, runs fullprocess.py once to deploy, then times
`python fullprocess.py --config …` (no new data: exit 0), `python -c pass` and
the "standard-library floor" (`python -c "import json, pathlib, sqlite3, …"`:
the modules the tick cannot do without) alternately, and reports medians,
min-max, the ratios to the bare interpreter and the peak RSS of the tick and
of the bare interpreter. Target (issue 10): ratio <= 6.
The same tick with a SQLite database as the source (issue 14; dbsource.py),
no new rows past the watermark, is timed alongside. Target: ratio <= 6.

The commands run without PYTHONDONTWRITEBYTECODE, as cron and users run them:
with it set, every start would compile the project's modules again.

    python bench/bench_tick.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# As cron runs the tick: with bytecode caches (see the docstring).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
# What the tick imports and cannot do without: config, lock, history, hashes, log, arguments.
STDLIB_FLOOR = "import json, pathlib, sqlite3, hashlib, fcntl, logging, argparse"


def deployed_project(folder: Path, database: bool = False) -> Path:
    """A project on a copy of the shipped practice data (in files or a SQLite table), deployed by one full run."""
    (folder / "in").mkdir(parents=True)
    extra = {}
    if database:
        sys.path.insert(0, str(ROOT))
        from risk.data import dbsource
        dbsource.load_sqlite(folder / "db" / "clients.sqlite", sorted((ROOT / "practicedata").glob("*.csv")))
        extra = {"database_url": "sqlite:///db/clients.sqlite", "database_table": dbsource.SQLITE_TABLE,
                 "database_order_column": "id"}
    else:
        for p in (ROOT / "practicedata").glob("*.csv"):
            (folder / "in" / p.name).write_bytes(p.read_bytes())
    config_path = folder / "config.json"
    config_path.write_text(json.dumps({
        "input_folder_path": "in", "output_folder_path": "out",
        "test_data_path": str(ROOT / "testdata"), "output_model_path": "models",
        "prod_deployment_path": "prod", "api_port": 1,  # no API there: apicalls starts its own
        **extra,
    }))
    with socket.socket() as closed:  # the run's dependency check: refused at once, no network
        closed.bind(("127.0.0.1", 0))
        env = {**ENV, "RISK_PYPI_URL": f"http://127.0.0.1:{closed.getsockname()[1]}/pypi"}
        subprocess.run([sys.executable, str(ROOT / "fullprocess.py"), "--config", str(config_path)],
                       check=True, capture_output=True, env=env)
    return config_path


def wall(cmd: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, env=ENV)
    return time.perf_counter() - start


def peak_rss_mb(cmd: list[str]) -> float:
    """Peak resident memory of one run of `cmd` (children's maxrss, measured in isolation)."""
    code = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, "
            "capture_output=True); print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")
    out = subprocess.run([sys.executable, "-c", code, *cmd], check=True, capture_output=True, text=True,
                         env=ENV)
    return int(out.stdout) / 1024


def measure(repeats: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        config_path = deployed_project(Path(tmp) / "files")
        db_config_path = deployed_project(Path(tmp) / "database", database=True)
        cmds = {
            "tick": [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(config_path)],
            "db_tick": [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(db_config_path)],
            "bare": [sys.executable, "-c", "pass"],
            "floor": [sys.executable, "-c", STDLIB_FLOOR],
        }
        for cmd in cmds.values():
            wall(cmd)  # warm the file cache and write the bytecode caches
        runs: dict[str, list[float]] = {name: [] for name in cmds}
        for _ in range(repeats):
            for name, cmd in cmds.items():
                runs[name].append(wall(cmd))
        rss = {name: peak_rss_mb(cmds[name]) for name in ("tick", "db_tick", "bare")}
    out = {"repeats": repeats, "stdlib_floor": STDLIB_FLOOR}
    for name, times in runs.items():
        out.update({f"{name}_median_s": statistics.median(times), f"{name}_min_s": min(times),
                    f"{name}_max_s": max(times)})
    out["ratio"] = out["tick_median_s"] / out["bare_median_s"]
    out["floor_ratio"] = out["floor_median_s"] / out["bare_median_s"]
    out["db_ratio"] = out["db_tick_median_s"] / out["bare_median_s"]
    out["tick_peak_rss_mb"], out["bare_peak_rss_mb"] = rss["tick"], rss["bare"]
    out["db_tick_peak_rss_mb"] = rss["db_tick"]
    return out


def table(r: dict) -> str:
    def line(label: str, name: str) -> str:
        return (f"{label:<34} {r[f'{name}_median_s'] * 1000:>9.1f} "
                f"{r[f'{name}_min_s'] * 1000:>7.1f}-{r[f'{name}_max_s'] * 1000:<7.1f}"
                f"{r[f'{name}_median_s'] / r['bare_median_s']:>6.2f}x")
    return "\n".join([
        f"{'':<34} {'median ms':>9} {'min-max ms':>15} {'vs bare':>7}",
        line("fullprocess.py, no new data", "tick"),
        line("the same, SQLite source, no new rows", "db_tick"),
        line("python -c pass", "bare"),
        line("standard-library floor (below)", "floor"),
        f"floor: python -c \"{r['stdlib_floor']}\"",
        f"ratio {r['ratio']:.2f} (target <= 6: {'holds' if r['ratio'] <= 6 else 'MISSED'}); "
        f"peak RSS of the tick {r['tick_peak_rss_mb']:.0f} MB, "
        f"of python -c pass {r['bare_peak_rss_mb']:.0f} MB",
        f"database tick ratio {r['db_ratio']:.2f} (target <= 6: {'holds' if r['db_ratio'] <= 6 else 'MISSED'}); "
        f"peak RSS {r['db_tick_peak_rss_mb']:.0f} MB",
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
