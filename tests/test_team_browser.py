"""The team's work in a real browser: Debian's Chromium driven by Playwright against a real server.

A manager signs in, sees their clients, marks one called with a note, snoozes
another and finds both in the CSV; an operator sees the effect panel; a
manager cannot open /operator; every form refuses a missing or wrong CSRF
token; twenty wrong passwords lock the account.
"""
from __future__ import annotations

import io
import re

import pandas as pd
import pytest
from test_page import browser, serve, tab  # noqa: F401 (fixtures)
from test_team import PASSWORD, team  # noqa: F401 (fixture)

pytestmark = pytest.mark.slow


@pytest.fixture
def site(team):  # noqa: F811
    cfg, frame, info, app = team
    url, stop = serve(app)
    yield url, cfg, frame, info
    stop()


def sign_in(tab, url: str, name: str, password: str = PASSWORD) -> None:  # noqa: F811
    tab.goto(url + "/login")
    tab.fill("#name", name)
    tab.fill("#password", password)
    with tab.expect_navigation():
        tab.click("#signin")


def rows(page) -> list[str]:
    return page.locator("table.calllist td.client a:not(.crm)").all_inner_texts()


def test_a_manager_signs_in_marks_one_called_snoozes_another_and_finds_both_in_the_csv(tab, site, tmp_path):  # noqa: F811
    url, cfg, frame, info = site
    sign_in(tab, url, "anna")
    assert tab.locator("#me").inner_text() == "anna · manager"
    mine = rows(tab)
    owners = dict(zip(info["corporation"], info["account_manager"]))
    assert mine and all(owners[c] == "anna" for c in mine)
    assert "my clients" in tab.locator("h1").inner_text()
    tab.screenshot(path=tmp_path / "list.png")

    first, second = mine[0], mine[1]
    tab.click(f"text={first}")
    tab.check("#called")
    tab.check("#reached")
    tab.select_option("#outcome", "at risk")
    tab.fill("#note", "Budget cut; call again after their board meeting.")
    with tab.expect_navigation():
        tab.click("#record")
    assert tab.locator("#recorded").is_visible()
    assert "Budget cut; call again after their board meeting." in tab.locator("#done").inner_text()
    tab.screenshot(path=tmp_path / "client.png", full_page=True)

    tab.goto(url + f"/client/{second}")
    until = (pd.Timestamp.today() + pd.Timedelta(days=10)).strftime("%Y-%m-%d")
    tab.fill("#snooze_until", until)
    with tab.expect_navigation():
        tab.click("#record")
    tab.goto(url + "/")
    assert second not in rows(tab) and first in rows(tab)
    tab.click("#tab-snoozed")
    assert rows(tab) == [second]

    tab.click("#tab-all")
    with tab.expect_download() as download:
        tab.click("#download")
    csv = pd.read_csv(io.StringIO(download.value.path().read_text()), keep_default_na=False, dtype=str)
    got = csv.set_index("corporation")
    assert got.loc[first, "note"] == "Budget cut; call again after their board meeting."
    assert got.loc[first, "outcome"] == "at risk" and got.loc[first, "last_by"] == "anna"
    assert got.loc[second, "snooze_until"] == until
    assert "held_out" not in csv.columns  # an operator's column
    assert tab.errors == []


def test_an_operator_sees_the_effect_panel_and_a_manager_cannot_open_it(tab, site, browser):  # noqa: F811
    url, *_ = site
    sign_in(tab, url, "anna")
    assert tab.locator("#operator-link").count() == 0
    response = tab.goto(url + "/operator")
    assert response.status == 403 and "for operators" in tab.content()
    operator = browser.new_context().new_page()
    sign_in(operator, url, "olga")
    operator.click("#operator-link")
    assert operator.locator("#effect-panel").is_visible()
    assert "not enough data yet" in operator.locator("#verdict").inner_text().lower()
    assert "held out" in operator.locator("#heldout").inner_text() or operator.locator("#heldout").is_visible()
    operator.context.close()


FORMS = {  # page to open, the form's selector, and how to fill it
    "sign-in": ("/login", "form.login", lambda t: (t.fill("#name", "anna"), t.fill("#password", PASSWORD))),
    "log out": ("/", "form.inline", lambda t: None),
    "action": ("/client/{c}", "#action-form", lambda t: t.check("#called")),
    "owner": ("/client/{c}", "#owner-form", lambda t: None),
}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("tamper", ["remove", "forge"])
def test_every_form_refuses_a_missing_or_wrong_csrf_token(tab, site, form, tamper):  # noqa: F811
    url, cfg, frame, info = site
    if form != "sign-in":
        sign_in(tab, url, "olga")
    path, selector, fill = FORMS[form]
    tab.goto(url + path.format(c=frame["corporation"].iloc[0]))
    fill(tab)
    field = f"{selector} input[name=csrf_token]"
    if tamper == "remove":
        tab.eval_on_selector(field, "e => e.remove()")
    else:
        tab.eval_on_selector(field, "e => e.value = 'forged-' + e.value.slice(7)")
    with tab.expect_navigation() as nav:
        tab.eval_on_selector(selector, "f => f.submit()")
    assert nav.value.status == 400
    assert "CSRF" in tab.locator("main").inner_text()


def test_twenty_wrong_passwords_lock_the_account(tab, site):  # noqa: F811
    url, cfg, *_ = site
    for i in range(cfg.login_max_failures):
        sign_in(tab, url, "ben", f"not the password {i}")
        assert "Wrong user name or password" in tab.locator(".error").inner_text()
    sign_in(tab, url, "ben")
    assert re.search(r"locked after too many wrong passwords until \d\d:\d\d UTC", tab.locator(".error").inner_text())
    assert "/login" in tab.url
