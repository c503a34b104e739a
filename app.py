"""The risk API: predictions, scores, statistics and diagnostics of the deployed model, as JSON.

Reads  the deployed model in prod_deployment_path (hash-checked; reloaded when a new
       deployment lands, no restart), test_data_path/testdata.csv,
       output_folder_path/finaldata.csv, the run history (latest diagnostics)
Serves POST /prediction, GET /scoring, /summarystats, /diagnostics, /health, /risk,
       /openapi.json (the OpenAPI 3 document of them all: `openapi_document`)

`create_app(config_path)` builds the application; `wsgi.py` hands it to a
production WSGI server, and this script serves it with Flask's own server for
local use (127.0.0.1, debug off):

    python app.py [--config config.json] [--host 127.0.0.1] [--port 8000]
    .venv/bin/gunicorn --workers 2 --bind 127.0.0.1:8000 wsgi:app

When the environment variable RISK_API_TOKEN is set, every endpoint but /health
requires the header `Authorization: Bearer <token>`.
"""
from __future__ import annotations

import argparse
import hmac
import json
import logging
import math
import os
import sys
import threading
import time
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask, Request, Response, current_app, jsonify, request
from werkzeug.exceptions import (
    BadRequest, Forbidden, HTTPException, MethodNotAllowed, NotFound,
    RequestEntityTooLarge, ServiceUnavailable, Unauthorized, UnsupportedMediaType,
)

import artifacts
import cli
import config
import contract
import diagnostics
import page
import scoring
from errors import StepError

log = logging.getLogger("app")

CONFIG_ENV = "RISK_CONFIG"
TOKEN_ENV = "RISK_API_TOKEN"
MAX_BODY_BYTES = 10 * 1024 * 1024
# Reading the manifest costs ~60 µs, a sixth of a one-row prediction: check it
# at most this often. A redeploy is then served within half a second.
RELOAD_CHECK_S = 0.5
DEFAULT_TOP = 10
# Features travel as float64; above 2**53 whole numbers stop being exact.
MAX_FEATURE = 2**53 - 1
OPEN_ENDPOINTS = ("/health",)
FLAG_VALUES = ("0", "1", "true", "false")
FILEPATH_PATTERN = r"^[^\u0000]*\.[cC][sS][vV]\s*$"
CSV_TYPES = ("text/csv", "application/csv")
FORM_TYPES = ("application/x-www-form-urlencoded", "multipart/form-data")

# Up to this many JSON records are scored in plain Python: for a few rows,
# numpy's per-call overhead costs more than the arithmetic (bench/bench_api.py).
SMALL_BATCH = 16

Rows = list[list[float]]  # feature values per row, NaN where missing


class ModelScorer:
    """Scores rows with the model's own predict and predict_proba: works for any model."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def matrix(self, x: np.ndarray) -> tuple[list[int], list[float]]:
        """(predicted class, attrition probability) per row of a feature matrix."""
        return self.model.predict(x).tolist(), self.model.predict_proba(x)[:, 1].tolist()

    def rows(self, rows: Rows) -> tuple[list[int], list[float]]:
        """The same for rows as Python lists."""
        return self.matrix(np.array(rows, dtype="float64"))


class LinearScorer:
    """The project's pipeline (median imputation, scaling, binary logistic regression) without sklearn.

    sklearn checks its input on every call, ~0.5 ms each for predict and
    predict_proba: more than all the rest of a one-row request. This applies
    the fitted numbers directly. `matrix` runs the operations sklearn runs, in
    its order, so its answers are the model's to the bit; `rows`, for a few
    rows, does the same arithmetic in plain Python (agreeing to ~1e-16).
    `make_scorer` checks both against the model before use.
    """

    def __init__(self, fill: np.ndarray, mean: np.ndarray | float, scale: np.ndarray | float,
                 coef: np.ndarray, intercept: np.ndarray, classes: np.ndarray) -> None:
        self.fill, self.mean, self.scale = fill, mean, scale
        self.coef_t, self.intercept, self.classes = coef.T, intercept, classes
        n = len(fill)
        # Per feature, as Python floats: (fill value, mean, scale, coefficient)
        self._terms = list(zip(fill.tolist(), np.broadcast_to(mean, n).tolist(),
                               np.broadcast_to(scale, n).tolist(), coef.ravel().tolist()))
        self._b = float(intercept[0])
        self._labels = classes.tolist()

    @classmethod
    def of(cls, model: Any) -> LinearScorer | None:
        """The scorer for `model`, or None if it is not the project's kind of pipeline."""
        from sklearn.impute import SimpleImputer
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import Pipeline
        from sklearn.preprocessing import StandardScaler

        if not isinstance(model, Pipeline):
            return None
        if [type(step) for _, step in model.steps] != [SimpleImputer, StandardScaler, LogisticRegression]:
            return None
        impute, scale, classify = (step for _, step in model.steps)
        fill = np.asarray(impute.statistics_, dtype="float64")
        nan_marker = isinstance(impute.missing_values, float) and math.isnan(impute.missing_values)
        if (impute.add_indicator or not nan_marker or np.isnan(fill).any()
                or len(classify.classes_) != 2 or classify.coef_.shape[0] != 1):
            return None
        return cls(fill, scale.mean_ if scale.with_mean else 0.0, scale.scale_ if scale.with_std else 1.0,
                   classify.coef_, classify.intercept_, classify.classes_)

    def matrix(self, x: np.ndarray) -> tuple[list[int], list[float]]:
        from scipy.special import expit

        z = (np.where(np.isnan(x), self.fill, x) - self.mean) / self.scale
        decision = (z @ self.coef_t + self.intercept).ravel()
        return self.classes[(decision > 0).astype(int)].tolist(), expit(decision).tolist()

    def rows(self, rows: Rows) -> tuple[list[int], list[float]]:
        if len(rows) > SMALL_BATCH:
            return self.matrix(np.array(rows, dtype="float64"))
        predicted, probability = [], []
        for row in rows:
            d = 0.0
            for value, (fill, mean, scale, coef) in zip(row, self._terms):
                d += ((fill if value != value else value) - mean) / scale * coef  # NaN != NaN
            d += self._b
            predicted.append(self._labels[d > 0])
            # expit as scipy computes it, without overflow for large |d|
            probability.append(1.0 / (1.0 + math.exp(-d)) if d >= 0 else math.exp(d) / (1.0 + math.exp(d)))
        return predicted, probability


Scorer = ModelScorer | LinearScorer


def _probe_rows(n_features: int) -> np.ndarray:
    """Rows to compare two scorers on: zeros, all missing, a wide range of sizes, some gaps."""
    rng = np.random.default_rng(0)
    rows = np.vstack([np.zeros(n_features), np.full(n_features, np.nan),
                      np.floor(rng.lognormal(4.0, 2.0, size=(62, n_features)))])
    rows[rng.random(rows.shape) < 0.1] = np.nan
    return rows


def make_scorer(model: Any) -> Scorer:
    """The fastest scorer that gives `model`'s own answers on probe rows."""
    exact = ModelScorer(model)
    fast = LinearScorer.of(model)
    if fast is None:
        return exact
    probe = _probe_rows(len(contract.FEATURES))
    want_class, want_p = exact.matrix(probe)
    for got_class, got_p in (fast.matrix(probe), fast.rows(probe[:SMALL_BATCH].tolist())):
        n = len(got_class)
        if got_class != want_class[:n] or not np.allclose(got_p, want_p[:n], rtol=0, atol=1e-12):
            log.warning("fast scoring differs from the model's own on probe rows; using the model's")
            return exact
    return fast


@dataclass(frozen=True)
class Served:
    """One verified deployment, swapped in whole so a request never mixes two."""
    model: Any
    manifest: dict[str, Any]
    scorer: Scorer

    @property
    def version(self) -> int:
        return int(self.manifest["version"])


class DeployedModel:
    """The deployed model as this process serves it: loaded once, reloaded when the deployment changes.

    The manifest is read at most every `check_every_s`; when its version (or
    release folder) differs from the one served, the new release is loaded and
    every file checked against the manifest's hashes. A release that fails the
    check is never served: the previous model stays in service and `error` says why.
    """

    def __init__(self, prod_path: Path, check_every_s: float = RELOAD_CHECK_S) -> None:
        self.prod_path = prod_path
        self.check_every_s = check_every_s
        self.served: Served | None = None
        self.error: str | None = None
        self._tried: tuple[Any, Any] | None = None
        self._checked_at = -math.inf
        # Flask's own server answers on threads; gunicorn's sync workers do not.
        self._lock = threading.Lock()

    def get(self) -> Served:
        """The model to answer with; 503 if none is deployed or none passed its hash check."""
        if time.monotonic() - self._checked_at >= self.check_every_s:
            self.refresh()
        served = self.served
        if served is None:
            raise ServiceUnavailable(self.error or "no model deployed yet (run deployment.py)")
        return served

    def refresh(self) -> None:
        """Load the current deployment if it is not the one served (or tried) already."""
        with self._lock:
            self._checked_at = time.monotonic()
            try:
                manifest = artifacts.read_manifest(self.prod_path)
            except artifacts.ArtifactError as exc:
                self._fail(f"deployment manifest unreadable: {exc}")
                return
            if manifest is None:
                self.served, self._tried = None, None
                self._fail(f"{self.prod_path}: no model deployed yet (run deployment.py)")
                return
            key = (manifest.get("version"), manifest.get("release_path"))
            if key == self._tried:
                return
            self._tried = key
            try:
                model, manifest = artifacts.load_deployed_model(self.prod_path)
                artifacts.verify_release(Path(manifest["release_path"]), manifest)
            except artifacts.ArtifactError as exc:
                self._fail(f"deployment v{key[0]} not served: {exc}")
                return
            except (KeyError, TypeError, ValueError) as exc:  # a manifest without its fields
                self._fail(f"deployment v{key[0]} not served: malformed manifest ({type(exc).__name__}: {exc})")
                return
            self.served = Served(model, manifest, make_scorer(model))
            self.error = None
            log.info("serving model v%s deployed %s", manifest["version"], manifest.get("deployed_at"))

    def _fail(self, message: str) -> None:
        if message != self.error:  # once per problem, not once per request
            log.error("%s", message)
        self.error = message


@dataclass
class Service:
    """What the views need: the config, the served model, the token (None: no auth)."""
    cfg: config.Config
    model: DeployedModel
    token: str | None


# --- reading requests ----------------------------------------------------------

def resolve_data_path(cfg: config.Config, raw: object) -> Path:
    """The CSV file a client named, if it lies inside a configured data folder.

    Relative paths resolve against the config file's folder. Symlinks are
    followed before the check, so a link pointing out of the folders is refused
    like `../` or an absolute path elsewhere (403); nothing outside is ever opened.
    """
    if not isinstance(raw, str) or not raw.strip():
        raise BadRequest("'filepath' must be a non-empty string")
    if "\x00" in raw:
        raise BadRequest("'filepath' must not contain NUL characters")
    shown = raw.strip()
    path = Path(shown)
    if not path.is_absolute():
        path = cfg.path.parent / path
    try:
        resolved = path.resolve()
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop
        raise BadRequest(f"'filepath' {shown!r} cannot be resolved ({exc})") from None
    folders = (cfg.input_folder_path, cfg.output_folder_path, cfg.test_data_path)
    if not any(resolved.is_relative_to(folder) for folder in folders):
        raise Forbidden(f"'filepath' {shown!r} is outside the project's data folders")
    if resolved.suffix.lower() != ".csv":
        raise BadRequest(f"'filepath' {shown!r} is not a .csv file")
    try:
        found = resolved.is_file()
    except OSError:
        found = False
    if not found:
        raise NotFound(f"'filepath' {shown!r}: file not found")
    return resolved


def _feature(value: object, row: int, name: str) -> float:
    if value is None:
        return math.nan
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if isinstance(value, int) and 0 <= value <= MAX_FEATURE:
            return float(value)
        if isinstance(value, float) and 0 <= value <= MAX_FEATURE and value.is_integer():
            return value
    shown = json.dumps(value)
    shown = shown if len(shown) <= 40 else shown[:37] + "..."
    raise BadRequest(f"records[{row}].{name} must be a whole number >= 0 or null, got {shown}")


def records_rows(records: object) -> Rows:
    """The feature values of JSON records, checked by the contract's rules without a DataFrame."""
    if not isinstance(records, list) or not records:
        raise BadRequest("'records' must be a non-empty list of objects")
    rows = []
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            raise BadRequest(f"records[{i}] must be an object")
        row = []
        for name in contract.FEATURES:
            if name not in record:
                raise BadRequest(f"records[{i}] is missing feature '{name}'")
            row.append(_feature(record[name], i, name))
        rows.append(row)
    return rows


def csv_frame(data: bytes, cfg: config.Config) -> pd.DataFrame:
    """A contract-valid frame from CSV bytes sent as the request body."""
    try:
        return contract.parse_csv(data, "request body", require_target=False)
    except contract.DataError as exc:
        raise BadRequest(str(exc)) from None


def file_frame(cfg: config.Config, raw: object) -> pd.DataFrame:
    """A contract-valid frame from a CSV file named by the client."""
    path = resolve_data_path(cfg, raw)
    try:
        return contract.read_csv(path, require_target=False)
    except contract.DataError as exc:
        raise BadRequest(public_message(str(exc), cfg)) from None


def _json_body(req: Request) -> Any:
    try:
        return json.loads(req.get_data())
    except (ValueError, RecursionError):  # ValueError covers bad UTF-8 too
        raise BadRequest("request body is not valid JSON") from None


def prediction_features(req: Request, cfg: config.Config) -> Rows | np.ndarray:
    """The features a /prediction request asks about (rows for JSON records, else a matrix).

    Accepted: `filepath` in a JSON body, a form field or the query string;
    `{"records": [...]}` as JSON; a CSV body (text/csv). Exactly one of them.
    """
    mimetype = req.mimetype
    given: list[tuple[str, object]] = []
    if not req.get_data().strip():
        pass  # no body, whatever the Content-Type says: a GET with ?filepath= and a JSON header
    elif mimetype == "application/json" or mimetype.endswith("+json"):
        body = _json_body(req)
        if not isinstance(body, dict):
            raise BadRequest("JSON body must be an object with 'records' or 'filepath'")
        unknown = sorted(set(body) - {"records", "filepath"})
        if unknown:
            raise BadRequest(f"unknown key '{unknown[0]}' in JSON body (expected 'records' or 'filepath')")
        given += list(body.items())
    elif mimetype in CSV_TYPES:
        given.append(("csv", req.get_data()))
    elif mimetype in FORM_TYPES:
        if "filepath" in req.form:  # werkzeug parses the form from the data read above
            given.append(("filepath", req.form["filepath"]))
    else:
        raise UnsupportedMediaType(
            f"unsupported Content-Type '{mimetype or 'none'}': send application/json, text/csv or a form"
        )
    if "filepath" in req.args:
        given.append(("filepath", req.args["filepath"]))

    if not given:
        raise BadRequest("no input: send 'filepath', {\"records\": [...]} or a CSV body")
    if len(given) > 1:
        raise BadRequest(f"send one input, got {' and '.join(repr(k) for k, _ in given)}")
    kind, value = given[0]
    if kind == "records":
        return records_rows(value)
    frame = csv_frame(value, cfg) if kind == "csv" else file_frame(cfg, value)
    return contract.feature_matrix(frame)


def _flag(name: str) -> bool:
    value = request.args.get(name, "0")
    if value not in FLAG_VALUES:
        raise BadRequest(f"'{name}' must be 1 or 0")
    return value in ("1", "true")


def _positive_int(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        raise BadRequest(f"'{name}' must be a whole number from 1 up, got {raw[:20]!r}")
    return value


# --- writing responses ---------------------------------------------------------

def public_message(message: str, cfg: config.Config) -> str:
    """`message` with the project folder left out of its paths: clients need not see the server's layout."""
    return message.replace(f"{cfg.path.parent}{os.sep}", "")


def _relative(path: Path, cfg: config.Config) -> str:
    return public_message(str(path), cfg)


def _finite(value: Any, cfg: config.Config | None = None) -> Any:
    """`value` with NaN and infinities as None (JSON has none), and project paths relative if `cfg`."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, str) and cfg is not None:
        return public_message(value, cfg)
    if isinstance(value, dict):
        return {k: _finite(v, cfg) for k, v in value.items()}
    if isinstance(value, list):
        return [_finite(v, cfg) for v in value]
    return value


def _server_csv(path: Path, what: str, step: str, cfg: config.Config, **kw: Any) -> pd.DataFrame:
    if not path.is_file():
        raise NotFound(f"{what} not found: {_relative(path, cfg)} (run {step})")
    return contract.read_csv(path, **kw)


# --- views ---------------------------------------------------------------------

# Each view takes the app's Service first (bound with functools.partial in
# create_app): no lookups through Flask's context-local proxies, which cost
# microseconds each on the path every prediction takes.

def prediction(svc: Service) -> Response:
    """Predicted exit and attrition probability per row of the input, in order."""
    x = prediction_features(request, svc.cfg)
    served = svc.model.get()
    score = served.scorer.rows if isinstance(x, list) else served.scorer.matrix
    predicted, probability = score(x)
    # json.dumps directly: jsonify's provider machinery costs more than the prediction.
    body = json.dumps({"model_version": served.version, "predictions": predicted,
                       "probabilities": probability, "rows": len(x)}, separators=(",", ":"))
    return Response(body, mimetype="application/json")


def scoring_view(svc: Service) -> Response:
    """F1 of the deployed model on the test data, computed now in this process."""
    served = svc.model.get()
    frame = _server_csv(svc.cfg.test_data_file, "test data", "the data generator", svc.cfg)
    return jsonify(
        f1=scoring.f1_of(served.model, frame),
        model_version=served.version,
        deployed_score=served.manifest.get("score"),
        rows=len(frame),
        source=_relative(svc.cfg.test_data_file, svc.cfg),
    )


def summarystats(svc: Service) -> Response:
    """Mean, median and standard deviation of each numeric column of the ingested data."""
    cfg = svc.cfg
    frame = _server_csv(cfg.finaldata_path, "ingested data", "ingestion.py", cfg)
    return jsonify(
        source=_relative(cfg.finaldata_path, cfg),
        rows=len(frame),
        statistics=_finite(diagnostics.summary_statistics(frame)),
    )


def diagnostics_view(svc: Service) -> Response:
    """The latest recorded diagnostics run (fast); `?refresh=1` runs them all again (seconds)."""
    cfg = svc.cfg
    refresh = _flag("refresh")
    payload = None if refresh else diagnostics.latest_diagnostics(cfg)
    source = "recorded"
    if payload is None:
        log.info("running diagnostics (%s)", "refresh asked" if refresh else "none recorded yet")
        payload = diagnostics.run_all(cfg)
        source = "computed"
    return jsonify(source=source, diagnostics=_finite(payload, cfg))


def health(svc: Service) -> tuple[Response, int]:
    """Status, served model version and deployment time; 503 while no model can be served."""
    model = svc.model
    try:
        served = model.get()
    except ServiceUnavailable as exc:
        body = {"status": "unavailable", "model_version": None, "deployed_at": None,
                "score": None, "error": public_message(exc.description, svc.cfg)}
        return jsonify(body), 503
    body = {"status": "ok" if model.error is None else "degraded",
            "model_version": served.version, "deployed_at": served.manifest.get("deployed_at"),
            "score": served.manifest.get("score")}
    if model.error is not None:
        body["error"] = public_message(model.error, svc.cfg)
    return jsonify(body), 200


def risk(svc: Service) -> Response:
    """The `top` clients of the latest ingested data with the highest attrition probability."""
    top = _positive_int("top", DEFAULT_TOP)
    served = svc.model.get()
    frame = _server_csv(svc.cfg.finaldata_path, "ingested data", "ingestion.py", svc.cfg,
                        require_target=False)
    ranked = diagnostics.ranked_clients(served.model, frame).head(top)
    return jsonify(
        model_version=served.version,
        source=_relative(svc.cfg.finaldata_path, svc.cfg),
        top=len(ranked),
        clients=_finite(ranked.to_dict(orient="records")),
    )


def openapi(svc: Service) -> Response:
    return jsonify(openapi_document())


# --- hooks and errors ------------------------------------------------------------

def check_token(svc: Service) -> None:
    """Refuse a request without the right bearer token, when a token is configured."""
    token = svc.token
    if token is None or request.method == "OPTIONS" or request.path in OPEN_ENDPOINTS:
        return
    if request.blueprint == "page":  # the managers' page: its own login (page.py)
        return
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a header may hold them.
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8")
    ):
        raise Unauthorized(f"missing or wrong bearer token (set by {TOKEN_ENV})")


def http_error(svc: Service, exc: HTTPException) -> Response:
    """Any HTTP error as JSON, keeping its status and headers (Allow on 405)."""
    message = public_message(exc.description or exc.name, svc.cfg)
    if isinstance(exc, NotFound) and message == NotFound.description:
        message = f"no such endpoint: {request.path}"
    elif isinstance(exc, MethodNotAllowed):
        message = f"method {request.method} not allowed on {request.path}"
    elif isinstance(exc, RequestEntityTooLarge):
        message = f"request body over the {current_app.config['MAX_CONTENT_LENGTH']}-byte limit"
    response = exc.get_response()
    response.set_data(json.dumps({"error": message}))
    response.mimetype = "application/json"
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def step_error(svc: Service, exc: StepError) -> tuple[Response, int]:
    """A pipeline step's error while answering (bad data on the server side): its one-line message."""
    log.error("%s %s failed: %s", request.method, request.path, exc, exc_info=True)
    return jsonify(error=public_message(str(exc), svc.cfg)), 500


def internal_error(exc: Exception) -> tuple[Response, int]:
    log.error("%s %s failed", request.method, request.path, exc_info=exc)
    return jsonify(error="internal error"), 500


# --- the application ---------------------------------------------------------------

def config_path_or_default(config_path: str | Path | None = None) -> Path:
    """`config_path`, else the path in $RISK_CONFIG, else config.json beside the scripts."""
    if config_path is not None:
        return Path(config_path)
    return Path(os.environ.get(CONFIG_ENV) or config.DEFAULT_CONFIG)


def create_app(config_path: str | Path | None = None, *, reload_check_s: float = RELOAD_CHECK_S) -> Flask:
    """The risk API for the project of `config_path` (default: $RISK_CONFIG, else config.json here)."""
    cfg = config.load(config_path_or_default(config_path))
    app = Flask(__name__, static_folder=None)  # an API: no /static route
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY_BYTES  # one limit, not werkzeug's 500 kB for forms
    token = os.environ.get(TOKEN_ENV) or None
    model = DeployedModel(cfg.prod_deployment_path, reload_check_s)
    model.refresh()  # load now, so the first request doesn't pay for it
    svc = Service(cfg, model, token)
    app.extensions["risk"] = svc  # for tests and tools: the app's own model and config

    for rule, endpoint, view, methods in (
        ("/prediction", "prediction", prediction, ["GET", "POST"]),
        ("/scoring", "scoring", scoring_view, ["GET"]),
        ("/summarystats", "summarystats", summarystats, ["GET"]),
        ("/diagnostics", "diagnostics", diagnostics_view, ["GET"]),
        ("/health", "health", health, ["GET"]),
        ("/risk", "risk", risk, ["GET"]),
        ("/openapi.json", "openapi", openapi, ["GET"]),
    ):
        app.add_url_rule(rule, endpoint, view_func=partial(view, svc), methods=methods)

    app.register_blueprint(page.bp)
    app.before_request(partial(check_token, svc))
    app.register_error_handler(HTTPException, partial(http_error, svc))
    app.register_error_handler(StepError, partial(step_error, svc))
    app.register_error_handler(Exception, internal_error)
    log.info("risk API for %s (auth %s)", cfg.path, "on" if token else "off")
    return app


# --- the OpenAPI document ------------------------------------------------------------

def _error_responses(*codes: int) -> dict[str, Any]:
    reasons = {
        400: "Bad request: the message says what is wrong",
        401: f"Missing or wrong bearer token (only when {TOKEN_ENV} is set)",
        403: "The file is outside the project's data folders",
        404: "File not found",
        413: "Request body over the 10 MB limit",
        415: "Unsupported Content-Type",
        500: "A server-side file is broken",
        503: "No model deployed yet, or none passed its hash check",
    }
    error = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    return {str(c): {"description": reasons[c], "content": error} for c in codes}


def _ok(schema: str, description: str) -> dict[str, Any]:
    return {"200": {"description": description,
                    "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}}}}}


def _number(nullable: bool = False, **kw: Any) -> dict[str, Any]:
    return {"type": "number", **({"nullable": True} if nullable else {}), **kw}


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.0 description of every endpoint, request and response."""
    feature = {"type": "integer", "minimum": 0, "maximum": MAX_FEATURE, "nullable": True}
    record = {
        "type": "object",
        "description": "One client; other keys (corporation, exited) are ignored.",
        "required": list(contract.FEATURES),
        "properties": {name: feature for name in contract.FEATURES},
    }
    # What the server accepts: a .csv path without NUL characters. Where it
    # points (outside the data folders: 403; missing: 404) no schema can say.
    filepath = {"type": "string", "pattern": FILEPATH_PATTERN, "example": "testdata/testdata.csv",
                "description": "A CSV file inside the project's data folders "
                               "(relative paths start at config.json's folder)"}
    filepath_query = {"name": "filepath", "in": "query", "required": True, "schema": filepath}
    stat = {"type": "object", "required": ["mean", "median", "std"],
            "properties": {k: _number(nullable=True) for k in ("mean", "median", "std")}}
    schemas = {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "Record": record,
        "FilepathRequest": {
            "type": "object", "required": ["filepath"], "additionalProperties": False,
            "properties": {"filepath": filepath},
        },
        "RecordsRequest": {
            "type": "object", "required": ["records"], "additionalProperties": False,
            "properties": {"records": {"type": "array", "minItems": 1,
                                       "items": {"$ref": "#/components/schemas/Record"}}},
        },
        "Prediction": {
            "type": "object", "required": ["model_version", "predictions", "probabilities", "rows"],
            "properties": {
                "model_version": {"type": "integer"},
                "predictions": {"type": "array", "items": {"type": "integer", "enum": [0, 1]}},
                "probabilities": {"type": "array", "items": _number(minimum=0, maximum=1)},
                "rows": {"type": "integer"},
            },
        },
        "Score": {
            "type": "object", "required": ["f1", "model_version", "rows"],
            "properties": {"f1": _number(minimum=0, maximum=1), "model_version": {"type": "integer"},
                           "deployed_score": _number(nullable=True), "rows": {"type": "integer"},
                           "source": {"type": "string"}},
        },
        "SummaryStats": {
            "type": "object", "required": ["statistics", "rows"],
            "properties": {"source": {"type": "string"}, "rows": {"type": "integer"},
                           "statistics": {"type": "object", "additionalProperties": stat}},
        },
        "Diagnostics": {
            "type": "object", "required": ["source", "diagnostics"],
            "properties": {"source": {"type": "string", "enum": ["recorded", "computed"]},
                           "diagnostics": {"type": "object",
                                           "description": "timings, missing data percent, dependency check"}},
        },
        "Health": {
            "type": "object", "required": ["status", "model_version", "deployed_at"],
            "properties": {"status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
                           "model_version": {"type": "integer", "nullable": True},
                           "deployed_at": {"type": "string", "nullable": True},
                           "score": _number(nullable=True), "error": {"type": "string"}},
        },
        "RankedClient": {
            "type": "object",
            "required": ["rank", "corporation", "attrition_probability", "predicted_exit"],
            "properties": {"rank": {"type": "integer", "minimum": 1}, "corporation": {"type": "string"},
                           "attrition_probability": _number(minimum=0, maximum=1),
                           "predicted_exit": {"type": "integer", "enum": [0, 1]},
                           **{name: _number(nullable=True) for name in contract.FEATURES}},
        },
        "Risk": {
            "type": "object", "required": ["model_version", "top", "clients"],
            "properties": {"model_version": {"type": "integer"}, "source": {"type": "string"},
                           "top": {"type": "integer"},
                           "clients": {"type": "array", "items": {"$ref": "#/components/schemas/RankedClient"}}},
        },
    }
    prediction_errors = _error_responses(400, 401, 403, 404, 413, 415, 503)
    paths = {
        "/prediction": {
            "post": {
                "summary": "Predictions of the deployed model, one per row, in order",
                "description": "Send one input: a file path (JSON or form), JSON records, or a CSV body. "
                               "For course clients, `?filepath=` on the query string with no body works too.",
                "requestBody": {"required": True, "content": {
                    "application/json": {"schema": {"oneOf": [
                        {"$ref": "#/components/schemas/FilepathRequest"},
                        {"$ref": "#/components/schemas/RecordsRequest"},
                    ]}},
                    "application/x-www-form-urlencoded": {"schema": {
                        "type": "object", "required": ["filepath"], "properties": {"filepath": filepath}}},
                    "text/csv": {"schema": {"type": "string",
                                            "description": "A client CSV: corporation and the three features"}},
                }},
                "responses": {**_ok("Prediction", "One prediction and probability per row"),
                              **prediction_errors},
            },
            "get": {
                "summary": "Predictions for a CSV file named in the query string",
                "parameters": [filepath_query],
                "responses": {**_ok("Prediction", "One prediction and probability per row"),
                              **prediction_errors},
            },
        },
        "/scoring": {"get": {
            "summary": "F1 of the deployed model on the test data, computed now",
            "responses": {**_ok("Score", "F1 score"), **_error_responses(401, 404, 500, 503)},
        }},
        "/summarystats": {"get": {
            "summary": "Mean, median and standard deviation per numeric column of the ingested data",
            "responses": {**_ok("SummaryStats", "Statistics"), **_error_responses(401, 404, 500)},
        }},
        "/diagnostics": {"get": {
            "summary": "Timings, missing data and dependency check of the latest diagnostics run",
            "parameters": [{"name": "refresh", "in": "query", "description": "1: run the diagnostics now (seconds)",
                            "schema": {"type": "string", "enum": list(FLAG_VALUES)}}],
            "responses": {**_ok("Diagnostics", "Diagnostics"), **_error_responses(400, 401, 500)},
        }},
        "/health": {"get": {
            "summary": "Status, served model version and deployment time (no token needed)",
            "security": [],
            "responses": {**_ok("Health", "A model is served"),
                          "503": {"description": "No model can be served", "content": {
                              "application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}},
        }},
        "/risk": {"get": {
            "summary": "The clients of the latest ingested data with the highest attrition risk",
            "parameters": [{"name": "top", "in": "query", "description": f"How many (default {DEFAULT_TOP})",
                            "schema": {"type": "integer", "minimum": 1}}],
            "responses": {**_ok("Risk", "Clients, highest risk first"),
                          **_error_responses(400, 401, 404, 500, 503)},
        }},
        "/openapi.json": {"get": {
            "summary": "This document",
            "responses": {"200": {"description": "OpenAPI 3 document",
                                  "content": {"application/json": {"schema": {"type": "object"}}}},
                          **_error_responses(401)},
        }},
    }
    return {
        "openapi": "3.0.3",
        "info": {"title": "Client attrition risk API", "version": "1.0",
                 "description": f"Bearer token required on every endpoint but /health when {TOKEN_ENV} is set."},
        "paths": paths,
        "components": {"schemas": schemas,
                       "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer"}}},
        "security": [{}, {"bearerAuth": []}],
    }


# --- local use ---------------------------------------------------------------------

def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = cli.parser(__doc__)
    p.add_argument("--host", help="address to listen on (default: api_host of the config, 127.0.0.1)")
    p.add_argument("--port", type=int, choices=range(1, 65536), metavar="N",
                   help="port (default: api_port of the config, 8000)")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        cfg = config.load(args.config)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)  # no log file yet
        return 2
    cli.setup_logging(cfg.log_folder, long_running=True)
    app = create_app(cfg.path)
    try:
        # Flask's own server, for local use only: debug off, no reloader.
        app.run(host=args.host or cfg.api_host, port=args.port or cfg.api_port,
                debug=False, use_reloader=False, load_dotenv=False)
    except OSError as exc:
        log.error("cannot serve on %s:%s: %s", args.host or cfg.api_host, args.port or cfg.api_port,
                  exc.strerror or exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
