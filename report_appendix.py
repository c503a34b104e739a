"""The report's appendix, for the engineers: data statistics, timings, dependencies, trends, drift.

reporting.py gathers the facts (a ReportData) and puts these pages after the
managers' ones; report_pdf.py draws.
"""
from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import numpy as np

import report_pdf as draw

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from reporting import ReportData


def _number(value: float | int | None, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and not np.isfinite(value)):
        return "–"
    return f"{value:,.{digits}f}"


def _dependency_status(dep: dict[str, Any]) -> str:
    if dep["outdated"] is None:
        return "unknown"
    return f"outdated ({dep['latest_for_python']} available)" if dep["outdated"] else "up to date"


def _page_health(data: ReportData) -> Figure:
    fig = draw.figure()
    top = draw.heading(fig, draw.MARGIN, "Appendix A. The data the model learned from")
    rows = []
    for col, pct in data.missing.items():
        s = data.statistics.get(col)
        cells = [_number(s[k], 2) for k in ("mean", "median", "std")] if s else ["", "", ""]
        rows.append([col, *cells, f"{pct:.2f} %"])
    top = draw.text(fig, top, "Ingested dataset (finaldata.csv): mean, median and standard deviation "
                "of each numeric column, and the share of missing values.",
                size=9.5, color="#333333") + 0.12
    top = draw.table(fig, top, ["Column", "Mean", "Median", "Std. deviation", "Missing"],
                 rows, [2.2, 1.2, 1.2, 1.3, 1.0], "lrrrr") + 0.45

    d = data.diagnostics
    if d is None:
        draw.text(fig, top, "No diagnostics recorded yet: run diagnostics.py for step timings and "
              "the dependency check.", size=10.5, color="#a33")
        return fig
    top = draw.heading(fig, top, "Step timings")
    t = d["execution_time"]
    if d.get("timing_source") == "subprocess":
        runs = d.get("timing_repeats", 1)
        how = f"run as scripts ({'median of ' + str(runs) + ' runs' if runs > 1 else 'one run'})"
    else:
        how = "as the steps recorded them when they last ran"
    top = draw.note(fig, top, f"Seconds each step took, {how}; diagnostics of {draw.when(d['run_at'])}.") + 0.12

    def secs(v: float | None) -> str:
        return "not recorded" if v is None else f"{v:.2f}"
    top = draw.table(fig, top, ["Step", "Seconds"],
                     [["Ingestion (ingestion.py)", secs(t["ingestion_s"])],
                      ["Training (training.py)", secs(t["training_s"])]], [3, 1], "lr") + 0.45

    top = draw.heading(fig, top, "Dependencies")
    deps = d["dependencies"]
    top = draw.text(fig, top, f"Packages of requirements.txt against the package index, as of "
                f"{draw.when(d.get('dependencies_checked_at', d['run_at']))}: {sum(bool(x['outdated']) for x in deps)} outdated, "
                f"{sum(x['outdated'] is None for x in deps)} unknown.",
                size=9.5, color="#333333") + 0.12
    rows = [[x["name"], x["pinned"] or "–", x["installed"] or "not installed", x["latest"],
             _dependency_status(x)] for x in deps]
    top = draw.table(fig, top, ["Package", "Pinned", "Installed", "Latest", "Status"],
                 rows, [1.6, 1.0, 1.1, 1.0, 1.8], "lrrrl") + 0.2
    notes: dict[str, list[str]] = {}
    for x in deps:
        if x["reason"]:
            notes.setdefault(x["reason"], []).append(x["name"])
    if notes:
        text = "\n".join(f"{', '.join(names)}: {reason}" for reason, names in notes.items())
        draw.text(fig, top, text, size=8.5, color="#555555")
    return fig



def _page_drift(data: ReportData) -> Figure:
    fig = draw.figure()
    top = draw.heading(fig, draw.MARGIN, "Appendix C. Drift checks on new data")
    top = draw.text(fig, top, "Before new client data is used, fullprocess.py checks whether the "
                "deployed model still predicts as well on it (model drift: a lower F1 on the new "
                "clients) and whether the clients' figures have shifted (data drift, per feature: "
                "population stability index and a Kolmogorov-Smirnov test). On model drift the "
                "model is retrained and redeployed.", size=9.5, color="#333333") + 0.3
    checks = data.drift_checks
    if not checks:
        draw.text(fig, top, "No drift check recorded yet: they run when new data arrives after the "
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
    top = draw.heading(fig, top, f"Latest check: {verdict}")
    top = draw.text(fig, top, f"{draw.when(last['run_at'])}, model v{last['model_version']}, new file(s): "
                f"{files}. F1 {last['new_f1']:.3f} on the {last['rows']:,} new rows against "
                f"{last['reference_f1']:.3f} ({', '.join(test)}).", size=10) + 0.15
    shifts = json.loads(last["data_drift"])
    rows = [[col, f"{d['psi']:.3f}", f"{d['ks_statistic']:.3f}", f"{d['ks_p_value']:.3g}",
             "yes" if d["shifted"] else "no"] for col, d in shifts.items()]
    top = draw.table(fig, top, ["Feature", "PSI", "KS statistic", "KS p-value", "Shifted"],
                 rows, [2.4, 1, 1.2, 1.2, 1], "lrrrl") + 0.6

    w, h = fig.get_figwidth(), fig.get_figheight()
    plot_h = 3.4
    ax = fig.add_axes((1.1 / w, 1 - (top + plot_h) / h, (w - 1.1 - draw.MARGIN) / w, plot_h / h))
    x = draw.dates(checks)
    ax.plot(x, [c["new_f1"] for c in checks], marker=draw.marker(len(checks), "o"), label="F1 on the new rows")
    ax.plot(x, [c["reference_f1"] for c in checks], linestyle="--", color="#888888",
            label="reference F1")
    drifted = [c for c in checks if c["drift"]]
    if drifted:
        ax.plot(draw.dates(drifted), [c["new_f1"] for c in drifted], "x", color="#d62728",
                markersize=8, markeredgewidth=2, label="drift found")
    ax.set_ylim(0, 1.05)
    ax.legend(frameon=False, fontsize=9, loc="lower left")
    draw.time_axis(ax, "Each drift check", "F1 score", draw.dates(checks))
    return fig




def _page_engineering_trends(data: ReportData) -> Figure:
    fig = draw.figure()
    top = draw.heading(fig, draw.MARGIN, "Appendix B. Engineering trends")
    runs = data.diagnostics_runs
    ax = draw.axes(fig, top + 0.45, 3.6)
    timed = [r for r in runs if r.get("training_s") is not None or r.get("ingestion_s") is not None]
    times = draw.dates(timed)
    for key, label, symbol in (("ingestion_s", "ingestion", "o"), ("training_s", "training", "s")):
        pts = [(t, r[key]) for t, r in zip(times, timed) if r.get(key) is not None]
        if pts:
            ax.plot(*zip(*pts), marker=draw.marker(len(pts), symbol), label=label)
    if timed:
        ax.set_ylim(bottom=0)
        ax.legend(frameon=False, fontsize=8.5, loc="best")
    draw.time_axis(ax, "Seconds each step took, per diagnostics run", "seconds", times)

    ax = draw.axes(fig, top + 5.2, 3.6)
    missing = [r for r in runs if r.get("missing_percent") is not None]
    times = draw.dates(missing)
    if missing:
        ax.plot(times, [r["missing_percent"] for r in missing], marker=draw.marker(len(missing), "o"),
                color="#d62728")
        ax.set_ylim(bottom=0, top=max(1.0, 1.2 * max(r["missing_percent"] for r in missing)))
    draw.time_axis(ax, "Missing values in the ingested data, per diagnostics run", "% of all cells", times)
    return fig


PAGES = (_page_health, _page_engineering_trends, _page_drift)  # appendix A, B, C
