"""A tick that only holds an extract back changes nothing managers act on (issue 22, item 17)."""
from __future__ import annotations

import pytest
from conftest import client_csv

import fullprocess
import generate_data
from risk import config, history


def tick(cfg):
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    return run


@pytest.mark.slow
def test_a_tick_that_only_quarantines_keeps_the_list_and_its_marks_and_redoes_only_the_report(
        make_config, monkeypatch):
    cfg = config.load(make_config(inputs={"a.csv": client_csv(1500, seed=1), "b.csv": client_csv(1500, seed=2)},
                                  test=client_csv(2000, seed=3), extra={"min_labelled_rows": 200}))
    tick(cfg)
    (cfg.input_folder_path / "c.csv").write_bytes(client_csv(1500, seed=9))
    tick(cfg)  # new clients: a list with changes against the bootstrap's
    listed = (cfg.output_model_path / "call_list.json").read_bytes()
    lists = len(history.rows(cfg.history_path, "call_lists"))
    diagnostics = len(history.rows(cfg.history_path, "diagnostics"))
    report = cfg.output_model_path / "report.pdf"
    before = report.stat().st_mtime_ns

    generate_data.extract(cfg.input_folder_path / "bad.csv", 2000, "units", 7, labels=True)
    run = tick(cfg)

    assert any(d.startswith("quarantined bad.csv") for d in run.decisions)
    assert (cfg.output_model_path / "call_list.json").read_bytes() == listed  # its "new" marks stand
    assert len(history.rows(cfg.history_path, "call_lists")) == lists
    assert len(history.rows(cfg.history_path, "diagnostics")) == diagnostics
    assert report.stat().st_mtime_ns != before  # the report names what is held back
    assert any("the published call list stands" in d for d in run.decisions)
    assert any("no new data" in d for d in tick(cfg).decisions)  # and the next tick has nothing to redo


@pytest.mark.slow
def test_an_extract_without_outcomes_puts_its_clients_on_the_published_call_list_the_day_it_arrives(make_config):
    from risk.data import contract
    from risk.model import scoring

    cfg = config.load(make_config(inputs={"a.csv": client_csv(1500, seed=1), "b.csv": client_csv(1500, seed=2)},
                                  test=client_csv(2000, seed=3), extra={"min_labelled_rows": 200}))
    tick(cfg)
    generate_data.extract(cfg.input_folder_path / "new.csv", 500, "base", 11, labels=False)

    run = tick(cfg)

    assert not any("the published call list stands" in d for d in run.decisions), run.decisions
    listed = set(contract.read_csv(scoring.ranking_path(cfg), require_target=False)[contract.ID])
    new = contract.read_csv(cfg.input_folder_path / "new.csv", require_target=False)[contract.ID]
    assert new.isin(listed).all()
    assert any("no new data" in d for d in tick(cfg).decisions)  # and the next tick has nothing to redo


@pytest.mark.slow
def test_a_tick_with_no_new_data_imports_no_model_mail_or_http_code(make_config):
    """Cron runs the tick every 10 minutes: with nothing new it must stay a few standard-library
    imports (a run journal that imported the deployment code once made it 120x python -c pass)."""
    import subprocess
    import sys

    from conftest import ROOT
    cfg_path = make_config(inputs={"a.csv": client_csv(800, seed=1)}, test=client_csv(400, seed=3))
    subprocess.run([sys.executable, str(ROOT / "fullprocess.py"), "--config", str(cfg_path)],
                   check=True, capture_output=True)
    code = ("import runpy, sys\n"
            f"sys.argv = ['fullprocess.py', '--config', {str(cfg_path)!r}]\n"
            "try:\n"
            f"    runpy.run_path({str(ROOT / 'fullprocess.py')!r}, run_name='__main__')\n"
            "except SystemExit as exc:\n"
            "    assert not exc.code, exc.code\n"
            "heavy = ('pandas', 'numpy', 'sklearn', 'matplotlib', 'flask', 'sqlalchemy', 'smtplib',\n"
            "         'urllib.request', 'dataclasses', 'risk.loop.deployment', 'risk.model.training')\n"
            "print(sorted(m for m in heavy if m in sys.modules))\n")
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True, cwd=ROOT)
    assert "no new data" in out.stderr
    assert out.stdout.strip().splitlines()[-1] == "[]"
