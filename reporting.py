"""Step 4, reporting: confusion matrix, PDF report and ranked client risk list of the deployed model.

Reads  the deployed model (hash-checked) and its manifest, test_data_path/testdata.csv,
       output_folder_path/finaldata.csv, the run history (diagnostics, deployments)
Writes output_model_path/confusionmatrix.png          the deployed model on the test data
       output_model_path/risk_ranking.csv             every ingested client, highest risk first
       output_model_path/report.pdf                   the latest report, five pages
       output_model_path/report_YYYYmmddTHHMMSS.pdf   the same report, kept (UTC time)

Each file is written atomically. The report shows the latest recorded
diagnostics (timing, dependency status): run diagnostics.py first.

    python reporting.py [--config config.json]
"""
from __future__ import annotations

import io
import json
import logging
import sys
import textwrap
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
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
import scoring
from errors import StepError

if TYPE_CHECKING:  # plotting libraries cost a second to import; only drawing needs them
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

log = logging.getLogger("reporting")

LABELS = ("stayed", "exited")
CONFUSION_MATRIX = "confusionmatrix.png"
RISK_RANKING = "risk_ranking.csv"
REPORT = "report.pdf"
KEPT_REPORT = "report_{:%Y%m%dT%H%M%S}.pdf"
PAGES = 5
TOP = 20
TREND_RUNS = 500  # newest history rows plotted: a page shows no more detail than that
A4 = (8.27, 11.69)  # inches, portrait
MARGIN = 0.7


@dataclass
class ReportData:
    """Everything the PDF shows, gathered before drawing: the drawing reads no files."""
    created_at: datetime
    manifest: dict[str, Any]
    f1: float
    counts: np.ndarray  # confusion matrix: rows actual (stayed, exited), columns predicted
    ranking: pd.DataFrame
    statistics: dict[str, dict[str, float]]
    missing: dict[str, float]
    diagnostics: dict[str, Any] | None = None
    deployments: list[dict[str, Any]] = field(default_factory=list)
    diagnostics_runs: list[dict[str, Any]] = field(default_factory=list)
    drift_checks: list[dict[str, Any]] = field(default_factory=list)


# --- confusion matrix ----------------------------------------------------------

def confusion_counts(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """2x2 counts of `model` on a labeled frame: rows actual, columns predicted, (stayed, exited)."""
    predicted = model.predict(contract.feature_matrix(frame))
    return confusion_matrix(frame[contract.TARGET].to_numpy(), predicted, labels=[0, 1])


def draw_confusion_matrix(ax: Axes, counts: np.ndarray, title: str) -> None:
    """Draw `counts` on `ax` as a labeled heatmap with each cell's count and share."""
    import seaborn as sns

    total = max(int(counts.sum()), 1)
    annot = [[f"{c:,}\n{c / total:.1%}" for c in row] for row in counts]
    sns.heatmap(
        counts, annot=annot, fmt="", cmap="Blues", cbar=False, square=True, ax=ax,
        xticklabels=LABELS, yticklabels=LABELS, linewidths=2, linecolor="white",
        annot_kws={"fontsize": 13},
    )
    ax.set_xlabel("Predicted by the model", fontsize=11)
    ax.set_ylabel("What the client did", fontsize=11)
    ax.tick_params(labelsize=11, length=0)
    ax.set_yticklabels(LABELS, rotation=0)
    ax.set_title(title, fontsize=12, pad=10)


def _figure(size: tuple[float, float]) -> Figure:
    # A bare Figure, not pyplot: no global figure registry, no GUI backend, safe in threads.
    from matplotlib.figure import Figure
    return Figure(figsize=size)


def _png(fig: Figure) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=150)
    return buf.getvalue()


def save_confusion_matrix(counts: np.ndarray, path: Path, title: str) -> Path:
    """Save confusion-matrix counts as a PNG at `path`, atomically."""
    fig = _figure((5.2, 4.8))
    draw_confusion_matrix(fig.add_subplot(), counts, title)
    fig.tight_layout()
    artifacts.write_atomic(path, _png(fig))
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
        f"Model v{manifest['version']} on {len(test):,} test clients, F1 {scoring.f1_of(model, test):.3f}",
    )


# --- ranked risk list ----------------------------------------------------------

def write_risk_ranking(ranking: pd.DataFrame, path: Path) -> Path:
    """Write a ranking (see diagnostics.ranked_clients) as CSV; whole numbers without '.0'."""
    # Features as nullable integers: pandas writes them in C, where a float_format
    # would format each of a million values in Python.
    whole = {c: "Int64" for c in contract.FEATURES if c in ranking.columns}
    data = ranking.astype(whole).to_csv(index=False, lineterminator="\n").encode()
    artifacts.write_atomic(path, data)
    return path


# --- the PDF -------------------------------------------------------------------

def _when(text_or_time: str | datetime) -> str:
    t = datetime.fromisoformat(text_or_time) if isinstance(text_or_time, str) else text_or_time
    return f"{t.astimezone(timezone.utc):%d %b %Y, %H:%M} UTC"


def _wrap(text: str, width_in: float, size: float) -> str:
    """`text` with each line wrapped to fit `width_in` inches at `size` points.

    matplotlib does not wrap text to a width; about half an em per character
    is what DejaVu Sans (its default font) averages on English text.
    """
    chars = max(20, int(width_in * 72 / (size * 0.5)))
    return "\n".join(
        textwrap.fill(line, chars, subsequent_indent="   " if line.startswith("•") else "")
        for line in text.splitlines()
    )


def _text(fig: Figure, top: float, text: str, size: float = 10, linespacing: float = 1.3,
          **kw: Any) -> float:
    """Write `text`, wrapped to the page, at `top` inches from the page top.

    Returns the inches below its last line.
    """
    width, height = fig.get_figwidth(), fig.get_figheight()
    text = _wrap(text, width - 2 * MARGIN, size)
    fig.text(MARGIN / width, 1 - top / height, text, fontsize=size, va="top",
             linespacing=linespacing, **kw)
    lines = text.count("\n") + 1
    return top + lines * size * linespacing * 1.15 / 72


def _table(fig: Figure, top: float, header: list[str], rows: list[list[str]],
           widths: list[float], align: str, row_h: float = 0.25, size: float = 9) -> float:
    """Draw a table `top` inches from the page top; `align` has an 'l' or 'r' per column.

    A header may break into lines with "\n". Returns the inches below the table.
    """
    from matplotlib.table import Table

    w, h = fig.get_figwidth(), fig.get_figheight()
    header_h = row_h * (1 + 0.6 * max(label.count("\n") for label in header))
    table_h = row_h * len(rows) + header_h
    ax = fig.add_axes((MARGIN / w, 1 - (top + table_h) / h, (w - 2 * MARGIN) / w, table_h / h))
    ax.axis("off")
    table = Table(ax, bbox=(0, 0, 1, 1))
    inches = [(w - 2 * MARGIN) * x / sum(widths) for x in widths]
    for r, row in enumerate([header, *rows]):
        for c, text in enumerate(row):
            cell = table.add_cell(
                r, c, width=inches[c], height=header_h if r == 0 else row_h, text=text,
                loc="left" if align[c] == "l" else "right",
                facecolor="#e8eef6" if r == 0 else "#f7f7f7" if r % 2 == 0 else "white",
                edgecolor="#cccccc",
            )
            cell.set_linewidth(0.5)
            cell.PAD = 0.07 / inches[c]  # a fraction of the cell's width: same inset in every column
            cell.get_text().set_fontsize(size)
            if r == 0:
                cell.get_text().set_fontweight("bold")
    ax.add_table(table)
    return top + table_h


def _heading(fig: Figure, top: float, text: str) -> float:
    return _text(fig, top, text, size=13, fontweight="bold", color="#1f3b63") + 0.08


def _percent(p: float) -> str:
    return f"{p * 100:.1f} %"


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _page_summary(data: ReportData) -> Figure:
    fig = _figure(A4)
    m, counts, ranking = data.manifest, data.counts, data.ranking
    top = _text(fig, MARGIN, "Client attrition risk report", size=20, fontweight="bold", color="#1f3b63")
    top = _text(fig, top + 0.05, _when(data.created_at), size=11, color="#555555") + 0.3

    likely = int((ranking["attrition_probability"] >= 0.5).sum())
    _, fp, fn, tp = (int(x) for x in counts.ravel())
    exited, flagged = tp + fn, tp + fp
    top = _heading(fig, top, "At a glance")
    glance = [
        f"• {len(ranking):,} clients ranked by their risk of leaving; "
        f"{likely:,} ({likely / max(len(ranking), 1):.1%}) are more likely to leave than to stay.",
        f"• Call first: the {min(TOP, len(ranking))} clients on page 2. The full list is {RISK_RANKING}.",
        f"• Model version {m['version']}, deployed {_when(m['deployed_at'])}, "
        f"trained on {m.get('training', {}).get('rows', 0):,} client records.",
        f"• F1 score on {int(counts.sum()):,} test clients whose outcome is known: "
        f"{data.f1:.3f} (1 is perfect, 0 is useless).",
        f"• Of the {exited:,} test clients who left, the model flagged {tp:,} "
        f"({tp / max(exited, 1):.0%}); of the {flagged:,} clients it flagged, {tp:,} did leave "
        f"({tp / max(flagged, 1):.0%}).",
    ]
    top = _text(fig, top, "\n".join(glance), size=10.5, linespacing=1.5) + 0.1

    top = _heading(fig, top, "How the model did on the test clients")
    top = _text(fig, top, "Each square counts test clients by what the model predicted (columns) "
                "and what they actually did (rows). The diagonal holds the correct predictions.",
                size=9.5, color="#333333") + 0.55  # room for the matrix's title
    w, h = fig.get_figwidth(), fig.get_figheight()
    size = 4.2
    ax = fig.add_axes(((w - size) / 2 / w, 1 - (top + size) / h, size / w, size / h))
    draw_confusion_matrix(ax, counts, f"Model v{m['version']}: {int(counts.sum()):,} test clients")
    top += size + 0.75  # below the tick and axis labels
    _text(fig, top,
          f"Bottom left: {fn:,} clients who left without being flagged (missed). "
          f"Top right: {fp:,} clients flagged who stayed (a call that was not needed).",
          size=9.5, color="#333333")
    return fig


def _page_top_clients(data: ReportData) -> Figure:
    fig = _figure(A4)
    top = _heading(fig, MARGIN, f"Clients to call first: the {min(TOP, len(data.ranking))} at highest risk")
    top = _text(fig, top, "Risk is the model's probability that the client leaves. Activity and "
                "employees are the client's latest figures (a dash marks a figure missing "
                f"from the data). All {len(data.ranking):,} clients are in {RISK_RANKING}.",
                size=9.5, color="#333333") + 0.15
    rows = [
        [str(r["rank"]), str(r[contract.ID]), _percent(r["attrition_probability"]),
         _number(r["lastmonth_activity"]), _number(r["lastyear_activity"]),
         _number(r["number_of_employees"])]
        for _, r in data.ranking.head(TOP).iterrows()
    ]
    top = _table(fig, top, ["Rank", "Client", "Risk of\nleaving", "Activity\nlast month",
                            "Activity\nlast year", "Employees"],
                 rows, [0.7, 1.5, 1.2, 1.2, 1.2, 1.2], "llrrrr", row_h=0.28, size=10) + 0.5

    top = _heading(fig, top, "All clients by risk")
    p = data.ranking["attrition_probability"]
    bands = [("70 % or more", p >= 0.7), ("50 % to 70 %", (p >= 0.5) & (p < 0.7)),
             ("30 % to 50 %", (p >= 0.3) & (p < 0.5)), ("under 30 %", p < 0.3)]
    n = max(len(p), 1)
    rows = [[name, f"{int(mask.sum()):,}", f"{mask.sum() / n:.1%}"] for name, mask in bands]
    _table(fig, top, ["Risk of leaving", "Clients", "Share"], rows, [2, 1, 1], "lrr", row_h=0.28, size=10)
    return fig


def _dependency_status(dep: dict[str, Any]) -> str:
    if dep["outdated"] is None:
        return "unknown"
    return f"outdated ({dep['latest_for_python']} available)" if dep["outdated"] else "up to date"


def _page_health(data: ReportData) -> Figure:
    fig = _figure(A4)
    top = _heading(fig, MARGIN, "The data the model learned from")
    rows = []
    for col, pct in data.missing.items():
        s = data.statistics.get(col)
        cells = [_number(s[k], 2) for k in ("mean", "median", "std")] if s else ["", "", ""]
        rows.append([col, *cells, f"{pct:.2f} %"])
    top = _text(fig, top, "Ingested dataset (finaldata.csv): mean, median and standard deviation "
                "of each numeric column, and the share of missing values.",
                size=9.5, color="#333333") + 0.12
    top = _table(fig, top, ["Column", "Mean", "Median", "Std. deviation", "Missing"],
                 rows, [2.2, 1.2, 1.2, 1.3, 1.0], "lrrrr") + 0.45

    d = data.diagnostics
    if d is None:
        _text(fig, top, "No diagnostics recorded yet: run diagnostics.py for step timings and "
              "the dependency check.", size=10.5, color="#a33")
        return fig
    top = _heading(fig, top, "Step timings")
    t = d["execution_time"]
    runs = d.get("timing_repeats", 1)
    top = _text(fig, top, f"Wall time of each step run as a script, as of {_when(d['run_at'])} "
                f"({'median of ' + str(runs) + ' runs' if runs > 1 else 'one run'}).",
                size=9.5, color="#333333") + 0.12
    top = _table(fig, top, ["Step", "Seconds"],
                 [["Ingestion (ingestion.py)", f"{t['ingestion_s']:.2f}"],
                  ["Training (training.py)", f"{t['training_s']:.2f}"]], [3, 1], "lr") + 0.45

    top = _heading(fig, top, "Dependencies")
    deps = d["dependencies"]
    top = _text(fig, top, f"Packages of requirements.txt against the package index, as of "
                f"{_when(d['run_at'])}: {sum(bool(x['outdated']) for x in deps)} outdated, "
                f"{sum(x['outdated'] is None for x in deps)} unknown.",
                size=9.5, color="#333333") + 0.12
    rows = [[x["name"], x["pinned"] or "–", x["installed"] or "not installed", x["latest"],
             _dependency_status(x)] for x in deps]
    top = _table(fig, top, ["Package", "Pinned", "Installed", "Latest", "Status"],
                 rows, [1.6, 1.0, 1.1, 1.0, 1.8], "lrrrl") + 0.2
    notes: dict[str, list[str]] = {}
    for x in deps:
        if x["reason"]:
            notes.setdefault(x["reason"], []).append(x["name"])
    if notes:
        text = "\n".join(f"{', '.join(names)}: {reason}" for reason, names in notes.items())
        _text(fig, top, text, size=8.5, color="#555555")
    return fig


def _dates(rows: list[dict[str, Any]]) -> list[datetime]:
    return [datetime.fromisoformat(r["run_at"]) for r in rows]


def _trend_axes(ax: Axes, title: str, ylabel: str, rows: list[dict[str, Any]]) -> None:
    """Title, labels and a time axis for a trend of `rows`, or a note that there are none."""
    import matplotlib.dates as mdates

    ax.set_title(title, fontsize=11, loc="left")
    ax.set_ylabel(ylabel)
    ax.grid(True, color="#e5e5e5")
    ax.spines[["top", "right"]].set_visible(False)
    if not rows:
        ax.text(0.5, 0.5, "nothing recorded yet", ha="center", va="center",
                transform=ax.transAxes, color="#888888")
        ax.set_xticks([])
        return
    times = _dates(rows)
    if min(times) == max(times):
        # One moment only: matplotlib would spread the axis over years.
        ax.set_xlim(min(times) - timedelta(hours=1), max(times) + timedelta(hours=1))
    locator = mdates.AutoDateLocator(minticks=3, maxticks=9)
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))
    ax.set_xlabel("UTC")


def _marker(rows: list[dict[str, Any]], marker: str) -> str | None:
    """`marker` for a short series; none for a long one, where markers would blot out the line."""
    return marker if len(rows) <= 40 else None


def _label_versions(ax: Axes, deployed: list[dict[str, Any]]) -> None:
    """Label points with their version, skipping a label that would sit on the one before it."""
    import matplotlib.dates as mdates

    x = mdates.date2num(_dates(deployed))
    span = (x[-1] - x[0]) or 1.0
    last = None
    # Newest first: the live model's label is the one that must show.
    for r, xi in reversed(list(zip(deployed, x))):
        if last is not None and (last - xi) / span < 0.07:
            continue
        ax.annotate(f"v{r['version']}", (xi, r["f1"]), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=8, color="#444444")
        last = xi


def _page_trends(data: ReportData) -> Figure:
    fig = _figure(A4)
    _heading(fig, MARGIN, "Trends from the run history")
    w, h = fig.get_figwidth(), fig.get_figheight()
    axes = fig.subplots(3, 1, gridspec_kw={
        "left": 1.1 / w, "right": 1 - MARGIN / w, "top": 1 - 1.35 / h, "bottom": 0.8 / h, "hspace": 0.55,
    })

    deployed = [r for r in data.deployments if r.get("f1") is not None]
    ax = axes[0]
    if deployed:
        # The live model's F1 holds until the next deployment: a step line.
        ax.plot(_dates(deployed), [r["f1"] for r in deployed], marker=_marker(deployed, "o"),
                color="#1f77b4", drawstyle="steps-post", label="deployment")
        rollbacks = [r for r in deployed if r["action"] == "rollback"]
        if rollbacks:
            ax.plot(_dates(rollbacks), [r["f1"] for r in rollbacks], "x", color="#d62728",
                    markersize=8, markeredgewidth=2, label="rollback")
            ax.legend(frameon=False, fontsize=9, loc="lower right")
        _label_versions(ax, deployed)
        ax.set_ylim(0, 1.05)
        ax.margins(x=0.08)  # room for the first and last version labels
    _trend_axes(ax, "F1 score of each deployed model on the test data", "F1 score", deployed)

    runs = data.diagnostics_runs
    ax = axes[1]
    if runs:
        x = _dates(runs)
        ax.plot(x, [r["ingestion_s"] for r in runs], marker=_marker(runs, "o"), label="ingestion")
        ax.plot(x, [r["training_s"] for r in runs], marker=_marker(runs, "s"), label="training")
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, fontsize=9, loc="best")
    _trend_axes(ax, "Time each step takes, per diagnostics run", "seconds", runs)

    ax = axes[2]
    missing = [r for r in runs if r.get("missing_percent") is not None]
    if missing:
        ax.plot(_dates(missing), [r["missing_percent"] for r in missing], marker=_marker(missing, "o"),
                color="#d62728")
        ax.set_ylim(bottom=0, top=max(1.0, 1.2 * max(r["missing_percent"] for r in missing)))
    _trend_axes(ax, "Missing values in the ingested data, per diagnostics run",
                "% of all cells", missing)
    return fig


def _page_drift(data: ReportData) -> Figure:
    fig = _figure(A4)
    top = _heading(fig, MARGIN, "Drift checks on new data")
    top = _text(fig, top, "Before new client data is used, fullprocess.py checks whether the "
                "deployed model still predicts as well on it (model drift: a lower F1 on the new "
                "clients) and whether the clients' figures have shifted (data drift, per feature: "
                "population stability index and a Kolmogorov-Smirnov test). On model drift the "
                "model is retrained and redeployed.", size=9.5, color="#333333") + 0.3
    checks = data.drift_checks
    if not checks:
        _text(fig, top, "No drift check recorded yet: they run when new data arrives after the "
              "first deployment.", size=10.5, color="#555555")
        return fig

    last = checks[-1]
    files = ", ".join(json.loads(last["files"]))
    verdict = "model drift found" if last["drift"] else "no model drift"
    test = [f"{last['test']} test"]
    if last["p_value"] is not None:
        test.append(f"p = {last['p_value']:.3f}")
    if last["threshold"] is not None:
        test.append(f"threshold {last['threshold']:.3f}")
    top = _heading(fig, top, f"Latest check: {verdict}")
    top = _text(fig, top, f"{_when(last['run_at'])}, model v{last['model_version']}, new file(s): "
                f"{files}. F1 {last['new_f1']:.3f} on the {last['rows']:,} new rows against "
                f"{last['reference_f1']:.3f} ({', '.join(test)}).", size=10) + 0.15
    shifts = json.loads(last["data_drift"])
    rows = [[col, f"{d['psi']:.3f}", f"{d['ks_statistic']:.3f}", f"{d['ks_p_value']:.3g}",
             "yes" if d["shifted"] else "no"] for col, d in shifts.items()]
    top = _table(fig, top, ["Feature", "PSI", "KS statistic", "KS p-value", "Shifted"],
                 rows, [2.4, 1, 1.2, 1.2, 1], "lrrrl") + 0.6

    w, h = fig.get_figwidth(), fig.get_figheight()
    plot_h = 3.4
    ax = fig.add_axes((1.1 / w, 1 - (top + plot_h) / h, (w - 1.1 - MARGIN) / w, plot_h / h))
    x = _dates(checks)
    ax.plot(x, [c["new_f1"] for c in checks], marker=_marker(checks, "o"), label="F1 on the new rows")
    ax.plot(x, [c["reference_f1"] for c in checks], linestyle="--", color="#888888",
            label="reference F1")
    drifted = [c for c in checks if c["drift"]]
    if drifted:
        ax.plot(_dates(drifted), [c["new_f1"] for c in drifted], "x", color="#d62728",
                markersize=8, markeredgewidth=2, label="drift found")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False, fontsize=9, loc="lower left")
    _trend_axes(ax, "Each drift check", "F1 score", checks)
    return fig


def render_pdf(data: ReportData) -> bytes:
    """The report as PDF bytes: summary, clients to call first, data and system health, trends, drift."""
    from matplotlib.backends.backend_pdf import PdfPages

    buf = io.BytesIO()
    meta = {"Title": "Client attrition risk report", "Author": "risk assessment system",
            "Subject": f"model v{data.manifest['version']}", "CreationDate": data.created_at}
    with PdfPages(buf, metadata=meta) as pdf:
        for page in (_page_summary, _page_top_clients, _page_health, _page_trends, _page_drift):
            pdf.savefig(page(data))
    return buf.getvalue()


def _kept_path(folder: Path, created_at: datetime) -> Path:
    """A name for the kept copy that no earlier report has (two reports in one second happen)."""
    path = folder / KEPT_REPORT.format(created_at)
    n = 2
    while path.exists():
        path = path.with_name(f"{KEPT_REPORT.format(created_at)[:-4]}-{n}.pdf")
        n += 1
    return path


# --- the step ------------------------------------------------------------------

def gather(cfg: config.Config, model: Any, manifest: dict[str, Any]) -> ReportData:
    """Read what the report shows: test data, ingested data, recorded diagnostics, history."""
    test = contract.read_csv(cfg.test_data_file)
    data = contract.read_csv(cfg.finaldata_path)
    return ReportData(
        created_at=datetime.now(timezone.utc).replace(microsecond=0),
        manifest=manifest,
        f1=scoring.f1_of(model, test),
        counts=confusion_counts(model, test),
        ranking=diagnostics.ranked_clients(model, data),
        statistics=diagnostics.summary_statistics(data),
        missing=diagnostics.missing_percent(data),
        diagnostics=diagnostics.latest_diagnostics(cfg),
        deployments=history.rows(cfg.history_path, "deployments", limit=TREND_RUNS),
        diagnostics_runs=history.rows(cfg.history_path, "diagnostics", limit=TREND_RUNS),
        drift_checks=history.rows(cfg.history_path, "drift_checks", limit=TREND_RUNS),
    )


def make_report(cfg: config.Config) -> dict[str, Path]:
    """Write the confusion matrix, the ranked risk list and the PDF report of the deployed model.

    Returns where each went: keys "confusion matrix", "risk ranking", "report", "kept report".
    """
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    data = gather(cfg, model, manifest)
    out = cfg.output_model_path

    png = save_confusion_matrix(
        data.counts, out / CONFUSION_MATRIX,
        f"Model v{manifest['version']} on {int(data.counts.sum()):,} test clients, F1 {data.f1:.3f}",
    )
    log.info("wrote %s (model v%04d, F1 %.4f on %s)", png, manifest["version"], data.f1,
             cfg.test_data_file.name)

    ranking = write_risk_ranking(data.ranking, out / RISK_RANKING)
    log.info("wrote %s: %d clients", ranking, len(data.ranking))

    pdf = render_pdf(data)
    kept = _kept_path(out, data.created_at)
    artifacts.write_atomic(kept, pdf)
    artifacts.write_atomic(out / REPORT, pdf)
    log.info("wrote %s and %s (%d pages)", out / REPORT, kept.name, PAGES)
    if data.diagnostics is None:
        log.warning("no diagnostics recorded yet: the report has no timings or dependency status")
    return {"confusion matrix": png, "risk ranking": ranking, "report": out / REPORT, "kept report": kept}


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
