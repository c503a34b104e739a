"""Prometheus metrics at /metrics (issue 22, item 18): in-process, and summed over gunicorn's workers."""
from __future__ import annotations

import re

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from risk.serving import api_spec, localserver
from risk.serving import app as risk_api


def samples(text: str) -> dict[tuple[str, tuple], float]:
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def test_metrics_count_requests_by_endpoint_and_show_the_model_and_list(deployed_cfg, monkeypatch):
    monkeypatch.delenv(api_spec.TOKEN_ENV, raising=False)
    monkeypatch.delenv("PROMETHEUS_MULTIPROC_DIR", raising=False)
    client = risk_api.create_app(deployed_cfg.path).test_client()
    for _ in range(3):
        assert client.get("/health").status_code == 200
    r = client.get("/metrics")
    assert r.status_code == 200 and r.headers["Content-Type"].startswith("text/plain")
    got = samples(r.text)
    key = ("risk_http_requests_total", (("endpoint", "/health"), ("method", "GET"), ("status", "200")))
    assert got[key] == 3
    assert got[("risk_model_version", ())] == 1
    assert got[("risk_call_list_age_seconds", ())] >= 0
    assert got[("risk_quarantined_extracts", ())] == 0
    assert ("risk_http_request_duration_seconds_count", (("endpoint", "/health"), ("method", "GET"))) in got


@pytest.mark.slow
def test_under_gunicorn_the_counts_of_every_worker_add_up(deployed_cfg, tmp_path):
    port = localserver.free_port()
    env = {api_spec.CONFIG_ENV: str(deployed_cfg.path)}
    with localserver.running(localserver.gunicorn_command(port), port, env=env, log=tmp_path / "g.log") as srv:
        session_free = [requests.get(f"{srv.url}/health", timeout=5, headers={"Connection": "close"})
                        for _ in range(40)]
        assert all(r.status_code == 200 for r in session_free)
        texts = [requests.get(f"{srv.url}/metrics", timeout=5, headers={"Connection": "close"}).text
                 for _ in range(4)]
    counts = {samples(t)[("risk_http_requests_total",
                          (("endpoint", "/health"), ("method", "GET"), ("status", "200")))] for t in texts}
    # Every scrape, whichever worker answers, sees all 40 (plus the /health probes of the start-up).
    assert len(counts) == 1 and counts.pop() >= 40
    assert re.search(r"risk_model_version 1\.0", texts[0])
