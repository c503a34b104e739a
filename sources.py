"""The input files: which CSV files a folder offers, and which of them are new.

Standard library only: the cron tick that finds no new data runs this and
nothing heavier, so that it costs little more than starting Python.
"""
from __future__ import annotations

from pathlib import Path
from typing import Any, Iterable

import artifacts

# Editors, downloads and copies in progress leave these beside real files.
TEMPORARY_PREFIXES = (".", "~", "#")
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")


class SourceError(artifacts.ArtifactError):
    """The input folder is missing or unreadable."""


def input_files(folder: Path) -> list[Path]:
    """The CSV files of `folder` to ingest, sorted by name."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: input folder not found")
    return sorted(
        p for p in folder.iterdir()
        if p.suffix.lower() == ".csv" and p.is_file()
        and not p.name.startswith(TEMPORARY_PREFIXES)
        and not p.name.lower().endswith(TEMPORARY_SUFFIXES)
    )


def known_files(*records: dict[str, Any] | None) -> set[tuple[str, str]]:
    """(name, SHA-256) of every file named in ingestion records or manifests, read or rejected."""
    known = set()
    for record in records:
        if not record:
            continue
        for key in ("files", "source_files", "rejected_files"):
            entries = record.get(key)
            if isinstance(entries, list):
                known.update((f["name"], f["sha256"]) for f in entries if "sha256" in f)
    return known


def new_files(folder: Path, known: Iterable[tuple[str, str]]) -> list[Path]:
    """Files of `folder` whose name or content (SHA-256) is not among `known`."""
    known = set(known)
    return [p for p in input_files(folder) if (p.name, artifacts.sha256_file(p)) not in known]


def database_batch(cfg: Any) -> Any:
    """The configured database's rows past the handled watermark as one extract (dbsource.Batch).

    None without a database or without new rows; with SQLite the asking costs only
    the standard library, SQLAlchemy and pandas load when rows have arrived.
    """
    if not cfg.database_configured:
        return None
    import dbsource
    return dbsource.new_batch(cfg) if dbsource.has_new_rows(cfg) else None
