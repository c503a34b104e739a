"""The facts the report states: the call list, data, history and the loop's records, gathered once.

reporting.py draws them (report_managers.py, report_appendix.py) into the PDF.
"""
from __future__ import annotations

import logging
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

from risk import artifacts, config, history
from risk.data import clientinfo, contract
from risk.model import fresh, scoring
from risk.reports import diagnostics, effect
from risk.teamdb import TeamDb

if TYPE_CHECKING:
    pass

log = logging.getLogger("reporting")

TREND_RUNS = 500  # newest history rows plotted: a page shows no more detail than that
DECISIONS = 12  # newest champion/challenger decisions and label-free estimates listed
RELEASE_COMMAND = "python fullprocess.py --release-quarantined"
BLIND_SPOT = ("The estimate is worked out from the model's own predicted probabilities, before "
              "outcomes are known. It follows shifts in who the clients are, but it cannot see a "
              "change in who leaves: if clients start leaving for other reasons, the estimate stays "
              "where it was while the real F1 falls. The realized F1 replaces it once outcomes arrive.")


@dataclass
class ReportData:
    """Everything the PDF shows, gathered before drawing: the drawing reads no files."""
    created_at: datetime
    manifest: dict[str, Any]
    f1: float
    counts: np.ndarray  # confusion matrix: rows actual (stayed, exited), columns predicted
    ranking: pd.DataFrame  # the published call list (scoring.RANKING_COLUMNS)
    call_list: dict[str, Any]  # its summary (call_list.json)
    thresholds: tuple[float, float, float]
    statistics: dict[str, dict[str, float]]
    missing: dict[str, float]
    extracts: list[dict[str, Any]] = field(default_factory=list)
    diagnostics: dict[str, Any] | None = None
    deployments: list[dict[str, Any]] = field(default_factory=list)
    scores: list[dict[str, Any]] = field(default_factory=list)
    diagnostics_runs: list[dict[str, Any]] = field(default_factory=list)
    drift_checks: list[dict[str, Any]] = field(default_factory=list)
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # held back now (held_back)
    decisions: list[dict[str, Any]] = field(default_factory=list)  # champion/challenger, oldest first
    estimates: list[dict[str, Any]] = field(default_factory=list)  # label_free_estimates, newest first
    quarantine_log: list[dict[str, Any]] = field(default_factory=list)  # newest quarantine rows, oldest first
    values: dict[str, tuple[float, float]] = field(default_factory=dict)  # band: (annual value, expected loss)
    calling: str | None = None  # does calling help? the holdout's verdict in words (effect.py)

    @property
    def loop_recorded(self) -> bool:
        """Whether the retraining loop has recorded anything the managers should see."""
        return bool(self.quarantined or self.decisions or self.estimates)


def confusion_counts(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """2x2 counts of `model` on a labeled frame: rows actual, columns predicted, (stayed, exited)."""
    predicted = model.predict(contract.feature_matrix(frame))
    return confusion_matrix(frame[contract.TARGET].to_numpy(), predicted, labels=[0, 1])


# --- facts the pages state -------------------------------------------------------

def extract_attrition(cfg: config.Config, data: pd.DataFrame) -> list[dict[str, Any]]:
    """Per ingested extract, oldest first: file, when it arrived, rows, share of clients who left.

    finaldata.csv holds the extracts one after the other in ingestion.json's
    order, `rows_kept` rows each; when the record does not describe this
    finaldata.csv, there is no trend rather than a wrong one.
    """
    blocks = fresh.extract_blocks(cfg, data)
    if not blocks:
        return []
    ingested_at = artifacts.read_json(cfg.ingestion_record_path)["ingested_at"]
    arrived: dict[tuple[str, str], str] = {}
    for r in history.rows(cfg.history_path, "ingestions"):
        if r["status"] == "ingested":
            arrived.setdefault((r["file"], r["sha256"]), r["run_at"])
    out = []
    for name, sha256, rows in blocks:
        exited = rows[contract.TARGET].to_numpy(dtype=float)
        if len(rows):
            out.append({"file": name, "rows": len(rows), "arrived_at": arrived.get((name, sha256), ingested_at),
                        "attrition": float(np.nanmean(exited)) if np.isfinite(exited).any() else None})
    return out


def quality_per_deployment(data: ReportData) -> list[dict[str, Any]]:
    """Each deployment with its model's recorded test figures (F1, precision and recall at N, base rate)."""
    by_model: dict[str, dict[str, Any]] = {}
    for s in data.scores:  # oldest first: the newest score of a model wins
        by_model[s["model_sha256"]] = s
    return [{**by_model.get(d["model_sha256"], {}), **d} for d in data.deployments]


# --- what the retraining loop recorded (loop.py): held back, decided, estimated ----------

def held_back(history_path: Path) -> list[dict[str, Any]]:
    """Quarantine rows of the extracts held back now, oldest first.

    An extract (name and SHA-256) is held back while its latest quarantine row
    says 'quarantined'; an operator's 'released' row ends that.
    """
    latest: dict[tuple[str, str], dict[str, Any]] = {}
    for r in history.rows(history_path, "quarantine"):
        latest[(r["name"], r["sha256"])] = r
    return sorted((r for r in latest.values() if r["action"] == "quarantined"), key=lambda r: r["id"])


def release_command(name: str) -> str:
    """The shell command an operator runs to release the quarantined extract `name`."""
    return f"{RELEASE_COMMAND} {shlex.quote(name)}"


def label_free_estimates(history_path: Path, limit: int = DECISIONS) -> list[dict[str, Any]]:
    """Per extract estimated without outcomes, newest first: the estimate and, once known, the realized figures.

    Each: name, run_at (when estimated), model_version, rows, estimated_f1,
    estimated_precision, top_n, realized_f1 and realized_precision (None
    until outcomes arrive). An extract estimated again replaces its older entry.
    """
    found: dict[str, dict[str, Any]] = {}
    for r in history.rows(history_path, "estimates"):
        if r["kind"] == "estimate":
            found.pop(r["name"], None)  # re-inserted: newest last
            found[r["name"]] = {"name": r["name"], "run_at": r["run_at"], "model_version": r["model_version"],
                                "rows": r["rows"], "estimated_f1": r["f1"],
                                "estimated_precision": r["precision_at_n"], "top_n": r["top_n"],
                                "realized_f1": None, "realized_precision": None, "realized_at": None}
        elif r["name"] in found:
            found[r["name"]].update(realized_f1=r["f1"], realized_precision=r["precision_at_n"],
                                    realized_at=r["run_at"])
    return list(reversed(found.values()))[:limit]


def decision_words(d: dict[str, Any]) -> str:
    """One champion/challenger decision as a manager reads it: what was done, and why (no F1)."""
    champion = artifacts.version_name(d["champion_version"])
    compared = d["champion_f1"] is not None and d["challenger_f1"] is not None
    # Where, not the figures: the run history's are F1 (the operator's, appendix D); page 1 gives
    # the list's measure of the model that made the list.
    figures = f"on {d['rows']:,} recent clients held out of its training" if compared else ""
    if d["decision"] == "deploy":
        new = artifacts.version_name(d["deployed_version"]) if d["deployed_version"] else "a new model"
        why = (f"the model retrained on the recent extracts did clearly better {figures}"
               if compared and d["rule"] == "challenger" else d["reason"])
        return f"Deployed {new} in place of {champion}: {why}."
    if d["decision"] == "wait":
        return (f"Kept {champion}, no comparison yet: too few recent clients with known outcomes "
                "to compare it fairly with a retrained model; their outcomes accumulate.")
    why = (f"a model retrained on the recent extracts was not clearly better {figures}"
           if compared and d["rule"] == "challenger" else d["reason"])
    return f"Kept {champion}: {why}."


def call_list_of(cfg: config.Config, manifest: dict[str, Any]) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The published call list; published now if there is none of the deployed model."""
    try:
        ranking, summary = scoring.read_call_list(cfg)
        if summary.get("model_sha256") == manifest["model_sha256"]:
            return ranking, summary
        log.info("the published call list is of another model: publishing the deployed model's")
    except scoring.CallListMissing:
        log.info("no call list published yet: publishing it")
    published = scoring.publish_call_list(cfg)
    return published.ranking, published.summary


def gather(cfg: config.Config, model: Any, manifest: dict[str, Any]) -> ReportData:
    """Read what the report shows: the call list, test and ingested data, recorded history."""
    ranking, summary = call_list_of(cfg, manifest)
    test = contract.read_csv(cfg.test_data_file)
    data = contract.read_csv(cfg.finaldata_path, require_target=False)
    return ReportData(
        created_at=datetime.now(timezone.utc).replace(microsecond=0),
        manifest=manifest,
        f1=scoring.f1_of(model, test),
        counts=confusion_counts(model, test),
        ranking=ranking,
        call_list=summary,
        thresholds=scoring.band_thresholds(cfg),
        statistics=diagnostics.summary_statistics(data),
        missing=diagnostics.missing_percent(data),
        extracts=extract_attrition(cfg, data),
        diagnostics=diagnostics.latest_diagnostics(cfg),
        deployments=history.rows(cfg.history_path, "deployments", limit=TREND_RUNS),
        scores=history.rows(cfg.history_path, "scores", limit=TREND_RUNS),
        diagnostics_runs=history.rows(cfg.history_path, "diagnostics", limit=TREND_RUNS),
        drift_checks=history.rows(cfg.history_path, "drift_checks", limit=TREND_RUNS),
        quarantined=held_back(cfg.history_path),
        decisions=history.rows(cfg.history_path, "challenger_decisions", limit=DECISIONS),
        estimates=label_free_estimates(cfg.history_path),
        quarantine_log=history.rows(cfg.history_path, "quarantine", limit=DECISIONS),
        values=clientinfo.value_by_band(ranking, cfg.client_info_file),
        calling=calling_words(cfg),
    )


def calling_words(cfg: config.Config) -> str | None:
    """The effect of calling in one sentence, once the team has a holdout on record (else None)."""
    if not cfg.team_db_path.exists():
        return None
    with TeamDb(cfg.team_db_path) as db:
        if not db.holdout():
            return None
        result = effect.current_effect(cfg, db)
    o = result.overall
    words = f"Does calling help? {o.verdict[:1].upper()}{o.verdict[1:]}"
    if o.difference is not None:
        words += (f": exits among listed minus held-out clients {100 * o.difference:+.1f} points "
                  f"(95 % interval {100 * o.low:+.1f} to {100 * o.high:+.1f})")
    return words + f" ({o.listed:,} listed, {o.held_out:,} held out with a known outcome)."
