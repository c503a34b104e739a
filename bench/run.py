"""Every performance target in one run, each beside a reference measured in the same run.

Runs the benchmarks below in this process, one after the other, and prints one
table: each figure (median and min-max over the repeats), the reference it is
measured against in the same run (median and min-max), their ratio, the
target and whether it holds. Writes the table and every raw result to
bench/run.json. `--markdown` prints the table as Markdown too (the manual's
Performance page, docs/performance.md, is that table).

1. the cron tick with no new data, as a whole process     bench_tick.py
2. /prediction (one record) under gunicorn: p50, throughput bench_api.py
3. /diagnostics p50 (the recorded run)                     bench_api.py
4. batch scoring of 1 M client rows, CSV to ranked CSV     bench_batch.py
5. ingestion + training + scoring of 10 k, 100 k, 1 M rows bench_pipeline.py
6. false alarms and detection of every model drift test    bench_drift.py
7. peak RSS: no-op tick, API worker, training on 1 M rows  bench_tick, bench_api, bench_pipeline
8. a 1,000,000-column CSV (9.9 MB) rejected from its header bench_wide.py (issue 13)
9. the call list of 1 M clients: ranking, reasons, changes   bench_calllist.py
10. the retraining loop over seeded years of extracts      bench_lifecycle.py (issue 12)
11. Dask on a 2-worker LocalCluster, 1 M and 10 M rows;    bench_dask.py
    the tick with a SQLite source and no new rows          bench_tick.py
12. the managers' page GET / with 10,000 ranked clients    bench_page.py
13. the main job on the shipped data, and a tick with a new extract  bench_mainjob.py
14. the default model vs the course model on laws of several shapes  bench_models.py (issue 19)

`--quick` (about 2 minutes on the project's 2-core machine) uses fewer
repeats and shorter load rounds; the plain run takes about 5 minutes. Each
bench_*.py also runs alone, with its own more detailed output.

    python bench/run.py [--quick] [--only tick,api,batch,pipeline,drift,wide,calllist,lifecycle,dask,page,mainjob,models]
                        [--markdown] [--python-load] [--json bench/run.json]
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

import bench_api  # noqa: E402
import bench_batch  # noqa: E402
import bench_calllist  # noqa: E402
import bench_dask  # noqa: E402
import bench_drift  # noqa: E402
import bench_effect  # noqa: E402
import bench_lifecycle  # noqa: E402
import bench_mainjob  # noqa: E402
import bench_models  # noqa: E402
import bench_page  # noqa: E402
import bench_pipeline  # noqa: E402
import bench_team  # noqa: E402
import bench_tick  # noqa: E402
import bench_wide  # noqa: E402


def in_own_process(script: str, quick: bool) -> Any:
    """A benchmark's result, run as its own main program.

    Dask's workers are spawned processes that import the parent's __main__:
    under this script they would import every benchmark (pandas, sklearn,
    flask, matplotlib) and their memory would be measured with all of it.
    """
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "result.json"
        subprocess.run([sys.executable, str(HERE / script), *(["--quick"] if quick else []), "--json", str(out)],
                       check=True, stdout=subprocess.DEVNULL)
        return json.loads(out.read_text())


# name -> how to run it, given (quick, python_load)
SECTIONS: dict[str, Callable[[bool, bool], Any]] = {
    "tick": lambda quick, _: bench_tick.measure(10 if quick else 30),
    "api": lambda quick, python_load: bench_api.measure(**(bench_api.QUICK if quick else {}),
                                                        python_load=python_load),
    "batch": lambda quick, _: bench_batch.measure(quick),
    "pipeline": lambda quick, _: bench_pipeline.measure(quick),
    "drift": lambda quick, _: bench_drift.measure(200 if quick else 500),
    "wide": lambda quick, _: bench_wide.measure(3 if quick else 7),
    "mainjob": lambda quick, _: bench_mainjob.measure(2 if quick else 5),
    "calllist": lambda quick, _: bench_calllist.measure(quick),
    "lifecycle": lambda quick, _: bench_lifecycle.measure(quick),
    "dask": lambda quick, _: in_own_process("bench_dask.py", quick),
    "page": lambda quick, _: bench_page.measure(**(bench_page.QUICK if quick else {})),
    "models": lambda quick, _: bench_models.measure(quick),
    "team": lambda quick, _: bench_team.measure(**(bench_team.QUICK if quick else {})),
    "effect": lambda quick, _: bench_effect.measure(200 if quick else 1000),
}
PREDICTION = "risk API POST /prediction (1 record)"
HELLO = "hello world GET /"
PEER = "peers' design POST /prediction (1 record)"


# --- formatting --------------------------------------------------------------------

def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def spread_of(median: str, low: str, high: str) -> str:
    return f"{median} ({low}-{high})"


def rate(rows_per_s: float) -> str:
    return f"{rows_per_s / 1e6:.2f} M rows/s"


def verdict(holds: bool | None) -> str:
    return "-" if holds is None else ("holds" if holds else "MISSED")


def row(number: str, figure: str, value: str, reference: str, ratio: str, target: str,
        holds: bool | None) -> dict[str, str]:
    return {"target": number, "figure": figure, "value": value, "reference": reference,
            "ratio": ratio, "goal": target, "verdict": verdict(holds)}


# --- rows of each section ------------------------------------------------------------

def tick_rows(r: dict) -> list[dict]:
    def timed(name: str) -> str:
        return spread_of(ms(r[f"{name}_median_s"]), f"{r[f'{name}_min_s'] * 1000:.1f}",
                         f"{r[f'{name}_max_s'] * 1000:.1f}")
    return [
        row("1", "fullprocess.py tick, no new data (whole process)", timed("tick"),
            f"python -c pass {timed('bare')}", f"{r['ratio']:.2f}x", "<= 6x", r["ratio"] <= 6),
        row("1", "  of which: standard-library imports alone", timed("floor"),
            f"python -c pass {timed('bare')}", f"{r['floor_ratio']:.2f}x", "(floor)", None),
        row("11", "fullprocess.py tick, SQLite source, no new rows", timed("db_tick"),
            f"python -c pass {timed('bare')}", f"{r['db_ratio']:.2f}x", "<= 6x", r["db_ratio"] <= 6),
    ]


def api_rows(r: dict) -> list[dict]:
    res = r["results"]

    def p50(name: str) -> str:
        s = res[name]["p50_ms"]
        return spread_of(f"{s['median']:.2f} ms", f"{s['min']:.2f}", f"{s['max']:.2f}")

    def rps(name: str) -> str:
        s = res[name]["requests_per_s"]
        return spread_of(f"{s['median']:.0f} req/s", f"{s['min']:.0f}", f"{s['max']:.0f}")

    pred, diag = res[PREDICTION], res["risk API GET /diagnostics (recorded)"]
    health = res["risk API GET /health"]
    load = "wrk" if r["load_generator"] == "wrk" else "Python clients"
    return [
        row("2", "/prediction 1 record, p50, one client", p50(PREDICTION), f"hello world {p50(HELLO)}",
            f"{pred['p50_ms']['median'] / res[HELLO]['p50_ms']['median']:.2f}x", "<= 2.5 ms",
            pred["p50_ms"]["median"] <= 2.5),
        row("2", f"/prediction throughput ({load}, {r['connections']} connections)",
            rps(PREDICTION), f"peers' design {rps(PEER)}", f"{pred['throughput_vs_peer']:.2f}x",
            ">= 2x", pred["throughput_vs_peer"] >= 2),
        row("2", "  /prediction throughput vs hello world", rps(PREDICTION), f"hello world {rps(HELLO)}",
            f"{pred['throughput_vs_hello']:.2f}", "(info)", None),
        row("2", "  worker CPU per /prediction request",
            f"{pred['worker_cpu_us_per_request']['median']:.0f} us",
            f"hello world {res[HELLO]['worker_cpu_us_per_request']['median']:.0f} us",
            f"{pred['hello_cpu_vs_this']:.2f}", "(info)", None),
        row("3", "/diagnostics p50, recorded run", p50("risk API GET /diagnostics (recorded)"),
            f"/health {p50('risk API GET /health')}",
            f"{diag['p50_ms']['median'] / health['p50_ms']['median']:.2f}x", "<= 20 ms",
            diag["p50_ms"]["median"] <= 20),
    ]


def batch_rows(r: dict) -> list[dict]:
    e2e, ref = r["rows_per_s"], r["predict_proba_rows_per_s"]
    return [row(
        "4", f"batch scoring {r['rows'] / 1e6:g} M rows: read CSV, rank, write CSV (batchscore.py)",
        spread_of(rate(e2e["median"]), f"{e2e['min'] / 1e6:.2f}", f"{e2e['max'] / 1e6:.2f}"),
        "predict_proba alone " + spread_of(rate(ref["median"]), f"{ref['min'] / 1e6:.1f}",
                                           f"{ref['max'] / 1e6:.1f}"),
        f"{r['ratio']:.3f}", ">= 1 M rows/s", r["holds"]),
        row("4", "  the same path before (pandas CSV I/O, report ranking), once",
            rate(r["before_rows_per_s"]), "batchscore.py above", f"{r['before_rows_per_s'] / e2e['median']:.2f}",
            "(info)", None)]


def dask_rows(r: dict) -> list[dict]:
    big, small = r["sizes"][-1], r["sizes"][0]
    pandas = f"pandas batchscore {small / 1e6:g} M rows {rate(r['pandas_1m_rows_per_s'])}"
    return [
        row("11", f"Dask batch scoring {small / 1e6:g} M rows (2-worker LocalCluster)",
            rate(r["dask_score_1m_rows_per_s"]), pandas,
            f"{r['dask_score_1m_rows_per_s'] / r['pandas_1m_rows_per_s']:.2f}", "(info)", None),
        row("11", f"Dask batch scoring {big / 1e6:g} M rows", rate(r["dask_score_10m_rows_per_s"]), pandas,
            f"{r['ratio_vs_pandas']:.2f}", f">= {bench_dask.TARGET_RATIO}", r["holds_throughput"]),
        row("11", f"  Dask cost per row, {big / 1e6:g} M vs {small / 1e6:g} M rows",
            f"{r['cost_per_row_10m_vs_1m']:.2f}x", f"Dask {small / 1e6:g} M rows", "-", "(info)", None),
        row("11", f"Dask ingestion {big / 1e6:g} M rows", rate(r["dask_ingest_10m_rows_per_s"]), pandas,
            f"{r['dask_ingest_10m_rows_per_s'] / r['pandas_1m_rows_per_s']:.2f}", "(info)", None),
        row("11", "Dask peak RSS per worker (10 M rows scored and ingested)",
            f"{max(r['worker_peak_mb']):.0f} MB", f"limit {r['memory_limit']}", "-",
            f"<= {bench_dask.TARGET_PEAK_MB} MB", r["holds_memory"]),
    ]


def calllist_rows(r: dict) -> list[dict]:
    s, ref, w = r["ranking_s"], r["predict_proba_s"], r["write_csv_s"]
    return [
        row("9", f"call list of {r['rows'] / 1e6:g} M clients: rank, bands, reasons, changes",
            spread_of(f"{s['median']:.2f} s", f"{s['min']:.2f}", f"{s['max']:.2f}"),
            "predict_proba alone " + spread_of(f"{ref['median']:.2f} s", f"{ref['min']:.2f}",
                                               f"{ref['max']:.2f}"),
            f"{r['ratio']:.0f}x", f"<= {r['target_s']:g} s", r["holds"]),
        row("9", "  CPU time of the ranking (this process)",
            f"{r['ranking_cpu_s']['median']:.2f} s", "-", "-", "(info)", None),
        row("9", "  and writing it as risk_ranking.csv",
            spread_of(f"{w['median']:.2f} s", f"{w['min']:.2f}", f"{w['max']:.2f}"),
            "-", "-", "(info)", None),
    ]


def pipeline_rows(results: list[dict]) -> list[dict]:
    base = results[0]
    out = []
    for r in results:
        linear = r["cost_per_row_vs_10k"] <= 1.5
        last = r is results[-1]
        out.append(row(
            "5", f"ingestion + training + scoring, {r['rows']:,} rows",
            spread_of(f"{r['median_s']:.2f} s", f"{r['min_s']:.2f}", f"{r['max_s']:.2f}"),
            f"{base['rows']:,} rows x {r['rows'] // base['rows']} = "
            f"{base['median_s'] * r['rows'] / base['rows']:.2f} s",
            f"{r['cost_per_row_vs_10k']:.2f}", "<= 5 s; ratio <= 1.5" if last else "ratio <= 1.5",
            (r["median_s"] <= 5 and linear) if last else linear))
    return out


def drift_rows(rows: list[dict]) -> list[dict]:
    out = []
    for r in rows:
        (fa_low, fa_high), (det_low, det_high) = r["false_alarm_ci95"], r["detection_ci95"]
        default = r["test"] == "bootstrap"
        out.append(row(
            "6", f"drift {r['test']}{' (default)' if default else ''}, {r['rows_per_batch']:,} rows: "
            "false alarms / detection", f"{r['false_alarm_rate']:.1%} / {r['detection_rate']:.1%}",
            f"{r['batches_per_law']} + {r['batches_per_law']} batches, {r['worlds']} deployments; "
            f"95% CI {100 * fa_low:.1f}-{100 * fa_high:.1f} / {100 * det_low:.1f}-{100 * det_high:.1f}",
            "-", "<= 5% / >= 95%" if default else "(info)",
            (r["false_alarm_rate"] <= 0.05 and r["detection_rate"] >= 0.95) if default else None))
    return out


def mainjob_rows(r: dict) -> list[dict]:
    def timed(s: dict) -> str:
        return spread_of(f"{s['median_s']:.2f} s", f"{s['min_s']:.2f}", f"{s['max_s']:.2f}")
    ref = f"importing pandas, sklearn, matplotlib, flask {timed(r['reference'])}"
    return [row("13", f"main job on the shipped data ({name})", timed(r[key]), ref, f"{r[key]['ratio']:.2f}x",
                f"<= {r[key]['target']}x", r[key]["holds"])
            for key, name in (("bootstrap", "first run: bootstrap"),
                              ("new_extract", "a tick with one new same-law extract"))]


def lifecycle_rows(result: dict) -> list[dict]:
    out = []
    for t in result["targets"]:
        value = bench_lifecycle.value_text(t)
        reference = t["n"] + (f"; 95% CI up to {t['ci95_high']:.1%}" if "ci95_high" in t else "")
        out.append(row("10", t["target"], value, reference, "-", t["goal"], t["holds"]))
    return out
def models_rows(r: dict) -> list[dict]:
    out = []
    for law, f in r["laws"].items():
        c, a = f["course"], f["additive"]
        worst = f["worst_top_vs_oracle"]["additive"]
        out.append(row("14", f"{law}: exits in the top 5 % / oracle (default model)", f"{a['top_vs_oracle']:.3f}",
                       f"course model {c['top_vs_oracle']:.3f}", f"{a['top_vs_oracle'] / c['top_vs_oracle']:.2f}",
                       ">= 0.95", worst >= bench_models.TARGET_ORACLE))
        ece = f["worst_calibration_error"]["additive"]
        out.append(row("14", f"{law}: calibration error, 10 bins (default model)", f"{a['calibration_error']:.3f}",
                       f"course {c['calibration_error']:.3f}; oracle {f['oracle_calibration_error']:.3f}", "-",
                       "<= 0.03", ece <= bench_models.TARGET_ECE))
    t = r["timing"]
    fit = t["fit_s"]
    out.append(row("14", "training + calibration, 10,000 rows (default model)",
                   spread_of(ms(fit["additive"]["median"]), f"{fit['additive']['min'] * 1000:.0f}",
                             f"{fit['additive']['max'] * 1000:.0f}"),
                   "course model fit " + spread_of(ms(fit["course"]["median"]), f"{fit['course']['min'] * 1000:.0f}",
                                                   f"{fit['course']['max'] * 1000:.0f}"),
                   f"{t['fit_ratio']:.1f}x", f"<= {bench_models.TARGET_TIME_RATIO:g}x",
                   t["fit_ratio"] <= bench_models.TARGET_TIME_RATIO))
    out.append(row("14", "  one record, serving.predict p50 (default model)",
                   f"{t['one_record_us']['additive']:.0f} us", f"course model {t['one_record_us']['course']:.0f} us",
                   f"{t['one_record_us']['additive'] / t['one_record_us']['course']:.2f}", "(info)", None))
    out.append(row("14", "  predict_proba, 1,000,000 rows (default model)", f"{t['predict_1m_s']['additive']:.3f} s",
                   f"course model {t['predict_1m_s']['course']:.3f} s",
                   f"{t['predict_1m_s']['additive'] / t['predict_1m_s']['course']:.2f}", "(info)", None))
    return out


def team_rows(r: dict) -> list[dict]:
    s = r["p50_ms"]
    health = f"/health {s['GET /health']['median']:.2f} ms"

    def p50(name: str) -> str:
        return spread_of(f"{s[name]['median']:.2f} ms", f"{s[name]['min']:.2f}", f"{s[name]['max']:.2f}")

    pages = [("GET / (my clients)", "the manager's list"), ("GET / everyone's", "everyone's list"),
             ("GET / moved up, mid, by size", "the manager's list filtered and sorted"),
             ("GET / everyone's by name", "everyone's list sorted by name"),
             ("GET /client/<id>", "a client's page")]
    writes = [("POST /actions (API)", "recording an action (API)"), ("POST form action", "recording an action (form)")]
    head = f"{r['clients']:,} clients, {r['actions_before']:,} actions"
    return ([row("21", f"{what}, p50 ({head})", p50(k), health, "-", "<= 50 ms", s[k]["median"] <= 50)
             for k, what in pages if k in s]
            + [row("21", f"{what}, p50", p50(k), health, "-", "<= 20 ms", s[k]["median"] <= 20)
               for k, what in writes])


def effect_rows(r: dict) -> list[dict]:
    laws = {k: v for k, v in r.items() if isinstance(v, dict)}
    out = [row("21", f"effect of calling, law {law}: 95 % interval covers the truth",
               f"{v['coverage']:.1%} of {v['estimated']}", f"true {100 * v['true_effect']:+.2f} points",
               f"estimate {100 * v['mean_estimate']:+.2f}", ">= 93 %", v["coverage"] >= 0.93)
           for law, v in laws.items()]
    zero = laws["zero"]
    out.append(row("21", "  no effect: 'calling helps' claimed", f"{zero['claims_helps']:.1%}",
                   f"of {zero['estimated']} repetitions", "-", "<= 5 %", zero["claims_helps"] <= 0.05))
    return out


def page_rows(r: dict) -> list[dict]:
    def p50(name: str) -> str:
        s = r["p50_ms"][name]
        return spread_of(f"{s['median']:.1f} ms", f"{s['min']:.1f}", f"{s['max']:.1f}")
    return [
        row("12", f"managers' page GET /, {r['clients']:,} ranked clients, p50", p50("GET /"),
            f"/health {p50('GET /health')}", f"{r['ratio_vs_health']:.1f}x", "<= 50 ms", r["holds"]),
        row("12", "  GET / with band, search and page 2", p50("GET / filtered"), "-", "-", "(info)", None),
    ]


def memory_rows(sections: dict[str, Any]) -> list[dict]:
    out = []
    if "tick" in sections:
        t = sections["tick"]
        out.append(row("7", "peak RSS, no-op tick", f"{t['tick_peak_rss_mb']:.0f} MB",
                       f"python -c pass {t['bare_peak_rss_mb']:.0f} MB",
                       f"{t['tick_peak_rss_mb'] / t['bare_peak_rss_mb']:.1f}x", "printed", None))
    if "api" in sections:
        m = sections["api"]["worker_peak_rss_mb"]
        out.append(row("7", "peak RSS, API worker (VmHWM, after the load)", f"{m['api']:.0f} MB",
                       f"hello world worker {m['hello']:.0f} MB", f"{m['api'] / m['hello']:.1f}x",
                       "printed", None))
    if "pipeline" in sections:
        p = sections["pipeline"][-1]
        out.append(row("7", f"peak RSS, python training.py on {p['rows']:,} rows",
                       f"{p['training_peak_rss_mb']:.0f} MB",
                       f"importing training.py {p['imports_peak_rss_mb']:.0f} MB",
                       f"{p['training_peak_rss_mb'] / p['imports_peak_rss_mb']:.1f}x", "printed", None))
    return out


def wide_rows(r: dict) -> list[dict]:
    value = spread_of(ms(r["reject_median_s"]), f"{r['reject_min_s'] * 1000:.1f}",
                      f"{r['reject_max_s'] * 1000:.1f}")
    ref = spread_of(ms(r["parse_median_s"]), f"{r['parse_min_s'] * 1000:.0f}",
                    f"{r['parse_max_s'] * 1000:.0f}")
    return [row("8", f"1,000,000-column CSV ({r['wide_bytes'] / 1e6:.1f} MB) rejected", value,
                f"parsing {r['good_bytes'] / 1e6:.1f} MB of valid rows {ref}",
                f"{r['reject_median_s'] / r['parse_median_s']:.3f}x",
                f"<= {r['target_s'] * 1000:.0f} ms", r["reject_median_s"] <= r["target_s"])]


def table_rows(sections: dict[str, Any]) -> list[dict]:
    makers = {"tick": tick_rows, "api": api_rows, "batch": batch_rows, "pipeline": pipeline_rows,
              "drift": drift_rows, "wide": wide_rows, "calllist": calllist_rows,
              "lifecycle": lifecycle_rows, "dask": dask_rows, "page": page_rows,
              "mainjob": mainjob_rows, "models": models_rows,
              "team": team_rows, "effect": effect_rows}
    out = [r for name, make in makers.items() if name in sections for r in make(sections[name])]
    return out + memory_rows(sections)


COLUMNS = (("target", "#"), ("figure", "figure"), ("value", "value: median (min-max)"),
           ("reference", "reference, same run: median (min-max)"), ("ratio", "ratio"),
           ("goal", "target"), ("verdict", ""))


def text_table(rows: list[dict]) -> str:
    widths = {key: max(len(title), *(len(r[key]) for r in rows)) for key, title in COLUMNS}
    lines = ["  ".join(title.ljust(widths[key]) for key, title in COLUMNS).rstrip()]
    lines.append("  ".join("-" * widths[key] for key, _ in COLUMNS))
    lines += ["  ".join(r[key].ljust(widths[key]) for key, _ in COLUMNS).rstrip() for r in rows]
    return "\n".join(lines)


def markdown_table(rows: list[dict]) -> str:
    lines = ["| " + " | ".join(title or "holds?" for _, title in COLUMNS) + " |",
             "|" + "|".join("---" for _ in COLUMNS) + "|"]
    for r in rows:
        cells = [r[key].replace("|", "\\|") for key, _ in COLUMNS]
        cells[-1] = f"**{cells[-1]}**" if cells[-1] == "MISSED" else cells[-1]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def machine() -> dict[str, Any]:
    import numpy
    import pandas
    import sklearn

    cpuinfo = Path("/proc/cpuinfo")
    models = [line.split(":", 1)[1].strip() for line in
              (cpuinfo.read_text().splitlines() if cpuinfo.exists() else []) if line.startswith("model name")]
    return {"cpus": len(os.sched_getaffinity(0)), "cpu": models[0] if models else platform.processor(),
            "machine": platform.machine(), "system": platform.platform(),
            "python": platform.python_version(), "numpy": numpy.__version__,
            "pandas": pandas.__version__, "scikit-learn": sklearn.__version__,
            "wrk": shutil.which("wrk") is not None}


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer repeats, shorter load rounds (about 2 min)")
    p.add_argument("--only", default=",".join(SECTIONS),
                   help=f"comma-separated sections to run (default all: {','.join(SECTIONS)})")
    p.add_argument("--markdown", action="store_true", help="also print the table as Markdown")
    p.add_argument("--python-load", action="store_true",
                   help="load the API with Python clients even if wrk is installed")
    p.add_argument("--json", type=Path, default=HERE / "run.json", help="where to write the results")
    args = p.parse_args(argv)
    args.only = [s.strip() for s in args.only.split(",") if s.strip()]
    unknown = [s for s in args.only if s not in SECTIONS]
    if unknown:
        p.error(f"unknown section(s) {', '.join(unknown)} (known: {', '.join(SECTIONS)})")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    started = time.perf_counter()
    sections: dict[str, Any] = {}
    for name in args.only:
        section_start = time.perf_counter()
        print(f"running {name} ...", file=sys.stderr, flush=True)
        sections[name] = SECTIONS[name](args.quick, args.python_load)
        print(f"  {name}: {time.perf_counter() - section_start:.0f} s", file=sys.stderr, flush=True)
    rows = table_rows(sections)
    duration = time.perf_counter() - started
    info = machine()
    load = sections["api"]["load"] if "api" in sections else None
    print()
    print(text_table(rows))
    print(f"\n{info['cpus']} CPUs ({info['cpu']}, {info['machine']}), Python {info['python']}; "
          f"{'quick run' if args.quick else 'full run'} in {duration:.0f} s"
          + (f"; load generator: {load}" if load else ""))
    if args.markdown:
        print()
        print(markdown_table(rows))
    command = " ".join(["python bench/run.py", *(argv if argv is not None else sys.argv[1:])])
    report = {"command": command, "quick": args.quick, "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
              "duration_s": duration, "machine": info, "load": load, "rows": rows, "sections": sections}
    args.json.write_text(json.dumps(report, indent=2) + "\n")
    print(f"-> {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
