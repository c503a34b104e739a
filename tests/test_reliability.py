"""Issue 13's attack families, each reproduced: bad files, full and read-only disks, crashes.

Bad configs are in test_config.py, deployment's promises in test_deployment.py.
"""
import fullprocess
import history
import sources
from conftest import client_csv
from test_ingestion import add_bad_files


def tick(cfg, monkeypatch):
    """One run of the main job in-process, without its reports (they are not what is tested)."""
    monkeypatch.setattr(fullprocess, "report", lambda cfg, run: None)
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    return run


def test_bad_files_never_stop_the_main_job_and_the_next_tick_settles(deployed_cfg, monkeypatch):
    cfg = deployed_cfg
    bad = add_bad_files(cfg.input_folder_path)
    (cfg.input_folder_path / "c.csv").write_bytes(client_csv(300, seed=5))

    first = tick(cfg, monkeypatch)

    assert "c.csv" in first.decisions[0] and "caf\\xe9.csv" in first.decisions[0]
    assert first.outputs[0].startswith("ingested 3 file(s)")
    assert cfg.ingestedfiles_path.read_text() == "a.csv\nb.csv\nc.csv\n"
    handled = {r["name"]: r["outcome"] for r in history.rows(cfg.history_path, "handled_files")}
    assert {n: handled[n] for n in bad} == dict.fromkeys(bad, "rejected")

    second = tick(cfg, monkeypatch)
    assert second.decisions == [f"no new data in {cfg.input_folder_path} (deployed v0001)"]
    assert history.rows(cfg.history_path, "runs")[-1]["exit_code"] == 0

    # A rejected file that changes is new again.
    (cfg.input_folder_path / "dup.csv").write_bytes(client_csv(30, seed=6))
    assert [sources.safe_name(p) for p in sources.new_files(
        cfg.input_folder_path, fullprocess.handled_files(cfg, fullprocess.artifacts.read_manifest(
            cfg.prod_deployment_path)))] == ["dup.csv"]
