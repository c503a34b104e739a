"""The run history: one SQLite file recording what ran, when, on what, with which result.

Each step adds rows to its own table through `record`; a write is one
transaction, so a crash never leaves half a record. All SQL lives here.
Standard library only.
"""
from __future__ import annotations

import sqlite3
import time
from pathlib import Path
from typing import Any, Iterable

from risk.errors import StepError

SCHEMA = """
CREATE TABLE IF NOT EXISTS ingestions (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    run_id TEXT NOT NULL,
    file TEXT NOT NULL,
    sha256 TEXT,
    rows_read INTEGER,
    rows_kept INTEGER,
    status TEXT NOT NULL,          -- 'ingested' or 'rejected'
    reason TEXT
);
CREATE TABLE IF NOT EXISTS trainings (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    model_path TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    data_sha256 TEXT NOT NULL,
    rows INTEGER NOT NULL,
    duration_s REAL NOT NULL,
    versions TEXT NOT NULL,        -- JSON: library versions
    params TEXT NOT NULL           -- JSON: model parameters
);
CREATE TABLE IF NOT EXISTS scores (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    model_sha256 TEXT NOT NULL,
    data_path TEXT NOT NULL,
    data_sha256 TEXT NOT NULL,
    rows INTEGER NOT NULL,
    f1 REAL NOT NULL,
    precision_at_n REAL,           -- share of leavers among the N riskiest test clients
    recall_at_n REAL,              -- share of all test leavers among those N
    n INTEGER,                     -- N: the config's call_capacity (fewer if the data are smaller)
    base_rate REAL                 -- share of test clients who left
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    action TEXT NOT NULL,          -- 'deploy', 'rollback' or 'forward' (deployment.py --to)
    version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    f1 REAL,
    release_path TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS diagnostics (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    data_sha256 TEXT NOT NULL,     -- finaldata.csv the statistics describe
    rows INTEGER NOT NULL,
    f1 REAL,                       -- the deployed model's recorded score
    missing_percent REAL,          -- percent of all cells of finaldata.csv that are NA
    ingestion_s REAL,              -- seconds ingestion took (NULL: not recorded)
    training_s REAL,               -- seconds training took (NULL: not recorded)
    outdated INTEGER NOT NULL,     -- requirements behind the package index
    unknown INTEGER NOT NULL,      -- requirements the index gave no answer for
    payload TEXT NOT NULL          -- JSON: the whole result of diagnostics.run_all
);
CREATE TABLE IF NOT EXISTS drift_checks (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    test TEXT NOT NULL,            -- bootstrap, raw, parametric, non-parametric
    drift INTEGER NOT NULL,        -- 1 when the test found model drift
    new_f1 REAL NOT NULL,          -- deployed model's F1 on the new rows
    reference_f1 REAL NOT NULL,    -- what it was compared with
    threshold REAL,
    p_value REAL,
    rows INTEGER NOT NULL,
    model_version INTEGER NOT NULL,
    files TEXT NOT NULL,           -- JSON: the new files checked
    data_drift TEXT NOT NULL       -- JSON: per feature PSI, KS statistic and p-value
);
CREATE TABLE IF NOT EXISTS handled_files (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    outcome TEXT NOT NULL          -- 'redeployed', 'no drift' or 'rejected'
);
CREATE TABLE IF NOT EXISTS call_lists (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,          -- when it was published
    model_version INTEGER NOT NULL,
    model_sha256 TEXT NOT NULL,
    clients INTEGER NOT NULL,      -- current clients ranked
    left_count INTEGER NOT NULL,   -- on the previous list, not on this one
    new_count INTEGER NOT NULL,    -- new to the top N
    n INTEGER NOT NULL             -- N, the call capacity
);
CREATE TABLE IF NOT EXISTS client_risk (
    id INTEGER PRIMARY KEY,
    list_id INTEGER NOT NULL,      -- call_lists.id
    published_at TEXT NOT NULL,
    model_version INTEGER NOT NULL,
    corporation TEXT NOT NULL,
    rank INTEGER NOT NULL,
    probability REAL NOT NULL,
    band TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS client_risk_list ON client_risk (list_id);
CREATE INDEX IF NOT EXISTS client_risk_corporation ON client_risk (corporation);
CREATE TABLE IF NOT EXISTS quarantine (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    action TEXT NOT NULL,          -- 'quarantined' (by the quality gate) or 'released' (by the operator)
    reason TEXT NOT NULL           -- one line: what looked implausible, or who released it
);
CREATE TABLE IF NOT EXISTS challenger_decisions (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    rule TEXT NOT NULL,            -- redeploy_rule: 'challenger' or 'drift'
    decision TEXT NOT NULL,        -- 'deploy', 'keep' or 'wait' (too few fresh labelled rows)
    reason TEXT NOT NULL,
    champion_version INTEGER NOT NULL,
    champion_f1 REAL,              -- on the held-out fresh rows
    challenger_f1 REAL,
    gain REAL,                     -- challenger minus champion
    p_value REAL,                  -- one-sided paired bootstrap: gain <= 0
    rows INTEGER NOT NULL,         -- held-out fresh rows compared on
    change_found INTEGER NOT NULL, -- model drift or a base-rate shift: the training window restarts
    base_rate TEXT NOT NULL,       -- JSON: observed and expected exits, z, p
    window TEXT NOT NULL,          -- JSON: the extracts the challenger was trained on
    new_files TEXT NOT NULL,       -- JSON: this run's new extracts
    deployed_version INTEGER       -- the release made, when deployed
);
CREATE TABLE IF NOT EXISTS estimates (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    name TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    kind TEXT NOT NULL,            -- 'estimate' (labels unknown) or 'realized' (labels arrived)
    model_version INTEGER NOT NULL,
    rows INTEGER NOT NULL,
    f1 REAL,                       -- estimated (CBPE) or realized F1
    precision_at_n REAL,
    top_n INTEGER NOT NULL,
    estimated_f1 REAL              -- on a 'realized' row: what was estimated before
);
CREATE TABLE IF NOT EXISTS notifications (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    key TEXT NOT NULL,             -- the event's key: told once (notify.py)
    kind TEXT NOT NULL,            -- failed, quarantine, redeploy, stale
    title TEXT NOT NULL,
    channels TEXT NOT NULL         -- JSON: {channel: "sent" or why not}
);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,          -- start
    ended_at TEXT NOT NULL,
    exit_code INTEGER NOT NULL,
    dry_run INTEGER NOT NULL,
    decisions TEXT NOT NULL        -- JSON: each decision and its reason, in order
);
CREATE TABLE IF NOT EXISTS source_batches (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    source TEXT NOT NULL,          -- the database (password masked), table or query, order column
    extract TEXT,                  -- the extract file its valid rows were written to, if any
    watermark TEXT NOT NULL,       -- JSON: the largest ordering value handled (the next batch is past it)
    kind TEXT NOT NULL,            -- the watermark's type: int, float, str, datetime, date
    rows_read INTEGER NOT NULL,
    rows_rejected INTEGER NOT NULL,
    rejected TEXT NOT NULL,        -- JSON: [{key, corporation, reason}] of each row skipped
    outcome TEXT NOT NULL          -- 'redeployed', 'no drift' or 'rejected'
);
"""


class HistoryError(StepError):
    """The run history could not be written or read (disk full, read-only, corrupt file)."""


def _failure(path: Path, exc: Exception, doing: str) -> HistoryError:
    why = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    if isinstance(exc, sqlite3.Error) and _disk_full(path):
        # SQLite says "disk I/O error" when its journal can't grow: say what it is.
        why = f"no space left on device ({why})"
    return HistoryError(f"{why[:1].lower()}{why[1:]} {doing} {path}")


def _disk_full(path: Path) -> bool:
    import os
    try:
        return os.statvfs(path.parent).f_bavail == 0
    except OSError:
        return False
# Columns added after a table first shipped: CREATE TABLE IF NOT EXISTS leaves an
# older history file's table as it was, so connect() adds what is missing.
ADDED_COLUMNS: tuple[tuple[str, str, str], ...] = (
    ("scores", "precision_at_n", "REAL"),
    ("scores", "recall_at_n", "REAL"),
    ("scores", "n", "INTEGER"),
    ("scores", "base_rate", "REAL"),
    # The list's own measure on the same rows (scoring.list_measure).
    ("scores", "exits_in_top", "INTEGER"),
    ("scores", "auc", "REAL"),
    ("scores", "calibration_error", "REAL"),
    ("call_lists", "finished", "INTEGER"),
    # JSON: the list's measure on the freshest labelled rows (scoring.fresh_measure, no chart points).
    ("call_lists", "measure", "TEXT"),  # 0 until the run that published it finished; NULL: older
    ("source_batches", "seen", "TEXT"),  # JSON: hashes of the rows in the look-back window (dbsource.py)
)


def now() -> str:
    """The current UTC time as ISO 8601, the format of every `run_at`."""
    # time, not datetime: the cron tick that finds no new data saves the import.
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime())


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the history database at `path`."""
    path.parent.mkdir(parents=True, exist_ok=True)
    # Cron runs and the API may touch the file at once: wait for locks, don't fail.
    conn = sqlite3.connect(path, timeout=30)
    conn.row_factory = sqlite3.Row
    conn.execute("PRAGMA journal_mode=WAL")
    conn.executescript(SCHEMA)
    for table, column, kind in ADDED_COLUMNS:
        if column not in _columns(conn, table):
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")
    _allow_null_timings(conn)
    return conn


def _allow_null_timings(conn: sqlite3.Connection) -> None:
    """Rebuild an older `diagnostics` table whose timings were NOT NULL (SQLite can't alter that)."""
    info = {r["name"]: r["notnull"] for r in conn.execute("PRAGMA table_info(diagnostics)")}
    if not info.get("ingestion_s"):
        return
    with conn:
        conn.execute("ALTER TABLE diagnostics RENAME TO diagnostics_old")
        conn.executescript(SCHEMA)  # the new diagnostics table
        names = ", ".join(info)
        conn.execute(f"INSERT INTO diagnostics ({names}) SELECT {names} FROM diagnostics_old")
        conn.execute("DROP TABLE diagnostics_old")


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    # Table names can't be `?` parameters; accept only plain identifiers.
    if not table.isidentifier():
        raise ValueError(f"bad history table name {table!r}")
    cols = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
    if not cols:
        raise ValueError(f"unknown history table '{table}'")
    return cols


def record(path: Path, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Append `rows` to `table` in one transaction; `run_at` defaults to now.

    A full disk or read-only folder raises HistoryError naming the file: the
    transaction is rolled back, earlier records stay.
    """
    record_all(path, {table: rows})


def record_all(path: Path, tables: dict[str, Iterable[dict[str, Any]]]) -> None:
    """Append the rows of several tables in one transaction (as `record`): all of them or none."""
    try:
        _record(path, tables)
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, "writing") from exc


def _record(path: Path, tables: dict[str, Iterable[dict[str, Any]]]) -> None:
    conn = connect(path)
    try:
        allowed = {table: _columns(conn, table) for table in tables}
        with conn:  # one transaction: all rows or none
            for table, rows in tables.items():
                for row in rows:
                    row = {"run_at": now(), **row}
                    bad = set(row) - allowed[table]
                    if bad:
                        raise ValueError(f"history table '{table}' has no column {sorted(bad)[0]}")
                    names = ", ".join(row)
                    marks = ", ".join("?" for _ in row)
                    conn.execute(f"INSERT INTO {table} ({names}) VALUES ({marks})", list(row.values()))
    finally:
        conn.close()


def rows(path: Path, table: str, limit: int | None = None) -> list[dict[str, Any]]:
    """The rows of `table`, oldest first (the newest `limit` if given)."""
    if not path.exists():
        return []
    try:
        return _rows(path, table, limit)
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, "reading") from exc


def _rows(path: Path, table: str, limit: int | None) -> list[dict[str, Any]]:
    conn = connect(path)
    try:
        _columns(conn, table)
        sql = f"SELECT * FROM {table} ORDER BY id DESC"
        params: list[Any] = []
        if limit is not None:
            sql += " LIMIT ?"
            params.append(limit)
        return [dict(r) for r in reversed(conn.execute(sql, params).fetchall())]
    finally:
        conn.close()


# --- published call lists (scoring.publish_call_list) ------------------------------

def record_call_list(path: Path, summary: dict[str, Any],
                     clients: Iterable[tuple[str, int, float, str]]) -> int:
    """Record one published call list and its clients (corporation, rank, probability, band).

    `summary` holds the columns of `call_lists` (run_at = when published); with
    `finished` 0 the list counts as a previous list only once `finish_call_lists`
    marks it (its run finished). A list left unfinished by a killed run is dropped
    when the next is recorded. One transaction: a crash leaves the previous list
    the latest. Returns the list's id.
    A full disk or read-only folder raises HistoryError naming the file.
    """
    try:
        return _record_call_list(path, summary, clients)
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, "writing") from exc


def _record_call_list(path: Path, summary: dict[str, Any],
                      clients: Iterable[tuple[str, int, float, str]]) -> int:
    conn = connect(path)
    try:
        with conn:
            conn.execute("DELETE FROM client_risk WHERE list_id IN (SELECT id FROM call_lists WHERE finished = 0)")
            conn.execute("DELETE FROM call_lists WHERE finished = 0")
            names = ", ".join(summary)
            marks = ", ".join("?" for _ in summary)
            cur = conn.execute(f"INSERT INTO call_lists ({names}) VALUES ({marks})", list(summary.values()))
            list_id = cur.lastrowid
            conn.executemany(
                "INSERT INTO client_risk (list_id, published_at, model_version, corporation, rank,"
                " probability, band) VALUES (?, ?, ?, ?, ?, ?, ?)",
                ((list_id, summary["run_at"], summary["model_version"], *c) for c in clients),
            )
        return int(list_id)
    finally:
        conn.close()


def finish_call_lists(path: Path) -> None:
    """Mark the lists a run published as finished: from now on they are the previous list."""
    try:
        conn = connect(path)
        try:
            with conn:
                conn.execute("UPDATE call_lists SET finished = 1 WHERE finished = 0")
        finally:
            conn.close()
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, "writing") from exc


def latest_call_list(path: Path) -> tuple[dict[str, Any], list[tuple[str, int, float, str]]] | None:
    """The newest call list a finished run published: its `call_lists` row and its clients, by rank; or None."""
    if not path.exists():
        return None
    try:
        return _latest_call_list(path)
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, "reading") from exc


def _latest_call_list(path: Path) -> tuple[dict[str, Any], list[tuple[str, int, float, str]]] | None:
    conn = connect(path)
    try:
        head = conn.execute("SELECT * FROM call_lists WHERE finished IS NOT 0 ORDER BY id DESC LIMIT 1").fetchone()
        if head is None:
            return None
        clients = conn.execute(
            "SELECT corporation, rank, probability, band FROM client_risk WHERE list_id = ? ORDER BY rank",
            (head["id"],),
        ).fetchall()
        return dict(head), [tuple(c) for c in clients]
    finally:
        conn.close()


def client_risk(path: Path, corporation: str) -> list[dict[str, Any]]:
    """One client's row of each published call list it was on, oldest first."""
    if not path.exists():
        return []
    try:
        return _client_risk(path, corporation)
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, "reading") from exc


def _client_risk(path: Path, corporation: str) -> list[dict[str, Any]]:
    conn = connect(path)
    try:
        found = conn.execute(
            "SELECT published_at, model_version, rank, probability, band FROM client_risk"
            " WHERE corporation = ? ORDER BY list_id", (corporation,),
        ).fetchall()
        return [dict(r) for r in found]
    finally:
        conn.close()


def last_row(path: Path, table: str, **equal: Any) -> dict[str, Any] | None:
    """The newest row of `table` whose columns equal `equal` (None if none)."""
    if not path.exists():
        return None
    try:
        return _last_row(path, table, equal)
    except (sqlite3.Error, OSError) as exc:
        raise _failure(path, exc, "reading") from exc


def _last_row(path: Path, table: str, equal: dict[str, Any]) -> dict[str, Any] | None:
    conn = connect(path)
    try:
        cols = _columns(conn, table)
        bad = set(equal) - cols
        if bad:
            raise ValueError(f"history table '{table}' has no column {sorted(bad)[0]}")
        where = " AND ".join(f"{name} = ?" for name in equal) or "1"
        row = conn.execute(f"SELECT * FROM {table} WHERE {where} ORDER BY id DESC LIMIT 1",
                           list(equal.values())).fetchone()
        return dict(row) if row else None
    finally:
        conn.close()
