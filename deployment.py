"""Step 2c, deployment: put the trained model, its score and its data record into production.

Reads  output_model_path/trainedmodel.pkl (hash-checked), output_model_path/latestscore.txt,
       output_folder_path/ingestedfiles.txt and ingestion.json
Writes prod_deployment_path/releases/vNNNN/   the three files and manifest.json
       prod_deployment_path/current           symlink to the live release (the atomic switch)
       prod_deployment_path/trainedmodel.pkl, latestscore.txt, ingestedfiles.txt,
       manifest.json                          symlinks through `current`, the course's names
       a row in the run history (table `deployments`)

A release is built in a hidden temporary folder, renamed into place, and only
then made live by replacing the `current` symlink in one rename; a crash at
any moment leaves the previous deployment whole. The last `keep_deployments`
releases are kept, so a rollback is one command.

    python deployment.py [--config config.json]      deploy the trained model
    python deployment.py --rollback                  make the previous release live again
    python deployment.py --list                      list the releases
"""
from __future__ import annotations

import logging
import os
import re
import shutil
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import artifacts
import cli
import config
import history
from artifacts import ArtifactError
from errors import StepError

log = logging.getLogger("deployment")

RELEASE_NAME = re.compile(r"^v(\d{4,})$")


@dataclass
class Release:
    version: int
    path: Path

    @property
    def manifest(self) -> dict[str, Any]:
        return artifacts.read_json(self.path / artifacts.MANIFEST)


def releases(prod: Path) -> list[Release]:
    """The complete releases under `prod`, oldest first."""
    folder = prod / artifacts.RELEASES
    if not folder.is_dir():
        return []
    found = []
    for p in folder.iterdir():
        m = RELEASE_NAME.match(p.name)
        if m and (p / artifacts.MANIFEST).is_file():
            found.append(Release(int(m.group(1)), p))
    return sorted(found, key=lambda r: r.version)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _copy_durably(src: Path, dst: Path) -> None:
    shutil.copyfile(src, dst)
    with open(dst, "rb") as f:
        os.fsync(f.fileno())


def _symlink_atomic(link: Path, target: str) -> None:
    """Point `link` at `target` in one rename, replacing whatever `link` was."""
    tmp = link.parent / f".{link.name}.{os.getpid()}.tmp"
    if tmp.is_symlink() or tmp.exists():
        tmp.unlink()
    os.symlink(target, tmp)
    os.replace(tmp, link)


def _switch(prod: Path, release: Path) -> None:
    """Make `release` the live deployment: one symlink replaced, then the course's names."""
    _symlink_atomic(prod / artifacts.CURRENT, os.path.relpath(release, prod))
    for name in (*artifacts.DEPLOYED_FILES, artifacts.MANIFEST):
        link = prod / name
        if not link.is_symlink():
            _symlink_atomic(link, f"{artifacts.CURRENT}/{name}")
    _fsync_dir(prod)


def _recorded_model_hash(model_path: Path) -> str:
    """The SHA-256 that training recorded for the model in its sidecar."""
    meta = artifacts.read_json(artifacts.sidecar_path(model_path))
    if "sha256" not in meta:
        raise ArtifactError(f"{artifacts.sidecar_path(model_path)}: no recorded SHA-256")
    return meta["sha256"]


def _manifest(cfg: config.Config, version: int, files: dict[str, str]) -> dict[str, Any]:
    record = (
        artifacts.read_json(cfg.ingestion_record_path)
        if cfg.ingestion_record_path.is_file() else {"files": []}
    )
    training = artifacts.read_json(artifacts.sidecar_path(cfg.model_path))
    return {
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
    }


def deploy(cfg: config.Config, *, reason: str = "", extra: dict | None = None) -> Release:
    """Deploy the trained model, score and ingestion record as one new live release.

    `reason` (why it is deployed) and `extra` (merged) go into the manifest.
    """
    sources = {
        artifacts.MODEL_FILE: cfg.model_path,
        artifacts.SCORE_FILE: cfg.score_path,
        artifacts.INGESTED_FILES: cfg.ingestedfiles_path,
        artifacts.SIDECAR_FILE: artifacts.sidecar_path(cfg.model_path),
    }
    for path in sources.values():
        if not path.is_file():
            raise ArtifactError(f"{path}: not found; run the steps before deployment first")
    expected = _recorded_model_hash(cfg.model_path)

    prod = cfg.prod_deployment_path
    folder = prod / artifacts.RELEASES
    folder.mkdir(parents=True, exist_ok=True)
    existing = releases(prod)
    version = (existing[-1].version + 1) if existing else 1
    final = folder / artifacts.version_name(version)

    staging = Path(tempfile.mkdtemp(dir=folder, prefix=f".staging-{artifacts.version_name(version)}-"))
    try:
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
        manifest = {**_manifest(cfg, version, files), "reason": reason, **(extra or {})}
        artifacts.write_json_atomic(staging / artifacts.MANIFEST, manifest)
        _fsync_dir(staging)
        os.rename(staging, final)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    _fsync_dir(folder)
    _switch(prod, final)
    history.record(cfg.history_path, "deployments", [{
        "action": "deploy", "version": version, "model_sha256": files[artifacts.MODEL_FILE],
        "f1": manifest["score"], "release_path": str(final),
    }])
    log.info("deployed release %s (F1 %.4f) to %s", artifacts.version_name(version), manifest["score"], prod)
    prune(prod, cfg.keep_deployments)
    return Release(version, final)


def prune(prod: Path, keep: int) -> list[Path]:
    """Remove the oldest releases beyond `keep`, never the live one; return what was removed."""
    live = artifacts.current_release(prod)
    removed = []
    for release in releases(prod)[:-keep] if keep else []:
        if live is not None and release.path.resolve() == live:
            continue
        shutil.rmtree(release.path)
        removed.append(release.path)
        log.info("removed old release %s", release.path.name)
    return removed


def rollback(cfg: config.Config) -> Release:
    """Make the newest release older than the live one live again, after checking its files."""
    prod = cfg.prod_deployment_path
    live = artifacts.current_release(prod)
    if live is None:
        raise ArtifactError(f"{prod}: nothing is deployed, nothing to roll back")
    older = [r for r in releases(prod) if r.path.resolve() != live and r.version < _version(live)]
    if not older:
        raise ArtifactError(f"{prod}: no earlier release to roll back to (live: {live.name})")
    target = older[-1]
    manifest = target.manifest
    artifacts.verify_release(target.path, manifest)
    _switch(prod, target.path)
    history.record(cfg.history_path, "deployments", [{
        "action": "rollback", "version": target.version, "model_sha256": manifest["model_sha256"],
        "f1": manifest["score"], "release_path": str(target.path),
    }])
    log.info("rolled back from %s to %s", live.name, target.path.name)
    return target


def _version(release: Path) -> int:
    m = RELEASE_NAME.match(release.name)
    return int(m.group(1)) if m else 0


def listing(cfg: config.Config) -> str:
    """One line per release: version, time, F1, and which one is live."""
    live = artifacts.current_release(cfg.prod_deployment_path)
    lines = []
    for r in releases(cfg.prod_deployment_path):
        m = r.manifest
        mark = "*" if live is not None and r.path.resolve() == live else " "
        lines.append(f"{mark} {artifacts.version_name(r.version)}  {m['deployed_at']}  F1 {m['score']:.4f}")
    return "\n".join(lines) if lines else "nothing deployed"


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rollback", action="store_true", help="make the previous release live again")
    group.add_argument("--list", action="store_true", help="list releases (* marks the live one)")
    args = p.parse_args(argv)

    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    if args.list:
        print(listing(cfg))
        return 0
    try:
        release = rollback(cfg) if args.rollback else deploy(cfg)
    except StepError as exc:
        return cli.failed(exc)
    verb = "rolled back to" if args.rollback else "deployed"
    print(f"{verb} {artifacts.version_name(release.version)} (F1 {release.manifest['score']:.4f})"
          f" -> {cfg.prod_deployment_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
