"""Benchmark: the call list of 1,000,000 clients (ranking, bands, reasons, changes) against predict_proba alone.

Generates the clients and a model trained on 10,000 others (seeded, not
timed), and a previous list: the same clients a month earlier (their
activity shifted), ranked the same way. Then times, in-process after
imports, `scoring.rank_clients` on the current clients: probabilities, rank,
band, the reasons from the model's log-odds in words, and the change against
the previous list. The reference, timed alternately with it on the same rows,
is the model's predict_proba on the feature matrix alone. The CPU time of the
ranking is given too: on a shared machine it shows the work apart from the
wait for a core. Also timed, apart:
writing the ranking as CSV (`scoring.write_ranking_csv`).

Target (issue 11): <= 5 s for 1,000,000 clients.

    python bench/bench_calllist.py [--quick] [--rows 1000000] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import generate_data  # noqa: E402
from risk.data import contract  # noqa: E402
from risk.model import (
    scoring,  # noqa: E402
    training,  # noqa: E402
)

TARGET_S = 5.0
THRESHOLDS = (0.6, 0.4, 0.2)
N = 100


def spread(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def measure(quick: bool = False, rows: int = 1_000_000) -> dict:
    repeats = 2 if quick else 5
    rng = np.random.default_rng(11)
    model = training.train_model(generate_data.clients(rng, 10_000))
    clients = generate_data.clients(rng, rows)
    clients[contract.ID] = [f"c{i:07d}" for i in range(rows)]  # unique ids: one row per client
    earlier = clients.copy()
    earlier["lastmonth_activity"] = earlier["lastmonth_activity"] * rng.uniform(0.7, 1.4, rows)
    previous, _ = scoring.rank_clients(model, earlier, None, THRESHOLDS, N)
    previous = previous[[contract.ID, "rank", "probability", "band"]]
    x = contract.feature_matrix(clients)

    ranking_s, ranking_cpu_s, reference_s, write_s = [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        for _ in range(repeats):
            start = time.perf_counter()
            model.predict_proba(x)
            reference_s.append(time.perf_counter() - start)
            start, cpu = time.perf_counter(), time.process_time()
            ranking, left = scoring.rank_clients(model, clients, previous, THRESHOLDS, N)
            ranking_s.append(time.perf_counter() - start)
            ranking_cpu_s.append(time.process_time() - cpu)
            start = time.perf_counter()
            scoring.write_ranking_csv(ranking, Path(tmp) / scoring.RISK_RANKING)
            write_s.append(time.perf_counter() - start)
    changes = ranking["change"].value_counts().to_dict()
    return {
        "rows": rows, "repeats": repeats,
        "ranking_s": spread(ranking_s), "ranking_cpu_s": spread(ranking_cpu_s), "predict_proba_s": spread(reference_s),
        "write_csv_s": spread(write_s),
        "ratio": statistics.median(ranking_s) / statistics.median(reference_s),
        "changes": {k or "none": int(v) for k, v in changes.items()}, "left": len(left),
        "target_s": TARGET_S, "holds": statistics.median(ranking_s) <= TARGET_S,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true")
    p.add_argument("--rows", type=int, default=1_000_000)
    p.add_argument("--json", type=Path)
    args = p.parse_args(argv)
    result = measure(args.quick, args.rows)
    text = json.dumps(result, indent=2)
    print(text)
    if args.json:
        args.json.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
