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
    f1 REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS deployments (
    id INTEGER PRIMARY KEY,
    run_at TEXT NOT NULL,
    action TEXT NOT NULL,          -- 'deploy' or 'rollback'
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
    ingestion_s REAL NOT NULL,     -- median wall time of ingestion.py
    training_s REAL NOT NULL,      -- median wall time of training.py
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
    return conn


def _columns(conn: sqlite3.Connection, table: str) -> set[str]:
    # Table names can't be `?` parameters; accept only plain identifiers.
    if not table.isidentifier():
        raise ValueError(f"bad history table name {table!r}")
    cols = {row["name"] for row in conn.execute(f"PRAGMA table_info({table})")}
    if not cols:
        raise ValueError(f"unknown history table '{table}'")
    return cols


def record(path: Path, table: str, rows: Iterable[dict[str, Any]]) -> None:
    """Append `rows` to `table` in one transaction; `run_at` defaults to now."""
    conn = connect(path)
    try:
        allowed = _columns(conn, table)
        with conn:  # one transaction: all rows or none
            for row in rows:
                row = {"run_at": now(), **row}
                bad = set(row) - allowed
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


def last_row(path: Path, table: str, **equal: Any) -> dict[str, Any] | None:
    """The newest row of `table` whose columns equal `equal` (None if none)."""
    if not path.exists():
        return None
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
