"""The data-quality gate: is a new extract plausible against the deployed model's training data?

The data contract checks each value (whole, non-negative numbers); this gate
checks the batch as a whole against a profile of the data the deployed model
was trained on (stored in its sidecar, trainedmodel.json, key `quality`). An
extract that fails is quarantined by fullprocess.py: not ingested, not used for
drift or training, recorded with the reasons below, the file left untouched.

- columns that look swapped: two features each look like the other's training
  distribution far better than like their own;
- a scale jump: a feature's median moved by an order of magnitude (x10 or /10),
  as when figures arrive in another unit;
- a missing-value surge: a feature is empty 10 points more often than in training;
- a constant column: one value in every row of a feature that varied in training;
- an attrition rate far outside the training data's: below a third of it, or
  with a third of the stayers' share left (labelled extracts of >= 50 rows).

Real covariate shift (smaller companies, busier clients: medians moving by a
factor of 2-3) passes: the thresholds sit well beyond it.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd

from risk.data import contract

SCALE_FACTOR = 10.0
SWAP_FACTOR = 3.0       # own distributions this far apart (log scale) before a swap is considered
MISSING_SURGE = 0.10
MIN_ROWS = 20           # fewer rows: too few to judge a column constant or a rate
MIN_ROWS_RATE = 50
RATE_FACTOR = 3.0
QUANTILES = np.linspace(0.05, 0.95, 19)


def profile(frame: pd.DataFrame) -> dict[str, Any]:
    """What the gate needs of the training data: per feature median, quantiles, missing share."""
    features = {}
    for col in contract.FEATURES:
        values = frame[col].dropna().to_numpy(dtype=float)
        features[col] = {
            "median": float(np.median(values)) if len(values) else None,
            "quantiles": np.quantile(values, QUANTILES).tolist() if len(values) else [],
            "missing": float(frame[col].isna().mean()),
            "distinct": int(min(np.unique(values).size, 1000)),
        }
    labels = frame[contract.TARGET].dropna() if contract.TARGET in frame else pd.Series([], dtype=float)
    return {"features": features, "exit_rate": float(labels.mean()) if len(labels) else None,
            "rows": len(frame)}


def _distance(a: list[float] | np.ndarray, b: list[float] | np.ndarray) -> float:
    """How far apart two distributions are: median gap of their log quantiles."""
    return float(np.median(np.abs(np.log1p(np.asarray(a)) - np.log1p(np.asarray(b)))))


def _swapped(ref: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, str]]:
    pairs = []
    cols = [c for c in contract.FEATURES if ref[c]["quantiles"] and new[c]["quantiles"]]
    for i, a in enumerate(cols):
        for b in cols[i + 1:]:
            own = _distance(new[a]["quantiles"], ref[a]["quantiles"]) + _distance(
                new[b]["quantiles"], ref[b]["quantiles"])
            crossed = _distance(new[a]["quantiles"], ref[b]["quantiles"]) + _distance(
                new[b]["quantiles"], ref[a]["quantiles"])
            if own > 2 * math.log(SWAP_FACTOR) and crossed < own / 3:
                pairs.append((a, b))
    return pairs


def problems(reference: dict[str, Any], frame: pd.DataFrame) -> list[str]:
    """Why `frame` is implausible against the training `reference` profile; [] when it is not."""
    new = profile(frame)
    ref, now = reference["features"], new["features"]
    found: list[str] = []
    swapped = _swapped(ref, now)
    found += [f"columns '{a}' and '{b}' look swapped (each matches the other's training values)"
              for a, b in swapped]
    in_swap = {c for pair in swapped for c in pair}
    for col in contract.FEATURES:
        r, n = ref[col], now[col]
        if col not in in_swap and r["median"] is not None and n["median"] is not None:
            ratio = (n["median"] + 1) / (r["median"] + 1)
            if ratio >= SCALE_FACTOR or ratio <= 1 / SCALE_FACTOR:
                found.append(f"'{col}' scale jumped x{ratio:.3g} (median {n['median']:g}, "
                             f"training {r['median']:g}): another unit?")
        if n["missing"] > r["missing"] + MISSING_SURGE:
            found.append(f"missing-value surge: '{col}' {n['missing']:.1%} empty "
                         f"(training {r['missing']:.1%})")
        if len(frame) >= MIN_ROWS and n["distinct"] == 1 and r["distinct"] > 1:
            found.append(f"'{col}' is constant ({n['median']:g} in every row)")
    rate, seen = new["exit_rate"], reference.get("exit_rate")
    labelled = int(frame[contract.TARGET].notna().sum()) if contract.TARGET in frame else 0
    if rate is not None and seen and labelled >= MIN_ROWS_RATE:
        low, high = seen / RATE_FACTOR, 1 - (1 - seen) / RATE_FACTOR
        if not low <= rate <= high:
            found.append(f"attrition rate {rate:.1%} far outside the training data's {seen:.1%} "
                         f"(plausible {low:.1%}-{high:.1%})")
    return found
