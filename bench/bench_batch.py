"""Benchmark: batch scoring of 1,000,000 client rows from CSV to a ranked CSV, against predict_proba alone.

Generates the clients (seeded, not timed) into a CSV and trains a model on
10,000 other generated clients, then times, in-process after imports,
batchscore.py's pandas path: read_clients (pyarrow's CSV reader, then the
contract's validate), ranked (probabilities, predicted exits, highest risk
first) and ranking_csv + an atomic write (pyarrow's CSV writer). The
reference, timed alternately with it on the same rows, is the model's
predict_proba on the feature matrix alone. Reports rows per second of both
(median over the repeats, min-max), their ratio, the median time of each
stage, and (timed once) the path before batchscore.py: contract.read_csv,
scoring.ranked_clients, pandas' to_csv.

Target (issue 7): >= 1,000,000 rows/s end to end; predict_proba alone runs at
about 15 M rows/s here, so the target is a ratio of about 1/15.

    python bench/bench_batch.py [--quick] [--rows 1000000] [--json PATH]
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

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import generate_data  # noqa: E402
from risk import artifacts  # noqa: E402
from risk.data import contract  # noqa: E402
from risk.model import (
    batchscore,  # noqa: E402
    scoring,  # noqa: E402
    training,  # noqa: E402
)

TARGET_ROWS_PER_S = 1_000_000
STAGES = ("read", "rank", "write")


def score_file(model, source: Path, out: Path) -> dict[str, float]:
    """Read, rank and write one batch as batchscore.score_csv does; seconds per stage."""
    t0 = time.perf_counter()
    frame = batchscore.read_clients(source)
    t1 = time.perf_counter()
    table = batchscore.ranked(model, frame)
    t2 = time.perf_counter()
    artifacts.write_atomic(out, batchscore.ranking_csv(table))
    t3 = time.perf_counter()
    return {"read": t1 - t0, "rank": t2 - t1, "write": t3 - t2, "total": t3 - t0}


def score_file_before(model, source: Path, out: Path) -> dict[str, float]:
    """The path before batchscore.py (pandas' reader and writer, the report's ranking)."""
    t0 = time.perf_counter()
    frame = contract.read_csv(source, require_target=False)
    t1 = time.perf_counter()
    ranking = scoring.ranked_clients(model, frame)
    t2 = time.perf_counter()
    artifacts.write_atomic(out, ranking.to_csv(index=False, lineterminator="\n").encode())
    t3 = time.perf_counter()
    return {"read": t1 - t0, "rank": t2 - t1, "write": t3 - t2, "total": t3 - t0}


def predict_proba_s(model, x: np.ndarray) -> float:
    start = time.perf_counter()
    model.predict_proba(x)
    return time.perf_counter() - start


def measure(quick: bool = False, rows: int = 1_000_000) -> dict:
    repeats = 3 if quick else 7
    rng = np.random.default_rng(rows)
    model = training.train_model(generate_data.clients(rng, 10_000))
    with tempfile.TemporaryDirectory(prefix="bench-batch-") as tmp:
        source, out = Path(tmp) / "clients.csv", Path(tmp) / "risk_ranking.csv"
        source.write_bytes(contract.write_csv(generate_data.clients(rng, rows)))
        x = contract.feature_matrix(contract.read_csv(source, require_target=False))
        score_file(model, source, out), predict_proba_s(model, x)  # warm caches and allocator
        runs, refs = [], []
        for _ in range(repeats):
            runs.append(score_file(model, source, out))
            refs.append(predict_proba_s(model, x))
        written = out.read_bytes().count(b"\n") - 1
        before = score_file_before(model, source, out)
    if written != rows:  # every generated client is distinct: one line each
        raise SystemExit(f"ranking has {written} rows, expected {rows}")
    totals = [r["total"] for r in runs]
    rates = sorted(rows / t for t in totals)
    ref_rates = sorted(rows / t for t in refs)
    return {
        "rows": rows, "repeats": repeats,
        "rows_per_s": {"median": statistics.median(rates), "min": rates[0], "max": rates[-1]},
        "predict_proba_rows_per_s": {"median": statistics.median(ref_rates),
                                     "min": ref_rates[0], "max": ref_rates[-1]},
        "ratio": statistics.median(refs) / statistics.median(totals),
        "total_median_s": statistics.median(totals),
        "stages_median_s": {k: statistics.median(r[k] for r in runs) for k in STAGES},
        "target_rows_per_s": TARGET_ROWS_PER_S,
        "holds": statistics.median(rates) >= TARGET_ROWS_PER_S,
        "before_rows_per_s": rows / before["total"], "before_stages_s": before,
    }


def table(r: dict) -> str:
    e2e, ref, s = r["rows_per_s"], r["predict_proba_rows_per_s"], r["stages_median_s"]
    return "\n".join([
        f"{r['rows']:,} rows, median of {r['repeats']} (min-max)",
        f"{'read + rank + write':<22} {e2e['median']:>12,.0f} rows/s ({e2e['min']:,.0f}-{e2e['max']:,.0f})"
        f"  [read {s['read']:.3f} s, rank {s['rank']:.3f} s, write {s['write']:.3f} s]",
        f"{'predict_proba alone':<22} {ref['median']:>12,.0f} rows/s ({ref['min']:,.0f}-{ref['max']:,.0f})",
        f"{'before (pandas I/O)':<22} {r['before_rows_per_s']:>12,.0f} rows/s (once)"
        f"  [read {r['before_stages_s']['read']:.3f} s, rank {r['before_stages_s']['rank']:.3f} s, "
        f"write {r['before_stages_s']['write']:.3f} s]",
        f"ratio {r['ratio']:.3f}; target >= {TARGET_ROWS_PER_S:,} rows/s: "
        f"{'holds' if r['holds'] else 'MISSED'}",
    ])


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="3 repeats (else 7)")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_batch.json"))
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = measure(args.quick, args.rows)
    print(table(result))
    args.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
