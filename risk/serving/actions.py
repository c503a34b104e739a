"""What the team does with the list: owners, values, actions, snoozes and the holdout, joined to it.

Reads  the published call list (page.py passes its frame), the optional client
       info file (config `client_info_file`: corporation, account_manager,
       annual_value, name, contact, crm_url; config `crm_link_template`) and the team database (risk/teamdb.py: owners set on
       the page, actions, holdout assignments)
Writes actions (page form and POST /actions), owners (operator form), and the
       holdout assignment of clients entering the top `call_capacity`
Serves POST /actions and GET /actions (views registered by app.create_app;
       their docstrings are their OpenAPI operations)

The joined frame is kept per app and rebuilt only when the list, the info
file, or the team's records change, so a page view does not re-join 10,000
rows and 50,000 actions.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import logging
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
import pandas as pd
from flask import Response, g, request
from werkzeug.exceptions import BadRequest, Forbidden, NotFound

from risk import config
from risk.data.clientinfo import client_info
from risk.errors import StepError
from risk.serving import accounts, ids
from risk.teamdb import OUTCOMES, TeamDb

log = logging.getLogger("actions")

TEAM_COLUMNS = ("account_manager", "name", "contact", "crm_link", "annual_value", "expected_loss", "held_out",
                "last_at", "last_by",
                "called_at", "reached_at", "outcome", "note", "snooze_until")
NOTE_MAX = 2000


class ActionError(ValueError):
    """An action that cannot be recorded as sent: the message says which field and why."""


# --- the joined frame, cached per app ------------------------------------------------------

@dataclass
class TeamCache:
    key: Any = None
    frame: pd.DataFrame | None = None
    last_action: int = 0                     # the newest action already in `frame`
    position: dict[str, int] = field(default_factory=dict)  # corporation -> row
    lock: threading.Lock = field(default_factory=threading.Lock)


def _stamp(path: Path | None) -> tuple[int, int] | None:
    if path is None:
        return None
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def holdout_draw(seed: int, list_key: str, corporation: str) -> float:
    """A uniform number in [0, 1) fixed by seed, list and client: the holdout's coin."""
    h = hashlib.sha256(f"{seed}\x1f{list_key}\x1f{corporation}".encode("utf-8", "surrogateescape")).digest()
    return int.from_bytes(h[:8], "big") / 2 ** 64


def assign_holdout(cfg: config.Config, db: TeamDb, frame: pd.DataFrame, list_key: str) -> None:
    """Record, for each client of the top `call_capacity` never assigned, whether it is held out."""
    if cfg.call_holdout_share <= 0:
        return
    top = frame.nsmallest(cfg.call_capacity, "rank")
    db.assign_holdout((c, list_key, b, int(holdout_draw(cfg.call_holdout_seed, list_key, c) < cfg.call_holdout_share))
                      for c, b in zip(top["corporation"], top["band"]))


def team_frame(cfg: config.Config, cache: TeamCache, db: TeamDb, ranking: pd.DataFrame,
               meta: dict[str, Any]) -> pd.DataFrame:
    """The call list with the team's columns (TEAM_COLUMNS) joined. Rebuilt when the list, the info
    file, owners or the holdout change; new actions are applied to the kept frame (a page view
    after a click does not re-read 50,000 actions)."""
    list_key = str(meta.get("published_at", ""))
    key = (id(ranking), list_key, _stamp(cfg.client_info_file), db.joined_version())
    newest = db.action_count()
    if cache.key == key and cache.frame is not None and cache.last_action == newest:
        return cache.frame
    with cache.lock:
        if cache.key != key or cache.frame is None:
            assign_holdout(cfg, db, ranking, list_key)
            key = (id(ranking), list_key, _stamp(cfg.client_info_file), db.joined_version())
            newest = db.action_count()
            frame = joined(cfg, db, ranking)
            cache.position = {c: i for i, c in enumerate(frame["corporation"])}
            cache.frame, cache.key, cache.last_action = frame, key, newest
        elif cache.last_action < newest:
            cache.frame = _with_actions(cache, db.actions_after(cache.last_action))
            cache.last_action = max(newest, cache.last_action)
    return cache.frame


def _with_actions(cache: TeamCache, new: list[dict[str, Any]]) -> pd.DataFrame:
    """The kept frame with `new` actions (oldest first) applied as latest_state would give them."""
    frame = cache.frame.copy()
    columns = {c: frame.columns.get_loc(c) for c in ("last_at", "last_by", "called_at", "reached_at",
                                                    "outcome", "note", "snooze_until")}
    for a in new:
        row = cache.position.get(a["corporation"])
        cache.last_action = max(cache.last_action, a["id"])
        if row is None:
            continue
        values = {"last_at": a["at"], "last_by": a["by"], "called_at": a["at"] if a["called"] else None,
                  "reached_at": a["at"] if a["reached"] else None, "outcome": a["outcome"] or None,
                  "note": a["note"] or None, "snooze_until": a["snooze_until"] or None}
        for name, value in values.items():
            if value is not None:
                frame.iat[row, columns[name]] = value
    return frame


def joined(cfg: config.Config, db: TeamDb, ranking: pd.DataFrame) -> pd.DataFrame:
    """The list with owners, names, contacts, CRM links, values, holdout and last actions."""
    frame = ranking.merge(client_info(cfg.client_info_file), on="corporation", how="left")
    for column in ("account_manager", "name", "contact", "crm_url"):
        if column not in frame.columns:
            frame[column] = ""
        frame[column] = frame[column].fillna("")
    # The order by name (else id), made once per join: sorting 10,000 names on each view costs ~10 ms.
    names = frame["name"].where(frame["name"] != "", frame["corporation"]).str.lower().to_numpy(object)
    frame["client_order"] = np.argsort(np.argsort(names, kind="stable"), kind="stable")
    frame["crm_link"] = ids.crm_links(frame["corporation"].tolist(), frame["crm_url"].tolist(), cfg.crm_link_template)
    set_on_page = db.owners()
    if set_on_page:
        frame["account_manager"] = [set_on_page.get(c, m) for c, m in zip(frame["corporation"], frame["account_manager"])]
    if "annual_value" not in frame.columns:
        frame["annual_value"] = float("nan")
    frame["expected_loss"] = frame["probability"] * frame["annual_value"]
    held = {h["corporation"] for h in db.holdout() if h["held_out"]}
    frame["held_out"] = frame["corporation"].isin(held)
    state = pd.DataFrame(db.latest_state(), columns=["corporation", "last_at", "last_by", "called_at",
                                                     "reached_at", "outcome", "note", "snooze_until"])
    frame = frame.merge(state, on="corporation", how="left")
    for column in ("last_at", "last_by", "called_at", "reached_at", "outcome", "note", "snooze_until"):
        frame[column] = frame[column].fillna("").astype(str)
    return frame


def snoozed(frame: pd.DataFrame, today: str | None = None) -> pd.Series:
    """Clients snoozed past today (a snooze lasts up to and including its date)."""
    today = today or dt.date.today().isoformat()
    return frame["snooze_until"] >= today


def visible_to(frame: pd.DataFrame, who: Any) -> pd.Series:
    """Whose actions and notes `who` may see: an operator everyone's, a manager their own and unowned clients'."""
    if who.operator:
        return pd.Series(True, index=frame.index)
    return frame["account_manager"].isin(["", who.name])


# --- recording ------------------------------------------------------------------------------

def _flag(value: Any, name: str) -> int:
    if value in (True, 1, "1", "on", "true", "yes"):
        return 1
    if value in (False, 0, None, "", "0", "off", "false", "no"):
        return 0
    raise ActionError(f"'{name}' must be true or false, got {str(value)[:20]!r}")


def _clean_note(note: Any) -> str:
    if note is None:
        return ""
    if not isinstance(note, str):
        raise ActionError("'note' must be text")
    # Keep line breaks; drop other control and format characters (zero-width, bidi overrides).
    note = "".join(ch for ch in note.replace("\r\n", "\n")
                   if ch == "\n" or unicodedata.category(ch) not in ("Cc", "Cf")).strip()
    if len(note) > NOTE_MAX:
        raise ActionError(f"'note' is over {NOTE_MAX} characters")
    return note


def _snooze(value: Any, today: dt.date) -> str:
    if value in (None, ""):
        return ""
    try:
        day = dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise ActionError(f"'snooze_until' must be a date YYYY-MM-DD, got {str(value)[:20]!r}") from None
    if day <= today:
        raise ActionError(f"'snooze_until' must be after today ({today.isoformat()})")
    if day > today + dt.timedelta(days=366):
        raise ActionError("'snooze_until' must be within a year")
    return day.isoformat()


def action_row(fields: Mapping[str, Any], corporation: str, by: str, today: dt.date | None = None) -> dict[str, Any]:
    """The `actions` row for what was sent, or ActionError naming the field."""
    today = today or dt.date.today()
    outcome = fields.get("outcome") or ""
    if outcome not in ("", *OUTCOMES):
        raise ActionError(f"'outcome' must be one of {', '.join(OUTCOMES)}, got {str(outcome)[:20]!r}")
    row = {"by": by, "corporation": corporation, "called": _flag(fields.get("called"), "called"),
           "reached": _flag(fields.get("reached"), "reached"), "outcome": outcome,
           "note": _clean_note(fields.get("note")), "snooze_until": _snooze(fields.get("snooze_until"), today)}
    if row["reached"] or outcome in ("kept", "at risk", "leaving"):
        row["called"] = 1  # reaching someone means calling them
    if not (row["called"] or row["outcome"] or row["note"] or row["snooze_until"]):
        raise ActionError("nothing to record: mark called or reached, choose an outcome, write a note or snooze")
    return row


def record(db: TeamDb, row: dict[str, Any]) -> int:
    """Record one action and its audit line; returns its id once it is on disk."""
    detail = json.dumps({k: row[k] for k in ("called", "reached", "outcome", "snooze_until") if row[k]})
    return db.add_action(row, audit_detail=detail)


# --- the API: POST /actions, GET /actions ------------------------------------------------------

def post_action(svc: Any, listed: Callable[[str], bool]) -> tuple[Response, int]:
    """Record what was done about a client: called, reached, outcome, note, snooze.
    ---
    post:
      summary: Record an action on a client of the call list (needs a write-actions token)
      description: >-
        Each action is kept with who (the token's service) and when, and is never
        lost by a redeploy, a re-published list or a crash: the answer comes after
        it is on disk. A snoozed client leaves the "to call" view until its date.
      requestBody:
        required: true
        content:
          application/json:
            schema: ActionRequest
      responses:
        201: {description: The recorded action, content: {application/json: {schema: Action}}}
        400: BadRequest
        401: Unauthorized
        403: {description: 'The token may only read', content: {application/json: {schema: Error}}}
        404: NotFound
    """
    who = g.who
    if who is None or not who.can_write_actions:
        raise Forbidden("this token may only read: recording actions needs a write-actions token")
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        raise BadRequest("send a JSON object: corporation and what was done")
    corporation = body.get("corporation")
    if not isinstance(corporation, str) or not corporation.strip() or len(corporation) > 200:
        raise BadRequest("'corporation' must be the client's id (text, up to 200 characters)")
    unknown = sorted(set(body) - {"corporation", "called", "reached", "outcome", "note", "snooze_until"})
    if unknown:
        raise BadRequest(f"unknown field {unknown[0]!r}")
    try:
        known = listed(corporation)
    except StepError:
        raise NotFound("no call list published yet: nothing to record actions on") from None
    if not known:
        raise NotFound(f"{corporation[:100]!r} is not on the published call list")
    try:
        row = action_row(body, corporation, who.name)
    except ActionError as exc:
        raise BadRequest(str(exc)) from None
    db = accounts.request_db()
    action_id = record(db, row)
    saved = db.action(action_id)
    return Response(json.dumps(_public_action(saved)), status=201, mimetype="application/json"), 201


def get_actions(svc: Any) -> Response:
    """The actions recorded on one client, newest first.
    ---
    get:
      summary: Actions recorded on a client, newest first
      parameters:
      - {name: corporation, in: query, required: true, schema: {type: string, minLength: 1}}
      responses:
        200: {description: 'Actions, newest first', content: {application/json: {schema: Actions}}}
        400: BadRequest
        401: Unauthorized
    """
    corporation = request.args.get("corporation", "")
    if not corporation:
        raise BadRequest("'corporation' is required")
    found = accounts.request_db().actions_of(corporation)
    return Response(json.dumps({"corporation": corporation, "actions": [_public_action(a) for a in found]}),
                    mimetype="application/json")


def _public_action(a: dict[str, Any] | None) -> dict[str, Any]:
    a = dict(a or {})
    a["called"], a["reached"] = bool(a.get("called")), bool(a.get("reached"))
    return a


ACTION_SCHEMAS = {
    "ActionRequest": {
        "type": "object", "required": ["corporation"], "additionalProperties": False,
        "properties": {"corporation": {"type": "string", "minLength": 1, "maxLength": 200},
                       "called": {"type": "boolean"}, "reached": {"type": "boolean"},
                       "outcome": {"type": "string", "enum": ["", *OUTCOMES]},
                       "note": {"type": "string", "maxLength": NOTE_MAX},
                       "snooze_until": {"type": "string", "format": "date",
                                        "description": "YYYY-MM-DD, after today, within a year"}},
    },
    "Action": {
        "type": "object", "required": ["id", "at", "by", "corporation"],
        "properties": {"id": {"type": "integer"}, "at": {"type": "string"}, "by": {"type": "string"},
                       "corporation": {"type": "string"}, "called": {"type": "boolean"},
                       "reached": {"type": "boolean"}, "outcome": {"type": "string"},
                       "note": {"type": "string"}, "snooze_until": {"type": "string"}},
    },
    "Actions": {
        "type": "object", "required": ["corporation", "actions"],
        "properties": {"corporation": {"type": "string"},
                       "actions": {"type": "array", "items": {"$ref": "#/components/schemas/Action"}}},
    },
}
