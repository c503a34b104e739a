"""The risk API's shared facts and its OpenAPI document.

The names and limits that the server (app.py), its callers (apicalls.py) and
the benchmarks share are spelled here once: the environment variables, the
body limit, the keys a client may name a file by, the deployment's identity
and where the bearer token comes from. Standard library only at import, so
apicalls.py imports this without the data libraries.

`openapi_document(app)` builds the OpenAPI 3 document with apispec from the
app itself: one path per route, one operation per method, each described by
the YAML after `---` in its view's docstring, sharing the schemas below.
"""
from __future__ import annotations

import hashlib
import os
import stat
from pathlib import Path
from typing import TYPE_CHECKING, Any

from risk.errors import StepError

if TYPE_CHECKING:
    from flask import Flask

    from risk import config

TOKEN_ENV = "RISK_API_TOKEN"   # the bearer token, when set; else the config's api_token_file
CONFIG_ENV = "RISK_CONFIG"     # the config the server (wsgi.py) loads, else config.json
# A WSGI environ key only an in-process caller (apicalls.in_process_sender) can set: HTTP
# headers arrive as HTTP_* keys, so no remote client can claim to be the main job.
IN_PROCESS = "risk.in_process"
MAX_BODY_BYTES = 10 * 1024 * 1024
# The keys course clients name a CSV file by, in JSON, form and query alike.
PATH_KEYS = ("filepath", "data_path", "dataset_path", "file_path", "filename")
DEFAULT_TOP = 10
FLAG_VALUES = ("0", "1", "true", "false")
FILEPATH_PATTERN = r"^[^\u0000]*\.[cC][sS][vV]\s*$"


class TokenFileError(StepError):
    """The configured token file is missing, unreadable, empty or readable by others."""


def deployment_id(prod_path: Path) -> str:
    """The identity a server proves it serves this deployment with: a hash of its resolved folder.

    A hash, not the path: clients need not learn the server's layout.
    """
    return hashlib.sha256(str(Path(prod_path).resolve()).encode()).hexdigest()[:16]


def read_token_file(path: Path) -> str:
    """The token in `path`, refused unless only its owner can read it."""
    try:
        with open(path, "rb") as f:
            mode = os.fstat(f.fileno()).st_mode
            data = f.read(4096)
    except OSError as exc:
        raise TokenFileError(f"{path}: cannot read the API token file ({exc.strerror})") from None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise TokenFileError(f"{path}: the API token file is readable by others "
                             f"(mode {stat.S_IMODE(mode):o}); run: chmod 600 {path}")
    token = data.decode("utf-8", "replace").strip()
    if not token:
        raise TokenFileError(f"{path}: the API token file is empty")
    return token


def api_token(cfg: config.Config) -> str | None:
    """The bearer token: $RISK_API_TOKEN if set, else the config's api_token_file, else None (no auth)."""
    token = os.environ.get(TOKEN_ENV)
    if token:
        return token
    return read_token_file(cfg.api_token_file) if cfg.api_token_file is not None else None


# --- the OpenAPI document ----------------------------------------------------------

def _number(nullable: bool = False, **kw: Any) -> dict[str, Any]:
    return {"type": "number", **({"nullable": True} if nullable else {}), **kw}


def _schemas() -> dict[str, dict[str, Any]]:
    from risk.data import contract  # pandas: only the server builds the document

    feature = {"type": "integer", "minimum": 0, "maximum": contract.MAX_FEATURE, "nullable": True}
    # What the server accepts: a .csv path without NUL characters. Where it
    # points (outside the data folders: 403; missing: 404) no schema can say.
    filepath = {"type": "string", "pattern": FILEPATH_PATTERN, "example": "testdata/testdata.csv",
                "description": "A CSV file inside the project's data folders "
                               "(relative paths start at config.json's folder)"}
    stat_ = {"type": "object", "required": ["mean", "median", "std"],
             "properties": {k: _number(nullable=True) for k in ("mean", "median", "std")}}
    return {
        "Error": {"type": "object", "required": ["error"], "properties": {"error": {"type": "string"}}},
        "Record": {"type": "object", "description": "One client; other keys (corporation, exited) are ignored.",
                   "required": list(contract.FEATURES),
                   "properties": {name: feature for name in contract.FEATURES}},
        "FilepathRequest": {
            "type": "object", "additionalProperties": False, "minProperties": 1, "maxProperties": 1,
            "description": f"One of the keys {', '.join(PATH_KEYS)}: course clients use each",
            "properties": {key: filepath for key in PATH_KEYS},
        },
        "RecordsRequest": {
            "type": "object", "required": ["records"], "additionalProperties": False,
            "properties": {"records": {"type": "array", "minItems": 1, "items": {"$ref": "#/components/schemas/Record"}}},
        },
        "CsvUpload": {"type": "object", "required": ["file"], "additionalProperties": False,
                      "properties": {"file": {"type": "string", "format": "binary",
                                              "description": "A client CSV file"}}},
        "Prediction": {
            "type": "object", "required": ["model_version", "predictions", "probabilities", "rows"],
            "properties": {"model_version": {"type": "integer"},
                           "predictions": {"type": "array", "items": {"type": "integer", "enum": [0, 1]}},
                           "probabilities": {"type": "array", "items": _number(minimum=0, maximum=1)},
                           "rows": {"type": "integer"}},
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
                           "statistics": {"type": "object", "additionalProperties": stat_}},
        },
        "Diagnostics": {
            "type": "object", "required": ["source", "diagnostics"],
            "properties": {"source": {"type": "string", "enum": ["recorded"]},
                           "note": {"type": "string"},
                           "diagnostics": {"type": "object",
                                           "description": "timings, missing data percent, dependency check"}},
        },
        "Health": {
            "type": "object", "required": ["status", "model_version", "deployed_at", "deployment"],
            "properties": {"status": {"type": "string", "enum": ["ok", "degraded", "unavailable"]},
                           "model_version": {"type": "integer", "nullable": True},
                           "deployed_at": {"type": "string", "nullable": True},
                           "score": _number(nullable=True),
                           "deployment": {"type": "string", "description": "this deployment's identity"},
                           "model_sha256": {"type": "string", "nullable": True},
                           "error": {"type": "string"}},
        },
        "RankedClient": {
            "type": "object",
            "required": ["rank", "corporation", "risk_percent", "band", "reasons", "change", "probability"],
            "properties": {"rank": {"type": "integer", "minimum": 1}, "corporation": {"type": "string"},
                           "risk_percent": {"type": "integer", "minimum": 0, "maximum": 100},
                           "band": {"type": "string", "enum": ["high", "elevated", "moderate", "low"]},
                           "reasons": {"type": "array", "items": {"type": "string"}},
                           "change": {"type": "string", "enum": ["", "new", "up", "down"],
                                      "description": "since the previous list: new to the top N, band up or down"},
                           "previous_rank": {"type": "integer", "nullable": True,
                                             "description": "rank on the previous list (null: not on it)"},
                           "previous_risk_percent": {"type": "integer", "nullable": True,
                                                     "description": "risk in percent on the previous list"},
                           "moved_because": {"type": "string",
                                             "description": "why a new model moved the client, in words "
                                                            "(empty: the model did not change, or it did not move)"},
                           "probability": _number(minimum=0, maximum=1),
                           **{name: _number(nullable=True) for name in contract.FEATURES}},
        },
        "Risk": {
            "type": "object", "required": ["model_version", "published_at", "top", "clients"],
            "properties": {"model_version": {"type": "integer"}, "published_at": {"type": "string"},
                           "clients_total": {"type": "integer"}, "band": {"type": "string", "nullable": True},
                           "bands": {"type": "object", "additionalProperties": {"type": "integer"}},
                           "left_count": {"type": "integer"},
                           "left_since_previous": {"type": "array", "items": {"type": "string"}},
                           "new_to_top": {"type": "array", "items": {"type": "string"}},
                           "quality": {"type": "object"},
                           "top": {"type": "integer"},
                           "clients": {"type": "array", "items": {"$ref": "#/components/schemas/RankedClient"}}},
        },
    }


# Error responses views name in their docstrings (`401: Unauthorized`).
ERRORS = {
    "BadRequest": "Bad request: the message says what is wrong",
    "Unauthorized": "Missing or wrong bearer token (reading: only once a service token or the old "
                    f"{TOKEN_ENV} / api_token_file exists; recording actions: always)",
    "Forbidden": "The file is outside the project's data folders",
    "NotFound": "File not found",
    "TooLarge": f"Request body over the {MAX_BODY_BYTES // (1024 * 1024)} MB limit",
    "UnsupportedMediaType": "Unsupported Content-Type",
    "ServerFileBroken": "A server-side file is broken",
    "Unavailable": "No model deployed yet, or none passed its hash check",
}


def openapi_document(app: Flask, schemas: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """The OpenAPI 3.0 document of every route of `app` that has an operation in its view's docstring;
    `schemas` adds components the views name (the actions API's)."""
    from apispec import APISpec
    from apispec.yaml_utils import load_operations_from_docstring

    spec = APISpec(
        title="Client attrition risk API", version="1.0", openapi_version="3.0.3",
        info={"description": "Bearer token required on every endpoint but /health and the docs once "
                             "a user or a service token exists (python users.py token add NAME --scope "
                             f"read|write-actions; the old {TOKEN_ENV} / api_token_file still works, "
                             "deprecated). POST /actions always needs a write-actions token. "
                             "Interactive page: /docs"},
        security=[{}, {"bearerAuth": []}],
    )
    for name, schema in {**_schemas(), **(schemas or {})}.items():
        spec.components.schema(name, schema)
    for name, description in ERRORS.items():
        spec.components.response(name, {"description": description,
                                        "content": {"application/json": {"schema": "Error"}}})
    spec.components.security_scheme("bearerAuth", {"type": "http", "scheme": "bearer"})
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        view = app.view_functions[rule.endpoint]
        operations = load_operations_from_docstring(getattr(view, "func", view).__doc__ or "")
        operations = {method: op for method, op in operations.items()
                      if method.upper() in (rule.methods or ())}
        if operations:
            spec.path(path=rule.rule, operations=operations)
    return spec.to_dict()
