"""A database as a source: the rows past the last handled watermark, as one more extract.

The work of `dbsource.py` (its command line lives there).
"""
from __future__ import annotations

import json
import logging
import os
import re
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING, Any, NamedTuple

from risk import artifacts, history
from risk.data import dbwindow, sources
from risk.errors import StepError

if TYPE_CHECKING:
    import pandas as pd

    from risk import config

log = logging.getLogger("dbsource")

EXTRACT_PREFIX = "db_batch_"
SQLITE_TABLE = "clients"  # what --load-sqlite creates
SQLITE_URL = re.compile(r"^sqlite(\+pysqlite)?:///(?P<path>[^?]*)(\?.*)?$")


class DatabaseError(StepError):
    """The database source is unreachable, misconfigured or returned unusable rows."""


class Batch(NamedTuple):
    """New rows read from the database: where the valid ones went and what was skipped."""
    source: str                    # masked URL, table or query, order column
    extract: Path | None           # None when every row broke the contract
    watermark: Any                 # largest order value read
    rows_read: int
    rejected: list[dict[str, Any]]  # {key, corporation, reason}
    seen: list[str] = []           # hashes of the rows the next read's window holds (dbwindow.py)


def _sqlite_uri(path: Path) -> str:
    # as_uri() percent-encodes '#' and '?': a '#' in the name would otherwise end the
    # path, drop mode=ro and open (creating) another file read-write.
    return f"{path.as_uri()}?mode=ro"


# --- the URL, without leaking its secret ---------------------------------------

def database_url(cfg: config.Config) -> str:
    """The configured URL, from config.json, the environment or an owner-only file."""
    if cfg.database_url:
        url = cfg.database_url
    elif cfg.database_url_env:
        url = os.environ.get(cfg.database_url_env, "").strip()
        if not url:
            raise DatabaseError(f"environment variable {cfg.database_url_env} (key 'database_url_env') "
                                "is not set")
    else:
        path = (cfg.path.parent / cfg.database_url_file).resolve()
        try:
            mode = path.stat().st_mode
            if mode & 0o077:
                raise DatabaseError(f"{path}: readable by others (mode {mode & 0o777:o}); "
                                    "`chmod 600` it (key 'database_url_file')")
            url = path.read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise DatabaseError(f"{path}: cannot read database URL ({exc.strerror}) "
                                "(key 'database_url_file')") from None
        if not url:
            raise DatabaseError(f"{path}: empty (key 'database_url_file')")
    match = SQLITE_URL.match(url)
    if match and match["path"] and match["path"] != ":memory:":
        # cron starts in the home folder: a relative SQLite path means beside config.json.
        return f"sqlite:///{(cfg.path.parent / match['path']).resolve()}"
    return url


def sqlite_path(url: str) -> Path | None:
    """The file of a SQLite URL (as database_url returns it); None for other databases."""
    match = SQLITE_URL.match(url)
    return Path(match["path"]) if match else None


def masked(url: str) -> str:
    """The URL as logs may show it: the password replaced by ***."""
    if sqlite_path(url) is not None:
        return url  # a SQLite URL holds no password; and no SQLAlchemy import on the cheap path
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return "<unparsable database URL>"


def source_name(cfg: config.Config, url: str, legacy: bool = False) -> str:
    """What the watermark belongs to: another table, query or database starts afresh.

    A SQLite file inside the project is named relative to it, so moving the checkout
    keeps its watermark; `legacy` gives the absolute name earlier versions recorded.
    """
    what = cfg.database_table or "query " + artifacts.sha256_bytes(cfg.database_query.encode())[:12]
    where = masked(url)
    path = sqlite_path(url)
    if path is not None and not legacy and path.is_relative_to(cfg.path.parent):
        where = f"sqlite:///{path.relative_to(cfg.path.parent)} (beside config.json)"
    return f"{where} {what} by {cfg.database_order_column}"


def _failure(url: str, exc: BaseException) -> DatabaseError:
    """One line for a driver error, with any trace of the password removed."""
    reason = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    text = reason[0] if reason else type(exc).__name__
    if sqlite_path(url) is None:
        from sqlalchemy.engine import make_url
        try:
            secret = make_url(url).password
        except Exception:  # noqa: BLE001 - any parse failure: nothing more to hide
            secret = None
        if secret:
            text = text.replace(str(secret), "***")
    return DatabaseError(f"database {masked(url)}: {text}")


# --- SQL ----------------------------------------------------------------------

def _source(cfg: config.Config) -> str:
    """The table, or the query in parentheses, to select from."""
    if cfg.database_table:
        return dbwindow.quote(cfg.database_table)
    query = cfg.database_query.strip().rstrip(";")
    if not re.match(r"(?is)^\s*(select|with)\b", query):
        raise DatabaseError("key 'database_query' must be a SELECT query")
    return f"({query})"


# --- the watermark --------------------------------------------------------------

def _encode(value: Any) -> tuple[str, str]:
    """A watermark as (JSON, kind) for the run history."""
    import datetime as dt
    if hasattr(value, "item"):  # a numpy scalar
        value = value.item()
    if isinstance(value, dt.datetime):
        return json.dumps(value.isoformat()), "datetime"
    if isinstance(value, dt.date):
        return json.dumps(value.isoformat()), "date"
    for kind, types in (("int", int), ("float", float), ("str", str)):
        if isinstance(value, types):
            return json.dumps(value), kind
    raise DatabaseError(f"order column values of type {type(value).__name__} are not supported")


def _decode(text: str, kind: str) -> Any:
    value = json.loads(text)
    if kind in ("datetime", "date"):
        import datetime as dt
        return getattr(dt, kind).fromisoformat(value)
    return value


class Handled(NamedTuple):
    """What the run history says of a source: where the next batch starts."""
    count: int                # the newest batch number of any source
    watermark: Any            # the largest order value handled, or None
    kind: str | None          # its type
    seen: set[str] | None     # hashes of the rows in the window (None: an older record, none kept)


def handled_batches(cfg: config.Config, url: str) -> Handled:
    """The handled state of this source (under its name, or the absolute name older versions used)."""
    newest = history.last_row(cfg.history_path, "source_batches")
    if newest is None:
        return Handled(0, None, None, None)
    last = None
    for name in (source_name(cfg, url), source_name(cfg, url, legacy=True)):
        last = newest if newest["source"] == name else history.last_row(cfg.history_path, "source_batches",
                                                                         source=name)
        if last is not None:
            break
    if last is None:
        return Handled(newest["id"], None, None, None)
    seen = set(json.loads(last["seen"])) if last.get("seen") is not None else None
    return Handled(newest["id"], _decode(last["watermark"], last["kind"]), last["kind"], seen)


def read_window(cfg: config.Config, url: str, handled: Handled) -> tuple[list[str], list[tuple[Any, ...]]]:
    """(column names, rows) of the look-back window (dbwindow.py); SQLite: standard library only."""
    sql = dbwindow.select(_source(cfg), cfg.database_order_column, handled.watermark is not None,
                          handled.seen is not None)
    params = {"watermark": handled.watermark, "lookback": cfg.database_lookback_rows}
    path = sqlite_path(url)
    if path is not None:
        try:
            conn = sqlite3.connect(_sqlite_uri(path), uri=True, timeout=30)
            try:
                cur = conn.execute(sql, params)
                return [d[0] for d in cur.description], [tuple(r) for r in cur.fetchall()]
            finally:
                conn.close()
        except sqlite3.Error as exc:
            raise DatabaseError(f"database {url}: {exc}") from None
    with _connection(url) as conn:
        import sqlalchemy as sa
        try:
            result = conn.execute(sa.text(sql), params)
            return list(result.keys()), [tuple(r) for r in result.fetchall()]
        except sa.exc.SQLAlchemyError as exc:
            raise _failure(url, exc) from None


def _unseen(rows: list[tuple[Any, ...]], seen: set[str] | None) -> list[bool]:
    return [seen is None or dbwindow.row_hash(r) not in seen for r in rows]


def has_new_rows(cfg: config.Config) -> bool:
    """Whether the window holds a row (or a row's version) not handled yet (SQLite: standard library only)."""
    url = database_url(cfg)
    _, rows = read_window(cfg, url, handled := handled_batches(cfg, url))
    return any(_unseen(rows, handled.seen))


# --- reading ------------------------------------------------------------------

class _connection:
    """A read-only SQLAlchemy connection; driver errors become one DatabaseError line."""

    def __init__(self, url: str) -> None:
        self.url = url

    def __enter__(self) -> Any:
        import sqlalchemy as sa
        from sqlalchemy.pool import NullPool

        path = sqlite_path(self.url)
        try:
            if path is not None:
                def read_only() -> sqlite3.Connection:
                    return sqlite3.connect(_sqlite_uri(path), uri=True, timeout=30)
                engine = sa.create_engine("sqlite://", creator=read_only, poolclass=NullPool)
            else:
                url = sa.engine.make_url(self.url)
                args: dict[str, Any] = {}
                if url.get_backend_name() == "postgresql":
                    if url.drivername == "postgresql":
                        url = url.set(drivername="postgresql+psycopg")  # psycopg 3, the pinned driver
                    # Every transaction read-only, whatever the role may do.
                    args = {"connect_timeout": 10, "options": "-c default_transaction_read_only=on"}
                engine = sa.create_engine(url, poolclass=NullPool, connect_args=args)
            self.engine = engine
            self.conn = engine.connect()
        except sa.exc.SQLAlchemyError as exc:
            raise _failure(self.url, exc) from None
        except ValueError:  # a port that is not a number, an unclosed '[': the parser's own words
            raise DatabaseError(f"database {masked(self.url)}: malformed URL") from None
        except ImportError as exc:
            raise DatabaseError(f"database {masked(self.url)}: driver not installed ({exc})") from None
        return self.conn

    def __exit__(self, *exc: Any) -> None:
        self.conn.close()
        self.engine.dispose()


def _warn_nulls(cfg: config.Config, url: str) -> None:
    """Say how many rows have no order value: they are never read."""
    sql = dbwindow.count_nulls(_source(cfg), cfg.database_order_column)
    path = sqlite_path(url)
    try:
        if path is not None:
            conn = sqlite3.connect(_sqlite_uri(path), uri=True, timeout=30)
            try:
                nulls = conn.execute(sql).fetchone()[0]
            finally:
                conn.close()
        else:
            import sqlalchemy as sa
            with _connection(url) as conn:
                nulls = conn.execute(sa.text(sql)).scalar()
    except Exception as exc:  # noqa: BLE001 - a count for a warning must not fail the read
        log.debug("counting rows without an order value failed: %s", exc)
        return
    if nulls:
        log.warning("database %s: %d row(s) with no value in the order column '%s' are never read; "
                    "give them one", masked(url), nulls, cfg.database_order_column)


def split_valid(frame: pd.DataFrame, keys: list[Any]) -> tuple[pd.DataFrame, list[dict[str, Any]]]:
    """The rows of `frame` that keep the contract (validated), and a record of each that doesn't.

    The contract's own validate() judges, so no rule is restated here: a frame
    it rejects is halved until the culprit rows stand alone (a few validations
    per bad row, one for a clean batch).
    """
    import pandas as pd

    from risk.data import contract

    def judge(lo: int, hi: int) -> tuple[list[pd.DataFrame], list[dict[str, Any]]]:
        try:
            return [contract.validate(frame.iloc[lo:hi], "row")], []
        except contract.DataError as exc:
            if hi - lo > 1:
                mid = (lo + hi) // 2
                (good1, bad1), (good2, bad2) = judge(lo, mid), judge(mid, hi)
                return good1 + good2, bad1 + bad2
            reason = str(exc).removeprefix("row: ").replace(" on line 2", "")
            corp = frame[contract.ID].iloc[lo]
            return [], [{"key": artifacts.json_safe(_plain(keys[lo])),
                         "corporation": None if pd.isna(corp) else str(corp), "reason": reason}]

    good, bad = judge(0, len(frame))
    return pd.concat(good, ignore_index=True) if good else frame.iloc[:0], bad


def _plain(value: Any) -> Any:
    value = value.item() if hasattr(value, "item") else value
    return value.isoformat() if hasattr(value, "isoformat") else value


def new_batch(cfg: config.Config) -> Batch | None:
    """Read the rows past the watermark; write the valid ones as an extract; None if no rows."""
    import pandas as pd

    from risk.data import contract

    url = database_url(cfg)
    source = source_name(cfg, url)
    handled = handled_batches(cfg, url)
    count, watermark = handled.count, handled.watermark
    columns, window = read_window(cfg, url, handled)
    _warn_nulls(cfg, url)
    col = cfg.database_order_column
    new = _unseen(window, handled.seen)
    if not any(new):
        return None
    frame = pd.DataFrame([r for r, n in zip(window, new) if n], columns=columns)
    if col not in frame.columns:
        raise DatabaseError(f"database {masked(url)}: no column '{col}' (key 'database_order_column')")
    orders = [r[columns.index(col)] for r in window]
    kind = dbwindow.column_kind(orders, handled.kind)
    odd = [not dbwindow.fits(v, kind) for v in frame[col].tolist()]
    odd_rows = [{"key": artifacts.json_safe(_plain(v)), "corporation": None,
                 "reason": f"order column '{col}' value {v!r} is not a {kind} like the others"}
                for v, o in zip(frame[col].tolist(), odd) if o]
    frame = frame[[not o for o in odd]]
    missing = [c for c in contract.COLUMNS if c not in frame.columns]
    if missing:
        raise DatabaseError(f"database {masked(url)}: missing column(s) "
                            f"{', '.join(repr(c) for c in missing)}")
    extra = [str(c) for c in frame.columns if c not in contract.COLUMNS and c != col]
    if extra:
        log.info("database %s: ignoring extra column(s) %s", masked(url), ", ".join(extra))
    keys = frame[col].tolist()
    valid, rejected = split_valid(frame[list(contract.COLUMNS)], keys) if len(frame) else (frame, [])
    rejected = odd_rows + rejected
    for r in rejected[:20]:
        log.warning("skipping database row %s=%s: %s", col, r["key"], r["reason"])
    if len(rejected) > 20:
        log.warning("... and %d more rows skipped (all in the run history)", len(rejected) - 20)
    extract = None
    if len(valid):
        # Named by the batch's number, not its watermark: a re-read after a killed run
        # (same start, perhaps more rows) replaces the file rather than adding one.
        extract = cfg.database_extract_folder / f"{EXTRACT_PREFIX}{count + 1:06d}.csv"
        artifacts.write_atomic(extract, contract.write_csv(valid))
    read = len(frame) + len(odd_rows)
    log.info("database %s: %d new row(s) from %s=%s back %d rows, %d skipped%s", masked(url), read, col,
             watermark, cfg.database_lookback_rows, len(rejected), f" -> {extract}" if extract else "")
    top = max([*keys, *([watermark] if watermark is not None else [])]) if keys or watermark is not None else None
    hashes = [dbwindow.row_hash(r) for r in window]
    return Batch(source, extract, top, read, rejected,
                 dbwindow.kept_for_next(orders, hashes, cfg.database_lookback_rows, kind))


def extract_files(cfg: config.Config) -> list[Path]:
    """The extracts written from the database so far, oldest first (ingestion reads them all)."""
    folder = cfg.database_extract_folder
    if not cfg.database_configured or not folder.is_dir():
        return []
    return sorted(folder.glob(f"{EXTRACT_PREFIX}*.csv"))


def extract_candidates(cfg: config.Config) -> list[Any]:
    """The extracts as sources.Candidate entries, for ingestion beside the input folder's."""
    if not extract_files(cfg):
        return []
    return [c for c in sources.candidates(cfg.database_extract_folder) if c.name.startswith(EXTRACT_PREFIX)]


def extract_path(cfg: config.Config, name: str) -> Path:
    """Where an extract named in the records lies: the database's folder or the input folder."""
    if cfg.database_configured and name.startswith(EXTRACT_PREFIX):
        path = cfg.database_extract_folder / name
        if path.is_file():
            return path
    return cfg.input_folder_path / name


def mark_handled(cfg: config.Config, batch: Batch, outcome: str) -> None:
    """Advance the watermark past `batch`: call only once its run has carried out its decision."""
    watermark, kind = _encode(batch.watermark) if batch.watermark is not None else ("null", "none")
    history.record(cfg.history_path, "source_batches", [{
        "source": batch.source, "extract": batch.extract.name if batch.extract else None,
        "watermark": watermark, "kind": kind, "rows_read": batch.rows_read,
        "rows_rejected": len(batch.rejected), "rejected": json.dumps(batch.rejected),
        "outcome": outcome if batch.extract else "rejected", "seen": json.dumps(batch.seen),
    }])


# --- loading a SQLite example --------------------------------------------------

def load_sqlite(path: Path, csvs: list[Path]) -> int:
    """Append the rows of `csvs` (contract-valid files) to table `clients` of the SQLite file `path`."""
    from risk.data import contract

    path.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(path)
    try:
        with conn:
            conn.execute(f"CREATE TABLE IF NOT EXISTS {SQLITE_TABLE} ("
                         "id INTEGER PRIMARY KEY AUTOINCREMENT, corporation TEXT NOT NULL, "
                         "lastmonth_activity INTEGER, lastyear_activity INTEGER, "
                         "number_of_employees INTEGER, exited INTEGER, "
                         "loaded_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%f', 'now')))")
            total = 0
            for csv in csvs:
                frame = contract.read_csv(csv, require_target=False)
                rows = frame[list(contract.COLUMNS)].astype(object).where(frame.notna(), None)
                rows = [[r[0], *(None if v is None else int(v) for v in r[1:])]
                        for r in rows.itertuples(index=False)]
                conn.executemany(f"INSERT INTO {SQLITE_TABLE} ({', '.join(contract.COLUMNS)}) "
                                 "VALUES (?, ?, ?, ?, ?)", rows)
                log.info("loaded %s: %d rows", csv.name, len(rows))
                total += len(rows)
        return total
    finally:
        conn.close()
