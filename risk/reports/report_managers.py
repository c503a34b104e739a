"""The managers' pages of the report: the summary, the call list, trends and the confusion matrix."""
from __future__ import annotations

import textwrap
from pathlib import Path
from typing import TYPE_CHECKING

from risk import artifacts
from risk.data import contract
from risk.model import fresh, scoring
from risk.reports import report_pdf as draw
from risk.reports.report_facts import (
    RELEASE_COMMAND,
    ReportData,
    decision_words,
    quality_per_deployment,
)

if TYPE_CHECKING:
    from matplotlib.figure import Figure

TOP = 20  # clients on the call-list page
BAND_COLORS = {"high": "#b2182b", "elevated": "#d6604d", "moderate": "#8c6d1f", "low": "#4d4d4d"}
LABELS = ("stayed", "exited")


def _band_ranges(thresholds: tuple[float, float, float]) -> dict[str, str]:
    high, elevated, moderate = (round(t * 100) for t in thresholds)
    return {"high": f"{high} % or more", "elevated": f"{elevated} % to {high} %",
            "moderate": f"{moderate} % to {elevated} %", "low": f"under {moderate} %"}


# --- the managers' pages ------------------------------------------------------------

def _measure_lines(data: ReportData) -> list[str]:
    """The list's measure on the freshest labelled clients (the headline), in a manager's words.

    F1 on the test data is the operator's figure (appendix A, with the test data's date): on a
    test set of an older pattern it makes a better model look worse.
    """
    s, m = data.call_list, data.manifest
    measure = s.get("fresh_measure") or s.get("list_measure")
    lines = [f"• {fresh.headline(measure)}"]
    if measure and measure.get("rows"):
        k, rows = measure["k"], measure["rows"]
        lines.append(f"• Those {k} calls reach {measure['exits_in_top']} of the {measure['exits']:,} clients "
                     f"who left among those {rows:,}." if measure.get("exits") else
                     f"• No client of those {rows:,} left.")
    if measure and measure.get("calibration_error") is not None:
        lines.append(f"• The risks shown are honest to within {100 * measure['calibration_error']:.1f} points "
                     "on average there (calibration error; appendix E draws it).")
    lines += [*([f"• {data.calling}"] if data.calling else []),
              f"• Model {artifacts.version_name(m['version'])}, deployed {draw.when(m['deployed_at'])}, trained "
              f"on {m.get('training', {}).get('rows', 0):,} client records."]
    return lines


def _page_summary(data: ReportData) -> Figure:
    fig = draw.figure()
    s = data.call_list
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
    change = s.get("model_change") or {}
    if change:
        glance.append(f"• New model {artifacts.version_name(change['to_version'])} since the previous list "
                      f"(made by {artifacts.version_name(change['from_version'])}): {change['top_changed']} of "
                      f"the top {change['n']} changed. " + " ".join(
                          w for w in (change.get("compared_words"), change.get("cause")) if w))
    if s["left_count"]:
        names = ", ".join(s["left_since_previous"][:12])
        more = f" and {s['left_count'] - 12:,} more" if s["left_count"] > 12 else ""
        glance.append(f"• Left since the previous list: {names}{more}.")
    top = draw.text(fig, top, "\n".join(glance), size=10.5, linespacing=1.5) + 0.15

    top = draw.heading(fig, top, f"If the team calls the {n} riskiest clients")
    top = draw.text(fig, top, "\n".join(_measure_lines(data)), size=10.5, linespacing=1.5) + 0.15

    top = draw.heading(fig, top, "Risk bands")
    ranges = _band_ranges(data.thresholds)
    total = max(s["clients"], 1)
    rows = [[b, ranges[b], f"{s['bands'][b]:,}", f"{s['bands'][b] / total:.1%}"] for b in scoring.BANDS]
    colors = [[BAND_COLORS[b], None, None, None] for b in scoring.BANDS]
    head, widths, align = ["Band", "Risk of leaving", "Clients", "Share"], [1.3, 1.8, 1, 1], "llrr"
    if data.values:  # the client info file gives contract values: what is at stake per band
        for row, b in zip(rows, scoring.BANDS):
            value, loss = data.values.get(b, (0.0, 0.0))
            row += [f"{value:,.0f}", f"{loss:,.0f}"]
        colors = [c + [None, None] for c in colors]
        head, widths, align = head + ["Value / yr", "Expected loss"], [1.1, 1.5, 0.8, 0.7, 1.1, 1.1], "llrrrr"
    top = draw.table(fig, top, head, rows, widths, align, size=10, colors=colors) + 0.3
    top = draw.heading(fig, top, "How to read the list", size=11.5)
    draw.note(fig, top, "\n".join([
        "• Risk: the model's estimate, in whole percent, that the client leaves."
        + (" Expected loss: that chance times the contract's value a year, summed." if data.values else ""),
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
               [0.45, 0.85, 0.8, 0.55, 0.65, 4.4], "llllll", size=8.5, wrap_cols="5", colors=colors,
               clip_cols="1")
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
        f"• F1 score {data.f1:.3f} (1 is perfect, 0 is useless) on the test data, dated "
        f"{str(((data.call_list or {}).get('list_measure') or {}).get('data_date') or 'unknown')[:10]}: "
        "an older pattern of who leaves may make a newer model look worse here. The call list ranks by "
        "risk instead of a yes/no flag: page 1 says what calling its top clients achieves on the freshest clients.",
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
