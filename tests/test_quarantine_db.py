"""A quarantined database batch stays out, and the page's release command releases it (issue 22, item 2)."""
from __future__ import annotations

import shlex

import numpy as np
import pandas as pd
import pytest
from conftest import client_csv
from test_dbsource import Database

import fullprocess
import generate_data
from risk import config, history
from risk.data import contract
from risk.reports import report_facts


def tick(cfg):
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    return run.decisions


def rows_of(frame: pd.DataFrame) -> list[tuple]:
    return [tuple(None if pd.isna(v) else (v if isinstance(v, str) else str(int(v))) for v in r)
            for r in frame[list(contract.COLUMNS)].itertuples(index=False)]


@pytest.mark.slow
def test_a_quarantined_database_batch_is_not_ingested_by_the_next_tick_and_can_be_released(
        make_config, tmp_path, monkeypatch):
    monkeypatch.setattr(fullprocess, "report", lambda cfg, run: None)
    db = Database("sqlite", tmp_path)
    db.add_clients(1500, seed=1)
    cfg = config.load(make_config(inputs={"a.csv": client_csv(1500, seed=2)}, test=client_csv(2000, seed=3),
                                  extra={"database_url": db.url, "database_table": "clients",
                                         "database_order_column": "id", "min_labelled_rows": 200}))
    tick(cfg)  # bootstrap on the folder and the first batch
    db.add(rows_of(generate_data.clients(np.random.default_rng(7), 2000, "units")))
    decisions = tick(cfg)
    [line] = [d for d in decisions if d.startswith("quarantined db_batch_000002.csv")]
    db.add_clients(1500, seed=9)
    tick(cfg)  # new good rows: the quarantined batch must stay out
    ingested = cfg.ingestedfiles_path.read_text().split()
    assert "db_batch_000002.csv" not in ingested and "db_batch_000003.csv" in ingested

    [held] = report_facts.held_back(cfg.history_path)
    command = shlex.split(report_facts.release_command(held["name"]))
    assert fullprocess.main([*command[command.index("--release-quarantined"):], "--config", str(cfg.path)]) == 0
    tick(cfg)
    assert "db_batch_000002.csv" in cfg.ingestedfiles_path.read_text().split()
    assert history.rows(cfg.history_path, "quarantine")[-1]["action"] == "released"
