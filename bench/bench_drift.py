"""Benchmark of drift-gate quality: false alarms and detection of every model drift test.

Not a speed figure: over many generated batches of new data, how often each
test says "drift" when the attrition law is unchanged (false alarms) and when
it has drifted (detection). To average over the luck of one training set and
one test set, the batches are spread over simulated deployments ("worlds"),
each trained on 10,000 fresh clients, scored on 2,000 fresh test clients, and
given a history of past deployed scores from earlier retrainings.

A deployment's test set decides much of its false-alarm rate: the bootstrap
test compares the new F1 with the test-data F1, so a deployment whose test F1
came out high by luck raises more alarms (over 5 worlds of 100 batches, 0 % to
16 % of same-law batches of 5,000 rows). Hence few batches per world (2) and
many worlds, and a 95 % confidence interval that counts the spread between
worlds (a Wilson interval on the effective number of batches).

Targets for the default test (bootstrap, alpha 0.05): <= 5 % false alarms and
>= 95 % detection on batches of >= 1,000 rows.

    python bench/bench_drift.py [--quick] [--json PATH]
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

import generate_data  # noqa: E402
from risk import config  # noqa: E402
from risk.data import drift  # noqa: E402
from risk.model import (
    scoring,  # noqa: E402
    training,  # noqa: E402
)

SIZES = (1000, 5000)
BATCHES_PER_WORLD = 2
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


def wilson(rate: float, n: float, z: float = 1.96) -> tuple[float, float]:
    """95 % confidence interval of a rate observed over n independent trials (Wilson score)."""
    centre = (rate + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(rate * (1 - rate) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def interval(per_world: list[int], batches_per_world: int) -> tuple[float, float]:
    """95 % interval of the rate, with batches of one world counted as correlated."""
    rates = np.array(per_world) / batches_per_world
    n = rates.size * batches_per_world
    rate = float(rates.mean())
    between = float(rates.var(ddof=1)) / rates.size if rates.size > 1 else 0.0  # variance of the mean
    binomial = rate * (1 - rate) / n
    effective = n * min(1.0, binomial / between) if between > 0 else n
    return wilson(rate, effective)


def measure(batches: int) -> list[dict]:
    rng = np.random.default_rng(7)
    worlds = max(batches // BATCHES_PER_WORLD, 2)
    # (size, law) -> test -> alarms per world
    tallies = {(size, law): {t: [] for t in config.DRIFT_TESTS} for size in SIZES for law in generate_data.LAWS}
    for w in range(worlds):
        model, test, score, past = world(rng)
        for size in SIZES:
            for law in generate_data.LAWS:
                counts = {t: 0 for t in config.DRIFT_TESTS}
                for i in range(BATCHES_PER_WORLD):
                    batch = generate_data.clients(rng, size, law)
                    for name, fired in verdicts(model, test, score, past, batch, seed=i).items():
                        counts[name] += fired
                for name, count in counts.items():
                    tallies[(size, law)][name].append(count)
    rows = []
    n = worlds * BATCHES_PER_WORLD
    for name in config.DRIFT_TESTS:
        for size in SIZES:
            base, drifted = tallies[(size, "base")][name], tallies[(size, "drifted")][name]
            rows.append({
                "test": name, "rows_per_batch": size, "batches_per_law": n, "worlds": worlds,
                "false_alarm_rate": sum(base) / n, "detection_rate": sum(drifted) / n,
                "false_alarm_ci95": interval(base, BATCHES_PER_WORLD),
                "detection_ci95": interval(drifted, BATCHES_PER_WORLD),
            })
    return rows


def table(rows: list[dict]) -> str:
    lines = [f"{'test':<15} {'rows':>5} {'batches':>7} {'false alarms (95% CI)':>22} {'detection (95% CI)':>22}"]
    for r in rows:
        fa, det = r["false_alarm_ci95"], r["detection_ci95"]
        lines.append(f"{r['test']:<15} {r['rows_per_batch']:>5} {r['batches_per_law']:>7} "
                     f"{r['false_alarm_rate']:>7.1%} ({fa[0]:>5.1%}-{fa[1]:>5.1%}) "
                     f"{r['detection_rate']:>7.1%} ({det[0]:>5.1%}-{det[1]:>5.1%})")
    default = [r for r in rows if r["test"] == "bootstrap"]
    ok = all(r["false_alarm_rate"] <= 0.05 and r["detection_rate"] >= 0.95 for r in default)
    lines.append(f"{rows[0]['worlds']} worlds of {BATCHES_PER_WORLD} batches per size and law; "
                 f"target (bootstrap: <= 5 % false alarms, >= 95 % detection): {'holds' if ok else 'MISSED'}")
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
