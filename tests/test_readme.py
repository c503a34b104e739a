"""The README is the user's manual: its commands and keys must match the code."""
import re

from conftest import ROOT

from risk import config

README = (ROOT / "README.md").read_text()


def test_ci_runs_the_readme_test_command_word_for_word():
    ci = (ROOT / ".ci" / "run").read_text()
    command = [line for line in ci.splitlines() if "pytest" in line and not line.startswith("#")][0]
    assert command in README


def test_every_config_key_is_documented():
    manual = README + "".join(p.read_text() for p in sorted((ROOT / "docs").glob("*.md")))
    for key in (*config.PATH_KEYS, *config.OPTIONAL_KEYS):
        assert f"`{key}`" in manual, key


def test_readme_states_the_f1_a_fresh_run_on_the_shipped_data_gives(tmp_path):
    import json

    from risk.data import ingestion
    from risk.model import scoring, training

    stated = re.search(r"F1 on the shipped test data is \*\*(0\.\d{4})\*\*", README).group(1)
    # A copy of the shipped extracts only: a user's later extracts in sourcedata/ don't count.
    (tmp_path / "in").mkdir()
    for name in ("clients_2026_09.csv", "clients_2026_10.csv"):
        (tmp_path / "in" / name).write_bytes((ROOT / "sourcedata" / name).read_bytes())
    path = tmp_path / "config.json"
    path.write_text(json.dumps({
        "input_folder_path": "in",
        "output_folder_path": "out",
        "test_data_path": str(ROOT / "testdata"),
        "output_model_path": "models",
        "prod_deployment_path": "prod",
    }))
    cfg = config.load(path)
    ingestion.ingest(cfg)
    training.train(cfg)
    assert f"{scoring.score(cfg).f1:.4f}" == stated
    assert (tmp_path / "models" / "latestscore.txt").read_text().strip() in README
