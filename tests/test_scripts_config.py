"""Every script takes --config (issue 22, item 17): generate_data.py and dbsource.py too."""
from __future__ import annotations

import sqlite3

import pytest
from conftest import client_csv, run_script


@pytest.mark.slow
def test_generate_data_puts_a_named_extract_into_the_configs_input_folder(make_config, tmp_path):
    cfg = make_config()
    run = run_script("generate_data.py", "--config", str(cfg), "--extract", "new.csv", "--rows", "50")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "in" / "new.csv").is_file()
    assert run.stdout.strip() == str(tmp_path / "in" / "new.csv")


@pytest.mark.slow
def test_generate_data_with_a_bad_config_is_one_line_exit_2(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text("{")
    run = run_script("generate_data.py", "--config", str(bad))
    assert run.returncode == 2
    assert run.stderr.startswith("error: ") and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.slow
def test_dbsource_loads_into_the_sqlite_file_of_the_config(make_config, tmp_path):
    cfg = make_config(extra={"database_url": "sqlite:///db/clients.sqlite", "database_table": "clients",
                             "database_order_column": "id"})
    (tmp_path / "db").mkdir()
    extract = tmp_path / "x.csv"
    extract.write_bytes(client_csv(40, seed=4))
    run = run_script("dbsource.py", "--config", str(cfg), str(extract))
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(tmp_path / "db" / "clients.sqlite") as conn:
        assert conn.execute("SELECT count(*) FROM clients").fetchone()[0] == 40


@pytest.mark.slow
def test_dbsource_with_a_config_without_a_database_says_so(make_config):
    run = run_script("dbsource.py", "--config", str(make_config()))
    assert run.returncode == 2
    assert "no SQLite database_url" in run.stderr and len(run.stderr.strip().splitlines()) == 1
