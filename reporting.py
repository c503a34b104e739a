"""Step 4, reporting: the managers' report on the published call list, engineering pages after it.

Reads  the deployed model (hash-checked) and its manifest, the published call list
       (scoring.read_call_list; published first if there is none for this model),
       test_data_path/testdata.csv, output_folder_path/finaldata.csv and ingestion.json,
       the run history (deployments, scores, ingestions, diagnostics, drift checks,
       quarantine, challenger_decisions, estimates)
Writes output_model_path/confusionmatrix.png          the deployed model on the test data
       output_model_path/report.pdf                   the latest report
       output_model_path/report_YYYYmmddTHHMMSS.pdf   the same report, kept (UTC time)

Pages 1-4 are for client managers: who to call and why, what the calls can
achieve, the trends of attrition and of the list's quality, how the model
did on the test clients, and (when the retraining loop has recorded any) the
extracts held back by the quality gate and the latest model decision. The
appendix (pages 5-8, report_appendix.py) is for the engineers: data
statistics, step timings, dependencies, drift checks, the quality gate's
and champion/challenger decisions. This module
decides what the pages say; report_pdf.py draws them.

    python reporting.py [--config config.json]
"""
from __future__ import annotations

import logging
import shlex
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.metrics import confusion_matrix

import artifacts
import cli
import config
import contract
import diagnostics
import history
import report_appendix
import report_pdf as draw
import scoring
from errors import StepError

if TYPE_CHECKING:
    from matplotlib.figure import Figure

log = logging.getLogger("reporting")

LABELS = ("stayed", "exited")
CONFUSION_MATRIX = "confusionmatrix.png"
REPORT = "report.pdf"
KEPT_REPORT = "report_{:%Y%m%dT%H%M%S}.pdf"
PAGES = 8
TOP = 20  # clients on the call-list page
TREND_RUNS = 500  # newest history rows plotted: a page shows no more detail than that
DECISIONS = 12  # newest champion/challenger decisions and label-free estimates listed
RELEASE_COMMAND = "python fullprocess.py --release-quarantined"
BLIND_SPOT = ("The estimate is worked out from the model's own predicted probabilities, before "
              "outcomes are known. It follows shifts in who the clients are, but it cannot see a "
              "change in who leaves: if clients start leaving for other reasons, the estimate stays "
              "where it was while the real F1 falls. The realized F1 replaces it once outcomes arrive.")
BAND_COLORS = {"high": "#b2182b", "elevated": "#d6604d", "moderate": "#8c6d1f", "low": "#4d4d4d"}


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

    @property
    def loop_recorded(self) -> bool:
        """Whether the retraining loop has recorded anything the managers should see."""
        return bool(self.quarantined or self.decisions or self.estimates)


# --- confusion matrix ----------------------------------------------------------

def confusion_counts(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """2x2 counts of `model` on a labeled frame: rows actual, columns predicted, (stayed, exited)."""
    predicted = model.predict(contract.feature_matrix(frame))
    return confusion_matrix(frame[contract.TARGET].to_numpy(), predicted, labels=[0, 1])


def save_confusion_matrix(counts: np.ndarray, path: Path, title: str) -> Path:
    """Save confusion-matrix counts as a PNG at `path`, atomically."""
    fig = draw.figure((5.2, 4.8))
    draw.confusion_matrix(fig.add_subplot(), counts, LABELS, title)
    fig.tight_layout()
    artifacts.write_atomic(path, draw.png(fig))
    return path


def plot_confusion_matrix(model: Any, frame: pd.DataFrame, path: Path, title: str | None = None) -> Path:
    """Save the confusion matrix of `model` on the labeled `frame` as a PNG at `path`."""
    title = title or f"{len(frame):,} clients, F1 {scoring.f1_of(model, frame):.3f}"
    return save_confusion_matrix(confusion_counts(model, frame), path, title)


def score_model(*, config_path: str | Path | None = None) -> Path:
    """The course's name: the deployed model's confusion matrix on the test data, as confusionmatrix.png."""
    cfg = config.load(config_path)
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    test = contract.read_csv(cfg.test_data_file)
    return plot_confusion_matrix(
        model, test, cfg.output_model_path / CONFUSION_MATRIX,
        f"Model {artifacts.version_name(manifest['version'])} on {len(test):,} test clients, F1 {scoring.f1_of(model, test):.3f}",
    )


# --- facts the pages state -------------------------------------------------------

def extract_attrition(cfg: config.Config, data: pd.DataFrame) -> list[dict[str, Any]]:
    """Per ingested extract, oldest first: file, when it arrived, rows, share of clients who left.

    finaldata.csv holds the extracts one after the other in ingestion.json's
    order, `rows_kept` rows each; when the record does not describe this
    finaldata.csv, there is no trend rather than a wrong one.
    """
    try:
        record = artifacts.read_json(cfg.ingestion_record_path)
    except artifacts.ArtifactError:
        return []
    files = [f for f in record.get("files", []) if f.get("status") == "ingested"]
    if (record.get("finaldata_sha256") != artifacts.sha256_file(cfg.finaldata_path)
            or sum(f["rows_kept"] for f in files) != len(data)):
        return []
    arrived: dict[tuple[str, str], str] = {}
    for r in history.rows(cfg.history_path, "ingestions"):
        if r["status"] == "ingested":
            arrived.setdefault((r["file"], r["sha256"]), r["run_at"])
    exited = data[contract.TARGET].to_numpy(dtype=float)
    out, start = [], 0
    for f in files:
        block = exited[start:start + f["rows_kept"]]
        start += f["rows_kept"]
        if f["rows_kept"]:
            out.append({"file": f["name"], "rows": int(f["rows_kept"]),
                        "arrived_at": arrived.get((f["name"], f["sha256"]), record["ingested_at"]),
                        "attrition": float(np.nanmean(block)) if np.isfinite(block).any() else None})
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
    """One champion/challenger decision as a manager reads it: what was done, and why."""
    champion = artifacts.version_name(d["champion_version"])
    compared = d["champion_f1"] is not None and d["challenger_f1"] is not None
    figures = (f"F1 {d['challenger_f1']:.3f} against {d['champion_f1']:.3f} on {d['rows']:,} recent "
               "clients held out of its training" if compared else "")
    if d["decision"] == "deploy":
        new = artifacts.version_name(d["deployed_version"]) if d["deployed_version"] else "a new model"
        why = (f"the model retrained on the recent extracts did clearly better ({figures})"
               if compared and d["rule"] == "challenger" else d["reason"])
        return f"Deployed {new} in place of {champion}: {why}."
    if d["decision"] == "wait":
        return (f"Kept {champion}, no comparison yet: too few recent clients with known outcomes "
                "to compare it fairly with a retrained model; their outcomes accumulate.")
    why = (f"a model retrained on the recent extracts was not clearly better ({figures})"
           if compared and d["rule"] == "challenger" else d["reason"])
    return f"Kept {champion}: {why}."


def _band_ranges(thresholds: tuple[float, float, float]) -> dict[str, str]:
    high, elevated, moderate = (round(t * 100) for t in thresholds)
    return {"high": f"{high} % or more", "elevated": f"{elevated} % to {high} %",
            "moderate": f"{moderate} % to {elevated} %", "low": f"under {moderate} %"}


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"


# --- the managers' pages ------------------------------------------------------------

def _page_summary(data: ReportData) -> Figure:
    fig = draw.figure()
    s, m = data.call_list, data.manifest
    q = s["quality"]
    n = q["n"]
    top = draw.text(fig, draw.MARGIN, "Client attrition risk: who to call first", size=20,
                    fontweight="bold", color=draw.INK)
    top = draw.text(fig, top + 0.05, f"Report of {draw.when(data.created_at)}; call list published "
                    f"{draw.when(s['published_at'])} by model {artifacts.version_name(s['model_version'])}",
                    size=10.5, color=draw.GREY) + 0.3

    top = draw.heading(fig, top, "At a glance")
    changed = data.ranking["change"].value_counts()
    if s["left_count"] or len(changed.drop("", errors="ignore")):
        changes = (f"• Since the previous list: {changed.get('new', 0):,} new to the top {n}, "
                   f"{changed.get('up', 0):,} moved up a band, {changed.get('down', 0):,} down; "
                   f"{s['left_count']:,} left the list (they exited or are no longer listed).")
    else:
        changes = "• No change since the previous list (or this is the first one)."
    bands = ", ".join(f"{s['bands'][b]:,} {b}" for b in scoring.BANDS)
    glance = [
        f"• {s['clients']:,} current clients ranked by their risk of leaving: {bands}. "
        "Clients who have already left are not on the list.",
        f"• Call first: the clients on page 2, highest risk first, each with the reasons the model "
        f"gives. The whole list is {scoring.RISK_RANKING}.",
        changes,
    ]
    if s["left_count"]:
        names = ", ".join(s["left_since_previous"][:12])
        more = f" and {s['left_count'] - 12:,} more" if s["left_count"] > 12 else ""
        glance.append(f"• Left since the previous list: {names}{more}.")
    top = draw.text(fig, top, "\n".join(glance), size=10.5, linespacing=1.5) + 0.15

    top = draw.heading(fig, top, f"If the team calls the {n} riskiest clients")
    base = q["base_rate"] or 0.0
    lines = [
        f"• On {int(data.counts.sum()):,} test clients whose outcome is known, {_share(q['precision_at_n'])} "
        f"of the {n} the model ranks riskiest did leave (precision at {n}).",
        f"• Those {n} calls reach {_share(q['recall_at_n'])} of all the clients who left (recall at {n}).",
        f"• Without the list, {_share(base)} of clients leave (base rate): {n} calls at random would "
        f"find about {base * n:.0f} leavers; the list finds about {(q['precision_at_n'] or 0) * n:.0f}.",
        f"• For the data scientist: F1 {q['f1']:.3f} on the test clients (1 is perfect). Model "
        f"{artifacts.version_name(m['version'])}, deployed {draw.when(m['deployed_at'])}, trained on "
        f"{m.get('training', {}).get('rows', 0):,} client records.",
    ]
    top = draw.text(fig, top, "\n".join(lines), size=10.5, linespacing=1.5) + 0.15

    top = draw.heading(fig, top, "Risk bands")
    ranges = _band_ranges(data.thresholds)
    total = max(s["clients"], 1)
    rows = [[b, ranges[b], f"{s['bands'][b]:,}", f"{s['bands'][b] / total:.1%}"] for b in scoring.BANDS]
    colors = [[BAND_COLORS[b], None, None, None] for b in scoring.BANDS]
    top = draw.table(fig, top, ["Band", "Risk of leaving", "Clients", "Share"], rows,
                     [1.3, 1.8, 1, 1], "llrr", size=10, colors=colors) + 0.3
    top = draw.heading(fig, top, "How to read the list", size=11.5)
    draw.note(fig, top, "\n".join([
        "• Risk: the model's estimate, in whole percent, that the client leaves.",
        "• Reasons: what in the client's latest figures raises its risk most, against an average "
        "client, worked out from the model itself (no reasons are invented for a model that can't give them).",
        f"• Change: new = entered the top {n} since the previous list; up / down = its risk band "
        "rose / fell; blank = no change.",
    ]))
    return fig


def _page_call_list(data: ReportData) -> Figure:
    fig = draw.figure()
    head = data.ranking.head(TOP)
    top = draw.heading(fig, draw.MARGIN, f"Clients to call first: the {len(head)} at highest risk")
    top = draw.note(fig, top, f"Of {len(data.ranking):,} current clients; all are in "
                    f"{scoring.RISK_RANKING}. Figures are the client's latest.") + 0.12
    rows = [[str(r["rank"]), r[contract.ID], r["band"], f"{r['risk_percent']} %", r["change"] or "",
             r["reasons"]] for r in head.to_dict("records")]
    colors = [[None, None, BAND_COLORS.get(r[2]), None, None, None] for r in rows]
    draw.table(fig, top, ["Rank", "Client", "Band", "Risk", "Change", "Why at risk"], rows,
               [0.45, 0.85, 0.8, 0.55, 0.65, 4.4], "llllll", size=8.5, wrap_cols="5", colors=colors)
    return fig


def _page_trends(data: ReportData) -> Figure:
    fig = draw.figure()
    top = draw.heading(fig, draw.MARGIN, "Trends")
    ax = draw.axes(fig, top + 0.45, 3.4)
    ex = [e for e in data.extracts if e["attrition"] is not None]
    ax.set_title("Share of clients who left, per extract, oldest first", loc="left")
    ax.set_ylabel("% left")
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(True, axis="y", color="#e5e5e5")
    if ex:
        # Bars by extract, not a time axis: extracts ingested in one run share a moment.
        shares = [e["attrition"] * 100 for e in ex]
        ax.bar(range(len(ex)), shares, color="#d6604d", width=0.6)
        every = max(1, len(ex) // 10)  # at most ~10 names: they must not overlap
        ax.set_xticks(range(0, len(ex), every),
                      [Path(e["file"]).stem for e in ex][::every], rotation=20 if len(ex) > 4 else 0,
                      ha="right" if len(ex) > 4 else "center")
        for i, share in enumerate(shares):
            if len(ex) <= 24:
                ax.annotate(f"{share:.1f} %", (i, share), textcoords="offset points", xytext=(0, 3),
                            ha="center", fontsize=7.5)
        ax.set_ylim(0, max(5.0, 1.2 * max(shares)))
    else:
        ax.text(0.5, 0.5, "no extract recorded for the ingested data", ha="center", va="center",
                transform=ax.transAxes, color="#888888")
        ax.set_xticks([])

    ax = draw.axes(fig, top + 4.9, 3.9)
    deployed = [d for d in quality_per_deployment(data) if d.get("f1") is not None]
    times = draw.dates(deployed)
    if deployed:
        n = next((d["n"] for d in reversed(deployed) if d.get("n")), None)
        style = {"drawstyle": "steps-post", "marker": draw.marker(len(deployed), "o")}
        ax.plot(times, [d["f1"] for d in deployed], label="F1", color="#1f77b4", **style)
        for key, label, color in (("precision_at_n", f"precision at {n}", "#2ca02c"),
                                  ("recall_at_n", f"recall at {n}", "#9467bd"),
                                  ("base_rate", "base rate (no list)", "#888888")):
            pts = [(t, d[key]) for t, d in zip(times, deployed) if d.get(key) is not None]
            if pts:
                ax.plot(*zip(*pts), label=label, color=color,
                        linestyle="--" if key == "base_rate" else "-", **style)
        rollbacks = [(t, d["f1"]) for t, d in zip(times, deployed) if d["action"] == "rollback"]
        if rollbacks:
            ax.plot(*zip(*rollbacks), "x", color="#d62728", markersize=8, markeredgewidth=2,
                    label="rollback")
        draw.label_points(ax, times, [d["f1"] for d in deployed], [f"v{d['version']}" for d in deployed])
        ax.set_ylim(0, 1.08)
        ax.margins(x=0.08)
        ax.legend(frameon=False, fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.22), ncol=5)
    draw.time_axis(ax, "Quality of each deployed model on the test clients", "share", times)
    return fig


def _page_confusion(data: ReportData) -> Figure:
    fig = draw.figure()
    counts = data.counts
    tn, fp, fn, tp = (int(x) for x in counts.ravel())
    top = draw.heading(fig, draw.MARGIN, "How the model did on the test clients")
    top = draw.note(fig, top, "Each square counts test clients by what the model predicted (columns) "
                    "and what they actually did (rows). Green squares are right answers, red ones wrong; "
                    "the darker, the more clients.") + 0.6
    size = 3.2 if data.loop_recorded else 4.4  # room for the section below
    w = fig.get_figwidth()
    ax = draw.axes(fig, top, size, left=(w - size) / 2 + 0.2)
    ax.set_box_aspect(1)
    draw.confusion_matrix(ax, counts, LABELS,
                          f"Model {artifacts.version_name(data.manifest['version'])}: {int(counts.sum()):,} test clients")
    top += size + 0.8
    exited, flagged = tp + fn, tp + fp
    top = draw.note(fig, top, "\n".join([
        f"• Of the {exited:,} test clients who left, the model flagged {tp:,} ({tp / max(exited, 1):.0%}); "
        f"{fn:,} left without being flagged (bottom left).",
        f"• Of the {flagged:,} clients it flagged, {tp:,} did leave ({tp / max(flagged, 1):.0%}); "
        f"{fp:,} calls would not have been needed (top right).",
        f"• F1 score {data.f1:.3f} (1 is perfect, 0 is useless). The call list ranks by risk "
        "instead of a yes/no flag: page 1 says what calling its top clients achieves.",
    ]), size=10, linespacing=1.5)
    if data.loop_recorded:
        _section_held_back_and_decisions(fig, top + 0.3, data)
    return fig


HELD_BACK_LISTED = 3  # quarantined extracts named on the managers' page; the web page names them all
HELD_BACK_CHARS = 190  # one extract's name, date and reason: two lines at most, so the section fits


def _section_held_back_and_decisions(fig: Figure, top: float, data: ReportData) -> float:
    """Extracts the quality gate holds back, the latest model decision, the newest label-free estimate."""
    top = draw.heading(fig, top, "Data held back and model decisions", size=11.5)

    def say(words: str, indent: float = 0.0) -> float:
        return draw.note(fig, top, (words), size=9.5, linespacing=1.4,
                         left=draw.MARGIN + indent) + 0.04

    held = data.quarantined
    if held:
        top = say(f"• {len(held)} extract{'' if len(held) == 1 else 's'} held back by the quality gate: "
                  "not used for the list, drift checks or training until an operator has checked the "
                  f"file and released it ({RELEASE_COMMAND} NAME).")
        for q in held[-HELD_BACK_LISTED:][::-1]:
            item = f"{q['name']} ({draw.when(q['run_at'])[:11]}): {q['reason']}"
            top = say(textwrap.shorten(item, HELD_BACK_CHARS, placeholder=" …"), indent=0.25)
        if len(held) > HELD_BACK_LISTED:
            top = say(f"and {len(held) - HELD_BACK_LISTED} older: the web page's header names them all.", indent=0.25)
    else:
        top = say("• No extract is held back by the quality gate.")
    if data.decisions:
        last = data.decisions[-1]
        top = say(f"• Latest model decision, {draw.when(last['run_at'])}: {decision_words(last)}")
    waiting = next((e for e in data.estimates if e["realized_f1"] is None), None)
    if waiting is not None:
        precision = ("" if waiting["estimated_precision"] is None else
                     f", about {waiting['estimated_precision']:.0%} of its top {waiting['top_n']} leaving")
        top = say(f"• {waiting['name']} has no outcomes yet: on its {waiting['rows']:,} clients the model's "
                  f"F1 is estimated at {waiting['estimated_f1']:.2f}{precision}. The estimate sees shifts "
                  "in who the clients are, not a change in who leaves.")
    return top


MANAGER_PAGES = (_page_summary, _page_call_list, _page_trends, _page_confusion)
APPENDIX_PAGES = report_appendix.PAGES


def render_pdf(data: ReportData) -> bytes:
    """The report as PDF bytes: the managers' pages, then the engineers' appendix."""
    meta = {"Title": "Client attrition risk report", "Author": "risk assessment system",
            "Subject": f"model {artifacts.version_name(data.manifest['version'])}", "CreationDate": data.created_at}
    return draw.render([lambda p=page: p(data) for page in (*MANAGER_PAGES, *APPENDIX_PAGES)], meta)


def _kept_path(folder: Path, created_at: datetime) -> Path:
    """A name for the kept copy that no earlier report has (two reports in one second happen)."""
    path = folder / KEPT_REPORT.format(created_at)
    n = 2
    while path.exists():
        path = path.with_name(f"{KEPT_REPORT.format(created_at)[:-4]}-{n}.pdf")
        n += 1
    return path


# --- the step ------------------------------------------------------------------

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
    )


def make_report(cfg: config.Config) -> dict[str, Path]:
    """Write the confusion matrix and the PDF report of the deployed model and its call list.

    Returns where each went: keys "confusion matrix", "report", "kept report".
    """
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    data = gather(cfg, model, manifest)
    out = cfg.output_model_path

    png = save_confusion_matrix(
        data.counts, out / CONFUSION_MATRIX,
        f"Model {artifacts.version_name(manifest['version'])} on {int(data.counts.sum()):,} test clients, F1 {data.f1:.3f}",
    )
    log.info("wrote %s (model %s, F1 %.4f on %s)", png, artifacts.version_name(manifest["version"]),
             data.f1, cfg.test_data_file.name)

    pdf = render_pdf(data)
    kept = _kept_path(out, data.created_at)
    artifacts.write_atomic(kept, pdf)
    artifacts.write_atomic(out / REPORT, pdf)
    log.info("wrote %s and %s (%d pages)", out / REPORT, kept.name, PAGES)
    if data.diagnostics is None:
        log.warning("no diagnostics recorded yet: the report has no timings or dependency status")
    return {"confusion matrix": png, "report": out / REPORT, "kept report": kept}


def summary(made: dict[str, Path]) -> str:
    """Where each output went, one line each, for the user."""
    return "\n".join(f"{name} -> {path}" for name, path in made.items())


def main(argv: list[str] | None = None) -> int:
    args = cli.parser(__doc__).parse_args(argv)
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        made = make_report(cfg)
    except StepError as exc:
        return cli.failed(exc)
    print(summary(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
