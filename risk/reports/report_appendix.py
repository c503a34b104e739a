"""The report's appendix, for the engineers: data statistics, timings, dependencies, trends, drift, decisions.

reporting.py gathers the facts (a ReportData) and puts these pages after the
managers' ones; report_pdf.py draws.
"""
from __future__ import annotations

import json
import textwrap
from typing import TYPE_CHECKING, Any

import numpy as np

from risk import artifacts
from risk.reports import report_pdf as draw

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from risk.reports.reporting import ReportData


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
                "population stability index and a Kolmogorov-Smirnov test). Model drift restarts "
                "the training window; whether a retrained model is deployed is in Appendix D.", size=9.5, color="#333333") + 0.3
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
    top = draw.text(fig, top, f"{draw.when(last['run_at'])}, model {artifacts.version_name(last['model_version'])}, new file(s): "
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


# Rows per table of Appendix D, and characters of a reason (two lines) and of a file name:
# with the longest texts all three tables still fit on the page. The run log has them whole.
DECISION_ROWS, QUARANTINE_ROWS, ESTIMATE_ROWS = 8, 5, 5
REASON_CHARS, NAME_CHARS = 110, 34


def _when(stamp: str) -> str:
    return draw.when(stamp).removesuffix(" UTC")


def _f(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _name(name: str) -> str:
    """A file name cut in the middle to NAME_CHARS: its start and its end say which it is."""
    if len(name) <= NAME_CHARS:
        return name
    half = (NAME_CHARS - 1) // 2
    return f"{name[:half]}…{name[-half:]}"


def _names(text: str) -> str:
    """A JSON list of extract names as a short phrase: the first, the last and how many."""
    names = [_name(n) for n in json.loads(text)]
    if len(names) <= 2:
        return ", ".join(names) or "none"
    return f"{names[0]} … {names[-1]} ({len(names)} extracts)"


def _page_decisions(data: ReportData) -> Figure:
    fig = draw.figure()
    top = draw.heading(fig, draw.MARGIN, "Appendix D. Quality gate, champion and challenger, label-free estimates")
    top = draw.text(fig, top, "fullprocess.py quarantines an implausible new extract (quality.py); "
                    "for new labelled rows it trains a challenger on the training window and compares it "
                    "with the deployed champion on held-out fresh rows (one-sided paired bootstrap, "
                    "p = chance of a gain this large if the challenger were no better). An extract without "
                    "outcomes gets an F1 estimated from the predicted probabilities (blind to a change of "
                    "who leaves).", size=9.5, color="#333333") + 0.2
    decisions = data.decisions
    top = draw.heading(fig, top, "Champion and challenger decisions, newest first", size=11)
    if not decisions:
        top = draw.text(fig, top, "No decision recorded yet: one is made when new labelled data arrive "
                        "after the first deployment.", size=9.5, color="#555555") + 0.25
    else:
        rows = [[_when(d["run_at"]), d["rule"], d["decision"],
                 artifacts.version_name(d["champion_version"]), _f(d["champion_f1"]), _f(d["challenger_f1"]),
                 "–" if d["gain"] is None else f"{d['gain']:+.3f}", _f(d["p_value"], 4), f"{d['rows']:,}",
                 "yes" if d["change_found"] else "no",
                 artifacts.version_name(d["deployed_version"]) if d["deployed_version"] else "–"]
                for d in reversed(decisions[-DECISION_ROWS:])]
        top = draw.table(fig, top, ["When (UTC)", "Rule", "Decision", "Champion", "F1 champ.", "F1 chall.",
                                    "Gain", "p", "Rows", "Change", "Deployed"], rows,
                         [1.35, 0.8, 0.7, 0.85, 0.75, 0.7, 0.6, 0.65, 0.6, 0.6, 0.75], "llllrrrrrll",
                         size=7.5) + 0.12
        last = decisions[-1]
        rate = json.loads(last["base_rate"] or "{}")
        rate_words = ", ".join(f"{k} {v:.3g}" if isinstance(v, float) else f"{k} {v}" for k, v in rate.items())
        latest = (f"Latest: {last['reason']}. Training window: {_names(last['window'])}; new extracts: "
                  f"{_names(last['new_files'])}; base-rate check: {rate_words or 'not run'}.")
        top = draw.text(fig, top, (latest), size=8.5, color="#333333") + 0.3

    top = draw.heading(fig, top, "Quality gate, newest first", size=11)
    if not data.quarantine_log:
        top = draw.text(fig, top, "No extract quarantined yet.", size=9.5, color="#555555") + 0.25
    else:
        rows = [[_when(q["run_at"]), q["action"], (_name(q["name"])), q["sha256"][:10],
                 (textwrap.shorten(q["reason"], REASON_CHARS, placeholder=" …"))]
                for q in reversed(data.quarantine_log[-QUARANTINE_ROWS:])]
        top = draw.table(fig, top, ["When (UTC)", "Action", "Extract", "SHA-256", "Reason"], rows,
                         [1.3, 0.85, 1.5, 0.8, 4.0], "lllll", size=7.5, wrap_cols="24") + 0.3

    top = draw.heading(fig, top, "Label-free estimates, newest first", size=11)
    if not data.estimates:
        draw.text(fig, top, "No extract without outcomes yet.", size=9.5, color="#555555")
        return fig
    rows = [[(_name(e["name"])), _when(e["run_at"]), artifacts.version_name(e["model_version"]),
             f"{e['rows']:,}", _f(e["estimated_f1"]), _f(e["realized_f1"]),
             "–" if e["realized_f1"] is None else f"{e['estimated_f1'] - e['realized_f1']:+.3f}",
             _f(e["estimated_precision"], 2), _f(e["realized_precision"], 2)]
            for e in data.estimates[:ESTIMATE_ROWS]]
    draw.table(fig, top, ["Extract", "Estimated (UTC)", "Model", "Rows", "Est. F1", "Real F1", "Error",
                          "Est. P@N", "Real P@N"], rows,
               [2.2, 1.3, 0.6, 0.6, 0.6, 0.6, 0.6, 0.7, 0.7], "lllrrrrrr", size=7.5)
    return fig


def _page_reliability(data: ReportData) -> Figure:
    """Whether "70 %" means 70 %: the deployed model's reliability chart and the list's measure, on the
    freshest labelled clients and on the test data (with F1 there, the course's figure, and its date)."""
    fig = draw.figure()
    top = draw.heading(fig, draw.MARGIN, "Appendix E. Are the risks honest? The list's measure")
    test = (data.call_list or {}).get("list_measure") or {}
    fresh = (data.call_list or {}).get("fresh_measure") or {}
    fresh = fresh if fresh.get("fresh") else {}
    if not test.get("reliability"):
        draw.text(fig, top, "This list records no reliability figures (it was published before they were).")
        return fig

    def figures(m: dict[str, Any]) -> str:
        return (f"calibration error (the mean distance from the diagonal) {_number(m.get('calibration_error'), 3)}; "
                f"{_number(m.get('exits_in_top'))} of the top {_number(m.get('k'))} left; "
                f"AUC {_number(m.get('auc'), 3)}")

    lines = ["The clients were sorted by the risk the list shows and cut into tenths. Each point is one "
             "tenth: its mean shown risk against the share who really left. On the diagonal, a shown 70 % "
             "means 70 % leave."]
    if fresh:
        lines.append(f"Freshest labelled clients the model never learnt from: {fresh['rows']:,} of "
                     f"{fresh['data']} (arrived {str(fresh.get('data_date') or 'unknown')[:10]}): {figures(fresh)}.")
    lines.append(f"Test data: {test.get('rows', 0):,} clients of {test.get('data', 'the test data')} (dated "
                 f"{str(test.get('data_date') or 'unknown')[:10]}, possibly of an older pattern): {figures(test)}; "
                 f"F1 {data.f1:.3f} (the course's figure, latestscore.txt).")
    top = draw.text(fig, top, "\n".join(lines)) + 0.3
    size = 4.6
    ax = draw.axes(fig, top, size, left=(fig.get_figwidth() - size) / 2)
    name = f"model {artifacts.version_name(data.manifest['version'])}"
    series = {**({f"{name}, fresh: {fresh['data']}": fresh["reliability"]} if fresh else {}),
              f"{name}, test data": test["reliability"]}
    draw.reliability_chart(ax, series, "Risk shown against what happened")
    return fig


PAGES = (_page_health, _page_engineering_trends, _page_drift, _page_decisions,
         _page_reliability)  # appendix A, B, C, D, E
