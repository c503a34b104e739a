"""The status lines over every page: the model, the list and its measure in words; for operators,
drift, held-back extracts and the loop's decisions; F1 on the test data (page.py, operator.py)."""
from __future__ import annotations

import json
from typing import Any

from flask import g

from risk import artifacts, history
from risk.model import fresh
from risk.reports import report_facts


def date_of(stamp: Any) -> str:
    return str(stamp or "")[:10] or "unknown date"


def quality_words(quality: dict[str, Any] | None, measure: dict[str, Any] | None = None) -> str:
    """F1 and precision at N on the test data, labelled with the test data's name and date: the operator's figures."""
    if not quality or quality.get("f1") is None:
        return "No test-data figures for this list."
    where = "the test clients"
    if measure and measure.get("data"):
        where = (f"the {measure.get('rows', 0):,} test clients of {measure['data']} "
                 f"(dated {date_of(measure.get('data_date'))})")
    words = [f"F1 {quality['f1']:.2f} on {where}."]
    n, precision = quality.get("n"), quality.get("precision_at_n")
    if n and precision is not None:
        words.append(f"Of the top {n} test clients, {round(precision * n)} left")
        recall = quality.get("recall_at_n")
        words[-1] += (f", {recall:.0%} of all who left." if recall is not None else ".")
    if quality.get("base_rate") is not None:
        words.append(f"{quality['base_rate']:.0%} of the test clients left.")
    return " ".join(words)


def headline(meta: dict[str, Any] | None) -> str | None:
    """The list's measure on the freshest labelled clients (fresh.headline); a list published
    before it was recorded falls back to its measure on the test data, named as such."""
    if not meta:
        return None
    return fresh.headline(meta.get("fresh_measure") or meta.get("list_measure"))


def drift_words(cfg: Any) -> tuple[str, str]:
    """The last drift check in words, and a status for its colour: ok, alert or none."""
    checks = history.rows(cfg.history_path, "drift_checks", limit=1)
    if not checks:
        return "No drift check yet.", "none"
    last = checks[-1]
    figures = f"F1 {last['new_f1']:.2f} on new data vs {last['reference_f1']:.2f}"
    if last["drift"]:
        return f"Drift found at the last check ({date_of(last['run_at'])}): {figures}.", "alert"
    return f"No drift at the last check ({date_of(last['run_at'])}): {figures}.", "ok"


def held_back(cfg: Any) -> list[dict[str, str]]:
    """The extracts the quality gate holds back now, newest first: name, date, reason, release command."""
    return [{"name": q["name"], "date": date_of(q["run_at"]), "reason": q["reason"],
             "command": report_facts.release_command(q["name"])}
            for q in reversed(report_facts.held_back(cfg.history_path))]


def decided(d: dict[str, Any]) -> str:
    """What a champion/challenger decision did, in two or three words."""
    if d["decision"] == "deploy":
        return f"deployed {artifacts.version_name(d['deployed_version'])}" if d["deployed_version"] else "deployed"
    if d["decision"] == "wait":
        return "waiting for outcomes"
    return f"kept {artifacts.version_name(d['champion_version'])}"


def decision_rows(cfg: Any) -> list[dict[str, Any]]:
    """The newest champion/challenger decisions, newest first, as the trends table shows them."""
    return [{**d, "date": str(d["run_at"])[:16].replace("T", " "), "what": decided(d)}
            for d in reversed(history.rows(cfg.history_path, "challenger_decisions", limit=report_facts.DECISIONS))]


def stale_words(deployed: int | None, listed: int | None) -> str | None:
    """What the page says when the list was made by another model than the deployed one (None: same)."""
    if deployed is None or listed is None or deployed == listed:
        return None
    d, li = artifacts.version_name(deployed), artifacts.version_name(listed)
    if deployed > listed:
        return f"The deployed model {d} is newer than this list's {li}: the next run of the main job publishes a new one."
    return (f"The deployed model was rolled back to {d}; this list was made by {li}: "
            "the next run of the main job publishes a new one.")


def header(cfg: Any, meta: dict[str, Any] | None) -> dict[str, Any]:
    """The status lines over every page: the model, the list and its measure on the freshest
    labelled clients for everyone; drift and held-back extracts too for an operator (F1 on
    the test data is on /operator, with the test data's date: operator.py)."""
    operator = getattr(g.get("who"), "operator", True)
    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    deployed = int(manifest["version"]) if manifest else None
    listed = meta.get("model_version") if meta else None
    drift, drift_status = drift_words(cfg) if operator else ("", "none")
    return {
        "model": (f"Model {artifacts.version_name(deployed)}, deployed {date_of(manifest.get('deployed_at'))}"
                  if manifest else "No model deployed yet"),
        "published": f"List published {date_of(meta.get('published_at'))}" if meta else None,
        "stale": stale_words(deployed, int(listed) if listed is not None else None),
        "listed_version": artifacts.version_name(int(listed)) if listed is not None else None,
        "headline": headline(meta),
        "drift": drift if operator else None, "drift_status": drift_status,
        "held_back": held_back(cfg) if operator else [],
    }


def deployment_measures(cfg: Any) -> list[dict[str, Any]]:
    """Per deployed model version, newest first: its measure on the freshest labelled clients as its
    latest published list recorded it (call_lists.measure: calibration error, exits in the top k, AUC,
    on which rows). Versions whose lists predate the record are left out."""
    latest: dict[int, dict[str, Any]] = {}
    for r in history.rows(cfg.history_path, "call_lists"):
        if r.get("measure"):
            latest[int(r["model_version"])] = {**json.loads(r["measure"]), "published_at": r["run_at"]}
    deployed_at: dict[int, str] = {}
    for d in history.rows(cfg.history_path, "deployments"):
        deployed_at.setdefault(int(d["version"]), d["run_at"])
    return [{"version": artifacts.version_name(v), "deployed": date_of(deployed_at.get(v)), **m,
             "measured": date_of(m["published_at"]), "when": date_of(m.get("data_date"))}
            for v, m in sorted(latest.items(), reverse=True)]
