import io
import json
import socket

import pandas as pd
import pypdf
import pytest
from conftest import client_csv, run_script

from risk import artifacts, config, history
from risk.data import contract, ingestion
from risk.loop import deployment
from risk.model import scoring, training
from risk.reports import depcheck, diagnostics, report_facts, report_managers, reporting

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
def offline(monkeypatch):
    """Point the dependency check at a local port nobody listens on: no network needed."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv(depcheck.INDEX_URL_ENV, f"http://127.0.0.1:{s.getsockname()[1]}/pypi")
        yield


def pdf_pages(path):
    """Each page's text, with runs of whitespace (wrapped lines) as one space."""
    reader = pypdf.PdfReader(path)
    return [" ".join(page.extract_text().split()) for page in reader.pages]


class AlwaysExits:
    """A model that predicts every client leaves: any object with `predict` will do."""

    def predict(self, x):
        return [1] * len(x)


# --- confusion matrix ----------------------------------------------------------

def test_confusion_counts_match_an_independent_cross_tabulation(deployed_cfg):
    model, _ = artifacts.load_deployed_model(deployed_cfg.prod_deployment_path)
    test = contract.read_csv(deployed_cfg.test_data_file)
    predicted = model.predict(contract.feature_matrix(test))
    table = pd.crosstab(test["exited"], predicted).reindex(index=[0, 1], columns=[0, 1], fill_value=0)

    counts = report_facts.confusion_counts(model, test)

    assert counts.tolist() == table.to_numpy().tolist()


def test_confusion_matrix_of_any_model_and_data_is_a_png(tmp_path, make_config):
    data = contract.read_csv(config.load(make_config()).test_data_file)
    path = reporting.plot_confusion_matrix(AlwaysExits(), data, tmp_path / "cm" / "always.png")

    assert path.read_bytes().startswith(PNG_SIGNATURE)
    counts = report_facts.confusion_counts(AlwaysExits(), data)
    assert counts[:, 0].tolist() == [0, 0]  # nothing predicted to stay
    assert counts[:, 1].tolist() == [int((data.exited == 0).sum()), int((data.exited == 1).sum())]


def test_another_model_on_other_data_can_be_plotted(tmp_path):
    frame = contract.validate(pd.read_csv(io.BytesIO(client_csv(300, seed=11))), "generated")
    model = training.train_model(frame)
    path = reporting.plot_confusion_matrix(model, frame, tmp_path / "other.png", title="other pair")
    assert path.read_bytes().startswith(PNG_SIGNATURE)


def test_score_model_writes_the_course_confusion_matrix(deployed_cfg):
    path = reporting.score_model(config_path=deployed_cfg.path)
    assert path == deployed_cfg.output_model_path / "confusionmatrix.png"
    assert path.read_bytes().startswith(PNG_SIGNATURE)


# --- the report ------------------------------------------------------------------

def test_make_report_writes_the_png_and_a_report_managers_first(deployed_cfg):
    result = reporting.make_report(deployed_cfg)
    out = deployed_cfg.output_model_path

    assert set(result) == {"confusion matrix", "report", "kept report"}
    assert result["confusion matrix"] == out / "confusionmatrix.png"
    assert result["confusion matrix"].read_bytes().startswith(PNG_SIGNATURE)
    assert result["report"] == out / "report.pdf"
    kept = result["kept report"]
    assert kept.parent == out and kept.name.startswith("report_") and kept.suffix == ".pdf"
    assert result["report"].read_bytes() == kept.read_bytes()

    pages = pdf_pages(result["report"])
    assert len(pages) == reporting.PAGES == 9
    # The call list was published for the report, since none was.
    ranking, summary = scoring.read_call_list(deployed_cfg)
    assert "who to call first" in pages[0]
    assert f"{summary['clients']:,} current clients ranked" in pages[0]
    # The last page: whether a shown risk is what happens, and the list's own measure.
    measure = summary["list_measure"]
    assert "Are the risks honest?" in pages[-1]
    assert f"{measure['exits_in_top']} of the top {measure['k']} left" in pages[-1]
    last = " ".join(pages[-1].split())
    assert f"calibration error (the mean distance from the diagonal) {measure['calibration_error']:.3f}" in last
    q = summary["quality"]
    # F1 on the test data: the operator's figure, in the appendix with the test data's date, not page 1.
    assert f"F1 {q['f1']:.3f} (the course's figure, latestscore.txt)" in last and "Test data: " in last
    first = " ".join(pages[0].split())
    assert "F1" not in first
    # The headline: the list's measure (here on the test data: the model learnt from every extract).
    head = summary["fresh_measure"]
    assert not head["fresh"] and (f"{head['exits_in_top']} of the model's top {head['k']} left" in first)
    assert f"On the {head['rows']:,} test clients of testdata.csv (dated" in first
    for client in ranking["corporation"].head(report_managers.TOP):
        assert client in pages[1]
    assert ranking["reasons"].iloc[0].split(";")[0][:30] in pages[1]
    assert "per extract" in pages[2] and "Quality of each deployed model" in pages[2]
    assert "How the model did on the test clients" in pages[3] and "right" in pages[3]
    assert "Appendix A" in pages[4] and "lastmonth_activity" in pages[4]
    assert "No diagnostics recorded yet" in pages[4]  # diagnostics.py has not run here
    assert "Appendix B" in pages[5]
    assert "No drift check recorded yet" in pages[6]
    # Nothing recorded by the retraining loop: no managers' section, the appendix says so.
    assert "held back" not in " ".join(pages[:4]) and "model decision" not in pages[3]
    assert "Appendix D" in pages[7] and "No decision recorded yet" in pages[7]
    assert "No extract quarantined yet" in pages[7]


def record_loop(cfg) -> None:
    """What loop.py records: a quarantine with a hostile name, one released, decisions, estimates."""
    history.record(cfg.history_path, "quarantine", [
        {"name": "units $x$ <b>.csv", "sha256": "a" * 64, "action": "quarantined",
         "reason": "'lastmonth_activity' scale jumped x1e+03 (median 212000, training 212): another unit?"},
        {"name": "fine.csv", "sha256": "b" * 64, "action": "quarantined", "reason": "missing-value surge"},
        {"name": "fine.csv", "sha256": "b" * 64, "action": "released", "reason": "released by the operator"},
    ])
    decision = {"rule": "challenger", "champion_version": 1, "change_found": 0,
                "base_rate": json.dumps({"observed": 120, "expected": 98.5}),
                "window": json.dumps(["a.csv", "b.csv", "c.csv"]), "new_files": json.dumps(["c.csv"])}
    history.record(cfg.history_path, "challenger_decisions", [
        {**decision, "decision": "wait", "reason": "212 held-out rows < min_labelled_rows 500", "rows": 0},
        {**decision, "decision": "keep", "reason": "challenger not significantly better: F1 0.5120 vs 0.4980",
         "champion_f1": 0.498, "challenger_f1": 0.512, "gain": 0.014, "p_value": 0.2137, "rows": 1500},
    ])
    history.record(cfg.history_path, "estimates", [
        {"name": "d.csv", "sha256": "d" * 64, "kind": "estimate", "model_version": 1, "rows": 3000,
         "f1": 0.512, "precision_at_n": 0.61, "top_n": 100}])


def test_report_shows_extracts_held_back_and_the_latest_decision_to_managers(deployed_cfg):
    record_loop(deployed_cfg)
    pages = pdf_pages(reporting.make_report(deployed_cfg)["report"])
    assert len(pages) == 9
    managers = pages[3]
    assert "Data held back and model decisions" in managers
    assert "1 extract held back by the quality gate" in managers
    assert "units $x$ <b>.csv" in managers  # drawn as it is, not as math
    assert "scale jumped x1e+03 (median 212000, training 212): another unit?" in managers
    assert "fullprocess.py --release-quarantined NAME" in managers
    assert "fine.csv" not in managers  # released
    assert "Kept v0001: a model retrained on the recent extracts was not clearly better " \
           "on 1,500 recent clients held out of its training." in managers
    assert "d.csv has no outcomes yet: on its 3,000 clients the model's F1 is estimated at 0.51" in managers
    assert "not a change in who leaves" in managers
    # The engineers' detail: the decision table with its p-value, the window, the gate's log.
    appendix = pages[7]
    assert "keep v0001 0.498 0.512 +0.014 0.2137 1,500 no" in appendix
    assert "wait v0001" in appendix
    assert "Training window: a.csv … c.csv (3 extracts)" in appendix
    assert "released fine.csv" in appendix and "quarantined units $x$ <b>.csv" in appendix
    assert "d.csv" in appendix and "0.512" in appendix


@pytest.mark.parametrize("decision, expected", [
    ({"decision": "deploy", "rule": "challenger", "deployed_version": 2, "champion_f1": 0.35,
      "challenger_f1": 0.59, "rows": 1200},
     "Deployed v0002 in place of v0001: the model retrained on the recent extracts did clearly better "
     "on 1,200 recent clients held out of its training."),
    ({"decision": "deploy", "rule": "drift", "deployed_version": 2, "champion_f1": None,
      "challenger_f1": None, "rows": 0, "reason": "model drift (redeploy_rule drift)"},
     "Deployed v0002 in place of v0001: model drift (redeploy_rule drift)."),
    ({"decision": "keep", "rule": "challenger", "deployed_version": None, "champion_f1": None,
      "challenger_f1": None, "rows": 0, "reason": "no new labelled rows accepted"},
     "Kept v0001: no new labelled rows accepted."),
    ({"decision": "wait", "rule": "challenger", "deployed_version": None, "champion_f1": None,
      "challenger_f1": None, "rows": 0, "reason": "212 < 500"},
     "Kept v0001, no comparison yet: too few recent clients with known outcomes to compare it fairly "
     "with a retrained model; their outcomes accumulate."),
])
def test_decision_words_say_what_was_done_and_why(decision, expected):
    assert report_facts.decision_words({"champion_version": 1, "reason": "", **decision}) == expected


def test_report_shows_the_latest_drift_check(deployed_cfg):
    shifts = {"lastmonth_activity": {"psi": 0.31, "ks_statistic": 0.2, "ks_p_value": 1e-9, "shifted": True}}
    history.record(deployed_cfg.history_path, "drift_checks", [
        {"test": "bootstrap", "drift": 0, "new_f1": 0.55, "reference_f1": 0.53, "p_value": 0.6,
         "rows": 500, "model_version": 1, "files": json.dumps(["old.csv"]), "data_drift": "{}"},
        {"test": "bootstrap", "drift": 1, "new_f1": 0.27, "reference_f1": 0.53, "p_value": 0.0,
         "rows": 2000, "model_version": 1, "files": json.dumps(["new.csv"]), "data_drift": json.dumps(shifts)},
    ])
    pages = pdf_pages(reporting.make_report(deployed_cfg)["report"])
    assert "Latest check: model drift found" in pages[6]
    assert "new.csv" in pages[6] and "F1 0.270 on the 2,000 new rows against 0.530" in pages[6]
    assert "lastmonth_activity 0.310 0.200 1e-09 yes" in pages[6]


def test_the_report_shows_changes_and_who_left_since_the_previous_list(deployed_cfg):
    first = scoring.publish_call_list(deployed_cfg)
    data = contract.read_csv(deployed_cfg.finaldata_path)
    gone = first.ranking["corporation"].iloc[3]
    # The call list reads the records (every accepted extract), beside finaldata.csv.
    artifacts.write_atomic(deployed_cfg.records_path,
                           contract.write_csv(data[data["corporation"] != gone]))
    scoring.publish_call_list(deployed_cfg)
    pages = pdf_pages(reporting.make_report(deployed_cfg)["report"])
    assert "1 left the list" in pages[0]
    assert f"Left since the previous list: {gone}." in pages[0]


def test_a_call_list_of_another_model_is_republished_for_the_report(deployed_cfg):
    scoring.publish_call_list(deployed_cfg)
    path = scoring.call_list_path(deployed_cfg)
    stale = {**json.loads(path.read_text()), "model_sha256": "another"}
    path.write_text(json.dumps(stale))
    reporting.make_report(deployed_cfg)
    assert scoring.read_call_list(deployed_cfg)[1]["model_sha256"] != "another"


def test_attrition_per_extract_comes_from_the_ingested_blocks(deployed_cfg):
    data = contract.read_csv(deployed_cfg.finaldata_path)
    extracts = report_facts.extract_attrition(deployed_cfg, data)
    record = artifacts.read_json(deployed_cfg.ingestion_record_path)
    assert [e["file"] for e in extracts] == [f["name"] for f in record["files"]]
    first = record["files"][0]["rows_kept"]
    assert extracts[0]["attrition"] == pytest.approx(data["exited"].iloc[:first].mean())
    assert extracts[1]["attrition"] == pytest.approx(data["exited"].iloc[first:].mean())
    # A finaldata.csv the record does not describe: no trend rather than a wrong one.
    assert report_facts.extract_attrition(deployed_cfg, data.iloc[:-1]) == []


def test_an_earlier_report_is_kept_beside_the_latest(deployed_cfg):
    first = reporting.make_report(deployed_cfg)
    second = reporting.make_report(deployed_cfg)

    assert first["kept report"] != second["kept report"]
    assert first["kept report"].is_file() and second["kept report"].is_file()
    assert second["report"].read_bytes() == second["kept report"].read_bytes()
    kept = sorted(p.name for p in deployed_cfg.output_model_path.glob("report_*.pdf"))
    assert len(kept) == 2


@pytest.mark.slow
def test_script_reports_recorded_diagnostics_and_trends_from_another_folder(deployed_cfg, offline, tmp_path):
    diagnostics.run_all(deployed_cfg)
    # A second deployment, so F1 has a trend (on new data: an identical model is not redeployed).
    (deployed_cfg.input_folder_path / "c.csv").write_bytes(client_csv(300, seed=7))
    ingestion.ingest(deployed_cfg)
    training.train(deployed_cfg)
    scoring.score(deployed_cfg)
    deployment.deploy(deployed_cfg)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()

    run = run_script("reporting.py", "--config", str(deployed_cfg.path), cwd=elsewhere)

    assert run.returncode == 0, run.stderr
    out = deployed_cfg.output_model_path
    for name in ("confusionmatrix.png", "report.pdf"):
        assert str(out / name) in run.stdout
        assert (out / name).is_file()
    kept = list(out.glob("report_*.pdf"))
    assert len(kept) == 1 and f"kept report -> {kept[0]}" in run.stdout
    assert list(elsewhere.iterdir()) == []  # nothing written to the working directory
    pages = pdf_pages(out / "report.pdf")
    assert len(pages) == 9
    assert "by model v0002" in pages[0]
    assert "Step timings" in pages[4] and "Training (training.py)" in pages[4]
    assert "numpy" in pages[4] and "unknown" in pages[4]
    # The live model's label always shows (an older one only where it has room).
    assert "v2" in pages[2]
    assert "nothing recorded yet" not in pages[2]


@pytest.mark.slow
def test_script_with_nothing_deployed_fails_with_one_line(cfg):
    ingestion.ingest(cfg)
    run = run_script("reporting.py", "--config", str(cfg.path))
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        f"ERROR pipeline: {cfg.prod_deployment_path}: no model deployed yet (run deployment.py)"
    ]
    assert not (cfg.output_model_path / "report.pdf").exists()
