"""The main job, run by cron every 10 minutes: new data? plausible? a better model? then redeploy.

One run, logging each decision and its reason:
 1. takes an exclusive lock (a second run while one is active exits 0 at once);
 2. with nothing deployed yet, ingests, trains, scores and deploys (bootstrap);
 3. looks for new data: input files whose name or SHA-256 no earlier run has
    handled; none -> "no new data", exit 0 (standard library only: cheap);
 4. the quality gate quarantines implausible extracts; extracts without
    outcomes get a label-free estimate; drift is checked on the fresh rows and
    a challenger is trained on the training window and compared with the
    deployed champion on held-out rows (loop.py says how);
 5. ingests the data (less the quarantined and unlabelled files); deploys the
    challenger only if the decision says so, with its reference and reason;
 6. runs diagnostics, the report and the API calls on the latest deployment;
 7. records the run in the run history.

    python fullprocess.py [--config config.json] [--force-retrain] [--dry-run]
    python fullprocess.py --release-quarantined clients_2026_12.csv
    python fullprocess.py --withdraw clients_2026_12.csv   # found broken after it was accepted
    python fullprocess.py --confirm-reference              # the data now ingested is vetted
    python fullprocess.py --force-retrain --accept-worse   # deploy even a model that ranks far worse
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

# The steps import pandas and scikit-learn (seconds): the functions that run them import them,
# so a tick that finds no new data needs the standard library and these light parts only.
from risk import ROOT, artifacts, cli, config, history, interpreter, notify
from risk.data import dbsource, sources
from risk.errors import StepError
from risk.loop import journal  # standard library and the project's shared parts only

log = logging.getLogger("fullprocess")


class Run:
    """What one run decided, in order, for the log, the run history and the user."""

    def __init__(self, dry_run: bool = False, accept_worse: bool = False) -> None:
        self.dry_run = dry_run
        self.accept_worse = accept_worse
        self.decisions: list[str] = []
        self.outputs: list[str] = []
        self.result = ""            # the run's result, one line on stdout
        self.warnings: list[str] = []

    def warn(self, message: str) -> None:
        log.warning("%s", message)
        self.decisions.append(message)
        self.warnings.append(message)

    def result_line(self) -> str:
        """The run in one line: its result, else its first decision (e.g. "no new data"), and warnings."""
        said = self.result or (self.decisions[0] if self.decisions else "nothing to decide")
        return "result: " + said.replace("\n", " ") + "".join(f" | {w}" for w in self.warnings)

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
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as exc:  # a read-only or full disk: one line, exit 1
        raise artifacts.write_error(path, exc) from exc
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            os.ftruncate(fd, 0)
            os.write(fd, f"{os.getpid()}\n".encode())
        except OSError as exc:
            raise artifacts.write_error(path, exc) from exc
        yield True
    finally:
        os.close(fd)


def released_files(cfg: config.Config) -> set[tuple[str, str]]:
    """(name, SHA-256) of the quarantined files an operator has released."""
    return {(r["name"], r["sha256"]) for r in history.rows(cfg.history_path, "quarantine")
            if r["action"] == "released"}


def handled_files(cfg: config.Config, manifest: dict[str, Any]) -> set[tuple[str, str]]:
    """(name, SHA-256) of every input file a finished run has dealt with.

    A quarantined file an operator released counts as new again: the next run takes it in.
    """
    released = released_files(cfg)
    done = {(r["name"], r["sha256"]) for r in history.rows(cfg.history_path, "handled_files")
            if not (r["outcome"] == "quarantined" and (r["name"], r["sha256"]) in released)}
    return done | sources.known_files(manifest)


def released_batches(cfg: config.Config, handled: set[tuple[str, str]]) -> list[Path]:
    """Database batches an operator released since they were quarantined: new again, like a released file."""
    names = {name for name, _ in released_files(cfg) if name.startswith(dbsource.EXTRACT_PREFIX)}
    return [p for p in dbsource.extract_files(cfg)
            if p.name in names and (p.name, artifacts.sha256_file(p)) not in handled] if names else []


def withheld(cfg: config.Config) -> set[str]:
    """Input files out of the records and the training rows: quarantined (not released) or withdrawn."""
    rows = history.rows(cfg.history_path, "quarantine")
    quarantined = {(r["name"], r["sha256"]) for r in rows if r["action"] == "quarantined"}
    withdrawn = {(r["name"], r["sha256"]) for r in rows if r["action"] == "withdrawn"}
    return _present(cfg, (quarantined - released_files(cfg)) | withdrawn)


def held_back(cfg: config.Config) -> set[str]:
    """Input files out of the training rows: withheld, or without outcomes yet (listed all the same)."""
    label_free = {(r["name"], r["sha256"]) for r in history.rows(cfg.history_path, "estimates")
                  if r["kind"] == "estimate"}
    return withheld(cfg) | _present(cfg, label_free)


def _present(cfg: config.Config, held: set[tuple[str, str]]) -> set[str]:
    """Names of the input files (folder and database extracts) whose current content is in `held`."""
    names = {name for name, _ in held}
    # The database's batches too: a quarantined batch stays out when new rows arrive.
    return {p.name for p in [*sources.input_files(cfg.input_folder_path), *dbsource.extract_files(cfg)]
            if p.name in names and (p.name, artifacts.sha256_file(p)) in held}


def release_quarantined(cfg: config.Config, name: str) -> str:
    """Record that an operator checked and released the quarantined input file `name`."""
    path = dbsource.extract_path(cfg, name)  # an input file, or a database batch's extract
    if not path.is_file():
        raise sources.SourceError(f"{path}: no such input file to release")
    digest = artifacts.sha256_file(path)
    held = [r for r in history.rows(cfg.history_path, "quarantine")
            if r["name"] == name and r["sha256"] == digest]
    if not held or held[-1]["action"] != "quarantined":
        raise sources.SourceError(f"{path}: not quarantined (as it is now), nothing to release")
    history.record(cfg.history_path, "quarantine", [{
        "name": name, "sha256": digest, "action": "released",
        "reason": f"released by the operator; was: {held[-1]['reason']}"}])
    return f"released {name}: the next run ingests it and learns from it"


def confirm_reference(cfg: config.Config) -> str:
    """Fix the training rows now ingested (finaldata.csv) as the quality gate's reference."""
    from risk.data import contract, quality

    if not cfg.finaldata_path.is_file():
        raise sources.SourceError(f"{cfg.finaldata_path}: no training rows to confirm as the reference")
    frame = contract.read_csv(cfg.finaldata_path)
    files = [f["name"] for f in artifacts.read_json(cfg.ingestion_record_path)["files"]
             if f["status"] == "ingested"] if cfg.ingestion_record_path.is_file() else []
    quality.write_reference(cfg, frame, "confirmed by the operator: " + _rows_of(len(frame), files))
    return (f"the quality gate now judges new extracts against {_rows_of(len(frame), files)} "
            f"-> {cfg.quality_reference_path}")


def _rows_of(rows: int, files: list[str]) -> str:
    return f"{rows:,} training rows of {', '.join(files) or 'finaldata.csv'}"


def withdraw(cfg: config.Config, name: str, run: Run) -> None:
    """Take the accepted extract `name` out of the records, the training rows and the call list."""
    from risk.data import ingestion
    from risk.scale import engine

    path = dbsource.extract_path(cfg, name)
    if not path.is_file():
        raise sources.SourceError(f"{path}: no such extract to withdraw")
    digest = artifacts.sha256_file(path)
    history.record(cfg.history_path, "quarantine", [{
        "name": name, "sha256": digest, "action": "withdrawn",
        "reason": "withdrawn by the operator: found broken or wrong after it was accepted"}])
    run.decide("withdrew %s: out of the records, the training rows and the training window", name)
    result = engine.ingest(cfg, exclude=held_back(cfg), records_exclude=withheld(cfg))
    run.outputs.append(ingestion.summary(result))
    live = artifacts.read_manifest(cfg.prod_deployment_path)
    if live and name in {f["name"] for f in live.get("source_files", [])}:
        trained = (artifacts.read_json(artifacts.release_path(cfg.prod_deployment_path, live["version"])
                                       / artifacts.SIDECAR_FILE).get("trained_on") or {})
        if name in trained.get("files", [name]):
            run.decide("WARNING the deployed %s was trained on %s: roll back to a model trained "
                       "without it (deployment.py --rollback VERSION)",
                       artifacts.version_name(live["version"]), name)
    report(cfg, run)


def bootstrap(cfg: config.Config, run: Run) -> None:
    """Nothing is deployed yet: ingest everything, train on it all, score, deploy."""
    from risk.data import contract, ingestion, quality
    from risk.loop import deployment, loop
    from risk.model import scoring, training
    from risk.scale import engine

    run.decide("bootstrap: nothing deployed in %s yet", cfg.prod_deployment_path)
    if run.dry_run:
        return
    result = engine.ingest(cfg, exclude=held_back(cfg), records_exclude=withheld(cfg))
    run.outputs.append(ingestion.summary(result))
    names = [f.name for f in result.ingested]
    trained = training.train(cfg, trained_on={
        "data": cfg.finaldata_path.name, "files": names, "rows": result.rows,
        "window": "every ingested extract (bootstrap)"})
    run.outputs.append(f"trained on {trained.rows} rows -> {trained.model_path}")
    scored = scoring.score(cfg)
    run.outputs.append(f"F1 score {scored.f1:.4f} on {scored.rows} test rows -> {scored.score_path}")
    reference = loop.test_reference(cfg)
    release = deployment.deploy(cfg, reason="bootstrap: nothing was deployed", extra={
        "reference": reference, "trained_on": names})
    run.outputs.append(f"deployed {artifacts.version_name(release.version)} -> {cfg.prod_deployment_path}")
    if not cfg.quality_reference_path.is_file():
        quality.write_reference(cfg, contract.read_csv(cfg.finaldata_path),
                                "bootstrap: " + _rows_of(result.rows, names))
        run.decide("quality gate reference fixed: the bootstrap's %s", _rows_of(result.rows, names))
    _mark_handled(cfg, result, "redeployed", {})


def _mark_handled(cfg: config.Config, result: Any, outcome: str,
                  held: dict[str, tuple[str, str]]) -> None:
    history.record(cfg.history_path, "handled_files", _handled_rows(result, outcome, held))


def _handled_rows(result: Any, outcome: str, held: dict[str, tuple[str, str]]) -> list[dict[str, Any]]:
    rows = [{"name": f.name, "sha256": f.sha256,
             "outcome": outcome if f.status == "ingested" else "rejected"} for f in result.files]
    return rows + [{"name": name, "sha256": sha, "outcome": why} for name, (sha, why) in held.items()]


def update(cfg: config.Config, new: list[Path], force: bool, run: Run) -> bool:
    """New data (or --force-retrain): gate, drift, champion vs challenger, ingest; True if redeployed."""
    from risk.data import ingestion
    from risk.loop import deployment, loop
    from risk.model import scoring, training
    from risk.scale import engine

    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    accepted, held = loop.gate(cfg, new, model, manifest, run)
    decision = loop.decide(cfg, accepted, model, manifest, force, run)
    if run.dry_run:
        run.decide("would ingest%s", " and deploy the challenger" if decision.deploy else "")
        return False
    quarantined = {n for n, (_, why) in held.items() if why == "quarantined"}
    # The records take every accepted extract, with outcomes or not: its clients are listed today.
    result = engine.ingest(cfg, exclude=held_back(cfg) | set(held), records_exclude=withheld(cfg) | quarantined)
    run.outputs.append(ingestion.summary(result))
    if decision.deploy:
        run.decide("deploying the challenger: %s", decision.reason)
        trained = training.train(cfg, decision.training_rows, decision.trained_on)
        run.outputs.append(f"trained on {trained.rows} rows -> {trained.model_path}")
        scored = scoring.score(cfg)
        run.outputs.append(f"F1 score {scored.f1:.4f} on {scored.rows} test rows -> {scored.score_path}")
        extra = {"reference": decision.reference or loop.test_reference(cfg),
                 "trained_on": decision.trained_on["files"]}
        if decision.warning:
            run.warn(decision.warning)
            extra["warning"] = decision.warning
        # The challenger was judged on its own sets; --force-retrain's model meets the guard rail.
        rows = loop.journal_rows(decision, manifest, [b.name for b in accepted],
                                 _handled_rows(result, decision.outcome, held))
        version, warning = deployment.go_live(cfg, trained.model_sha256, rows, reason=decision.reason,
                                              extra=extra, guard=force, accept_worse=run.accept_worse)
        if warning and not decision.warning:
            run.warn(warning)
        run.outputs.append(f"deployed {artifacts.version_name(version)} -> {cfg.prod_deployment_path}")
        run.result = f"redeployed {artifacts.version_name(version)}: {decision.reason}" + held_words(held)
        if decision.escalation:
            run.warn(decision.escalation)
        return True
    if decision.recalibrate is not None:
        # A recalibration goes live through the journal too: its records are written with it.
        recalibrate(cfg, model, manifest, decision, loop.journal_rows(
            decision, manifest, [b.name for b in accepted], _handled_rows(result, decision.outcome, held)), run)
        run.result += held_words(held)
        return True
    run.decide("keeping deployed %s: %s", artifacts.version_name(manifest["version"]), decision.reason)
    run.result = f"kept {artifacts.version_name(manifest['version'])}: {decision.reason}"
    if decision.escalation:
        run.warn(decision.escalation)
    run.result += held_words(held)
    loop.record_decision(cfg, decision, manifest, [b.name for b in accepted], None)
    _mark_handled(cfg, result, decision.outcome, held)
    return False


def held_words(held: dict[str, tuple[str, str]]) -> str:
    """The result line's tail: the extracts quarantined, and those listed without outcomes yet."""
    words = ""
    for why, said in (("quarantined", "quarantined"), ("label-free", "listed without outcomes yet")):
        names = [n for n, (_, w) in held.items() if w == why]
        if names:
            words += f"; {said}: {', '.join(names)}"
    return words


def recalibrate(cfg: config.Config, model: Any, manifest: dict[str, Any], decision: Any,
                rows: dict[str, list[dict[str, Any]]], run: Run) -> int | None:
    """Deploy the champion with its probabilities refitted on the latest labelled rows; the new version.

    `rows`: the history rows its going live must leave (loop.journal_rows), written with it.
    """
    from risk.loop import deployment, recalibration
    from risk.model import scoring

    done = recalibration.recalibrate(cfg, model, manifest, decision.recalibrate)
    reason = (f"recalibrated {artifacts.version_name(manifest['version'])} on {done['rows']} labelled rows: "
              f"predicted exit rate {done['predicted_before']:.1%} -> {done['predicted_after']:.1%} "
              f"(observed {done['observed_rate']:.1%}); ranking unchanged")
    run.decide("%s", reason)
    scored = scoring.score(cfg)
    run.outputs.append(f"F1 score {scored.f1:.4f} on {scored.rows} test rows -> {scored.score_path}")
    version, warning = deployment.go_live(cfg, done.pop("model_sha256"), rows, reason=reason, extra={
        "reference": done.pop("reference"), "trained_on": manifest.get("trained_on", []),
        "recalibrated": done}, guard=True)
    if warning:
        run.warn(warning)
    run.outputs.append(f"deployed {artifacts.version_name(version)} -> {cfg.prod_deployment_path}")
    run.result = f"redeployed {artifacts.version_name(version)}: {reason}"
    return version


def report(cfg: config.Config, run: Run) -> None:
    """The call list, diagnostics, the report and the API calls on the live deployment."""
    from risk.model import scoring
    from risk.reports import diagnostics, reporting
    from risk.serving import apicalls

    published = scoring.publish_call_list(cfg, finished=False)  # finished with the run
    run.outputs.append(f"call list of {len(published.ranking):,} current clients -> {published.csv_path}")
    diagnostics.run_all(cfg)
    run.outputs.append(f"diagnostics recorded in {cfg.history_path}")
    made = reporting.make_report(cfg)
    run.outputs.extend(f"{name} -> {path}" for name, path in made.items())
    result = apicalls.call_api_of_deployment(cfg)  # in-process unless the server proves to be ours
    run.outputs.append(f"API calls to {result.where} -> {result.path}")
    result.check()


def report_only(cfg: config.Config, run: Run) -> None:
    """The PDF report alone: what a tick that held data back changes for managers."""
    from risk.reports import reporting

    made = reporting.make_report(cfg)
    run.outputs.extend(f"{name} -> {path}" for name, path in made.items())


def outputs_stamp(cfg: config.Config) -> dict[str, Any]:
    """What the outputs (call list, report, API answers) must describe: the live model, the data
    ingested and the records the call list ranks.

    The ingested data and records, not the files handled: a tick that only holds an extract
    back (quarantine) leaves the call list, and its changes against the previous one, as they
    are; an extract without outcomes changes the records only, and its clients are listed today.
    """
    live = artifacts.read_manifest(cfg.prod_deployment_path)
    try:
        data = artifacts.read_json(cfg.ingestion_record_path).get("finaldata_sha256")
    except artifacts.ArtifactError:
        data = None
    records = artifacts.sha256_file(cfg.records_path) if cfg.records_path.is_file() else None
    return {"model_sha256": live["model_sha256"] if live else None, "finaldata_sha256": data,
            "records_sha256": records}


def outputs_stale(cfg: config.Config) -> bool:
    """True if the outputs describe another release or older data than the live ones.

    A run killed after deploying or ingesting but before its reports, or a
    rollback by hand, leaves them so; the next tick redoes them.
    """
    try:
        done = json.loads(cfg.outputs_stamp_path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return True
    return done != outputs_stamp(cfg)


def tick(cfg: config.Config, force: bool, run: Run) -> None:
    """One run of the main job, under the lock."""
    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    # New database rows, if a database is configured: SQLite is asked with the standard
    # library; SQLAlchemy and pandas load only when rows have arrived.
    batch = dbsource.new_batch(cfg) if cfg.database_configured and dbsource.has_new_rows(cfg) else None
    outcome = None  # no new data: the outputs are redone because they are stale
    if not run.dry_run and journal.path(cfg).exists():  # a killed run went live: record it first
        run.decide("%s", journal.recover(cfg))
        manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    if manifest is None:
        bootstrap(cfg, run)
        outcome = "redeployed"
        run.result = "bootstrap: deployed the first model"
    else:
        handled = handled_files(cfg, manifest)
        new = sources.new_files(cfg.input_folder_path, handled)
        new += [batch.extract] if batch and batch.extract else []
        new += [p for p in released_batches(cfg, handled) if p not in new]
        if new or force:
            if new:
                run.decide("new data: %s", ", ".join(sources.safe_name(p) for p in new))
            outcome = "redeployed" if update(cfg, new, force, run) else "kept"
        elif batch:  # rows came, but every one broke the contract: recorded, not read again
            run.decide("database rows skipped: all %d break the contract", batch.rows_read)
            if not run.dry_run:
                dbsource.mark_handled(cfg, batch, "rejected")
            return
        elif outputs_stale(cfg):
            run.decide("no new data, but the outputs do not describe the live %s and the data "
                       "handled: redoing them", artifacts.version_name(manifest["version"]))
        else:
            run.decide("no new data in %s (deployed %s)", cfg.input_folder_path,
                       artifacts.version_name(manifest["version"]))
            return
    if batch and not run.dry_run:
        # Only now, the decision carried out: a run killed before reads these rows again.
        dbsource.mark_handled(cfg, batch, outcome)
    if not run.dry_run:
        # The stamp is written last: a run killed before it leaves the previous
        # state's stamp, so the next tick redoes every output.
        stamp = outputs_stamp(cfg)
        if outcome == "kept" and not outputs_stale(cfg):
            run.decide("nothing new reached the call list: the published call list stands; "
                       "the report is redone to name what was held back")
            report_only(cfg, run)
        else:
            report(cfg, run)
        artifacts.write_json_atomic(cfg.outputs_stamp_path, stamp)
        history.finish_call_lists(cfg.history_path)


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--force-retrain", action="store_true",
                   help="retrain and redeploy even without new data or drift")
    p.add_argument("--dry-run", action="store_true", help="say what would happen; change nothing")
    p.add_argument("--release-quarantined", metavar="NAME",
                   help="after checking it, let the quarantined input file NAME be ingested and learned from")
    p.add_argument("--accept-worse", action="store_true",
                   help="deploy even a model whose ranking collapses against the live one's (warned)")
    p.add_argument("--withdraw", metavar="NAME",
                   help="take the accepted extract NAME out of the records, training rows and call list")
    p.add_argument("--confirm-reference", action="store_true",
                   help="fix the training rows now ingested as the quality gate's reference")
    args = p.parse_args(argv)
    interpreter.require(ROOT, "numpy", "pandas", "sklearn", "matplotlib")  # found, not imported: no cost

    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    if args.release_quarantined:
        try:
            print(release_quarantined(cfg, args.release_quarantined))
        except StepError as exc:
            return cli.failed(exc)
        return 0
    try:
        with run_lock(cfg.lock_path) as locked:
            if not locked:
                log.info("already running (%s is locked); exiting", cfg.lock_path)
                return 0
            run = Run(dry_run=args.dry_run, accept_worse=args.accept_worse)
            if args.confirm_reference:
                print(confirm_reference(cfg))
                return 0
            if args.withdraw:
                withdraw(cfg, args.withdraw, run)
                run.result = f"withdrew {args.withdraw}"
            else:
                recorded_run(cfg, args.force_retrain, run)
    except StepError as exc:
        return cli.failed(exc)
    if run.outputs:
        print("\n".join(run.outputs))
    print(run.result_line())  # the run's decision in one line, last: cron's log and anyone reading stdout
    return 0


def recorded_run(cfg: config.Config, force: bool, run: Run) -> None:
    """One tick, recorded in the run history (table `runs`) however it ends."""
    started, code, error = history.now(), 1, None
    try:
        tick(cfg, force, run)
        code = 0
    except Exception as exc:
        error = exc
        raise
    finally:
        if not run.dry_run:
            history.record(cfg.history_path, "runs", [{
                "run_at": started, "ended_at": history.now(), "exit_code": code,
                "dry_run": 0, "decisions": json.dumps(run.decisions),
            }])
            tell(cfg, run, error)
            tell_managers(cfg, run)


def tell(cfg: config.Config, run: Run, error: BaseException | None) -> None:
    """Notify operators of a failure, a quarantine or a redeploy, once each (notify.py)."""
    if not notify.channels(cfg) or not (notify.worth_telling(run.decisions, error) or notify.list_stale(cfg)):
        return
    from risk.reports import notices  # pandas: only when there is something to tell
    run.outputs.extend(notify.send(cfg, notices.events(cfg, run.decisions, error)))


def tell_managers(cfg: config.Config, run: Run) -> None:
    """Each manager's digest of clients new in their top, once per published list (serving/digest.py)."""
    try:
        key = notify.digest_due(cfg)
        if key is None:
            return
        from risk.serving import digest  # pandas: only when a list's digests are due
        run.outputs.extend(digest.send_digests(cfg, key))
    except StepError as exc:  # the team database or the list unreadable: told, never a failed run
        run.warn(f"managers' digests not sent: {exc}")


if __name__ == "__main__":
    sys.exit(main())
