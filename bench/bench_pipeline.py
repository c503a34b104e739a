"""Benchmark: ingestion + training + scoring of 10 k, 100 k and 1 M generated rows.

Runs the real step functions in-process on a temporary project (imports are
paid before timing starts), repeats each size, and reports the median and the
min-max wall time, rows per second, and the cost per row relative to 10 k rows
(1.0 means linear). Then, on the largest project, runs `python training.py` as
a process of its own and reports its peak RSS, beside the peak RSS of a process
that only imports training.py. Target: 1 M rows in <= 5 s together.

    python bench/bench_pipeline.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import logging
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import numpy as np  # noqa: E402
from bench_tick import peak_rss_mb  # noqa: E402

import generate_data  # noqa: E402
from risk import config  # noqa: E402
from risk.data import (
    contract,  # noqa: E402
    ingestion,  # noqa: E402
)
from risk.model import (
    scoring,  # noqa: E402
    training,  # noqa: E402
)


def make_project(folder: Path, rows: int) -> config.Config:
    """A project folder with `rows` clients in two input files and rows/10 test rows."""
    rng = np.random.default_rng(rows)
    data = generate_data.clients(rng, rows, "base")
    (folder / "in").mkdir()
    (folder / "test").mkdir()
    half = rows // 2
    (folder / "in" / "a.csv").write_bytes(contract.write_csv(data.iloc[:half]))
    (folder / "in" / "b.csv").write_bytes(contract.write_csv(data.iloc[half:]))
    (folder / "test" / "testdata.csv").write_bytes(
        contract.write_csv(generate_data.clients(rng, max(rows // 10, 100), "base")))
    (folder / "config.json").write_text(json.dumps({
        "input_folder_path": "in", "output_folder_path": "out", "test_data_path": "test",
        "output_model_path": "models", "prod_deployment_path": "prod",
    }))
    return config.load(folder / "config.json")


def time_steps(cfg: config.Config) -> dict[str, float]:
    times = {}
    for name, step in (("ingestion", ingestion.ingest), ("training", training.train),
                       ("scoring", scoring.score)):
        start = time.perf_counter()
        step(cfg)
        times[name] = time.perf_counter() - start
    times["total"] = sum(times.values())
    return times


def training_peak_rss_mb(cfg: config.Config) -> dict[str, float]:
    """Peak RSS of `python training.py` on `cfg`'s ingested data, and of importing training.py alone."""
    return {
        "training_peak_rss_mb": peak_rss_mb([sys.executable, str(ROOT / "training.py"),
                                             "--config", str(cfg.path)]),
        "imports_peak_rss_mb": peak_rss_mb([sys.executable, "-c", f"import sys; sys.path.insert(0, "
                                            f"{str(ROOT)!r}); import training"]),
    }


def measure(quick: bool = False) -> list[dict]:
    sizes = [10_000, 100_000, 1_000_000]
    repeats = 3 if quick else 5
    results = []
    for rows in sizes:
        with tempfile.TemporaryDirectory() as tmp:
            cfg = make_project(Path(tmp), rows)
            runs = [time_steps(cfg) for _ in range(repeats)]
            memory = training_peak_rss_mb(cfg) if rows == sizes[-1] else {}
        totals = [r["total"] for r in runs]
        results.append({
            "rows": rows,
            "repeats": repeats,
            "median_s": statistics.median(totals),
            "min_s": min(totals),
            "max_s": max(totals),
            "steps_median_s": {k: statistics.median(r[k] for r in runs)
                               for k in ("ingestion", "training", "scoring")},
            **memory,
        })
    per_row_10k = results[0]["median_s"] / results[0]["rows"]
    for r in results:
        r["rows_per_s"] = r["rows"] / r["median_s"]
        r["cost_per_row_vs_10k"] = (r["median_s"] / r["rows"]) / per_row_10k
    return results


def table(results: list[dict]) -> str:
    lines = [f"{'rows':>9}  {'median s':>8}  {'min-max s':>13}  {'ingest':>6}  {'train':>6}  "
             f"{'score':>6}  {'rows/s':>10}  {'cost/row vs 10k':>15}"]
    for r in results:
        s = r["steps_median_s"]
        lines.append(
            f"{r['rows']:>9,}  {r['median_s']:>8.3f}  {r['min_s']:>6.3f}-{r['max_s']:<6.3f}  "
            f"{s['ingestion']:>6.3f}  {s['training']:>6.3f}  {s['scoring']:>6.3f}  "
            f"{r['rows_per_s']:>10,.0f}  {r['cost_per_row_vs_10k']:>15.2f}")
    one_m = results[-1]
    lines.append(f"target: 1 M rows <= 5 s after imports -> {one_m['median_s']:.2f} s "
                 f"({'holds' if one_m['median_s'] <= 5 else 'MISSED'})")
    lines.append(f"peak RSS of python training.py on {one_m['rows']:,} rows: "
                 f"{one_m['training_peak_rss_mb']:.0f} MB (importing training.py alone: "
                 f"{one_m['imports_peak_rss_mb']:.0f} MB)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_pipeline.json"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    results = measure(args.quick)
    print(table(results))
    args.json.write_text(json.dumps(results, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
