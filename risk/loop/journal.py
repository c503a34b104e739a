"""Going live and recording it, as one recoverable step: journal first, then act, then mark done.

A release going live - a challenger, or the champion recalibrated - and its history
rows (the `deployments` row, the champion/challenger decision, the files marked
handled) cannot share one transaction: the switch is a rename on disk, the rows are SQLite. So the main job
  1. writes the journal (`begin`): the rows to record, and the SHA-256 of the model
     about to go live, atomically, before anything goes live;
  2. deploys (deployment.deploy with record=False);
  3. finishes the journal (`finish`): finds the release of that model, and if it was
     made live writes the rows, with its version, in one transaction; then removes
     the journal.
A run killed anywhere in between leaves the journal; the next tick finishes it
(`recover`) before it looks for new data. If the model never went live, nothing is
recorded: its data are still unhandled, so that tick decides on them again. An
operator's rollback before that tick changes nothing: the rows name the release
that went live, and the files it handled are not new again.

The journal is `<history file>.journal.json`, beside the run history.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from risk import artifacts, config, history

log = logging.getLogger("journal")


def path(cfg: config.Config) -> Path:
    return cfg.history_path.with_name(f"{cfg.history_path.name}.journal.json")


def begin(cfg: config.Config, model_sha256: str, rows: dict[str, list[dict[str, Any]]]) -> None:
    """Record, before it goes live, the model and the rows its going live must leave in the history.

    A `challenger_decisions` row's `deployed_version` is filled in by `finish`.
    """
    artifacts.write_json_atomic(path(cfg), {"started_at": history.now(), "model_sha256": model_sha256,
                                            "rows": artifacts.json_safe(rows)})


def _live_release(cfg: config.Config, model_sha256: str) -> artifacts.Release | None:
    """The newest release of this model that went live (or is live: killed before its mark)."""
    prod = cfg.prod_deployment_path
    current = artifacts.current_release(prod)
    for release in reversed(artifacts.releases(prod)):
        if release.manifest.get("model_sha256") != model_sha256:
            continue
        if artifacts.was_live(release.path) or (current is not None and release.path.resolve() == current):
            return release
    return None


def finish(cfg: config.Config) -> artifacts.Release | None:
    """Write the journal's rows if its model went live; remove the journal. The release, or None."""
    entry = artifacts.read_json(path(cfg))
    release = _live_release(cfg, entry["model_sha256"])
    if release is not None:
        rows = entry["rows"]
        for row in rows.get("challenger_decisions", []):
            row["deployed_version"] = release.version
        manifest = release.manifest
        rows["deployments"] = [artifacts.deployment_row(release.version, manifest, release.path)]
        history.record_all(cfg.history_path, rows)
    path(cfg).unlink()
    return release


def recover(cfg: config.Config) -> str | None:
    """Finish the journal a killed run left, if any; what was done, in words (None: no journal)."""
    if not path(cfg).exists():
        return None
    release = finish(cfg)
    if release is None:
        return "journal of a killed run found: its model never went live, nothing to record"
    return f"journal of a killed run finished: recorded the deployment of {release.name} and its decision"
