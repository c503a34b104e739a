"""dbsource.py: a database as a source, on SQLite and on a real PostgreSQL server.

The PostgreSQL tests find the server through RISK_TEST_PG_URL (a role that may
create tables in its database; .ci/run sets one up). Without a reachable
server they skip with one line, except under CI=true, where they fail.
"""
from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pandas as pd
import pytest
from conftest import ROOT, client_csv, run_script

import dbsource as dbsource_script
from risk import config, history
from risk.data import contract, dbsource

PG_URL = os.environ.get(
    "RISK_TEST_PG_URL", "postgresql+psycopg://risk_test:risk-test-pw-7c1e@127.0.0.1:5432/risk_test")


def pg_engine():
    """An engine on the test server, or a skip (a failure under CI=true) if none answers."""
    import sqlalchemy as sa
    engine = sa.create_engine(PG_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            pass
    except sa.exc.OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL at RISK_TEST_PG_URL unreachable under CI: {str(exc.orig).splitlines()[0]}")
        pytest.skip("no PostgreSQL server reachable (set RISK_TEST_PG_URL)")
    return engine


class Database:
    """A client table the test may write to (the pipeline only reads it)."""

    def __init__(self, kind: str, tmp_path: Path) -> None:
        import sqlalchemy as sa
        self.kind = kind
        if kind == "sqlite":
            self.path = tmp_path / "db" / "clients.sqlite"
            self.path.parent.mkdir()
            self.url = f"sqlite:///{self.path}"
            self.engine = sa.create_engine(self.url)
            self.table = "clients"
            key = "id INTEGER PRIMARY KEY AUTOINCREMENT"
        else:
            self.engine = pg_engine()
            self.url = PG_URL
            self.table = f"clients_{uuid.uuid4().hex[:10]}"
            key = "id BIGSERIAL PRIMARY KEY"
        with self.engine.begin() as conn:
            # Text and numbers as a loosely kept table may hold them: the contract judges the rows.
            conn.execute(sa.text(
                f"CREATE TABLE {self.table} ({key}, corporation TEXT, lastmonth_activity TEXT, "
                "lastyear_activity TEXT, number_of_employees TEXT, exited TEXT, "
                "loaded_at TIMESTAMP NOT NULL DEFAULT CURRENT_TIMESTAMP)"))

    def add(self, rows: list[tuple]) -> None:
        import sqlalchemy as sa
        cols = contract.COLUMNS
        with self.engine.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {self.table} ({', '.join(cols)}) VALUES "
                                 f"({', '.join(':' + c for c in cols)})"),
                         [dict(zip(cols, r)) for r in rows])

    def add_clients(self, n: int, seed: int) -> pd.DataFrame:
        frame = contract.parse_csv(client_csv(n, seed), "generated")
        rows = [tuple(None if pd.isna(v) else (v if isinstance(v, str) else str(int(v))) for v in r)
                for r in frame[list(contract.COLUMNS)].itertuples(index=False)]
        self.add(rows)
        return frame

    def close(self) -> None:
        import sqlalchemy as sa
        if self.kind == "postgresql":
            with self.engine.begin() as conn:
                conn.execute(sa.text(f"DROP TABLE IF EXISTS {self.table}"))
        self.engine.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database(request, tmp_path, monkeypatch):
    db = Database(request.param, tmp_path)
    monkeypatch.setenv("RISK_TEST_DB_URL", db.url)
    yield db
    db.close()


def db_config(make_config, db: Database, order: str = "id", **extra) -> config.Config:
    keys = {"database_url": db.url, "database_table": db.table, "database_order_column": order}
    if db.kind == "postgresql":
        # A password never goes in config.json: through an environment variable here.
        keys = {**keys, "database_url": "", "database_url_env": "RISK_TEST_DB_URL"}
    return config.load(make_config(inputs={}, extra={**keys, **extra}))


# --- config ------------------------------------------------------------------------

@pytest.mark.parametrize("extra, message", [
    ({"database_url": "postgresql://u:hunter2@db/x", "database_table": "t", "database_order_column": "id"},
     "key 'database_url' holds a password"),
    ({"database_url": "sqlite:///x.db", "database_table": "t"}, "database_order_column"),
    ({"database_url": "sqlite:///x.db", "database_table": "t", "database_query": "select 1",
      "database_order_column": "id"}, "exactly one of 'database_table', 'database_query'"),
    ({"database_table": "t", "database_order_column": "id"}, "needs a database URL"),
    ({"database_url": "sqlite:///x.db", "database_url_env": "X", "database_table": "t",
      "database_order_column": "id"}, "both set"),
])
def test_bad_database_config_is_rejected_naming_the_key(make_config, extra, message):
    with pytest.raises(config.ConfigError) as err:
        config.load(make_config(extra=extra))
    assert message in str(err.value)
    assert "hunter2" not in str(err.value)


def test_url_file_must_be_readable_by_its_owner_only(make_config, tmp_path):
    secret = tmp_path / "db.url"
    secret.write_text("sqlite:///db.sqlite\n")
    secret.chmod(0o644)
    cfg = config.load(make_config(extra={"database_url_file": "db.url", "database_table": "clients",
                                         "database_order_column": "id"}))
    with pytest.raises(dbsource.DatabaseError, match="readable by others"):
        dbsource.database_url(cfg)
    secret.chmod(0o600)
    # A relative SQLite path is beside config.json, not in the working directory.
    assert dbsource.database_url(cfg) == f"sqlite:///{tmp_path / 'db.sqlite'}"


# --- reading past the watermark --------------------------------------------------------

def test_new_rows_are_read_once_and_only_after_being_marked_handled(make_config, database):
    cfg = db_config(make_config, database)
    first = database.add_clients(300, seed=1)
    assert dbsource.has_new_rows(cfg)
    batch = dbsource.new_batch(cfg)
    assert batch.rows_read == 300 and batch.rejected == []
    extract = contract.read_csv(batch.extract)
    pd.testing.assert_frame_equal(extract, first)
    # Not marked (the run was killed): the next tick reads the same rows into the same file.
    again = dbsource.new_batch(cfg)
    assert again.extract == batch.extract and again.rows_read == 300
    dbsource.mark_handled(cfg, again, "redeployed")
    assert not dbsource.has_new_rows(cfg)
    assert dbsource.new_batch(cfg) is None

    second = database.add_clients(50, seed=2)
    assert dbsource.has_new_rows(cfg)
    batch = dbsource.new_batch(cfg)
    assert batch.rows_read == 50 and batch.extract != again.extract
    pd.testing.assert_frame_equal(contract.read_csv(batch.extract), second)
    dbsource.mark_handled(cfg, batch, "no drift")
    assert not dbsource.has_new_rows(cfg)
    assert dbsource.extract_files(cfg) == [again.extract, batch.extract]
    marks = history.rows(cfg.history_path, "source_batches")
    assert [json.loads(m["watermark"]) for m in marks] == [300, 350]


def test_a_load_timestamp_can_be_the_watermark(make_config, database):
    cfg = db_config(make_config, database, order="loaded_at")
    database.add_clients(20, seed=1)
    batch = dbsource.new_batch(cfg)
    dbsource.mark_handled(cfg, batch, "redeployed")
    assert not dbsource.has_new_rows(cfg)
    time.sleep(1.1)  # CURRENT_TIMESTAMP has one-second resolution in SQLite
    database.add_clients(5, seed=2)
    assert dbsource.new_batch(cfg).rows_read == 5


def test_rows_breaking_the_contract_are_skipped_and_recorded(make_config, database):
    cfg = db_config(make_config, database)
    database.add([
        ("good1", "10", "120", "5", "0"),
        ("neg", "-3", "120", "5", "0"),
        ("text", "ten", "120", "5", "1"),
        ("good2", None, "80", "7", "1"),
        ("badtarget", "1", "2", "3", "2"),
        (None, "1", "2", "3", "0"),
        ("good3", "4", "50", "9", "0"),
    ])
    batch = dbsource.new_batch(cfg)
    assert batch.rows_read == 7
    kept = contract.read_csv(batch.extract)
    assert kept[contract.ID].tolist() == ["good1", "good2", "good3"]
    reasons = {r["key"]: (r["corporation"], r["reason"]) for r in batch.rejected}
    assert sorted(reasons) == [2, 3, 5, 6]
    assert reasons[2][0] == "neg" and "is negative" in reasons[2][1]
    assert "non-numeric value 'ten'" in reasons[3][1]
    assert "must be 0 or 1" in reasons[5][1]
    assert reasons[6][0] is None and "'corporation' is empty" in reasons[6][1]
    dbsource.mark_handled(cfg, batch, "no drift")
    (mark,) = history.rows(cfg.history_path, "source_batches")
    assert mark["rows_rejected"] == 4
    assert [r["key"] for r in json.loads(mark["rejected"])] == [2, 3, 5, 6]


def test_a_batch_of_only_bad_rows_writes_no_extract_and_is_not_read_again(make_config, database):
    cfg = db_config(make_config, database)
    database.add([("neg", "-1", "1", "1", "0")])
    batch = dbsource.new_batch(cfg)
    assert batch.extract is None and len(batch.rejected) == 1
    dbsource.mark_handled(cfg, batch, "no drift")
    assert history.rows(cfg.history_path, "source_batches")[0]["outcome"] == "rejected"
    assert not dbsource.has_new_rows(cfg)


def test_the_source_is_opened_read_only(make_config, database):
    import sqlalchemy as sa
    cfg = db_config(make_config, database)
    database.add_clients(10, seed=1)
    with dbsource._connection(dbsource.database_url(cfg)) as conn:
        with pytest.raises(sa.exc.DBAPIError, match="(?i)read-only|readonly"):
            conn.execute(sa.text(f"DELETE FROM {database.table}"))
    with database.engine.connect() as conn:
        assert conn.execute(sa.text(f"SELECT count(*) FROM {database.table}")).scalar() == 10


def test_a_query_can_be_the_source(make_config, database):
    cfg = db_config(make_config, database, database_table="",
                    database_query=f"SELECT * FROM {database.table} WHERE exited = '1'")
    frame = database.add_clients(200, seed=4)
    batch = dbsource.new_batch(cfg)
    assert batch.rows_read == int((frame[contract.TARGET] == 1).sum())
    bad = db_config(make_config, database, database_table="",
                    database_query=f"DELETE FROM {database.table}")
    with pytest.raises(dbsource.DatabaseError, match="must be a SELECT"):
        dbsource.has_new_rows(bad)


def test_ingestion_reads_database_extracts_after_the_input_files(make_config, tmp_path):
    from risk.data import ingestion
    db = Database("sqlite", tmp_path)
    db.add_clients(40, seed=7)
    path = make_config(inputs={"a.csv": client_csv(30, seed=6)},
                       extra={"database_url": db.url, "database_table": "clients",
                              "database_order_column": "id"})
    cfg = config.load(path)
    batch = dbsource.new_batch(cfg)
    result = ingestion.ingest(cfg)
    assert [f.name for f in result.files] == ["a.csv", batch.extract.name]
    assert result.rows == 70


@pytest.mark.slow
def test_the_no_new_rows_check_uses_the_standard_library_only(make_config, tmp_path):
    db = Database("sqlite", tmp_path)
    db.add_clients(5, seed=1)
    cfg_path = make_config(inputs={}, extra={"database_url": db.url, "database_table": "clients",
                                             "database_order_column": "id"})
    cfg = config.load(cfg_path)
    dbsource.mark_handled(cfg, dbsource.new_batch(cfg), "redeployed")
    code = ("import sys; from risk import config; from risk.data import dbsource; cfg = config.load(sys.argv[1]); "
            "assert dbsource.has_new_rows(cfg) is False; "
            "print([m for m in ('pandas', 'numpy', 'sqlalchemy') if m in sys.modules])")
    run = subprocess.run([sys.executable, "-c", code, str(cfg_path)], cwd=ROOT, capture_output=True,
                         text=True)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"
    db.add_clients(1, seed=2)  # the same check sees a new row
    run = subprocess.run([sys.executable, "-c", code.replace("is False", "is True"), str(cfg_path)],
                         cwd=ROOT, capture_output=True, text=True)
    assert run.returncode == 0, run.stderr


# --- whole runs: killed, unreachable, credentials ---------------------------------------

def read_log(cfg_path: Path) -> str:
    logs = cfg_path.parent / "logs" / "pipeline.log"
    return logs.read_text() if logs.exists() else ""


@pytest.mark.slow
def test_a_killed_run_leaves_the_watermark_and_the_next_run_reads_the_rows_again(make_config, tmp_path):
    db = Database("sqlite", tmp_path)
    db.add_clients(500, seed=1)
    cfg_path = make_config(inputs={}, extra={"database_url": db.url, "database_table": "clients",
                                             "database_order_column": "id", "api_port": 1})
    cfg = config.load(cfg_path)
    proc = subprocess.Popen([sys.executable, str(ROOT / "fullprocess.py"), "--config", str(cfg_path)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd="/")
    deadline = time.monotonic() + 60
    while not dbsource.extract_files(cfg) and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.005)
    proc.send_signal(signal.SIGKILL)  # mid-run: the rows are read, the decision not carried out
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert history.rows(cfg.history_path, "source_batches") == []

    run = run_script("fullprocess.py", "--config", str(cfg_path))
    assert run.returncode == 0, run.stderr
    (mark,) = history.rows(cfg.history_path, "source_batches")
    assert mark["rows_read"] == 500 and json.loads(mark["watermark"]) == 500
    assert (cfg.prod_deployment_path / "manifest.json").exists()

    run = run_script("fullprocess.py", "--config", str(cfg_path))
    assert run.returncode == 0 and "no new data" in run.stderr
    db.add_clients(100, seed=2)
    run = run_script("fullprocess.py", "--config", str(cfg_path))
    assert run.returncode == 0, run.stderr
    assert "new data: db_batch_" in run.stderr
    marks = history.rows(cfg.history_path, "source_batches")
    assert [m["rows_read"] for m in marks] == [500, 100]


@pytest.mark.slow
def test_unreachable_sqlite_database_exits_1_with_one_line(make_config, tmp_path):
    cfg_path = make_config(inputs={}, extra={"database_url": "sqlite:///missing/clients.sqlite",
                                             "database_table": "clients", "database_order_column": "id"})
    run = run_script("fullprocess.py", "--config", str(cfg_path))
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1
    assert "missing/clients.sqlite" in run.stderr and "unable to open database file" in run.stderr


@pytest.mark.slow
def test_unreachable_postgresql_exits_1_without_showing_the_password(make_config, tmp_path, monkeypatch):
    monkeypatch.setenv("RISK_DB_URL", "postgresql+psycopg://risk:S3cret-pw-4417@127.0.0.1:1/risk")
    cfg_path = make_config(inputs={}, extra={"database_url_env": "RISK_DB_URL",
                                             "database_table": "clients", "database_order_column": "id"})
    run = run_script("fullprocess.py", "--config", str(cfg_path))
    assert run.returncode == 1
    assert run.stderr.count("\n") == 1
    assert "risk:***@127.0.0.1:1" in run.stderr
    assert "S3cret-pw-4417" not in run.stderr + run.stdout + read_log(cfg_path)
    assert "S3cret-pw-4417" not in cfg_path.read_text()


@pytest.mark.slow
def test_postgresql_run_end_to_end_never_logs_the_password(make_config, tmp_path, monkeypatch):
    import sqlalchemy as sa
    db = Database("postgresql", tmp_path)
    try:
        db.add_clients(400, seed=1)
        secret = sa.engine.make_url(db.url).password
        url_file = tmp_path / "db.url"
        url_file.write_text(db.url)
        url_file.chmod(0o600)
        cfg_path = make_config(inputs={}, extra={"database_url_file": "db.url", "database_table": db.table,
                                                 "database_order_column": "id", "api_port": 1})
        run = run_script("fullprocess.py", "--config", str(cfg_path))
        assert run.returncode == 0, run.stderr
        assert "400 new row(s)" in run.stderr and ":***@" in run.stderr
        everything = run.stderr + run.stdout + read_log(cfg_path)
        everything += json.dumps(history.rows(config.load(cfg_path).history_path, "source_batches"))
        assert secret and secret not in everything
    finally:
        db.close()


def test_load_sqlite_command_fills_a_table_the_sqlite_config_reads(tmp_path):
    csvs = [tmp_path / "a.csv", tmp_path / "b.csv"]
    csvs[0].write_bytes(client_csv(30, seed=1))
    csvs[1].write_bytes(client_csv(20, seed=2))
    target = tmp_path / "sub" / "clients.sqlite"
    assert dbsource_script.main(["--load-sqlite", str(target), *map(str, csvs)]) == 0
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*), max(id) FROM clients").fetchone() == (50, 50)
    shipped = json.loads((ROOT / "config.sqlite.json").read_text())
    assert shipped["database_table"] == dbsource.SQLITE_TABLE
    assert config.load(ROOT / "config.sqlite.json").database_configured


# --- issue 22: order values, ties, updates, late commits, moved checkouts, odd names ----------

def _seq(db: Database, values: dict[int, object]) -> None:
    """Give table rows (by id) a value in a nullable order column `seq`, added if missing."""
    import sqlalchemy as sa
    with db.engine.begin() as conn:
        cols = [c["name"] for c in sa.inspect(conn).get_columns(db.table)]
        if "seq" not in cols:
            conn.execute(sa.text(f"ALTER TABLE {db.table} ADD COLUMN seq INTEGER"))
        for row_id, value in values.items():
            conn.execute(sa.text(f"UPDATE {db.table} SET seq = :v WHERE id = :i"), {"v": value, "i": row_id})


def test_a_null_in_the_order_column_is_reported_and_later_rows_are_still_read(make_config, database, caplog):
    cfg = db_config(make_config, database, order="seq")
    database.add_clients(6, seed=1)
    _seq(database, {1: 1, 2: 2, 3: None, 4: 3, 5: 4, 6: 5})
    batch = dbsource.new_batch(cfg)
    assert batch.rows_read == 5
    assert "1 row(s) with no value in the order column 'seq'" in caplog.text
    dbsource.mark_handled(cfg, batch, "redeployed")
    assert not dbsource.has_new_rows(cfg)
    database.add_clients(2, seed=2)
    _seq(database, {7: 6, 8: 7})
    assert dbsource.has_new_rows(cfg)
    assert dbsource.new_batch(cfg).rows_read == 2


def test_text_in_an_integer_order_column_skips_that_row_not_the_tick(make_config, tmp_path):
    db = Database("sqlite", tmp_path)
    cfg = db_config(make_config, db, order="seq")
    db.add_clients(4, seed=1)
    _seq(db, {1: 1, 2: "oops", 3: 2, 4: 3})
    batch = dbsource.new_batch(cfg)
    assert batch.rows_read == 4 and batch.watermark == 3  # read, one of them skipped
    [bad] = batch.rejected
    assert "order column 'seq'" in bad["reason"] and bad["key"] == "oops"
    dbsource.mark_handled(cfg, batch, "redeployed")
    assert not dbsource.has_new_rows(cfg)  # the odd row is not read again and again
    db.add_clients(1, seed=2)
    _seq(db, {5: 4})
    assert dbsource.new_batch(cfg).rows_read == 1


def test_rows_tying_the_watermark_and_rows_updated_in_place_are_read(make_config, database):
    cfg = db_config(make_config, database, order="seq")
    database.add_clients(3, seed=1)
    _seq(database, {1: 1, 2: 2, 3: 3})
    dbsource.mark_handled(cfg, dbsource.new_batch(cfg), "redeployed")
    database.add_clients(1, seed=2)
    _seq(database, {4: 3})  # ties the watermark
    tie = dbsource.new_batch(cfg)
    assert tie.rows_read == 1
    dbsource.mark_handled(cfg, tie, "kept")
    import sqlalchemy as sa
    with database.engine.begin() as conn:  # corrected in place: same row, same order value
        conn.execute(sa.text(f"UPDATE {database.table} SET lastmonth_activity = '7' WHERE id = 2"))
    assert dbsource.has_new_rows(cfg)
    updated = dbsource.new_batch(cfg)
    assert updated.rows_read == 1
    assert contract.read_csv(updated.extract)["lastmonth_activity"].tolist() == [7]


def test_a_row_committed_late_on_postgresql_is_not_lost(make_config, tmp_path, monkeypatch):
    import sqlalchemy as sa
    db = Database("postgresql", tmp_path)
    monkeypatch.setenv("RISK_TEST_DB_URL", db.url)
    try:
        cfg = db_config(make_config, db)
        cols = ", ".join(contract.COLUMNS)
        insert = sa.text(f"INSERT INTO {db.table} ({cols}) VALUES ('late', '1', '12', '3', '0')")
        with db.engine.connect() as slow:
            slow_tx = slow.begin()
            slow.execute(insert)  # takes id 1, not yet committed
            try:
                db.add([("early", "1", "12", "3", "0")])  # id 2, committed first
                first = dbsource.new_batch(cfg)
            finally:
                slow_tx.commit()
        assert first.rows_read == 1
        dbsource.mark_handled(cfg, first, "kept")
        assert dbsource.has_new_rows(cfg)
        late = dbsource.new_batch(cfg)
        assert contract.read_csv(late.extract)["corporation"].tolist() == ["late"]
    finally:
        db.close()


def test_moving_the_checkout_does_not_read_the_table_again(make_config, tmp_path):
    import shutil
    project = tmp_path / "project"
    project.mkdir()
    db = Database("sqlite", project)
    db.add_clients(5, seed=1)
    db.engine.dispose()
    path = make_config(folder=project, inputs={}, extra={
        "database_url": "sqlite:///db/clients.sqlite", "database_table": "clients", "database_order_column": "id"})
    cfg = config.load(path)
    dbsource.mark_handled(cfg, dbsource.new_batch(cfg), "redeployed")
    moved = tmp_path / "moved"
    shutil.move(project, moved)
    assert not dbsource.has_new_rows(config.load(moved / "config.json"))


def test_a_hash_in_the_sqlite_file_name_opens_that_file_read_only(make_config, tmp_path):
    db = Database("sqlite", tmp_path)
    db.add_clients(5, seed=1)
    db.engine.dispose()
    odd = tmp_path / "db" / "clients#1.sqlite"
    db.path.rename(odd)
    cfg = config.load(make_config(inputs={}, extra={
        "database_url": f"sqlite:///{odd}", "database_table": "clients", "database_order_column": "id"}))
    assert dbsource.has_new_rows(cfg)
    assert dbsource.new_batch(cfg).rows_read == 5
    assert sorted(p.name for p in odd.parent.iterdir()) == ["clients#1.sqlite"]  # no empty 'clients' made


@pytest.mark.slow
@pytest.mark.parametrize("url", ["postgresql://u:pw@localhost:notaport/db", "postgresql://u:pw@[::1/db",
                                 "nosuchdialect://x/y"])
def test_a_malformed_url_is_one_line_naming_the_url_without_its_password(make_config, url, monkeypatch):
    monkeypatch.setenv("RISK_TEST_DB_URL", url)
    cfg = config.load(make_config(inputs={}, extra={
        "database_url_env": "RISK_TEST_DB_URL", "database_table": "clients", "database_order_column": "id"}))
    with pytest.raises(dbsource.DatabaseError) as raised:
        dbsource.has_new_rows(cfg)
    assert "pw" not in str(raised.value) and "\n" not in str(raised.value)
    run = run_script("fullprocess.py", "--config", str(cfg.path))
    assert run.returncode == 1 and "Traceback" not in run.stderr and "pw@" not in run.stderr
