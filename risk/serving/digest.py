"""The managers' digest: one e-mail per manager of their clients who entered their top N to call.

Reads  the published call list (scoring.read_call_list), owners, snoozes and the
       holdout as the page joins them (actions.joined: the digest's top N is the
       manager's "to call" view: their clients, not snoozed, not held out), the
       team database's users (e-mail, digest on/off) and each manager's previous digest
Writes one row per manager and list in the team database (table digests), the
       list's claim first (digest_lists), so a list's digests go out at most once
Sends  through notify.send_mail (config notify_smtp_*), one thread per manager; the
       main job waits at most notify_timeout_s for all of them, and a failed send is
       one warning line, never a failed run

Config: manager_digest (off by default), manager_digest_top (N), page_url (links).
A manager's previous top N is their last digest's; before their first digest, the
top N of the previous list by its ranks (the list's previous_rank column); with
no previous list at all, their whole top N is new. A digest with nothing new is
recorded, not sent.
"""
from __future__ import annotations

import functools
import json
import logging
import unicodedata
from dataclasses import dataclass
from typing import Any

import pandas as pd

from risk import config, notify
from risk.model import scoring
from risk.serving import actions, ids
from risk.teamdb import TeamDb

log = logging.getLogger("digest")


@dataclass
class Digest:
    manager: str
    email: str
    top: list[str]              # the manager's top N to call now, in order
    entered: pd.DataFrame       # the rows of the list new in it, in rank order


def _previous_top(db: TeamDb, manager: str, own: pd.DataFrame, n: int) -> list[str]:
    last = db.last_digest(manager)
    if last is not None:
        return json.loads(last["top"])
    if "previous_rank" not in own.columns:
        return []
    before = own[own["previous_rank"].notna()].sort_values("previous_rank", kind="stable")
    return before["corporation"].head(n).tolist()


def digests(cfg: config.Config, db: TeamDb, frame: pd.DataFrame) -> list[Digest]:
    """Each manager's digest (e-mail set, digest on, not disabled) for the joined list `frame`."""
    n = cfg.manager_digest_top
    to_call = frame[~actions.snoozed(frame) & ~frame["held_out"]].sort_values("rank", kind="stable")
    found = []
    for user in db.users():
        if user["role"] != "manager" or user["disabled"] or not user["digest"] or not user["email"]:
            continue
        own = to_call[to_call["account_manager"] == user["name"]]
        top = own.head(n)
        before = set(_previous_top(db, user["name"], own, n))
        found.append(Digest(user["name"], user["email"], top["corporation"].tolist(),
                            top[~top["corporation"].isin(before)]))
    return found


def _plain(text: Any) -> str:
    """Text from the data as one safe line: control and format characters dropped."""
    return "".join(ch for ch in str(text) if unicodedata.category(ch) not in ("Cc", "Cf")).strip()


def words(cfg: config.Config, d: Digest, published_at: str) -> tuple[str, str]:
    """The digest's subject and plain-text body."""
    count = len(d.entered)
    subject = f"{count} client{'' if count == 1 else 's'} new in your top {cfg.manager_digest_top} to call"
    lines = [f"Hello {d.manager},", "",
             f"The call list published {published_at[:16].replace('T', ' ')} UTC puts "
             f"{'this client' if count == 1 else f'these {count} clients'} in your top "
             f"{cfg.manager_digest_top} to call, new since your previous list:", ""]
    base = cfg.page_url.rstrip("/")
    for i, r in enumerate(d.entered.to_dict("records"), start=1):
        name = f" ({_plain(r['name'])})" if r.get("name") else ""
        lines.append(f"{i}. {ids.visible(r['corporation'])}{name}: rank {int(r['rank']):,}, "
                     f"{int(r['risk_percent'])} % risk ({r['band']})")
        reasons = [x for x in str(r.get("reasons") or "").split("; ") if x][:2]
        if reasons:
            lines.append(f"   Why: {_plain('; '.join(reasons))}")
        if r.get("contact"):
            lines.append(f"   Contact: {_plain(r['contact'])}")
        if base:
            lines.append(f"   {base}{ids.client_path(r['corporation'])}")
    lines += ["", f"Your list: {base}/?who=mine" if base else "Your list: the call list page, \"My clients\".",
              "", "You get this e-mail once per published list. To stop it, ask an operator to run "
              f"`python users.py digest {d.manager} off`."]
    return subject, "\n".join(lines) + "\n"


def send_digests(cfg: config.Config, list_key: str) -> list[str]:
    """Work out, claim and send the digests of the published list `list_key`; one line per manager."""
    ranking, meta = scoring.read_call_list(cfg)
    if str(meta.get("published_at")) != list_key:
        return []  # another list was published meanwhile: the next run sends its digests
    with TeamDb(cfg.team_db_path) as db:
        actions.assign_holdout(cfg, db, ranking, list_key)  # as the page's first view would
        found = digests(cfg, db, actions.joined(cfg, db, ranking))
        rows = [(d.manager, json.dumps(d.top), json.dumps(d.entered["corporation"].tolist()),
                 "sending" if len(d.entered) else "nothing new") for d in found]
        if not db.claim_digests(list_key, rows):
            return []
    due = [d for d in found if len(d.entered)]
    done: dict[str, str] = {}
    notify.run_all([(f"digest-{d.manager}", functools.partial(_send, cfg, d, *words(cfg, d, list_key), done))
                    for d in due], cfg.notify_timeout_s)
    lines = []
    with TeamDb(cfg.team_db_path) as db:
        for d in due:
            status = done.get(d.manager, f"no answer within {cfg.notify_timeout_s:g} s")
            db.digest_status(list_key, d.manager, status)
            (log.info if status == "sent" else log.warning)("digest to %s (%d new): %s", d.manager,
                                                            len(d.entered), status)
            lines.append(f"digest to {d.manager}: {len(d.entered)} new in the top "
                         f"{cfg.manager_digest_top} -> {status}")
    return lines


def _send(cfg: config.Config, d: Digest, subject: str, body: str, done: dict[str, str]) -> None:
    try:
        notify.send_mail(cfg, d.email, subject, body, cfg.notify_timeout_s)
        done[d.manager] = "sent"
    except Exception as exc:  # noqa: BLE001 - a digest that cannot go out is a warning, never a failed run
        done[d.manager] = f"failed: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
