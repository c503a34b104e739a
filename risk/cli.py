"""What every script's `main()` shares: the `--config` option, logging, exit codes.

Exit codes: 0 success (including "nothing to do"), 1 a step failed, 2 bad
usage or bad config. A failure is one line on stderr; its traceback goes to
the log file only. Standard library only.
"""
from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from risk import config
from risk.errors import StepError

log = logging.getLogger("pipeline")

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
STDERR_FORMAT = "%(levelname)s %(name)s: %(message)s"
LOG_MAX_BYTES = 5_000_000
LOG_BACKUPS = 5


class OneLineFormatter(logging.Formatter):
    """Leaves tracebacks out: stderr gets the one-line message, the log file the details."""

    def format(self, record: logging.LogRecord) -> str:
        saved = record.exc_info, record.exc_text
        record.exc_info = record.exc_text = None
        try:
            return super().format(record)
        finally:
            record.exc_info, record.exc_text = saved


def parser(doc: str | None) -> argparse.ArgumentParser:
    """An argument parser with the `--config` option every script takes."""
    summary = (doc or "").strip().splitlines()[0] if doc else None
    p = argparse.ArgumentParser(description=summary)
    p.add_argument(
        "--config", type=Path, default=config.DEFAULT_CONFIG,
        help="path to config.json (default: %(default)s)",
    )
    return p


def log_file_handler(path: Path, long_running: bool = False) -> logging.Handler:
    """A handler appending to `path` that rotates it at LOG_MAX_BYTES, keeping LOG_BACKUPS.

    A script's run writes a few lines, so it rotates the file at its start if
    it is full; only then does it import logging.handlers, which would cost
    the cron tick that finds no new data a fifth of its time. A long-running
    process (an API worker) rotates as it goes.
    """
    if long_running or (path.exists() and path.stat().st_size >= LOG_MAX_BYTES):
        from logging.handlers import RotatingFileHandler
        return RotatingFileHandler(
            path, maxBytes=LOG_MAX_BYTES, backupCount=LOG_BACKUPS, encoding="utf-8"
        )
    return logging.FileHandler(path, encoding="utf-8")


def setup_logging(log_folder: Path | None, quiet: bool = False, long_running: bool = False) -> None:
    """Send log records to stderr and to `log_folder`/pipeline.log (rotated at 5 MB, 5 kept)."""
    root = logging.getLogger()
    for h in [h for h in root.handlers if getattr(h, "_risk", False)]:
        root.removeHandler(h)
        try:
            h.close()
        except OSError:  # its last lines could not be written: already said once
            pass
    root.setLevel(logging.INFO)
    handlers: list[logging.Handler] = []
    err = logging.StreamHandler(sys.stderr)
    err.setFormatter(OneLineFormatter(STDERR_FORMAT))
    err.setLevel(logging.WARNING if quiet else logging.INFO)
    handlers.append(err)
    if log_folder is not None:
        log_folder.mkdir(parents=True, exist_ok=True)
        f = log_file_handler(log_folder / "pipeline.log", long_running)
        f.setFormatter(logging.Formatter(LOG_FORMAT))
        _warn_once_on_failure(f, log_folder / "pipeline.log")
        handlers.append(f)
    for h in handlers:
        h._risk = True  # type: ignore[attr-defined]
        root.addHandler(h)


def _warn_once_on_failure(handler: logging.Handler, path: Path) -> None:
    """On a full or read-only disk, say once that the log file lost lines, not per line.

    logging's default prints a traceback to stderr for every record it could
    not write. The log file repeats stderr, so the step goes on; the outputs'
    own writes fail loudly on their own.
    """
    def handle_error(record: logging.LogRecord) -> None:
        if getattr(handler, "_risk_failed", False):
            return
        handler._risk_failed = True  # type: ignore[attr-defined]
        exc = sys.exc_info()[1]
        why = getattr(exc, "strerror", None) or str(exc)
        print(f"warning: {why[:1].lower()}{why[1:]} writing {path}; "
              "the rest of this run's log is on stderr only", file=sys.stderr)

    handler.handleError = handle_error  # type: ignore[method-assign]


def start(config_path: Path, quiet: bool = False) -> config.Config | None:
    """Load the config and set up logging; None (after one line on stderr) if either fails.

    A script's main() returns 2 on None: bad usage or bad config.
    """
    try:
        cfg = config.load(config_path)
    except config.ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)  # no log file yet
        return None
    try:
        setup_logging(cfg.log_folder, quiet=quiet)
    except OSError as exc:
        print(f"error: cannot open log folder {cfg.log_folder}: {exc.strerror}", file=sys.stderr)
        return None
    return cfg


def failed(exc: StepError) -> int:
    """Log a failed step (one line on stderr, the traceback in the log file); return exit code 1."""
    log.error("%s", exc, exc_info=True)
    return 1
