"""The team's own records: accounts, sessions, service tokens, owners, actions, holdout, digests, audit.

One SQLite file (config key `team_db_path`, default history/team.sqlite), kept
apart from the run history on purpose: the run history is the loop's
scratchpad (an operator may delete it to start the loop over, a crash of the
cron tick may hold its write lock), while what managers recorded must survive
every redeploy, re-published list and crash. Each write is one transaction
committed with synchronous=FULL before the caller acknowledges it, so an
acknowledged action survives a SIGKILL or a power cut (tests/test_team.py).

All SQL of these tables lives here, with `?` placeholders. Secrets are never
stored in clear: passwords as Werkzeug scrypt hashes (made by accounts.py),
session ids and service tokens as SHA-256 of 32 random bytes.
Standard library only.
"""
from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path
from typing import Any, Iterable, Iterator

from risk.history import HistoryError, now

SCHEMA = """
CREATE TABLE IF NOT EXISTS users (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    role TEXT NOT NULL,            -- 'manager', 'operator' or 'admin'
    password_hash TEXT NOT NULL,   -- werkzeug scrypt; never the password
    disabled INTEGER NOT NULL DEFAULT 0,
    failed INTEGER NOT NULL DEFAULT 0,   -- wrong passwords since the last good sign-in
    locked_until TEXT,             -- ISO time; sign-in refused until then
    created_at TEXT NOT NULL,
    email TEXT NOT NULL DEFAULT '',      -- where the manager's digest goes ('' none)
    digest INTEGER NOT NULL DEFAULT 1    -- 0: the manager opted out of the digest
);
CREATE TABLE IF NOT EXISTS sessions (
    id_hash TEXT PRIMARY KEY,      -- SHA-256 of the cookie's random value
    user_name TEXT NOT NULL,
    role TEXT NOT NULL,
    csrf TEXT NOT NULL,            -- the session's form token
    created_at TEXT NOT NULL,
    expires_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS login_failures (
    id INTEGER PRIMARY KEY,
    at REAL NOT NULL,              -- epoch seconds
    address TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS login_failures_at ON login_failures (address, at);
CREATE TABLE IF NOT EXISTS api_tokens (
    id INTEGER PRIMARY KEY,
    service TEXT NOT NULL UNIQUE,
    scope TEXT NOT NULL,           -- 'read' or 'write-actions'
    token_hash TEXT NOT NULL UNIQUE,
    disabled INTEGER NOT NULL DEFAULT 0,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS owners (
    corporation TEXT PRIMARY KEY,
    account_manager TEXT NOT NULL, -- a user name ('' clears an assignment)
    set_by TEXT NOT NULL,
    set_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS actions (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    by TEXT NOT NULL,              -- user name, or 'service:<name>' through the API
    corporation TEXT NOT NULL,
    called INTEGER NOT NULL DEFAULT 0,
    reached INTEGER NOT NULL DEFAULT 0,
    outcome TEXT NOT NULL DEFAULT '',    -- '', kept, at risk, leaving, no answer
    note TEXT NOT NULL DEFAULT '',
    snooze_until TEXT NOT NULL DEFAULT '' -- YYYY-MM-DD or ''
);
CREATE INDEX IF NOT EXISTS actions_corporation ON actions (corporation, id);
CREATE TABLE IF NOT EXISTS holdout (
    corporation TEXT PRIMARY KEY,
    list_key TEXT NOT NULL,        -- the list (its publication time) the client entered the top in
    band TEXT NOT NULL,            -- its band then
    held_out INTEGER NOT NULL,     -- 1: kept off the "to call" view
    assigned_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS digest_lists (
    list_key TEXT PRIMARY KEY,     -- a published list (its publication time) whose digests are done
    done_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS digests (
    list_key TEXT NOT NULL,
    manager TEXT NOT NULL,
    top TEXT NOT NULL,             -- JSON: the manager's top clients to call on that list, in order
    entered TEXT NOT NULL,         -- JSON: those new in it since the manager's previous digest
    status TEXT NOT NULL,          -- sending, sent, nothing new, failed: ..., no answer ...
    at TEXT NOT NULL,
    PRIMARY KEY (list_key, manager)
);
CREATE TABLE IF NOT EXISTS audit (
    id INTEGER PRIMARY KEY,
    at TEXT NOT NULL,
    who TEXT NOT NULL,
    what TEXT NOT NULL,            -- e.g. 'sign-in', 'sign-in refused', 'action', 'owner', 'user added'
    target TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
"""

# Columns added after a table's first release: an older database gets them when opened.
ADDED_COLUMNS = (("users", "email", "TEXT NOT NULL DEFAULT ''"), ("users", "digest", "INTEGER NOT NULL DEFAULT 1"))
ROLES = ("manager", "operator", "admin")
SCOPES = ("read", "write-actions")
OUTCOMES = ("kept", "at risk", "leaving", "no answer")


class TeamDbError(HistoryError):
    """The team's database could not be written or read."""


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating if needed) the team database at `path`; writes are durable on commit."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        conn = sqlite3.connect(path, timeout=30, isolation_level=None)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")  # committed = on disk: acknowledged actions survive a crash
        conn.executescript(SCHEMA)
        for table, column, definition in ADDED_COLUMNS:
            if column not in {r["name"] for r in conn.execute(f"PRAGMA table_info({table})")}:
                conn.execute(f"ALTER TABLE {table} ADD COLUMN {column} {definition}")
    except (sqlite3.Error, OSError) as exc:
        raise TeamDbError(f"cannot open the team database {path}: {exc}") from exc
    return conn


class TeamDb:
    """One connection per request or command; every method is one transaction."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.conn = connect(path)

    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> "TeamDb":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    @contextlib.contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, committed to disk on leaving; rolled back, as a TeamDbError, on failure."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            yield self.conn
            self.conn.execute("COMMIT")
        except (sqlite3.Error, OSError) as exc:
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise TeamDbError(f"{exc} writing {self.path}") from exc

    def _write(self, sql: str, params: Iterable[Any] = ()) -> sqlite3.Cursor:
        with self._transaction() as conn:
            return conn.execute(sql, list(params))

    def _all(self, sql: str, params: Iterable[Any] = ()) -> list[dict[str, Any]]:
        try:
            return [dict(r) for r in self.conn.execute(sql, list(params)).fetchall()]
        except sqlite3.Error as exc:
            raise TeamDbError(f"{exc} reading {self.path}") from exc

    def _one(self, sql: str, params: Iterable[Any] = ()) -> dict[str, Any] | None:
        found = self._all(sql, params)
        return found[0] if found else None

    # --- users ---------------------------------------------------------------------
    def user(self, name: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM users WHERE name = ?", (name,))

    def users(self) -> list[dict[str, Any]]:
        return self._all("SELECT id, name, role, disabled, failed, locked_until, created_at, email, digest"
                         " FROM users ORDER BY name")

    def has_users(self) -> bool:
        return self._one("SELECT 1 AS one FROM users WHERE disabled = 0 LIMIT 1") is not None

    def add_user(self, name: str, role: str, password_hash: str) -> None:
        self._write("INSERT INTO users (name, role, password_hash, created_at) VALUES (?, ?, ?, ?)",
                    (name, role, password_hash, now()))

    def set_user(self, name: str, **values: Any) -> int:
        allowed = {"role", "password_hash", "disabled", "failed", "locked_until", "email", "digest"}
        if not values or set(values) - allowed:
            raise ValueError(f"cannot set {sorted(set(values) - allowed)} on a user")
        sets = ", ".join(f"{k} = ?" for k in values)
        return self._write(f"UPDATE users SET {sets} WHERE name = ?", (*values.values(), name)).rowcount

    def count_failure(self, name: str, limit: int, locked_until: str) -> int:
        """Add a wrong password to `name`'s count; at `limit` lock it until `locked_until`. The new count."""
        self._write("UPDATE users SET failed = failed + 1 WHERE name = ?", (name,))
        row = self.user(name)
        failed = int(row["failed"]) if row else 0
        if row and failed >= limit:
            self._write("UPDATE users SET locked_until = ?, failed = 0 WHERE name = ?", (locked_until, name))
        return failed

    # --- sign-in failures by address -------------------------------------------------
    def failure_from(self, address: str, at: float) -> None:
        self._write("INSERT INTO login_failures (at, address) VALUES (?, ?)", (at, address))

    def failures_since(self, address: str, since: float) -> int:
        row = self._one("SELECT COUNT(*) AS n FROM login_failures WHERE address = ? AND at >= ?", (address, since))
        return int(row["n"]) if row else 0

    def forget_failures_before(self, before: float) -> None:
        self._write("DELETE FROM login_failures WHERE at < ?", (before,))

    # --- sessions --------------------------------------------------------------------
    def add_session(self, id_hash: str, user_name: str, role: str, csrf: str, expires_at: str) -> None:
        self._write("INSERT INTO sessions (id_hash, user_name, role, csrf, created_at, expires_at)"
                    " VALUES (?, ?, ?, ?, ?, ?)", (id_hash, user_name, role, csrf, now(), expires_at))

    def session(self, id_hash: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM sessions WHERE id_hash = ? AND expires_at > ?", (id_hash, now()))

    def end_session(self, id_hash: str) -> None:
        self._write("DELETE FROM sessions WHERE id_hash = ?", (id_hash,))

    def end_sessions_of(self, user_name: str) -> int:
        return self._write("DELETE FROM sessions WHERE user_name = ?", (user_name,)).rowcount

    def forget_expired_sessions(self) -> None:
        self._write("DELETE FROM sessions WHERE expires_at <= ?", (now(),))

    # --- service tokens --------------------------------------------------------------
    def add_token(self, service: str, scope: str, token_hash: str) -> None:
        self._write("INSERT INTO api_tokens (service, scope, token_hash, created_at) VALUES (?, ?, ?, ?)",
                    (service, scope, token_hash, now()))

    def token(self, token_hash: str) -> dict[str, Any] | None:
        return self._one("SELECT * FROM api_tokens WHERE token_hash = ? AND disabled = 0", (token_hash,))

    def tokens(self) -> list[dict[str, Any]]:
        return self._all("SELECT id, service, scope, disabled, created_at FROM api_tokens ORDER BY service")

    def has_tokens(self) -> bool:
        return self._one("SELECT 1 AS one FROM api_tokens WHERE disabled = 0 LIMIT 1") is not None

    def disable_token(self, service: str) -> int:
        return self._write("UPDATE api_tokens SET disabled = 1 WHERE service = ?", (service,)).rowcount

    # --- owners ----------------------------------------------------------------------
    def set_owner(self, corporation: str, manager: str, by: str) -> None:
        self._write("INSERT INTO owners (corporation, account_manager, set_by, set_at) VALUES (?, ?, ?, ?)"
                    " ON CONFLICT (corporation) DO UPDATE SET account_manager = excluded.account_manager,"
                    " set_by = excluded.set_by, set_at = excluded.set_at", (corporation, manager, by, now()))

    def owners(self) -> dict[str, str]:
        return {r["corporation"]: r["account_manager"]
                for r in self._all("SELECT corporation, account_manager FROM owners")}

    # --- actions ---------------------------------------------------------------------
    def add_action(self, row: dict[str, Any], audit_detail: str | None = None) -> int:
        """Record one action (columns of `actions` but id) and, given `audit_detail`, its audit line,
        in one transaction committed to disk before returning the action's id."""
        row = {"at": now(), **row}
        names = ", ".join(row)
        marks = ", ".join("?" for _ in row)
        with self._transaction() as conn:
            action_id = int(conn.execute(f"INSERT INTO actions ({names}) VALUES ({marks})",
                                         list(row.values())).lastrowid)
            if audit_detail is not None:
                conn.execute("INSERT INTO audit (at, who, what, target, detail) VALUES (?, ?, 'action', ?, ?)",
                             (row["at"], row["by"], row["corporation"][:200], audit_detail[:500]))
        return action_id

    def actions_of(self, corporation: str) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM actions WHERE corporation = ? ORDER BY id DESC", (corporation,))

    def all_actions(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM actions ORDER BY id")

    def action(self, action_id: int) -> dict[str, Any] | None:
        return self._one("SELECT * FROM actions WHERE id = ?", (action_id,))

    def joined_version(self) -> tuple[Any, ...]:
        """What changes the list's join besides actions: owners set on the page, holdout assignments."""
        row = self._one("SELECT (SELECT COUNT(*) || MAX(set_at) FROM owners) AS o, (SELECT COUNT(*) FROM holdout) AS h")
        return tuple(row.values()) if row else ()

    def rollback_open(self) -> None:
        """End a transaction a failed request left open."""
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def actions_after(self, action_id: int) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM actions WHERE id > ? ORDER BY id", (action_id,))

    def action_count(self) -> int:
        row = self._one("SELECT COALESCE(MAX(id), 0) AS n FROM actions")
        return int(row["n"]) if row else 0

    def latest_state(self) -> list[dict[str, Any]]:
        """Per client: its last action's time and author, when it was last called and reached,
        its last outcome, last note and latest snooze date (each the newest non-empty one)."""
        return self._all(
            "SELECT corporation, MAX(at) AS last_at,"
            " (SELECT by FROM actions b WHERE b.corporation = a.corporation ORDER BY id DESC LIMIT 1) AS last_by,"
            " MAX(CASE WHEN called = 1 THEN at END) AS called_at,"
            " MAX(CASE WHEN reached = 1 THEN at END) AS reached_at,"
            " (SELECT outcome FROM actions b WHERE b.corporation = a.corporation AND outcome != ''"
            "  ORDER BY id DESC LIMIT 1) AS outcome,"
            " (SELECT note FROM actions b WHERE b.corporation = a.corporation AND note != ''"
            "  ORDER BY id DESC LIMIT 1) AS note,"
            " (SELECT snooze_until FROM actions b WHERE b.corporation = a.corporation AND snooze_until != ''"
            "  ORDER BY id DESC LIMIT 1) AS snooze_until"
            " FROM actions a GROUP BY corporation")

    # --- holdout ---------------------------------------------------------------------
    def assign_holdout(self, rows: Iterable[tuple[str, str, str, int]]) -> None:
        """Record (corporation, list_key, band, held_out) for clients not assigned yet; one transaction."""
        rows = list(rows)
        if not rows:
            return
        stamp = now()
        with self._transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO holdout (corporation, list_key, band, held_out, assigned_at)"
                " VALUES (?, ?, ?, ?, ?)", [(*r, stamp) for r in rows])

    def holdout(self) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM holdout ORDER BY assigned_at, corporation")

    # --- managers' digests --------------------------------------------------------------
    def digest_done(self, list_key: str) -> bool:
        return self._one("SELECT 1 AS one FROM digest_lists WHERE list_key = ?", (list_key,)) is not None

    def claim_digests(self, list_key: str, rows: list[tuple[str, str, str, str]]) -> bool:
        """Mark `list_key`'s digests as done and record (manager, top, entered, status) for each,
        in one transaction; False (nothing written) if another run claimed them first."""
        stamp = now()
        with self._transaction() as conn:
            claimed = conn.execute("INSERT OR IGNORE INTO digest_lists (list_key, done_at) VALUES (?, ?)",
                                   (list_key, stamp)).rowcount == 1
            if claimed:
                conn.executemany("INSERT INTO digests (list_key, manager, top, entered, status, at)"
                                 " VALUES (?, ?, ?, ?, ?, ?)", [(list_key, *r, stamp) for r in rows])
        return claimed

    def digest_status(self, list_key: str, manager: str, status: str) -> None:
        self._write("UPDATE digests SET status = ?, at = ? WHERE list_key = ? AND manager = ?",
                    (status, now(), list_key, manager))

    def last_digest(self, manager: str) -> dict[str, Any] | None:
        """The manager's latest digest row (its top clients then), or None."""
        return self._one("SELECT * FROM digests WHERE manager = ? ORDER BY rowid DESC LIMIT 1", (manager,))

    def digests(self, list_key: str | None = None) -> list[dict[str, Any]]:
        if list_key is None:
            return self._all("SELECT * FROM digests ORDER BY at, manager")
        return self._all("SELECT * FROM digests WHERE list_key = ? ORDER BY manager", (list_key,))

    # --- audit -----------------------------------------------------------------------
    def audit(self, who: str, what: str, target: str = "", detail: str = "") -> None:
        self._write("INSERT INTO audit (at, who, what, target, detail) VALUES (?, ?, ?, ?, ?)",
                    (now(), who, what, target[:200], detail[:500]))

    def audit_rows(self, limit: int = 50) -> list[dict[str, Any]]:
        return self._all("SELECT * FROM audit ORDER BY id DESC LIMIT ?", (limit,))
