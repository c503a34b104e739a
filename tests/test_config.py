import json

import pytest
from conftest import run_script

from risk import config

FIVE = {
    "input_folder_path": "sourcedata",
    "output_folder_path": "ingesteddata",
    "test_data_path": "testdata",
    "output_model_path": "models",
    "prod_deployment_path": "production_deployment",
}


def write(tmp_path, obj):
    path = tmp_path / "config.json"
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def test_config_with_only_the_five_course_keys_loads_with_defaults(tmp_path):
    cfg = config.load(write(tmp_path, FIVE))
    assert cfg.input_folder_path == tmp_path / "sourcedata"
    assert cfg.history_path == tmp_path / "history" / "runs.sqlite"
    assert cfg.log_folder == tmp_path / "logs"
    assert cfg.model_params == config.MODEL_DEFAULTS
    assert cfg.keep_deployments == 20


def test_paths_resolve_against_the_config_folder_not_the_working_directory(tmp_path, monkeypatch):
    (tmp_path / "sub").mkdir()
    path = write(tmp_path / "sub", {**FIVE, "input_folder_path": "../data"})
    monkeypatch.chdir("/")
    assert config.load(path).input_folder_path == tmp_path / "data"


def test_model_params_override_the_course_defaults(tmp_path):
    cfg = config.load(write(tmp_path, {**FIVE, "model_params": {"C": 0.5, "max_iter": 200}}))
    assert cfg.model_params["C"] == 0.5
    assert cfg.model_params["max_iter"] == 200
    assert cfg.model_params["solver"] == "liblinear"


@pytest.mark.parametrize("obj, message", [
    ({**FIVE, "colour": "red"}, "unknown key 'colour'"),
    ({k: v for k, v in FIVE.items() if k != "test_data_path"}, "missing key 'test_data_path'"),
    ({**FIVE, "input_folder_path": 3}, "key 'input_folder_path' must be str"),
    ({**FIVE, "input_folder_path": ""}, "key 'input_folder_path' must not be empty"),
    ({**FIVE, "keep_deployments": "5"}, "key 'keep_deployments' must be int"),
    ({**FIVE, "keep_deployments": True}, "key 'keep_deployments' must be int"),
    ({**FIVE, "keep_deployments": 0}, "key 'keep_deployments' must be at least 1"),
    ({**FIVE, "model_params": {"penalty": "l2"}}, "unknown key 'model_params.penalty'"),
    ({**FIVE, "model_params": {"C": "big"}}, "key 'model_params.C' must be int or float"),
    ({**FIVE, "output_folder_path": "sourcedata"}, "key 'input_folder_path' must be a folder of its own"),
    ({**FIVE, "output_folder_path": "./sourcedata/../sourcedata/"}, "'output_folder_path'"),
    ({**FIVE, "test_data_path": "sourcedata"}, "key 'input_folder_path' must be a folder of its own"),
    ({**FIVE, "output_folder_path": "sourcedata/out"}, "'output_folder_path'"),
    ({**FIVE, "input_folder_path": "models/in"}, "'output_model_path'"),
    ({**FIVE, "prod_deployment_path": "models"}, "key 'prod_deployment_path' must not be the same folder"),
    ({**FIVE, "drift_bootstrap_rounds": 10**10}, "key 'drift_bootstrap_rounds' must be at most 100,000"),
    ('{"drift_alpha": NaN}', "key 'drift_alpha' must be a finite number"),
    ('{"pypi_timeout_s": Infinity}', "key 'pypi_timeout_s' must be a finite number"),
    ('{"pypi_timeout_s": 1e999}', "key 'pypi_timeout_s' must be a finite number"),
    ('{"model_params": {"C": -Infinity}}', "key 'model_params.C' must be a finite number"),
    ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
    ("{not json", "not valid JSON"),
    ("[1, 2]", "must hold a JSON object"),
])
def test_bad_config_is_rejected_naming_the_key(tmp_path, obj, message):
    with pytest.raises(config.ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        config.load(write(tmp_path, obj))


def test_nested_but_separate_folders_are_fine(tmp_path):
    cfg = config.load(write(tmp_path, {**FIVE, "input_folder_path": "data/in",
                                       "output_folder_path": "data/out"}))
    assert cfg.input_folder_path.parent == cfg.output_folder_path.parent


def test_missing_config_file_is_named(tmp_path):
    with pytest.raises(config.ConfigError, match="config file not found"):
        config.load(tmp_path / "nope.json")


@pytest.mark.slow
def test_script_exits_2_on_bad_config_with_one_line(tmp_path):
    path = write(tmp_path, {**FIVE, "colour": "red"})
    run = run_script("ingestion.py", "--config", str(path))
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0
    assert "unknown key 'colour'" in run.stderr


@pytest.mark.slow
@pytest.mark.parametrize("obj, key", [
    ({**FIVE, "output_folder_path": "sourcedata"}, "input_folder_path"),
    ({**FIVE, "drift_bootstrap_rounds": 10**10}, "drift_bootstrap_rounds"),
    ('{"a":' * 100_000 + "1" + "}" * 100_000, "nested too deeply"),
])
def test_silent_nonsense_configs_exit_2_with_one_line(tmp_path, obj, key):
    run = run_script("ingestion.py", "--config", str(write(tmp_path, obj)))
    assert run.returncode == 2
    assert run.stderr.strip().count("\n") == 0 and key in run.stderr
    assert "Traceback" not in run.stderr


def test_shipped_configs_load():
    from conftest import ROOT
    for name in ("config.json", "config.practice.json"):
        cfg = config.load(ROOT / name)
        assert cfg.input_folder_path.is_dir()
        assert cfg.test_data_file.is_file()
