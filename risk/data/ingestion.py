"""Step 1, ingestion: compile every valid CSV of the input folder into one training dataset.

Two products (the work of `ingestion.py`; its command line lives there):
- *training rows*, finaldata.csv: the labelled extracts' rows, for training
  and judging models (the course's output);
- *records*, records.csv beside it: every accepted extract's rows, labelled or
  not, in the same order (oldest extract first): the call list ranks each
  current client's latest record, so the clients of an extract whose outcomes
  are not known yet are listed the day it arrives.
"""
from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from risk import artifacts, config, history
from risk.data import contract, dbsource, sources

log = logging.getLogger("ingestion")

@dataclass
class FileRecord:
    name: str
    sha256: str
    status: str  # "ingested" or "rejected"
    rows_read: int = 0
    rows_kept: int = 0
    reason: str | None = None


@dataclass
class IngestionResult:
    finaldata_path: Path
    rows: int
    duplicates_dropped: int
    files: list[FileRecord] = field(default_factory=list)

    @property
    def ingested(self) -> list[FileRecord]:
        return [f for f in self.files if f.status == "ingested"]

    @property
    def rejected(self) -> list[FileRecord]:
        return [f for f in self.files if f.status == "rejected"]


def read_files(files: list[sources.Candidate]) -> tuple[list[pd.DataFrame], list[FileRecord]]:
    """Read and validate each file; return the valid frames and a record for every file.

    A file that can't be read or named, or breaks the contract, is skipped with
    its reason: one bad file never stops the others.
    """
    frames, records = [], []
    for i, file in enumerate(files, 1):
        if file.problem is not None:
            log.warning("skipping %s: %s", file.name, file.problem)
            records.append(FileRecord(file.name, file.fingerprint, "rejected", reason=file.problem))
            continue
        try:
            frame = contract.read_csv(file.path)
        except contract.DataError as exc:
            log.warning("skipping %s", exc)
            records.append(FileRecord(file.name, file.fingerprint, "rejected", reason=str(exc)))
            continue
        log.info("[%d/%d] read %s: %d rows", i, len(files), file.name, len(frame))
        frames.append(frame.assign(_source=len(records)))
        records.append(FileRecord(file.name, file.fingerprint, "ingested", rows_read=len(frame)))
    return frames, records


def compile_dataset(frames: list[pd.DataFrame], records: list[FileRecord]) -> pd.DataFrame:
    """Concatenate the frames and drop exact duplicate rows, keeping each first occurrence."""
    combined = pd.concat(frames, ignore_index=True)
    combined = combined.drop_duplicates(subset=list(contract.COLUMNS), keep="first")
    for source, kept in combined["_source"].value_counts().items():
        records[int(source)].rows_kept = int(kept)
    return combined.drop(columns="_source").reset_index(drop=True)


def ingest(cfg: config.Config, exclude: frozenset[str] | set[str] = frozenset(),
           records_exclude: frozenset[str] | set[str] | None = None) -> IngestionResult:
    """Run ingestion as configured; raise DataError if no file holds valid data.

    Files named in `exclude` are left out as if absent (fullprocess.py: extracts
    the quality gate quarantined, and extracts without outcomes yet). records.csv
    is written last, leaving out `records_exclude` (default: `exclude`): an
    extract without outcomes is out of the training rows but in the records.
    """
    started = time.perf_counter()
    files = [c for c in sources.candidates(cfg.input_folder_path) if c.name not in exclude]
    # Rows read from a database source, one extract file per batch, after the folder's.
    files += [c for c in dbsource.extract_candidates(cfg) if c.name not in exclude]
    log.info("found %d CSV file(s) in %s", len(files), cfg.input_folder_path)
    frames, records = read_files(files)
    run_id = uuid.uuid4().hex
    if not frames:
        _record_history(cfg, run_id, records)
        what = "no CSV files" if not files else "no valid CSV files"
        raise contract.DataError(
            f"{cfg.input_folder_path}: {what} to ingest; {cfg.finaldata_path.name} left unchanged"
        )
    data = compile_dataset(frames, records)
    dropped = sum(len(f) for f in frames) - len(data)
    _record_history(cfg, run_id, records)

    artifacts.write_atomic(cfg.finaldata_path, contract.write_csv(data))
    artifacts.write_text_atomic(
        cfg.ingestedfiles_path, "".join(f"{r.name}\n" for r in records if r.status == "ingested")
    )
    artifacts.write_json_atomic(cfg.ingestion_record_path, {
        "run_id": run_id,
        "ingested_at": history.now(),
        "input_folder": str(cfg.input_folder_path),
        "finaldata_sha256": artifacts.sha256_file(cfg.finaldata_path),
        "rows": len(data),
        "duplicates_dropped": dropped,
        "files": [vars(r) for r in records],
        "duration_s": round(time.perf_counter() - started, 4),  # diagnostics reports it
    })
    log.info(
        "wrote %s: %d rows from %d file(s), %d duplicate rows dropped, in %.2f s",
        cfg.finaldata_path, len(data), len(frames), dropped, time.perf_counter() - started,
    )
    log.info("wrote %s and %s", cfg.ingestedfiles_path.name, cfg.ingestion_record_path.name)
    write_records(cfg, exclude if records_exclude is None else records_exclude)
    return IngestionResult(cfg.finaldata_path, len(data), dropped, records)


def write_records(cfg: config.Config, exclude: frozenset[str] | set[str] = frozenset()) -> tuple[int, list[str]]:
    """Write records.csv: every readable extract not in `exclude`, labelled or not, oldest first.

    An extract with outcomes on some rows only is left out (ingestion rejects
    it too). Beside it, records_extracts.json names the extract of each run of
    rows, in order. Returns the rows written and the extracts listed without outcomes.
    """
    files = [c for c in sources.candidates(cfg.input_folder_path) if c.name not in exclude]
    files += [c for c in dbsource.extract_candidates(cfg) if c.name not in exclude]
    frames, unlabelled, names = [], [], []
    for file in files:
        if file.problem is not None:
            continue
        try:
            frame = contract.read_csv(file.path, require_target=False)
        except contract.DataError:
            continue  # ingestion records why
        known = frame[contract.TARGET].notna() if contract.TARGET in frame else pd.Series(False, frame.index)
        if known.any() and not known.all():
            continue
        if not known.any():
            unlabelled.append(file.name)
        frames.append(frame.assign(_extract=len(names)))
        names.append(file.name)
    if not frames:
        return 0, []
    data = pd.concat(frames, ignore_index=True).drop_duplicates(subset=list(contract.COLUMNS), keep="first")
    artifacts.write_atomic(cfg.records_path, contract.write_csv(data))
    counts = data["_extract"].value_counts()
    write_records_index(cfg.records_path, [(n, int(counts.get(i, 0))) for i, n in enumerate(names)])
    log.info("wrote %s: %d records of %d extract(s), %d without outcomes yet (%s)", cfg.records_path.name,
             len(data), len(frames), len(unlabelled), ", ".join(unlabelled) or "none")
    return len(data), unlabelled


def write_records_index(records_path: Path, extracts: list[tuple[str, int]]) -> None:
    """records_extracts.json beside records.csv: the extract each run of rows came from, in order
    (rows stay in extract order), so a client's page can show its figures over time."""
    artifacts.write_json_atomic(records_path.with_name(artifacts.RECORDS_EXTRACTS_FILE), {
        "rows": sum(rows for _, rows in extracts),
        "extracts": [{"name": name, "rows": rows} for name, rows in extracts]})


def _record_history(cfg: config.Config, run_id: str, records: list[FileRecord]) -> None:
    rows: list[dict[str, Any]] = [
        {"run_id": run_id, "file": r.name, "sha256": r.sha256, "rows_read": r.rows_read,
         "rows_kept": r.rows_kept, "status": r.status, "reason": r.reason}
        for r in records
    ]
    history.record(cfg.history_path, "ingestions", rows)


def summary(result: IngestionResult) -> str:
    """What a user reads after a run: where the data went and what was skipped."""
    lines = [
        f"ingested {len(result.ingested)} file(s), {result.rows} rows "
        f"({result.duplicates_dropped} duplicates dropped) -> {result.finaldata_path}"
    ]
    lines += [f"rejected {r.name}: {r.reason}" for r in result.rejected]
    return "\n".join(lines)
