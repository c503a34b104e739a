"""Screenshots of the managers' page for the README and the manual, taken with Debian's Chromium.

Runs the real main job on a copy of the shipped data, then once more after a
new same-law extract arrives (so the list shows changes and clients who
left), serves the app on a free local port and saves the list, a client's
page and the trends at laptop (1366x900) and phone (390x844) widths, and the
operator's model figures (laptop), as docs/*.png.

    python docs/screenshots.py
"""
from __future__ import annotations

import json
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
SIZES = {"": (1366, 900), "-phone": (390, 844)}


def shipped_project(folder: Path) -> Path:
    """The shipped data in `folder`, the main job run, a new extract, the main job again; the config."""
    for name in ("sourcedata", "testdata"):
        shutil.copytree(ROOT / name, folder / name)
    config_path = folder / "config.json"
    config_path.write_text(json.dumps({
        "input_folder_path": "sourcedata", "output_folder_path": "ingesteddata", "test_data_path": "testdata",
        "output_model_path": "models", "prod_deployment_path": "production_deployment"}))
    job = [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(config_path)]
    subprocess.run(job, check=True, capture_output=True)
    subprocess.run([sys.executable, str(ROOT / "generate_data.py"), "--extract",
                    str(folder / "sourcedata" / "clients_2026_11.csv"), "--law", "base"],
                   check=True, capture_output=True)
    subprocess.run(job, check=True, capture_output=True)
    return config_path


def _box(tab, first: str, after: str, width: int) -> dict:
    """The page's area from element `first` down to element `after` (for a screenshot's clip)."""
    def y(selector: str) -> float:  # in page coordinates, whatever the scroll
        return tab.evaluate(f"document.querySelector({selector!r}).getBoundingClientRect().top + window.scrollY")
    top = y(first) - 8
    return {"x": 0, "y": top, "width": width, "height": y(after) - 8 - top}


def main() -> int:
    import os

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    from risk.serving import app as risk_api

    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        config_path = shipped_project(Path(tmp))
        os.environ.pop(risk_api.TOKEN_ENV, None)
        server = make_server("127.0.0.1", 0, risk_api.create_app(config_path), threaded=True)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        url = f"http://127.0.0.1:{server.server_port}"
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for suffix, (width, height) in SIZES.items():
                tab = browser.new_page(viewport={"width": width, "height": height})
                tab.goto(url + "/")
                tab.screenshot(path=HERE / f"page{suffix}.png")
                tab.click("table.calllist td.client a >> nth=0")
                tab.wait_for_load_state()
                tab.screenshot(path=HERE / f"client{suffix}.png")
                tab.goto(url + "/trends")
                tab.screenshot(path=HERE / f"trends{suffix}.png", full_page=True)
                if not suffix:  # the operator's model figures: F1 on the test data, the reliability chart
                    tab.goto(url + "/operator")
                    tab.screenshot(path=HERE / "operator-model.png", full_page=True,
                                   clip=_box(tab, "#model", "#effect", width))
                tab.close()
            browser.close()
        server.shutdown()
    print("\n".join(str(p) for p in sorted(HERE.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
