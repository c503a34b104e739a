"""The managers' page against data and requests nobody planned for (issue 22: items 3, 8, 9).

What a real extract can hold (a missing figure, an id that is a spreadsheet formula, an id
with a zero-width character, '.', '..', a line break, 300 characters) must show the right
page, a safe CSV and an honest rendering; /docs carries the same browser locks as the page.
"""
from __future__ import annotations

import io
import json

import pandas as pd
import pytest

from risk.data import contract
from risk.model import scoring
from risk.serving import app as risk_api
from tests.test_page import publish


@pytest.fixture
def published(deployed_cfg):
    return deployed_cfg, publish(deployed_cfg)


@pytest.fixture
def client(published, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    return risk_api.create_app(published[0].path).test_client()


def test_client_page_of_a_client_with_a_missing_figure_says_missing(client, published):
    cfg, frame = published
    ranking, _ = scoring.read_call_list(cfg)
    gaps = ranking[ranking[list(contract.FEATURES)].isna().any(axis=1)]
    assert len(gaps), "the generated data has a few percent missing figures"
    for corp in gaps["corporation"].head(5):
        r = client.get(f"/client/{corp}")
        assert r.status_code == 200, corp
        assert "<dd>missing</dd>" in r.text


# --- ids as data: CSV formulas, look-alikes, odd links (item 9) -------------------------------

FORMULAS = ["=HYPERLINK(\"http://evil\")", "+1+2", "-3+4", "@SUM(A1)", "\tcmd", "\rcmd"]
ODD = [".", "..", "two\nlines", "a/b", "長" * 1000, "x" * 500]
LOOKALIKES = ["acme\u200bcorp", "аcme"]  # a zero-width space; a Cyrillic 'а'


@pytest.fixture
def hostile(deployed_cfg, monkeypatch):
    """A published list whose first clients have the ids an attacker or a messy extract gives."""
    cfg = deployed_cfg
    frame = publish(cfg)
    names = FORMULAS + ODD + LOOKALIKES + ["acme"]
    frame.loc[: len(names) - 1, "corporation"] = names
    scoring.write_ranking_csv(frame, cfg.output_model_path / "risk_ranking.csv")
    # No randomized holdout: every one of these clients is in the to-call view.
    cfg.path.write_text(json.dumps({**json.loads(cfg.path.read_text()), "call_holdout_share": 0}))
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    return risk_api.create_app(cfg.path).test_client(), frame


def test_csv_export_neutralises_ids_that_start_like_a_formula(hostile):
    client, frame = hostile
    body = client.get("/calllist.csv").get_data(as_text=True)
    got = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False)["corporation"]
    for formula in FORMULAS:
        assert "'" + formula in got.tolist()
        assert formula not in got.tolist()
    assert "acme" in got.tolist()  # an ordinary id is left as it is


def _links(html: str) -> dict[str, str]:
    """rank -> the href of that row's client link, as the list page shows it."""
    import re
    rows = re.findall(r'<td class="rank">(\d+)</td>\s*<td class="client"><a href="([^"]*)">', html)
    return {rank: href.replace("&amp;", "&") for rank, href in rows}


@pytest.mark.parametrize("name", ODD + LOOKALIKES + ["acme"])
def test_each_client_link_goes_to_that_clients_page_as_a_browser_follows_it(hostile, name):
    from urllib.parse import urljoin, urlsplit
    client, frame = hostile
    rank = str(int(frame.loc[frame["corporation"] == name, "rank"].iloc[0]))
    href = _links(client.get("/").text)[rank]
    assert len(href) < 2000  # under gunicorn's 4094-byte request line and any browser's limit
    resolved = urlsplit(urljoin("http://127.0.0.1:8000/", href))  # as a browser resolves '.' and '..'
    r = client.get(resolved.path, query_string=resolved.query)
    assert r.status_code == 200, (name, href)
    assert f"rank {rank} of" in r.text


@pytest.mark.parametrize("name", LOOKALIKES)
def test_look_alike_ids_are_marked_on_the_list_and_on_their_page(hostile, name):
    client, frame = hostile
    listing = client.get("/").text
    rank = str(int(frame.loc[frame["corporation"] == name, "rank"].iloc[0]))
    row = listing.split(f'<td class="rank">{rank}</td>')[1].split("</tr>")[0]
    assert "look-alike?" in row
    href = _links(listing)[rank]
    assert "Check this client's name" in client.get(href).text


def test_an_ordinary_id_is_not_marked(hostile):
    client, frame = hostile
    rank = str(int(frame.loc[frame["corporation"] == "acme", "rank"].iloc[0]))
    row = client.get("/").text.split(f'<td class="rank">{rank}</td>')[1].split("</tr>")[0]
    assert "look-alike?" not in row


def test_an_invisible_character_is_written_out_on_the_client_page(hostile):
    client, frame = hostile
    rank = str(int(frame.loc[frame["corporation"] == "acme\u200bcorp", "rank"].iloc[0]))
    text = client.get(_links(client.get("/").text)[rank]).text
    assert "acme⟨U+200B⟩corp" in text


# --- /docs: the same browser locks as the page (item 8) -------------------------------------

def test_docs_page_and_its_assets_carry_csp_frame_and_nosniff_headers(client):
    for url in ("/docs", "/docs/assets/swagger-ui-bundle.js"):
        r = client.get(url)
        assert r.status_code == 200, url
        csp = r.headers["Content-Security-Policy"]
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp
        assert "'unsafe-eval'" not in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        assert r.headers["X-Content-Type-Options"] == "nosniff"


def test_docs_page_runs_no_inline_script(client):
    assert "<script>" not in client.get("/docs").text  # script-src 'self' would block it


def test_docs_with_a_slash_goes_to_the_docs(client):
    r = client.get("/docs/")
    assert r.status_code in (301, 308) and r.headers["Location"].endswith("/docs")
    assert client.get("/docs/", follow_redirects=True).status_code == 200


@pytest.mark.slow
def test_swagger_ui_draws_the_operations_under_its_csp(published, monkeypatch):
    from tests.test_page import CHROMIUM, CHROMIUM_ARGS, _browser_missing, serve
    missing = _browser_missing()
    if missing:
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    url, stop = serve(risk_api.create_app(published[0].path))
    try:
        with sync_playwright() as pw:
            chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            tab = chromium.new_page()
            errors = []
            tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            tab.goto(f"{url}/docs/")
            tab.wait_for_selector("text=/prediction", timeout=15_000)
            chromium.close()
    finally:
        stop()
    assert not [e for e in errors if "Content Security Policy" in e], errors


# --- after a rollback (item 17) ------------------------------------------------------------

def test_after_a_rollback_the_page_does_not_call_the_deployed_model_newer(deployed_cfg, monkeypatch):
    from risk.loop import deployment
    from tests.test_deployment import retrain
    cfg = deployed_cfg
    retrain(cfg, 16)
    assert deployment.deploy(cfg).version == 2
    scoring.publish_call_list(cfg)  # the list of v0002
    deployment.rollback_with_notes(cfg)  # back to v0001, by hand
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    text = risk_api.create_app(cfg.path).test_client().get("/").text
    assert "newer" not in text
    assert "rolled back to v0001; this list was made by v0002" in text
