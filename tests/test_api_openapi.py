"""The API's OpenAPI document: valid, complete, and true under fuzzing (schemathesis)."""
from __future__ import annotations

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.configuration import set_hypothesis_home_dir
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import positive_data_acceptance
from test_app import deployed_project

from risk.reports import diagnostics
from risk.serving import app as risk_api

# Bounds: a few examples per operation, each allowed seconds, so the whole fuzz
# takes seconds. The deadline only stops a runaway case; no timing is asserted.
FUZZ = settings(max_examples=15, deadline=5000, database=None, derandomize=True,
                suppress_health_check=list(HealthCheck))


@pytest.fixture(scope="module", autouse=True)
def hypothesis_home(tmp_path_factory):
    """Hypothesis caches under ./.hypothesis by default: keep it out of the working tree."""
    set_hypothesis_home_dir(tmp_path_factory.mktemp("hypothesis"))
    yield
    set_hypothesis_home_dir(None)


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    return deployed_project(tmp_path_factory.mktemp("openapi"))


@pytest.fixture
def api(project, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    # Recomputing diagnostics times the scripts in subprocesses and asks PyPI: not in a fuzz loop.
    recorded = {"run_at": "2026-01-01T00:00:00+00:00", "missing_percent": 1.0}
    monkeypatch.setattr(diagnostics, "latest_diagnostics", lambda cfg: recorded)
    monkeypatch.setattr(diagnostics, "run_all", lambda cfg, **kw: recorded)
    return risk_api.create_app(project.path)


@pytest.fixture
def api_schema(api):
    return schemathesis.openapi.from_wsgi("/openapi.json", api)


def test_the_document_is_valid_openapi(api_schema):
    api_schema.validate()  # raises on any breach of the OpenAPI 3.0 meta-schema


def test_the_document_describes_every_route_and_method(api):
    document = api.test_client().get("/openapi.json").get_json()
    routes = {
        (rule.rule, method.lower())
        for rule in api.url_map.iter_rules() if not rule.endpoint.startswith(("docs.", "page.", "operator."))  # HTML pages
        for method in rule.methods - {"HEAD", "OPTIONS"}
    }
    described = {(path, method) for path, ops in document["paths"].items() for method in ops}
    assert described == routes
    for path, ops in document["paths"].items():
        for method, op in ops.items():
            assert "200" in op["responses"] or "201" in op["responses"], (path, method)
            if path not in ("/health", "/openapi.json"):
                assert "401" in op["responses"], (path, method)  # the token, when set


def test_the_document_examples_work(api):
    client = api.test_client()
    example = (api.test_client().get("/openapi.json").get_json()
               ["components"]["schemas"]["FilepathRequest"]["properties"]["filepath"]["example"])
    assert example == "testdata/testdata.csv"  # the shipped data's layout; here the folder is test/
    assert client.post("/prediction", json={"filepath": "test/testdata.csv"}).status_code == 200


@pytest.mark.slow
@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_generated_requests_get_documented_answers_and_never_a_5xx(api_schema, subtests, mode):
    # schemathesis.pytest.from_fixture needs pytest internals that pytest 9 dropped,
    # so each operation's strategy is driven by hypothesis directly, one subtest each.
    for result in api_schema.get_all_operations():
        operation = result.ok()
        if mode is GenerationMode.NEGATIVE and not (operation.query or operation.body):
            continue  # nothing to send wrong

        with subtests.test(operation=operation.label):

            @FUZZ
            @given(case=operation.as_strategy(generation_mode=mode))
            def check(case):
                # Every default check: no 5xx; status codes, content types and bodies as
                # documented; schema-breaking data refused, schema-valid data accepted,
                # except a CSV body or upload: "a string" is all a schema can say of one.
                csv = case.media_type in ("text/csv", "multipart/form-data")
                skip = [positive_data_acceptance] if csv else []
                case.call_and_validate(excluded_checks=skip)

            check()
