"""Recalibration: the cheap answer to a moved base rate. The ranking stays; the probabilities follow.

When the base-rate check fires twice in a row (loop.decide), the deployed
model's log-odds z are mapped through a Platt step p = 1 / (1 + exp(-(a z + b)))
fitted on the latest labelled rows, with a > 0 so the order of clients - the
call list - cannot change. Nothing is retrained:

- the additive model (model_kind "additive") keeps its calibration in
  `calibration_` = (a', b') with p = 1 / (1 + exp(a' z + b')) on its own
  log-odds z (decision_function): the new step replaces it, (-a, -b); its
  shapes and reasons are untouched;
- a linear model (the course's LogisticRegression, last step of a Pipeline):
  a z + b is again linear, so coefficients are scaled by a and the intercept
  becomes a c + b; reasons stay exact shares of the new log-odds.

The result is saved as the trained model (with the deployed one's sidecar
and a `recalibrated` record) and deployed as a new version by fullprocess.py.
"""
from __future__ import annotations

import copy
import logging
from typing import Any

import numpy as np
import pandas as pd

from risk import artifacts, config, history
from risk.data import contract, drift
from risk.model import measures

log = logging.getLogger("fullprocess")


def log_odds(model: Any, x: np.ndarray) -> np.ndarray:
    """The model's log-odds per row, the scale a recalibration works on."""
    if hasattr(model, "decision_function"):  # the additive model's own, or a linear model's
        return np.asarray(model.decision_function(x), dtype=float)
    p = np.clip(model.predict_proba(x)[:, 1], 1e-9, 1 - 1e-9)
    return np.log(p / (1 - p))


def platt(z: np.ndarray, y: np.ndarray, rounds: int = 50) -> tuple[float, float]:
    """(a, b) maximising the likelihood of y under sigmoid(a z + b): Newton's method, a kept > 0."""
    a, b = 1.0, 0.0
    for _ in range(rounds):
        p = 1 / (1 + np.exp(-(a * z + b)))
        g = np.array([np.sum((p - y) * z), np.sum(p - y)])
        w = p * (1 - p)
        h = np.array([[np.sum(w * z * z), np.sum(w * z)], [np.sum(w * z), np.sum(w)]]) + 1e-9 * np.eye(2)
        step = np.linalg.solve(h, g)
        a, b = a - step[0], b - step[1]
        if np.abs(step).max() < 1e-9:
            break
    return max(float(a), 1e-3), float(b)


def recalibrated(model: Any, a: float, b: float) -> Any:
    """A copy of `model` whose log-odds z become a z + b (ranking unchanged for a > 0)."""
    new = copy.deepcopy(model)
    if hasattr(new, "calibration_"):
        # Its calibration is p = 1 / (1 + exp(a' z + b')) on its own log-odds z.
        new.calibration_ = (-a, -b)
        return new
    last = new[-1] if hasattr(new, "steps") else new
    if not hasattr(last, "coef_"):
        raise TypeError(f"cannot recalibrate a {type(last).__name__}: no log-odds to adjust")
    last.coef_ = last.coef_ * a
    last.intercept_ = last.intercept_ * a + b
    return new


def recalibrate(cfg: config.Config, model: Any, manifest: dict[str, Any], rows: pd.DataFrame) -> dict[str, Any]:
    """Fit the Platt step on `rows` (labelled), save the recalibrated model as the trained model.

    Returns what was done: rows, (a, b), the rate observed, predicted before and after,
    the new version's drift reference and the saved model's SHA-256.
    """
    x, y = contract.feature_matrix(rows), rows[contract.TARGET].to_numpy(dtype=float)
    a, b = platt(log_odds(model, x), y)
    new = recalibrated(model, a, b)
    before, after = model.predict_proba(x)[:, 1], new.predict_proba(x)[:, 1]
    record = {"rows": len(rows), "a": a, "b": b, "observed_rate": float(y.mean()),
              "predicted_before": float(before.mean()), "predicted_after": float(after.mean()),
              "brier_before": measures.brier(y, before), "brier_after": measures.brier(y, after),
              "from_version": manifest["version"], "at": history.now()}
    counts = drift.confusion(y.astype(int), new.predict(x))
    # The drift reference of the new version: its own figures on the rows it was calibrated on.
    record["reference"] = {"f1": float(drift.f1_from_counts(counts)), "counts": counts.astype(int).tolist(),
                           "rows": len(rows), "on": "the rows it was recalibrated on"}
    release = artifacts.release_path(cfg.prod_deployment_path, manifest["version"])
    sidecar = artifacts.read_json(release / artifacts.SIDECAR_FILE)
    meta = {k: v for k, v in sidecar.items() if k not in ("sha256", "file")}
    digest = artifacts.save_model(new, cfg.model_path, {**meta, "recalibrated": record})
    log.info("recalibrated %s on %d rows: predicted rate %.3f -> %.3f (observed %.3f)",
             artifacts.version_name(manifest["version"]), len(rows), record["predicted_before"],
             record["predicted_after"], record["observed_rate"])
    return {**record, "model_sha256": digest}
