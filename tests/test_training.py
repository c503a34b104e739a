import json
import os
import warnings

import numpy as np
import pandas as pd
import pytest
from conftest import client_csv, run_script

from risk import artifacts, config, history
from risk.model import training
from risk.model.additive import AdditiveModel


@pytest.fixture(params=["additive", "course"])
def kind_cfg(request, make_config):
    """A config of each model kind."""
    return config.load(make_config(extra={"model_kind": request.param}))


def test_the_default_model_is_the_calibrated_additive_one_and_emits_no_warning(cfg):
    from risk.data import ingestion
    ingestion.ingest(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = training.train(cfg)
    model = artifacts.load_model(result.model_path)
    assert cfg.model_kind == "additive" and isinstance(model, AdditiveModel)
    assert model.n_features_in_ == 3  # corporation is never a feature
    meta = json.loads(artifacts.sidecar_path(cfg.model_path).read_text())
    assert meta["model_kind"] == "additive" and meta["params"]["model_kind"] == "additive"


def test_training_matches_the_course_model_and_emits_no_warning(make_config):
    from risk.data import ingestion
    cfg = config.load(make_config(extra={"model_kind": "course"}))
    ingestion.ingest(cfg)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = training.train(cfg)
    model = artifacts.load_model(result.model_path)
    lr = model.named_steps["classify"]
    assert [name for name, _ in model.steps] == ["impute", "scale", "classify"]
    assert model.named_steps["impute"].strategy == "median"
    assert (lr.C, lr.l1_ratio, lr.solver, lr.max_iter, lr.random_state, lr.tol) == (
        1.0, 0.0, "liblinear", 100, 0, 0.0001)
    assert lr.class_weight is None and lr.fit_intercept and not lr.dual and not lr.warm_start
    assert model.n_features_in_ == 3  # corporation is never a feature


def test_training_records_metadata_and_history(cfg):
    from risk.data import ingestion
    ingestion.ingest(cfg)
    result = training.train(cfg)
    meta = json.loads(artifacts.sidecar_path(cfg.model_path).read_text())
    assert meta["sha256"] == artifacts.sha256_file(cfg.model_path) == result.model_sha256
    assert meta["rows"] == result.rows == 1000
    assert set(meta["versions"]) >= {"scikit-learn", "pandas", "numpy", "python"}
    [row] = history.rows(cfg.history_path, "trainings")
    assert row["model_sha256"] == result.model_sha256
    assert row["rows"] == 1000
    assert row["duration_s"] > 0


def test_model_params_from_config_reach_the_model(make_config):
    from risk.data import ingestion
    cfg = config.load(make_config(extra={"model_kind": "course", "model_params": {"C": 0.01}}))
    ingestion.ingest(cfg)
    model = artifacts.load_model(training.train(cfg).model_path)
    assert model.named_steps["classify"].C == 0.01


def test_an_unknown_model_kind_is_refused_naming_the_key(make_config):
    with pytest.raises(config.ConfigError, match="key 'model_kind' must be one of additive, course"):
        config.load(make_config(extra={"model_kind": "forest"}))


def test_falling_activity_raises_attrition_risk(kind_cfg):
    from risk.data import ingestion
    cfg = kind_cfg
    ingestion.ingest(cfg)
    model = artifacts.load_model(training.train(cfg).model_path)
    steady = np.array([[100.0, 1200.0, 45.0]])
    falling = np.array([[20.0, 1200.0, 45.0]])
    assert model.predict_proba(falling)[0, 1] > model.predict_proba(steady)[0, 1] + 0.2


def test_rows_with_missing_features_are_imputed(kind_cfg):
    from risk.data import ingestion
    cfg = kind_cfg
    ingestion.ingest(cfg)
    model = artifacts.load_model(training.train(cfg).model_path)
    proba = model.predict_proba(np.array([[np.nan, 1200.0, np.nan]]))
    assert np.isfinite(proba).all()


@pytest.mark.slow
def test_one_class_only_fails_with_a_clear_error(make_config):
    frame = pd.read_csv(pd.io.common.StringIO(client_csv(50).decode()))
    frame["exited"] = 0
    path = make_config(inputs={"a.csv": frame.to_csv(index=False)})
    assert run_script("ingestion.py", "--config", str(path)).returncode == 0
    run = run_script("training.py", "--config", str(path))
    assert run.returncode == 1
    assert "only class [0]" in run.stderr
    assert len(run.stderr.strip().splitlines()) == 2  # the progress line and the error


@pytest.mark.slow
def test_missing_finaldata_fails_naming_the_file(make_config):
    run = run_script("training.py", "--config", str(make_config()))
    assert run.returncode == 1
    assert "finaldata.csv: file not found" in run.stderr


def test_failure_while_writing_the_model_keeps_the_previous_one(cfg, monkeypatch):
    from risk.data import ingestion
    ingestion.ingest(cfg)
    training.train(cfg)
    before = cfg.model_path.read_bytes(), artifacts.sidecar_path(cfg.model_path).read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(artifacts.WriteError):
        training.train(cfg)
    after = cfg.model_path.read_bytes(), artifacts.sidecar_path(cfg.model_path).read_bytes()
    assert after == before
    artifacts.load_model(cfg.model_path)  # still loads: hash and file agree


def test_training_on_a_window_records_what_it_was_trained_on(cfg):
    frame = pd.read_csv(pd.io.common.StringIO(client_csv(300, seed=4).decode()))
    result = training.train(cfg, frame, {"files": ["x.csv"], "rows": 300, "window": "last 3 extracts"})
    meta = json.loads(artifacts.sidecar_path(cfg.model_path).read_text())
    assert result.rows == 300 and meta["trained_on"]["files"] == ["x.csv"]
    assert meta["quality"]["rows"] == 300 and "lastyear_activity" in meta["quality"]["features"]
    assert not cfg.finaldata_path.exists()  # the window, not finaldata.csv
