"""Screenshots of the managers' page for the README, taken with Debian's Chromium.

Deploys a temporary project from the shipped data, publishes a call list of
10,000 clients (bench/bench_page.py), serves the app on a free local port and
saves the list and a client's page at laptop (1366x900) and phone (390x844)
widths as docs/*.png.

    python docs/screenshots.py
"""
from __future__ import annotations

import sys
import tempfile
import threading
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent / "bench"))
sys.path.insert(0, str(HERE.parent))

import bench_api  # noqa: E402
import bench_page  # noqa: E402

CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
SIZES = {"": (1366, 900), "-phone": (390, 844)}


def main() -> int:
    import os

    from playwright.sync_api import sync_playwright
    from werkzeug.serving import make_server

    import app as risk_api

    with tempfile.TemporaryDirectory(prefix="screenshots-") as tmp:
        cfg = bench_api.deployed_project(Path(tmp))
        bench_page.publish_generated(cfg)
        os.environ.pop(risk_api.TOKEN_ENV, None)
        server = make_server("127.0.0.1", 0, risk_api.create_app(cfg.path), threaded=True)
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
                tab.close()
            browser.close()
        server.shutdown()
    print("\n".join(str(p) for p in sorted(HERE.glob("*.png"))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
