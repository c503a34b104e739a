"""The retraining loop's decisions for fullprocess.py: quality gate, drift, champion vs challenger.

For the new extracts of one run:
 1. gate: each is read (outcomes may be empty) and checked by the quality
    gate (quality.py) against its fixed, vetted reference; an
    implausible one is quarantined; one without outcomes gets a label-free
    estimate (challenger.estimate); the rest are accepted;
 2. the training window: the last `training_window` accepted extracts in order
    of arrival, restarted at the extract where a change was last found;
 3. fresh rows: the window's extracts the deployed model had not seen when it
    was deployed. On them: model drift against the deployment's own reference
    and a base-rate check, each at the monthly level drift_alpha/tests_per_year;
    either finding restarts the window at this run's extracts;
 4. a challenger is trained on the window less every held-out row
    (challenger.held_out) and compared with the champion on the fresh held-out
    rows by a one-sided paired bootstrap. With fewer held-out rows than
    `min_labelled_rows` nothing is decided: the rows accumulate.
 5. `redeploy_rule` "challenger" deploys only a significantly better
    challenger (p below the monthly level, gain >= challenger_min_gain);
    "drift" (the course's rule) deploys on model drift; --force-retrain always.
    After a change found (step 3) the challenger needs p < drift_alpha only:
    a false redeploy then takes two false alarms in the same month.

About 490 lines: the gate, the drift checks and the challenger's decision share one
run's frames and records; recalibration lives in recalibration.py.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from risk import artifacts, config, history
from risk.data import contract, dbsource, drift, quality, sources
from risk.loop import challenger
from risk.model import training

log = logging.getLogger("fullprocess")

CALIBRATION_ROWS = 2000  # labelled rows a label-free estimate calibrates the probabilities on
# What a label-free estimate cannot know, said wherever it is shown.
ESTIMATE_CAVEAT = ("an estimate, valid only if who leaves has not changed: the quality gate and the "
                   "data drift checks see what it cannot")


@dataclass
class Batch:
    """An accepted new extract: labelled, plausible."""
    name: str
    sha256: str
    frame: pd.DataFrame
    unchecked: bool = False    # released by the operator: the gate did not judge it


@dataclass
class Decision:
    deploy: bool
    outcome: str               # for handled_files: 'redeployed', 'kept' or 'waiting'
    reason: str
    rule: str
    comparison: challenger.Comparison | None = None
    change_found: bool = False
    base_rate: dict[str, Any] = field(default_factory=dict)
    window: list[str] = field(default_factory=list)
    training_rows: pd.DataFrame | None = None
    trained_on: dict[str, Any] = field(default_factory=dict)
    reference: dict[str, Any] | None = None
    list_comparison: challenger.ListComparison | None = None
    collapses: list[str] = field(default_factory=list)   # where the challenger's ranking collapsed
    judged_on: list[str] = field(default_factory=list)   # the sets it was checked on
    warning: str = ""          # deployed though it collapsed somewhere (--accept-worse)
    recalibrate: pd.DataFrame | None = None   # the labelled rows to recalibrate the champion on
    escalation: str = ""       # a change left unresolved: said once


# --- 1. the gate -----------------------------------------------------------------

def gate(cfg: config.Config, new: list[Path], model: Any, manifest: dict[str, Any],
         run: Any) -> tuple[list[Batch], dict[str, tuple[str, str]]]:
    """Accepted labelled extracts, and {name: (sha256, outcome)} of those held back."""
    reference, source = quality.read_reference(cfg)
    if reference is None:
        run.decide("quality gate off: no reference profile (confirm one: fullprocess.py --confirm-reference)")
    else:
        run.decide("quality gate reference: %s", source)
    released = {(r["name"], r["sha256"]) for r in history.rows(cfg.history_path, "quarantine")
                if r["action"] == "released"}
    accepted, held = [], {}
    for path in new:
        entry = sources.describe(path)
        if entry.problem is not None:  # a folder, a FIFO, a bad name: ingestion records it
            run.decide("not checking %s: %s", entry.name, entry.problem)
            continue
        digest = entry.fingerprint
        try:
            frame = contract.read_csv(path, require_target=False)
        except contract.DataError as exc:
            run.decide("not checking %s: %s", path.name, exc)  # ingestion rejects and records it
            continue
        labelled = frame[contract.TARGET].notna() if contract.TARGET in frame else pd.Series(False, frame.index)
        if labelled.any() and not labelled.all():
            run.decide("not checking %s: '%s' empty on some rows only", path.name, contract.TARGET)
            continue
        unchecked = (path.name, digest) in released
        if unchecked:
            run.decide("quality gate: %s released by the operator, not checked", path.name)
        elif reference is not None:
            problems = quality.problems(reference, frame)
            if problems:
                reason = "; ".join(problems)
                run.decide("quarantined %s: %s", path.name, reason)
                held[path.name] = (digest, "quarantined")
                if not run.dry_run:
                    history.record(cfg.history_path, "quarantine", [{
                        "name": path.name, "sha256": digest, "action": "quarantined", "reason": reason}])
                continue
        if not labelled.any():
            label_free(cfg, path.name, digest, frame, model, manifest, run)
            held[path.name] = (digest, "label-free")
            continue
        frame[contract.TARGET] = frame[contract.TARGET].astype("int64")
        labels_arrived(cfg, path.name, frame, model, manifest, run)
        accepted.append(Batch(path.name, digest, frame, unchecked))
    return accepted, held


def label_free(cfg: config.Config, name: str, digest: str, frame: pd.DataFrame, model: Any,
               manifest: dict[str, Any], run: Any) -> None:
    """Score an extract without outcomes and estimate the model's F1 and precision at N on it."""
    recent = calibration_rows(cfg)
    iso = challenger.calibration(challenger.probabilities(model, recent), recent[contract.TARGET])
    scores = challenger.probabilities(model, frame)
    est = challenger.estimate(scores, cfg.call_capacity, iso.predict(scores))
    run.decide("no outcomes in %s yet: %d clients listed today; estimated F1 %.3f, precision at %d %.3f "
               "(%s); not trained on, never a gate", name, est["rows"], est["f1"], est["top_n"],
               est["precision_at_n"], ESTIMATE_CAVEAT)
    if not run.dry_run:
        history.record(cfg.history_path, "estimates", [{
            "name": name, "sha256": digest, "kind": "estimate", "model_version": manifest["version"],
            "rows": est["rows"], "f1": est["f1"], "precision_at_n": est["precision_at_n"],
            "top_n": est["top_n"]}])


def labels_arrived(cfg: config.Config, name: str, frame: pd.DataFrame, model: Any,
                   manifest: dict[str, Any], run: Any) -> None:
    """If `name` was estimated without labels, record the realized figures beside the estimate."""
    earlier = [r for r in history.rows(cfg.history_path, "estimates")
               if r["name"] == name and r["kind"] == "estimate"]
    if not earlier:
        return
    est = earlier[-1]
    real = challenger.realized(frame[contract.TARGET].to_numpy(),
                               challenger.probabilities(model, frame), est["top_n"])
    run.decide("outcomes arrived for %s: F1 %.3f realized, %.3f estimated; precision at %d %.3f, %.3f "
               "estimated", name, real["f1"], est["f1"], real["top_n"], real["precision_at_n"],
               est["precision_at_n"])
    if not run.dry_run:
        history.record(cfg.history_path, "estimates", [{
            "name": name, "sha256": artifacts.sha256_file(dbsource.extract_path(cfg, name)),
            "kind": "realized", "model_version": manifest["version"], "rows": real["rows"],
            "f1": real["f1"], "precision_at_n": real["precision_at_n"], "top_n": real["top_n"],
            "estimated_f1": est["f1"]}])


def calibration_rows(cfg: config.Config, rows: int = CALIBRATION_ROWS) -> pd.DataFrame:
    """The most recent labelled rows (latest extracts first, about `rows`), else the test data."""
    frames, total = [], 0
    for name in reversed(arrival_order(cfg, [])):
        path = dbsource.extract_path(cfg, name)
        if total >= rows or not path.is_file():
            break
        frames.append(contract.read_csv(path))
        total += len(frames[-1])
    return pd.concat(frames, ignore_index=True) if frames else contract.read_csv(cfg.test_data_file)


# --- 2. the training window -------------------------------------------------------

def arrival_order(cfg: config.Config, accepted: list[Batch]) -> list[str]:
    """The labelled extracts ingested so far and this run's, oldest first."""
    record = (artifacts.read_json(cfg.ingestion_record_path)
              if cfg.ingestion_record_path.is_file() else {"files": []})
    ingested = [f["name"] for f in record["files"] if f["status"] == "ingested"]
    first_seen: dict[str, int] = {}
    for r in history.rows(cfg.history_path, "handled_files"):
        first_seen.setdefault(r["name"], r["id"])
    now = [b.name for b in accepted]
    # A file removed from the input folder since is out of every window, as out of ingestion.
    before = sorted((n for n in ingested if n not in now and dbsource.extract_path(cfg, n).is_file()),
                    key=lambda n: (first_seen.get(n, -1), n))
    return before + now


def window_files(cfg: config.Config, order: list[str], restart: str | None) -> list[str]:
    """The last `training_window` extracts of `order`, none before `restart`."""
    start = order.index(restart) if restart in order else 0
    return order[max(start, len(order) - cfg.training_window):]


def last_restart(cfg: config.Config) -> tuple[str | None, int | None]:
    """The first new extract of the last run that found a change (drift or base rate), and
    the version then deployed."""
    for r in reversed(history.rows(cfg.history_path, "challenger_decisions")):
        files = json.loads(r["new_files"])
        if r["change_found"] and files:
            return files[0], r["champion_version"]
    return None, None


def frames_of(cfg: config.Config, names: list[str], accepted: list[Batch]) -> dict[str, pd.DataFrame]:
    here = {b.name: b.frame for b in accepted}
    return {n: here[n] if n in here else contract.read_csv(dbsource.extract_path(cfg, n)) for n in names}


# --- 3-5. drift, challenger, decision -------------------------------------------

def test_reference(cfg: config.Config) -> dict[str, Any]:
    """The trained model's reference on the test data (a deployment without fresh held-out rows)."""
    model = artifacts.load_model(cfg.model_path)
    data = contract.read_csv(cfg.test_data_file)
    counts = drift.confusion(data[contract.TARGET].to_numpy(), model.predict(contract.feature_matrix(data)))
    return {"f1": float(drift.f1_from_counts(counts)), "counts": counts.astype(int).tolist(),
            "rows": len(data), "on": cfg.test_data_file.name}


def decide(cfg: config.Config, accepted: list[Batch], model: Any, manifest: dict[str, Any],
           force: bool, run: Any) -> Decision:
    """Drift, base rate, and champion vs challenger on the fresh held-out rows."""
    order = arrival_order(cfg, accepted)
    restart, restart_champion = last_restart(cfg)
    window = window_files(cfg, order, restart)
    seen = {f["name"] for f in manifest.get("source_files", [])}
    frames = frames_of(cfg, window, accepted)
    fresh_names = [n for n in window if n not in seen]
    fresh = (pd.concat([frames[n].assign(_file=n) for n in fresh_names], ignore_index=True)
             if fresh_names else contract.read_csv(cfg.test_data_file).iloc[:0].assign(_file=""))
    holdout = challenger.held_out(fresh[contract.ID], cfg.holdout_fraction)
    version = artifacts.version_name(manifest["version"])
    rule = "force" if force else cfg.redeploy_rule
    if not window:
        return Decision(False, "kept", "no labelled extracts to train a challenger on", rule)
    if not accepted and not force:
        # Nothing new to learn from (all quarantined or unlabelled): testing the same fresh
        # rows again would only add chances of a false alarm.
        return Decision(False, "kept", "no new labelled rows accepted", rule, window=window)
    if holdout.sum() < cfg.min_labelled_rows and not force:
        return Decision(False, "waiting", (
            f"{int(holdout.sum())} held-out fresh labelled rows (of {len(fresh)}) < min_labelled_rows "
            f"{cfg.min_labelled_rows}: waiting for more before testing"), rule, window=window)

    change, rate = False, {}
    if len(fresh):
        verdict = model_drift(cfg, model, manifest, fresh, [b.name for b in accepted], run)
        probs = challenger.probabilities(model, fresh)
        base = challenger.base_rate(fresh[contract.TARGET].to_numpy(), probs, cfg.monthly_alpha)
        run.decide("base-rate check: %s", base.describe())
        change, rate = verdict.drift or base.shifted, {**base.as_dict(), **_new_rows_rate(
            cfg, model, fresh, [b.name for b in accepted], base, run)}
        if change and accepted:
            # A change already found while this champion is deployed keeps its start: the
            # window then grows with each extract of the new law.
            if restart_champion != manifest["version"] or restart not in order:
                restart = accepted[0].name
            window = window_files(cfg, order, restart)
            run.decide("change found: the training window restarts at %s", restart)
            frames = frames_of(cfg, window, accepted)
            # Compare on the rows of the new law only.
            keep = np.isin(fresh["_file"].to_numpy(), window)
            fresh, holdout = fresh[keep].reset_index(drop=True), holdout[keep]
            fresh_names = [n for n in fresh_names if n in window]
    else:
        verdict = None

    rows = pd.concat([frames[n] for n in window], ignore_index=True).drop_duplicates(
        subset=list(contract.COLUMNS))
    rows = rows[~challenger.held_out(rows[contract.ID], cfg.holdout_fraction)].reset_index(drop=True)
    candidate = training.train_model(rows, cfg.model_params, cfg.model_kind)
    trained_on = {"files": window, "rows": len(rows), "held_out_fraction": cfg.holdout_fraction,
                  "window": f"last {cfg.training_window} extracts" + (
                      f" from {window[0]} (where a change was found)" if change else "")}
    decision = Decision(False, "kept", "", rule, change_found=change, base_rate=rate, window=window,
                        training_rows=rows, trained_on=trained_on)
    test_rows = fresh[holdout]
    if len(test_rows):
        compare(cfg, decision, model, candidate, test_rows, fresh_names, version, run)
    # Where else the challenger must not collapse: held-out rows of earlier accepted extracts
    # and the test data. After a change of law found on gate-checked extracts those rows are
    # of the old law (a challenger of the new one ranks them worse, as the champion ranks
    # the new rows worse): reported, not a veto; the gate guards against broken extracts.
    earlier = [n for n in order if n not in fresh_names][-cfg.training_window:]
    veto = not change or any(b.unchecked for b in accepted)
    sets = {"held-out fresh rows": test_rows,
            "held-out rows of earlier extracts": _held_out_rows(cfg, earlier, accepted),
            "the test data": contract.read_csv(cfg.test_data_file)}
    for where, why in [(w, c) for w, c in challenger.collapse_report(model, candidate, sets, cfg.call_capacity)]:
        if veto or where == "held-out fresh rows":
            decision.collapses.append(f"{where}: {why}")
        else:
            run.decide("challenger ranks %s worse (%s): of the law before the change, not a veto", where, why)
    decision.judged_on = [f"{w} ({len(f)} rows)" for w, f in sets.items() if f is not None and len(f)]
    # Gatekeeping: once a change is found at the monthly level, the champion is known to be off
    # its reference, and the challenger needs only drift_alpha; else the monthly level.
    level = cfg.drift_alpha if change else cfg.monthly_alpha
    judged = decision.list_comparison if cfg.challenger_measure != "f1" else decision.comparison
    better = judged is not None and judged.p_value < level
    calibrated = (decision.list_comparison is None or decision.list_comparison.challenger_brier
                  <= decision.list_comparison.champion_brier + challenger.BRIER_TOLERANCE)
    what = {"list": f"exits in the top {cfg.call_capacity}", "auc": "AUC", "f1": "F1"}[cfg.challenger_measure]
    if force:
        decision.deploy, decision.reason = True, "--force-retrain"
    elif rule == "drift":
        decision.deploy = bool(verdict and verdict.drift)
        decision.reason = ("model drift (redeploy_rule drift)" if decision.deploy
                           else "no model drift (redeploy_rule drift)")
    elif decision.collapses and not getattr(run, "accept_worse", False):
        decision.reason = "challenger refused: it " + "; ".join(
            f"collapses on {c}" for c in decision.collapses) + " (--accept-worse deploys it)"
    elif better and not calibrated:
        lc = decision.list_comparison
        decision.reason = (f"challenger ranks better but its probabilities are worse (Brier "
                           f"{lc.challenger_brier:.4f} vs {lc.champion_brier:.4f}, tolerance "
                           f"{challenger.BRIER_TOLERANCE}): kept")
    elif better:
        decision.deploy = True
        decision.reason = (f"challenger significantly better by {what} on {judged.rows} held-out rows: "
                           f"{judged.challenger_f1:.4f} vs {judged.champion_f1:.4f} (gain {judged.gain:+.4f}; "
                           f"p(gain <= {cfg.challenger_min_gain})={judged.p_value:.4f} < {level:.4f})")
    else:
        decision.reason = (f"challenger not significantly better by {what}: "
                           f"{judged.challenger_f1:.4f} vs {judged.champion_f1:.4f}, gain {judged.gain:+.4f}, "
                           f"p(gain <= {cfg.challenger_min_gain})={judged.p_value:.4f}, needs < {level:.4f}"
                           if judged else "no fresh held-out rows to compare on")
    if not decision.deploy and rule != "drift" and _rate_moved(rate) and _shifted_before(cfg, manifest):
        decision.recalibrate = fresh.drop(columns="_file")
        decision.reason += (f"; the base rate moved twice in a row ({rate['observed']} exits observed, "
                            f"{rate['expected']:.0f} predicted): recalibrated")
    elif not decision.deploy and change:
        decision.escalation = _escalation(cfg, manifest)
    if decision.deploy or decision.recalibrate is not None:
        decision.outcome = "redeployed"
    if decision.deploy:
        if decision.collapses:
            decision.warning = ("WARNING deployed with --accept-worse: the challenger collapses on "
                                + "; ".join(decision.collapses))
    return decision


ESCALATE_AFTER = 3  # tests in a row that found a change the champion still has


def _champion_decisions(cfg: config.Config, manifest: dict[str, Any]) -> list[dict[str, Any]]:
    """The recorded tests (drift and base rate checked) while the deployed champion was live, oldest first.

    Runs that tested nothing (only unlabelled or quarantined extracts, too few rows) do not
    break a streak.
    """
    return [r for r in history.rows(cfg.history_path, "challenger_decisions")
            if r["champion_version"] == manifest["version"] and json.loads(r["base_rate"] or "{}")]


def _new_rows_rate(cfg: config.Config, model: Any, fresh: pd.DataFrame, new_names: list[str],
                   pooled: challenger.BaseRate, run: Any) -> dict[str, Any]:
    """The base-rate check on this run's extracts alone: {"new_shifted": bool, "new_rows": n}.

    The pooled fresh rows overlap from one run to the next: one extract far off
    (a season, or a broken extract the gate missed) makes every pooled check fire
    while it is in the window. A recalibration needs two extracts in a row that
    are each off on their own.
    """
    new = fresh[np.isin(fresh["_file"].to_numpy(), new_names)]
    if len(new) == len(fresh) or not len(new):
        return {"new_shifted": pooled.shifted, "new_rows": len(new)}
    alone = challenger.base_rate(new[contract.TARGET].to_numpy(), challenger.probabilities(model, new),
                                 cfg.monthly_alpha)
    run.decide("base-rate check on this run's extracts alone: %s", alone.describe())
    return {"new_shifted": alone.shifted, "new_rows": len(new)}


def _rate_moved(rate: dict[str, Any]) -> bool:
    """Did the base-rate check fire on a run's own extracts (older records: on the pooled rows)?"""
    return bool(rate.get("new_shifted", rate.get("shifted")))


def _shifted_before(cfg: config.Config, manifest: dict[str, Any]) -> bool:
    """Did the base-rate check fire on the extracts of the champion's previous test as well?"""
    before = _champion_decisions(cfg, manifest)
    return bool(before) and _rate_moved(json.loads(before[-1]["base_rate"] or "{}"))


def _escalation(cfg: config.Config, manifest: dict[str, Any]) -> str:
    """One notice when a change has been found ESCALATE_AFTER tests in a row and is still there."""
    streak = 1
    for r in reversed(_champion_decisions(cfg, manifest)):
        if not r["change_found"]:
            break
        streak += 1
    if streak != ESCALATE_AFTER:
        return ""
    return (f"ESCALATION a change found in {streak} tests in a row is unresolved: neither a better challenger "
            f"nor a recalibration answers it; look at the drift and base-rate checks, then retrain "
            f"(fullprocess.py --force-retrain) or confirm the data (fullprocess.py --confirm-reference)")


def compare(cfg: config.Config, decision: Decision, model: Any, candidate: Any, rows: pd.DataFrame,
            fresh_names: list[str], version: str, run: Any) -> None:
    """Challenger vs champion on the held-out fresh rows: F1 (reported, the deployment's drift
    reference) and the list's measure (what decides, unless challenger_measure is "f1")."""
    x, y = contract.feature_matrix(rows), rows[contract.TARGET].to_numpy()
    comp = challenger.paired_test(y, model.predict(x), candidate.predict(x),
                                  cfg.drift_bootstrap_rounds, cfg.drift_seed, margin=cfg.challenger_min_gain)
    decision.comparison = comp
    decision.reference = {"f1": comp.challenger_f1, "counts": comp.challenger_counts,
                          "rows": comp.rows, "on": "held-out rows of " + ", ".join(fresh_names)}
    run.decide("challenger (trained on %d rows of %s) vs champion %s on %d held-out fresh rows: "
               "F1 %.4f vs %.4f, gain %+.4f, p(gain <= %s)=%.4f", decision.trained_on["rows"],
               ", ".join(decision.window), version, comp.rows, comp.challenger_f1, comp.champion_f1,
               comp.gain, cfg.challenger_min_gain, comp.p_value)
    if cfg.challenger_measure != "f1":
        lc = challenger.list_test(y, challenger.probabilities(model, rows),
                                  challenger.probabilities(candidate, rows), cfg.call_capacity,
                                  cfg.challenger_measure, cfg.drift_bootstrap_rounds, cfg.drift_seed,
                                  margin=cfg.challenger_min_gain)
        decision.list_comparison = lc
        run.decide("by the list's measure on the same rows: %s", lc.describe())


def _held_out_rows(cfg: config.Config, names: list[str], accepted: list[Batch]) -> pd.DataFrame | None:
    if not names:
        return None
    frames = frames_of(cfg, names, accepted)
    rows = pd.concat(frames.values(), ignore_index=True)
    return rows[challenger.held_out(rows[contract.ID], cfg.holdout_fraction)].reset_index(drop=True)


def model_drift(cfg: config.Config, model: Any, manifest: dict[str, Any], fresh: pd.DataFrame,
                new_names: list[str], run: Any) -> drift.Verdict:
    """Model drift of the champion on the fresh rows against its own reference, and data drift; recorded."""
    reference = manifest.get("reference") or {}
    counts = reference.get("counts")
    past = [r["f1"] for r in history.rows(cfg.history_path, "deployments")
            if r["action"] == "deploy" and r["f1"] is not None]
    test_data = None if counts is not None else contract.read_csv(cfg.test_data_file)
    verdict = drift.model_drift(
        cfg.drift_test, model, fresh, test_data, reference.get("f1", manifest["score"]), past,
        cfg.monthly_alpha, cfg.drift_bootstrap_rounds, cfg.drift_seed, reference_counts=counts)
    release = artifacts.release_path(cfg.prod_deployment_path, manifest["version"])
    profile = artifacts.read_json(release / artifacts.SIDECAR_FILE).get("profile", {})
    shifts = drift.data_drift(profile, fresh, cfg.monthly_alpha)
    run.decide("model drift check: %s%s", verdict.describe(),
               f" (reference: {reference['on']})" if "on" in reference else "")
    for col, d in shifts.items():
        run.decide("data drift %s: PSI %.3f, KS %.3f (Holm p=%.3g)%s", col, d["psi"],
                   d["ks_statistic"], d["ks_p_holm"], " - shifted" if d["shifted"] else "")
    if not run.dry_run:
        history.record(cfg.history_path, "drift_checks", [{
            "test": verdict.test, "drift": int(verdict.drift), "new_f1": verdict.new_f1,
            "reference_f1": verdict.reference_f1, "threshold": verdict.threshold,
            "p_value": verdict.p_value, "rows": verdict.rows, "model_version": manifest["version"],
            "files": json.dumps(new_names), "data_drift": json.dumps(artifacts.json_safe(shifts)),
        }])
    return verdict


def record_decision(cfg: config.Config, d: Decision, manifest: dict[str, Any],
                    new_names: list[str], version: int | None) -> None:
    history.record(cfg.history_path, "challenger_decisions", [decision_row(d, manifest, new_names, version)])


def journal_rows(d: Decision, manifest: dict[str, Any], new_names: list[str],
                 handled: list[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """The history rows a deployment (challenger or recalibration) must leave, for its journal
    (journal.py adds the `deployments` row and the deployed version once it is live)."""
    return {"challenger_decisions": [decision_row(d, manifest, new_names, None)], "handled_files": handled}


def decision_row(d: Decision, manifest: dict[str, Any], new_names: list[str],
                 version: int | None) -> dict[str, Any]:
    """The run history's `challenger_decisions` row of decision `d`."""
    c = d.comparison
    return {
        "rule": d.rule, "decision": "deploy" if d.deploy else ("wait" if d.outcome == "waiting" else "keep"),
        "reason": d.reason, "champion_version": manifest["version"],
        "champion_f1": c.champion_f1 if c else None, "challenger_f1": c.challenger_f1 if c else None,
        "gain": c.gain if c else None, "p_value": c.p_value if c else None, "rows": c.rows if c else 0,
        "change_found": int(d.change_found), "base_rate": json.dumps(artifacts.json_safe(d.base_rate)),
        "window": json.dumps(d.window), "new_files": json.dumps(new_names), "deployed_version": version,
    }
