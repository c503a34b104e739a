"""The status lines over every page: the model and list in words; for operators, quality, drift,
held-back extracts and the loop's decisions (page.py, operator.py)."""
from __future__ import annotations

from typing import Any

from flask import g

from risk import artifacts, history
from risk.reports import report_facts


def date_of(stamp: Any) -> str:
    return str(stamp or "")[:10] or "unknown date"


def quality_words(quality: dict[str, Any] | None) -> str:
    """F1 and precision at N as a manager reads them."""
    if not quality or quality.get("f1") is None:
        return "No quality figures for this list."
    words = [f"F1 {quality['f1']:.2f} on the test clients."]
    n, precision = quality.get("n"), quality.get("precision_at_n")
    if n and precision is not None:
        words.append(f"Of the top {n} clients called, {round(precision * n)} would leave")
        recall = quality.get("recall_at_n")
        words[-1] += (f", {recall:.0%} of all who leave." if recall is not None else ".")
    if quality.get("base_rate") is not None:
        words.append(f"Without the list, {quality['base_rate']:.0%} of clients leave.")
    return " ".join(words)


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
    """The status lines over every page: plain words for a manager; quality, drift and
    held-back extracts too for an operator."""
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
        "quality": quality_words(meta.get("quality") if meta else None) if operator else None,
        "drift": drift if operator else None, "drift_status": drift_status,
        "held_back": held_back(cfg) if operator else [],
    }
