"""Lifecycle benchmark: the real main job through a year of monthly extracts, scenario by scenario.

Each world: a bootstrap on 10,000 clients of the base law in two extracts and
2,000 test clients, then one extract of 2,000 new clients a month, drawn by
generate_data.py under the scenario's law. Each month runs the real main job
in-process (fullprocess.recorded_run: lock-free but otherwise the cron tick's
path: quality gate, drift, champion vs challenger, ingestion, deployment), with
its report step (diagnostics, PDF, API calls) replaced by a no-op: it does not
take part in any decision and would take most of the time.

Per month it prints the law, what the run decided and why, and the deployed
model's F1 on 5,000 fresh clients of that month's law beside an oracle's (the
same model trained on 10,000 clients of that law alone).

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

    python bench/bench_lifecycle.py [--quick] [--rule challenger|drift] [--json PATH]
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

import numpy as np  # noqa: E402

import fullprocess  # noqa: E402
import generate_data  # noqa: E402
from risk import (
    artifacts,  # noqa: E402
    config,  # noqa: E402
    history,  # noqa: E402
)
from risk.model import training  # noqa: E402
from risk.model.scoring import f1_of  # noqa: E402

MONTHS = 12
ROWS = 2000
EVAL_ROWS = 5000
ORACLE_ROWS = 10_000
BROKEN_MONTHS = {2: "units", 5: "swapped", 8: "missing"}


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
    if scenario == "gradual":
        return [("gradual", (m + 1) / MONTHS) for m in range(MONTHS)]
    raise ValueError(scenario)


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
        "output_model_path": "models", "prod_deployment_path": "prod", "redeploy_rule": rule}))
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
        if d.startswith("no outcomes in"):
            return "estimate", d
    return "-", decisions[-1] if decisions else ""


def world(scenario: str, seed: int, oracles: dict, rule: str = "challenger") -> list[dict]:
    """One year of one scenario; a row per month."""
    rng = np.random.default_rng(1000 + seed)
    months = []
    with tempfile.TemporaryDirectory() as tmp:
        cfg = project(Path(tmp), seed, rule)
        tick(cfg)
        for m, (law, mix) in enumerate(laws(scenario)):
            before = artifacts.load_deployed_model(cfg.prod_deployment_path)
            path = cfg.input_folder_path / f"clients_{m + 1:02d}.csv"
            extract_seed = seed * 100 + m
            estimate = None
            if scenario == "covariate":  # outcomes arrive a month after the clients
                generate_data.extract(path, ROWS, law, extract_seed, mix, labels=False)
                tick(cfg)
            generate_data.extract(path, ROWS, law, extract_seed, mix)
            decision, reason = summary(tick(cfg))
            model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
            truth = law if law not in generate_data.BROKEN else "base"
            sample = generate_data.clients(rng, EVAL_ROWS, truth, mix=mix)
            key = (truth, mix)
            if key not in oracles:
                oracles[key] = training.train_model(
                    generate_data.clients(np.random.default_rng(99), ORACLE_ROWS, truth, mix=mix))
            deployed_f1 = f1_of(model, sample)
            row = {"scenario": scenario, "seed": seed, "month": m + 1, "law": law, "mix": mix,
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
    cov = of("covariate")
    if cov:
        redeploys = [r for r in cov if r["redeployed"]]
        failed = sum(r["deployed_f1"] <= r["previous_f1"] for r in redeploys)
        out.append({"target": "covariate shift: redeploys that fail to improve F1",
                    "value": failed / len(redeploys) if redeploys else 0.0,
                    "n": f"{len(redeploys)} redeploys of {len(cov)} extracts", "goal": "<= 5 %",
                    "holds": (failed / len(redeploys) if redeploys else 0.0) <= 0.05})
        errors = [abs(r["estimated_f1"] - r["realized_f1"]) for r in cov if "estimated_f1" in r]
        out.append({"target": "label-free estimate: MAE vs realized F1 (2,000-row covariate batches)",
                    "value": float(np.mean(errors)) if errors else float("nan"),
                    "n": f"{len(errors)} batches", "goal": "<= 0.03",
                    "holds": bool(errors) and float(np.mean(errors)) <= 0.03})
    return out


def measure(quick: bool, rule: str = "challenger") -> dict:
    logging.getLogger().setLevel(logging.WARNING)
    seeds = ({"same": 3, "change": 1, "base_rate": 1, "broken": 1, "covariate": 1, "gradual": 1} if quick
             else {"same": 12, "change": 4, "base_rate": 2, "broken": 2, "covariate": 3, "gradual": 4})
    oracles: dict = {}
    rows = []
    # No report, diagnostics or API calls in the benchmark: no decision depends on them,
    # and they would take most of its time.
    report, fullprocess.report = fullprocess.report, lambda cfg, run: None
    try:
        for scenario, n in seeds.items():
            for seed in range(n):
                started = time.perf_counter()
                year = world(scenario, seed, oracles, rule)
                rows += year
                print(table(year), f"({time.perf_counter() - started:.0f} s)", file=sys.stderr, flush=True)
    finally:
        fullprocess.report = report
    return {"months": rows, "targets": targets(rows)}


def table(rows: list[dict]) -> str:
    lines = []
    for r in rows:
        law = r["law"] + (f" {r['mix']:.2f}" if r["law"] == "gradual" else "")
        extra = (f"  estimated {r['estimated_f1']:.3f} realized {r['realized_f1']:.3f}"
                 if "estimated_f1" in r else "")
        lines.append(f"{r['scenario']:<9} {r['seed']:>2} {r['month']:>2} {law:<10} {r['decision']:<11} "
                     f"{artifacts.version_name(r['version'])} F1 {r['deployed_f1']:.3f} oracle "
                     f"{r['oracle_f1']:.3f}{extra}  {r['reason'][:110]}")
    return "\n".join(lines)


def target_table(results: list[dict]) -> str:
    lines = [f"{'target':<72} {'value':>7}  {'goal':<9} {'':<6} n"]
    for t in results:
        value = f"{t['value']:.1%}" if "MAE" not in t["target"] else f"{t['value']:.3f}"
        ci = f" (95% CI up to {t['ci95_high']:.1%})" if "ci95_high" in t else ""
        verdict = "-" if t["holds"] is None else "holds" if t["holds"] else "MISSED"
        lines.append(f"{t['target']:<72} {value:>7}  {t['goal']:<9} {verdict:<6} "
                     f"{t['n']}{ci}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    p.add_argument("--quick", action="store_true", help="fewer worlds (about 3 minutes)")
    p.add_argument("--rule", choices=config.REDEPLOY_RULES, default="challenger",
                   help="redeploy_rule of the worlds (default: challenger)")
    p.add_argument("--json", type=Path, default=Path(__file__).with_name("bench_lifecycle.json"))
    args = p.parse_args(argv)
    started = time.perf_counter()
    result = measure(args.quick, args.rule)
    print(target_table(result["targets"]))
    print(f"({time.perf_counter() - started:.0f} s)")
    args.json.write_text(json.dumps(artifacts.json_safe(result), indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
