import numpy as np
import pytest

import artifacts
import history
import scoring
from conftest import run_script


class Fixed:
    """A stand-in model that predicts given labels (to check F1 arithmetic independently)."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def predict(self, x):
        return self.labels[: len(x)]


def test_f1_of_counts_true_and_false_positives():
    import pandas as pd
    frame = pd.DataFrame({
        "corporation": list("abcdef"), "lastmonth_activity": [1.0] * 6,
        "lastyear_activity": [1.0] * 6, "number_of_employees": [1.0] * 6,
        "exited": [1, 1, 1, 0, 0, 0],
    })
    # tp=2, fp=1, fn=1 -> precision 2/3, recall 2/3, F1 2/3
    assert scoring.f1_of(Fixed([1, 1, 0, 1, 0, 0]), frame) == pytest.approx(2 / 3)
    assert scoring.f1_of(Fixed([0] * 6), frame) == 0.0


def test_script_writes_the_number_alone_and_records_it(deployed_cfg, tmp_path):
    cfg = deployed_cfg
    run = run_script("scoring.py", "--config", str(cfg.path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = cfg.score_path.read_text()
    f1 = float(text)
    assert text == f"{f1!r}\n"
    assert 0.3 < f1 < 0.9
    assert f"{f1:.4f}" in run.stdout
    rows = history.rows(cfg.history_path, "scores")
    assert rows[-1]["f1"] == pytest.approx(f1)
    assert rows[-1]["model_sha256"] == artifacts.sha256_file(cfg.model_path)
    assert rows[-1]["data_sha256"] == artifacts.sha256_file(cfg.test_data_file)


def test_tampered_model_is_refused(deployed_cfg):
    cfg = deployed_cfg
    before = cfg.score_path.read_bytes()
    with open(cfg.model_path, "ab") as f:
        f.write(b"tampered")
    run = run_script("scoring.py", "--config", str(cfg.path))
    assert run.returncode == 1
    assert "SHA-256 mismatch" in run.stderr
    assert cfg.score_path.read_bytes() == before


def test_model_without_recorded_hash_is_refused(deployed_cfg):
    artifacts.sidecar_path(deployed_cfg.model_path).unlink()
    with pytest.raises(artifacts.ArtifactError, match="no recorded SHA-256"):
        scoring.score(deployed_cfg)


def test_scores_the_course_starter_test_file(deployed_cfg):
    from conftest import COURSE_STARTER
    result = scoring.score(deployed_cfg, data_path=COURSE_STARTER / "testdata" / "testdata.csv")
    assert result.rows == 5
    assert 0.0 <= result.f1 <= 1.0
