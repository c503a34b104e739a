"""Step 4, reporting: the managers' report on the published call list, engineering pages after it.

The work of `reporting.py` (its command line lives there).
"""
from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from risk import artifacts, config
from risk.data import contract
from risk.model import scoring
from risk.reports import report_appendix
from risk.reports import report_pdf as draw
from risk.reports.report_facts import ReportData, confusion_counts, gather
from risk.reports.report_managers import MANAGER_PAGES

if TYPE_CHECKING:
    pass

log = logging.getLogger("reporting")

LABELS = ("stayed", "exited")
CONFUSION_MATRIX = "confusionmatrix.png"
REPORT = "report.pdf"
KEPT_REPORT = "report_{:%Y%m%dT%H%M%S}.pdf"
PAGES = 9


# --- confusion matrix ----------------------------------------------------------

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
