"""Telling operators: each event once, by webhook (JSON POST, Slack-compatible) and e-mail (SMTP);
and the SMTP channel and the "is it due" check of the managers' digest (serving/digest.py).

Config (all optional; nothing is sent without them):
  notify_webhook_url_env  the name of the environment variable holding the webhook URL
                          (default RISK_NOTIFY_WEBHOOK_URL; a Slack or Teams URL is a secret,
                          so never in config.json)
  notify_smtp_host, notify_smtp_port, notify_email_from, notify_email_to (comma-separated)
  notify_timeout_s        seconds a channel may take (default 5)

An event has a key: one already in the run history (table `notifications`) is
not sent again, so a quarantine is told once, not every ten minutes. Each channel
sends in its own thread, after the tick's work; the tick waits at most
notify_timeout_s for them and a failed send is one warning line, never a failed tick.
Standard library only.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from typing import Any, Callable, NamedTuple

from risk import artifacts, config, history
from risk.teamdb import TeamDb

log = logging.getLogger("notify")


# How the main job words the decisions worth telling (fullprocess.py, loop.py): their starts.
QUARANTINED = "quarantined "
DEPLOYED = ("deploying the challenger", "bootstrap")


def worth_telling(decisions: list[str], error: BaseException | None) -> bool:
    """Whether a run has anything to tell (so a tick with no news imports nothing more)."""
    return error is not None or any(d.startswith((QUARANTINED, *DEPLOYED)) for d in decisions)


def list_stale(cfg: config.Config) -> dict[str, Any] | None:
    """The published list's summary if another model than the live one made it (None: it is current)."""
    live = artifacts.read_manifest(cfg.prod_deployment_path)
    try:
        listed = json.loads((cfg.output_model_path / "call_list.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not live or not isinstance(listed, dict) or listed.get("model_sha256") in (None, live["model_sha256"]):
        return None
    return {**listed, "live_version": live["version"]}


class Event(NamedTuple):  # not a dataclass: importing dataclasses costs every tick ~5 ms
    key: str                # the same key is the same event: told once
    kind: str               # failed, quarantine, redeploy, stale
    title: str              # one line
    text: str               # what happened
    command: str | None = None  # what to run to act on it


def webhook_url(cfg: config.Config) -> str:
    return os.environ.get(cfg.notify_webhook_url_env, "").strip() if cfg.notify_webhook_url_env else ""


def _words(event: Event) -> str:
    return f"{event.title}\n{event.text}" + (f"\nTo act: {event.command}" if event.command else "")


def post_webhook(url: str, event: Event, timeout_s: float) -> None:
    """POST the event as JSON: `text` for Slack and Teams, `event` with its fields for anything else."""
    import urllib.request  # stdlib, but ~10 ms: only a tick that sends pays it

    body = json.dumps({"text": _words(event), "event": event._asdict()}).encode()
    request = urllib.request.Request(url, data=body, method="POST",
                                     headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=timeout_s) as response:  # noqa: S310 - the operator's URL
        response.read()


def run_all(jobs: list[tuple[str, Callable[[], None]]], timeout_s: float) -> None:
    """Run each (thread name, job) in a daemon thread of its own and wait at most `timeout_s`
    for them all: a receiver that hangs is left behind and never blocks the tick."""
    threads = [threading.Thread(target=job, daemon=True, name=name) for name, job in jobs]
    for t in threads:
        t.start()
    deadline = time.monotonic() + timeout_s
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))


def send_mail(cfg: config.Config, to: str, subject: str, text: str, timeout_s: float) -> None:
    """One plain-text e-mail through the configured SMTP relay (operators' notices, managers' digests)."""
    import smtplib  # stdlib, but ~20 ms with the email package: only a tick that sends pays it
    from email.message import EmailMessage

    message = EmailMessage()
    message["Subject"] = f"[client attrition risk] {subject}"
    message["From"] = cfg.notify_email_from
    message["To"] = to
    message.set_content(text)
    with smtplib.SMTP(cfg.notify_smtp_host, cfg.notify_smtp_port, timeout=timeout_s) as smtp:
        smtp.send_message(message)


def send_email(cfg: config.Config, event: Event, timeout_s: float) -> None:
    send_mail(cfg, cfg.notify_email_to, event.title, _words(event) + "\n", timeout_s)


def published_list_key(cfg: config.Config) -> str | None:
    """The published call list's key (its publication time), or None without one."""
    try:
        listed = json.loads((cfg.output_model_path / "call_list.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    key = listed.get("published_at") if isinstance(listed, dict) else None
    return str(key) if key else None


def digest_due(cfg: config.Config) -> str | None:
    """The published list's key if managers' digests are on and not yet done for it (standard
    library only: a quiet tick asks this and imports nothing more)."""
    if not (cfg.manager_digest and cfg.notify_smtp_host):
        return None
    key = published_list_key(cfg)
    if key is None or not cfg.team_db_path.is_file():
        return None
    with TeamDb(cfg.team_db_path) as db:
        return None if db.digest_done(key) else key


def channels(cfg: config.Config) -> dict[str, Callable[[Event, float], None]]:
    """The configured channels, by name."""
    found: dict[str, Callable[[Event, float], None]] = {}
    url = webhook_url(cfg)
    if url:
        found["webhook"] = lambda event, timeout: post_webhook(url, event, timeout)
    if cfg.notify_smtp_host and cfg.notify_email_to:
        found["e-mail"] = lambda event, timeout: send_email(cfg, event, timeout)
    return found


def _attempt(name: str, send: Callable[[Event, float], None], event: Event, timeout_s: float,
             done: dict[str, str]) -> None:
    try:
        send(event, timeout_s)
        done[name] = "sent"
    except Exception as exc:  # noqa: BLE001 - any failure to tell is a warning, never a failed tick
        done[name] = f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def send(cfg: config.Config, events: list[Event]) -> list[str]:
    """Send each event not sent before on every channel; record it; one line per event and channel."""
    routes = channels(cfg)
    if not routes or not events:
        return []
    told = {r["key"] for r in history.rows(cfg.history_path, "notifications")}
    fresh = [e for e in events if e.key not in told]
    results: list[tuple[Event, dict[str, str]]] = []
    jobs: list[tuple[str, Callable[[], None]]] = []
    for event in fresh:
        done: dict[str, str] = {}
        results.append((event, done))
        for name, route in routes.items():
            jobs.append((f"notify-{name}", functools.partial(
                _attempt, name, route, event, cfg.notify_timeout_s, done)))
    run_all(jobs, cfg.notify_timeout_s)
    lines = []
    rows: list[dict[str, Any]] = []
    for event, done in results:
        for name in routes:
            status = done.get(name, f"no answer within {cfg.notify_timeout_s:g} s")
            (log.info if status == "sent" else log.warning)("notify %s by %s: %s", event.key, name, status)
            lines.append(f"{event.title} -> {name}: {status}")
        rows.append({"key": event.key, "kind": event.kind, "title": event.title,
                     "channels": json.dumps(done)})
    if rows:
        history.record(cfg.history_path, "notifications", rows)
    return lines
