import json
import os

import pytest

import artifacts
import config
import deployment
import history
import ingestion
import scoring
import training
from conftest import client_csv, run_script


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


def test_nothing_trained_yet_fails_naming_the_missing_file(make_config):
    run = run_script("deployment.py", "--config", str(make_config()))
    assert run.returncode == 1
    assert "trainedmodel.pkl: not found" in run.stderr


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
