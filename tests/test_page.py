"""The managers' page: the call list, filters, paging, CSV, a client's page, trends, login.

Flask test-client tests check the logic; the `slow` ones drive Debian's
Chromium through Playwright against the page served by a real server.
"""
from __future__ import annotations

import html
import io
import os
import re
import threading
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from risk import artifacts, history
from risk.data import contract
from risk.model import scoring
from risk.reports import report_facts
from risk.serving import app as risk_api
from risk.serving import page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TOKEN = "s3cret-token"
CUTS = ((0.6, "high"), (0.35, "elevated"), (0.15, "moderate"), (0.0, "low"))


def publish(cfg, changes=("", "new", "up", "down", "")) -> pd.DataFrame:
    """Write risk_ranking.csv and call_list.json in scoring's format from the deployed model's
    predictions, with every kind of change and two clients who left, so the page shows them all
    (a real first publication has no changes; tests/test_scoring.py checks the real ones)."""
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    data = contract.read_csv(cfg.finaldata_path, require_target=False)
    current = data.drop_duplicates("corporation", keep="last")
    current = current[current[contract.TARGET] != 1].copy()
    current["probability"] = model.predict_proba(contract.feature_matrix(current))[:, 1]
    current = current.sort_values("probability", ascending=False, kind="stable").reset_index(drop=True)
    current["rank"] = np.arange(1, len(current) + 1)
    current["risk_percent"] = (100 * current["probability"]).round().astype(int)
    current["band"] = [next(b for cut, b in CUTS if p >= cut) for p in current["probability"]]
    current["reasons"] = [f"activity last month {m:.0f}; large account: {e:.0f} employees"
                          if m == m and e == e else "activity unknown"
                          for m, e in zip(current["lastmonth_activity"], current["number_of_employees"])]
    current["change"] = [changes[i % len(changes)] for i in range(len(current))]
    frame = current[list(page.COLUMNS)]
    artifacts.write_text_atomic(cfg.output_model_path / "risk_ranking.csv", frame.to_csv(index=False))
    test = contract.read_csv(cfg.test_data_file)
    top = test.assign(p=model.predict_proba(contract.feature_matrix(test))[:, 1]).nlargest(100, "p")
    leavers = int(test[contract.TARGET].sum())
    artifacts.write_json_atomic(cfg.output_model_path / "call_list.json", {
        "published_at": "2026-11-30T08:00:00+00:00", "model_version": manifest["version"],
        "model_sha256": manifest["files"][artifacts.MODEL_FILE], "clients": len(frame),
        "bands": frame["band"].value_counts().to_dict(),
        "left_since_previous": ["gonecorp1", "gonecorp2"], "left_count": 2,
        "new_to_top": frame.loc[frame["change"] == "new", "corporation"].tolist(),
        "quality": {"f1": scoring.f1_of(model, test), "precision_at_n": float(top[contract.TARGET].mean()),
                    "recall_at_n": float(top[contract.TARGET].sum() / leavers), "n": 100,
                    "base_rate": float(test[contract.TARGET].mean())},
        "reasons_available": True,
    })
    return frame


def without_holdout(cfg):
    """`cfg` with the call holdout off: these tests read the whole list in rank order
    (tests/test_team.py checks the holdout)."""
    import json

    from risk import config
    raw = json.loads(cfg.path.read_text())
    cfg.path.write_text(json.dumps({**raw, "call_holdout_share": 0}))
    return config.load(cfg.path)


@pytest.fixture
def published(deployed_cfg):
    cfg = without_holdout(deployed_cfg)
    return cfg, publish(cfg)


@pytest.fixture
def client(published, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    return risk_api.create_app(published[0].path).test_client()


def record_drift(cfg, checks) -> None:
    """Drift checks in the run history: (drift found, F1 on new data) each."""
    history.record(cfg.history_path, "drift_checks", [
        {"test": "raw", "drift": d, "new_f1": f, "reference_f1": 0.52, "threshold": None, "p_value": None,
         "rows": 100, "model_version": 1, "files": "[]", "data_drift": "{}"} for d, f in checks])


def _csv(text: str) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(text), dtype={"corporation": str}, keep_default_na=False,
                       na_values={c: [""] for c in contract.FEATURES})


def _listed(html: str) -> list[str]:
    """The client names the list page shows, in order."""
    return re.findall(r'<td class="client"><a href="[^"]*">([^<]*)</a>', html)


# --- the list: filter, search, paging ---------------------------------------------------

def test_list_shows_the_first_page_of_the_published_ranking_in_rank_order(client, published):
    _, frame = published
    r = client.get("/")
    assert r.status_code == 200
    assert _listed(r.text) == frame["corporation"].head(page.PAGE_SIZE).tolist()
    assert f"Clients 1–{page.PAGE_SIZE} of {len(frame):,}" in r.text
    assert "2</strong> clients left since the previous list: gonecorp1, gonecorp2" in r.text


def test_page_tells_the_browser_to_load_nothing_from_elsewhere(client, published):
    r = client.get("/")
    assert "default-src 'self'" in r.headers["Content-Security-Policy"]
    assert not re.search(r'(src|href)="(https?:)?//', r.text)


@pytest.fixture
def real_list(deployed_cfg, monkeypatch):
    """A list published by scoring itself (its measures recorded), and a client of the app."""
    cfg = without_holdout(deployed_cfg)
    scoring.publish_call_list(cfg)
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    return cfg, risk_api.create_app(cfg.path).test_client()


def test_header_says_model_version_the_lists_measure_in_words_and_drift(real_list):
    text = real_list[1].get("/").text
    assert "Model v0001, deployed" in text
    # Trained on every extract: no fresh labelled rows, so the test data, named and dated as such.
    assert re.search(r"On the 300 test clients of testdata\.csv \(dated \d{4}-\d\d-\d\d, possibly of an "
                     r"older pattern\), \d+ of the model&#39;s top 100 left \(100 calls at random would have found about \d+\); "
                     r"it ranks a leaving client above a staying one \d+% of the time \(AUC 0\.\d\d\)", text)
    assert "F1" not in text.split("<main>")[0]  # the operator's figure: on /operator, with its date
    assert "No drift check yet." in text


def test_the_operator_page_keeps_f1_on_the_test_data_with_its_date(real_list):
    text = real_list[1].get("/operator").text
    assert re.search(r"F1 0\.\d\d on the 300 test clients of testdata\.csv \(dated \d{4}-\d\d-\d\d\)\. "
                     r"Of the top 100 test clients, \d+ left", text)


def test_header_shows_the_last_drift_check(client, published):
    cfg, _ = published
    record_drift(cfg, [(1, 0.31)])
    assert "Drift found at the last check" in client.get("/").text


def test_paging_walks_every_client_once(client, published):
    _, frame = published
    seen, number = [], 1
    while True:
        r = client.get(f"/?page={number}")
        names = _listed(r.text)
        if not names or number > 100:
            break
        seen += names
        if 'rel="next"' not in r.text:
            break
        number += 1
    assert seen == frame["corporation"].tolist()


@pytest.mark.parametrize("raw, expected", [("0", 1), ("-3", 1), ("abc", 1), ("999", "last")])
def test_a_page_number_out_of_range_shows_the_nearest_page(client, published, raw, expected):
    _, frame = published
    last = -(-len(frame) // page.PAGE_SIZE)
    want = last if expected == "last" else expected
    names = _listed(client.get(f"/?page={raw}").text)
    start = (want - 1) * page.PAGE_SIZE
    assert names == frame["corporation"].iloc[start:start + page.PAGE_SIZE].tolist()


@pytest.mark.parametrize("band", page.BANDS)
def test_band_filter_shows_only_that_band_in_rank_order(client, published, band):
    _, frame = published
    want = frame.loc[frame["band"] == band, "corporation"].tolist()
    assert want, f"fixture has no {band} client"
    r = client.get(f"/?band={band}")
    assert _listed(r.text) == want[:page.PAGE_SIZE]
    assert f"of {len(want):,} matching" in r.text


def test_search_finds_clients_by_part_of_their_name_any_case(client, published):
    _, frame = published
    needle = frame["corporation"].iloc[7][1:4]
    want = frame.loc[frame["corporation"].str.contains(needle, regex=False), "corporation"].tolist()
    assert _listed(client.get(f"/?q={needle.upper()}").text) == want[:page.PAGE_SIZE]
    assert "No client matches." in client.get("/?q=no-such-client-anywhere").text


def test_unknown_band_shows_all(client, published):
    _, frame = published
    assert _listed(client.get("/?band=purple").text) == frame["corporation"].head(page.PAGE_SIZE).tolist()


# --- CSV download -------------------------------------------------------------------------

def test_csv_download_unfiltered_is_the_published_list(client, published):
    cfg, _ = published
    r = client.get("/calllist.csv")
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert "attachment" in r.headers["Content-Disposition"]
    got = _csv(r.text)
    want, _ = scoring.read_call_list(cfg)
    pd.testing.assert_frame_equal(got[list(page.COLUMNS)], want[list(page.COLUMNS)], check_dtype=False)
    assert list(got.columns[len(page.COLUMNS):]) == list(page.TEAM_CSV) + ["held_out"]  # an operator's


def test_csv_download_has_the_rows_and_order_the_filter_and_search_show(client, published):
    _, frame = published
    band = "moderate"
    needle = frame.loc[frame["band"] == band, "corporation"].iloc[0][:1]
    got = _csv(client.get(f"/calllist.csv?band={band}&q={needle}").text)
    want = frame[(frame["band"] == band) & frame["corporation"].str.contains(needle, regex=False)]
    assert got["corporation"].tolist() == want["corporation"].tolist()
    assert got["rank"].is_monotonic_increasing
    # every page, not only the first: the same rows the pages show one after the other
    shown = _listed(client.get(f"/?band={band}&q={needle}").text)
    assert got["corporation"].tolist()[:page.PAGE_SIZE] == shown


# --- a client's page ------------------------------------------------------------------------

def test_client_page_shows_figures_reasons_and_risk_history(client, published, monkeypatch):
    _, frame = published
    row = frame.iloc[2]
    past = [{"published_at": "2026-10-01T08:00:00+00:00", "model_version": 1, "rank": 40,
             "probability": 0.31, "band": "moderate"},
            {"published_at": "2026-11-01T08:00:00+00:00", "model_version": 1, "rank": 9,
             "probability": 0.55, "band": "elevated"}]
    monkeypatch.setattr(scoring, "client_history", lambda cfg, corp: past if corp == row["corporation"] else [])
    r = client.get(f"/client/{row['corporation']}")
    assert r.status_code == 200
    assert f"<strong>{row['risk_percent']} %</strong>" in r.text
    assert f"rank {row['rank']} of {len(frame):,}" in r.text
    for reason in row["reasons"].split("; "):
        assert f"<li>{reason}</li>" in r.text
    assert f"{row['lastyear_activity']:,.0f}" in r.text
    assert "2026-10-01 08:00" in r.text and "31 %" in r.text and "55 %" in r.text
    assert "<svg" in r.text and r.text.count('class="dot') == 2


def test_client_page_shows_its_risk_at_each_real_publication(deployed_cfg, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    scoring.publish_call_list(deployed_cfg)  # a second list (deployed_cfg published the first)
    ranking, _ = scoring.read_call_list(deployed_cfg)
    corp = ranking["corporation"].iloc[0]
    past = scoring.client_history(deployed_cfg, corp)
    assert len(past) == 2
    text = risk_api.create_app(deployed_cfg.path).test_client().get(f"/client/{corp}").text
    assert text.count('class="dot') == 2
    assert f"{round(100 * past[-1]['probability'])} %" in text


def test_client_page_without_history_says_so(client, published, monkeypatch):
    _, frame = published
    monkeypatch.setattr(scoring, "client_history", lambda cfg, corp: [])
    text = client.get(f"/client/{frame['corporation'].iloc[0]}").text
    assert "first list with this client" in text


def test_unknown_client_is_a_404_page(client, published):
    r = client.get("/client/no-such-corp")
    assert r.status_code == 404
    assert r.mimetype == "text/html" and "not on the published call list" in r.text


def test_no_published_list_is_a_page_saying_so(deployed_cfg, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    scoring.call_list_path(deployed_cfg).unlink()
    r = risk_api.create_app(deployed_cfg.path).test_client().get("/")
    assert r.status_code == 503 and r.mimetype == "text/html"
    assert "No call list yet" in r.text  # the page's words, whatever scoring's message
    assert str(deployed_cfg.path.parent) not in r.text


def test_the_list_is_read_again_when_it_is_republished(client, published):
    cfg, frame = published
    assert _listed(client.get("/").text)[0] == frame["corporation"].iloc[0]
    reordered = frame.iloc[::-1].assign(rank=range(1, len(frame) + 1))
    artifacts.write_text_atomic(cfg.output_model_path / "risk_ranking.csv", reordered.to_csv(index=False))
    assert _listed(client.get("/").text)[0] == frame["corporation"].iloc[-1]


# --- trends -----------------------------------------------------------------------------------

def test_trends_draw_attrition_per_extract_quality_and_drift_as_svg(client, published):
    cfg, _ = published
    record_drift(cfg, [(0, 0.5), (1, 0.3)])
    r = client.get("/trends")
    assert r.status_code == 200
    assert r.text.count("<svg") == 3
    # one bar per ingested extract, its height the share who left
    for name in ("a.csv", "b.csv"):
        rate = contract.read_csv(cfg.input_folder_path / name)[contract.TARGET].mean()
        assert f"<title>{name}: {100 * rate:.1f}</title>" in r.text
    assert r.text.count('class="dot alert"') == 1


def test_svg_chart_escapes_labels():
    svg = page.line_chart([("<b>x</b>", 0.5), ("y", 0.7)], "F1", y_max=1)
    assert "<b>" not in svg and "&lt;b&gt;" in svg


# --- the retraining loop: held-back extracts, model decisions, label-free estimates ----------

HOSTILE = "<script>alert(1)</script> & 'x'.csv"


def record_loop(cfg) -> None:
    """What loop.py records: two quarantines (one released), a kept champion, an estimate realized."""
    history.record(cfg.history_path, "quarantine", [
        {"name": HOSTILE, "sha256": "a" * 64, "action": "quarantined",
         "reason": "'lastmonth_activity' scale jumped x1e+03 (median 212000, training 212): another unit?"},
        {"name": "ok.csv", "sha256": "b" * 64, "action": "quarantined", "reason": "missing-value surge"},
        {"name": "ok.csv", "sha256": "b" * 64, "action": "released", "reason": "released by the operator"},
    ])
    history.record(cfg.history_path, "challenger_decisions", [{
        "rule": "challenger", "decision": "keep", "reason": "challenger not significantly better: F1 0.5120 "
        "vs 0.4980", "champion_version": 1, "champion_f1": 0.498, "challenger_f1": 0.512, "gain": 0.014,
        "p_value": 0.21, "rows": 1500, "change_found": 0, "base_rate": "{}", "window": '["a.csv"]',
        "new_files": '["c.csv"]', "deployed_version": None}])
    history.record(cfg.history_path, "estimates", [
        {"name": "d.csv", "sha256": "d" * 64, "kind": "estimate", "model_version": 1, "rows": 3000,
         "f1": 0.512, "precision_at_n": 0.61, "top_n": 100},
        {"name": "e.csv", "sha256": "e" * 64, "kind": "estimate", "model_version": 1, "rows": 900,
         "f1": 0.47, "precision_at_n": 0.5, "top_n": 100},
        {"name": "e.csv", "sha256": "f" * 64, "kind": "realized", "model_version": 1, "rows": 900,
         "f1": 0.455, "precision_at_n": 0.48, "top_n": 100, "estimated_f1": 0.47},
    ])


def _held_back_notice(html: str) -> str:
    return html.split('id="held-back"', 1)[1].split("</div>", 1)[0]


@pytest.mark.parametrize("path", ["/", "/trends"])
def test_header_names_each_extract_held_back_with_its_reason_and_release_command(client, published, path):
    record_loop(published[0])
    html = client.get(path).text
    notice = _held_back_notice(html)
    assert "1 extract held back by the quality gate" in notice
    assert "scale jumped x1e+03 (median 212000, training 212): another unit?" in notice
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#39;x&#39;.csv" in notice
    assert "python fullprocess.py --release-quarantined" in notice
    assert "ok.csv" not in notice  # released by the operator: no longer held back
    assert "<script>alert" not in html


def test_header_counts_every_extract_held_back(client, published):
    cfg, _ = published
    history.record(cfg.history_path, "quarantine", [
        {"name": f"bad{i}.csv", "sha256": f"{i:064x}", "action": "quarantined", "reason": f"reason {i}"}
        for i in range(3)])
    notice = _held_back_notice(client.get("/").text)
    assert "3 extracts held back by the quality gate" in notice
    assert all(f"bad{i}.csv" in notice and f"reason {i}" in notice for i in range(3))


def test_the_same_file_quarantined_twice_is_held_back_once(deployed_cfg):
    row = {"name": "x.csv", "sha256": "c" * 64, "action": "quarantined", "reason": "constant column"}
    history.record(deployed_cfg.history_path, "quarantine", [row, row])
    assert [q["name"] for q in report_facts.held_back(deployed_cfg.history_path)] == ["x.csv"]


def test_nothing_held_back_and_no_decision_shows_no_notice_and_says_so(client, published):
    listing, trends = client.get("/").text, client.get("/trends").text
    assert "held back" not in listing and "held back" not in trends
    assert "No model decision yet" in trends
    assert "Estimated before outcomes were known" not in trends


def test_trends_show_decisions_and_label_free_estimates_with_their_blind_spot(client, published):
    record_loop(published[0])
    html = client.get("/trends").text
    decisions = html.split("<h2>Model decisions</h2>", 1)[1]
    row = decisions.split('<tr class="decision-keep">', 1)[1].split("</tr>", 1)[0]
    assert "kept v0001" in row and "challenger not significantly better" in row
    assert "0.498" in row and "0.512" in row and "1,500" in row
    estimates = decisions.split("Estimated before outcomes were known", 1)[1]
    assert re.search(r"d\.csv.*?0\.512</td><td class=\"num\">not known yet", estimates, re.S)
    assert re.search(r"e\.csv.*?0\.470</td><td class=\"num\">0\.455", estimates, re.S)
    assert "cannot see a change in who leaves" in estimates


# --- token auth -------------------------------------------------------------------------------

@pytest.fixture
def guarded(published, monkeypatch):
    monkeypatch.setenv(risk_api.TOKEN_ENV, TOKEN)
    return risk_api.create_app(published[0].path).test_client()


def csrf_of(html: str) -> str:
    return re.search(r'name="csrf_token" value="([^"]+)"', html).group(1)


def sign_in(client, password: str, name: str = "", next: str = "/"):
    """Post the sign-in form as a browser does: its page first (the CSRF cookie and field)."""
    form = client.get(f"/login?next={next}")
    token = csrf_of(form.text) if form.status_code == 200 else ""
    return client.post("/login", data={"name": name, "password": password, "next": next, "csrf_token": token})


def test_with_a_token_the_page_asks_for_it(guarded):
    for path in ("/", "/calllist.csv", "/trends", "/client/x"):
        r = guarded.get(path)
        assert r.status_code == 302 and r.headers["Location"].startswith("/login"), path
    # after signing in, the manager lands where they were going
    assert guarded.get("/?band=high&q=ab").headers["Location"] == "/login?next=/?band%3Dhigh%26q%3Dab"
    assert guarded.get("/").headers["Location"] == "/login?next=/"
    assert guarded.get("/static/page.css").status_code == 200  # the login form needs its style


def test_wrong_token_is_refused_and_sets_no_session_cookie(guarded):
    r = sign_in(guarded, "wrong")
    assert r.status_code == 401 and "Wrong user name or password" in r.text
    assert page.COOKIE not in r.headers.get("Set-Cookie", "")
    assert guarded.get("/").status_code == 302


def test_login_sets_an_httponly_strict_cookie_without_the_token_itself(guarded):
    r = sign_in(guarded, TOKEN, next="/?band=high")
    assert r.status_code == 302 and r.headers["Location"] == "/?band=high"
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and TOKEN not in cookie
    assert guarded.get("/").status_code == 200
    assert guarded.get("/calllist.csv").status_code == 200


def test_each_sign_in_gets_a_new_session_cookie(guarded):
    first = sign_in(guarded, TOKEN).headers["Set-Cookie"].split(";")[0]
    second = sign_in(guarded, TOKEN).headers.get("Set-Cookie", "").split(";")[0]
    guarded.delete_cookie(page.COOKIE)
    third = sign_in(guarded, TOKEN).headers["Set-Cookie"].split(";")[0]
    assert first != third and first != second


def test_a_forged_cookie_is_refused(guarded):
    guarded.set_cookie(page.COOKIE, "f" * 43)
    assert guarded.get("/").status_code == 302
    guarded.set_cookie(page.COOKIE, TOKEN)  # the token itself is not the cookie
    assert guarded.get("/").status_code == 302


def test_login_never_redirects_to_another_site(guarded):
    assert sign_in(guarded, TOKEN, next="https://evil.example/").headers["Location"] == "/"
    guarded.delete_cookie(page.COOKIE)
    assert sign_in(guarded, TOKEN, next="//evil.example/x").headers["Location"] == "/"


def test_a_bearer_header_opens_the_page_too(guarded):
    assert guarded.get("/", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200


def test_the_api_bearer_rule_is_unchanged_by_the_page_cookie(guarded):
    sign_in(guarded, TOKEN)
    assert guarded.get("/summarystats").status_code == 401  # a page cookie does not open the API
    assert guarded.get("/summarystats", headers={"Authorization": f"Bearer {TOKEN}"}).status_code == 200
    assert guarded.get("/health").status_code == 200


def test_logout_ends_the_session_on_the_server(guarded):
    cookie = sign_in(guarded, TOKEN).headers["Set-Cookie"].split(";")[0].split("=", 1)[1]
    html = guarded.get("/").text
    guarded.post("/logout", data={"csrf_token": csrf_of(html)})
    assert guarded.get("/").status_code == 302
    guarded.set_cookie(page.COOKIE, cookie)  # the old cookie, kept by a thief: dead too
    assert guarded.get("/").status_code == 302


def test_without_a_token_login_goes_straight_to_the_list(client, published):
    assert client.get("/login").status_code == 302


# --- in a real browser: Debian's Chromium driven by Playwright ------------------------------

def _browser_missing() -> str | None:
    if not CHROMIUM.exists():
        return f"{CHROMIUM} not installed (apt-get install chromium)"
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "playwright not installed (pip install -r requirements-dev.txt)"
    return None


@pytest.fixture(scope="module")
def browser():
    missing = _browser_missing()
    if missing:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true and {missing}")
        pytest.skip(missing)
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def serve(flask_app):
    """Serve `flask_app` with werkzeug's threaded server on a free port; return (base URL, stop)."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, flask_app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()

    def stop():
        server.shutdown()
        thread.join(5)
    return f"http://127.0.0.1:{server.server_port}", stop


@pytest.fixture
def site(published, monkeypatch):
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    url, stop = serve(risk_api.create_app(published[0].path))
    yield url
    stop()


@pytest.fixture
def tab(browser):
    """A fresh browser tab that collects console errors and uncaught page errors."""
    context = browser.new_context(accept_downloads=True)
    t = context.new_page()
    t.errors = []
    t.on("console", lambda m: t.errors.append(m.text) if m.type == "error" else None)
    t.on("pageerror", lambda exc: t.errors.append(str(exc)))
    yield t
    context.close()


def _rows(tab) -> list[str]:
    return tab.locator("table.calllist td.client a").all_inner_texts()


@pytest.mark.slow
def test_browser_list_loads_without_console_errors(tab, site, published):
    cfg, frame = published
    record_drift(cfg, [(0, 0.5), (1, 0.3)])
    response = tab.goto(site + "/")
    assert response.status == 200
    assert _rows(tab) == frame["corporation"].head(page.PAGE_SIZE).tolist()
    assert tab.locator("link[rel=stylesheet]").count() == 1
    # the stylesheet applied: bands are coloured badges
    assert tab.locator("span.band-high").first.evaluate("e => getComputedStyle(e).color") == "rgb(255, 255, 255)"
    tab.goto(site + "/trends")
    assert tab.locator("svg.chart").count() == 3
    assert tab.errors == []


@pytest.mark.slow
def test_browser_band_filter_and_search_change_what_is_shown(tab, site, published):
    _, frame = published
    tab.goto(site + "/")
    with tab.expect_navigation():
        tab.select_option("#band", "moderate")  # page.js submits on change
    moderate = frame.loc[frame["band"] == "moderate", "corporation"].tolist()
    assert _rows(tab) == moderate[:page.PAGE_SIZE]
    needle = moderate[3]
    tab.fill("#q", needle)
    with tab.expect_navigation():
        tab.click("button[type=submit]")
    assert _rows(tab) == [c for c in moderate if needle in c]
    assert "band=moderate" in tab.url and tab.input_value("#band") == "moderate"
    assert tab.errors == []


@pytest.mark.slow
def test_browser_client_page_opens_from_the_list(tab, site, published):
    _, frame = published
    tab.goto(site + "/")
    first = frame.iloc[0]
    with tab.expect_navigation():
        tab.click(f"text={first['corporation']}")
    assert tab.locator("h1").inner_text() == first["corporation"]
    assert f"{first['risk_percent']} %" in tab.locator(".headline").inner_text()
    assert tab.locator("ul.why li").all_inner_texts() == first["reasons"].split("; ")
    assert tab.errors == []


@pytest.mark.slow
def test_browser_csv_download_matches_what_is_shown(tab, site, published):
    cfg, frame = published
    tab.goto(site + "/?band=elevated")
    with tab.expect_download() as info:
        tab.click("#download")
    got = _csv(Path(info.value.path()).read_text())[list(page.COLUMNS)]  # then the team's columns
    want, _ = scoring.read_call_list(cfg)
    want = want[want["band"] == "elevated"].reset_index(drop=True)
    pd.testing.assert_frame_equal(got, want[list(page.COLUMNS)], check_dtype=False)
    assert got["corporation"].tolist()[:page.PAGE_SIZE] == _rows(tab)
    assert tab.errors == []


@pytest.mark.slow
def test_browser_with_a_token_refuses_until_the_login_form(tab, published, monkeypatch):
    _, frame = published
    monkeypatch.setenv(risk_api.TOKEN_ENV, TOKEN)
    url, stop = serve(risk_api.create_app(published[0].path))
    try:
        tab.goto(url + "/?band=high")
        assert "/login" in tab.url and _rows(tab) == []
        tab.fill("#password", "wrong")
        with tab.expect_navigation():
            tab.click("button[type=submit]")
        assert "Wrong user name or password" in tab.locator(".error").inner_text() and _rows(tab) == []
        tab.fill("#password", TOKEN)
        with tab.expect_navigation():
            tab.click("button[type=submit]")
        assert _rows(tab) == frame.loc[frame["band"] == "high", "corporation"].head(page.PAGE_SIZE).tolist()
        cookie = next(c for c in tab.context.cookies() if c["name"] == page.COOKIE)
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and TOKEN not in cookie["value"]
        assert tab.evaluate("document.cookie") == ""  # scripts cannot read it
        # the wrong token's 401 is the only console error: the browser reports the status
        assert all("401" in e for e in tab.errors)
    finally:
        stop()


def test_a_list_remade_by_a_new_model_says_so_once_at_the_top_and_on_each_moved_client(deployed_cfg, monkeypatch):
    from test_deployment import retrain

    from risk.loop import deployment
    cfg = without_holdout(deployed_cfg)
    first = scoring.publish_call_list(cfg)
    assert first.summary["model_change"] is None  # the same model as the list before it
    retrain(cfg, 16)
    deployment.deploy(cfg, reason="a better ranking on fresh labels")
    second = scoring.publish_call_list(cfg)
    change = second.summary["model_change"]
    top = lambda cl: set(cl.ranking.loc[cl.ranking["rank"] <= cfg.call_capacity, "corporation"])  # noqa: E731
    assert change["from_version"] == 1 and change["to_version"] == 2
    assert change["top_changed"] == len(top(second) - top(first)) > 0
    assert scoring.publish_call_list(cfg).summary["model_change"] == change  # unchanged: kept, not lost

    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    client = risk_api.create_app(cfg.path).test_client()
    listing = client.get("/").get_data(as_text=True)
    compared = change["compared"]
    assert compared["on"] == "testdata.csv" and not compared["fresh"]  # both trained on every extract
    words = (f"{compared['new']} of the new model&#39;s top 100 left, against {compared['old']} of the old "
             "model&#39;s top 100.")
    assert ("New model v0002</strong> since the previous list (made by v0001)" in listing
            and f"{change['top_changed']} of the top {cfg.call_capacity} changed." in listing
            and words in listing)
    assert "a better ranking on fresh labels" not in listing  # the loop's reason is the operator's
    assert "a better ranking on fresh labels" in client.get("/operator").get_data(as_text=True)
    moved = second.ranking[second.ranking["previous_rank"].notna()
                           & (second.ranking["previous_rank"] != second.ranking["rank"])].iloc[0]
    page_text = client.get(f"/client/{moved['corporation']}").get_data(as_text=True)
    assert (f"On the previous list: rank {int(moved['previous_rank']):,}" in page_text
            and f"now rank {int(moved['rank']):,}" in page_text and "remade by a new model, v0002" in page_text)
    assert moved["moved_because"] and f"Why this client moved: {moved['moved_because']}" in html.unescape(page_text)
