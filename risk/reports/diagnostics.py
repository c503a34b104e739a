"""Step 3, diagnostics: predictions, data statistics, step timings and dependency status.

The work of `diagnostics.py` (its command line lives there).
"""
from __future__ import annotations

import json
import logging
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypedDict

import numpy as np
import pandas as pd

from risk import ROOT, artifacts, config, history
from risk.data import contract
from risk.errors import StepError
from risk.reports import depcheck
from risk.reports.depcheck import (
    dependency_status,  # by this name: tests replace the check here
)

log = logging.getLogger("diagnostics")

REQUIREMENTS = depcheck.REQUIREMENTS
# The index changes slowly; a tick every 10 minutes needn't ask it each time.
DEPENDENCY_CHECK_EVERY_S = 24 * 3600
TIMED_SCRIPTS = ("ingestion.py", "training.py")
# A timed step that takes this long is stuck, not slow: ingestion and training
# of the shipped data take about a second each.
SCRIPT_TIMEOUT_S = 600.0


class DiagnosticsError(StepError):
    """A diagnostic could not be made (a timed step failed)."""


class DiagnosticsResult(TypedDict):
    """What `run_all` returns and records (as JSON in the history's `payload`)."""
    run_at: str
    model_version: int
    model_sha256: str
    model_f1: float
    data: dict[str, Any]                       # path, rows, sha256 of finaldata.csv
    predictions: dict[str, Any]                # path, rows, predicted_exits, mean_probability
    summary_statistics: dict[str, dict[str, float | None]]
    missing_data: dict[str, float]
    missing_percent: float
    execution_time: dict[str, float | None]    # ingestion_s, training_s (None: not recorded)
    timing_source: str                         # "recorded" or "subprocess"
    timing_repeats: int
    dependencies: list[depcheck.Dependency]
    dependencies_checked_at: str


def _config(config_path: str | Path | None) -> config.Config:
    return config.load(config_path)


# --- predictions -------------------------------------------------------------

def _numeric_features(frame: pd.DataFrame) -> pd.DataFrame:
    """`frame` if its feature columns exist and hold numbers (or gaps); else a DataError."""
    missing = [c for c in contract.FEATURES if c not in frame.columns]
    if missing:
        raise contract.DataError(
            f"input frame is missing feature column(s) {', '.join(repr(c) for c in missing)}"
        )
    for col in contract.FEATURES:
        values = frame[col]
        if pd.api.types.is_numeric_dtype(values):
            continue
        bad = pd.to_numeric(values, errors="coerce").isna() & values.notna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise contract.DataError(
                f"input frame column '{col}' has non-numeric value {values[bad].iloc[0]!r} in row {row}"
            )
    return frame


def _frame(data: pd.DataFrame | str | Path | None, cfg: config.Config) -> pd.DataFrame:
    """A contract-valid frame from a frame, a CSV path (relative to the config folder) or None (test data)."""
    if data is None:
        return contract.read_csv(cfg.test_data_file, require_target=False)
    if isinstance(data, pd.DataFrame):
        return _numeric_features(data)
    path = Path(data)
    if not path.is_absolute():
        path = cfg.path.parent / path
    return contract.read_csv(path, require_target=False)


def predict(model: Any, frame: pd.DataFrame) -> tuple[list[int], list[float]]:
    """`model`'s predicted class and attrition probability per row, in input order."""
    predicted, probability = _predicted(model, contract.feature_matrix(frame))
    return predicted.tolist(), probability.tolist()


def _predicted(model: Any, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """As `predict`, as arrays (int64, float64) of a feature matrix: no Python object per row."""
    if len(x) == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.float64)
    probability = model.predict_proba(x)[:, 1]
    return np.asarray(model.predict(x)).astype(np.int64), np.asarray(probability, np.float64)


def _deployed_predict(data: pd.DataFrame | str | Path | None,
                      config_path: str | Path | None) -> tuple[list[int], list[float]]:
    cfg = _config(config_path)
    model, _ = artifacts.load_deployed_model(cfg.prod_deployment_path)
    return predict(model, _frame(data, cfg))


def model_predictions(
    data: pd.DataFrame | str | Path | None = None, *, config_path: str | Path | None = None
) -> list[int]:
    """The deployed model's prediction (0 stays, 1 exits) for each row of `data`, in order."""
    return _deployed_predict(data, config_path)[0]


def model_probabilities(
    data: pd.DataFrame | str | Path | None = None, *, config_path: str | Path | None = None
) -> list[float]:
    """The deployed model's attrition probability for each row of `data`, in order."""
    return _deployed_predict(data, config_path)[1]


# --- statistics of the ingested data -----------------------------------------

def summary_statistics(frame: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Mean, median and standard deviation of every numeric column, keyed by column name."""
    numeric = frame.select_dtypes(include="number")
    return {
        col: {
            "mean": float(numeric[col].mean()),
            "median": float(numeric[col].median()),
            "std": float(numeric[col].std()),
        }
        for col in numeric.columns
    }


def dataframe_summary(*, config_path: str | Path | None = None) -> dict[str, dict[str, float]]:
    """Summary statistics of the ingested dataset (finaldata.csv)."""
    cfg = _config(config_path)
    return summary_statistics(contract.read_csv(cfg.finaldata_path))


def missing_percent(frame: pd.DataFrame) -> dict[str, float]:
    """Percent of missing values in each column, keyed by column name."""
    if len(frame) == 0:
        return {col: 0.0 for col in frame.columns}
    return {col: float(frame[col].isna().mean() * 100) for col in frame.columns}


def missing_data(*, config_path: str | Path | None = None) -> dict[str, float]:
    """Percent of missing values per column of the ingested dataset."""
    cfg = _config(config_path)
    return missing_percent(contract.read_csv(cfg.finaldata_path))


# --- timing ------------------------------------------------------------------

def scratch_config(cfg: config.Config, folder: Path) -> Path:
    """Write a copy of `cfg` into `folder` whose outputs, history and logs all lie inside it.

    Inputs (the input folder, the test data) stay the real ones: the timed
    steps only read them.
    """
    raw: dict[str, Any] = {key: getattr(cfg, key) for key in (*config.PATH_KEYS, *config.OPTIONAL_KEYS)}
    raw.update({
        "output_folder_path": folder / "ingesteddata",
        "output_model_path": folder / "models",
        "prod_deployment_path": folder / "production_deployment",
        "history_path": folder / "history" / "runs.sqlite",
        "log_folder": folder / "logs",
    })
    # Absolute paths: config.load resolves relative ones against the copy's folder.
    raw = {key: str(value) if isinstance(value, Path) else value for key, value in raw.items()}
    path = folder / "config.json"
    artifacts.write_json_atomic(path, raw)
    return path


def time_script(script: Path, config_path: Path, timeout_s: float = SCRIPT_TIMEOUT_S) -> float:
    """Wall time in seconds of `script --config config_path` run as a real subprocess."""
    started = time.perf_counter()
    try:
        run = subprocess.run(
            [sys.executable, str(script), "--config", str(config_path)],
            capture_output=True, text=True, timeout=timeout_s, cwd=config_path.parent,
        )
    except subprocess.TimeoutExpired:
        raise DiagnosticsError(f"timing {script.name}: no result within {timeout_s:g} s") from None
    elapsed = time.perf_counter() - started
    if run.returncode != 0:
        last = (run.stderr.strip().splitlines() or ["no error output"])[-1]
        raise DiagnosticsError(f"timing {script.name} failed (exit {run.returncode}): {last}")
    return elapsed


def step_timings(cfg: config.Config, repeats: int = 1) -> dict[str, float]:
    """Median wall time of ingestion.py and of training.py over `repeats` runs on a scratch copy.

    Keys are `ingestion_s` and `training_s`. Each repeat runs ingestion, then
    training on what that ingestion wrote, as the pipeline does.
    """
    if repeats < 1:
        raise ValueError("repeats must be at least 1")
    runs: dict[str, list[float]] = {name: [] for name in TIMED_SCRIPTS}
    with tempfile.TemporaryDirectory(prefix="risk-timing-") as tmp:
        scratch = scratch_config(cfg, Path(tmp))
        for _ in range(repeats):
            for name in TIMED_SCRIPTS:
                runs[name].append(time_script(ROOT / name, scratch))
    timings = {f"{Path(name).stem}_s": statistics.median(values) for name, values in runs.items()}
    log.info(
        "timed %s over %d run(s): %s", ", ".join(TIMED_SCRIPTS), repeats,
        ", ".join(f"{k} {v:.2f}" for k, v in timings.items()),
    )
    return timings


def execution_time(*, config_path: str | Path | None = None, repeats: int = 1) -> dict[str, float]:
    """Seconds that ingestion.py and training.py take (median of `repeats`), on a scratch copy."""
    return step_timings(_config(config_path), repeats)


# --- dependency check ----------------------------------------------------------

def outdated_packages_list(*, config_path: str | Path | None = None) -> list[depcheck.Dependency]:
    """Status of each package of requirements.txt against the package index (see depcheck.py)."""
    cfg = _config(config_path)
    return dependency_status(REQUIREMENTS, cfg.pypi_timeout_s)


# --- all of them, recorded -----------------------------------------------------

def recorded_timings(cfg: config.Config, model_sha256: str) -> dict[str, float | None]:
    """The durations the steps recorded when they last really ran; None where nothing was recorded.

    training_s: the fit of the deployed model (history table `trainings`);
    ingestion_s: `duration_s` of ingestion.json, when ingestion records it.
    """
    trainings = [r for r in history.rows(cfg.history_path, "trainings") if r["model_sha256"] == model_sha256]
    try:
        ingestion_s = artifacts.read_json(cfg.ingestion_record_path).get("duration_s")
    except artifacts.ArtifactError:
        ingestion_s = None
    return {"ingestion_s": ingestion_s, "training_s": trainings[-1]["duration_s"] if trainings else None}


def _age_s(when: str) -> float:
    return (datetime.now(timezone.utc) - datetime.fromisoformat(when)).total_seconds()


def dependencies(cfg: config.Config, fresh: bool) -> tuple[list[depcheck.Dependency], str]:
    """The dependency status and when it was checked: the last recorded one if under a day old."""
    last = None if fresh else latest_diagnostics(cfg)
    if last and "dependencies_checked_at" in last and _age_s(last["dependencies_checked_at"]) < DEPENDENCY_CHECK_EVERY_S:
        return last["dependencies"], last["dependencies_checked_at"]
    return dependency_status(REQUIREMENTS, cfg.pypi_timeout_s), history.now()


def run_all(cfg: config.Config, *, repeats: int | None = None,
            fresh_dependencies: bool = False) -> DiagnosticsResult:
    """Run every diagnostic, record it in the run history (table `diagnostics`) and return it.

    Timings are the recorded ones unless `repeats` asks to run the steps as
    subprocesses; the package index is asked only if the last check is a day
    old or `fresh_dependencies`.
    """
    run_at = history.now()
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    data = contract.read_csv(cfg.finaldata_path)
    test = contract.read_csv(cfg.test_data_file, require_target=False)
    predicted, probability = _predicted(model, contract.feature_matrix(test))
    missing = missing_percent(data)
    if repeats is None:
        timings, source = recorded_timings(cfg, manifest["model_sha256"]), "recorded"
    else:
        timings, source = step_timings(cfg, repeats), "subprocess"
    deps, checked_at = dependencies(cfg, fresh_dependencies)
    result: DiagnosticsResult = artifacts.json_safe({
        "run_at": run_at,
        "model_version": manifest["version"],
        "model_sha256": manifest["model_sha256"],
        "model_f1": manifest["score"],
        "data": {"path": str(cfg.finaldata_path), "rows": len(data),
                 "sha256": artifacts.sha256_file(cfg.finaldata_path)},
        "predictions": {"path": str(cfg.test_data_file), "rows": len(predicted),
                        "predicted_exits": int(predicted.sum()),
                        "mean_probability": float(probability.mean()) if len(probability) else None},
        "summary_statistics": summary_statistics(data),
        "missing_data": missing,
        # Every column has the same row count, so this is the percent of all cells.
        "missing_percent": float(np.mean(list(missing.values()))),
        "execution_time": timings,
        "timing_source": source,
        "timing_repeats": repeats or 1,
        "dependencies": deps,
        "dependencies_checked_at": checked_at,
    })
    history.record(cfg.history_path, "diagnostics", [{
        "run_at": run_at,
        "model_version": result["model_version"],
        "model_sha256": result["model_sha256"],
        "data_sha256": result["data"]["sha256"],
        "rows": len(data),
        "f1": result["model_f1"],
        "missing_percent": result["missing_percent"],
        "ingestion_s": timings["ingestion_s"],
        "training_s": timings["training_s"],
        "outdated": sum(bool(d["outdated"]) for d in deps),
        "unknown": sum(d["outdated"] is None for d in deps),
        "payload": json.dumps(result, sort_keys=True),
    }])
    log.info("recorded diagnostics of model %s in %s", artifacts.version_name(result["model_version"]),
             cfg.history_path)
    return result


def latest_diagnostics(cfg: config.Config) -> DiagnosticsResult | None:
    """The result of the newest recorded diagnostics run, or None if there is none."""
    newest = history.rows(cfg.history_path, "diagnostics", limit=1)
    return json.loads(newest[0]["payload"]) if newest else None


# --- what the user reads -------------------------------------------------------

def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _seconds(value: float | None) -> str:
    return "not recorded" if value is None else f"{value:.2f} s"


def summary(result: DiagnosticsResult) -> str:
    """A readable summary of a `run_all` result."""
    pred, data = result["predictions"], result["data"]
    lines = [
        f"Diagnostics at {result['run_at']} of deployed model {artifacts.version_name(result['model_version'])} "
        f"(F1 {result['model_f1']:.4f})",
        "",
        f"Predictions: {pred['rows']:,} rows of {Path(pred['path']).name}, "
        f"{pred['predicted_exits']:,} predicted to exit "
        f"(mean attrition probability {_number(pred['mean_probability'], 3)})",
        "",
        f"Ingested data: {data['rows']:,} rows of {data['path']}",
        f"  {'column':<22}{'mean':>12}{'median':>12}{'std':>12}{'missing %':>12}",
    ]
    stats = result["summary_statistics"]
    for col, pct in result["missing_data"].items():
        s = stats.get(col, {})
        lines.append(
            f"  {col:<22}{_number(s.get('mean')) if s else '':>12}{_number(s.get('median')) if s else '':>12}"
            f"{_number(s.get('std')) if s else '':>12}{pct:>12.2f}"
        )
    times = result["execution_time"]
    runs = result.get("timing_repeats", 1)
    how = ("as recorded when the steps last ran" if result.get("timing_source") == "recorded"
           else f"{'median of ' + str(runs) + ' runs' if runs > 1 else 'one run'}, as subprocesses")
    lines += [
        f"  missing values: {result['missing_percent']:.2f} % of all cells",
        "",
        f"Timing ({how}): ingestion {_seconds(times['ingestion_s'])}, training {_seconds(times['training_s'])}",
        "",
    ]
    deps = result["dependencies"]
    lines.append(
        f"Dependencies ({len(deps)} in requirements.txt, checked {result.get('dependencies_checked_at', '?')}: "
        f"{sum(bool(d['outdated']) for d in deps)} outdated, "
        f"{sum(d['outdated'] is None for d in deps)} unknown):"
    )
    width = max([len("package"), *(len(d["name"]) for d in deps)]) + 2
    lines.append(f"  {'package':<{width}}{'pinned':>10}{'installed':>11}{'latest':>10}  status")
    for d in deps:
        lines.append(
            f"  {d['name']:<{width}}{d['pinned'] or '-':>10}{d['installed'] or '-':>11}"
            f"{d['latest']:>10}  {depcheck.dependency_line(d)}"
        )
    return "\n".join(lines)
