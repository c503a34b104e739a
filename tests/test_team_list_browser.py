"""The managers' list and client page in a real browser (Chromium via Playwright): filters and
sorting as links, a client's own figures over time, and the action form of an id that cannot
stand in a URL path."""
from __future__ import annotations

import json

import pytest
from test_page import browser, publish, serve, tab  # noqa: F401 (fixtures)
from test_team import team  # noqa: F401 (fixture)

from risk.model import scoring
from risk.serving import app as risk_api
from risk.teamdb import TeamDb

pytestmark = pytest.mark.slow

ODD = [".", "..", "a/b", "two\nlines", "x" * 300]


@pytest.fixture
def odd_site(deployed_cfg, monkeypatch):
    """An open page (no account yet) whose first clients have ids no URL path can hold."""
    cfg = deployed_cfg
    frame = publish(cfg)
    frame.loc[: len(ODD) - 1, "corporation"] = ODD
    scoring.write_ranking_csv(frame, cfg.output_model_path / "risk_ranking.csv")
    cfg.path.write_text(json.dumps({**json.loads(cfg.path.read_text()), "call_holdout_share": 0}))
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    url, stop = serve(risk_api.create_app(cfg.path))
    yield url, cfg
    stop()


@pytest.mark.parametrize("name", ODD)
def test_the_action_form_of_an_id_that_cannot_sit_in_a_path_records_on_that_client(tab, odd_site, name, tmp_path):  # noqa: F811
    url, cfg = odd_site
    tab.goto(url + "/")
    rank = ODD.index(name) + 1
    with tab.expect_navigation():
        tab.locator("table.calllist tr", has=tab.locator(f"td.rank:text-is('{rank}')")).locator("td.client a:not(.crm)").click()
    assert f"rank {rank} of" in tab.locator("p.headline").inner_text()
    tab.check("#called")
    tab.fill("#note", f"note on {name!r}")
    with tab.expect_navigation() as nav:
        tab.click("#record")
    assert nav.value.status == 200
    assert tab.locator("#recorded").is_visible()
    assert f"rank {rank} of" in tab.locator("p.headline").inner_text()  # back on the same client's page
    assert f"note on {name!r}" in tab.locator("#done").inner_text()
    if name == "..":
        tab.screenshot(path=tmp_path / "odd-action.png", full_page=True)
    with TeamDb(cfg.team_db_path) as db:
        done = db.actions_of(name)
    assert [a["note"] for a in done] == [f"note on {name!r}"]
    assert tab.errors == []


@pytest.fixture
def moved_site(team):  # noqa: F811
    from test_team_list import moved_list
    cfg, frame, info, app = team
    frame = moved_list(cfg, frame)
    url, stop = serve(app)
    yield url, cfg, frame, info
    stop()


def _employees(page) -> list[int]:
    return [int(t.replace(",", "")) for t in page.locator("table.calllist td.size").all_inner_texts() if t != "–"]


def test_a_manager_filters_moved_up_mid_size_clients_sorts_by_employees_and_shares_the_link(tab, moved_site, browser, tmp_path):  # noqa: F811
    from test_team_browser import rows, sign_in
    url, cfg, frame, info = moved_site
    sign_in(tab, url, "anna")
    with tab.expect_navigation():
        tab.select_option("#change", "up")  # a choice shows at once
    with tab.expect_navigation():
        tab.select_option("#size", "mid")
    assert "change=up" in tab.url and "size=mid" in tab.url
    owners = dict(zip(info["corporation"], info["account_manager"]))
    by_id = frame.set_index("corporation")
    shown = rows(tab)
    assert shown and all(owners[c] == "anna" for c in shown)
    assert all(20 <= by_id.loc[c, "number_of_employees"] < 200 for c in shown)
    places = by_id["previous_rank"].astype("float64") - by_id["rank"]
    assert all(by_id.loc[c, "change"] == "up" or places[c] >= 10 for c in shown)

    with tab.expect_navigation():
        tab.click("#sort-size")
    assert _employees(tab) == sorted(_employees(tab), reverse=True)
    assert tab.locator("th[aria-sort=descending]").inner_text().startswith("EMPLOYEES")
    tab.screenshot(path=tmp_path / "filtered.png", full_page=True)
    tab.set_viewport_size({"width": 390, "height": 844})  # a phone: each client a card
    tab.screenshot(path=tmp_path / "filtered-phone.png")
    tab.set_viewport_size({"width": 1280, "height": 720})
    with tab.expect_navigation():
        tab.click("#sort-size")
    assert _employees(tab) == sorted(_employees(tab))
    shared, seen = tab.url, rows(tab)

    # The link is the list: a colleague's browser without JavaScript shows the same rows.
    plain = browser.new_context(java_script_enabled=False).new_page()
    sign_in(plain, url, "anna")
    plain.goto(shared)
    assert rows(plain) == seen
    plain.select_option("#change", "new")
    with plain.expect_navigation():
        plain.click("#filters button[type=submit]")
    assert "change=new" in plain.url and "sort=size" in plain.url and "dir=asc" in plain.url
    assert all(by_id.loc[c, "change"] == "new" for c in rows(plain))
    plain.context.close()
    assert tab.errors == []


def test_a_manager_reads_a_clients_figures_over_time_on_its_page(tab, team, tmp_path):  # noqa: F811
    from test_team_browser import sign_in
    from test_team_list import later_extract
    cfg, frame, info, app = team
    owners = dict(zip(info["corporation"], info["account_manager"]))
    again = later_extract(cfg, frame, clients=12)
    c = next(c for c in again["corporation"] if owners[c] == "anna")
    url, stop = serve(app)
    try:
        sign_in(tab, url, "anna")
        tab.goto(url + f"/client/{c}")
        table = tab.locator("#figures-over-time")
        assert table.is_visible()
        cells = table.locator("tbody tr").nth(1).locator("td").all_inner_texts()
        assert cells[0] == "c.csv" and "▼" in cells[1]
        chart = tab.locator("#figures-chart svg")
        assert chart.is_visible() and chart.bounding_box()["width"] > 300
        assert chart.locator("polyline").count() == 2
        assert "activity last month" in tab.locator("#figures-chart").inner_text()
        tab.locator("#over-time").scroll_into_view_if_needed()
        tab.screenshot(path=tmp_path / "figures.png")
        assert tab.errors == []
    finally:
        stop()
