"""Benchmark of drift-gate quality: false alarms and detection of every model drift test.

Not a speed figure: over many generated batches of new data, how often each
test says "drift" when the attrition law is unchanged (false alarms) and when
it has drifted (detection). To average over the luck of one training set and
one test set, the batches are spread over several simulated deployments, each
trained on 10,000 fresh clients, scored on 2,000 fresh test clients, and given
a history of past deployed scores from earlier retrainings.

Targets for the default test (bootstrap, alpha 0.05): <= 5 % false alarms and
>= 95 % detection on batches of >= 1,000 rows.

    python bench/bench_drift.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import config  # noqa: E402
import contract  # noqa: E402
import drift  # noqa: E402
import generate_data  # noqa: E402
import scoring  # noqa: E402
import training  # noqa: E402

SIZES = (1000, 5000)
WORLDS = 5
PAST_DEPLOYMENTS = 8


def world(rng: np.random.Generator):
    """A deployed model, its test data and score, and a history of past deployed scores."""
    model = training.train_model(generate_data.clients(rng, 10_000))
    test = generate_data.clients(rng, 2000)
    score = scoring.f1_of(model, test)
    past = [scoring.f1_of(training.train_model(generate_data.clients(rng, 10_000)), test)
            for _ in range(PAST_DEPLOYMENTS - 1)] + [score]
    return model, test, score, past


def verdicts(model, test, score, past, batch, seed) -> dict[str, bool]:
    out = {}
    for name in config.DRIFT_TESTS:
        out[name] = drift.model_drift(name, model, batch, test, score, past, seed=seed).drift
    return out


def measure(batches: int) -> list[dict]:
    rng = np.random.default_rng(7)
    per_world = batches // WORLDS
    tallies = {(size, law): {t: 0 for t in config.DRIFT_TESTS} for size in SIZES for law in generate_data.LAWS}
    for w in range(WORLDS):
        model, test, score, past = world(rng)
        for size in SIZES:
            for law in generate_data.LAWS:
                for i in range(per_world):
                    batch = generate_data.clients(rng, size, law)
                    for name, fired in verdicts(model, test, score, past, batch, seed=i).items():
                        tallies[(size, law)][name] += fired
    rows = []
    for name in config.DRIFT_TESTS:
        for size in SIZES:
            n = per_world * WORLDS
            rows.append({
                "test": name, "rows_per_batch": size, "batches_per_law": n,
                "false_alarm_rate": tallies[(size, "base")][name] / n,
                "detection_rate": tallies[(size, "drifted")][name] / n,
            })
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'test':<15} {'rows':>5} {'batches':>7} {'false alarms':>12} {'detection':>9}"]
    for r in rows:
        lines.append(f"{r['test']:<15} {r['rows_per_batch']:>5} {r['batches_per_law']:>7} "
                     f"{r['false_alarm_rate']:>11.1%} {r['detection_rate']:>9.1%}")
    default = [r for r in rows if r["test"] == "bootstrap"]
    ok = all(r["false_alarm_rate"] <= 0.05 and r["detection_rate"] >= 0.95 for r in default)
    lines.append(f"target (bootstrap: <= 5 % false alarms, >= 95 % detection): {'holds' if ok else 'MISSED'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="200 batches per law and size (else 500)")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_drift.json"))
    args = p.parse_args(argv)
    start = time.perf_counter()
    rows = measure(200 if args.quick else 500)
    print(table(rows))
    print(f"({time.perf_counter() - start:.0f} s)")
    args.json.write_text(json.dumps(rows, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
