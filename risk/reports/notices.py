"""What the main job tells operators after a run: a failure, a quarantine, a redeploy (notify.py sends).

Each event says what happened and the command to act on it; its key makes it
told once (a quarantine of the same file, a release, the same failure).
"""
from __future__ import annotations

import hashlib
from typing import Any

from risk import artifacts, config, notify
from risk.reports import report_facts

QUARANTINED, DEPLOYED = notify.QUARANTINED, notify.DEPLOYED


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:12]


def events(cfg: config.Config, decisions: list[str], error: BaseException | None) -> list[notify.Event]:
    found = []
    where = f"--config {cfg.path}"
    if error is not None:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        found.append(notify.Event(
            f"failed:{_digest(message)}", "failed", "The main job failed", message,
            f"read {cfg.log_folder / 'pipeline.log'}, fix the cause, then: python fullprocess.py {where}"))
    for d in decisions:
        if d.startswith(QUARANTINED):
            name = d[len(QUARANTINED):].split(":")[0].strip()
            found.append(notify.Event(
                f"quarantine:{_digest(d)}", "quarantine", f"Extract {name} held back by the quality gate", d,
                f"{report_facts.release_command(name)} {where} (after checking it)"))
    stale = notify.list_stale(cfg)
    if stale is not None:
        listed, live = artifacts.version_name(stale["model_version"]), artifacts.version_name(stale["live_version"])
        found.append(notify.Event(
            f"stale:{stale['published_at']}:{live}", "stale", "The call list is stale",
            f"the list published {stale['published_at']} was made by {listed}; {live} is live "
            "and no run has published its list", f"python fullprocess.py {where} (or read its log)"))
    if any(d.startswith(DEPLOYED) for d in decisions):
        manifest: Any = artifacts.read_manifest(cfg.prod_deployment_path)
        if manifest:
            name = artifacts.version_name(manifest["version"])
            found.append(notify.Event(
                f"redeploy:{manifest['model_sha256']}", "redeploy", f"Model {name} is live",
                f"{name} deployed: {manifest.get('reason', '')} (F1 {manifest['score']:.3f} on the test data)",
                f"python deployment.py --rollback {where} (to go back)"))
    return found
