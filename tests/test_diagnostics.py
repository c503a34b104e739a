import csv
import json
import math
import socket
import statistics
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, run_script

from risk import artifacts, config, history
from risk.data import contract, ingestion
from risk.reports import depcheck, diagnostics

HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"


@pytest.fixture
def closed_index(monkeypatch):
    """An index URL on a local port nobody listens on: every request is refused, as offline."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))  # bound, never listening: connections are refused
        url = f"http://127.0.0.1:{s.getsockname()[1]}/pypi"
        monkeypatch.setenv(depcheck.INDEX_URL_ENV, url)
        yield url


def sha(path):
    return artifacts.sha256_file(path)


# --- predictions -------------------------------------------------------------

def test_predictions_have_one_value_per_row_in_input_order(deployed_cfg):
    frame = contract.read_csv(deployed_cfg.test_data_file)
    shuffled = frame.sample(frac=1, random_state=7)

    preds = diagnostics.model_predictions(frame, config_path=deployed_cfg.path)
    probs = diagnostics.model_probabilities(frame, config_path=deployed_cfg.path)
    preds_shuffled = diagnostics.model_predictions(shuffled, config_path=deployed_cfg.path)
    probs_shuffled = diagnostics.model_probabilities(shuffled, config_path=deployed_cfg.path)

    assert len(preds) == len(probs) == len(frame)
    assert set(preds) == {0, 1}  # both classes occur, so order matters
    assert preds_shuffled == [preds[i] for i in shuffled.index]
    assert probs_shuffled == [probs[i] for i in shuffled.index]
    assert all(0 <= p <= 1 for p in probs)


def test_predictions_read_a_csv_relative_to_the_config_folder(deployed_cfg):
    by_path = diagnostics.model_predictions("test/testdata.csv", config_path=deployed_cfg.path)
    default = diagnostics.model_predictions(config_path=deployed_cfg.path)
    assert by_path == default
    assert len(by_path) == len(contract.read_csv(deployed_cfg.test_data_file))


def test_rows_with_missing_features_are_still_predicted(deployed_cfg):
    frame = pd.DataFrame({
        "corporation": ["a", "b", "c", "d"],
        "lastmonth_activity": [10, None, 50, None],
        "lastyear_activity": [1000, 900, None, None],
        "number_of_employees": [None, 20, 30, None],
    })
    probs = diagnostics.model_probabilities(frame, config_path=deployed_cfg.path)
    assert len(probs) == 4
    assert all(math.isfinite(p) for p in probs)


def test_falling_activity_raises_the_predicted_risk(deployed_cfg):
    frame = pd.DataFrame({
        "lastmonth_activity": [100, 60, 20, 5],  # same yearly activity, fading month
        "lastyear_activity": [1200] * 4,
        "number_of_employees": [40] * 4,
    })
    probs = diagnostics.model_probabilities(frame, config_path=deployed_cfg.path)
    assert probs == sorted(probs)
    assert probs[-1] > probs[0]


def test_a_frame_missing_a_feature_column_is_a_clear_error(deployed_cfg):
    frame = pd.DataFrame({"lastmonth_activity": [1], "lastyear_activity": [2]})
    with pytest.raises(contract.DataError, match="missing feature column.*'number_of_employees'"):
        diagnostics.model_predictions(frame, config_path=deployed_cfg.path)


def test_a_frame_with_text_in_a_feature_column_is_a_clear_error(deployed_cfg):
    frame = pd.DataFrame({"lastmonth_activity": [1, "lots"], "lastyear_activity": [2, 3],
                          "number_of_employees": [4, 5]})
    with pytest.raises(contract.DataError,
                       match="'lastmonth_activity' has non-numeric value 'lots' in row 1"):
        diagnostics.model_predictions(frame, config_path=deployed_cfg.path)


def test_predictions_need_a_deployed_model(cfg):
    with pytest.raises(artifacts.ArtifactError, match="no model deployed yet"):
        diagnostics.model_predictions(config_path=cfg.path)


# --- statistics ----------------------------------------------------------------

def test_summary_statistics_match_an_independent_computation(cfg):
    ingestion.ingest(cfg)
    with open(cfg.finaldata_path, newline="") as f:
        records = list(csv.DictReader(f))
    expected = {}
    for col in (*contract.FEATURES, contract.TARGET):
        values = [float(r[col]) for r in records if r[col] != ""]
        expected[col] = {"mean": statistics.fmean(values), "median": statistics.median(values),
                         "std": statistics.stdev(values)}

    got = diagnostics.dataframe_summary(config_path=cfg.path)

    assert set(got) == set(expected)  # every numeric column, never the id
    for col, stats in expected.items():
        for name, value in stats.items():
            assert got[col][name] == pytest.approx(value, rel=1e-12), (col, name)


def test_missing_data_gives_the_percent_of_gaps_per_column(make_config):
    rows = ("a,1,100,10,0\n" "b,,200,,1\n" "c,3,300,,0\n" "d,4,400,40,1\n")
    cfg = config.load(make_config(inputs={"gaps.csv": HEADER + rows}))
    ingestion.ingest(cfg)

    assert diagnostics.missing_data(config_path=cfg.path) == {
        "corporation": 0.0, "lastmonth_activity": 25.0, "lastyear_activity": 0.0,
        "number_of_employees": 50.0, "exited": 0.0,
    }


def test_missing_percent_of_a_frame_counts_none_and_nan():
    frame = pd.DataFrame({"x": [1.0, np.nan, 3.0, np.nan, 5.0], "y": ["a", None, "c", "d", "e"],
                          "z": [1, 2, 3, 4, 5]})
    assert diagnostics.missing_percent(frame) == {"x": 40.0, "y": 20.0, "z": 0.0}


# --- timing --------------------------------------------------------------------

@pytest.mark.slow
def test_timing_leaves_the_live_outputs_byte_identical(deployed_cfg):
    c = deployed_cfg
    live = [c.finaldata_path, c.ingestedfiles_path, c.ingestion_record_path,
            c.model_path, artifacts.sidecar_path(c.model_path), c.score_path]
    before = {p: p.read_bytes() for p in live}
    runs_before = {t: len(history.rows(deployed_cfg.history_path, t)) for t in ("ingestions", "trainings")}

    timings = diagnostics.execution_time(config_path=deployed_cfg.path)

    assert set(timings) == {"ingestion_s", "training_s"}
    assert all(v > 0 for v in timings.values())
    assert {p: p.read_bytes() for p in live} == before
    assert {t: len(history.rows(deployed_cfg.history_path, t)) for t in runs_before} == runs_before


def test_scratch_config_points_every_output_into_the_scratch_folder(cfg, tmp_path):
    scratch = tmp_path / "scratch"
    scratch.mkdir()
    copy = config.load(diagnostics.scratch_config(cfg, scratch))
    for key in ("output_folder_path", "output_model_path", "prod_deployment_path", "history_path", "log_folder"):
        assert scratch in getattr(copy, key).parents, key
    assert copy.input_folder_path == cfg.input_folder_path
    assert copy.test_data_path == cfg.test_data_path
    assert copy.model_params == cfg.model_params


@pytest.mark.slow
def test_timing_a_failing_step_names_the_script_and_its_error(make_config):
    cfg = config.load(make_config(inputs={"bad.csv": "corporation,exited\nabcd,0\n"}))
    with pytest.raises(diagnostics.DiagnosticsError,
                       match=r"timing ingestion.py failed \(exit 1\):.*no valid CSV"):
        diagnostics.step_timings(cfg)


# --- all of them, recorded -----------------------------------------------------

def test_run_all_records_the_run_and_latest_diagnostics_returns_it(deployed_cfg, closed_index):
    assert diagnostics.latest_diagnostics(deployed_cfg) is None
    finaldata = sha(deployed_cfg.finaldata_path)

    result = diagnostics.run_all(deployed_cfg)

    assert {"run_at", "summary_statistics", "missing_data", "execution_time", "dependencies",
            "predictions", "model_version"} <= set(result)
    assert json.loads(json.dumps(result, allow_nan=False)) == result
    assert diagnostics.latest_diagnostics(deployed_cfg) == result
    row = history.rows(deployed_cfg.history_path, "diagnostics")[-1]
    assert row["model_version"] == 1
    assert row["training_s"] == result["execution_time"]["training_s"]
    assert result["timing_source"] == "recorded"
    assert row["missing_percent"] == pytest.approx(np.mean(list(result["missing_data"].values())))
    assert row["unknown"] == len(result["dependencies"])
    assert result["predictions"]["rows"] == len(contract.read_csv(deployed_cfg.test_data_file))
    assert sha(deployed_cfg.finaldata_path) == finaldata

    text = diagnostics.summary(result)
    assert "deployed model v0001" in text
    assert "lastmonth_activity" in text and "training 0." in text and "unknown" in text


def test_latest_diagnostics_is_the_newest_payload(cfg):
    history.record(cfg.history_path, "diagnostics", [
        {"model_version": n, "model_sha256": "x", "data_sha256": "y", "rows": 1, "ingestion_s": 1.0,
         "training_s": 1.0, "outdated": 0, "unknown": 0, "payload": json.dumps({"n": n})}
        for n in (1, 2, 3)
    ])
    assert diagnostics.latest_diagnostics(cfg) == {"n": 3}


def test_statistics_of_a_one_row_dataset_are_made_valid_json(make_config):
    # One row has no standard deviation: NaN, which JSON can't hold.
    cfg = config.load(make_config(inputs={"one.csv": HEADER + "a,1,2,3,0\n"}))
    ingestion.ingest(cfg)
    stats = diagnostics.dataframe_summary(config_path=cfg.path)
    assert math.isnan(stats["lastmonth_activity"]["std"])
    assert artifacts.json_safe(stats)["lastmonth_activity"]["std"] is None


# --- the script ------------------------------------------------------------------

@pytest.mark.slow
def test_script_prints_a_summary_and_records_the_run_from_another_folder(
        deployed_cfg, closed_index, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    model = sha(deployed_cfg.model_path)

    run = run_script("diagnostics.py", "--config", str(deployed_cfg.path), cwd=elsewhere)

    assert run.returncode == 0, run.stderr
    assert "Diagnostics at" in run.stdout
    assert "number_of_employees" in run.stdout
    assert "Timing (as recorded" in run.stdout
    assert "numpy" in run.stdout and "unknown" in run.stdout
    assert len(history.rows(deployed_cfg.history_path, "diagnostics")) == 1
    assert sha(deployed_cfg.model_path) == model
    assert list(elsewhere.iterdir()) == []  # nothing written to the working directory


@pytest.mark.slow
def test_script_with_nothing_deployed_fails_with_one_line(cfg):
    ingestion.ingest(cfg)
    run = run_script("diagnostics.py", "--config", str(cfg.path))
    assert run.returncode == 1
    assert run.stdout == ""
    assert run.stderr.strip().splitlines() == [
        f"ERROR pipeline: {cfg.prod_deployment_path}: no model deployed yet (run deployment.py)"
    ]


@pytest.mark.slow
def test_script_rejects_a_bad_repeat_count(cfg):
    run = run_script("diagnostics.py", "--config", str(cfg.path), "--time-steps", "0")
    assert run.returncode == 2
    assert "--time-steps must be at least 1" in run.stderr


def test_timings_are_the_recorded_durations_not_new_runs(deployed_cfg, closed_index):
    training = history.rows(deployed_cfg.history_path, "trainings")[-1]["duration_s"]
    record = artifacts.read_json(deployed_cfg.ingestion_record_path)
    artifacts.write_json_atomic(deployed_cfg.ingestion_record_path, {**record, "duration_s": 0.25})
    runs = len(history.rows(deployed_cfg.history_path, "ingestions"))

    result = diagnostics.run_all(deployed_cfg)

    assert result["execution_time"] == {"ingestion_s": 0.25, "training_s": training}
    assert len(history.rows(deployed_cfg.history_path, "ingestions")) == runs  # nothing re-ran


def test_timings_not_recorded_are_none_not_invented(deployed_cfg, closed_index):
    record = artifacts.read_json(deployed_cfg.ingestion_record_path)
    del record["duration_s"]  # as written before ingestion recorded its duration
    artifacts.write_json_atomic(deployed_cfg.ingestion_record_path, record)
    result = diagnostics.run_all(deployed_cfg)
    assert result["execution_time"]["ingestion_s"] is None
    assert history.rows(deployed_cfg.history_path, "diagnostics")[-1]["ingestion_s"] is None
    assert "ingestion not recorded" in diagnostics.summary(result)


@pytest.mark.slow
def test_asking_for_step_timing_runs_the_scripts(deployed_cfg, closed_index):
    result = diagnostics.run_all(deployed_cfg, repeats=1)
    assert result["timing_source"] == "subprocess"
    assert all(v > 0 for v in result["execution_time"].values())


def test_the_package_index_is_asked_at_most_once_a_day_unless_fresh(deployed_cfg, closed_index, monkeypatch):
    first = diagnostics.run_all(deployed_cfg)
    asked = []
    monkeypatch.setattr(diagnostics, "dependency_status",
                        lambda *a, **k: asked.append(1) or first["dependencies"])
    again = diagnostics.run_all(deployed_cfg)
    assert asked == []
    assert again["dependencies_checked_at"] == first["dependencies_checked_at"]
    diagnostics.run_all(deployed_cfg, fresh_dependencies=True)
    assert asked == [1]


def test_an_older_history_with_not_null_timings_is_migrated(tmp_path):
    import sqlite3
    path = tmp_path / "runs.sqlite"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE diagnostics (id INTEGER PRIMARY KEY, run_at TEXT NOT NULL, "
                 "model_version INTEGER NOT NULL, model_sha256 TEXT NOT NULL, data_sha256 TEXT NOT NULL, "
                 "rows INTEGER NOT NULL, f1 REAL, missing_percent REAL, ingestion_s REAL NOT NULL, "
                 "training_s REAL NOT NULL, outdated INTEGER NOT NULL, unknown INTEGER NOT NULL, "
                 "payload TEXT NOT NULL)")
    conn.execute("INSERT INTO diagnostics VALUES (1, 't', 1, 'a', 'b', 3, 0.5, 0, 1.5, 2.5, 0, 0, '{}')")
    conn.commit()
    conn.close()
    history.record(path, "diagnostics", [{"model_version": 2, "model_sha256": "c", "data_sha256": "d",
                                          "rows": 1, "ingestion_s": None, "training_s": None,
                                          "outdated": 0, "unknown": 0, "payload": "{}"}])
    rows = history.rows(path, "diagnostics")
    assert [(r["ingestion_s"], r["training_s"]) for r in rows] == [(1.5, 2.5), (None, None)]


@pytest.mark.slow
def test_importing_diagnostics_loads_no_plotting_library():
    code = "import sys, diagnostics; print(sorted(m for m in ('matplotlib', 'seaborn') if m in sys.modules))"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
