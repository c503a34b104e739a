"""The input files: which CSV files a folder offers, and which of them are new.

Every `*.csv` entry of the input folder is a candidate, known by a (name,
fingerprint) pair: its name made safe to record (escaped if it is not UTF-8 or
holds a line break) and its SHA-256 — or, for an entry that can't be read (a
directory, a dangling link, a FIFO, no permission), a stand-in built from what
`lstat` says, so that it counts as handled until it changes. Such a candidate
carries the reason it can't be ingested.

Standard library only: the cron tick that finds no new data runs this and
nothing heavier, so that it costs little more than starting Python.
"""
from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any, Iterable, NamedTuple

from risk import artifacts

# Editors, downloads and copies in progress leave these beside real files.
TEMPORARY_PREFIXES = (".", "~", "#")
TEMPORARY_SUFFIXES = (".tmp", ".part", ".partial", ".crdownload", "~")


class SourceError(artifacts.ArtifactError):
    """The input folder is missing or unreadable."""


class Candidate(NamedTuple):
    path: Path
    name: str          # safe to log, to record and to write one per line
    fingerprint: str   # SHA-256 of the content, or a stand-in for an unreadable entry
    problem: str | None  # why it can't be ingested, or None


def safe_name(path: Path) -> str:
    """The file's name as text that can be logged and recorded one per line.

    Linux names are bytes; one that is not UTF-8 reaches Python with lone
    surrogates, which no UTF-8 file or SQLite row can hold. Such bytes show as
    \\xNN, line breaks and other control characters as escapes.
    """
    raw = os.fsencode(path.name)
    text = raw.decode("utf-8", "backslashreplace")
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def name_problem(path: Path) -> str | None:
    """Why a file's name can't be recorded as it is, or None."""
    try:
        os.fsencode(path.name).decode("utf-8")
    except UnicodeDecodeError:
        return "file name is not UTF-8 text; rename the file"
    if not path.name.isprintable():
        return "file name holds a line break or control character; rename the file"
    return None


def describe(path: Path) -> Candidate:
    """The entry at `path` as a Candidate: its safe name, fingerprint and problem (never blocks)."""
    name, problem = safe_name(path), name_problem(path)
    try:
        st = path.lstat()
    except OSError as exc:  # gone since the folder was listed
        return Candidate(path, name, f"unreadable {exc.errno}", f"cannot read ({exc.strerror})")
    # A stand-in for the content of an entry that can't be read: what the entry
    # itself (not a link's target) says, so that it is new again once it changes.
    stand_in = f"{st.st_mode:o} {st.st_size} {st.st_mtime_ns}"
    kind = st.st_mode
    if stat.S_ISLNK(kind):
        try:
            kind = path.stat().st_mode  # where the link leads
        except OSError:
            return Candidate(path, name, f"dangling link {stand_in}", "symbolic link to nothing")
    if not stat.S_ISREG(kind):
        # Never opened: reading a FIFO would wait forever.
        return Candidate(path, name, f"not a file {stand_in}", "not a regular file")
    try:
        digest = artifacts.sha256_file(path)
    except OSError as exc:
        return Candidate(path, name, f"unreadable {stand_in}", f"cannot read ({exc.strerror})")
    return Candidate(path, name, digest, problem)


def candidates(folder: Path) -> list[Candidate]:
    """Every CSV entry of `folder` to consider, sorted by name, each with its fingerprint."""
    if not folder.is_dir():
        raise SourceError(f"{folder}: input folder not found")
    try:
        entries = list(folder.iterdir())
    except OSError as exc:
        raise SourceError(f"{folder}: cannot list input folder ({exc.strerror})") from None
    return [describe(p) for p in sorted(
        p for p in entries
        if p.suffix.lower() == ".csv"
        and not p.name.startswith(TEMPORARY_PREFIXES)
        and not p.name.lower().endswith(TEMPORARY_SUFFIXES)
    )]


def input_files(folder: Path) -> list[Path]:
    """The CSV files of `folder` that can be read, sorted by name."""
    return [c.path for c in candidates(folder) if c.problem is None]


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


def new_candidates(folder: Path, known: Iterable[tuple[str, str]]) -> list[Candidate]:
    """Entries of `folder` whose (name, fingerprint) is not among `known`."""
    known = set(known)
    return [c for c in candidates(folder) if (c.name, c.fingerprint) not in known]


def new_files(folder: Path, known: Iterable[tuple[str, str]]) -> list[Path]:
    """Files of `folder` whose name or content (SHA-256) is not among `known`."""
    return [c.path for c in new_candidates(folder, known)]

