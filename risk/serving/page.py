"""The client managers' web page: the published call list, each client's page, trends.

Reads  the published call list (scoring.read_call_list: risk_ranking.csv and
       call_list.json in output_model_path), a client's past risk
       (scoring.client_history), the deployment manifest, the run history
       (ingestions, deployments, drift_checks, and the retraining loop's quarantine,
       challenger_decisions and estimates) and the ingested extracts
Serves GET /            the ranked list: to call / snoozed / all, my clients or everyone,
                          band, search, new / moved up, size, sorted by a column (listview.py),
                          50 a page
       GET /calllist.csv  the rows the list shows for the same choices, all pages, with
                          name, contact, CRM link, owner, value and the team's last action
       GET /client/<corporation> (an odd id: GET /client?key=<ids.link_key>): risk, actions,
                          its figures in each extract (clientfacts.py)
       POST /client-action, POST /client-owner (the forms: the client's key in a field,
                          so any id works; POST /client/<corporation>/action|owner too)
       GET /trends
       (operators), GET+POST /login, POST /logout, /static/...

A Flask Blueprint named `page`, registered by app.create_app on the API's app:
same process, same config. Pages are rendered on the server (Jinja templates
in templates/, CSS and a few lines of JS in static/, charts as inline SVG);
nothing is fetched from elsewhere.

Who is asking (accounts.py): a named user signed in on the form (a server-side
session in an HttpOnly, SameSite=Strict cookie), the old shared token (as an
admin, deprecated), or nobody when no account and no token exist. Every form
carries a CSRF token (the session's, or a double-submit cookie before sign-in)
and a POST without the right one is refused with 400. Managers see plain words
and their own clients by default; F1, drift, quarantines and decisions are for
operators (here and on /operator).

The parsed call list is kept per app (in app.extensions) and read again only
when its files change, so a request does not parse 10,000 rows.

About 560 lines: the views and their forms (sign-in, actions, owners) share the
request's account and the parsed list and records; status words, list choices,
a client's figures, charts and accounts live in status.py, listview.py,
clientfacts.py, charts.py and accounts.py.
"""
from __future__ import annotations

import logging
import math
import secrets
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from flask import (
    Blueprint,
    Response,
    current_app,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from werkzeug.exceptions import BadRequest, Forbidden, HTTPException, NotFound

from risk import artifacts, history
from risk.data import contract
from risk.errors import StepError
from risk.model import scoring
from risk.reports import report_facts
from risk.serving import accounts, actions, clientfacts, ids, listview
from risk.serving.accounts import Who
from risk.serving.charts import bar_chart, line_chart, lines_chart  # noqa: F401 (line_chart: tests)
from risk.serving.status import (  # noqa: F401 (decision_rows: operator.py)
    date_of as _date,
)
from risk.serving.status import decision_rows, header
from risk.teamdb import OUTCOMES

log = logging.getLogger("page")

PAGE_SIZE = 50
BANDS = ("high", "elevated", "moderate", "low")
COOKIE = "risk_page"
CSRF_COOKIE = "risk_csrf"  # before sign-in and on an open page: the double-submit token
COLUMNS = ("rank", "corporation", "risk_percent", "band", "reasons", "change", "probability",
           *contract.FEATURES)
TEAM_CSV = ("name", "contact", "crm_link", "account_manager", "annual_value", "expected_loss", "last_at", "last_by", "called_at",
            "reached_at", "outcome", "note", "snooze_until")
FEATURE_WORDS = {"lastmonth_activity": "activity last month", "lastyear_activity": "activity last year",
                 "number_of_employees": "employees"}
CSP = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
       "form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
CHANGE_WORDS = {"new": "new", "up": "▲ up", "down": "▼ down", "": ""}

bp = Blueprint("page", __name__, template_folder="templates", static_folder="static",
               static_url_path="/static")


# --- per-app state: the call list, parsed once per version of its files -----------------

@dataclass
class CallList:
    frame: pd.DataFrame
    meta: dict[str, Any]
    search_keys: pd.Series  # corporation, lower case: searching is case-blind
    link_keys: pd.Series    # ids.link_key of each corporation: the link of an odd id


@dataclass
class PageState:
    """What the page keeps between requests, one per app (no module-level state)."""
    cache: dict[str, Any] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)


@bp.record_once
def _setup(state: Any) -> None:
    state.app.extensions["page"] = PageState()


def _cfg() -> Any:
    return current_app.extensions["risk"].cfg


def _accounts() -> accounts.Accounts:
    return current_app.extensions["risk"].accounts


def call_list(cfg: Any) -> CallList:
    """The published call list, parsed again only when its files changed."""
    state: PageState = current_app.extensions["page"]
    key = (artifacts.file_stamp(scoring.ranking_path(cfg)), artifacts.file_stamp(scoring.call_list_path(cfg)))
    cached = state.cache.get("call_list")
    if cached is not None and cached[0] == key:
        return cached[1]
    with state.lock:
        frame, meta = scoring.read_call_list(cfg)
        frame = frame.sort_values("rank", kind="stable").reset_index(drop=True)
        frame["reasons"] = frame["reasons"].fillna("").astype(str)
        frame["change"] = frame["change"].fillna("").astype(str)
        corporations = frame["corporation"].astype(str)
        parsed = CallList(frame, meta, corporations.str.lower(), corporations.map(ids.link_key))
        state.cache["call_list"] = (key, parsed)
        log.info("call list read: %d clients, published %s", len(frame), meta.get("published_at"))
        return parsed


def records(cfg: Any) -> clientfacts.Records | None:
    """Every accepted extract's rows by client (clientfacts.py), read again only when they change."""
    state: PageState = current_app.extensions["page"]
    key = clientfacts.stamp(cfg)
    cached = state.cache.get("records")
    if cached is None or cached[0] != key:
        with state.lock:
            cached = (key, clientfacts.read_records(cfg))
            state.cache["records"] = cached
    return cached[1]


def is_listed(corporation: str) -> bool:
    """Whether `corporation` is on the published call list (the parsed, cached one)."""
    cl = call_list(_cfg())
    state: PageState = current_app.extensions["page"]
    names = state.cache.get("names")
    if names is None or names[0] is not cl:
        names = (cl, set(cl.frame["corporation"]))
        state.cache["names"] = names
    return corporation in names[1]


def shown(cl: CallList, band: str, query: str) -> pd.DataFrame:
    """The rows of the list for a band ('' = all) and a search text, in rank order."""
    mask = pd.Series(True, index=cl.frame.index)
    if band:
        mask &= cl.frame["band"] == band
    if query:
        mask &= cl.search_keys.str.contains(query.lower(), regex=False)
    return cl.frame if mask.all() else cl.frame[mask]


def _filters() -> tuple[str, str]:
    return listview.filters()


def _page_number(pages: int) -> int:
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    return min(max(number, 1), max(pages, 1))


# --- who is asking: accounts.py; forms carry a CSRF token ---------------------------------

def _local(target: str | None) -> str:
    """`target` if it is a path on this site, else the list: no redirect elsewhere after login."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("page.call_list_view")
    return target


def identify() -> Who | None:
    """Who this request is: open page, session cookie, or the old token as a bearer header."""
    acc, db = _accounts(), accounts.request_db()
    if acc.page_open(db):
        if not accounts.loopback(request.remote_addr or ""):
            acc.once("open-client", logging.WARNING, "!!! THE PAGE IS OPEN TO ANYONE: %s reached it with no "
                     "account or token set; add a user with users.py add !!!", request.remote_addr)
        return Who("anonymous", "admin", "open")
    who = acc.session(db, request.cookies.get(COOKIE, ""))
    if who is None and "Authorization" in request.headers:
        bearer = acc.bearer(db, request.headers["Authorization"])
        who = bearer if bearer is not None and bearer.kind == "legacy" else None
    return who


def csrf_token() -> str:
    """The token this request's forms carry: the session's, else the double-submit cookie's."""
    who = g.get("who")
    if who is not None and who.csrf:
        return who.csrf
    if "new_csrf" not in g:
        g.new_csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return g.new_csrf


def check_csrf() -> None:
    """Refuse a form POST whose csrf_token is missing or not this session's (or cookie's)."""
    who = g.get("who")
    if who is not None and who.kind == "legacy":
        return  # a bearer header: no cookie a forged form could ride on
    expected = who.csrf if who is not None and who.csrf else request.cookies.get(CSRF_COOKIE, "")
    given = request.form.get("csrf_token", "")
    if not expected or not given or not accounts.same(given, expected):
        log.warning("form refused: missing or wrong CSRF token on %s %s from %s", request.method,
                    request.path, request.remote_addr)
        raise BadRequest("This form has expired or did not come from this site (missing or wrong CSRF token). "
                         "Reload the page and send it again.")


def require_login() -> Response | None:
    """Before every page request: who it is, the sign-in form if nobody, CSRF on every POST."""
    if request.endpoint == "page.static":
        return None
    g.who = identify()
    if request.method == "POST":
        check_csrf()
    if g.who is None and request.endpoint != "page.login":
        return redirect(url_for("page.login", next=request.full_path.rstrip("?")))
    return None


bp.before_request(require_login)


@bp.app_context_processor
def _template_globals() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "who": g.get("who")}


def _cookie(response: Response, name: str, value: str, max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="Strict",
                        secure=request.is_secure, path="/")


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    acc, db = _accounts(), accounts.request_db()
    target = _local(request.values.get("next"))
    if acc.page_open(db) or (request.method == "GET" and g.who is not None):
        return redirect(target)
    legacy = acc.legacy_token is not None
    if request.method == "GET":
        return render_template("login.html", next=target, error=None, legacy=legacy, name="")
    name = request.form.get("name", "").strip()[:64]
    try:
        who, secret = acc.sign_in(db, name, request.form.get("password", request.form.get("token", "")),
                                  request.remote_addr or "")
    except accounts.SignInRefused as exc:
        return render_template("login.html", next=target, error=str(exc), legacy=legacy, name=name), exc.status
    response = redirect(target)
    _cookie(response, COOKIE, secret, max_age=int(3600 * acc.cfg.session_hours))
    return response


@bp.post("/logout")
def logout() -> Response:
    if g.who is not None and g.who.kind == "session":
        _accounts().sign_out(accounts.request_db(), g.who)
    response = redirect(url_for("page.login"))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
    return response


# --- views ---------------------------------------------------------------------------

def _client_row(row: dict[str, Any]) -> dict[str, Any]:
    row["reason_list"] = [r for r in row["reasons"].split("; ") if r]
    row["change_words"] = CHANGE_WORDS.get(row["change"], row["change"])
    corp = row["corporation"]
    row["link"], row["key"] = client_link(corp), ids.link_key(corp)
    row["shown_id"], row["id_notes"] = ids.visible(corp), ids.unusual(corp)
    # A missing figure arrives as pd.NA, None or NaN: one value (None) the template can test.
    for name in (*contract.FEATURES, *scoring.PREVIOUS):
        if name in row and pd.isna(row[name]):
            row[name] = None
    for name in scoring.PREVIOUS:  # absent from lists published before they were recorded
        row[name] = None if row.get(name) is None else int(row[name])
    row["moved"] = 0 if row.get("previous_rank") is None else row["previous_rank"] - int(row["rank"])
    return row


def team(cfg: Any, cl: CallList) -> pd.DataFrame:
    """The list with owners, values, holdout and the team's last actions (actions.py), cached per app."""
    state: PageState = current_app.extensions["page"]
    cache = state.cache.setdefault("team", actions.TeamCache())
    return actions.team_frame(cfg, cache, accounts.request_db(), cl.frame, cl.meta)


@bp.get("/")
def call_list_view() -> str:
    cfg, who = _cfg(), g.who
    cl = call_list(cfg)
    frame = team(cfg, cl)
    has_own = bool((frame["account_manager"] == who.name).any())
    c = listview.choice(who, has_own)
    rows = listview.chosen(frame, cl.search_keys, who, c)  # positions: only the page's rows are copied
    pages = math.ceil(len(rows) / PAGE_SIZE)
    number = _page_number(pages)
    start = (number - 1) * PAGE_SIZE
    shown_rows = frame.iloc[rows[start:start + PAGE_SIZE]]
    clients = [_client_row(r) for r in listview.hide_notes(shown_rows, who).to_dict("records")]
    meta = cl.meta
    return render_template(
        "list.html", head=header(cfg, meta), meta=meta, clients=clients, band=c.band, query=c.query,
        choice=c, has_own=has_own, has_values=bool(frame["annual_value"].notna().any()),
        results=listview.results_words(frame, who), today=actions.dt.date.today().isoformat(),
        bands=BANDS, counts=meta.get("bands") or cl.frame["band"].value_counts().to_dict(),
        changes=listview.CHANGES, sizes=listview.SIZE_WORDS,
        moved_places=listview.MOVED_PLACES,
        total=len(cl.frame), matching=len(rows), page=number, pages=pages, first=start + 1,
        last=start + len(clients), left=meta.get("left_since_previous") or [],
        left_count=meta.get("left_count", len(meta.get("left_since_previous") or [])),
    )


@bp.get("/calllist.csv")
def download() -> Response:
    """The list as shown for these choices: every page, the published columns and the team's."""
    cfg, who = _cfg(), g.who
    cl = call_list(cfg)
    frame = team(cfg, cl)
    c = listview.choice(who, bool((frame["account_manager"] == who.name).any()))
    rows = listview.hide_notes(listview.selected(frame, cl.search_keys, who, c), who)
    name = "-".join(["call-list", *([c.band] if c.band else []), *([c.change] if c.change else []),
                     *([c.size] if c.size else []), *(["search"] if c.query else [])])
    columns = [*[col for col in COLUMNS if col in rows.columns], *TEAM_CSV, *(["held_out"] if who.operator else [])]
    body = scoring.ranking_csv(rows.loc[:, columns].map(ids.csv_cell))
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


def _client(cfg: Any, corporation: str | None, key: str | None = None) -> tuple[CallList, dict[str, Any]]:
    """The client of the list named `corporation`, or by its link `key` (ids.link_key)."""
    cl = call_list(cfg)
    frame = team(cfg, cl)
    asked = corporation if key is None else f"client key {key!r}"
    if key is not None:
        named = cl.frame.loc[cl.link_keys == key, "corporation"]
        corporation = named.iloc[0] if len(named) else None
    match = frame[frame["corporation"] == corporation]
    if match.empty:
        raise NotFound(f"{asked} is not on the published call list "
                       "(not a current client, or not in the latest extracts)")
    return cl, match.iloc[0].to_dict()


@bp.get("/client/<path:corporation>")
def client_view(corporation: str) -> str:
    return _client_page(*_client(_cfg(), corporation))


@bp.get("/client")
def client_by_key() -> str:
    """A client whose id cannot stand in a path ('.', '..', '/', a line break, very long)."""
    return _client_page(*_client(_cfg(), None, request.args.get("key", "")[:ids.KEY_CHARS]))


def _client_page(cl: CallList, row: dict[str, Any]) -> str:
    cfg, who = _cfg(), g.who
    row = _client_row(row)
    corporation = row["corporation"]
    past = scoring.client_history(cfg, corporation)
    chart = line_chart([(_date(p["published_at"]), 100 * float(p["probability"])) for p in past],
                       "risk %", y_max=100) if len(past) > 1 else None
    figures = clientfacts.figures_over_time(records(cfg), corporation)
    figures_chart = lines_chart([f["extract"].removesuffix(".csv") for f in figures], {
        "activity last month": [f["lastmonth_activity"] for f in figures],
        "monthly average of last year": [f["monthly_average"] for f in figures]},
        "activity") if len(figures) > 1 else None
    mine = who.operator or row["account_manager"] in ("", who.name)
    done = accounts.request_db().actions_of(corporation) if mine else []
    managers = [u["name"] for u in accounts.request_db().users() if u["role"] == "manager" and not u["disabled"]]
    return render_template("client.html", head=header(cfg, cl.meta), meta=cl.meta, c=row, past=past, chart=chart,
                           features=FEATURE_WORDS, total=len(cl.frame), mine=mine, done=done,
                           outcomes=OUTCOMES, managers=managers, recorded=request.args.get("recorded"),
                           figures=figures, figures_chart=figures_chart,
                           today=actions.dt.date.today().isoformat())


def client_link(corporation: str, **args: Any) -> str:
    """The client's page: by id in the path, or by its key when the id cannot stand in one."""
    if ids.in_path(corporation):
        return url_for("page.client_view", corporation=corporation, **args)
    return url_for("page.client_by_key", key=ids.link_key(corporation), **args)


def _record(corporation: str | None, key: str | None = None) -> Response:
    cfg, who = _cfg(), g.who
    _, row = _client(cfg, corporation, key)
    corporation = row["corporation"]
    if not (who.operator or row["account_manager"] in ("", who.name)):
        raise Forbidden(f"{ids.visible(corporation)[:100]} is {row['account_manager']}'s client: "
                        "ask them or an operator")
    try:
        action = actions.action_row(request.form, corporation, who.name)
    except actions.ActionError as exc:
        raise BadRequest(str(exc)) from None
    actions.record(accounts.request_db(), action)
    return redirect(client_link(corporation, recorded=1) + "#actions")


def _assign(corporation: str | None, key: str | None = None) -> Response:
    cfg, who = _cfg(), g.who
    if not who.operator:
        raise Forbidden("only an operator assigns clients to managers")
    corporation = _client(cfg, corporation, key)[1]["corporation"]
    manager = request.form.get("account_manager", "").strip()
    db = accounts.request_db()
    user = db.user(manager) if manager else None
    if manager and (user is None or user["disabled"]):
        raise BadRequest(f"no active user {manager[:64]!r}")
    db.set_owner(corporation, manager, who.name)
    db.audit(who.name, "owner", target=corporation, detail=manager or "(none)")
    return redirect(client_link(corporation))


def _form_key() -> str:
    key = request.form.get("key", "")
    if not key:
        raise BadRequest("which client? the form carries no client key")
    return key[:ids.KEY_CHARS]


@bp.post("/client-action")
def record_action_by_key() -> Response:
    """The page's action form, for every client: the id travels as its key in a form field,
    so '.', '..', '/' or a line break in an id never turn into another path."""
    return _record(None, _form_key())


@bp.post("/client-owner")
def set_owner_by_key() -> Response:
    return _assign(None, _form_key())


@bp.post("/client/<path:corporation>/action")
def record_action(corporation: str) -> Response:
    return _record(corporation)


@bp.post("/client/<path:corporation>/owner")
def set_owner(corporation: str) -> Response:
    return _assign(corporation)


def require_operator() -> None:
    if not g.who.operator:
        raise Forbidden("This page is for operators: ask one if you need what it shows.")


@bp.get("/trends")
def trends_view() -> str:
    require_operator()
    cfg = _cfg()
    try:
        meta = call_list(cfg).meta
    except StepError:
        meta = None
    deployments = [d for d in history.rows(cfg.history_path, "deployments") if d["f1"] is not None]
    checks = history.rows(cfg.history_path, "drift_checks")
    attrition = attrition_by_extract(cfg)
    return render_template(
        "trends.html", head=header(cfg, meta),
        attrition=bar_chart([(name, 100 * rate) for name, rate in attrition], "% of clients who left")
        if attrition else None,
        quality=line_chart([(f"{artifacts.version_name(d['version'])} {_date(d['run_at'])}", d["f1"])
                            for d in deployments], "F1", y_max=1) if deployments else None,
        drift=line_chart([(_date(c["run_at"]), c["new_f1"]) for c in checks], "F1 on new data",
                         y_max=1, alerts=[bool(c["drift"]) for c in checks]) if checks else None,
        checks=checks[-10:][::-1],
        decisions=decision_rows(cfg),
        estimates=report_facts.label_free_estimates(cfg.history_path),
        blind_spot=report_facts.BLIND_SPOT,
    )


def attrition_by_extract(cfg: Any) -> list[tuple[str, float]]:
    """Share of clients marked as left in each ingested extract still in the input folder."""
    record_path = cfg.ingestion_record_path
    if not record_path.is_file():
        return []
    state: PageState = current_app.extensions["page"]
    names = [f["name"] for f in artifacts.read_json(record_path).get("files", [])
             if f.get("status") == "ingested"]
    out = []
    for name in names:
        path = cfg.input_folder_path / name
        key = ("attrition", name, artifacts.file_stamp(path))
        if key[2] is None:
            continue
        if key not in state.cache:
            try:
                labels = contract.read_csv(path, require_target=False)[contract.TARGET].dropna()
            except StepError as exc:
                log.warning("attrition trend skips %s", exc)
                continue
            state.cache[key] = float(labels.mean()) if len(labels) else None
        if state.cache[key] is not None:
            out.append((name, state.cache[key]))
    return out


@bp.after_request
def locked_down(response: Response) -> Response:
    if "new_csrf" in g and request.cookies.get(CSRF_COOKIE) != g.new_csrf:
        _cookie(response, CSRF_COOKIE, g.new_csrf)
    # The browser itself then refuses anything from elsewhere, and framing by other sites.
    response.headers.setdefault("Content-Security-Policy", CSP)
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


# --- errors as pages, not JSON ----------------------------------------------------------

@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> tuple[str, int]:
    return render_template("message.html", title=exc.name, message=exc.description), exc.code or 500


@bp.errorhandler(StepError)
def step_error(exc: StepError) -> tuple[str, int]:
    log.error("%s %s failed: %s", request.method, request.path, exc)
    cfg = _cfg()
    message = str(exc).replace(f"{cfg.path.parent}/", "")
    if isinstance(exc, scoring.CallListMissing):
        message += ". The list appears after the main job (fullprocess.py) has published one."
    return render_template("message.html", title="No call list yet", message=message), 503
