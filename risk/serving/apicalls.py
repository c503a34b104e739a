"""Call every endpoint of the risk API and record the answers in apireturns.txt.

The work of `apicalls.py` (its command line lives there).
"""
from __future__ import annotations

import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

import requests

from risk import artifacts, config, history
from risk.errors import StepError
from risk.serving import api_spec, localserver
from risk.serving.localserver import (
    free_port,  # noqa: F401 (tests/test_fullprocess.py picks ports with it)
)

log = logging.getLogger("apicalls")

RETURNS_FILE = "apireturns.txt"
FAILED_RETURNS_FILE = "apireturns.failed.txt"  # a failed call set, beside the last good one
# How long a server proving to be this deployment may take to load a newly deployed
# model (it checks every serving.RELOAD_CHECK_S).
RELOAD_WAIT_S = 3.0
IN_PROCESS = "in-process"
DEFAULT_TIMEOUT_S = 60.0  # /diagnostics runs them all when none is recorded yet: seconds
RISK_TOP = 10


class ApiCallError(StepError):
    """An API call failed or the API is unreachable."""


@dataclass(frozen=True)
class Call:
    name: str
    method: str
    path: str
    json: dict[str, Any] | None = None


@dataclass(frozen=True)
class Reply:
    status: int | None  # None: no answer at all
    body: Any           # parsed JSON, else the text; None without an answer
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


Send = Callable[[Call], Reply]


def api_calls(cfg: config.Config) -> list[Call]:
    """One call per endpoint; the prediction is for the test data, named as a course client does."""
    test_data = os.path.relpath(cfg.test_data_file, cfg.path.parent)
    return [
        Call("health", "GET", "/health"),
        Call("prediction", "POST", "/prediction", {"filepath": test_data}),
        Call("scoring", "GET", "/scoring"),
        Call("summarystats", "GET", "/summarystats"),
        Call("diagnostics", "GET", "/diagnostics"),
        Call("risk", "GET", f"/risk?top={RISK_TOP}"),
        Call("openapi", "GET", "/openapi.json"),
    ]


def auth_headers(cfg: config.Config) -> dict[str, str]:
    """The bearer token header the server expects: from the environment, else the token file."""
    token = api_spec.api_token(cfg)
    return {"Authorization": f"Bearer {token}"} if token else {}


def http_sender(cfg: config.Config, base_url: str, timeout_s: float = DEFAULT_TIMEOUT_S) -> Send:
    """Send calls to the server at `base_url` over one keep-alive session."""
    session = requests.Session()
    session.headers.update(auth_headers(cfg))
    base = base_url.rstrip("/")

    def send(call: Call) -> Reply:
        try:
            r = session.request(call.method, base + call.path, json=call.json, timeout=timeout_s)
        except requests.ConnectionError as exc:
            return Reply(None, None, f"unreachable ({type(exc).__name__})")
        except requests.RequestException as exc:
            return Reply(None, None, f"{type(exc).__name__}: {exc}")
        try:
            body = r.json()
        except ValueError:
            body = r.text
        return Reply(r.status_code, body)

    return send


def in_process_sender(cfg: config.Config) -> Send:
    """Send calls to an app built here from `cfg`: the whole Flask stack, no socket."""
    from risk.serving import (
        app,  # the data libraries cost seconds; a run against a URL needs none of them
    )

    client = app.create_app(cfg.path).test_client()
    client.environ_base[api_spec.IN_PROCESS] = True  # the main job itself: no service token needed
    headers = auth_headers(cfg)

    def send(call: Call) -> Reply:
        r = client.open(call.path, method=call.method, json=call.json, headers=headers)
        body = r.get_json(silent=True)
        return Reply(r.status_code, body if body is not None else r.get_data(as_text=True))

    return send


def call_all(send: Send, calls: list[Call], where: str) -> dict[str, Reply]:
    """Every call's reply; ApiCallError at once if the first gets no answer (the API is unreachable)."""
    replies = {}
    for call in calls:
        reply = send(call)
        log.info("%s %s -> %s", call.method, call.path, reply.status or reply.error)
        if not replies and reply.status is None:  # don't wait out every timeout of a dead address
            raise ApiCallError(f"cannot reach the API at {where} ({call.name}: {reply.error})")
        replies[call.name] = reply
    return replies


def write_returns(path: Path, where: str, calls: list[Call], replies: dict[str, Reply]) -> None:
    """All replies as one JSON document, written atomically."""
    responses = {}
    for call in calls:
        reply = replies[call.name]
        entry: dict[str, Any] = {"method": call.method, "path": call.path,
                                 "status": reply.status, "body": reply.body}
        if reply.error is not None:
            entry["error"] = reply.error
        responses[call.name] = entry
    artifacts.write_json_atomic(path, {"url": where, "called_at": history.now(), "responses": responses})


def why(reply: Reply) -> str:
    """Why a call failed, in a few words: the status and the API's error message."""
    if reply.status is None:
        return reply.error or "no answer"
    message = reply.body.get("error") if isinstance(reply.body, dict) else None
    return f"{reply.status}: {message}" if message else f"status {reply.status}"


def failures(replies: dict[str, Reply]) -> list[str]:
    """'name, name (why)' for the calls without a 2xx answer, those failing alike together."""
    reasons: dict[str, list[str]] = {}
    for name, reply in replies.items():
        if not reply.ok:
            reasons.setdefault(why(reply), []).append(name)
    return [f"{', '.join(names)} ({reason})" for reason, names in reasons.items()]


@dataclass(frozen=True)
class ApiReturns:
    path: Path                # the apireturns.txt written
    where: str                # the URL called, or "in-process"
    replies: dict[str, Reply]

    def __str__(self) -> str:  # what a caller printing "API calls -> ..." wants: the file
        return str(self.path)

    @property
    def failed(self) -> list[str]:
        return failures(self.replies)

    def check(self) -> None:
        """Raise ApiCallError naming every endpoint that failed."""
        if self.failed:
            raise ApiCallError(f"API call(s) to {self.where} failed: {'; '.join(self.failed)}")


def call_api(cfg: config.Config, url: str | None = None,
             timeout_s: float = DEFAULT_TIMEOUT_S) -> ApiReturns:
    """Call every endpoint (at `url`, or in this process if None) and write apireturns.txt.

    A set with a failed call is written to apireturns.failed.txt instead (worth
    reading), and the last good apireturns.txt stays; call `.check()` on the
    result to turn failures into an error. An unreachable API raises
    ApiCallError at once and writes nothing.
    """
    where = url or IN_PROCESS
    send = http_sender(cfg, url, timeout_s) if url else in_process_sender(cfg)
    calls = api_calls(cfg)
    replies = call_all(send, calls, where)
    ok = all(reply.ok for reply in replies.values())
    path = cfg.output_model_path / (RETURNS_FILE if ok else FAILED_RETURNS_FILE)
    write_returns(path, where, calls, replies)
    log.info("wrote %s", path)
    return ApiReturns(path, where, replies)


def identity_problem(cfg: config.Config, url: str) -> str | None:
    """Why the server at `url` is not this deployment serving its live model, or None if it is.

    Its /health must name this deployment (api_spec.deployment_id of the
    resolved prod_deployment_path) and the SHA-256 of the model deployed now;
    a server still loading a new deployment gets RELOAD_WAIT_S to catch up.
    """
    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    want_model = manifest["files"][artifacts.MODEL_FILE] if manifest else None
    want_id = api_spec.deployment_id(cfg.prod_deployment_path)
    deadline = time.monotonic() + RELOAD_WAIT_S
    while True:
        answer = localserver.get_json(url, "/health")
        if answer is None:
            return f"nothing answers at {url}"
        body = answer[1] if isinstance(answer[1], dict) else {}
        if body.get("deployment") != want_id:
            return f"the server at {url} is not this deployment (another project or checkout?)"
        if body.get("model_sha256") == want_model:
            return None
        if time.monotonic() > deadline:
            return f"the server at {url} does not serve the deployed model (restart it?)"
        time.sleep(0.2)


def call_api_of_deployment(cfg: config.Config) -> ApiReturns:
    """The main job's calls: the configured server once it proves to be this deployment, else in-process."""
    problem = identity_problem(cfg, cfg.api_url)
    if problem is None:
        return call_api(cfg, cfg.api_url)
    log.info("%s: calling the API in-process", problem)
    return call_api(cfg, None)


def brief(name: str, reply: Reply) -> str:
    """A few words on one reply, for the summary."""
    body = reply.body
    if not reply.ok:
        return why(reply)
    try:
        if name == "health":
            return f"{body['status']}, model {artifacts.version_name(body['model_version'])} deployed {body['deployed_at']}"
        if name == "prediction":
            return f"{body['rows']} rows, {sum(body['predictions'])} predicted exits (model {artifacts.version_name(body['model_version'])})"
        if name == "scoring":
            return f"F1 {body['f1']:.4f} on {body['rows']} rows (model {artifacts.version_name(body['model_version'])})"
        if name == "summarystats":
            return f"{len(body['statistics'])} columns of {body['rows']} rows"
        if name == "diagnostics":
            return f"{body['source']} run of {body['diagnostics'].get('run_at', '?')}"
        if name == "risk":
            first = body["clients"][0] if body["clients"] else None
            top = f"; riskiest {first['corporation']} ({first['attrition_probability']:.3f})" if first else ""
            return f"top {body['top']} clients{top}"
        if name == "openapi":
            return f"OpenAPI {body['openapi']}, {len(body['paths'])} paths"
    except (KeyError, TypeError, IndexError, AttributeError):
        pass
    return "ok"


def summary(result: ApiReturns) -> str:
    """One line per endpoint: status and a few words on the answer."""
    lines = [f"{name:<13} {reply.status or '-':>3}  {brief(name, reply)}"
             for name, reply in result.replies.items()]
    return "\n".join([f"API at {result.where}:", *lines, f"-> {result.path}"])
