"""Serving the deployed model: loaded once, hash-verified, reloaded when a new deployment lands.

Reads  prod_deployment_path (the current release's manifest and model, through artifacts.py)

`DeployedModel(prod_path).get()` is what the API answers with; `predict` is the
one way the API turns features into answers: the model's own predict_proba,
under scikit-learn's fast settings (no input validation: the API has checked
every value against the contract before).
"""
from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import sklearn

from risk import artifacts
from risk.data import contract
from risk.serving import api_spec

log = logging.getLogger("serving")

# Reading the manifest costs ~60 µs: check it at most this often. A redeploy is
# then served within half a second.
RELOAD_CHECK_S = 0.5


class NotServable(Exception):
    """No model can be served: none deployed, or none passed its hash check."""


def predict(model: Any, x: np.ndarray) -> tuple[list[int], list[float]]:
    """(predicted class, attrition probability) per row of a float feature matrix (NaN: missing).

    sklearn validates its input on every call (~0.4 ms a call, more than the
    rest of a one-row request); the values here are contract-checked already,
    so its own switches turn that off. The class is the likelier one, as the
    model's predict decides it for the project's logistic regression.
    """
    if len(x) == 0:
        return [], []
    with sklearn.config_context(assume_finite=True, skip_parameter_validation=True):
        proba = model.predict_proba(x)
    return model.classes_.take(proba.argmax(axis=1)).tolist(), proba[:, 1].tolist()


def probe(model: Any) -> str | None:
    """Why `model` cannot predict, or None when it answers a plain and an all-missing row sanely."""
    rows = np.array([[40.0, 1200.0, 30.0], [math.nan] * len(contract.FEATURES)])
    try:
        predicted, probability = predict(model, rows)
    except Exception as exc:  # any failure of a loaded model is the answer, not a crash
        return f"the model fails to predict ({type(exc).__name__}: {exc})"
    if len(probability) != 2 or not all(0.0 <= p <= 1.0 for p in probability):
        return f"the model predicts nonsense (probabilities {probability})"
    return None


@dataclass(frozen=True)
class Served:
    """One verified deployment, swapped in whole so a request never mixes two."""
    model: Any
    manifest: dict[str, Any]

    @property
    def version(self) -> int:
        return int(self.manifest["version"])

    @property
    def model_sha256(self) -> str:
        return str(self.manifest["files"][artifacts.MODEL_FILE])


class DeployedModel:
    """The deployed model as this process serves it: loaded once, reloaded when the deployment changes.

    The manifest is read at most every `check_every_s`; when its version (or
    release folder) differs from the one served, the new release is loaded and
    every file checked against the manifest's hashes. A release that fails the
    check is never served: the previous model stays in service and `error` says why.
    """

    def __init__(self, prod_path: Path, check_every_s: float = RELOAD_CHECK_S) -> None:
        self.prod_path = prod_path
        self.identity = api_spec.deployment_id(prod_path)
        self.check_every_s = check_every_s
        self.served: Served | None = None
        self.error: str | None = None
        self._tried: tuple[Any, Any] | None = None
        self._checked_at = -math.inf
        # Requests are answered on threads (gthread workers, Flask's own server).
        self._lock = threading.Lock()

    def get(self) -> Served:
        """The model to answer with; NotServable if none is deployed or none passed its hash check."""
        if time.monotonic() - self._checked_at >= self.check_every_s:
            self.refresh()
        served = self.served
        if served is None:
            raise NotServable(self.error or "no model deployed yet (run deployment.py)")
        return served

    def refresh(self) -> None:
        """Load the current deployment if it is not the one served (or tried) already."""
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                live = artifacts.deployed(self.prod_path)
            except artifacts.ArtifactError as exc:
                self._fail(f"deployment manifest unreadable: {exc}")
                return
            if live is None:
                self.served, self._tried = None, None
                self._fail(f"{self.prod_path}: no model deployed yet (run deployment.py)")
                return
            key = (live.manifest.get("version"), live.release)
            if key == self._tried:
                return
            self._tried = key
            try:
                model, live = artifacts.load_deployed(self.prod_path)
                manifest = live.manifest
                artifacts.verify_release(live.release, manifest)
                int(manifest["version"])
            except artifacts.ArtifactError as exc:
                self._fail(f"deployment {live.release.name} not served: {exc}")
                return
            except (KeyError, TypeError, ValueError) as exc:  # a manifest without its fields
                self._fail(f"deployment {live.release.name} not served: malformed manifest ({type(exc).__name__}: {exc})")
                return
            broken = probe(model)
            if broken is not None:
                self._fail(f"deployment {live.release.name} not served: {broken}")
                return
            self.served = Served(model, manifest)
            self.error = None
            log.info("serving model %s deployed %s", artifacts.version_name(manifest["version"]), manifest.get("deployed_at"))

    def _fail(self, message: str) -> None:
        if message != self.error:  # once per problem, not once per request
            log.error("%s", message)
        self.error = message
