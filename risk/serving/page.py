"""The client managers' web page: the published call list, each client's page, trends.

Reads  the published call list (scoring.read_call_list: risk_ranking.csv and
       call_list.json in output_model_path), a client's past risk
       (scoring.client_history), the deployment manifest, the run history
       (ingestions, deployments, drift_checks, and the retraining loop's quarantine,
       challenger_decisions and estimates) and the ingested extracts
Serves GET /            the ranked list: filter by band, search by client, 50 a page
       GET /calllist.csv  the rows the list shows for the same filter and search, all pages
       GET /client/<corporation> (an odd id: GET /client?key=<ids.link_key>), GET /trends, GET+POST /login, POST /logout, /static/...

A Flask Blueprint named `page`, registered by app.create_app on the API's app:
same process, same config. Pages are rendered on the server (Jinja templates
in templates/, CSS and a few lines of JS in static/, charts as inline SVG);
nothing is fetched from elsewhere.

When RISK_API_TOKEN is set the page asks for it once, on a login form, and
keeps an HttpOnly, SameSite=Strict cookie holding an HMAC of the token (never
the token itself); a bearer header works too. The API's own token rule skips
this blueprint and is otherwise unchanged.

The parsed call list is kept per app (in app.extensions) and read again only
when its files change, so a request does not parse 10,000 rows.
"""
from __future__ import annotations

import hashlib
import hmac
import logging
import math
import threading
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd
from flask import (
    Blueprint,
    Response,
    current_app,
    redirect,
    render_template,
    request,
    url_for,
)
from markupsafe import Markup
from werkzeug.exceptions import HTTPException, NotFound

from risk import artifacts, history
from risk.data import contract
from risk.errors import StepError
from risk.model import scoring
from risk.reports import report_facts
from risk.serving import ids

log = logging.getLogger("page")

PAGE_SIZE = 50
BANDS = ("high", "elevated", "moderate", "low")
COOKIE = "risk_page"
COOKIE_MAX_AGE_S = 12 * 3600  # a working day: log in once each morning
COLUMNS = ("rank", "corporation", "risk_percent", "band", "reasons", "change", "probability",
           *contract.FEATURES)
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


def _token() -> str | None:
    return current_app.extensions["risk"].token


def _stamp(path: Path) -> tuple[int, int] | None:
    try:
        st = path.stat()
    except FileNotFoundError:
        return None
    return st.st_mtime_ns, st.st_size


def call_list(cfg: Any) -> CallList:
    """The published call list, parsed again only when its files changed."""
    state: PageState = current_app.extensions["page"]
    key = (_stamp(scoring.ranking_path(cfg)), _stamp(scoring.call_list_path(cfg)))
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


def shown(cl: CallList, band: str, query: str) -> pd.DataFrame:
    """The rows of the list for a band ('' = all) and a search text, in rank order."""
    mask = pd.Series(True, index=cl.frame.index)
    if band:
        mask &= cl.frame["band"] == band
    if query:
        mask &= cl.search_keys.str.contains(query.lower(), regex=False)
    return cl.frame if mask.all() else cl.frame[mask]


def _filters() -> tuple[str, str]:
    band = request.args.get("band", "").strip().lower()
    return (band if band in BANDS else ""), request.args.get("q", "").strip()[:100]


def _page_number(pages: int) -> int:
    try:
        number = int(request.args.get("page", "1"))
    except ValueError:
        number = 1
    return min(max(number, 1), max(pages, 1))


# --- the header: model, quality in words, drift --------------------------------------

def _date(stamp: Any) -> str:
    return str(stamp or "")[:10] or "unknown date"


def quality_words(quality: dict[str, Any] | None) -> str:
    """F1 and precision at N as a manager reads them."""
    if not quality or quality.get("f1") is None:
        return "No quality figures for this list."
    words = [f"F1 {quality['f1']:.2f} on the test clients."]
    n, precision = quality.get("n"), quality.get("precision_at_n")
    if n and precision is not None:
        words.append(f"Of the top {n} clients called, {round(precision * n)} would leave")
        recall = quality.get("recall_at_n")
        words[-1] += (f", {recall:.0%} of all who leave." if recall is not None else ".")
    if quality.get("base_rate") is not None:
        words.append(f"Without the list, {quality['base_rate']:.0%} of clients leave.")
    return " ".join(words)


def drift_words(cfg: Any) -> tuple[str, str]:
    """The last drift check in words, and a status for its colour: ok, alert or none."""
    checks = history.rows(cfg.history_path, "drift_checks", limit=1)
    if not checks:
        return "No drift check yet.", "none"
    last = checks[-1]
    figures = f"F1 {last['new_f1']:.2f} on new data vs {last['reference_f1']:.2f}"
    if last["drift"]:
        return f"Drift found at the last check ({_date(last['run_at'])}): {figures}.", "alert"
    return f"No drift at the last check ({_date(last['run_at'])}): {figures}.", "ok"


def held_back(cfg: Any) -> list[dict[str, str]]:
    """The extracts the quality gate holds back now, newest first: name, date, reason, release command."""
    return [{"name": q["name"], "date": _date(q["run_at"]), "reason": q["reason"],
             "command": report_facts.release_command(q["name"])}
            for q in reversed(report_facts.held_back(cfg.history_path))]


def decided(d: dict[str, Any]) -> str:
    """What a champion/challenger decision did, in two or three words."""
    if d["decision"] == "deploy":
        return f"deployed {artifacts.version_name(d['deployed_version'])}" if d["deployed_version"] else "deployed"
    if d["decision"] == "wait":
        return "waiting for outcomes"
    return f"kept {artifacts.version_name(d['champion_version'])}"


def decision_rows(cfg: Any) -> list[dict[str, Any]]:
    """The newest champion/challenger decisions, newest first, as the trends table shows them."""
    return [{**d, "date": str(d["run_at"])[:16].replace("T", " "), "what": decided(d)}
            for d in reversed(history.rows(cfg.history_path, "challenger_decisions", limit=report_facts.DECISIONS))]


def stale_words(deployed: int | None, listed: int | None) -> str | None:
    """What the page says when the list was made by another model than the deployed one (None: same)."""
    if deployed is None or listed is None or deployed == listed:
        return None
    d, li = artifacts.version_name(deployed), artifacts.version_name(listed)
    if deployed > listed:
        return f"The deployed model {d} is newer than this list's {li}: the next run of the main job publishes a new one."
    return (f"The deployed model was rolled back to {d}; this list was made by {li}: "
            "the next run of the main job publishes a new one.")


def header(cfg: Any, meta: dict[str, Any] | None) -> dict[str, Any]:
    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    deployed = int(manifest["version"]) if manifest else None
    listed = meta.get("model_version") if meta else None
    drift, drift_status = drift_words(cfg)
    return {
        "model": (f"Model {artifacts.version_name(deployed)}, deployed {_date(manifest.get('deployed_at'))}"
                  if manifest else "No model deployed yet"),
        "published": f"List published {_date(meta.get('published_at'))}" if meta else None,
        "stale": stale_words(deployed, int(listed) if listed is not None else None),
        "listed_version": artifacts.version_name(int(listed)) if listed is not None else None,
        "quality": quality_words(meta.get("quality") if meta else None),
        "drift": drift, "drift_status": drift_status,
        "held_back": held_back(cfg),
    }


# --- auth: the token once, then a cookie ----------------------------------------------

def cookie_value(token: str) -> str:
    """What the cookie holds: an HMAC of the token, so the cookie never reveals it."""
    return hmac.new(token.encode("utf-8"), b"risk page session v1", hashlib.sha256).hexdigest()


def _same(given: str, expected: str) -> bool:
    # Bytes: compare_digest refuses non-ASCII str, and a form or header may hold it.
    return hmac.compare_digest(given.encode("utf-8", "surrogateescape"), expected.encode("utf-8"))


def signed_in(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and _same(given.strip(), token):
        return True
    return _same(request.cookies.get(COOKIE, ""), cookie_value(token))


def _local(target: str | None) -> str:
    """`target` if it is a path on this site, else the list: no redirect elsewhere after login."""
    parts = urlsplit(target or "")
    if not target or parts.scheme or parts.netloc or not target.startswith("/") or target.startswith("//"):
        return url_for("page.call_list_view")
    return target


@bp.before_request
def require_login() -> Response | None:
    token = _token()
    if token is None or request.endpoint in ("page.login", "page.static") or signed_in(token):
        return None
    return redirect(url_for("page.login", next=request.full_path.rstrip("?")))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Response | tuple[str, int] | str:
    token = _token()
    target = _local(request.values.get("next"))
    if token is None:
        return redirect(target)
    if request.method == "GET":
        return render_template("login.html", next=target, error=None)
    if not _same(request.form.get("token", ""), token):
        return render_template("login.html", next=target, error="That is not the token."), 401
    response = redirect(target)
    response.set_cookie(COOKIE, cookie_value(token), max_age=COOKIE_MAX_AGE_S, httponly=True,
                        samesite="Strict", secure=request.is_secure, path="/")
    return response


@bp.post("/logout")
def logout() -> Response:
    response = redirect(url_for("page.login"))
    response.delete_cookie(COOKIE, path="/", httponly=True, samesite="Strict")
    return response


# --- views ---------------------------------------------------------------------------

def _client_row(row: dict[str, Any]) -> dict[str, Any]:
    row["reason_list"] = [r for r in row["reasons"].split("; ") if r]
    row["change_words"] = CHANGE_WORDS.get(row["change"], row["change"])
    corp = row["corporation"]
    row["link"] = (url_for("page.client_view", corporation=corp) if ids.in_path(corp)
                   else url_for("page.client_by_key", key=ids.link_key(corp)))
    row["shown_id"], row["id_notes"] = ids.visible(corp), ids.unusual(corp)
    # A missing figure arrives as pd.NA, None or NaN: one value (None) the template can test.
    for name in contract.FEATURES:
        if name in row and pd.isna(row[name]):
            row[name] = None
    return row


@bp.get("/")
def call_list_view() -> str:
    cfg = _cfg()
    cl = call_list(cfg)
    band, query = _filters()
    rows = shown(cl, band, query)
    pages = math.ceil(len(rows) / PAGE_SIZE)
    number = _page_number(pages)
    start = (number - 1) * PAGE_SIZE
    clients = [_client_row(r) for r in rows.iloc[start:start + PAGE_SIZE].to_dict("records")]
    meta = cl.meta
    return render_template(
        "list.html", head=header(cfg, meta), meta=meta, clients=clients, band=band, query=query,
        bands=BANDS, counts=meta.get("bands") or cl.frame["band"].value_counts().to_dict(),
        total=len(cl.frame), matching=len(rows), page=number, pages=pages, first=start + 1,
        last=start + len(clients), left=meta.get("left_since_previous") or [],
        left_count=meta.get("left_count", len(meta.get("left_since_previous") or [])),
    )


@bp.get("/calllist.csv")
def download() -> Response:
    """The list as shown for this filter and search: every page, the published columns."""
    band, query = _filters()
    rows = shown(call_list(_cfg()), band, query)
    name = "-".join(["call-list", *([band] if band else []), *(["search"] if query else [])])
    body = rows.loc[:, [c for c in COLUMNS if c in rows.columns]].map(ids.csv_cell)
    body = scoring.ranking_csv(body)
    return Response(body, mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{name}.csv"'})


@bp.get("/client/<path:corporation>")
def client_view(corporation: str) -> str:
    cl = call_list(_cfg())
    return _client_page(cl, cl.frame["corporation"] == corporation, corporation)


@bp.get("/client")
def client_by_key() -> str:
    """A client whose id cannot stand in a path ('.', '..', '/', a line break, very long)."""
    cl = call_list(_cfg())
    key = request.args.get("key", "")[:ids.KEY_CHARS]
    return _client_page(cl, cl.link_keys == key, f"client key {key!r}")


def _client_page(cl: CallList, match_mask: pd.Series, asked: str) -> str:
    cfg = _cfg()
    match = cl.frame[match_mask]
    if match.empty:
        raise NotFound(f"{asked} is not on the published call list "
                       "(not a current client, or not in the latest extracts)")
    row = _client_row(match.iloc[0].to_dict())
    corporation = row["corporation"]
    past = scoring.client_history(cfg, corporation)
    chart = line_chart([(_date(p["published_at"]), 100 * float(p["probability"])) for p in past],
                       "risk %", y_max=100) if len(past) > 1 else None
    return render_template("client.html", head=header(cfg, cl.meta), c=row, past=past, chart=chart,
                           features=FEATURE_WORDS, total=len(cl.frame))


@bp.get("/trends")
def trends_view() -> str:
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
        key = ("attrition", name, _stamp(path))
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


# --- inline SVG charts ------------------------------------------------------------------

W, H, LEFT, BOTTOM, TOP, RIGHT = 720, 210, 44, 46, 12, 12


def _frame_svg(labels: list[str], y_max: float, unit: str, xs: list[float]) -> list[str]:
    """Axes, a few gridlines and at most 6 x labels, so labels never overlap."""
    parts = [f'<svg viewBox="0 0 {W} {H}" role="img" class="chart" aria-label="{escape(unit)}">']
    for i in range(5):
        v = y_max * i / 4
        y = H - BOTTOM - (H - BOTTOM - TOP) * i / 4
        parts.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" class="grid"/>'
                     f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{v:g}</text>')
    step = max(1, math.ceil(len(labels) / 6))
    for i in range(0, len(labels), step):
        parts.append(f'<text x="{xs[i]:.1f}" y="{H - BOTTOM + 18}" text-anchor="middle">'
                     f'{escape(labels[i])}</text>')
    parts.append(f'<text x="{LEFT}" y="{H - 6}" class="unit">{escape(unit)}</text>')
    return parts


def _y(value: float, y_max: float) -> float:
    return H - BOTTOM - (H - BOTTOM - TOP) * min(max(value / y_max, 0), 1)


def line_chart(points: list[tuple[str, float]], unit: str, y_max: float,
               alerts: list[bool] | None = None) -> Markup:
    """A line with a dot per point; dots in `alerts` drawn as alerts."""
    n = len(points)
    xs = [LEFT + (W - LEFT - RIGHT) * (i + 0.5) / n for i in range(n)]
    parts = _frame_svg([p[0] for p in points], y_max, unit, xs)
    coords = [(x, _y(v, y_max)) for x, (_, v) in zip(xs, points)]
    parts.append('<polyline class="line" points="' + " ".join(f"{x:.1f},{y:.1f}" for x, y in coords) + '"/>')
    for i, ((x, y), (label, v)) in enumerate(zip(coords, points)):
        alert = " alert" if alerts and alerts[i] else ""
        parts.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" class="dot{alert}">'
                     f'<title>{escape(label)}: {v:.2f}</title></circle>')
    return Markup("".join(parts) + "</svg>")


def bar_chart(points: list[tuple[str, float]], unit: str) -> Markup:
    n = len(points)
    y_max = max(20.0, math.ceil(max(v for _, v in points) / 20) * 20)  # ticks at round numbers
    slot = (W - LEFT - RIGHT) / n
    xs = [LEFT + slot * (i + 0.5) for i in range(n)]
    parts = _frame_svg([p[0] for p in points], y_max, unit, xs)
    for x, (label, v) in zip(xs, points):
        y = _y(v, y_max)
        parts.append(f'<rect x="{x - slot * 0.3:.1f}" y="{y:.1f}" width="{slot * 0.6:.1f}" '
                     f'height="{H - BOTTOM - y:.1f}" class="bar"><title>{escape(label)}: {v:.1f}</title></rect>')
    return Markup("".join(parts) + "</svg>")


@bp.after_request
def locked_down(response: Response) -> Response:
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
