"""Shared fixtures: a project folder under tmp_path with its own config.json and data."""
from __future__ import annotations

import json
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import generate_data  # noqa: E402
from risk.data import contract  # noqa: E402

# The Udacity course's original starter files, unchanged (see its README.md).
COURSE_STARTER = ROOT / "tests" / "fixtures" / "course-starter"


@pytest.fixture(autouse=True)
def no_package_index(monkeypatch):
    """Tests never reach the package index: the dependency check gets a closed port."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        monkeypatch.setenv("RISK_PYPI_URL", f"http://127.0.0.1:{s.getsockname()[1]}/pypi")
        yield


def client_csv(n: int, seed: int = 0, law: str = "base") -> bytes:
    """A valid client CSV of `n` generated rows."""
    return contract.write_csv(generate_data.clients(np.random.default_rng(seed), n, law))


def run_script(script: str, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    """Run one of the project's scripts as a real subprocess, from `cwd` (default: /)."""
    return subprocess.run(
        [sys.executable, str(ROOT / script), *args],
        capture_output=True, text=True, cwd=cwd or "/", timeout=120,
    )


@pytest.fixture
def make_config(tmp_path):
    """Build a project folder: config.json, input files, test data; return the config path."""

    def make(inputs: dict[str, str | bytes] | None = None, test: bytes | None = None,
             extra: dict | None = None, folder: Path | None = None) -> Path:
        base = folder or tmp_path
        (base / "in").mkdir(parents=True, exist_ok=True)
        (base / "test").mkdir(parents=True, exist_ok=True)
        if inputs is None:
            inputs = {"a.csv": client_csv(600, seed=1), "b.csv": client_csv(400, seed=2)}
        for name, content in inputs.items():
            data = content.encode() if isinstance(content, str) else content
            (base / "in" / name).write_bytes(data)
        (base / "test" / "testdata.csv").write_bytes(test if test is not None else client_csv(300, seed=3))
        cfg = {
            "input_folder_path": "in",
            "output_folder_path": "out",
            "test_data_path": "test",
            "output_model_path": "models",
            "prod_deployment_path": "prod",
            **(extra or {}),
        }
        path = base / "config.json"
        path.write_text(json.dumps(cfg))
        return path

    return make


@pytest.fixture
def cfg(make_config):
    """A loaded config of a project folder with the default generated data."""
    from risk import config
    return config.load(make_config())


def deploy_project(cfg, publish: bool = True):
    """Ingest, train, score and deploy the project of `cfg`, then publish its call list; the release."""
    from risk.data import ingestion
    from risk.loop import deployment
    from risk.model import scoring, training

    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)
    release = deployment.deploy(cfg)
    if publish:
        scoring.publish_call_list(cfg)
    return release


@pytest.fixture
def deployed_cfg(cfg):
    """A project folder where ingestion, training, scoring and deployment have run, its call list published."""
    deploy_project(cfg)
    return cfg
