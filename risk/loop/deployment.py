"""Step 2c, deployment: put the trained model, its score and its data record into production.

The work of `deployment.py` (its command line lives there).
"""
from __future__ import annotations

import logging
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

from risk import artifacts, config, history
from risk.artifacts import ArtifactError, Release, releases
from risk.data import contract
from risk.errors import StepError
from risk.loop import challenger, journal, loop

log = logging.getLogger("deployment")

__all__ = ["Release", "deploy", "go_to", "listing", "prune", "releases", "rollback"]


class WorseModel(StepError):
    """The model to deploy ranks far worse than the live one; --accept-worse deploys it anyway."""


def guard_rail(cfg: config.Config, accept_worse: bool = False) -> list[str]:
    """Refuse a model whose ranking collapses against the live one's; with `accept_worse`, warn.

    Judged on the freshest labelled rows (the latest ingested extracts, about
    2,000 rows) and on the test data, by challenger.collapses (AUC down by more
    than 0.10, or under half the exits in the top call_capacity). Returns the
    warning lines (empty when nothing collapsed or nothing is live).
    """
    prod = cfg.prod_deployment_path
    if artifacts.read_manifest(prod) is None:
        return []
    champion, manifest = artifacts.load_deployed_model(prod)
    candidate = artifacts.load_model(cfg.model_path, _recorded_model_hash(cfg.model_path))
    sets = {"the freshest labelled rows": loop.calibration_rows(cfg),
            f"the test data ({cfg.test_data_file.name})": contract.read_csv(cfg.test_data_file)}
    found = challenger.collapse_report(champion, candidate, sets, cfg.call_capacity)
    if not found:
        return []
    live = artifacts.version_name(manifest["version"])
    what = "; ".join(f"on {where}: {why}" for where, why in found)
    if not accept_worse:
        raise WorseModel(f"{cfg.model_path}: refusing to deploy, it ranks far worse than the live {live} "
                         f"{what}; deploy it anyway with --accept-worse")
    warning = f"WARNING deployed with --accept-worse: ranks far worse than {live} {what}"
    log.warning("%s", warning)
    return [warning]


def _copy_durably(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with open(dst, "rb") as f:
        os.fsync(f.fileno())


def _recorded_model_hash(model_path: Path) -> str:
    """The SHA-256 that training recorded for the model in its sidecar."""
    meta = artifacts.read_json(artifacts.sidecar_path(model_path))
    if "sha256" not in meta:
        raise ArtifactError(f"{artifacts.sidecar_path(model_path)}: no recorded SHA-256")
    return meta["sha256"]


def _manifest(cfg: config.Config, version: int, files: dict[str, str], reason: str,
              extra: dict[str, Any] | None) -> artifacts.Manifest:
    record = (
        artifacts.read_json(cfg.ingestion_record_path)
        if cfg.ingestion_record_path.is_file() else {"files": []}
    )
    training = artifacts.read_json(artifacts.sidecar_path(cfg.model_path))
    manifest: artifacts.Manifest = {
        "version": version,
        "deployed_at": history.now(),
        "files": files,
        "score": artifacts.read_score(cfg.score_path),
        "model_sha256": files[artifacts.MODEL_FILE],
        "source_files": [
            {k: f[k] for k in ("name", "sha256", "rows_read", "rows_kept")}
            for f in record["files"] if f["status"] == "ingested"
        ],
        "rejected_files": [
            {k: f[k] for k in ("name", "sha256", "reason")}
            for f in record["files"] if f["status"] == "rejected"
        ],
        "finaldata_sha256": record.get("finaldata_sha256"),
        # The data profile stays in the release's trainedmodel.json: the manifest
        # is read on every cron tick and should stay small.
        "training": {k: v for k, v in training.items() if k not in ("sha256", "file", "profile")},
        "reason": reason,
    }
    # The caller's keys join the manifest; they never replace what deployment records.
    return {**(extra or {}), **manifest}  # type: ignore[typeddict-item]


def _sources(cfg: config.Config) -> dict[str, Path]:
    return {
        artifacts.MODEL_FILE: cfg.model_path,
        artifacts.SCORE_FILE: cfg.score_path,
        artifacts.INGESTED_FILES: cfg.ingestedfiles_path,
        artifacts.SIDECAR_FILE: artifacts.sidecar_path(cfg.model_path),
    }


def deploy(cfg: config.Config, *, reason: str = "", extra: dict[str, Any] | None = None,
           guard: bool = True, accept_worse: bool = False, record: bool = True) -> Release:
    """Deploy the trained model, score and ingestion record as one new live release.

    `reason` (why it is deployed) and `extra` (more keys, e.g. the reference
    performance) go into the manifest. A model identical to the live one makes
    no new release: the live one is returned. With `guard`, a model whose
    ranking collapses against the live one's is refused (WorseModel) unless
    `accept_worse`; then the manifest keeps the warning. (fullprocess.py's
    challenger was judged already, on its own sets: it passes guard=False.)
    `record=False`: the caller records the `deployments` row (the main job,
    through its journal: journal.py).
    """
    sources = _sources(cfg)
    for path in sources.values():
        if not path.is_file():
            raise ArtifactError(f"{path}: not found; run the steps before deployment first")
    expected = _recorded_model_hash(cfg.model_path)
    if guard and artifacts.read_manifest(cfg.prod_deployment_path) is not None and (
            artifacts.read_manifest(cfg.prod_deployment_path) or {}).get("model_sha256") != expected:
        warnings = guard_rail(cfg, accept_worse)
        if warnings:
            extra = {**(extra or {}), "warning": warnings[0]}

    prod = cfg.prod_deployment_path
    live = artifacts.deployed(prod)
    if live is not None:
        # A run killed between the switch and its mark: the live release was live.
        artifacts.mark_live(live.release)
        if live.manifest.get("model_sha256") == expected:
            log.info("model identical to the live %s (SHA-256 %s…): no new release",
                     live.release.name, expected[:12])
            return Release(live.manifest["version"], live.release)

    folder = prod / artifacts.RELEASES
    staging: Path | None = None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        existing = releases(prod)
        version = (existing[-1].version + 1) if existing else 1
        final = artifacts.release_path(prod, version)
        artifacts.sweep_leftovers(folder)
        staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".staging-{artifacts.version_name(version)}-"))
        # mkdtemp makes the folder 0700; releases are for the team to read, like their files.
        os.chmod(staging, artifacts.shared_mode(0o777))
        files = {}
        for name, src in sources.items():
            _copy_durably(src, staging / name)
            files[name] = artifacts.sha256_file(staging / name)
        # The copy is what goes live: check it, not the source, against training's hash.
        if files[artifacts.MODEL_FILE] != expected:
            raise ArtifactError(
                f"{cfg.model_path}: SHA-256 does not match "
                f"{artifacts.sidecar_path(cfg.model_path).name}; refusing to deploy it"
            )
        manifest = _manifest(cfg, version, files, reason, extra)
        artifacts.write_json_atomic(staging / artifacts.MANIFEST, manifest)
        artifacts.fsync_dir(staging)
        os.rename(staging, final)
        artifacts.fsync_dir(folder)
    except BaseException as exc:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
        if isinstance(exc, OSError):
            # filename2 is the destination of a copy or rename: the file being written.
            where = exc.filename2 or exc.filename
            raise artifacts.write_error(Path(where) if where else folder, exc) from exc
        raise
    artifacts.switch(prod, final)
    if record:
        history.record(cfg.history_path, "deployments", [artifacts.deployment_row(version, manifest, final)])
    log.info("deployed release %s (F1 %.4f) to %s%s", final.name, manifest["score"], prod,
             f": {reason}" if reason else "")
    prune(prod, cfg.keep_deployments)
    return Release(version, final)


def prune(prod: Path, keep: int) -> list[Path]:
    """Remove the oldest releases beyond `keep`, never the live one; return what was removed."""
    live = artifacts.current_release(prod)
    removed = []
    for release in releases(prod)[:-keep] if keep else []:
        if live is not None and release.path.resolve() == live:
            continue
        try:
            shutil.rmtree(release.path)
        except OSError as exc:
            raise artifacts.write_error(release.path, exc) from exc
        removed.append(release.path)
        log.info("removed old release %s", release.path.name)
    return removed


def _live(prod: Path) -> Release:
    live = artifacts.current_release(prod)
    if live is None:
        raise ArtifactError(f"{prod}: nothing is deployed")
    artifacts.mark_live(live)
    for r in releases(prod):
        if r.path.resolve() == live:
            return r
    raise ArtifactError(f"{live}: the live release is not named like a release")


def go_to(cfg: config.Config, version: int) -> tuple[Release, list[str]]:
    """Make release `version` live (back or forward), after checking its files.

    Returns the release and notes for the user: what a rollback goes past (a
    release deployed because of drift answered a real change).
    """
    prod = cfg.prod_deployment_path
    live = _live(prod)
    by_version = {r.version: r for r in releases(prod)}
    target = by_version.get(version)
    if target is None:
        kept = ", ".join(r.name for r in by_version.values()) or "none"
        raise ArtifactError(f"{prod}: no release {artifacts.version_name(version)} (kept: {kept})")
    if target.version == live.version:
        return live, [f"{live.name} is already live"]
    if not artifacts.was_live(target.path):
        raise ArtifactError(
            f"{target.path}: {target.name} was never made live (its deployment was interrupted); "
            "deploy again instead"
        )
    manifest = target.manifest
    artifacts.verify_release(target.path, manifest)
    notes = []
    if target.version < live.version:
        for r in releases(prod):
            if target.version < r.version <= live.version and artifacts.was_live(r.path):
                why = str(r.manifest.get("reason") or "")
                if why:
                    drift = " - because of drift" if "drift" in why.lower() else ""
                    notes.append(f"going back past {r.name}, deployed{drift}: {why}")
    artifacts.switch(prod, target.path)
    action = "rollback" if target.version < live.version else "forward"
    history.record(cfg.history_path, "deployments", [{
        "action": action, "version": target.version, "model_sha256": manifest["model_sha256"],
        "f1": manifest["score"], "release_path": str(target.path),
    }])
    log.info("%s from %s to %s", action, live.name, target.name)
    for note in notes:
        log.warning("%s", note)
    return target, notes


def rollback(cfg: config.Config) -> Release:
    """Make the newest release older than the live one that was live before live again."""
    return rollback_with_notes(cfg)[0]


def rollback_with_notes(cfg: config.Config) -> tuple[Release, list[str]]:
    prod = cfg.prod_deployment_path
    try:
        live = _live(prod)
    except ArtifactError:
        raise ArtifactError(f"{prod}: nothing is deployed, nothing to roll back") from None
    older = [r for r in releases(prod) if r.version < live.version and artifacts.was_live(r.path)]
    if not older:
        raise ArtifactError(f"{prod}: no earlier release to roll back to (live: {live.name})")
    return go_to(cfg, older[-1].version)


def listing(cfg: config.Config) -> str:
    """One line per release: version, time, F1, whether it is or was live, why it was deployed."""
    live = artifacts.current_release(cfg.prod_deployment_path)
    lines = []
    for r in releases(cfg.prod_deployment_path):
        m = r.manifest
        if live is not None and r.path.resolve() == live:
            mark, state = "*", "live"
        else:
            mark, state = " ", "was live" if artifacts.was_live(r.path) else "never live"
        why = f"  {m['reason']}" if m.get("reason") else ""
        lines.append(f"{mark} {r.name}  {m['deployed_at']}  F1 {m['score']:.4f}  {state}{why}")
    return "\n".join(lines) if lines else "nothing deployed"


def _version_arg(text: str) -> int:
    version = artifacts.parse_version(text)
    if version is None:
        import argparse
        raise argparse.ArgumentTypeError(f"not a release version: {text!r} (say v0003 or 3)")
    return version


def go_live(cfg: config.Config, model_sha256: str, rows: dict[str, list[dict[str, Any]]], *,
            reason: str, extra: dict[str, Any], guard: bool,
            accept_worse: bool = False) -> tuple[int | None, str | None]:
    """Deploy the trained model with its history `rows` as one recoverable step (journal.py).

    Journal first, then go live, then write the rows and remove the journal; a
    run killed in between is finished by the next tick. Returns the live
    version (None if the model did not go live) and the guard rail's warning, if any.
    """
    journal.begin(cfg, model_sha256, rows)
    deployed = deploy(cfg, reason=reason, extra=extra, guard=guard, accept_worse=accept_worse, record=False)
    release = journal.finish(cfg)
    return (release.version if release else None), deployed.manifest.get("warning")
