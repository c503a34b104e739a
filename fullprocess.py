"""The main job, run by cron every 10 minutes: new data? model drift? then retrain and redeploy.

One run, logging each decision and its reason:
 1. takes an exclusive lock (a second run while one is active exits 0 at once);
 2. with nothing deployed yet, ingests, trains, scores and deploys (bootstrap);
 3. looks for new data: input files whose name or SHA-256 no earlier run has
    handled; none -> "no new data", exit 0 (standard library only: cheap);
 4. checks the deployed model on the rows of the new files by the configured
    drift test, and each feature's distribution against the training data;
 5. ingests the data; on model drift retrains, scores and redeploys;
 6. runs diagnostics, the report and the API calls on the latest deployment;
 7. records the run in the run history.

    python fullprocess.py [--config config.json] [--force-retrain] [--dry-run]
"""
from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import sys
from pathlib import Path
from typing import Any, Iterator

import artifacts
import cli
import config
import dbsource
import history
import sources
from errors import StepError

log = logging.getLogger("fullprocess")


class Run:
    """What one run decided, in order, for the log, the run history and the user."""

    def __init__(self, dry_run: bool = False) -> None:
        self.dry_run = dry_run
        self.decisions: list[str] = []
        self.outputs: list[str] = []

    def decide(self, message: str, *args: Any) -> None:
        text = message % args if args else message
        log.info("%s%s", "[dry run] " if self.dry_run else "", text)
        self.decisions.append(text)


@contextlib.contextmanager
def run_lock(path: Path) -> Iterator[bool]:
    """Hold an exclusive lock on `path` while inside; yield False if another run holds it.

    flock locks belong to the open file: the kernel drops them when the process
    ends, however it ends, so a killed run never blocks the next one.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        yield True
    finally:
        os.close(fd)


def handled_files(cfg: config.Config, manifest: dict[str, Any]) -> set[tuple[str, str]]:
    """(name, SHA-256) of every input file a finished run has dealt with."""
    done = {(r["name"], r["sha256"]) for r in history.rows(cfg.history_path, "handled_files")}
    return done | sources.known_files(manifest)


def train_score_deploy(cfg: config.Config, run: Run) -> int:
    """Train on the ingested data, score, deploy; return the new version."""
    import deployment
    import scoring
    import training

    trained = training.train(cfg)
    run.outputs.append(f"trained on {trained.rows} rows -> {trained.model_path}")
    scored = scoring.score(cfg)
    run.outputs.append(f"F1 score {scored.f1:.4f} on {scored.rows} test rows -> {scored.score_path}")
    release = deployment.deploy(cfg)
    run.outputs.append(f"deployed {artifacts.version_name(release.version)} -> {cfg.prod_deployment_path}")
    return release.version


def bootstrap(cfg: config.Config, run: Run) -> None:
    """Nothing is deployed yet: ingest everything, train, score, deploy."""
    import ingestion

    run.decide("bootstrap: nothing deployed in %s yet", cfg.prod_deployment_path)
    if run.dry_run:
        return
    result = ingestion.ingest(cfg)
    run.outputs.append(ingestion.summary(result))
    train_score_deploy(cfg, run)
    _mark_handled(cfg, result, "redeployed")


def check_drift(cfg: config.Config, new: list[Path], run: Run) -> bool:
    """Test the deployed model on the valid new files' rows; record and return the verdict."""
    import pandas as pd

    import contract
    import drift

    frames = []
    for path in new:
        try:
            frames.append(contract.read_csv(path))
        except contract.DataError as exc:
            run.decide("not checking %s: %s", path.name, exc)
    if not frames:
        run.decide("no valid rows in the new files: nothing to check")
        return False
    rows = pd.concat(frames, ignore_index=True)
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    past = [r["f1"] for r in history.rows(cfg.history_path, "deployments")
            if r["action"] == "deploy" and r["f1"] is not None]
    verdict = drift.model_drift(
        cfg.drift_test, model, rows, contract.read_csv(cfg.test_data_file), manifest["score"],
        past, cfg.drift_alpha, cfg.drift_bootstrap_rounds, cfg.drift_seed,
    )
    release = Path(manifest["release_path"])
    profile = artifacts.read_json(release / artifacts.SIDECAR_FILE).get("profile", {})
    shifts = drift.data_drift(profile, rows, cfg.drift_alpha)
    run.decide("model drift check: %s", verdict.describe())
    for col, d in shifts.items():
        run.decide("data drift %s: PSI %.3f, KS %.3f (p=%.3g)%s", col, d["psi"],
                   d["ks_statistic"], d["ks_p_value"], " - shifted" if d["shifted"] else "")
    if not run.dry_run:
        history.record(cfg.history_path, "drift_checks", [{
            "test": verdict.test, "drift": int(verdict.drift), "new_f1": verdict.new_f1,
            "reference_f1": verdict.reference_f1, "threshold": verdict.threshold,
            "p_value": verdict.p_value, "rows": verdict.rows, "model_version": manifest["version"],
            "files": json.dumps([p.name for p in new]), "data_drift": json.dumps(shifts),
        }])
    return verdict.drift


def _mark_handled(cfg: config.Config, result: Any, outcome: str) -> None:
    rows = [{"name": f.name, "sha256": f.sha256,
             "outcome": outcome if f.status == "ingested" else "rejected"} for f in result.files]
    history.record(cfg.history_path, "handled_files", rows)


def update(cfg: config.Config, new: list[Path], force: bool, run: Run) -> bool:
    """New data (or --force-retrain): check drift, ingest, and retrain on drift; True if redeployed."""
    import ingestion

    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    drifted = check_drift(cfg, new, run) if new else False
    retrain = drifted or force
    if run.dry_run:
        run.decide("would ingest%s", " and retrain, score, redeploy" if retrain else "")
        return False
    result = ingestion.ingest(cfg)
    run.outputs.append(ingestion.summary(result))
    if retrain:
        run.decide("retraining: %s", "model drift" if drifted else "--force-retrain")
        train_score_deploy(cfg, run)
    else:
        run.decide("no model drift: keeping deployed %s", artifacts.version_name(manifest["version"]))
    _mark_handled(cfg, result, "redeployed" if retrain else "no drift")
    return retrain


def report(cfg: config.Config, run: Run) -> None:
    """Diagnostics, the report and the API calls on the latest deployment."""
    import apicalls
    import diagnostics
    import reporting

    diagnostics.run_all(cfg)
    run.outputs.append(f"diagnostics recorded in {cfg.history_path}")
    made = reporting.make_report(cfg)
    run.outputs.extend(f"{name} -> {path}" for name, path in made.items())
    result = apicalls.call_api_or_serve(cfg)
    run.outputs.append(f"API calls to {result.where} -> {result.path}")
    result.check()


def tick(cfg: config.Config, force: bool, run: Run) -> None:
    """One run of the main job, under the lock."""
    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    batch = sources.database_batch(cfg)  # new database rows, if a database is configured
    if manifest is None:
        bootstrap(cfg, run)
        outcome = "redeployed"
    else:
        new = sources.new_files(cfg.input_folder_path, handled_files(cfg, manifest))
        new += [batch.extract] if batch and batch.extract else []
        if not new and not force:
            if batch:  # rows came, but every one broke the contract: recorded, not read again
                run.decide("database rows skipped: all %d break the contract", batch.rows_read)
                if not run.dry_run:
                    dbsource.mark_handled(cfg, batch, "rejected")
                return
            run.decide("no new data in %s (deployed %s)", cfg.input_folder_path,
                       artifacts.version_name(manifest["version"]))
            return
        if new:
            run.decide("new data: %s", ", ".join(p.name for p in new))
        outcome = "redeployed" if update(cfg, new, force, run) else "no drift"
    if batch and not run.dry_run:
        # Only now, the decision carried out: a run killed before reads these rows again.
        dbsource.mark_handled(cfg, batch, outcome)
    if not run.dry_run:
        report(cfg, run)


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--force-retrain", action="store_true",
                   help="retrain and redeploy even without new data or drift")
    p.add_argument("--dry-run", action="store_true", help="say what would happen; change nothing")
    args = p.parse_args(argv)

    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        with run_lock(cfg.lock_path) as locked:
            if not locked:
                log.info("already running (%s is locked); exiting", cfg.lock_path)
                return 0
            run = Run(dry_run=args.dry_run)
            recorded_run(cfg, args.force_retrain, run)
    except StepError as exc:
        return cli.failed(exc)
    if run.outputs:
        print("\n".join(run.outputs))
    return 0


def recorded_run(cfg: config.Config, force: bool, run: Run) -> None:
    """One tick, recorded in the run history (table `runs`) however it ends."""
    started, code = history.now(), 1
    try:
        tick(cfg, force, run)
        code = 0
    finally:
        if not run.dry_run:
            history.record(cfg.history_path, "runs", [{
                "run_at": started, "ended_at": history.now(), "exit_code": code,
                "dry_run": 0, "decisions": json.dumps(run.decisions),
            }])


if __name__ == "__main__":
    sys.exit(main())
