"""fullprocess.py end to end, through real subprocesses, on tmp_path projects."""
import json
import shutil
import signal
import subprocess
import sys

import pytest
from conftest import COURSE_STARTER, ROOT, client_csv, run_script

import generate_data
from risk import artifacts, config, history
from risk.loop import deployment


def fullprocess(cfg, *args):
    return run_script("fullprocess.py", "--config", str(cfg.path), *args)


def add_extract(cfg, name, law, seed, rows=1500):
    generate_data.main(["--extract", str(cfg.input_folder_path / name), "--law", law,
                        "--rows", str(rows), "--seed", str(seed)])


@pytest.fixture
def project(make_config):
    """A project with 3,000 clients in two files, 2,000 test clients, and no API server running."""
    from risk.serving import apicalls
    path = make_config(
        inputs={"a.csv": client_csv(1500, seed=1), "b.csv": client_csv(1500, seed=2)},
        test=client_csv(2000, seed=3),
        extra={"api_port": apicalls.free_port(), "min_labelled_rows": 200},
    )
    return config.load(path)


def deployed_version(cfg):
    return artifacts.read_manifest(cfg.prod_deployment_path)["version"]


@pytest.mark.slow
def test_bootstrap_then_no_new_data_then_same_law_then_drifted_extract(project):
    cfg = project
    # 1. bootstrap from empty
    run = fullprocess(cfg)
    assert run.returncode == 0, run.stderr
    assert "bootstrap: nothing deployed" in run.stderr
    assert deployed_version(cfg) == 1
    report = cfg.output_model_path / "report.pdf"
    returns = cfg.output_model_path / "apireturns.txt"
    assert report.read_bytes().startswith(b"%PDF")
    replies = json.loads(returns.read_text())["responses"]
    assert {r["status"] for r in replies.values()} == {200}
    assert (cfg.output_model_path / "risk_ranking.csv").is_file()

    # 2. nothing new: no retraining, no new deployment, nothing rewritten
    model = (cfg.prod_deployment_path / "trainedmodel.pkl").read_bytes()
    finaldata, returned = cfg.finaldata_path.read_bytes(), returns.read_bytes()
    run = fullprocess(cfg)
    assert run.returncode == 0, run.stderr
    assert "no new data" in run.stderr
    assert run.stdout.startswith("result: no new data") and run.stdout.count("\n") == 1  # one line
    assert (cfg.prod_deployment_path / "trainedmodel.pkl").read_bytes() == model
    assert cfg.finaldata_path.read_bytes() == finaldata and returns.read_bytes() == returned
    assert len(deployment.releases(cfg.prod_deployment_path)) == 1

    # 3. a new extract of the same law: ingested and recorded, champion kept
    add_extract(cfg, "c_same.csv", "base", seed=11)
    run = fullprocess(cfg)
    assert run.returncode == 0, run.stderr
    assert "new data: c_same.csv" in run.stderr
    assert "model drift check: no drift (test=bootstrap" in run.stderr
    assert "keeping deployed v0001: challenger not significantly better" in run.stderr
    assert deployed_version(cfg) == 1
    assert "c_same.csv" in cfg.ingestedfiles_path.read_text()
    [check] = history.rows(cfg.history_path, "drift_checks")
    assert check["drift"] == 0 and check["rows"] == 1500
    assert set(json.loads(check["data_drift"])) == {"lastmonth_activity", "lastyear_activity",
                                                     "number_of_employees"}
    [kept] = history.rows(cfg.history_path, "challenger_decisions")
    assert kept["decision"] == "keep" and kept["challenger_f1"] is not None and kept["rows"] > 300
    assert "no new data" in fullprocess(cfg).stderr  # handled: not checked again

    # 4. a drifted extract: drift found, a better challenger deployed with its reason and reference
    before_report = report.read_bytes()
    add_extract(cfg, "d_drifted.csv", "drifted", seed=12, rows=5000)
    run = fullprocess(cfg)
    assert run.returncode == 0, run.stderr
    assert "model drift check: drift (test=bootstrap" in run.stderr
    assert "change found: the training window restarts at d_drifted.csv" in run.stderr
    assert "deploying the challenger: challenger significantly better" in run.stderr
    assert deployed_version(cfg) == 2
    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    assert manifest["reason"].startswith("challenger significantly better")
    assert manifest["reference"]["on"] == "held-out rows of d_drifted.csv"
    assert manifest["trained_on"] == ["d_drifted.csv"]
    assert report.read_bytes() != before_report
    replies = json.loads(returns.read_text())["responses"]
    assert replies["health"]["body"]["model_version"] == 2
    runs = history.rows(cfg.history_path, "runs")
    assert [r["exit_code"] for r in runs] == [0] * 5
    assert any("deploying the challenger" in d for d in json.loads(runs[-1]["decisions"]))


@pytest.mark.slow
def test_dry_run_says_what_would_happen_and_changes_nothing(deployed_cfg):
    cfg = deployed_cfg
    add_extract(cfg, "new.csv", "drifted", seed=5, rows=3000)
    finaldata = cfg.finaldata_path.read_bytes()
    run = fullprocess(cfg, "--dry-run")
    assert run.returncode == 0, run.stderr
    assert "[dry run] change found: the training window restarts at new.csv" in run.stderr
    assert "would ingest and deploy the challenger" in run.stderr
    assert cfg.finaldata_path.read_bytes() == finaldata
    assert deployed_version(cfg) == 1
    assert history.rows(cfg.history_path, "runs") == []
    assert history.rows(cfg.history_path, "drift_checks") == []


@pytest.mark.slow
def test_failed_training_keeps_the_deployment_and_exits_1(deployed_cfg):
    cfg = deployed_cfg
    raw = json.loads(cfg.path.read_text())
    raw["model_kind"] = "course"  # model_params are the course model's
    raw["model_params"] = {"solver": "no-such-solver"}
    cfg.path.write_text(json.dumps(raw))
    model = (cfg.prod_deployment_path / "trainedmodel.pkl").read_bytes()
    run = fullprocess(cfg, "--force-retrain")
    assert run.returncode == 1
    assert "cannot fit model" in run.stderr
    assert (cfg.prod_deployment_path / "trainedmodel.pkl").read_bytes() == model
    assert deployed_version(cfg) == 1
    assert history.rows(cfg.history_path, "runs")[-1]["exit_code"] == 1


@pytest.mark.slow
def test_a_second_run_while_one_is_active_exits_at_once(project):
    cfg = project
    first = subprocess.Popen(
        [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(cfg.path)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd="/",
    )
    try:
        for line in first.stderr:  # the first run holds the lock once it logs its first decision
            if "bootstrap" in line:
                break
        second = fullprocess(cfg)
        assert second.returncode == 0
        assert "already running" in second.stderr
        assert second.stdout == ""
        out, err = first.communicate(timeout=120)
    finally:
        first.kill()
    assert first.returncode == 0, err
    assert deployed_version(cfg) == 1
    assert len(history.rows(cfg.history_path, "runs")) == 1


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", ["change found", "deploying the challenger", "scoring: F1"])
def test_a_run_killed_mid_decision_is_redone_by_the_next(deployed_cfg, kill_after):
    cfg = deployed_cfg
    add_extract(cfg, "new.csv", "drifted", seed=6, rows=3000)
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "fullprocess.py"), "--config", str(cfg.path)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd="/",
    )
    for line in proc.stderr:
        if kill_after in line:
            proc.send_signal(signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL

    # Whatever the kill interrupted, the live deployment is whole and verified.
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    artifacts.verify_release(artifacts.current_release(cfg.prod_deployment_path), manifest)

    run = fullprocess(cfg)
    assert run.returncode == 0, run.stderr
    assert "new data: new.csv" in run.stderr  # the killed run's file was not marked handled
    assert "already running" not in run.stderr
    assert deployed_version(cfg) >= 2
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    assert "new.csv" in [f["name"] for f in manifest["source_files"]]


@pytest.mark.slow
def test_main_job_runs_every_step_on_the_course_starter_files(tmp_path):
    from risk.serving import apicalls
    for folder in ("practicedata", "sourcedata", "testdata"):
        shutil.copytree(COURSE_STARTER / folder, tmp_path / folder)
    (tmp_path / "config.json").write_text(json.dumps({
        "input_folder_path": "practicedata",
        "output_folder_path": "ingesteddata",
        "test_data_path": "testdata",
        "output_model_path": "practicemodels",
        "prod_deployment_path": "production_deployment",
        "api_port": apicalls.free_port(),
    }))

    run = run_script("fullprocess.py", "--config", str(tmp_path / "config.json"), cwd="/")

    assert run.returncode == 0, run.stderr
    assert "26 rows" in run.stdout
    assert "F1 score" in run.stdout
    for path in ("ingesteddata/finaldata.csv", "ingesteddata/ingestedfiles.txt",
                 "practicemodels/trainedmodel.pkl", "practicemodels/latestscore.txt",
                 "production_deployment/trainedmodel.pkl", "production_deployment/latestscore.txt",
                 "production_deployment/ingestedfiles.txt", "practicemodels/confusionmatrix.png",
                 "practicemodels/report.pdf", "practicemodels/apireturns.txt"):
        assert (tmp_path / path).is_file(), path
    assert (tmp_path / "ingesteddata/ingestedfiles.txt").read_text() == "dataset1.csv\ndataset2.csv\n"


# --- guard rails (issue 19 item 4) ------------------------------------------------------

def _train_on_shuffled_labels(cfg):
    import numpy as np

    from risk.data import contract
    from risk.model import training
    rows = contract.read_csv(cfg.finaldata_path)
    rows[contract.TARGET] = np.random.default_rng(0).permutation(rows[contract.TARGET].to_numpy())
    training.train(cfg, rows, {"files": ["shuffled"], "rows": len(rows)})


@pytest.mark.slow
def test_deployment_refuses_a_model_that_ranks_far_worse_unless_accept_worse(deployed_cfg):
    cfg = deployed_cfg
    _train_on_shuffled_labels(cfg)
    refused = run_script("deployment.py", "--config", str(cfg.path))
    assert refused.returncode == 1
    [line] = refused.stderr.strip().splitlines()
    assert "refusing to deploy, it ranks far worse than the live v0001" in line
    assert "on the test data (testdata.csv): AUC" in line and "--accept-worse" in line
    assert deployed_version(cfg) == 1
    accepted = run_script("deployment.py", "--config", str(cfg.path), "--accept-worse")
    assert accepted.returncode == 0, accepted.stderr
    assert "WARNING deployed with --accept-worse: ranks far worse than v0001" in accepted.stdout
    assert "WARNING deployed with --accept-worse" in accepted.stderr  # the log
    assert deployed_version(cfg) == 2
    assert artifacts.read_manifest(cfg.prod_deployment_path)["warning"].startswith("WARNING deployed")


def test_a_model_as_good_as_the_live_one_deploys_without_a_word(deployed_cfg):
    from risk.data import contract
    from risk.model import training
    cfg = deployed_cfg
    rows = contract.read_csv(cfg.finaldata_path)
    training.train(cfg, rows.iloc[: len(rows) - 10], {"files": ["fewer rows"], "rows": len(rows) - 10})
    release = deployment.deploy(cfg)
    assert release.version == 2 and "warning" not in release.manifest


@pytest.mark.slow
def test_force_retrain_meets_the_guard_rail_and_the_result_line_says_so(project, monkeypatch):
    assert fullprocess(project).returncode == 0  # bootstrap
    cfg = project
    # Labels that follow no figure (an operator forcing a retrain on the wrong file).
    import numpy as np

    from risk.data import contract
    for name in ("a.csv", "b.csv"):
        frame = contract.read_csv(cfg.input_folder_path / name)
        frame[contract.TARGET] = np.random.default_rng(1).permutation(frame[contract.TARGET].to_numpy())
        (cfg.input_folder_path / name).write_bytes(contract.write_csv(frame))
    cfg.quality_reference_path.unlink()  # nothing to quarantine them by: only the guard rail is left
    for release in deployment.releases(cfg.prod_deployment_path):
        sidecar = release.path / artifacts.SIDECAR_FILE
        meta = artifacts.read_json(sidecar)
        meta.pop("quality", None)
        sidecar.write_text(json.dumps(meta))
    forced = fullprocess(cfg, "--force-retrain")
    assert forced.returncode == 1
    assert "refusing to deploy" in forced.stderr and "--accept-worse" in forced.stderr
    assert deployed_version(cfg) == 1
    accepted = fullprocess(cfg, "--force-retrain", "--accept-worse")
    assert accepted.returncode == 0, accepted.stderr
    result = accepted.stdout.strip().splitlines()[-1]
    assert result.startswith("result: redeployed v0002: --force-retrain | WARNING deployed with --accept-worse")


@pytest.mark.slow
def test_the_result_line_names_a_quarantine_and_an_extract_listed_without_outcomes(project):
    assert fullprocess(project).returncode == 0  # bootstrap
    add_extract(project, "broken.csv", "units", seed=8)
    generate_data.main(["--extract", str(project.input_folder_path / "later.csv"), "--law", "base",
                        "--rows", "1500", "--seed", "9", "--no-labels"])
    run = fullprocess(project)
    assert run.returncode == 0, run.stderr
    result = run.stdout.strip().splitlines()[-1]
    assert result == ("result: kept v0001: no new labelled rows accepted; quarantined: broken.csv; "
                      "listed without outcomes yet: later.csv")
