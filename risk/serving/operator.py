"""The operator's page: the model's figures (F1 on the test data, reliability on fresh labels per
deployment), decisions, the holdout and whether calling helps; quality and drift are in the header.

Reads  the run history (through page.header and page.decision_rows), the team
       database (holdout, users, audit) and the effect estimate (reports/effect.py)
Serves GET /operator (operators and admins; a manager gets 403)

A Blueprint named `operator` registered by app.create_app; it signs in and
checks forms exactly as the managers' page does (page.require_login).
"""
from __future__ import annotations

from typing import Any

from flask import Blueprint, current_app, g, render_template
from werkzeug.exceptions import HTTPException

from risk.errors import StepError
from risk.reports import effect, report_facts
from risk.serving import accounts, charts, ids, page, status

bp = Blueprint("operator", __name__, template_folder="templates")
bp.before_request(page.require_login)
bp.after_request(page.locked_down)
bp.register_error_handler(HTTPException, page.http_error)
bp.register_error_handler(StepError, page.step_error)


def model_quality(meta: dict[str, Any] | None) -> dict[str, Any]:
    """The deployed model's figures for the operator: F1 on the test data (with its date), the
    reliability chart on the freshest labelled clients and on the test data, the last model change."""
    if not meta:
        return {"test_words": None, "reliability": None, "fresh": None, "change": None}
    fresh, test = meta.get("fresh_measure") or {}, meta.get("list_measure") or {}
    series = {}
    if fresh.get("reliability") and fresh.get("fresh"):
        series[f"fresh: {fresh['data']}"] = fresh["reliability"]
    if test.get("reliability"):
        series[f"test data: {test['data']}"] = test["reliability"]
    return {"test_words": status.quality_words(meta.get("quality"), test),
            "reliability": charts.reliability_chart(series) if series else None,
            "fresh": fresh if fresh.get("fresh") else None, "test": test, "change": meta.get("model_change")}


def percent(value: float | None) -> str:
    return "" if value is None else f"{100 * value:+.1f} points"


@bp.get("/operator")
def operator_view() -> str:
    page.require_operator()
    cfg = current_app.extensions["risk"].cfg
    db = accounts.request_db()
    try:
        cl = page.call_list(cfg)
        meta: dict[str, Any] | None = cl.meta
        frame = page.team(cfg, cl)  # assigns the holdout of a new list
        held = frame[frame["held_out"]].sort_values("rank")
        held_rows = held[["rank", "corporation", "band", "risk_percent", "account_manager"]].head(50).to_dict("records")
        for h in held_rows:  # an odd id links by its key and shows its invisible characters
            h["link"], h["shown"] = page.client_link(h["corporation"]), ids.visible(h["corporation"])
        held_count, unowned = len(held), int((frame["account_manager"] == "").sum())
    except StepError:
        meta, held_rows, held_count, unowned = None, [], 0, 0
    result = effect.current_effect(cfg, db)
    return render_template(
        "operator.html", head=page.header(cfg, meta), effect=result, percent=percent, **model_quality(meta),
        measures=status.deployment_measures(cfg),
        share=cfg.call_holdout_share, capacity=cfg.call_capacity, held=held_rows, held_count=held_count,
        unowned=unowned, decisions=page.decision_rows(cfg), estimates=report_facts.label_free_estimates(cfg.history_path),
        users=db.users(), tokens=db.tokens(), digest_on=cfg.manager_digest, audit=db.audit_rows(30), me=g.who,
    )
