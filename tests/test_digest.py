"""The managers' digest: clients new in each manager's top N, e-mailed once per published list
through the operators' SMTP channel, against a real SMTP server (aiosmtpd)."""
from __future__ import annotations

import json
import socket
import subprocess
import sys

import fullprocess
import pandas as pd
import pytest
from conftest import ROOT, run_script
from test_notify import smtp  # noqa: F401 (fixture)
from test_team import PASSWORD, record, signed_in, team, with_keys  # noqa: F401 (fixture)

from risk import artifacts, notify
from risk.model import scoring
from risk.serving import accounts, digest
from risk.teamdb import TeamDb

TOP = 5


@pytest.fixture
def digested(team, smtp):  # noqa: F811
    """The team's list with digests on, anna and ben with e-mail addresses, a real SMTP server."""
    cfg, frame, info, app = team
    port, mails = smtp
    cfg = with_keys(cfg, manager_digest=True, manager_digest_top=TOP, notify_smtp_host="127.0.0.1",
                    notify_smtp_port=port, notify_timeout_s=5, page_url="https://risk.example.com/")
    with TeamDb(cfg.team_db_path) as db:
        accounts.set_email(db, "anna", "anna@example.com", "test")
        accounts.set_email(db, "ben", "ben@example.com", "test")
    return cfg, frame, info, app, mails


def tell(cfg) -> fullprocess.Run:
    run = fullprocess.Run()
    fullprocess.tell_managers(cfg, run)
    return run


def to_call(cfg, info, manager: str) -> list[str]:
    """The manager's clients in rank order, less the held-out ones (the list is in rank order)."""
    with TeamDb(cfg.team_db_path) as db:
        held = {h["corporation"] for h in db.holdout() if h["held_out"]}
    return [c for c, m in zip(info["corporation"], info["account_manager"]) if m == manager and c not in held]


def republish(cfg, frame: pd.DataFrame, moved: list[str], at: str) -> pd.DataFrame:
    """The list again, published at `at`, with `moved` clients put at its head."""
    order = [*moved, *[c for c in frame["corporation"] if c not in moved]]
    again = frame.set_index("corporation").loc[order].reset_index()
    again["rank"] = range(1, len(again) + 1)
    scoring.write_ranking_csv(again, scoring.ranking_path(cfg))
    meta = artifacts.read_json(scoring.call_list_path(cfg))
    artifacts.write_json_atomic(scoring.call_list_path(cfg), {**meta, "published_at": at})
    return again


def test_each_manager_gets_one_digest_of_their_top_clients_on_the_first_list(digested):
    cfg, frame, info, _, mails = digested
    run = tell(cfg)
    assert sorted(m["To"] for m in mails) == ["anna@example.com", "ben@example.com"]
    anna = next(m for m in mails if m["To"] == "anna@example.com")
    assert anna["Subject"] == f"[client attrition risk] {TOP} clients new in your top {TOP} to call"
    assert anna["From"] == cfg.notify_email_from
    body = anna.get_payload(decode=True).decode()
    top = to_call(cfg, info, "anna")[:TOP]
    shown = [line.split(". ", 1)[1].split(" ")[0].rstrip(":") for line in body.splitlines() if line[:1].isdigit()]
    assert shown == top
    assert f"https://risk.example.com/client/{top[0]}" in body and "users.py digest anna off" in body
    assert any(line.startswith(f"digest to anna: {TOP} new") and line.endswith("sent") for line in run.outputs)
    tell(cfg)  # the same list: nothing again
    assert len(mails) == 2


def test_a_later_list_tells_only_the_clients_who_entered_the_top_and_skips_snoozed_ones(digested):
    cfg, frame, info, app, mails = digested
    tell(cfg)
    mails.clear()
    mine = to_call(cfg, info, "anna")
    snoozed, entered = mine[TOP + 3], mine[TOP + 5]
    until = (pd.Timestamp.today() + pd.Timedelta(days=3)).strftime("%Y-%m-%d")
    assert record(signed_in(app, "anna"), snoozed, snooze_until=until).status_code == 302
    republish(cfg, frame, [snoozed, entered], "2026-12-07T08:00:00+00:00")
    tell(cfg)
    assert [m["To"] for m in mails] == ["anna@example.com"]  # ben's top did not change: no e-mail
    body = mails[0].get_payload(decode=True).decode()
    assert mails[0]["Subject"].endswith(f"1 client new in your top {TOP} to call")
    assert entered in body and snoozed not in body
    with TeamDb(cfg.team_db_path) as db:
        rows = {r["manager"]: r for r in db.digests("2026-12-07T08:00:00+00:00")}
    assert rows["ben"]["status"] == "nothing new" and rows["anna"]["status"] == "sent"
    assert json.loads(rows["anna"]["entered"]) == [entered]


def test_a_manager_without_e_mail_or_who_opted_out_gets_nothing_and_digests_are_off_by_default(digested):
    cfg, _, _, _, mails = digested
    with TeamDb(cfg.team_db_path) as db:
        accounts.set_digest(db, "ben", False, "test")
        accounts.set_email(db, "anna", "", "test")
    tell(cfg)
    assert mails == []
    off = with_keys(cfg, manager_digest=False)
    assert notify.digest_due(off) is None


def test_an_unreachable_smtp_server_is_a_warning_not_a_failed_run_and_not_sent_again(digested):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cfg, *_ = digested
    cfg = with_keys(cfg, notify_smtp_port=closed, notify_timeout_s=2)
    run = tell(cfg)
    assert run.outputs and all("failed" in line for line in run.outputs)
    with TeamDb(cfg.team_db_path) as db:
        assert {r["status"].split(":")[0] for r in db.digests()} == {"failed"}
    assert tell(cfg).outputs == []


def test_a_server_that_never_answers_does_not_hold_the_run(digested):
    cfg, *_ = digested
    with socket.socket() as silent:  # accepts connections, never says hello
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        cfg = with_keys(cfg, notify_smtp_port=silent.getsockname()[1], notify_timeout_s=1)
        run = tell(cfg)
    assert run.outputs and all(("no answer" in line or "timed out" in line) for line in run.outputs), run.outputs


def test_digest_text_shows_odd_ids_and_names_as_plain_lines(digested):
    cfg, frame, info, _, _ = digested
    row = {"corporation": "evil\r\nBcc: x@evil.example", "name": "Acme\u202e Corp\n", "rank": 3,
           "risk_percent": 71, "band": "high", "reasons": "activity fell", "contact": "=cmd|x\n"}
    d = digest.Digest("anna", "anna@example.com", ["x"], pd.DataFrame([row]))
    subject, body = digest.words(cfg, d, "2026-12-07T08:00:00+00:00")
    assert "\n" not in subject
    line = next(x for x in body.splitlines() if x.startswith("1. "))
    assert line.startswith("1. evil⟨U+000D⟩⟨U+000A⟩Bcc: x@evil.example (Acme Corp): rank 3")
    assert not any(x.startswith("Bcc") for x in body.splitlines())
    assert "/client?key=" in body  # an id no path can hold links by its key


def test_users_script_sets_an_e_mail_and_the_digest_and_refuses_a_bad_address(digested):
    cfg, *_ = digested
    ok = run_script("users.py", "--config", str(cfg.path), "email", "ben", "ben.b@example.org")
    assert ok.returncode == 0 and "ben.b@example.org" in ok.stdout
    bad = run_script("users.py", "--config", str(cfg.path), "email", "ben", "ben@example.org\nBcc: all@x")
    assert bad.returncode == 2 and "not an e-mail address" in bad.stderr
    assert run_script("users.py", "--config", str(cfg.path), "digest", "ben", "off").returncode == 0
    listing = run_script("users.py", "--config", str(cfg.path), "list").stdout
    assert "ben\tmanager\tactive\tben.b@example.org\tno digest" in listing
    add = subprocess.run([sys.executable, str(ROOT / "users.py"), "--config", str(cfg.path), "--password-stdin",
                          "add", "cleo", "--role", "manager", "--email", "cleo@example.com"],
                         input=PASSWORD + "\n", capture_output=True, text=True)
    assert add.returncode == 0, add.stderr
    with TeamDb(cfg.team_db_path) as db:
        assert db.user("cleo")["email"] == "cleo@example.com"


def test_an_older_team_database_gets_the_e_mail_columns_when_opened(tmp_path):
    import sqlite3
    path = tmp_path / "team.sqlite"
    with sqlite3.connect(path) as conn:
        conn.execute("CREATE TABLE users (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, role TEXT NOT NULL,"
                     " password_hash TEXT NOT NULL, disabled INTEGER NOT NULL DEFAULT 0, failed INTEGER NOT NULL"
                     " DEFAULT 0, locked_until TEXT, created_at TEXT NOT NULL)")
        conn.execute("INSERT INTO users (name, role, password_hash, created_at) VALUES ('old', 'manager', 'h', 't')")
    with TeamDb(path) as db:
        assert db.user("old")["email"] == "" and db.user("old")["digest"] == 1


@pytest.mark.slow
def test_the_main_job_sends_the_digest_after_it_publishes_a_list_and_not_on_a_quiet_tick(make_config, smtp):  # noqa: F811
    import generate_data
    from conftest import client_csv

    from risk import config
    from risk.data import contract
    port, mails = smtp
    path = make_config(extra={"manager_digest": True, "notify_smtp_host": "127.0.0.1", "notify_smtp_port": port,
                              "client_info_file": "clientinfo.csv",
                              "notify_timeout_s": 30})  # a loaded CI machine: the wait is not under test
    cfg = config.load(path)
    frames = [contract.read_csv(p, require_target=False) for p in sorted(cfg.input_folder_path.glob("*.csv"))]
    generate_data.team_info(pd.concat(frames)).to_csv(cfg.client_info_file, index=False)
    with TeamDb(cfg.team_db_path) as db:
        accounts.add_user(db, "anna", "manager", PASSWORD, "test")
        accounts.set_email(db, "anna", "anna@example.com", "test")
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    assert [m["To"] for m in mails] == ["anna@example.com"]
    assert "new in your top 10 to call" in mails[0]["Subject"]
    assert any(line.startswith("digest to anna") for line in run.outputs)
    (cfg.input_folder_path / "later.csv").write_bytes(client_csv(50, seed=9))
    quiet = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, fullprocess.Run())  # new data: a new list
    fullprocess.recorded_run(cfg, False, quiet)  # nothing new: no digest
    assert not any(line.startswith("digest to") for line in quiet.outputs)
    with TeamDb(cfg.team_db_path) as db:
        assert len({r["list_key"] for r in db.digests()}) == 2
