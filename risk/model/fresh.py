"""The freshest labelled clients a model never learnt from: where the list's headline is measured.

Managers act on the top of today's list, so the page's and the report's
headline is the list's measure (exits among the top `call_capacity`, AUC) on
the newest clients whose outcomes are known, not F1 on a test set that may be
of an older law (that stays a figure for the operator, with its date).

Which rows (`freshest`): the ingested extracts, newest first (finaldata.csv
holds them one after another, ingestion.json says how many rows each), each
less the rows a model learnt from: none when the extract is not among its
training files, else the rows held out of its training (`held_out`: the
client id's hash, as the loop's challenger holds them out) when its training
left them out, else all. The first extract with at least MIN_ROWS such rows of
both outcomes is used; with none, the test data, named as such. Rows are the
same for every model given (a new and an old one are compared on rows neither
learnt from). For a model the loop has just deployed after a one-extract tick,
these are the rows its challenger test ran on: the page repeats the figure the
decision recorded. A recalibrated model (loop/recalibration.py) keeps its ranking
but refits its probabilities on the labelled rows of its time: rows that arrived
before it are marked `calibrated_on` (its calibration error there is in-sample).

Reads ingestion.json, finaldata.csv and the run history's ingestions (when each
extract arrived); each model's manifest says what it was trained on.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from risk import artifacts, config, history
from risk.data import contract

HOLDOUT_BUCKETS = 10_000
MIN_ROWS = 200  # fewer labelled rows than this say little about the top 100


def held_out(ids: pd.Series, fraction: float) -> np.ndarray:
    """True for the rows whose client id hashes into the held-out `fraction`."""
    cut = int(round(fraction * HOLDOUT_BUCKETS))
    return np.fromiter((zlib.crc32(str(i).encode("utf-8")) % HOLDOUT_BUCKETS < cut for i in ids),
                       dtype=bool, count=len(ids))


@dataclass
class FreshRows:
    """Labelled rows to measure a list on, and what they are."""
    frame: pd.DataFrame
    source: str           # the extract's name (or the test data's file name)
    date: str | None      # when the extract arrived (the test file's date for the test data)
    fresh: bool           # False: the test data, no fresh rows found
    held_out: bool        # the rows held out of the model's training (the extract was trained on)
    calibrated_on: bool = False  # a recalibration was fitted on them: its ranking never saw them, its
                                 # probabilities did (the calibration error there is in-sample)


def extract_blocks(cfg: config.Config, data: pd.DataFrame) -> list[tuple[str, str, pd.DataFrame]]:
    """(name, sha256, rows) of each ingested extract in finaldata.csv, oldest first; [] when
    ingestion.json does not describe this finaldata.csv."""
    try:
        record = artifacts.read_json(cfg.ingestion_record_path)
    except artifacts.ArtifactError:
        return []
    files = [f for f in record.get("files", []) if f.get("status") == "ingested"]
    if (record.get("finaldata_sha256") != artifacts.sha256_file(cfg.finaldata_path)
            or sum(f["rows_kept"] for f in files) != len(data)):
        return []
    blocks, start = [], 0
    for f in files:
        blocks.append((f["name"], f.get("sha256", ""), data.iloc[start:start + f["rows_kept"]]))
        start += f["rows_kept"]
    return blocks


def _trained_on(manifest: dict[str, Any]) -> tuple[set[str] | None, float | None]:
    """The files a deployed model was trained on (None: unknown, take all) and the held-out share left out."""
    trained = (manifest.get("training") or {}).get("trained_on") or {}
    files = trained.get("files", manifest.get("trained_on"))
    return (set(files) if files is not None else None), trained.get("held_out_fraction")


def unseen(block: pd.DataFrame, name: str, manifests: Sequence[dict[str, Any]]) -> np.ndarray:
    """True for the rows of extract `name` that none of the models of `manifests` learnt from."""
    keep = np.ones(len(block), bool)
    for manifest in manifests:
        files, fraction = _trained_on(manifest)
        if files is None:
            return np.zeros(len(block), bool)
        if name in files:
            keep &= held_out(block[contract.ID], fraction) if fraction else False
    return keep


def recalibrated_on(manifests: Sequence[dict[str, Any]], arrived: str | None) -> bool:
    """Whether a recalibration of one of the models was fitted after an extract that arrived at `arrived`
    (it fits on the fresh labelled rows of its time, held out or not)."""
    ats = [str((m.get("recalibrated") or {}).get("at") or "") for m in manifests]
    return any(at and (arrived is None or arrived <= at) for at in ats)


def arrivals(cfg: config.Config) -> dict[tuple[str, str], str]:
    """When each extract (name, sha256) was first ingested."""
    arrived: dict[tuple[str, str], str] = {}
    for r in history.rows(cfg.history_path, "ingestions"):
        if r["status"] == "ingested":
            arrived.setdefault((r["file"], r["sha256"]), r["run_at"])
    return arrived


def freshest(cfg: config.Config, manifests: Sequence[dict[str, Any]], test: pd.DataFrame,
             test_date: str | None) -> FreshRows:
    """The newest extract's labelled rows none of the models learnt from (see the module's docstring)."""
    if cfg.finaldata_path.is_file():
        data = contract.read_csv(cfg.finaldata_path, require_target=False)
        arrived = None
        for name, sha, block in reversed(extract_blocks(cfg, data)):
            keep = unseen(block, name, manifests)
            rows = block[keep & block[contract.TARGET].notna().to_numpy()]
            labels = rows[contract.TARGET]
            if len(rows) >= MIN_ROWS and labels.nunique() == 2:
                arrived = arrivals(cfg) if arrived is None else arrived
                when = arrived.get((name, sha))
                return FreshRows(rows.reset_index(drop=True), name, when, True, not keep.all(),
                                 recalibrated_on(manifests, when))
    return FreshRows(test, cfg.test_data_file.name, test_date, False, False)


def where_words(on: str, date: str | None, rows: int, is_fresh: bool) -> str:
    """Which labelled clients a figure is measured on, as a manager reads it."""
    day = str(date or "")[:10] or "unknown date"
    if is_fresh:
        return f"the {rows:,} clients of {on} (arrived {day}) whose outcomes are known"
    return f"the {rows:,} test clients of {on} (dated {day}, possibly of an older pattern)"


def headline(m: dict[str, Any] | None) -> str:
    """The list's measure on the freshest labelled rows (scoring's fresh_measure) in one sentence."""
    if not m or not m.get("rows"):
        return "No clients with known outcomes to measure this list on yet."
    words = (f"On {where_words(m['data'], m.get('data_date'), m['rows'], m.get('fresh', False))}, "
             f"{m['exits_in_top']} of the model's top {m['k']} left")
    if m.get("exits") is not None:
        words += f" ({m['k']} calls at random would have found about {m['exits'] / m['rows'] * m['k']:.0f})"
    auc = m.get("auc")
    if auc is not None and auc == auc:
        words += f"; it ranks a leaving client above a staying one {auc:.0%} of the time (AUC {auc:.2f})"
    return words + "."
