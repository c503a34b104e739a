"""Prometheus metrics at /metrics, with the official client, safe under gunicorn's several workers.

Requests: `risk_http_requests_total` and `risk_http_request_duration_seconds` by
endpoint (the route, not the raw path), method and status. The state an operator
alerts on is read from the project at each scrape (so every worker answers the
same): the last tick's exit code and time, the live model's version and age, the
published list's age, the extracts held back.

Under gunicorn, gunicorn.conf.py points PROMETHEUS_MULTIPROC_DIR at a folder the
workers share (emptied when the server starts; a dead worker's gauges dropped):
prometheus_client then keeps each worker's counts in its own file and /metrics
adds them up, whichever worker answers. Without it (app.py, tests) the app's own
registry serves.
"""
from __future__ import annotations

import os
import time
from datetime import datetime, timezone
from typing import Any, Iterator

from flask import Flask, Response, g, request
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.core import GaugeMetricFamily, Metric

from risk import artifacts, config, history
from risk.reports import report_facts

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"


def _age_s(stamp: str | None) -> float | None:
    if not stamp:
        return None
    return (datetime.now(timezone.utc) - datetime.fromisoformat(stamp)).total_seconds()


class ProjectState:
    """A collector reading the project's state at each scrape (no per-worker state to add up)."""

    def __init__(self, cfg: config.Config) -> None:
        self.cfg = cfg

    def collect(self) -> Iterator[Metric]:
        cfg = self.cfg
        runs = history.rows(cfg.history_path, "runs", limit=1)
        gauges: list[tuple[str, str, float | None]] = [
            ("risk_last_tick_exit_code", "Exit code of the last run of the main job (0 ok)",
             runs[-1]["exit_code"] if runs else None),
            ("risk_last_tick_timestamp_seconds", "When the last run of the main job ended (Unix time)",
             datetime.fromisoformat(runs[-1]["ended_at"]).timestamp() if runs else None),
        ]
        manifest: Any = artifacts.read_manifest(cfg.prod_deployment_path)
        gauges += [("risk_model_version", "Version of the live model", manifest["version"] if manifest else None),
                   ("risk_model_age_seconds", "Seconds since the live model was deployed",
                    _age_s(manifest.get("deployed_at")) if manifest else None)]
        try:
            published = artifacts.read_json(cfg.output_model_path / "call_list.json").get("published_at")
        except artifacts.ArtifactError:
            published = None
        gauges += [("risk_call_list_age_seconds", "Seconds since the call list was published", _age_s(published)),
                   ("risk_quarantined_extracts", "Extracts the quality gate holds back now",
                    len(report_facts.held_back(cfg.history_path)))]
        for name, doc, value in gauges:
            if value is not None:
                yield GaugeMetricFamily(name, doc, value=float(value))


def install(app: Flask, cfg: config.Config) -> None:
    """Count and time every request of `app`, and serve /metrics."""
    registry = CollectorRegistry()
    requests = Counter("risk_http_requests", "HTTP requests answered", ["endpoint", "method", "status"],
                       registry=registry)
    latency = Histogram("risk_http_request_duration_seconds", "Time to answer a request",
                        ["endpoint", "method"], registry=registry)
    state = ProjectState(cfg)

    @app.before_request
    def started() -> None:
        g.risk_started = time.perf_counter()

    @app.after_request
    def counted(response: Response) -> Response:
        endpoint = request.url_rule.rule if request.url_rule else "unmatched"
        requests.labels(endpoint, request.method, str(response.status_code)).inc()
        if "risk_started" in g:
            latency.labels(endpoint, request.method).observe(time.perf_counter() - g.risk_started)
        return response

    def metrics_view() -> Response:
        """Prometheus metrics: requests by endpoint, the last tick, the model's and the list's age.
        ---
        get:
          summary: Prometheus metrics (text exposition format)
          responses:
            200: {description: Metrics, content: {text/plain: {schema: {type: string}}}}
            401: Unauthorized
        """
        if os.environ.get(MULTIPROC_ENV):
            scrape = CollectorRegistry()
            multiprocess.MultiProcessCollector(scrape)
        else:
            scrape = CollectorRegistry()
            scrape.register(_Of(registry))
        scrape.register(state)
        return Response(generate_latest(scrape), mimetype=CONTENT_TYPE_LATEST.split(";")[0],
                        headers={"Content-Type": CONTENT_TYPE_LATEST})

    app.add_url_rule("/metrics", "metrics", view_func=metrics_view, methods=["GET"])


class _Of:
    """The metrics of another registry, as a collector."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry

    def collect(self) -> Iterator[Metric]:
        return iter(self.registry.collect())


def mark_worker_dead(pid: int) -> None:
    """For gunicorn's child_exit: drop a dead worker's live gauges (its counts stay summed)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)
