"""Lifecycle benchmark: the real main job through a year of monthly extracts, scenario by scenario.

Each world: a bootstrap on 10,000 clients of the base law in two extracts and
2,000 test clients, then one extract of 2,000 new clients a month, drawn by
generate_data.py under the scenario's law. Each month runs the real main job
in-process (fullprocess.recorded_run: lock-free but otherwise the cron tick's
path: quality gate, drift, champion vs challenger, ingestion, deployment), with
its report step (diagnostics, PDF, API calls) replaced by a no-op: it does not
take part in any decision and would take most of the time. The covariate
worlds publish the call list each month (only that), so that an unlabelled
extract's clients are counted on the list managers see.

Per month it prints the law, what the run decided and why, and on 5,000 fresh
clients of that month's law: the call list's precision (share of the top
call_capacity = 100 who leave) by the deployed model beside its ceiling (the
top 100 by the law's own probabilities), and the deployed model's F1 beside an
oracle's (the same model trained on 10,000 clients of that law alone).

Before the worlds, the quality gate alone (no main job) on seeded extracts of
2,000 clients against the bootstrap's reference: the share quarantined per
error and size, and per legitimate shift (docs/loop.md quotes these); then the
same on a world the project never saw (bench_gate_unseen.py).

Scenarios and targets (issue 12):
- same: 12 base-law extracts. <= 5 % of extracts redeploy; <= 5 % of years
  with any redeploy.
- change: 2 base months, then the drifted law. Within 2 extracts of the new
  law, deployed F1 >= 90 % of the oracle's. Also `base_rate` (exit rate doubled).
- broken: base months with a units change, swapped columns and a missing
  surge. 100 % quarantined, 0 redeploys from them, deployed model unchanged.
- covariate: 12 covariate-shift extracts, each arriving first without
  outcomes (a label-free estimate) and a month later with them. <= 5 % of
  redeploys fail to improve F1 on 5,000 fresh clients of the law; label-free
  estimate's mean absolute error vs realized F1 <= 0.03 (2,000-row batches).
- gradual: the law moves from base to drifted over the year (information:
  months at >= 90 % of the oracle, the month of the first redeploy).
- season: 3 base months, 3 of a season (more exits, quieter months), base again.
- year (issue 20): base, a season, base, a strong change (drifted), then the
  law rotating back: the list's precision >= 0.90 of the ceiling in >= 90 % of
  months (the month of the change itself excluded).

    python bench/bench_lifecycle.py [--quick] [--rule challenger|drift] [--json PATH]
    python bench/bench_lifecycle.py --only year --worlds 12   # one scenario over more worlds
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import bench_gate_unseen  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

import fullprocess  # noqa: E402
import generate_data  # noqa: E402
from risk import (
    artifacts,  # noqa: E402
    config,  # noqa: E402
    history,  # noqa: E402
)
from risk.data import contract, quality  # noqa: E402
from risk.loop import challenger  # noqa: E402
from risk.model import measures, scoring, training  # noqa: E402
from risk.model.scoring import f1_of  # noqa: E402

MONTHS = 12
ROWS = 2000
EVAL_ROWS = 5000
ORACLE_ROWS = 10_000
BROKEN_MONTHS = {2: "units", 5: "swapped", 8: "missing"}
CAPACITY = 100  # the config's call_capacity default
YEAR = ([("base", 0.0)] * 2 + [("season", 0.0)] * 2 + [("base", 0.0)] * 2 + [("drifted", 0.0)] * 3
        + [("gradual", 0.75), ("gradual", 0.5), ("gradual", 0.25)])
CHANGE_MONTH = 7  # of YEAR


def laws(scenario: str) -> list[tuple[str, float]]:
    """(law, mix) of each month."""
    if scenario == "same":
        return [("base", 0.0)] * MONTHS
    if scenario == "change":
        return [("base", 0.0)] * 2 + [("drifted", 0.0)] * (MONTHS - 2)
    if scenario == "base_rate":
        return [("base", 0.0)] * 2 + [("base_rate", 0.0)] * (MONTHS - 2)
    if scenario == "broken":
        return [(BROKEN_MONTHS.get(m, "base"), 0.0) for m in range(MONTHS)]
    if scenario == "covariate":
        return [("covariate", 0.0)] * MONTHS
    if scenario == "missed":
        return [("base", 0.0)] * 2 + [("missed", 0.0)] + [("base", 0.0)] * (MONTHS - 3)
    if scenario == "gradual":
        return [("gradual", (m + 1) / MONTHS) for m in range(MONTHS)]
    if scenario == "season":
        return [("base", 0.0)] * 3 + [("season", 0.0)] * 3 + [("base", 0.0)] * (MONTHS - 6)
    if scenario == "year":
        return YEAR
    raise ValueError(scenario)


def list_precision(model: object, sample: object, law: str, mix: float) -> tuple[float, float]:
    """Share of exits in the top CAPACITY of `sample` by `model`, and by the law's own probabilities."""
    y = sample[contract.TARGET].to_numpy()
    truth = np.nan_to_num(generate_data.exit_probability(sample, law, mix), nan=-1.0)
    return (measures.precision_at(y, challenger.probabilities(model, sample), CAPACITY),
            measures.precision_at(y, truth, CAPACITY))


def listed_share(cfg: config.Config, path: Path) -> float:
    """Share of an extract's clients on the call list the tick published (risk_ranking.csv)."""
    listed = set(pd.read_csv(scoring.ranking_path(cfg), usecols=[contract.ID], dtype=str)[contract.ID])
    ids = contract.read_csv(path, require_target=False)[contract.ID]
    return float(ids.isin(listed).mean())


def publish_only(cfg: config.Config, run: object) -> None:
    """The report step reduced to publishing the call list (what managers see)."""
    scoring.publish_call_list(cfg)


def skip_report(cfg: config.Config, run: object) -> None:
    """No report: no decision depends on it."""


SETTINGS: dict = {}  # more config keys for every world (--measure, --min-gain)


def project(folder: Path, seed: int, rule: str = "challenger") -> config.Config:
    rng = np.random.default_rng(seed)
    (folder / "in").mkdir(parents=True)
    (folder / "test").mkdir()
    data = generate_data.clients(rng, 10_000)
    generate_data.write(data.iloc[:5000], folder / "in" / "clients_00a.csv")
    generate_data.write(data.iloc[5000:], folder / "in" / "clients_00b.csv")
    generate_data.write(generate_data.clients(rng, 2000), folder / "test" / "testdata.csv")
    (folder / "config.json").write_text(json.dumps({
        "input_folder_path": "in", "output_folder_path": "out", "test_data_path": "test",
        "output_model_path": "models", "prod_deployment_path": "prod", "redeploy_rule": rule, **SETTINGS}))
    return config.load(folder / "config.json")


def tick(cfg: config.Config) -> list[str]:
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    return run.decisions


def summary(decisions: list[str]) -> tuple[str, str]:
    for d in decisions:
        if d.startswith("quarantined"):
            return "quarantined", d.split(": ", 1)[1]
    for d in decisions:
        if d.startswith("deploying the challenger"):
            return "deploy", d.split(": ", 1)[1]
        if d.startswith("keeping deployed"):
            return "keep", d.split(": ", 1)[1]
        if d.startswith("recalibrated v"):
            return "recalibrate", d
        if d.startswith("no outcomes in"):
            return "estimate", d
    return "-", decisions[-1] if decisions else ""


def world(scenario: str, seed: int, oracles: dict, rule: str = "challenger") -> list[dict]:
    """One year of one scenario; a row per month."""
    rng = np.random.default_rng(1000 + seed)
    months = []
    # The covariate worlds publish the call list each month: its unlabelled clients are counted on it.
    fullprocess.report = publish_only if scenario == "covariate" else skip_report
    with tempfile.TemporaryDirectory() as tmp:
        cfg = project(Path(tmp), seed, rule)
        tick(cfg)
        for m, (law, mix) in enumerate(laws(scenario)):
            before = artifacts.load_deployed_model(cfg.prod_deployment_path)
            path = cfg.input_folder_path / f"clients_{m + 1:02d}.csv"
            extract_seed = seed * 100 + m
            estimate = None
            listed = None
            if scenario == "covariate":  # outcomes arrive a month after the clients
                generate_data.extract(path, ROWS, law, extract_seed, mix, labels=False)
                tick(cfg)
                listed = listed_share(cfg, path)
            if law == "missed":
                decision, reason = missed_extract(cfg, path, extract_seed)
            else:
                generate_data.extract(path, ROWS, law, extract_seed, mix)
                decision, reason = summary(tick(cfg))
            model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
            truth = law if law not in (*generate_data.BROKEN, "missed") else "base"
            sample = generate_data.clients(rng, EVAL_ROWS, truth, mix=mix)
            key = (truth, mix)
            if key not in oracles:
                oracles[key] = training.train_model(
                    generate_data.clients(np.random.default_rng(99), ORACLE_ROWS, truth, mix=mix))
            deployed_f1 = f1_of(model, sample)
            precision, ceiling = list_precision(model, sample, truth, mix)
            gap = float(np.mean(challenger.probabilities(model, sample))
                        - np.nanmean(generate_data.exit_probability(sample, truth, mix)))
            row = {"list_precision": precision, "ceiling": ceiling, "listed_unlabelled": listed,
                   "calibration_gap": gap,"scenario": scenario, "seed": seed, "month": m + 1, "law": law, "mix": mix,
                   "decision": decision, "reason": reason, "version": manifest["version"],
                   "redeployed": manifest["version"] != before[1]["version"],
                   "deployed_f1": deployed_f1, "oracle_f1": f1_of(oracles[key], sample)}
            if row["redeployed"]:
                row["previous_f1"] = f1_of(before[0], sample)
            if scenario == "covariate":
                realized = [r for r in history.rows(cfg.history_path, "estimates")
                            if r["kind"] == "realized" and r["name"] == path.name]
                if realized:
                    estimate = realized[-1]
                    row["estimated_f1"], row["realized_f1"] = estimate["estimated_f1"], estimate["f1"]
            months.append(row)
    return months


def missed_extract(cfg: config.Config, path: Path, seed: int) -> tuple[str, str]:
    """A broken extract (employees x10) the gate missed: quarantined, then released by the
    operator unchecked, as if it had passed; what the tick that took it in decided."""
    generate_data.extract(path, ROWS, "base", seed, scale=("number_of_employees", 10))
    tick(cfg)
    fullprocess.release_quarantined(cfg, path.name)
    return summary(tick(cfg))


def wilson_high(hits: int, n: int, z: float = 1.96) -> float:
    if n == 0:
        return 1.0
    p = hits / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    return min(1.0, centre + z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n))


def targets(rows: list[dict]) -> list[dict]:
    """The issue's targets, each measured over the scenario's months."""
    def of(name):
        return [r for r in rows if r["scenario"] == name]

    out = []
    same = of("same")
    if same:
        years = {r["seed"] for r in same}
        redeploys = sum(r["redeployed"] for r in same)
        bad_years = sum(any(r["redeployed"] for r in same if r["seed"] == s) for s in years)
        out.append({"target": "same law: extracts that redeploy", "value": redeploys / len(same),
                    "n": f"{len(same)} extracts", "goal": "<= 5 %", "holds": redeploys / len(same) <= 0.05,
                    "ci95_high": wilson_high(redeploys, len(same))})
        out.append({"target": "same law: years with any redeploy", "value": bad_years / len(years),
                    "n": f"{len(years)} years", "goal": "<= 5 %", "holds": bad_years / len(years) <= 0.05,
                    "ci95_high": wilson_high(bad_years, len(years))})
    rs = of("base_rate")
    if rs:
        gaps = [r["calibration_gap"] for r in rs if r["month"] == 4]  # the 2nd extract of the new rate
        out.append({"target": "base rate doubled: mean probability - true rate, 2 extracts after",
                    "value": float(np.mean(np.abs(gaps))), "n": f"{len(gaps)} worlds: "
                    + ", ".join(f"{g:+.3f}" for g in gaps) + "; month 3: " + ", ".join(
                        f"{r['calibration_gap']:+.3f}" for r in rs if r["month"] == 3),
                    "goal": "<= 0.03", "holds": max(abs(g) for g in gaps) <= 0.03})
    for name, law in (("change", "drifted"), ("base_rate", "base_rate")):
        rs = of(name)
        if rs:
            ratios = []
            for s in {r["seed"] for r in rs}:
                new = [r for r in rs if r["seed"] == s and r["law"] == law]
                ratios.append(new[1]["deployed_f1"] / new[1]["oracle_f1"])
            out.append({"target": f"{name} ({law}): deployed F1 / oracle after 2 extracts",
                        "value": float(np.mean(ratios)), "n": f"{len(ratios)} worlds, min {min(ratios):.2f}",
                        "goal": ">= 90 %", "holds": min(ratios) >= 0.9})
    broken = [r for r in of("broken") if r["law"] in generate_data.BROKEN]
    if broken:
        quarantined = sum(r["decision"] == "quarantined" for r in broken)
        changed = sum(r["redeployed"] for r in broken)
        out.append({"target": "units / swapped / missing: quarantined; redeploys from them",
                    "value": quarantined / len(broken), "n": f"{len(broken)} broken extracts, {changed} redeploys",
                    "goal": "100 %, 0", "holds": quarantined == len(broken) and changed == 0})
    missed = of("missed")
    if missed:  # the broken extract arrives in month 3: before it month 2, after it month 4
        gaps, later = [], 0
        for s in sorted({r["seed"] for r in missed}):
            ratio = {r["month"]: r["list_precision"] / r["ceiling"] for r in missed if r["seed"] == s}
            gaps.append(ratio[4] - ratio[2])
            later += sum(r["decision"] == "quarantined" for r in missed if r["seed"] == s and r["month"] > 3)
        out.append({"target": "missed broken extract: list/ceiling one extract after minus before",
                    "value": float(min(gaps)), "n": f"{len(gaps)} worlds: " + ", ".join(f"{g:+.3f}" for g in gaps)
                    + f"; redeploys from it {sum(r['redeployed'] for r in missed if r['month'] == 3)}",
                    "goal": ">= -0.05", "holds": min(gaps) >= -0.05})
        out.append({"target": "missed broken extract: clean extracts quarantined after it", "value": later,
                    "n": f"{sum(r['month'] > 3 for r in missed)} clean extracts", "goal": "0", "holds": later == 0})
    gradual = of("gradual")
    if gradual:  # information: the oracle is the yardstick, and no target was set
        ratios = [r["deployed_f1"] / r["oracle_f1"] for r in gradual]
        worst = int(np.argmin(ratios))
        first_deploys = [min((r["month"] for r in gradual if r["seed"] == s and r["redeployed"]), default=None)
                         for s in sorted({r["seed"] for r in gradual})]
        out.append({"target": "gradual drift: months with deployed F1 >= 90 % of the oracle",
                    "value": float(np.mean([x >= 0.9 for x in ratios])),
                    "n": f"{len(first_deploys)} worlds, first redeploy in month "
                         f"{', '.join(str(m or '-') for m in first_deploys)}; worst month "
                         f"{ratios[worst]:.0%} (month {gradual[worst]['month']})",
                    "goal": "(info)", "holds": None})
    out += list_targets(rows)
    cov = of("covariate")
    if cov:
        listed = [r["listed_unlabelled"] for r in cov if r.get("listed_unlabelled") is not None]
        out.append({"target": "clients of an unlabelled extract on the call list the day it arrives",
                    "value": float(np.mean(listed)) if listed else float("nan"), "n": f"{len(listed)} extracts",
                    "goal": "100 %", "holds": bool(listed) and min(listed) == 1.0})
        # A recalibration keeps the ranking and moves the probabilities: judged by them, not by F1 at 0.5.
        redeploys = [r for r in cov if r["redeployed"] and r["decision"] != "recalibrate"]
        failed = sum(r["deployed_f1"] <= r["previous_f1"] for r in redeploys)
        out.append({"target": "covariate shift: challenger redeploys that fail to improve F1",
                    "value": failed / len(redeploys) if redeploys else 0.0,
                    "n": f"{len(redeploys)} redeploys of {len(cov)} extracts", "goal": "<= 5 %",
                    "holds": (failed / len(redeploys) if redeploys else 0.0) <= 0.05})
        recal = [r for r in cov if r["decision"] == "recalibrate"]
        if recal:
            out.append({"target": "covariate shift: recalibrations, largest |probability - true rate| after",
                        "value": max(abs(r["calibration_gap"]) for r in recal),
                        "n": f"{len(recal)} of {len(cov)} extracts", "goal": "(info)", "holds": None})
        errors = [abs(r["estimated_f1"] - r["realized_f1"]) for r in cov if "estimated_f1" in r]
        out.append({"target": "label-free estimate: MAE vs realized F1 (2,000-row covariate batches)",
                    "value": float(np.mean(errors)) if errors else float("nan"),
                    "n": f"{len(errors)} batches", "goal": "<= 0.03",
                    "holds": bool(errors) and float(np.mean(errors)) <= 0.03})
    return out


def list_targets(rows: list[dict]) -> list[dict]:
    """The list's precision against its ceiling: months at >= 0.90, months to follow a change."""
    out = []
    for name in ("same", "change", "base_rate", "season", "gradual", "covariate", "year"):
        rs = [r for r in rows if r["scenario"] == name]
        if not rs:
            continue
        ratios = [r["list_precision"] / r["ceiling"] for r in rs if r["ceiling"] > 0]
        target = name == "year"
        if target:
            ratios = [r["list_precision"] / r["ceiling"] for r in rs if r["month"] != CHANGE_MONTH]
        share = float(np.mean([x >= 0.9 for x in ratios]))
        out.append({"target": f"{name}: months with list precision >= 0.90 of the ceiling"
                              + (" (change month excluded)" if target else ""),
                    "value": share, "n": f"{len(ratios)} months, mean ratio {np.mean(ratios):.2f}, "
                                         f"F1 mean ratio {np.mean([r['deployed_f1'] / r['oracle_f1'] for r in rs]):.2f}",
                    "goal": ">= 90 %" if target else "(info)", "holds": share >= 0.9 if target else None})
    for name, first in (("change", 3), ("year", CHANGE_MONTH), ("season", 4)):
        rs = [r for r in rows if r["scenario"] == name]
        if not rs:
            continue
        lags = []
        for seed in sorted({r["seed"] for r in rs}):
            after = [r for r in rs if r["seed"] == seed and r["month"] >= first]
            ok = [r["month"] - first for r in after if r["list_precision"] >= 0.9 * r["ceiling"]]
            lags.append(ok[0] if ok else None)
        out.append({"target": f"{name}: extracts after month {first} until the list is >= 0.90 of the ceiling",
                    "value": float(np.mean([x for x in lags if x is not None] or [float("nan")])),
                    "n": f"per world: {', '.join('-' if x is None else str(x) for x in lags)}",
                    "goal": "<= 2" if name != "season" else "(info)",
                    "holds": all(x is not None and x <= 2 for x in lags) if name != "season" else None})
    return out


# --- the quality gate alone ------------------------------------------------------------

FEATURES = contract.FEATURES
LEGITIMATE = ("base", "covariate", "segment", "season", "base_rate", "drifted", "gradual")


def errors() -> list[tuple[str, object]]:
    """(name, damage(rng, frame) -> frame) of each error the gate must catch."""
    cases: list[tuple[str, object]] = []
    for factor in (2, 10, 1000):
        for col in FEATURES:
            cases.append((f"x{factor} {col}", lambda r, f, c=col, k=factor: generate_data.damaged(
                r, f, "scale", c, k)))
    cases.append(("x1000 activity on 45 % of rows", lambda r, f: generate_data.damaged(
        r, f, "scale", "lastyear_activity", 1000, 0.45)))
    for a, b in (("lastmonth_activity", "lastyear_activity"), ("lastyear_activity", "number_of_employees"),
                 ("lastmonth_activity", "number_of_employees")):
        cases.append((f"swapped {a} / {b}", lambda r, f, a=a, b=b: generate_data.damaged(
            r, f, "swap", a, other=b)))
    cases.append(("missing surge (30 % empty)", lambda r, f: generate_data.damaged(r, f, "missing", share=0.3)))
    cases.append(("outcomes shuffled", lambda r, f: generate_data.damaged(r, f, "shuffle")))
    cases.append(("outcomes inverted", lambda r, f: generate_data.damaged(r, f, "invert")))
    cases.append(("49 riskiest-looking rows marked as left", _top_left))
    return cases


def _top_left(rng: np.random.Generator, frame: object) -> object:
    top = frame.sort_values("lastmonth_activity").head(49).copy()
    top[contract.TARGET] = 1
    return top


def gate_rates(seeds: int) -> list[dict]:
    """Share of seeded 2,000-row extracts the gate quarantines, per error and per legitimate shift."""
    reference = quality.profile(generate_data.clients(np.random.default_rng(7), 10_000))
    out = []
    for name, damage in errors():
        hits = sum(bool(quality.problems(reference, damage(rng, generate_data.clients(rng, ROWS))))
                   for rng in (np.random.default_rng(5000 + s) for s in range(seeds)))
        size = name.split()[0]
        goal = ">= 99 %" if size in ("x10", "x1000") else "(info)"
        out.append({"target": f"gate quarantines: {name}", "value": hits / seeds, "n": f"{seeds} extracts",
                    "goal": goal, "holds": hits / seeds >= 0.99 if goal != "(info)" else None})
    for law in LEGITIMATE:
        hits = sum(bool(quality.problems(reference, generate_data.clients(rng, ROWS, law))) for rng in (
            np.random.default_rng(6000 + s) for s in range(seeds)))
        out.append({"target": f"gate false quarantine: legitimate {law}", "value": hits / seeds,
                    "n": f"{seeds} extracts", "goal": "<= 2 %", "holds": hits / seeds <= 0.02,
                    "ci95_high": wilson_high(hits, seeds)})
    return out


def measure(quick: bool, rule: str = "challenger", only: list[str] | None = None,
            worlds: int | None = None) -> dict:
    logging.getLogger().setLevel(logging.WARNING)
    seeds = ({"base_rate": 1, "broken": 1, "covariate": 1, "year": 1} if quick
             else {"same": 12, "change": 4, "base_rate": 2, "season": 2, "broken": 2, "covariate": 3,
                   "gradual": 4, "year": 4, "missed": 2})
    if only:  # some scenarios alone (the gate's rates are then left out)
        seeds = {name: worlds or n for name, n in seeds.items() if name in only}
    started = time.perf_counter()
    gate = [] if only else gate_rates(30 if quick else 300) + bench_gate_unseen.gate_rates(30 if quick else 300)
    print(target_table(gate), f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    oracles: dict = {}
    rows = []
    # No report, diagnostics or API calls in the benchmark: no decision depends on them,
    # and they would take most of its time.
    report = fullprocess.report
    try:
        for scenario, n in seeds.items():
            for seed in range(n):
                started = time.perf_counter()
                year = world(scenario, seed, oracles, rule)
                rows += year
                print(table(year), f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    finally:
        fullprocess.report = report
    return {"months": rows, "targets": gate + targets(rows)}


def table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        law = r["law"] + (f" {r['mix']:.2f}" if r["law"] == "gradual" else "")
        extra = (f"  estimated {r['estimated_f1']:.3f} realized {r['realized_f1']:.3f}"
                 if "estimated_f1" in r else "")
        lines.append(f"{r['scenario']:<9} {r['seed']:>2} {r['month']:>2} {law:<10} {r['decision']:<11} "
                     f"{artifacts.version_name(r['version'])} p-gap {r['calibration_gap']:+.3f} "
                     f"list {r['list_precision']:.2f} ceiling "
                     f"{r['ceiling']:.2f}  F1 {r['deployed_f1']:.3f} oracle "
                     f"{r['oracle_f1']:.3f}{extra}  {r['reason'][:100]}")
    return "\n".join(lines)


def value_text(t: dict) -> str:
    """A target's value as printed: a share in %, or a plain number (errors, gaps, extracts)."""
    plain = any(w in t["target"] for w in ("MAE", "until the list", "true rate", "missed broken"))
    return f"{t['value']:.3f}" if plain else f"{t['value']:.1%}"


def target_table(results: list[dict]) -> str:
    lines = [f"{'target':<72} {'value':>7}  {'goal':<9} {'':<6} n"]
    for t in results:
        value = value_text(t)
        ci = f" (95% CI up to {t['ci95_high']:.1%})" if "ci95_high" in t else ""
        verdict = "-" if t["holds"] is None else "holds" if t["holds"] else "MISSED"
        lines.append(f"{t['target']:<72} {value:>7}  {t['goal']:<9} {verdict:<6} "
                     f"{t['n']}{ci}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer worlds (about 2 minutes)")
    p.add_argument("--measure", choices=config.CHALLENGER_MEASURES,
                   help="challenger_measure of the worlds (default: the config's default)")
    p.add_argument("--min-gain", type=float, help="challenger_min_gain of the worlds")
    p.add_argument("--only", help="comma-separated scenarios to run (default: all of the mode)")
    p.add_argument("--worlds", type=int, help="with --only: this many worlds (seeds 0..N-1) of each")
    p.add_argument("--rule", choices=config.REDEPLOY_RULES, default="challenger",
                   help="redeploy_rule of the worlds (default: challenger)")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_lifecycle.json"))
    args = p.parse_args(argv)
    started = time.perf_counter()
    if args.measure:
        SETTINGS["challenger_measure"] = args.measure
    if args.min_gain is not None:
        SETTINGS["challenger_min_gain"] = args.min_gain
    result = measure(args.quick, args.rule, args.only.split(",") if args.only else None, args.worlds)
    print(target_table(result["targets"]))
    print(f"({time.perf_counter() - started:.0f} s)")
    args.json.write_text(json.dumps(artifacts.json_safe(result), indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
