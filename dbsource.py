"""A database as a source: the rows past the last handled watermark, as one more extract.

Config (all optional; the input folder stays the default source):
  database_url | database_url_env | database_url_file   a SQLAlchemy URL, given once:
        in config.json only without a password; else the name of an environment
        variable, or a file readable only by its owner, that holds it
  database_table | database_query    where the client rows are (a query must be a SELECT)
  database_order_column              an increasing id or load time: the watermark
  database_extract_folder            where the rows read are kept as extract files
                                     (default: database_extracts/ beside config.json)

Each tick asks for rows whose order column is past the watermark handled last
(run history table `source_batches`). The rows that keep the data contract are
written to database_extract_folder/db_batch_NNNNNN.csv, an extract like any
input file: drift, ingestion and the call list read it. Rows that break the
contract are skipped, each recorded with its key and the reason. The watermark
advances only when fullprocess.py has carried out its decision (`mark_handled`):
a run killed before that reads the same rows again into the same file name.

The source is never written to: SQLite opens with `mode=ro`, PostgreSQL in
read-only transactions. Passwords never reach a log line (URLs are shown masked).
With SQLite, asking for new rows uses the standard library only, so the cron
tick that finds none stays cheap; SQLAlchemy and pandas load when rows arrive.

    python dbsource.py --load-sqlite PATH [CSV ...]   load extracts (default: sourcedata/*.csv)
                                                      into a SQLite file, table `clients`
    python dbsource.py --config config.sqlite.json [CSV ...]
                                                      into the SQLite file of the config's database_url
"""
from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path

from risk import ROOT, cli, config
from risk.data import dbsource
from risk.errors import StepError


def configured_sqlite(config_path: Path) -> Path | None:
    """The SQLite file the config's database_url names; None (after one line on stderr) if none."""
    try:
        cfg = config.load(config_path)
        url = dbsource.database_url(cfg) if cfg.database_configured else None
    except (config.ConfigError, StepError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return None
    path = dbsource.sqlite_path(url) if url else None
    if path is None:
        print(f"error: {config_path}: no SQLite database_url to load into; give --load-sqlite PATH",
              file=sys.stderr)
    return path


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--load-sqlite", type=Path, metavar="PATH",
                   help=f"SQLite file to create or append to (table '{dbsource.SQLITE_TABLE}'; "
                        "default: the SQLite file of the config's database_url)")
    p.add_argument("csv", nargs="*", type=Path, help="client CSV files (default: sourcedata/*.csv)")
    args = p.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    target = args.load_sqlite or configured_sqlite(args.config)
    if target is None:
        return 2
    csvs = args.csv or sorted((ROOT / "sourcedata").glob("*.csv"))
    try:
        total = dbsource.load_sqlite(target.resolve(), csvs)
    except StepError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except sqlite3.Error as exc:
        print(f"error: {target}: {exc}", file=sys.stderr)
        return 1
    print(f"loaded {total} rows from {len(csvs)} file(s) into {target.resolve()} "
          f"(table {dbsource.SQLITE_TABLE})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
