"""A client's own figures over time, for its page: its row in each accepted extract.

Reads  records.csv (ingestion.write_records: every accepted extract's rows, oldest
       extract first) and records_extracts.json beside it (which extract each
       run of rows came from). Without the latter (records written by an older
       version) the rows are numbered, not named.

The parsed records are kept per app (page.py's state) and read again only when
either file changes; a page view looks its client's rows up by a kept index.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from risk import artifacts, config
from risk.data import contract
from risk.errors import StepError

log = logging.getLogger("page")


@dataclass
class Records:
    frame: pd.DataFrame             # records.csv with an `extract` column (its name)
    rows_of: dict[str, np.ndarray]  # corporation -> its row positions, oldest first


def stamp(cfg: config.Config) -> tuple[Any, ...]:
    path = cfg.records_path
    return artifacts.file_stamp(path), artifacts.file_stamp(path.with_name(artifacts.RECORDS_EXTRACTS_FILE))


def extract_names(path: Path, rows: int) -> list[str]:
    """The extract of each of `rows` records, from records_extracts.json; numbered if it is
    missing or does not describe these rows."""
    try:
        described = artifacts.read_json(path.with_name(artifacts.RECORDS_EXTRACTS_FILE))
        names = [str(e["name"]) for e in described["extracts"] for _ in range(int(e["rows"]))]
    except (artifacts.ArtifactError, KeyError, TypeError, ValueError):
        names = []
    if len(names) == rows:
        return names
    return [""] * rows


def read_records(cfg: config.Config) -> Records | None:
    """records.csv with each row's extract, indexed by client; None without records."""
    path = cfg.records_path
    if not path.is_file():
        return None
    try:
        frame = contract.read_csv(path, require_target=False)
    except StepError as exc:
        log.warning("a client's figures over time are not shown: %s", exc)
        return None
    frame = frame.reset_index(drop=True)
    frame["extract"] = extract_names(path, len(frame))
    groups = frame.groupby(contract.ID, sort=False).indices
    log.info("records read for the clients' figures: %d rows, %d clients", len(frame), len(groups))
    return Records(frame, groups)


def _number(value: Any) -> float | None:
    return None if pd.isna(value) else float(value)


def figures_over_time(records: Records | None, corporation: str) -> list[dict[str, Any]]:
    """The client's figures in each extract it appears in, oldest first: extract, activity
    last month, activity last year, its monthly average, employees, and whether it left."""
    if records is None or corporation not in records.rows_of:
        return []
    rows = records.frame.iloc[records.rows_of[corporation]]
    out = []
    for i, (_, r) in enumerate(rows.iterrows(), start=1):
        year = _number(r["lastyear_activity"])
        out.append({
            "extract": r["extract"] or f"extract {i}",
            "lastmonth_activity": _number(r["lastmonth_activity"]),
            "lastyear_activity": year,
            "monthly_average": None if year is None else year / 12,
            "number_of_employees": _number(r["number_of_employees"]),
            "exited": None if contract.TARGET not in r or pd.isna(r[contract.TARGET]) else int(r[contract.TARGET]),
        })
    for before, now in zip(out, out[1:]):
        for name in ("lastmonth_activity", "number_of_employees"):
            a, b = before[name], now[name]
            now[f"{name}_change"] = None if a is None or b is None else b - a
    return out
