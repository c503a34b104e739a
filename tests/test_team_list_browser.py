"""The managers' list and client page in a real browser (Chromium via Playwright): filters and
sorting as links, a client's own figures over time, and the action form of an id that cannot
stand in a URL path."""
from __future__ import annotations

import json

import pytest
from test_page import browser, publish, serve, tab  # noqa: F401 (fixtures)

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
        tab.locator("table.calllist tr", has=tab.locator(f"td.rank:text-is('{rank}')")).locator("td.client a").click()
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
