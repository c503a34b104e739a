"""The risk API: predictions, scores, statistics and diagnostics of the deployed model, as JSON.

The work of `app.py` (its command line lives there).

Over 450 lines because each view's docstring holds its OpenAPI operation (~120
lines of YAML): the document is generated from the code that serves it.
"""
from __future__ import annotations

import hmac
import json
import logging
import os
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import pandas as pd
from flask import (
    Blueprint,
    Flask,
    Request,
    Response,
    g,
    jsonify,
    redirect,
    request,
    url_for,
)
from werkzeug.exceptions import (
    BadRequest,
    Forbidden,
    HTTPException,
    MethodNotAllowed,
    NotFound,
    RequestEntityTooLarge,
    Unauthorized,
)

from risk import artifacts, config
from risk.data import contract
from risk.errors import StepError
from risk.model import scoring
from risk.reports import diagnostics
from risk.serving import (
    accounts,
    actions,
    api_input,
    api_spec,
    metrics,
    operator,
    page,
    serving,
)
from risk.serving.api_input import (  # noqa: F401 (NO_INPUT: tests)
    NO_INPUT,
    public_message,
)
from risk.serving.api_spec import (  # noqa: F401 (tests, tools)
    CONFIG_ENV,
    MAX_BODY_BYTES,
    PATH_KEYS,
    TOKEN_ENV,
)

log = logging.getLogger("app")

OPEN_PATHS = ("/health", "/openapi.json")  # besides the docs page and the managers' page
UNAUTHORIZED = "missing or wrong bearer token (a service token from users.py token add)"
WRITE_ENDPOINTS = ("post_action",)


# --- reading requests (the /prediction input: api_input.py) ---------------------

@dataclass
class Service:
    """What the views need: the config, the served model, the old shared token (None: none)
    and the accounts (who is asking: service tokens, users, sessions)."""
    cfg: config.Config
    model: serving.DeployedModel
    token: str | None
    accounts: accounts.Accounts


def _flag(name: str) -> bool:
    value = request.args.get(name, "0")
    if value not in api_spec.FLAG_VALUES:
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

def _public(value: Any, cfg: config.Config) -> Any:
    """`value` JSON-safe (NaN as null) with project paths relative."""
    if isinstance(value, str):
        return public_message(value, cfg)
    if isinstance(value, dict):
        return {k: _public(v, cfg) for k, v in value.items()}
    if isinstance(value, list):
        return [_public(v, cfg) for v in value]
    return artifacts.json_safe(value)


def _server_csv(path: Path, what: str, step: str, cfg: config.Config, **kw: Any) -> pd.DataFrame:
    if not path.is_file():
        raise NotFound(f"{what} not found: {public_message(str(path), cfg)} (run {step})")
    return contract.read_csv(path, **kw)


def call_list(cfg: config.Config) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The published call list (scoring.publish_call_list): the one place /risk gets it from."""
    try:
        return scoring.read_call_list(cfg)
    except scoring.CallListMissing:
        raise NotFound("no call list published yet (run fullprocess.py or scoring.py --call-list)") from None


# --- views ---------------------------------------------------------------------
# Each view takes the app's Service first (bound with functools.partial in
# create_app). The YAML after `---` in its docstring is its OpenAPI operation.

def prediction(svc: Service) -> Response:
    """Predicted exit and attrition probability per row of the input, in order.
    ---
    post:
      summary: Predictions of the deployed model, one per row, in order
      description: >-
        Send one input: a file path (JSON or form; keys filepath, data_path, dataset_path,
        file_path or filename), JSON records, a CSV body or a CSV file uploaded as multipart
        form data. For course clients, `?filepath=` on the query string with no body works too.
      requestBody:
        required: true
        content:
          application/json:
            schema:
              oneOf: [{$ref: '#/components/schemas/FilepathRequest'}, {$ref: '#/components/schemas/RecordsRequest'}]
          application/x-www-form-urlencoded:
            schema: FilepathRequest
          multipart/form-data:
            schema: CsvUpload
          text/csv:
            schema: {type: string, description: 'A client CSV: corporation and the three features'}
      responses:
        200: {description: One prediction and probability per row, content: {application/json: {schema: Prediction}}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
        413: TooLarge
        415: UnsupportedMediaType
        503: Unavailable
    get:
      summary: Predictions for a CSV file named in the query string
      description: The other path keys (data_path, dataset_path, file_path, filename) work too.
      parameters:
      - {name: filepath, in: query, required: true, schema: {type: string, pattern: '^[^\\u0000]*\\.[cC][sS][vV]\\s*$'}}
      responses:
        200: {description: One prediction and probability per row, content: {application/json: {schema: Prediction}}}
        400: BadRequest
        401: Unauthorized
        403: Forbidden
        404: NotFound
        503: Unavailable
    """
    x = api_input.prediction_features(request, svc.cfg)
    served = svc.model.get()
    predicted, probability = serving.predict(served.model, x)
    # json.dumps directly: jsonify's provider machinery costs more than the prediction.
    body = json.dumps({"model_version": served.version, "predictions": predicted,
                       "probabilities": probability, "rows": len(x)}, separators=(",", ":"))
    return Response(body, mimetype="application/json")


def scoring_view(svc: Service) -> Response:
    """F1 of the deployed model on the test data, computed now in this process.
    ---
    get:
      summary: F1 of the deployed model on the test data, computed now
      responses:
        200: {description: F1 score, content: {application/json: {schema: Score}}}
        401: Unauthorized
        404: NotFound
        500: ServerFileBroken
        503: Unavailable
    """
    served = svc.model.get()
    cfg = svc.cfg
    frame = _server_csv(cfg.test_data_file, "test data", "the data generator", cfg)
    return jsonify(f1=scoring.f1_of(served.model, frame), model_version=served.version,
                   deployed_score=served.manifest.get("score"), rows=len(frame),
                   source=public_message(str(cfg.test_data_file), cfg))


def summarystats(svc: Service) -> Response:
    """Mean, median and standard deviation of each numeric column of the ingested data.
    ---
    get:
      summary: Mean, median and standard deviation per numeric column of the ingested data
      responses:
        200: {description: Statistics, content: {application/json: {schema: SummaryStats}}}
        401: Unauthorized
        404: NotFound
        500: ServerFileBroken
    """
    cfg = svc.cfg
    frame = _server_csv(cfg.finaldata_path, "ingested data", "ingestion.py", cfg)
    return jsonify(source=public_message(str(cfg.finaldata_path), cfg), rows=len(frame),
                   statistics=_public(diagnostics.summary_statistics(frame), cfg))


def diagnostics_view(svc: Service) -> Response:
    """The latest recorded diagnostics run. The API never runs them itself: seconds of work
    per request would let a few clients starve the server; diagnostics.py records them.
    ---
    get:
      summary: Timings, missing data and dependency check of the latest recorded diagnostics run
      parameters:
      - name: refresh
        in: query
        description: 'Accepted for older clients; the recorded run is served either way (run diagnostics.py to refresh)'
        schema: {type: string, enum: ['0', '1', 'true', 'false']}
      responses:
        200: {description: Diagnostics, content: {application/json: {schema: Diagnostics}}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
        500: ServerFileBroken
    """
    refresh = _flag("refresh")
    payload = diagnostics.latest_diagnostics(svc.cfg)
    if payload is None:
        raise NotFound("no diagnostics recorded yet (run diagnostics.py or fullprocess.py)")
    body: dict[str, Any] = {"source": "recorded", "diagnostics": _public(payload, svc.cfg)}
    if refresh:
        body["note"] = "the API serves the recorded run; run diagnostics.py to refresh it"
    return jsonify(body)


def health(svc: Service) -> tuple[Response, int]:
    """Status, served model, and this deployment's identity; 503 while no model can predict.
    ---
    get:
      summary: Status, served model version and hash, this deployment's identity (no token needed)
      security: []
      responses:
        200: {description: A model is served and predicts, content: {application/json: {schema: Health}}}
        503: {description: No model can be served, content: {application/json: {schema: Health}}}
    """
    model = svc.model
    body: dict[str, Any] = {"status": "unavailable", "model_version": None, "deployed_at": None,
                            "score": None, "deployment": model.identity, "model_sha256": None}
    try:
        served = model.get()
    except serving.NotServable as exc:
        return jsonify(body | {"error": public_message(str(exc), svc.cfg)}), 503
    body |= {"model_version": served.version, "deployed_at": served.manifest.get("deployed_at"),
             "score": served.manifest.get("score"), "model_sha256": served.model_sha256}
    broken = serving.probe(served.model)  # "ok" only if the model answers now
    if broken is not None:
        return jsonify(body | {"error": broken}), 503
    body["status"] = "ok" if model.error is None else "degraded"
    if model.error is not None:
        body["error"] = public_message(model.error, svc.cfg)
    return jsonify(body), 200


def risk(svc: Service) -> Response:
    """The call list: current clients, highest attrition risk first, with bands, reasons and changes.
    ---
    get:
      summary: The published call list of current clients, highest risk first
      description: >-
        Current clients only (each corporation's latest record, still a client),
        as published by the last run of the main job: risk band and whole
        percent, the reasons from the model, and what changed since the
        previous list (new to the top N, band up or down; who left). Clients
        held out of the list to measure the effect of calling are left out
        (but for the old admin token and the main job's own calls).
      parameters:
      - {name: top, in: query, description: 'How many (default 10)', schema: {type: integer, minimum: 1}}
      - {name: band, in: query, description: 'Only this risk band', schema: {type: string, enum: [high, elevated, moderate, low]}}
      responses:
        200: {description: 'Clients, highest risk first', content: {application/json: {schema: Risk}}}
        400: BadRequest
        401: Unauthorized
        404: NotFound
        500: ServerFileBroken
        503: Unavailable
    """
    top = _positive_int("top", api_spec.DEFAULT_TOP)
    band = request.args.get("band")
    if band is not None and band not in scoring.BANDS:
        raise BadRequest(f"'band' must be one of {', '.join(scoring.BANDS)}, got {band!r}")
    svc.model.get()  # 503 while nothing is deployed: a list without a model is no list
    ranking, summary = call_list(svc.cfg)
    if g.get("who") is None or g.who.role != accounts.ADMIN_SCOPE:
        # Held-out clients stay off every list a service shows managers, or the holdout means nothing.
        held = {h["corporation"] for h in accounts.request_db().holdout() if h["held_out"]}
        ranking = ranking[~ranking["corporation"].isin(held)] if held else ranking
    if band is not None:
        ranking = ranking[ranking["band"] == band]
    shown = ranking.head(top).astype(object).where(ranking.head(top).notna(), None)
    clients = shown.to_dict(orient="records")
    for c in clients:
        c["reasons"] = [r for r in c["reasons"].split("; ") if r]
    return jsonify(
        model_version=summary["model_version"], published_at=summary["published_at"],
        clients_total=summary["clients"], bands=summary["bands"], band=band,
        left_count=summary["left_count"], left_since_previous=summary["left_since_previous"],
        new_to_top=summary["new_to_top"], quality=summary["quality"],
        top=len(clients), clients=_public(clients, svc.cfg))


def openapi(document: dict[str, Any]) -> Response:
    """This API's OpenAPI document.
    ---
    get:
      summary: This document (no token needed)
      security: []
      responses:
        200: {description: OpenAPI 3 document, content: {application/json: {schema: {type: object}}}}
    """
    return jsonify(document)


# --- the interactive docs page: Swagger UI, its files served from the installed package ---

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Client attrition risk API</title>
<link rel="stylesheet" href="{css}"></head>
<body><div id="swagger-ui" data-spec="{spec}"></div>
<script src="{bundle}"></script><script src="{preset}"></script><script src="{init}"></script>
</body></html>
"""
# Served as a file, not inline: the CSP allows scripts from here only.
DOCS_INIT = """window.ui = SwaggerUIBundle({url: document.getElementById("swagger-ui").dataset.spec,
  dom_id: "#swagger-ui", validatorUrl: null,
  presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset], layout: "StandaloneLayout"});
"""
# Swagger UI sets style attributes as it draws, hence 'unsafe-inline' for styles only.
DOCS_CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; script-src 'self'; "
            "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")


def docs_blueprint() -> Blueprint:
    """/docs: Swagger UI on /openapi.json, nothing fetched from outside, never framed."""
    import swagger_ui_bundle

    docs = Blueprint("docs", __name__, static_folder=str(swagger_ui_bundle.swagger_ui_path),
                     static_url_path="/docs/assets")

    @docs.get("/docs")
    def page() -> Response:
        asset = partial(url_for, "docs.static")
        html = DOCS_PAGE.format(css=asset(filename="swagger-ui.css"),
                                bundle=asset(filename="swagger-ui-bundle.js"),
                                preset=asset(filename="swagger-ui-standalone-preset.js"),
                                init=url_for("docs.init"), spec=url_for("openapi"))
        return Response(html, mimetype="text/html")

    @docs.get("/docs/init.js")
    def init() -> Response:
        return Response(DOCS_INIT, mimetype="text/javascript")

    @docs.get("/docs/")
    def slash() -> Response:
        return redirect(url_for("docs.page"), code=308)

    @docs.after_request
    def locked_down(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", DOCS_CSP)
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    return docs


# --- hooks and errors ------------------------------------------------------------

def token_ok(req: Request, token: str) -> bool:
    """Whether `req` carries `Authorization: Bearer <token>`: the one bearer-token check."""
    scheme, _, given = req.headers.get("Authorization", "").partition(" ")
    # Bytes, not str: compare_digest refuses non-ASCII strings, and a header may hold them.
    return scheme.lower() == "bearer" and hmac.compare_digest(
        given.strip().encode("utf-8", "surrogateescape"), token.encode("utf-8"))


def check_token(svc: Service) -> None:
    """Refuse an API request without a bearer token of the right scope.

    Reading needs any valid token once a user, a service token or the old shared
    token exists (else reading is open, as before); recording actions always
    needs a write-actions token (or the old token, deprecated). The main job's
    own in-process calls (apicalls.in_process_sender) pass.
    """
    if (request.method == "OPTIONS" or request.path in OPEN_PATHS
            or request.blueprint in ("docs", "page", "operator")):  # the pages sign in by cookie
        return
    if request.environ.get(api_spec.IN_PROCESS):
        g.who = accounts.Who("main job", accounts.ADMIN_SCOPE, "legacy")
        return
    db = accounts.request_db()
    g.who = svc.accounts.bearer(db, request.headers.get("Authorization", ""))
    writes = request.endpoint in WRITE_ENDPOINTS
    if g.who is None and (writes or not svc.accounts.api_open(db)):
        raise Unauthorized(UNAUTHORIZED)
    if writes and not g.who.can_write_actions:
        raise Forbidden("this token may only read: recording actions needs a write-actions token")


def options_as_json(response: Response) -> Response:
    """OPTIONS answers (Flask's own, empty) as JSON like every other answer."""
    if request.method == "OPTIONS" and not response.is_json:
        response.set_data(json.dumps({"allow": sorted(response.allow)}))
        response.mimetype = "application/json"
    return response


def http_error(svc: Service, exc: HTTPException) -> Response:
    """Any HTTP error as JSON, keeping its status and headers (Allow on 405)."""
    message = public_message(exc.description or exc.name, svc.cfg)
    if isinstance(exc, NotFound) and message == NotFound.description:
        message = f"no such endpoint: {request.path}"
    elif isinstance(exc, MethodNotAllowed):
        message = f"method {request.method} not allowed on {request.path}"
    elif isinstance(exc, RequestEntityTooLarge):
        message = f"request body over the {MAX_BODY_BYTES}-byte limit"
    response = exc.get_response()
    response.set_data(json.dumps({"error": message}))
    response.mimetype = "application/json"
    if isinstance(exc, Unauthorized):
        response.headers["WWW-Authenticate"] = "Bearer"
    return response


def not_servable(svc: Service, exc: serving.NotServable) -> tuple[Response, int]:
    return jsonify(error=public_message(str(exc), svc.cfg)), 503


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


def create_app(config_path: str | Path | None = None, *,
               reload_check_s: float = serving.RELOAD_CHECK_S) -> Flask:
    """The risk API for the project of `config_path` (default: $RISK_CONFIG, else config.json here)."""
    cfg = config.load(config_path_or_default(config_path))
    app = Flask(__name__, static_folder=None)  # an API: no /static route
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["MAX_FORM_MEMORY_SIZE"] = MAX_BODY_BYTES  # one limit, not werkzeug's 500 kB for forms
    app.wsgi_app = api_input.BodyLimit(app.wsgi_app, MAX_BODY_BYTES)  # type: ignore[method-assign]
    token = api_spec.api_token(cfg)
    model = serving.DeployedModel(cfg.prod_deployment_path, reload_check_s)
    model.refresh()  # load now, so the first request doesn't pay for it
    svc = Service(cfg, model, token, accounts.Accounts(cfg, token))
    app.extensions["risk"] = svc  # for tests and tools: the app's own model and config

    for rule, endpoint, view, methods in (
        ("/prediction", "prediction", prediction, ["GET", "POST"]),
        ("/scoring", "scoring", scoring_view, ["GET"]),
        ("/summarystats", "summarystats", summarystats, ["GET"]),
        ("/diagnostics", "diagnostics", diagnostics_view, ["GET"]),
        ("/health", "health", health, ["GET"]),
        ("/risk", "risk", risk, ["GET"]),
        ("/actions", "get_actions", actions.get_actions, ["GET"]),
    ):
        app.add_url_rule(rule, endpoint, view_func=partial(view, svc), methods=methods)
    app.add_url_rule("/actions", "post_action", view_func=partial(actions.post_action, svc, page.is_listed),
                     methods=["POST"])
    document: dict[str, Any] = {}
    app.add_url_rule("/openapi.json", "openapi", view_func=partial(openapi, document), methods=["GET"])
    app.register_blueprint(docs_blueprint())
    metrics.install(app, cfg)  # /metrics, and every request counted and timed
    document.update(api_spec.openapi_document(app, actions.ACTION_SCHEMAS))  # once the routes it describes are all there

    app.register_blueprint(page.bp)
    app.register_blueprint(operator.bp)
    app.teardown_appcontext(accounts.close_request_db)
    app.before_request(partial(check_token, svc))
    app.after_request(options_as_json)
    app.register_error_handler(HTTPException, partial(http_error, svc))
    app.register_error_handler(serving.NotServable, partial(not_servable, svc))
    app.register_error_handler(StepError, partial(step_error, svc))
    app.register_error_handler(Exception, internal_error)
    log.info("risk API for %s (auth %s)", cfg.path, "on" if token else "off")
    with svc.accounts.db() as db:
        svc.accounts.warn_if_open(db, cfg.api_host)
    return app


# --- local use ---------------------------------------------------------------------
