import json
import os

import pytest
from conftest import client_csv, run_script

from risk import artifacts, config, history
from risk.data import ingestion
from risk.loop import deployment
from risk.model import scoring, training


def retrain(cfg, seed):
    (cfg.input_folder_path / f"more{seed}.csv").write_bytes(client_csv(300, seed=seed))
    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)


def test_deployment_is_one_release_with_a_manifest_and_the_course_names(deployed_cfg):
    prod = deployed_cfg.prod_deployment_path
    manifest = json.loads((prod / "manifest.json").read_text())
    assert manifest["version"] == 1
    assert (prod / "current").resolve() == prod / "releases" / "v0001"
    for name in ("trainedmodel.pkl", "latestscore.txt", "ingestedfiles.txt"):
        assert (prod / name).read_bytes() == (prod / "releases" / "v0001" / name).read_bytes()
        assert manifest["files"][name] == artifacts.sha256_file(prod / name)
    assert manifest["score"] == float((prod / "latestscore.txt").read_text())
    assert [f["name"] for f in manifest["source_files"]] == ["a.csv", "b.csv"]
    assert all(len(f["sha256"]) == 64 for f in manifest["source_files"])
    assert manifest["training"]["rows"] == 1000
    model, m = artifacts.load_deployed_model(prod)
    assert m["version"] == 1 and hasattr(model, "predict_proba")
    [row] = history.rows(deployed_cfg.history_path, "deployments")
    assert (row["action"], row["version"]) == ("deploy", 1)


def test_tampered_deployed_model_is_refused(deployed_cfg):
    prod = deployed_cfg.prod_deployment_path
    with open(prod / "trainedmodel.pkl", "ab") as f:
        f.write(b"\0")
    with pytest.raises(artifacts.ArtifactError, match="SHA-256 mismatch"):
        artifacts.load_deployed_model(prod)


@pytest.mark.slow
def test_model_changed_after_training_is_not_deployed(cfg):
    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)
    with open(cfg.model_path, "ab") as f:
        f.write(b"\0")
    run = run_script("deployment.py", "--config", str(cfg.path))
    assert run.returncode == 1
    assert "refusing to deploy" in run.stderr
    assert artifacts.read_manifest(cfg.prod_deployment_path) is None


@pytest.mark.slow
def test_nothing_trained_yet_fails_naming_the_missing_file(make_config):
    run = run_script("deployment.py", "--config", str(make_config()))
    assert run.returncode == 1
    assert "trainedmodel.pkl: not found" in run.stderr


@pytest.mark.slow
def test_rollback_restores_the_previous_release(deployed_cfg, tmp_path):
    cfg = deployed_cfg
    first_model = (cfg.prod_deployment_path / "trainedmodel.pkl").read_bytes()
    retrain(cfg, 11)
    deployment.deploy(cfg)
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 2

    run = run_script("deployment.py", "--config", str(cfg.path), "--rollback", cwd=tmp_path)

    assert run.returncode == 0, run.stderr
    assert "rolled back to v0001" in run.stdout
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 1
    assert (cfg.prod_deployment_path / "trainedmodel.pkl").read_bytes() == first_model
    assert history.rows(cfg.history_path, "deployments")[-1]["action"] == "rollback"
    listing = run_script("deployment.py", "--config", str(cfg.path), "--list").stdout
    assert "* v0001" in listing and "  v0002" in listing
    # the next deployment gets a new number; nothing is overwritten
    deployment.deploy(cfg)
    assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 3


@pytest.mark.slow
def test_rollback_with_no_earlier_release_fails(deployed_cfg):
    run = run_script("deployment.py", "--config", str(deployed_cfg.path), "--rollback")
    assert run.returncode == 1
    assert "no earlier release" in run.stderr


@pytest.mark.parametrize("where", ["copy", "manifest", "rename", "switch"])
def test_crash_during_deployment_leaves_the_previous_one_whole(deployed_cfg, monkeypatch, where):
    cfg = deployed_cfg
    prod = cfg.prod_deployment_path
    before = {n: (prod / n).read_bytes() for n in ("trainedmodel.pkl", "latestscore.txt", "manifest.json")}
    retrain(cfg, 12)

    def crash(*args, **kwargs):
        raise OSError(f"crash at {where}")

    target = {
        "copy": (deployment, "_copy_durably"),
        "manifest": (artifacts, "write_json_atomic"),
        "rename": (os, "rename"),
        "switch": (artifacts, "_symlink_atomic"),
    }[where]
    monkeypatch.setattr(*target, crash)
    with pytest.raises(artifacts.WriteError, match="crash at"):
        deployment.deploy(cfg)
    monkeypatch.undo()

    assert {n: (prod / n).read_bytes() for n in before} == before
    model, manifest = artifacts.load_deployed_model(prod)
    assert manifest["version"] == 1
    assert not [p for p in (prod / "releases").iterdir() if p.name.startswith(".")]
    # and the next deployment works
    assert deployment.deploy(cfg).version >= 2


def test_old_releases_beyond_keep_deployments_are_pruned(make_config):
    cfg = config.load(make_config(extra={"keep_deployments": 2}))
    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)
    deployment.deploy(cfg)
    for seed in range(3):
        retrain(cfg, 20 + seed)
        deployment.deploy(cfg)
    assert [r.version for r in deployment.releases(cfg.prod_deployment_path)] == [3, 4]


def test_release_folders_respect_the_umask_like_their_files(cfg):
    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)
    old = os.umask(0o022)
    try:
        release = deployment.deploy(cfg)
    finally:
        os.umask(old)
    assert release.path.stat().st_mode & 0o777 == 0o755  # was 0700: the team could not read it
    assert (release.path / "trainedmodel.pkl").stat().st_mode & 0o777 == 0o644


@pytest.mark.slow
def test_a_model_identical_to_the_live_one_makes_no_new_release(deployed_cfg):
    cfg = deployed_cfg
    run = run_script("deployment.py", "--config", str(cfg.path))
    assert run.returncode == 0, run.stderr
    assert run.stdout.splitlines()[0] == "model identical to the live v0001 (same SHA-256): no new release"
    assert "published the call list" not in run.stdout  # the list already names this model
    assert [r.version for r in deployment.releases(cfg.prod_deployment_path)] == [1]
    assert len(history.rows(cfg.history_path, "deployments")) == 1
    # a different model does make one
    retrain(cfg, 13)
    assert deployment.deploy(cfg).version == 2


def test_deploy_records_the_reason_and_extra_keys_in_the_manifest(cfg):
    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)
    release = deployment.deploy(cfg, reason="model drift: F1 0.61 below 0.70",
                                extra={"reference": {"f1": 0.7}, "version": 99})
    manifest = artifacts.read_manifest(cfg.prod_deployment_path)
    assert manifest["reason"] == "model drift: F1 0.61 below 0.70"
    assert manifest["reference"] == {"f1": 0.7}
    assert manifest["version"] == release.version == 1  # extra never replaces a recorded key
    assert "release_path" not in manifest
    live = artifacts.deployed(cfg.prod_deployment_path)
    assert live.release == release.path and live.manifest == manifest
    model, same = artifacts.load_deployed(cfg.prod_deployment_path)
    assert same == live and hasattr(model, "predict")


def three_releases(cfg, reason2=""):
    """v0001, v0002 (deployed for `reason2`), v0003, each live in turn."""
    retrain(cfg, 14)
    deployment.deploy(cfg, reason=reason2)
    retrain(cfg, 15)
    deployment.deploy(cfg)


@pytest.mark.slow
def test_to_goes_back_and_forward_by_version(deployed_cfg):
    cfg = deployed_cfg
    three_releases(cfg)
    prod = cfg.prod_deployment_path
    back = run_script("deployment.py", "--config", str(cfg.path), "--to", "v0001")
    assert back.returncode == 0, back.stderr
    assert back.stdout.startswith("now live: v0001")
    assert artifacts.read_manifest(prod)["version"] == 1
    assert deployment.go_to(cfg, 3)[0].version == 3  # forward again
    assert artifacts.read_manifest(prod)["version"] == 3
    assert [r["action"] for r in history.rows(cfg.history_path, "deployments")][-2:] == ["rollback", "forward"]
    missing = run_script("deployment.py", "--config", str(cfg.path), "--to", "7")
    assert missing.returncode == 1 and "no release v0007 (kept: v0001, v0002, v0003)" in missing.stderr
    bad = run_script("deployment.py", "--config", str(cfg.path), "--to", "latest")
    assert bad.returncode == 2 and "not a release version" in bad.stderr


@pytest.mark.slow
def test_a_rollback_past_a_release_made_for_drift_says_so(deployed_cfg):
    cfg = deployed_cfg
    three_releases(cfg, reason2="model drift: F1 0.61 below the reference 0.70")
    run = run_script("deployment.py", "--config", str(cfg.path), "--to", "1")
    assert run.returncode == 0, run.stderr
    assert "going back past v0002, deployed - because of drift: model drift: F1 0.61" in run.stdout
    listing = deployment.listing(cfg).splitlines()
    assert listing[0].startswith("* v0001") and "was live  model drift" in listing[1]


KILL_AT_SWITCH = """
import os, signal, sys
sys.path.insert(0, {root!r})
from risk import artifacts
import deployment as deployment_script
artifacts.switch = lambda *a: os.kill(os.getpid(), signal.SIGKILL)
deployment_script.main(["--config", {config!r}])
"""


@pytest.mark.slow
def test_a_release_killed_before_it_went_live_is_never_a_rollback_target(deployed_cfg):
    import subprocess
    import sys

    from conftest import ROOT
    cfg = deployed_cfg
    prod = cfg.prod_deployment_path
    retrain(cfg, 16)
    # A real SIGKILL between renaming v0002 into place and switching to it.
    killed = subprocess.run([sys.executable, "-c", KILL_AT_SWITCH.format(root=str(ROOT), config=str(cfg.path))])
    assert killed.returncode == -9
    assert (prod / "releases" / "v0002" / "manifest.json").is_file()
    assert artifacts.read_manifest(prod)["version"] == 1
    retrain(cfg, 17)
    assert deployment.deploy(cfg).version == 3
    assert "  v0002" in deployment.listing(cfg) and "never live" in deployment.listing(cfg).splitlines()[1]

    run = run_script("deployment.py", "--config", str(cfg.path), "--rollback")

    assert run.returncode == 0, run.stderr
    assert run.stdout.startswith("rolled back to v0001")  # not to v0002, which never was live
    with pytest.raises(artifacts.ArtifactError, match="v0002 was never made live"):
        deployment.go_to(cfg, 2)


def test_a_live_release_killed_before_its_mark_still_counts_as_live(deployed_cfg):
    cfg = deployed_cfg
    prod = cfg.prod_deployment_path
    retrain(cfg, 18)
    deployment.deploy(cfg)
    (prod / "releases" / "v0002" / artifacts.MADE_LIVE).unlink()  # killed after the switch
    retrain(cfg, 19)
    deployment.deploy(cfg)
    assert deployment.rollback(cfg).version == 2
