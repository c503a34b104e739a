"""Step 2a, training: fit the attrition model on the ingested dataset.

The work of `training.py` (its command line lives there). The config key
`model_kind` chooses the model: "additive" (default, additive.py: smooth
shapes of the counts, calibrated probabilities, exact reasons) or "course"
(the course's pipeline: median imputation, standard scaling,
LogisticRegression(**model_params) on the raw counts).
"""
from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from risk import artifacts, config, history
from risk.data import contract, drift, quality
from risk.errors import StepError
from risk.model.additive import AdditiveModel

log = logging.getLogger("training")


class TrainingError(StepError):
    """The data can't train a model (one class only, bad parameters)."""


@dataclass
class TrainingResult:
    model_path: Path
    model_sha256: str
    rows: int
    duration_s: float


def build_model(params: dict[str, Any]) -> Pipeline:
    """The course's unfitted pipeline: median imputation, standard scaling, LogisticRegression(**params)."""
    return Pipeline([
        ("impute", SimpleImputer(strategy="median")),
        ("scale", StandardScaler()),
        ("classify", LogisticRegression(**params)),
    ])


def build(kind: str, params: dict[str, Any] | None = None) -> Pipeline | AdditiveModel:
    """An unfitted model of `kind` (config.MODEL_KINDS); `params` are the course model's."""
    if kind == "additive":
        return AdditiveModel()
    if kind == "course":
        return build_model(config.MODEL_DEFAULTS if params is None else params)
    raise TrainingError(f"unknown model kind {kind!r} (known: {', '.join(config.MODEL_KINDS)})")


def settings(kind: str, params: dict[str, Any]) -> dict[str, Any]:
    """What the model was fitted with, for its sidecar and the run history."""
    if kind == "additive":
        return {"model_kind": kind, **AdditiveModel().get_params()}
    return {"model_kind": kind, **params}


def train_model(frame: pd.DataFrame, params: dict[str, Any] | None = None,
                kind: str = config.OPTIONAL_KEYS["model_kind"][1]) -> Pipeline | AdditiveModel:
    """Fit a model of `kind` (default: the config's default) on a contract-valid frame with `exited` labels."""
    labels = frame[contract.TARGET].to_numpy()
    classes = np.unique(labels)
    if classes.size < 2:
        raise TrainingError(
            f"training data has only class {classes.tolist()} in '{contract.TARGET}'; "
            "a model needs clients who stayed and clients who exited"
        )
    model = build(kind, params)
    try:
        # A numpy array, not a frame: the fitted model then predicts on plain
        # arrays without feature-name checks, which keeps one-row predictions fast.
        model.fit(contract.feature_matrix(frame), labels)
    except (ValueError, TypeError) as exc:
        raise TrainingError(f"cannot fit model: {exc}") from None
    return model


def library_versions() -> dict[str, str]:
    return {
        "python": platform.python_version(),
        "scikit-learn": sklearn.__version__,
        "pandas": pd.__version__,
        "numpy": np.__version__,
    }


def train(cfg: config.Config, data: pd.DataFrame | None = None,
          trained_on: dict[str, Any] | None = None) -> TrainingResult:
    """Train on `data` (default: finaldata.csv) and save the model atomically with its metadata.

    `trained_on` says in the sidecar what the rows are (fullprocess.py: the
    training window's extracts, less the held-out rows).
    """
    data_sha = None
    if data is None:
        data = contract.read_csv(cfg.finaldata_path)
        data_sha = artifacts.sha256_file(cfg.finaldata_path)
        trained_on = trained_on or {"data": cfg.finaldata_path.name, "rows": len(data)}
    log.info("training on %d rows of %s", len(data),
             ", ".join((trained_on or {}).get("files", [])) or cfg.finaldata_path)
    started = time.perf_counter()
    model = train_model(data, cfg.model_params, cfg.model_kind)
    duration = time.perf_counter() - started
    fitted_with = settings(cfg.model_kind, cfg.model_params)
    data_sha = data_sha or artifacts.sha256_bytes(contract.write_csv(data))
    versions = library_versions()
    digest = artifacts.save_model(model, cfg.model_path, {
        "trained_at": history.now(),
        "rows": len(data),
        "data_sha256": data_sha,
        "features": list(contract.FEATURES),
        "model_kind": cfg.model_kind,
        "params": fitted_with,
        "versions": versions,
        "duration_s": round(duration, 4),
        # Data drift later compares new rows with this picture of the training data.
        "profile": drift.reference_profile(data),
        # ... and the quality gate judges new extracts against this one.
        "quality": quality.profile(data),
        "trained_on": trained_on or {"rows": len(data)},
    })
    history.record(cfg.history_path, "trainings", [{
        "model_path": str(cfg.model_path), "model_sha256": digest, "data_sha256": data_sha,
        "rows": len(data), "duration_s": duration,
        "versions": json.dumps(versions, sort_keys=True), "params": json.dumps(fitted_with, sort_keys=True),
    }])
    log.info("fitted the %s model in %.2f s; wrote %s (sha256 %s…)", cfg.model_kind, duration,
             cfg.model_path, digest[:12])
    return TrainingResult(cfg.model_path, digest, len(data), duration)
