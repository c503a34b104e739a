"""The page's and the report's headline after a drifted extract: the list's measure on the freshest
labelled clients, the figure the loop's challenger was judged by, not F1 on an older law's test data."""
import re

import numpy as np
import pytest
from conftest import client_csv

import fullprocess
import generate_data
from risk import artifacts, config, history
from risk.data import contract
from risk.model import moves, reasons, scoring, training
from risk.serving import app as risk_api
from test_page import browser  # noqa: F401 (the module's Chromium)


@pytest.fixture
def drifted(make_config, monkeypatch):
    """Bootstrapped on 3,000 base-law clients; then a drifted extract redeploys the challenger."""
    monkeypatch.setattr(fullprocess, "report", lambda cfg, run: None)
    monkeypatch.delenv(risk_api.TOKEN_ENV, raising=False)
    path = make_config(inputs={"a.csv": client_csv(1500, seed=1), "b.csv": client_csv(1500, seed=2)},
                       test=client_csv(2000, seed=3), extra={"min_labelled_rows": 200, "call_holdout_share": 0})
    cfg = config.load(path)
    fullprocess.recorded_run(cfg, False, fullprocess.Run())
    first = scoring.publish_call_list(cfg)
    generate_data.extract(cfg.input_folder_path / "c.csv", 3000, "drifted", 9)
    fullprocess.recorded_run(cfg, False, fullprocess.Run())
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 2
    return cfg, first, scoring.publish_call_list(cfg)


def test_after_a_drifted_extract_the_headline_is_the_measure_the_challenger_won_by(drifted):
    cfg, first, second = drifted
    decision = history.rows(cfg.history_path, "challenger_decisions")[-1]
    won = re.search(r"by exits in the top (\d+) on (\d+) held-out rows: ([\d.]+) vs ([\d.]+)", decision["reason"])
    k, rows, new, old = int(won[1]), int(won[2]), float(won[3]), float(won[4])
    m = second.summary["fresh_measure"]
    assert (m["data"], m["fresh"], m["held_out"], m["rows"], m["k"]) == ("c.csv", True, True, rows, k)
    assert m["exits_in_top"] == round(new * k)
    # The test data are of the old law: there the better model looks worse (the case this fixes).
    assert second.summary["quality"]["f1"] < first.summary["quality"]["f1"]

    text = risk_api.create_app(cfg.path).test_client().get("/").text
    header = text.split("<main>")[0]
    assert (f"On the {rows:,} clients of c.csv (arrived " in header
            and f"{round(new * k)} of the model&#39;s top {k} left" in header)
    # Only the operator's drift line speaks of F1 (on the new rows), none of the test data.
    assert "F1" not in re.sub(r'<p class="drift[^"]*">[^<]*</p>', "", header) and "test clients" not in header
    compared = second.summary["model_change"]["compared"]
    assert (compared["new"], compared["old"], compared["rows"]) == (round(new * k), round(old * k), rows)
    banner = text[text.index('id="model-change"'):]
    banner = banner[:banner.index("</p>")]
    assert (f"{compared['new']} of the new model&#39;s top {k} left, against {compared['old']} of the old "
            f"model&#39;s top {k}." in banner)
    assert "p(gain" not in banner and "p(gain" not in text  # the technical reason is for /operator
    assert "p(gain" in risk_api.create_app(cfg.path).test_client().get("/operator").text
    client = second.ranking.iloc[0]  # a small client the new law puts first
    page = risk_api.create_app(cfg.path).test_client().get(f"/client/{client['corporation']}").text
    assert (f"On the previous list: rank {client['previous_rank']:,}" in page
            and "Why this client moved: mostly its account size" in page
            and "which the new model counts as a bigger risk than the old one did" in page)
    assert "came up mostly through their account size" in second.summary["model_change"]["cause"]


def _course_models():
    """Two fitted course models, the second weighing the number of employees four times as much."""
    frame = generate_data.clients(np.random.default_rng(5), 3000)
    old = training.train_model(frame, kind="course")
    new = training.train_model(frame, kind="course")
    j = contract.FEATURES.index("number_of_employees")
    new.named_steps["classify"].coef_[0, j] *= 4
    return old, new


def test_a_clients_move_is_put_on_the_factor_whose_contribution_changed_most():
    old, new = _course_models()
    x = np.array([[50.0, 600.0, 1.0], [50.0, 600.0, 9000.0], [np.nan, 600.0, 2500.0]])
    e = moves.explain(old, new, x)
    size = reasons.FACTORS.index("account size")
    assert e.factor.tolist() == [size, size, size]
    parts_old, parts_new = reasons.parts_of(old), reasons.parts_of(new)
    shift = (reasons.factor_contributions(parts_new, x) - reasons.factor_contributions(parts_old, x))[:, size]
    assert e.shift.tolist() == pytest.approx(shift.tolist())
    texts = moves.cause_texts(new, x, e, np.array([True, False, True]))
    direction = {True: moves.MORE, False: moves.LESS}
    for text, s, fig in zip(texts, e.shift, ["1 employee", "9,000 employees", "2,500 employees"]):
        if abs(s) < reasons.MIN_CONTRIBUTION:
            assert text.startswith("no figure of this client counts much differently")
        else:
            assert text == (f"mostly its account size ({fig}), which the new model counts as "
                            f"{direction[bool(s > 0)]} than the old one did")


def test_no_common_cause_is_claimed_unless_most_new_clients_share_it():
    e = moves.Explained(np.array([0, 0, 1, 1]), np.array([0.5, 0.5, -0.5, 0.5]))
    assert moves.common_cause(e, np.array([True, True, True, True]), 100) == ""  # 2 of 4: not most
    assert moves.common_cause(e, np.array([True, True, True, False]), 100) == (
        "2 of the 3 clients new to the top 100 came up mostly through their activity, which the new model "
        "counts as a bigger risk than the old one did.")
    assert moves.explain(old=object(), new=object(), x=np.zeros((2, 3))) is None  # no exact reasons: no cause


def test_after_a_drifted_extract_the_reports_first_page_leads_with_the_fresh_measure(drifted, tmp_path):
    from test_reporting import pdf_pages

    from risk.reports import reporting
    cfg, _, second = drifted
    pages = [" ".join(p.split()) for p in pdf_pages(reporting.make_report(cfg)["report"])]
    m, change = second.summary["fresh_measure"], second.summary["model_change"]
    assert (f"On the {m['rows']:,} clients of c.csv (arrived" in pages[0]
            and f"{m['exits_in_top']} of the model's top {m['k']} left" in pages[0])
    assert change["compared_words"] in pages[0] and "F1" not in pages[0]
    assert f"F1 {second.summary['quality']['f1']:.3f} (the course's figure" in pages[-1]
    (tmp_path / "report.pdf").write_bytes((cfg.output_model_path / "report.pdf").read_bytes())


@pytest.mark.slow  # a real Chromium
def test_browser_operator_page_draws_the_reliability_chart_on_fresh_labels(drifted, browser, tmp_path):  # noqa: F811 (the fixture)
    from test_page import serve

    cfg, _, second = drifted
    fresh_points = second.summary["fresh_measure"]["reliability"]
    url, stop = serve(risk_api.create_app(cfg.path))
    tab = browser.new_page(viewport={"width": 1366, "height": 900})
    errors = []
    tab.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    try:
        tab.goto(url + "/operator")
        chart = tab.locator("#reliability-chart svg")
        assert chart.is_visible()
        # One dot per tenth and series (fresh rows, test data) and one per legend entry.
        assert chart.locator("circle.dot.series0").count() == len(fresh_points) + 1
        assert chart.locator("circle.dot.series1").count() == len(second.summary["list_measure"]["reliability"]) + 1
        first_tip = chart.locator("circle.dot.series0 title").first.text_content()
        assert first_tip.startswith("fresh: c.csv: shown ") and f"of {fresh_points[0]['rows']:,} clients" in first_tip
        assert tab.locator("#fresh-ece").inner_text() == f"{second.summary['fresh_measure']['calibration_error']:.3f}"
        table = tab.locator("#deployment-measures tbody tr").all_inner_texts()
        assert [row.split("\t")[0] for row in table] == ["v0002", "v0001"]  # each deployment, newest first
        assert "c.csv (arrived" in table[0]
        tab.locator("#model").scroll_into_view_if_needed()
        tab.screenshot(path=str(tmp_path / "operator.png"), full_page=True)
        assert errors == []
    finally:
        tab.close()
        stop()


def test_rows_a_recalibration_was_fitted_on_are_marked_as_such():
    from risk.model import fresh

    recalibrated = {"recalibrated": {"at": "2026-12-06T05:00:00+00:00"}}
    assert fresh.recalibrated_on([{}, recalibrated], "2026-12-06T04:59:00+00:00")
    assert not fresh.recalibrated_on([{}, recalibrated], "2026-12-06T05:10:00+00:00")  # arrived after it
    assert not fresh.recalibrated_on([{}], "2026-12-06T04:59:00+00:00")
