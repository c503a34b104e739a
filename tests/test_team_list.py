"""The managers' list: filters (new in the top, moved up, size) and sortable columns as query
parameters, keeping "my clients", the snoozed-out "to call" view and the holdout; who the
client is (name, contact, CRM link); the client's own figures over time. Flask test client here;
Chromium in tests/test_team_list_browser.py."""
from __future__ import annotations

import html as htmlmod
import io
import re

import numpy as np
import pandas as pd
import pytest
from test_page import csrf_of
from test_team import PASSWORD, listed, record, signed_in, team  # noqa: F401 (fixture)

from risk.model import scoring
from risk.serving import listview
from risk.teamdb import TeamDb


def moved_list(cfg, frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` republished with changes and previous places: every 5th client new in the top,
    every 7th a band up, the others from a previous rank shuffled around their rank."""
    frame = frame.copy()
    rng = np.random.default_rng(3)
    n = len(frame)
    frame["change"] = np.where(np.arange(n) % 5 == 1, "new", np.where(np.arange(n) % 7 == 2, "up", ""))
    previous = frame["rank"].to_numpy() + rng.integers(-30, 30, n)
    frame["previous_rank"] = pd.array(np.where(frame["change"] == "new", 0, np.maximum(previous, 1)), dtype="Int64")
    frame.loc[frame["change"] == "new", "previous_rank"] = pd.NA
    frame["previous_risk_percent"] = pd.array([pd.NA] * n, dtype="Int64")
    scoring.write_ranking_csv(frame, scoring.ranking_path(cfg))
    return frame


@pytest.fixture
def moved(team):  # noqa: F811
    cfg, frame, info, app = team
    return cfg, moved_list(cfg, frame), info, app


def everything(client, query: str) -> list[str]:
    """Every client the list shows for `query`, all pages, in order."""
    seen, number = [], 1
    while True:
        text = client.get(f"/?{query}&page={number}").text
        seen += [htmlmod.unescape(c) for c in listed(text)]
        if 'rel="next"' not in text:
            return seen
        number += 1


def test_new_in_the_top_shows_only_new_clients_in_rank_order(moved):
    _, frame, _, app = moved
    olga = signed_in(app, "olga")
    want = frame.loc[frame["change"] == "new", "corporation"].tolist()
    assert everything(olga, "view=all&who=all&change=new") == want


def test_moved_up_means_a_band_up_or_ten_places_or_more_up(moved):
    _, frame, _, app = moved
    olga = signed_in(app, "olga")
    places = frame["previous_rank"].astype("float64") - frame["rank"]
    want = frame.loc[(frame["change"] == "up") | (places >= listview.MOVED_PLACES), "corporation"].tolist()
    assert want and len(want) < len(frame)
    assert everything(olga, "view=all&who=all&change=up") == want


@pytest.mark.parametrize("size", listview.SIZES)
def test_size_filter_keeps_the_clients_of_that_many_employees(moved, size):
    _, frame, _, app = moved
    low, high = listview.SIZES[size]
    employees = frame["number_of_employees"].astype("float64")
    want = frame.loc[(employees >= low) & (employees < high), "corporation"].tolist()
    assert want
    assert everything(signed_in(app, "olga"), f"view=all&who=all&size={size}") == want


def test_filters_keep_my_clients_and_leave_snoozed_and_held_out_clients_off_to_call(moved):
    cfg, frame, info, app = moved
    anna = signed_in(app, "anna")
    owners = dict(zip(info["corporation"], info["account_manager"]))
    mid = frame.loc[(frame["number_of_employees"].astype("float64") >= 20)
                    & (frame["number_of_employees"].astype("float64") < 200)]
    mine = [c for c in mid["corporation"] if owners[c] == "anna"]
    snoozed = mine[0]
    until = (pd.Timestamp.today() + pd.Timedelta(days=5)).strftime("%Y-%m-%d")
    assert record(anna, snoozed, snooze_until=until).status_code == 302
    with TeamDb(cfg.team_db_path) as db:
        held = {h["corporation"] for h in db.holdout() if h["held_out"]}
    shown = everything(anna, "size=mid&sort=size")
    assert shown and all(owners[c] == "anna" for c in shown)
    assert snoozed not in shown and not held & set(shown)
    assert set(shown) == set(mine) - {snoozed} - held
    assert everything(anna, "view=snoozed&size=mid") == [snoozed]


def test_a_column_header_sorts_by_it_and_again_turns_the_order_round(moved):
    _, frame, info, app = moved
    olga = signed_in(app, "olga")
    text = olga.get("/?view=all&who=all&size=large").text
    href = htmlmod.unescape(re.search(r'href="([^"]*)" class="sort" id="sort-size"', text).group(1))
    assert "sort=size" in href and "size=large" in href  # the filter stays
    largest = everything(olga, href.split("?", 1)[1])
    employees = frame.set_index("corporation")["number_of_employees"].astype("float64")
    assert list(employees[largest]) == sorted(employees[largest], reverse=True)
    text = olga.get(href).text
    assert 'aria-sort="descending"' in text
    again = htmlmod.unescape(re.search(r'href="([^"]*)" class="sort" id="sort-size"', text).group(1))
    assert "dir=asc" in again
    smallest = everything(olga, again.split("?", 1)[1])
    assert list(employees[smallest]) == sorted(employees[smallest])


@pytest.mark.parametrize("column, key", [
    ("value", lambda m: -m["annual_value"]), ("owner", lambda m: m["account_manager"].replace("", "~")),
    ("client", lambda m: m["name"].str.lower()),
    ("moved", lambda m: -(m["previous_rank"].astype("float64") - m["rank"]).fillna(-1e9)),
])
def test_each_sortable_column_orders_the_list_ties_in_rank_order(moved, column, key):
    _, frame, info, app = moved
    merged = frame.merge(info, on="corporation")
    want = merged.assign(_k=key(merged)).sort_values("_k", kind="stable")["corporation"].tolist()
    assert everything(signed_in(app, "olga"), f"view=all&who=all&sort={column}")[:120] == want[:120]


def test_the_csv_has_the_rows_and_order_of_the_filtered_sorted_list(moved):
    _, frame, _, app = moved
    olga = signed_in(app, "olga")
    query = "view=all&who=all&change=new&sort=size"
    r = olga.get(f"/calllist.csv?{query}")
    assert 'filename="call-list-new.csv"' in r.headers["Content-Disposition"]
    got = pd.read_csv(io.StringIO(r.text), dtype={"corporation": str}, keep_default_na=False)
    assert got["corporation"].tolist() == everything(olga, query)
    assert 'id="download"' in olga.get(f"/?{query}").text


def test_unknown_filter_and_sort_values_show_the_plain_list(moved):
    _, frame, _, app = moved
    olga = signed_in(app, "olga")
    plain = listed(olga.get("/?view=all&who=all").text)
    assert listed(olga.get("/?view=all&who=all&change=sideways&size=huge&sort=evil&dir=up").text) == plain


def test_links_keep_the_filters_across_pages_views_and_whose(moved):
    _, _, _, app = moved
    text = signed_in(app, "anna").get("/?change=up&size=mid&sort=size&dir=asc").text
    for anchor in ('rel="next"', 'id="tab-snoozed"', 'id="whose-all"'):
        href = htmlmod.unescape(re.search(rf'<a href="([^"]*)"[^>]*{anchor}', text).group(1))
        assert all(p in href for p in ("change=up", "size=mid", "sort=size", "dir=asc")), (anchor, href)


def test_every_list_form_still_carries_a_csrf_token(moved):
    _, _, _, app = moved
    text = signed_in(app, "anna").get("/?change=new").text
    assert csrf_of(text)


# --- who the client is: name, contact, CRM link ------------------------------------------------

HOSTILE = {  # what an info file may hold, and what the page must make of it
    "name": '<script>alert("n")</script>',
    "contact": '=HYPERLINK("http://evil","call me")',
}


@pytest.fixture
def who(team):  # noqa: F811
    """The team's list with contacts and CRM links in the info file: a safe one, a javascript:
    one, a data: one and none (the template fills in)."""
    cfg, frame, info, app = team
    info = info.copy()
    info["contact"] = [f"Person {i}, +1 555 {1000 + i}" for i in range(len(info))]
    info["crm_url"] = ""
    info.loc[0, "crm_url"] = "https://crm.example.com/a/1"
    info.loc[1, "crm_url"] = "javascript:alert(document.cookie)"
    info.loc[2, "crm_url"] = "data:text/html,<script>alert(1)</script>"
    info.loc[3, ["name", "contact"]] = [HOSTILE["name"], HOSTILE["contact"]]
    info.to_csv(cfg.client_info_file, index=False)
    return cfg, frame, info, app


def test_name_contact_and_crm_link_show_on_the_list_and_the_client_page(who):
    cfg, frame, info, app = who
    olga = signed_in(app, "olga")
    c = info["corporation"].iloc[0]
    listing = olga.get(f"/?view=all&who=all&q={c}").text
    assert "Company 0" in listing and "Person 0, +1 555 1000" in listing
    assert 'href="https://crm.example.com/a/1"' in listing
    client = olga.get(f"/client/{c}").text
    assert 'id="contact">Person 0, +1 555 1000<' in client
    assert re.search(r'<a href="https://crm.example.com/a/1" id="crm"', client)


def test_only_http_crm_links_are_linked_and_a_template_fills_the_others(who, monkeypatch):
    cfg, frame, info, app = who
    olga = signed_in(app, "olga")
    for bad in info["corporation"].iloc[1:3]:
        text = olga.get(f"/client/{bad}").text
        assert 'id="crm"' not in text and "javascript:" not in text and "data:text" not in text
    from test_team import with_keys
    cfg = with_keys(cfg, crm_link_template="https://crm.example.com/find?id={corporation}")
    from risk.serving import app as risk_api
    olga = signed_in(risk_api.create_app(cfg.path), "olga")
    bad = info["corporation"].iloc[1]
    assert f'href="https://crm.example.com/find?id={bad}" id="crm"' in olga.get(f"/client/{bad}").text
    assert 'href="https://crm.example.com/a/1" id="crm"' in olga.get(f"/client/{info['corporation'].iloc[0]}").text


def test_a_crm_link_template_quotes_the_id_and_must_be_http(cfg):
    from risk import config
    from risk.serving import ids
    assert ids.crm_links(["a b/c?d"], [""], "https://crm.example.com/x/{corporation}") == [
        "https://crm.example.com/x/a%20b%2Fc%3Fd"]
    assert ids.crm_links(["a"], ["JavaScript:alert(1)"], "") == [""]
    assert ids.crm_links(["a"], ["https://ok.example.com/\nx"], "") == [""]
    from test_team import with_keys
    with pytest.raises(config.ConfigError, match="crm_link_template"):
        with_keys(cfg, crm_link_template="javascript:{corporation}")


def test_names_and_contacts_are_escaped_on_the_page_and_neutralised_in_the_csv(who):
    cfg, frame, info, app = who
    olga = signed_in(app, "olga")
    c = info["corporation"].iloc[3]
    for text in (olga.get(f"/?view=all&who=all&q={c}").text, olga.get(f"/client/{c}").text):
        assert "<script>alert" not in text
        assert "&lt;script&gt;alert(&#34;n&#34;)&lt;/script&gt;" in text
    body = olga.get(f"/calllist.csv?view=all&who=all&q={c}").text
    got = pd.read_csv(io.StringIO(body), dtype=str, keep_default_na=False).set_index("corporation")
    assert got.loc[c, "contact"] == "'" + HOSTILE["contact"]
    assert got.loc[c, "name"] == HOSTILE["name"]
    everyone = pd.read_csv(io.StringIO(olga.get("/calllist.csv?view=all&who=all").text), dtype=str,
                           keep_default_na=False).set_index("corporation")
    assert everyone.loc[info["corporation"].iloc[0], "crm_link"] == "https://crm.example.com/a/1"
    assert everyone.loc[info["corporation"].iloc[1], "crm_link"] == ""


# --- the client's own figures over time --------------------------------------------------------

def later_extract(cfg, frame: pd.DataFrame, clients: int = 5) -> pd.DataFrame:
    """A third extract, c.csv, holding the first `clients` of the list again with lower activity
    and more employees (no outcomes yet); the records written again as ingestion does."""
    from risk.data import contract, ingestion
    again = frame.head(clients)[["corporation", *contract.FEATURES]].copy()
    again["lastmonth_activity"] = (again["lastmonth_activity"].astype("float64") // 2).astype("Int64")
    again["number_of_employees"] = again["number_of_employees"].astype("Int64") + 3
    again[contract.TARGET] = pd.array([pd.NA] * clients, dtype="Int64")
    (cfg.input_folder_path / "c.csv").write_bytes(contract.write_csv(again))
    ingestion.write_records(cfg)
    return again


def test_records_name_the_extract_of_each_row(team):  # noqa: F811
    from risk import artifacts
    from risk.data import contract
    cfg, frame, _, _ = team
    later_extract(cfg, frame)
    described = artifacts.read_json(cfg.records_path.with_name(artifacts.RECORDS_EXTRACTS_FILE))
    records = contract.read_csv(cfg.records_path, require_target=False)
    assert [e["name"] for e in described["extracts"]] == ["a.csv", "b.csv", "c.csv"]
    assert sum(e["rows"] for e in described["extracts"]) == described["rows"] == len(records)
    assert described["extracts"][2]["rows"] == 5


def test_client_page_shows_its_figures_in_each_extract_it_appears_in(team):  # noqa: F811
    cfg, frame, _, app = team
    again = later_extract(cfg, frame)
    olga = signed_in(app, "olga")
    c = again["corporation"].iloc[0]
    text = olga.get(f"/client/{c}").text
    table = text.split('id="figures-over-time"')[1].split("</table>")[0]
    extracts = re.findall(r'<td class="file">([^<]*)</td>', table)
    assert extracts[-1] == "c.csv" and extracts[0] in ("a.csv", "b.csv") and len(extracts) == 2
    before = int(frame.loc[frame["corporation"] == c, "lastmonth_activity"].iloc[0])
    now = int(again["lastmonth_activity"].iloc[0])
    assert f"{now:,}" in table and f"▼ {before - now:,}" in table
    assert "not known yet" in table and "stayed" in table
    assert 'id="figures-chart"' in text and text.count('class="line series-') >= 2


def test_a_client_in_one_extract_has_a_row_and_no_chart(team):  # noqa: F811
    cfg, frame, _, app = team
    c = frame["corporation"].iloc[-1]
    text = signed_in(app, "olga").get(f"/client/{c}").text
    assert len(re.findall(r'<td class="file">', text.split('id="figures-over-time"')[1].split("</table>")[0])) == 1
    assert 'id="figures-chart"' not in text


def test_records_written_before_their_extract_names_are_numbered(team):  # noqa: F811
    from risk import artifacts
    cfg, frame, _, app = team
    again = later_extract(cfg, frame)
    cfg.records_path.with_name(artifacts.RECORDS_EXTRACTS_FILE).unlink()
    text = signed_in(app, "olga").get(f"/client/{again['corporation'].iloc[0]}").text
    assert re.findall(r'<td class="file">([^<]*)</td>', text) == ["extract 1", "extract 2"]
