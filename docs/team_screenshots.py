"""Screenshots of the team's pages for docs/team.md, taken with Debian's Chromium.

Runs the real main job on a copy of the shipped data with its client info file
(generate_data.py --team-info), adds a manager (anna) and an operator (olga),
lets the operator open the first list (its holdout is assigned), runs the main
job again after a new extract, records a few of anna's calls through the page's
own code, then saves anna's list, a client's page and the operator's page as
docs/team-list.png, docs/team-client.png and docs/team-operator.png.

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


def project(folder: Path) -> Path:
    for name in ("sourcedata", "testdata"):
        shutil.copytree(ROOT / name, folder / name)
    config_path = folder / "config.json"
    config_path.write_text(json.dumps({
        "input_folder_path": "sourcedata", "output_folder_path": "ingesteddata", "test_data_path": "testdata",
        "output_model_path": "models", "prod_deployment_path": "production_deployment",
        "client_info_file": "clientinfo.csv"}))
    run(str(ROOT / "generate_data.py"), "--root", str(folder), "--team-info", str(folder / "clientinfo.csv"))
    run(str(ROOT / "fullprocess.py"), "--config", str(config_path))
    return config_path


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
            accounts.add_user(db, "olga", "operator", PASSWORD, "screenshots")
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
            run(str(ROOT / "generate_data.py"), "--extract", str(folder / "sourcedata" / "clients_2026_11.csv"))
            run(str(ROOT / "fullprocess.py"), "--config", str(config_path))

            server, url = serve()
            anna = signed_in(url, "anna")
            mine = anna.locator("table.calllist td.client a").all_inner_texts()
            with TeamDb(cfg.team_db_path) as db:
                for fields, i in NOTES:
                    actions.record(db, actions.action_row(fields, mine[i], "anna"))
            anna.goto(url + "/")
            anna.screenshot(path=HERE / "team-list.png")
            anna.goto(url + f"/client/{mine[0]}")
            anna.screenshot(path=HERE / "team-client.png", full_page=True)
            olga = signed_in(url, "olga")
            olga.goto(url + "/operator")
            olga.screenshot(path=HERE / "team-operator.png", full_page=True)
            browser.close()
            server.shutdown()
    print("\n".join(str(p) for p in sorted(HERE.glob("team-*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
