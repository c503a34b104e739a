"""Operators are told (issue 22, item 18): a webhook POST and an e-mail per event, once each,
against a real HTTP receiver and a real SMTP server (aiosmtpd); the run's decision on stdout."""
from __future__ import annotations

import json
import socket
import threading
from email import message_from_bytes
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import client_csv, run_script

import fullprocess
import generate_data
from risk import config, history, notify
from risk.serving import localserver


class Receiver(BaseHTTPRequestHandler):
    posts: list = []

    def do_POST(self):  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.posts.append((self.headers["Content-Type"], json.loads(body)))
        self.send_response(200)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def webhook(monkeypatch):
    Receiver.posts = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    monkeypatch.setenv("RISK_NOTIFY_WEBHOOK_URL", f"http://127.0.0.1:{server.server_address[1]}/hook")
    yield Receiver.posts
    server.shutdown()


@pytest.fixture
def smtp():
    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self):
            self.mails = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.mails.append(message_from_bytes(envelope.content))
            return "250 OK"

    handler = Keep()
    port = localserver.free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    yield port, handler.mails
    controller.stop()


def tick(cfg):
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    return run


@pytest.mark.slow
def test_a_quarantine_is_told_once_by_webhook_and_email_with_the_command_to_act(
        make_config, webhook, smtp, monkeypatch):
    monkeypatch.setattr(fullprocess, "report", lambda cfg, run: None)
    port, mails = smtp
    cfg = config.load(make_config(inputs={"a.csv": client_csv(1500, seed=1), "b.csv": client_csv(1500, seed=2)},
                                  test=client_csv(2000, seed=3), extra={
        "min_labelled_rows": 200, "notify_smtp_host": "127.0.0.1", "notify_smtp_port": port,
        "notify_email_to": "ops@example.com"}))
    tick(cfg)  # bootstrap: a model is live, told once
    assert [p[1]["event"]["kind"] for p in webhook] == ["redeploy"]
    generate_data.extract(cfg.input_folder_path / "bad.csv", 2000, "units", 7, labels=True)
    tick(cfg)
    tick(cfg)  # nothing new: nothing told again

    kinds = [p[1]["event"]["kind"] for p in webhook]
    assert kinds == ["redeploy", "quarantine"]
    content_type, body = webhook[1]
    assert content_type == "application/json"
    assert "bad.csv" in body["text"] and "--release-quarantined bad.csv" in body["text"]
    assert [m["Subject"] for m in mails] == ["[client attrition risk] Model v0001 is live",
                                              "[client attrition risk] Extract bad.csv held back by the quality gate"]
    assert "--release-quarantined bad.csv" in mails[1].get_payload()
    assert len(history.rows(cfg.history_path, "notifications")) == 2


def test_a_failed_tick_is_told_and_an_unreachable_channel_is_a_warning_not_a_failure(
        make_config, webhook, monkeypatch, caplog):
    with socket.socket() as s:  # a port nobody listens on: the e-mail cannot go
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    cfg = config.load(make_config(extra={"notify_smtp_host": "127.0.0.1", "notify_smtp_port": closed,
                                         "notify_email_to": "ops@example.com", "notify_timeout_s": 2}))
    lines = notify.send(cfg, [notify.Event("failed:x", "failed", "The main job failed", "disk full", "df -h")])
    assert [p[1]["event"]["key"] for p in webhook] == ["failed:x"]
    assert any("e-mail: failed" in line for line in lines)
    assert notify.send(cfg, [notify.Event("failed:x", "failed", "The main job failed", "disk full")]) == []


@pytest.mark.slow
def test_the_main_job_says_its_decision_on_stdout_in_one_line(make_config):
    cfg = make_config()
    run = run_script("fullprocess.py", "--config", str(cfg))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[-1].startswith("result: bootstrap: deployed the first model")
    again = run_script("fullprocess.py", "--config", str(cfg))
    assert again.stdout.splitlines() == [again.stdout.splitlines()[0]]
    assert again.stdout.startswith("result: no new data")


def test_a_list_made_by_another_model_than_the_live_one_is_told_once_as_stale(deployed_cfg, webhook):
    from test_deployment import retrain

    from risk.loop import deployment
    from risk.reports import notices
    cfg = deployed_cfg
    assert notices.events(cfg, [], None) == []  # the list is the live model's
    retrain(cfg, 16)
    deployment.deploy(cfg)  # v0002 live, its list not published (a run failing after the switch)
    [event] = notices.events(cfg, [], None)
    assert event.kind == "stale" and "made by v0001; v0002 is live" in event.text
    notify.send(cfg, [event])
    notify.send(cfg, notices.events(cfg, [], None))
    assert [p[1]["event"]["kind"] for p in webhook] == ["stale"]
