"""Screenshots of the team's pages for docs/team.md, taken with Debian's Chromium.

Runs the real main job on a copy of the shipped data with its client info file
(generate_data.py --team-info: owners, values, names, contacts, CRM links), adds
a manager (anna, with an e-mail address) and an operator (olga), runs the main
job with managers' digests on and a real SMTP server (aiosmtpd) catching them,
lets the operator open the first list, gives anna five clients of a new
extract whose activity fell most and runs the main job again, records a few of anna's calls through the page's own code, then
saves anna's list, her list filtered and sorted, a client's page (one that is in
both shipped extracts: its figures over time) and the operator's page as
docs/team-list.png, docs/team-filters.png, docs/team-client.png and
docs/team-operator.png, and anna's digest as docs/team-digest.txt.

    python docs/team_screenshots.py
"""
from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
PASSWORD = "screenshots only 1"
NOTES = [
    ({"called": 1, "reached": 1, "outcome": "at risk", "note": "New finance lead is reviewing every supplier; "
      "wants a price comparison before March."}, 0),
    ({"called": 1, "outcome": "no answer", "note": "Voicemail; try again Thursday."}, 1),
    ({"called": 1, "reached": 1, "outcome": "kept", "note": "Happy after the support fix.",
      "snooze_until": "2027-01-20"}, 2),
]


def run(*args: str) -> None:
    subprocess.run([sys.executable, *args], check=True, capture_output=True)


def catch_mail():
    """A real SMTP server on 127.0.0.1 keeping what it receives; (controller, mails)."""
    from email import message_from_bytes

    from aiosmtpd.controller import Controller
    from aiosmtpd.handlers import Sink

    class Keep(Sink):
        def __init__(self) -> None:
            self.mails: list = []

        async def handle_DATA(self, server, session, envelope):  # noqa: N802 - aiosmtpd's name
            self.mails.append(message_from_bytes(envelope.content))
            return "250 OK"

    from risk.serving.localserver import free_port

    handler = Keep()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    return controller, handler.mails


def project(folder: Path) -> Path:
    for name in ("sourcedata", "testdata"):
        shutil.copytree(ROOT / name, folder / name)
    config_path = folder / "config.json"
    config_path.write_text(json.dumps({
        "input_folder_path": "sourcedata", "output_folder_path": "ingesteddata", "test_data_path": "testdata",
        "output_model_path": "models", "prod_deployment_path": "production_deployment",
        "client_info_file": "clientinfo.csv"}))
    run(str(ROOT / "generate_data.py"), "--root", str(folder), "--team-info", str(folder / "clientinfo.csv"))
    return config_path


def steepest_falls(extract: Path, n: int) -> list[str]:
    """The `n` current clients of `extract` whose last month fell most below last year's monthly average."""
    import pandas as pd
    frame = pd.read_csv(extract, dtype={"corporation": str})
    frame = frame[frame["exited"] != 1]  # still clients: on the next list
    fall = frame["lastmonth_activity"] / (frame["lastyear_activity"] / 12)
    return frame.loc[fall.nsmallest(n).index, "corporation"].tolist()


def twice_listed(folder: Path) -> set[str]:
    """Clients in more than one extract of the project's records."""
    import pandas as pd
    records = pd.read_csv(folder / "ingesteddata" / "records.csv", dtype={"corporation": str})
    counts = records["corporation"].value_counts()
    return set(counts[counts > 1].index)


def main() -> int:
    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from risk import config
    from risk.serving import accounts, actions
    from risk.serving import app as risk_api
    from risk.teamdb import TeamDb

    with tempfile.TemporaryDirectory(prefix="team-screenshots-") as tmp:
        folder = Path(tmp)
        config_path = project(folder)
        cfg = config.load(config_path)
        os.environ.pop(risk_api.TOKEN_ENV, None)
        with TeamDb(cfg.team_db_path) as db:
            accounts.add_user(db, "anna", "manager", PASSWORD, "screenshots")
            accounts.set_email(db, "anna", "anna@example.com", "screenshots")
            accounts.add_user(db, "olga", "operator", PASSWORD, "screenshots")
        controller, mails = catch_mail()
        raw = json.loads(config_path.read_text())
        config_path.write_text(json.dumps({**raw, "manager_digest": True, "notify_smtp_host": "127.0.0.1",
                                           "notify_smtp_port": controller.port,
                                           "page_url": "https://risk.example.com"}))
        run(str(ROOT / "fullprocess.py"), "--config", str(config_path))  # the first list: anna's first digest
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)

            def serve():
                server = make_server("127.0.0.1", 0, risk_api.create_app(config_path), threaded=True)
                threading.Thread(target=server.serve_forever, daemon=True).start()
                return server, f"http://127.0.0.1:{server.server_port}"

            def signed_in(url: str, name: str, width: int = 1366, height: int = 900):
                tab = browser.new_context(viewport={"width": width, "height": height}).new_page()
                tab.goto(url + "/login")
                tab.fill("#name", name)
                tab.fill("#password", PASSWORD)
                tab.click("#signin")
                tab.wait_for_load_state()
                return tab

            server, url = serve()
            signed_in(url, "olga").goto(url + "/")  # the first list's holdout is assigned on its first view
            server.shutdown()
            later = folder / "sourcedata" / "clients_2026_11.csv"
            run(str(ROOT / "generate_data.py"), "--extract", str(later))
            with TeamDb(cfg.team_db_path) as db:  # olga gives anna five new clients whose activity fell most
                for corporation in steepest_falls(later, 5):
                    db.set_owner(corporation, "anna", "olga")
            run(str(ROOT / "fullprocess.py"), "--config", str(config_path))
            controller.stop()
            anna_mail = [m for m in mails if m["To"] == "anna@example.com"][-1]
            (HERE / "team-digest.txt").write_text(
                f"Subject: {anna_mail['Subject']}\nTo: {anna_mail['To']}\n\n"
                + anna_mail.get_payload(decode=True).decode())

            server, url = serve()
            anna = signed_in(url, "anna")
            mine = anna.locator("table.calllist td.client a:not(.crm)").all_inner_texts()
            listed = anna.request.get(url + "/calllist.csv").text()  # all her clients to call, in order
            twice = twice_listed(folder)
            shown = next(line.split(",")[1] for line in listed.splitlines()[1:] if line.split(",")[1] in twice)
            mine = [shown, *[c for c in mine if c != shown]]  # in both shipped extracts: figures over time
            with TeamDb(cfg.team_db_path) as db:
                for fields, i in NOTES:
                    actions.record(db, actions.action_row(fields, mine[i], "anna"))
            anna.goto(url + "/")
            anna.screenshot(path=HERE / "team-list.png")
            anna.goto(url + "/?who=all&change=new&sort=size")
            anna.screenshot(path=HERE / "team-filters.png")
            anna.goto(url + f"/client/{shown}")
            anna.screenshot(path=HERE / "team-client.png", full_page=True)
            olga = signed_in(url, "olga")
            olga.goto(url + "/operator")
            olga.screenshot(path=HERE / "team-operator.png", full_page=True)
            browser.close()
            server.shutdown()
    print("\n".join(str(p) for p in sorted([*HERE.glob("team-*.png"), HERE / "team-digest.txt"])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
