"""Step 2b, scoring: the model's quality on held-out test data, and the call list of current clients.

The work of `scoring.py` (its command line lives there). Probabilities are the
model's predict_proba: for the default additive model, calibrated ones. The
list's own measure (`list_measure`) is what managers act on: the exits caught
among the top `call_capacity` clients, with AUC and the calibration error;
F1 at 0.5 stays the course's figure in latestscore.txt.

About 490 lines: F1 on the test data, the list's measures and the call list share
the model's probabilities and the band thresholds; a next split would move the
call list's publication into a module of its own.
"""
from __future__ import annotations

import csv
import json
import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd
from sklearn.metrics import f1_score

from risk import artifacts, config, history
from risk.data import contract
from risk.errors import StepError
from risk.model import additive, fresh, moves, reasons
from risk.model.measures import RELIABILITY_BINS, list_measure, reliability  # noqa: F401 (scoring's names)

log = logging.getLogger("scoring")

RISK_RANKING = "risk_ranking.csv"
CALL_LIST = "call_list.json"
BANDS = ("high", "elevated", "moderate", "low")  # riskiest first
CHANGES = ("new", "up", "down")  # and "" for no change
# previous_rank / previous_risk_percent: the client's place on the previous list (empty if it was not on it).
# moved_because: why a new model moved the client (moves.py; empty when the model did not change).
RANKING_COLUMNS = ("rank", contract.ID, "risk_percent", "band", "reasons", "change", "previous_rank",
                   "previous_risk_percent", "moved_because", "probability", *contract.FEATURES)
PREVIOUS = ("previous_rank", "previous_risk_percent")


class CallListMissing(StepError):
    """No call list has been published (or its files are unreadable)."""


@dataclass
class ScoreResult:
    f1: float
    rows: int
    score_path: Path
    model_sha256: str
    quality: dict[str, Any] | None = None


@dataclass
class CallList:
    """A published call list: the ranking (the CSV's rows) and its summary (call_list.json)."""
    ranking: pd.DataFrame
    summary: dict[str, Any]
    csv_path: Path
    json_path: Path


# --- quality ---------------------------------------------------------------------

def f1_of(model: Any, frame: pd.DataFrame) -> float:
    """F1 score of `model`'s predictions on a labeled, contract-valid frame."""
    predicted = model.predict(contract.feature_matrix(frame))
    return float(f1_score(frame[contract.TARGET].to_numpy(), predicted, zero_division=0))


def quality_at(probability: np.ndarray, exited: np.ndarray, n: int) -> dict[str, Any]:
    """If the team calls the `n` riskiest clients: how many of them leave, what share of leavers they reach.

    Keys precision_at_n, recall_at_n, n (fewer if there are fewer clients), base_rate.
    """
    n = min(n, len(exited))
    top = np.argsort(-probability, kind="stable")[:n]
    caught = int(exited[top].sum())
    leavers = int(exited.sum())
    return {
        "precision_at_n": caught / n if n else None,
        "recall_at_n": caught / leavers if leavers else None,
        "n": n,
        "base_rate": leavers / len(exited) if len(exited) else None,
    }


def quality_of(model: Any, frame: pd.DataFrame, n: int) -> dict[str, Any]:
    """F1, the figures of `quality_at` and the list's measure (prefixed) of `model` on a labeled frame."""
    x = contract.feature_matrix(frame)
    exited = frame[contract.TARGET].to_numpy()
    f1 = float(f1_score(exited, model.predict(x), zero_division=0))
    probability = model.predict_proba(x)[:, 1]
    measure = list_measure(probability, exited, n)
    return {"f1": f1, **quality_at(probability, exited, n),
            **{key: measure[key] for key in ("exits_in_top", "auc", "calibration_error")}}


def score(cfg: config.Config, model_path: Path | None = None, data_path: Path | None = None) -> ScoreResult:
    """Score the trained model on the test data, write latestscore.txt atomically, record the figures."""
    model_path = model_path or cfg.model_path
    data_path = data_path or cfg.test_data_file
    model = artifacts.load_model(model_path)
    data = contract.read_csv(data_path)
    quality = quality_of(model, data, cfg.call_capacity)
    f1 = quality["f1"]
    artifacts.write_text_atomic(cfg.score_path, f"{f1!r}\n")
    model_sha = artifacts.sha256_file(model_path)
    history.record(cfg.history_path, "scores", [{
        "model_sha256": model_sha, "data_path": str(data_path),
        "data_sha256": artifacts.sha256_file(data_path), "rows": len(data), **quality,
    }])
    log.info("F1 %.4f on %d rows of %s; wrote %s", f1, len(data), data_path, cfg.score_path)
    return ScoreResult(f1, len(data), cfg.score_path, model_sha, quality)


# --- who is ranked, and how ----------------------------------------------------------

def current_clients(frame: pd.DataFrame) -> pd.DataFrame:
    """Each client's latest row (the last in `frame`), for clients whose latest row has not exited.

    `frame` lists the extracts oldest first, as finaldata.csv does. An empty
    `exited` (outcome not known yet) counts as still a client.
    """
    latest = frame.drop_duplicates(subset=contract.ID, keep="last")
    if contract.TARGET in latest.columns:
        latest = latest[latest[contract.TARGET].to_numpy() != 1]
    return latest.reset_index(drop=True)


def band_thresholds(cfg: config.Config) -> tuple[float, float, float]:
    """The lowest probability of the bands high, elevated and moderate (config keys band_*_from)."""
    return cfg.band_high_from, cfg.band_elevated_from, cfg.band_moderate_from


def band_levels(probability: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """The index in BANDS of each probability's band (0 is "high"): BANDS[i] from thresholds[i] up."""
    return np.searchsorted(-np.asarray(thresholds, float), -probability, side="left")


def bands_of(probability: np.ndarray, thresholds: Sequence[float]) -> np.ndarray:
    """The band of each probability: BANDS[i] from thresholds[i] up; "low" below them all."""
    return np.asarray(BANDS, dtype=object)[band_levels(probability, thresholds)]


def probabilities(model: Any, x: np.ndarray) -> np.ndarray:
    """`model`'s attrition probability per row of a feature matrix."""
    if len(x) == 0:
        return np.zeros(0)
    return np.asarray(model.predict_proba(x)[:, 1], np.float64)


def changes(ranking: pd.DataFrame, previous: pd.DataFrame | None, n: int) -> tuple[np.ndarray, list[str]]:
    """Each ranked client's change against `previous` (columns corporation, rank, band), and who left.

    "new": in the top `n` now and not before; else "up" / "down": its band
    rose / fell; else "". Left: on the previous list, not on this one (it
    exited, or no extract lists it any more). No previous list: no changes.
    """
    if previous is None or previous.empty:
        return np.full(len(ranking), "", dtype=object), []
    was = pd.Index(previous[contract.ID]).get_indexer(ranking[contract.ID])
    known = was >= 0
    # Band levels (lower is riskier) by hash lookup: Series.map on text runs in Python.
    bands = pd.Index(BANDS)
    now_level = bands.get_indexer(ranking["band"])
    before = bands.get_indexer(previous["band"])[was]
    was_top = known & (previous["rank"].to_numpy()[was] <= n)
    change = np.select(
        [(ranking["rank"].to_numpy() <= n) & ~was_top, known & (now_level < before),
         known & (now_level > before)],
        list(CHANGES), "").astype(object)
    # From `was`, not isin: pandas' isin on arrow-backed text builds a Python object per value.
    still = np.zeros(len(previous), bool)
    still[was[known]] = True
    left = ~still
    return change, previous[contract.ID].to_numpy()[left].tolist()


def previous_places(ranking: pd.DataFrame, previous: pd.DataFrame | None) -> tuple[pd.Series, pd.Series]:
    """Each ranked client's rank and risk in percent on `previous` (nullable: not on it)."""
    if previous is None or previous.empty:
        empty = pd.Series(pd.array([pd.NA] * len(ranking), dtype="Int64"))
        return empty, empty.copy()
    was = pd.Index(previous[contract.ID]).get_indexer(ranking[contract.ID])
    known = was >= 0
    rank = np.where(known, previous["rank"].to_numpy()[was], 0)
    risk = np.where(known, np.rint(previous["probability"].to_numpy(float)[was] * 100), 0).astype(np.int64)
    return (pd.Series(pd.arrays.IntegerArray(rank.astype(np.int64), ~known)),
            pd.Series(pd.arrays.IntegerArray(risk, ~known)))


def unchanged(ranking: pd.DataFrame, previous: pd.DataFrame | None) -> bool:
    """Whether `ranking` is the `previous` list again: the same clients, ranks and probabilities."""
    return (previous is not None and len(previous) == len(ranking)
            and np.array_equal(previous[contract.ID].to_numpy(object), ranking[contract.ID].to_numpy(object))
            and np.array_equal(previous["rank"].to_numpy(), ranking["rank"].to_numpy())
            and np.allclose(previous["probability"].to_numpy(float), ranking["probability"].to_numpy(float),
                            rtol=0, atol=1e-9))


def rank_clients(model: Any, clients: pd.DataFrame, previous: pd.DataFrame | None,
                 thresholds: Sequence[float], n: int) -> tuple[pd.DataFrame, list[str]]:
    """The ranked call list of `clients` (columns RANKING_COLUMNS, riskiest first) and who left.

    `previous` (columns corporation, rank, probability, band) is the list
    before. Clients of equal probability keep their order in `clients`.
    """
    x = contract.feature_matrix(clients)
    probability = np.round(probabilities(model, x), 6)
    order = np.argsort(-probability, kind="stable")
    p = probability[order]
    band = bands_of(p, thresholds)
    text = {"dtype": object}  # numpy's text: pandas' arrow strings would copy each value again
    ranking = pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        contract.ID: clients[contract.ID].take(order).reset_index(drop=True),
        "risk_percent": np.rint(p * 100).astype(np.int64),
        "band": pd.Series(band, **text),
        "reasons": pd.Series(reasons.reason_texts(reasons.parts_of(model), x[order], band == "low"), **text),
        "change": pd.Series(np.full(len(order), "", dtype=object), **text),
        "probability": p,
        **{col: x[order, j] for j, col in enumerate(contract.FEATURES)},
    })
    change, left = changes(ranking, previous, n)
    ranking["change"] = pd.Series(change, **text)
    previous_rank, previous_risk = previous_places(ranking, previous)
    ranking.insert(ranking.columns.get_loc("change") + 1, "previous_rank", previous_rank)
    ranking.insert(ranking.columns.get_loc("previous_rank") + 1, "previous_risk_percent", previous_risk)
    ranking.insert(ranking.columns.get_loc("previous_risk_percent") + 1, "moved_because",
                   pd.Series(np.full(len(ranking), "", dtype=object), **text))
    return ranking, left


def ranked_clients(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Every client of `frame` (its last row) with its probability, highest first: batch scoring.

    Unlike the call list this keeps clients who exited; the API's and the batch
    benchmark's ranking of any file.
    """
    latest = frame.drop_duplicates(subset=contract.ID, keep="last")
    x = contract.feature_matrix(latest)
    probability = np.round(probabilities(model, x), 6)
    predicted = np.asarray(model.predict(x), np.int64) if len(x) else np.zeros(0, np.int64)
    order = np.argsort(-probability, kind="stable")
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        contract.ID: latest[contract.ID].to_numpy()[order],
        "attrition_probability": probability[order],
        "predicted_exit": predicted[order],
        **{col: latest[col].to_numpy()[order] for col in contract.FEATURES},
    })


# --- publishing ----------------------------------------------------------------------

def ranking_path(cfg: config.Config) -> Path:
    return cfg.output_model_path / RISK_RANKING


def call_list_path(cfg: config.Config) -> Path:
    return cfg.output_model_path / CALL_LIST


def ranking_csv(ranking: pd.DataFrame) -> str:
    """A ranking as CSV text; figures as whole numbers, a gap where missing."""
    # Nullable integers: pandas writes them in C; a float_format formats each value in Python.
    whole = {c: "Int64" for c in (*contract.FEATURES, "previous_rank", "previous_risk_percent")
             if c in ranking.columns}
    # Python's csv quotes a line feed but not a lone carriage return, which every
    # reader takes for a line end: an id holding one has all text quoted.
    text = ranking.select_dtypes(include=["object", "string"])
    cr = any(text[c].astype(str).str.contains("\r", regex=False).any() for c in text.columns)
    return ranking.astype(whole).to_csv(index=False, lineterminator="\n",
                                        quoting=csv.QUOTE_NONNUMERIC if cr else csv.QUOTE_MINIMAL)


def write_ranking_csv(ranking: pd.DataFrame, path: Path) -> Path:
    """Write a ranking as CSV atomically (`ranking_csv`)."""
    artifacts.write_atomic(path, ranking_csv(ranking).encode())
    return path


def previous_ranking(cfg: config.Config) -> tuple[dict[str, Any] | None, pd.DataFrame | None]:
    """The last published list from the run history: its summary row and (corporation, rank, band)."""
    found = history.latest_call_list(cfg.history_path)
    if found is None:
        return None, None
    head, clients = found
    frame = pd.DataFrame(clients, columns=[contract.ID, "rank", "probability", "band"])
    return head, frame


def model_change(head: dict[str, Any] | None, previous: pd.DataFrame | None, ranking: pd.DataFrame,
                 manifest: dict[str, Any], n: int) -> dict[str, Any] | None:
    """When the list before was made by another model: which one, which now, and how many of the top `n` changed.

    A reshuffle caused by a new model is said once at the top of the page, with the
    release's own reason, instead of leaving managers to guess why their list moved.
    """
    before_version = (head or {}).get("model_version")
    if previous is None or before_version is None or int(before_version) == int(manifest["version"]):
        return None
    top_before = set(previous.loc[previous["rank"] <= n, contract.ID])
    top_now = set(ranking.loc[ranking["rank"] <= n, contract.ID])
    return {"from_version": int(before_version), "to_version": int(manifest["version"]),
            "deployed_at": manifest.get("deployed_at"), "reason": manifest.get("reason") or "",
            "top_changed": len(top_now - top_before), "n": n}


def model_kind(model: Any) -> str:
    """The config's name of `model`'s kind ("additive", "course"), else its class's name."""
    if isinstance(model, additive.AdditiveModel):
        return "additive"
    return "course" if reasons.linear_parts(model) is not None else type(model).__name__


def file_date(path: Path) -> str | None:
    """A file's modification time (UTC, ISO 8601): the date of a test set; None if unreadable."""
    try:
        return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(path.stat().st_mtime))
    except OSError:
        return None


def labelled_measure(model: Any, frame: pd.DataFrame, k: int, source: Path) -> dict[str, Any]:
    """The list's measure of `model` on labelled `frame` (list_measure), its reliability chart and its source.

    `source` names the rows ("data") and their date ("data_date": the file's
    modification time, UTC), so an older test set is read as such.
    """
    return measured(model, frame, k, source.name, file_date(source))


def measured(model: Any, frame: pd.DataFrame, k: int, data: str, date: str | None) -> dict[str, Any]:
    """`labelled_measure` of rows named `data`, dated `date`."""
    probability = probabilities(model, contract.feature_matrix(frame))
    exited = frame[contract.TARGET].to_numpy()
    return {**list_measure(probability, exited, k), "data": data, "data_date": date,
            "reliability": reliability(probability, exited)}


def fresh_measure(cfg: config.Config, model: Any, manifest: dict[str, Any], test: pd.DataFrame,
                  test_date: str | None) -> dict[str, Any]:
    """The list's measure on the freshest labelled rows the model never learnt from (fresh.freshest):
    the headline of the page and the report. `fresh` False: no such rows, the test data."""
    rows = fresh.freshest(cfg, [manifest], test, test_date)
    return {**measured(model, rows.frame, cfg.call_capacity, rows.source, rows.date),
            "fresh": rows.fresh, "held_out": rows.held_out, "calibrated_on": rows.calibrated_on}


def _carried_over(cfg: config.Config, ranking: pd.DataFrame) -> tuple[pd.DataFrame, dict[str, Any]] | None:
    """The published list's marks (change, previous places) and summary, if it ranks the same clients."""
    try:
        published, summary = read_call_list(cfg)
    except CallListMissing:
        return None
    if not np.array_equal(published[contract.ID].to_numpy(object), ranking[contract.ID].to_numpy(object)):
        return None
    return published, summary


def publish_call_list(cfg: config.Config, finished: bool = True) -> CallList:
    """Rank the current clients by the deployed model and publish the call list.

    `finished=False` (the main job): the list becomes the previous list of the
    next only once the run marks it (history.finish_call_lists), so a run killed
    half-way never makes the next list's changes compare with its own.

    Loads the model with `artifacts.load_deployed_model`; writes
    output_model_path/risk_ranking.csv (columns RANKING_COLUMNS, reasons joined
    by "; ", change "", "new", "up" or "down", the previous list's rank and
    risk) and call_list.json ({published_at, model_version, model_sha256,
    model_kind, clients (how many ranked), bands {band: count},
    left_since_previous [corporations], left_count, new_to_top [corporations],
    model_change (model_change: null unless the list before was another model's),
    quality {f1, precision_at_n, recall_at_n, n, base_rate, exits_in_top, auc,
    calibration_error} on the test data, list_measure (labelled_measure: the
    list's measure, reliability chart, which rows and their date) on the test
    data and fresh_measure (the same on the freshest labelled rows the model
    never learnt from, else the test data: the headline), reasons_available});
    model_change also holds the old and new model's measure on the same fresh
    rows (compared, compared_words) and the top's common cause (moves.py), and
    each moved client its cause (moved_because); records the list in the run history (it is the
    previous list of the next publication, and each client's risk history).

    A list published again unchanged (same clients, ranks and probabilities)
    keeps the marks of its first publication: "new" stays until the list changes.
    """
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    # The records (every accepted extract, labelled or not: ingestion.write_records) if written.
    records = cfg.records_path if cfg.records_path.is_file() else cfg.finaldata_path
    clients = current_clients(contract.read_csv(records, require_target=False))
    test = contract.read_csv(cfg.test_data_file)
    test_date = file_date(cfg.test_data_file)
    quality = quality_of(model, test, cfg.call_capacity)
    head, previous = previous_ranking(cfg)
    n = cfg.call_capacity
    ranking, left = rank_clients(model, clients, previous, band_thresholds(cfg), n)
    carried = _carried_over(cfg, ranking) if unchanged(ranking, previous) else None
    if carried is not None:
        before, before_summary = carried
        for col in ("change", *PREVIOUS, "moved_because"):
            if col in before.columns:
                ranking[col] = before[col].array if col in PREVIOUS else before[col].to_numpy(object)
        left = list(before_summary.get("left_since_previous", []))
        change = before_summary.get("model_change")
        log.info("the list is unchanged since the previous publication: its marks stay")
    else:
        change = model_change(head, previous, ranking, manifest, n)
        if change is not None:
            ranking["moved_because"] = moves.describe_change(cfg, (model, manifest), change, ranking, test,
                                                             test_date, n)
    published_at = history.now()
    while head is not None and head.get("run_at") == published_at:
        # A list's time is its key (the run history, the team's holdout and digests): one list a second.
        time.sleep(0.05)
        published_at = history.now()
    summary = artifacts.json_safe({
        "published_at": published_at,
        "model_version": manifest["version"],
        "model_sha256": manifest["model_sha256"],
        "model_kind": model_kind(model),
        "clients": len(ranking),
        "bands": {band: int((ranking["band"] == band).sum()) for band in BANDS},
        "left_since_previous": left,
        "left_count": len(left),
        "new_to_top": ranking.loc[ranking["change"] == "new", contract.ID].tolist(),
        "model_change": change,
        "quality": quality,
        "list_measure": measured(model, test, n, cfg.test_data_file.name, test_date),
        "fresh_measure": fresh_measure(cfg, model, manifest, test, test_date),
        "reasons_available": reasons.parts_of(model) is not None,
    })
    csv_path = write_ranking_csv(ranking, ranking_path(cfg))
    json_path = call_list_path(cfg)
    artifacts.write_json_atomic(json_path, summary)
    history.record_call_list(cfg.history_path, {
        "run_at": published_at, "model_version": manifest["version"],
        "model_sha256": manifest["model_sha256"], "clients": len(ranking), "left_count": len(left),
        "new_count": len(summary["new_to_top"]), "n": n, "finished": int(finished),
        "measure": json.dumps({key: value for key, value in summary["fresh_measure"].items() if key != "reliability"}),
    }, zip(ranking[contract.ID].tolist(), ranking["rank"].tolist(), ranking["probability"].tolist(),
           ranking["band"].tolist()))
    log.info("published the call list of %d current clients (model %s): %s; %d new to the top %d, "
             "%d left since the previous list; %d exits in the top %d of %d labelled rows of %s", len(ranking),
             artifacts.version_name(manifest["version"]),
             ", ".join(f"{c} {b}" for b, c in summary["bands"].items()), len(summary["new_to_top"]),
             n, len(left), summary["fresh_measure"]["exits_in_top"], summary["fresh_measure"]["k"],
             summary["fresh_measure"]["rows"], summary["fresh_measure"]["data"])
    return CallList(ranking, summary, csv_path, json_path)


def read_call_list(cfg: config.Config) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The published call list: risk_ranking.csv as a frame and call_list.json as a dict.

    Raises CallListMissing if either file is missing or unreadable.
    """
    csv_path, json_path = ranking_path(cfg), call_list_path(cfg)
    try:
        summary = artifacts.read_json(json_path)
    except artifacts.ArtifactError as exc:
        raise CallListMissing(f"{exc}; no call list published yet (run scoring.py --call-list)") from None
    text = {contract.ID: str, "band": str, "reasons": str, "change": str, "moved_because": str}
    try:
        ranking = pd.read_csv(
            csv_path, dtype={**text, "rank": "int64", "risk_percent": "int64", "probability": "float64",
                             **{c: "Int64" for c in contract.FEATURES}},
            keep_default_na=False, na_values={c: [""] for c in (*contract.FEATURES, *PREVIOUS)},
        )
    except FileNotFoundError:
        raise CallListMissing(f"{csv_path}: not found; no call list published yet "
                              "(run scoring.py --call-list)") from None
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise CallListMissing(f"{csv_path}: unreadable ({exc})") from None
    # Read as floats (NaN where empty) and made whole here: a column with no value
    # at all (a first list) would otherwise be read as text.
    for col in PREVIOUS:
        if col in ranking.columns:
            try:
                ranking[col] = ranking[col].astype("float64").astype("Int64")
            except (TypeError, ValueError) as exc:
                raise CallListMissing(f"{csv_path}: unreadable ({col}: {exc})") from None
    return ranking, summary


def client_history(cfg: config.Config, corporation: str) -> list[dict[str, Any]]:
    """`corporation`'s risk on each published call list it was on, oldest first.

    Each item: published_at, model_version, rank, probability, band.
    """
    return history.client_risk(cfg.history_path, corporation)
