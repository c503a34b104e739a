"""The team's work: accounts, sign-in limits, CSRF, owners, actions, snooze, value, holdout, effect.

Flask test-client tests here; the Chromium ones are in tests/test_team_browser.py.
"""
from __future__ import annotations

import functools
import html
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run_script
from test_page import csrf_of, publish, sign_in

from risk import config
from risk.reports import effect
from risk.serving import accounts, actions, apicalls, page
from risk.serving import app as risk_api
from risk.serving.localserver import free_port
from risk.teamdb import TeamDb

PASSWORD = "correct horse battery"
PEOPLE = {"anna": "manager", "ben": "manager", "olga": "operator", "root": "admin"}


def with_keys(cfg, **keys):
    raw = json.loads(cfg.path.read_text())
    cfg.path.write_text(json.dumps({**raw, **keys}))
    return config.load(cfg.path)


def write_info(cfg, frame: pd.DataFrame) -> pd.DataFrame:
    """Owners anna and ben in turn (every 7th client nobody's), a value per client."""
    owners = np.where(np.arange(len(frame)) % 7 == 6, "", np.where(np.arange(len(frame)) % 2 == 0, "anna", "ben"))
    info = pd.DataFrame({"corporation": frame["corporation"], "account_manager": owners,
                         "annual_value": np.round(np.random.default_rng(0).lognormal(9, 1, len(frame)), -2),
                         "name": [f"Company {i}" for i in range(len(frame))]})
    path = cfg.path.parent / "clientinfo.csv"
    info.to_csv(path, index=False)
    return info


# A real scrypt hash costs 0.1 s by design: hashed once per password for the whole session,
# then stored and checked as any other (the salt is shared between tests, nothing else).
_hash_once = functools.lru_cache(maxsize=None)(accounts.hash_password)


@pytest.fixture
def team(deployed_cfg, monkeypatch):
    """A published list with owners and values, four people, and the app; (cfg, frame, info, app)."""
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    monkeypatch.setattr(accounts, "hash_password", _hash_once)
    cfg = with_keys(deployed_cfg, client_info_file="clientinfo.csv")
    frame = publish(cfg, changes=("",))
    info = write_info(cfg, frame)
    with TeamDb(cfg.team_db_path) as db:
        for name, role in PEOPLE.items():
            accounts.add_user(db, name, role, PASSWORD, "test")
    return cfg, frame, info, risk_api.create_app(cfg.path)


def signed_in(app, name: str):
    client = app.test_client()
    r = sign_in(client, PASSWORD, name=name)
    assert r.status_code == 302, r.text
    return client


def listed(html: str) -> list[str]:
    return re.findall(r'<td class="client"><a href="[^"]*">([^<]*)</a>', html)


def record(client, corporation: str, **fields) -> object:
    html = client.get(f"/client/{corporation}").text
    return client.post(f"/client/{corporation}/action", data={"csrf_token": csrf_of(html), **fields})


# --- accounts and sign-in -------------------------------------------------------------------

@pytest.mark.slow
def test_users_script_adds_a_user_with_a_hashed_password_and_refuses_bad_input(cfg):
    add = subprocess.run([sys.executable, str(ROOT / "users.py"), "--config", str(cfg.path), "--password-stdin",
                          "add", "zoe", "--role", "manager"], input=PASSWORD + "\n", capture_output=True, text=True)
    assert add.returncode == 0 and "added zoe (manager)" in add.stdout
    stored = cfg.team_db_path.read_bytes() + b"".join(p.read_bytes() for p in cfg.team_db_path.parent.glob("*-wal"))
    assert PASSWORD.encode() not in stored
    assert TeamDb(cfg.team_db_path).user("zoe")["password_hash"].startswith("scrypt:")
    short = subprocess.run([sys.executable, str(ROOT / "users.py"), "--config", str(cfg.path), "--password-stdin",
                            "add", "yan", "--role", "manager"], input="short\n", capture_output=True, text=True)
    assert short.returncode == 2 and "at least 10 characters" in short.stderr
    again = run_script("users.py", "--config", str(cfg.path), "role", "nobody", "admin")
    assert again.returncode == 2 and "no user 'nobody'" in again.stderr
    listing = run_script("users.py", "--config", str(cfg.path), "list")
    assert "zoe\tmanager\tactive" in listing.stdout


@pytest.mark.slow
def test_users_script_makes_a_service_token_shown_once_that_the_api_accepts(team):
    cfg, frame, _, app = team
    made = run_script("users.py", "--config", str(cfg.path), "token", "add", "crm", "--scope", "write-actions")
    assert made.returncode == 0
    token = made.stdout.strip()
    assert len(token) >= 40
    r = app.test_client().post("/actions", json={"corporation": frame["corporation"].iloc[0], "called": True},
                               headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 201
    assert run_script("users.py", "--config", str(cfg.path), "token", "revoke", "crm").returncode == 0
    assert app.test_client().get("/risk", headers={"Authorization": f"Bearer {token}"}).status_code == 401
    assert "service:crm\twrite-actions\trevoked" in run_script("users.py", "--config", str(cfg.path), "list").stdout


@pytest.mark.slow
def test_generator_writes_owners_values_and_names_for_every_client(tmp_path):
    from conftest import client_csv
    (tmp_path / "sourcedata").mkdir()
    (tmp_path / "sourcedata" / "a.csv").write_bytes(client_csv(300, seed=1))
    out = tmp_path / "clientinfo.csv"
    runs = []
    for _ in range(2):
        assert run_script("generate_data.py", "--root", str(tmp_path), "--team-info", str(out)).returncode == 0
        runs.append(out.read_bytes())
    assert runs[0] == runs[1]  # seeded: the same bytes each time
    info = pd.read_csv(out, keep_default_na=False)
    assert list(info.columns) == ["corporation", "account_manager", "annual_value", "name", "contact", "crm_url"]
    assert info["crm_url"].str.startswith("https://crm.example.com/accounts/").all()
    assert len(info) == info["corporation"].nunique() == 300
    assert set(info["account_manager"]) <= {"", "anna", "ben", "carla", "dev", "eve"}
    assert (info["annual_value"] > 0).all()


def test_a_named_user_signs_in_and_the_form_asks_for_a_name(team):
    _, _, _, app = team
    client = app.test_client()
    assert client.get("/").headers["Location"].startswith("/login")
    assert 'name="name"' in client.get("/login").text
    client = signed_in(app, "anna")
    assert "anna · manager" in client.get("/").text


@pytest.mark.slow
def test_twenty_wrong_passwords_lock_the_account_with_a_log_line(team, caplog):
    cfg, _, _, app = team
    client = app.test_client()
    caplog.set_level(logging.WARNING, logger="accounts")
    for i in range(cfg.login_max_failures):
        r = sign_in(client, f"wrong {i}", name="anna")
        assert r.status_code == 401
    assert sign_in(client, PASSWORD, name="anna").status_code == 423  # locked, even with the right one
    assert "locked after too many wrong passwords" in sign_in(client, PASSWORD, name="anna").text
    assert any("account 'anna' locked" in r.getMessage() for r in caplog.records)
    assert any("sign-in refused for 'anna'" in r.getMessage() for r in caplog.records)
    assert not any("wrong 3" in r.getMessage() or PASSWORD in r.getMessage() for r in caplog.records)
    assert run_script("users.py", "--config", str(cfg.path), "unlock", "anna").returncode == 0
    assert sign_in(app.test_client(), PASSWORD, name="anna").status_code == 302


def test_too_many_wrong_sign_ins_from_one_address_get_429(team):
    cfg, _, _, _ = team
    cfg = with_keys(cfg, login_address_per_minute=5)
    client = risk_api.create_app(cfg.path).test_client()
    for name in ("a1", "a2", "a3", "a4", "a5"):
        assert sign_in(client, "x" * 12, name=name).status_code == 401
    assert sign_in(client, PASSWORD, name="anna").status_code == 429


def test_an_expired_session_asks_to_sign_in_again(team):
    cfg, _, _, app = team
    client = signed_in(app, "anna")
    with TeamDb(cfg.team_db_path) as db:
        db.conn.execute("UPDATE sessions SET expires_at = '2000-01-01T00:00:00+00:00'")
    assert client.get("/").status_code == 302


@pytest.mark.slow
def test_disabling_a_user_ends_their_sessions(team):
    cfg, _, _, app = team
    client = signed_in(app, "ben")
    assert run_script("users.py", "--config", str(cfg.path), "disable", "ben").returncode == 0
    assert client.get("/").status_code == 302


def test_cookies_are_secure_over_https(team):
    _, _, _, app = team
    client = app.test_client()
    form = client.get("/login", base_url="https://risk.example")
    assert "Secure" in form.headers["Set-Cookie"]
    r = client.post("/login", base_url="https://risk.example",
                    data={"name": "anna", "password": PASSWORD, "csrf_token": csrf_of(form.text)})
    assert r.status_code == 302
    assert all(x in r.headers["Set-Cookie"] for x in ("Secure", "HttpOnly", "SameSite=Strict"))


def test_an_open_page_beyond_loopback_warns_loudly(deployed_cfg, monkeypatch, caplog):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    cfg = with_keys(deployed_cfg, api_host="0.0.0.0")
    caplog.set_level(logging.WARNING)
    risk_api.create_app(cfg.path)
    assert any("OPEN TO ANYONE" in r.getMessage() for r in caplog.records)


# --- CSRF on every form -------------------------------------------------------------------

FORMS = ("/login", "/logout", "/client/{c}/action", "/client/{c}/owner")


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("token", ["", "forged-token"])
def test_every_form_refuses_a_missing_or_wrong_csrf_token(team, form, token):
    cfg, frame, _, app = team
    client = signed_in(app, "olga") if form != "/login" else app.test_client()
    client.get("/login")  # the double-submit cookie, too
    c = frame["corporation"].iloc[0]
    data = {"name": "anna", "password": PASSWORD, "called": "1", "note": "x", "account_manager": "anna"}
    if token:
        data["csrf_token"] = token
    r = client.post(form.format(c=c), data=data)
    assert r.status_code == 400 and "CSRF" in r.text
    assert TeamDb(cfg.team_db_path).actions_of(c) == []


# --- owners, roles, actions ------------------------------------------------------------------

def test_a_manager_sees_their_own_clients_first_and_an_operator_everyone(team):
    _, frame, info, app = team
    anna = signed_in(app, "anna").get("/").text
    owners = dict(zip(info["corporation"], info["account_manager"]))
    assert listed(anna) and all(owners[c] == "anna" for c in listed(anna))
    assert "my clients" in anna
    everyone = listed(signed_in(app, "olga").get("/?view=all").text)
    assert everyone == frame["corporation"].head(page.PAGE_SIZE).tolist()


def test_a_manager_cannot_open_the_operators_pages(team):
    _, _, _, app = team
    anna = signed_in(app, "anna")
    assert anna.get("/operator").status_code == 403
    assert anna.get("/trends").status_code == 403
    listing = anna.get("/").text
    assert "F1" not in listing and 'id="list-measure"' in listing  # the list's measure, not F1
    olga = signed_in(app, "olga")
    operator = olga.get("/operator")
    assert operator.status_code == 200 and "F1" in operator.text  # with its test data's date


def test_marking_called_with_a_note_is_shown_on_the_client_page_the_list_and_the_csv(team):
    cfg, frame, info, app = team
    anna = signed_in(app, "anna")
    c = info.loc[info["account_manager"] == "anna", "corporation"].iloc[0]
    r = record(anna, c, called="1", reached="1", outcome="kept", note="Renews in March; wants a discount.")
    assert r.status_code == 302
    client_page = anna.get(f"/client/{c}").text
    assert "Renews in March; wants a discount." in client_page and "kept" in client_page
    assert re.search(r"kept \d{4}-\d\d-\d\d by anna", anna.get("/?view=all").text)
    csv = pd.read_csv(pd.io.common.StringIO(anna.get("/calllist.csv?view=all").text), keep_default_na=False)
    row = csv[csv["corporation"] == c].iloc[0]
    assert row["note"] == "Renews in March; wants a discount." and row["outcome"] == "kept"
    assert row["last_by"] == "anna" and row["called_at"] and row["reached_at"]
    audit = TeamDb(cfg.team_db_path).audit_rows()
    assert audit[0]["who"] == "anna" and audit[0]["what"] == "action" and audit[0]["target"] == c


def test_another_managers_notes_stay_theirs(team):
    _, _, info, app = team
    c = info.loc[info["account_manager"] == "anna", "corporation"].iloc[0]
    record(signed_in(app, "anna"), c, called="1", note="private to anna")
    ben = signed_in(app, "ben")
    assert "private to anna" not in ben.get(f"/client/{c}").text
    assert "private to anna" not in ben.get("/calllist.csv?view=all&who=all").text
    assert ben.post(f"/client/{c}/action", data={"csrf_token": csrf_of(ben.get("/").text),
                                                 "called": "1"}).status_code == 403
    assert "private to anna" in signed_in(app, "olga").get(f"/client/{c}").text


def test_a_snoozed_client_leaves_to_call_until_its_date(team):
    _, _, info, app = team
    anna = signed_in(app, "anna")
    c = listed(anna.get("/").text)[0]
    until = (pd.Timestamp.today() + pd.Timedelta(days=14)).strftime("%Y-%m-%d")
    assert record(anna, c, snooze_until=until, note="call back after the holidays").status_code == 302
    assert c not in listed(anna.get("/").text)
    assert c in listed(anna.get("/?view=snoozed").text)
    assert f"snoozed to {until}" in anna.get("/?view=snoozed").text


@pytest.mark.parametrize("fields, message", [
    ({}, "nothing to record"),
    ({"outcome": "maybe"}, "'outcome' must be one of"),
    ({"snooze_until": "2001-01-01"}, "must be after today"),
    ({"snooze_until": "next week"}, "must be a date YYYY-MM-DD"),
    ({"note": "x" * 2001}, "over 2000 characters"),
])
def test_a_bad_action_is_refused_with_what_is_wrong(team, fields, message):
    _, _, info, app = team
    anna = signed_in(app, "anna")
    c = info.loc[info["account_manager"] == "anna", "corporation"].iloc[0]
    r = record(anna, c, **fields)
    assert r.status_code == 400 and message in html.unescape(r.text)


def test_an_operator_assigns_a_client_and_it_moves_to_that_managers_list(team):
    _, _, info, app = team
    olga = signed_in(app, "olga")
    c = info.loc[info["account_manager"] == "", "corporation"].iloc[0]
    html = olga.get(f"/client/{c}").text
    assert olga.post(f"/client/{c}/owner", data={"csrf_token": csrf_of(html), "account_manager": "ben"}).status_code == 302
    assert c in listed(signed_in(app, "ben").get(f"/?view=all&q={c}").text)
    anna = signed_in(app, "anna")
    assert anna.post(f"/client/{c}/owner", data={"csrf_token": csrf_of(anna.get("/").text),
                                                 "account_manager": "anna"}).status_code == 403


def test_sorting_by_expected_loss_puts_the_largest_first(team):
    _, frame, info, app = team
    html = signed_in(app, "olga").get("/?view=all&sort=loss").text
    merged = frame.merge(info, on="corporation")
    loss = (merged["probability"] * merged["annual_value"]).to_numpy()
    order = merged["corporation"].to_numpy()[np.argsort(-loss, kind="stable")]
    assert listed(html) == order[:page.PAGE_SIZE].tolist()
    assert "Expected loss" in html


def test_actions_applied_to_the_kept_frame_equal_a_fresh_join(team):
    cfg, frame, _, _ = team
    rng = np.random.default_rng(5)
    cache = actions.TeamCache()
    meta = {"published_at": "2026-11-30T08:00:00+00:00"}
    with TeamDb(cfg.team_db_path) as db:
        actions.team_frame(cfg, cache, db, frame, meta)
        for i in range(300):
            db.add_action({"by": "anna", "corporation": frame["corporation"].iloc[int(rng.integers(0, 40))],
                           "called": int(rng.random() < 0.5), "reached": int(rng.random() < 0.3),
                           "outcome": str(rng.choice(["", "kept", "leaving"])), "note": str(rng.choice(["", f"n{i}"])),
                           "snooze_until": str(rng.choice(["", "2099-01-01", "2098-05-05"]))})
            if i % 50 == 0:
                kept = actions.team_frame(cfg, cache, db, frame, meta)
        kept = actions.team_frame(cfg, cache, db, frame, meta)
        fresh = actions.team_frame(cfg, actions.TeamCache(), db, frame, meta)
    pd.testing.assert_frame_equal(kept, fresh)


def test_the_reports_first_page_sums_the_value_at_stake_in_each_band(deployed_cfg):
    from test_reporting import pdf_pages

    from risk.model import scoring
    from risk.reports import reporting
    cfg = with_keys(deployed_cfg, client_info_file="clientinfo.csv")
    ranking, _ = scoring.read_call_list(cfg)
    info = write_info(cfg, ranking)
    pages = pdf_pages(reporting.make_report(cfg)["report"])
    joined = ranking.merge(info, on="corporation")
    high = joined[joined["band"] == "high"]
    assert "Value / yr Expected loss" in pages[0]
    assert f"{high['annual_value'].sum():,.0f} {(high['annual_value'] * high['probability']).sum():,.0f}" in pages[0]
    assert "Does calling help?" not in pages[0]  # no holdout on record yet


def test_the_report_says_whether_calling_helps_once_a_holdout_is_on_record(team):
    from test_reporting import pdf_pages

    from risk.reports import reporting
    cfg, _, _, app = team
    signed_in(app, "olga").get("/")  # the holdout of the list is assigned
    pages = pdf_pages(reporting.make_report(cfg)["report"])
    assert "Does calling help? Not enough data yet" in pages[0]


# --- the API -------------------------------------------------------------------------------

def test_the_api_records_actions_with_a_write_token_only(team, caplog):
    cfg, frame, _, app = team
    with TeamDb(cfg.team_db_path) as db:
        write = accounts.add_token(db, "crm", "write-actions", "test")
        read = accounts.add_token(db, "dashboard", "read", "test")
    client = app.test_client()
    c = frame["corporation"].iloc[3]
    body = {"corporation": c, "called": True, "outcome": "at risk", "note": "from the CRM"}
    assert client.post("/actions", json=body).status_code == 401
    assert client.post("/actions", json=body, headers={"Authorization": f"Bearer {read}"}).status_code == 403
    r = client.post("/actions", json=body, headers={"Authorization": f"Bearer {write}"})
    assert r.status_code == 201 and r.get_json()["by"] == "service:crm" and r.get_json()["called"] is True
    got = client.get(f"/actions?corporation={c}", headers={"Authorization": f"Bearer {read}"}).get_json()
    assert got["actions"][0]["note"] == "from the CRM"
    assert client.get("/risk").status_code == 401  # a token exists: reading needs one too
    assert client.post("/actions", json={**body, "corporation": "nobody-here"},
                       headers={"Authorization": f"Bearer {write}"}).status_code == 404
    stored = cfg.team_db_path.read_bytes() + b"".join(p.read_bytes() for p in cfg.team_db_path.parent.glob("*-wal"))
    assert write.encode() not in stored and read.encode() not in stored
    assert write not in caplog.text


def test_once_users_exist_the_api_asks_for_a_token_but_the_main_jobs_own_calls_pass(team):
    cfg, _, _, app = team
    client = app.test_client()
    assert client.get("/risk").status_code == 401
    assert client.get("/risk", headers={"risk.in_process": "1"}).status_code == 401  # a header is not the environ
    send = apicalls.in_process_sender(cfg)
    assert send(apicalls.Call("risk", "GET", "/risk")).status == 200


def test_the_old_shared_token_still_works_as_an_admin_with_one_warning(team, monkeypatch, caplog):
    cfg, frame, _, _ = team
    monkeypatch.setenv(risk_api.TOKEN_ENV, "old-shared-token")
    app = risk_api.create_app(cfg.path)
    caplog.set_level(logging.WARNING, logger="accounts")
    client = app.test_client()
    headers = {"Authorization": "Bearer old-shared-token"}
    for _ in range(3):
        assert client.get("/risk", headers=headers).status_code == 200
    assert client.post("/actions", json={"corporation": frame["corporation"].iloc[0], "called": True},
                       headers=headers).status_code == 201
    assert sum("old shared API token" in r.getMessage() for r in caplog.records) == 1


# --- holdout and effect ------------------------------------------------------------------------

def test_a_seeded_share_of_the_top_is_held_out_of_to_call_and_only_operators_see_it(team):
    cfg, frame, _, app = team
    olga = signed_in(app, "olga")
    olga.get("/")  # the first view of a list assigns its holdout
    held = [h["corporation"] for h in TeamDb(cfg.team_db_path).holdout() if h["held_out"]]
    top = set(frame.nsmallest(cfg.call_capacity, "rank")["corporation"])
    assert held and set(held) <= top and abs(len(held) - 0.1 * len(top)) <= 3 * np.sqrt(0.09 * len(top))
    expected = [c for c in top if actions.holdout_draw(cfg.call_holdout_seed, "2026-11-30T08:00:00+00:00", c) < 0.1]
    assert sorted(held) == sorted(expected)
    anna_all = signed_in(app, "anna").get("/?view=all&who=all").text
    assert not set(held) & set(listed(anna_all)) and "held out" not in anna_all
    assert set(listed(olga.get("/?view=heldout").text)) == set(held)
    assert signed_in(app, "anna").get("/?view=heldout").status_code == 200  # falls back to "to call"


def test_a_service_reading_the_list_never_gets_a_held_out_client(team):
    cfg, frame, _, app = team
    signed_in(app, "olga").get("/")
    held = {h["corporation"] for h in TeamDb(cfg.team_db_path).holdout() if h["held_out"]}
    with TeamDb(cfg.team_db_path) as db:
        read = accounts.add_token(db, "dashboard", "read", "test")
    got = app.test_client().get("/risk?top=200", headers={"Authorization": f"Bearer {read}"}).get_json()
    names = [c["corporation"] for c in got["clients"]]
    assert held and not held & set(names)
    assert names == [c for c in frame["corporation"] if c not in held][:200]


def test_the_holdout_can_be_switched_off(team):
    cfg, _, _, _ = team
    app = risk_api.create_app(with_keys(cfg, call_holdout_share=0).path)
    signed_in(app, "olga").get("/")
    assert TeamDb(cfg.team_db_path).holdout() == []


def test_effect_says_not_enough_data_until_there_is():
    few = pd.DataFrame({"band": ["high"] * 30, "held_out": [True] * 3 + [False] * 27, "exited": [True, False] * 15})
    assert effect.estimate(few).verdict == "not enough data yet"


def test_effect_finds_a_strong_effect_and_its_interval_covers_it():
    rng = np.random.default_rng(1)
    n = 4000
    held = rng.random(n) < 0.5
    exited = rng.random(n) < np.where(held, 0.40, 0.25)
    e = effect.estimate(pd.DataFrame({"band": rng.choice(["high", "elevated"], n), "held_out": held, "exited": exited}))
    assert e.low < -0.15 < e.high and e.high < 0 and e.verdict.startswith("calling helps")


def test_the_operator_sees_the_effect_panel_with_outcomes_of_an_earlier_list(team):
    cfg, frame, _, app = team
    olga = signed_in(app, "olga")
    olga.get("/")  # assign the holdout of the first list
    with TeamDb(cfg.team_db_path) as db:  # the first list was long ago
        db.conn.execute("UPDATE holdout SET list_key = '2026-10-01T08:00:00+00:00', assigned_at = '2026-10-01T08:00:00+00:00'")
    html = olga.get("/operator").text
    assert 'id="effect-panel"' in html and "Does calling help?" in html
    assert "not enough data yet" in html.lower()  # ten held out: too few to say
    assert "held out" in html


# --- nothing acknowledged is lost -----------------------------------------------------------------

@pytest.mark.slow
def test_every_acknowledged_action_survives_a_sigkill_of_the_server(team):
    cfg, frame, _, _ = team
    with TeamDb(cfg.team_db_path) as db:
        token = accounts.add_token(db, "crm", "write-actions", "test")
    port = free_port()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--config", str(cfg.path), "--port", str(port)],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ})
    url = f"http://127.0.0.1:{port}/actions"
    acknowledged: dict[int, str] = {}
    lock = threading.Lock()
    stop = threading.Event()

    def post(worker: int) -> None:
        i = 0
        while not stop.is_set():
            note = f"worker {worker} note {i}"
            req = urllib.request.Request(url, method="POST", headers={
                "Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                data=json.dumps({"corporation": frame["corporation"].iloc[i % 50], "note": note}).encode())
            try:
                with urllib.request.urlopen(req, timeout=5) as r:
                    if r.status == 201:
                        with lock:
                            acknowledged[json.loads(r.read())["id"]] = note
            except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
                if server.poll() is not None:
                    return
                time.sleep(0.05)
            i += 1

    try:
        workers = [threading.Thread(target=post, args=(w,)) for w in range(4)]
        for w in workers:
            w.start()
        deadline = time.monotonic() + 60
        while len(acknowledged) < 200 and time.monotonic() < deadline:
            time.sleep(0.05)
        server.send_signal(signal.SIGKILL)  # in the middle of writes
        server.wait(timeout=10)
        stop.set()
        for w in workers:
            w.join(timeout=10)
    finally:
        stop.set()
        if server.poll() is None:
            server.kill()
    assert len(acknowledged) >= 200
    with TeamDb(cfg.team_db_path) as db:
        kept = {a["id"]: a["note"] for a in db.all_actions()}
    assert all(kept.get(i) == note for i, note in acknowledged.items())
