"""Step 3, diagnostics: predictions, data statistics, step timings and dependency status.

Reads  the deployed model (hash-checked), output_folder_path/finaldata.csv,
       test_data_path/testdata.csv, requirements.txt beside the scripts,
       the package index (PyPI's JSON API, timeout `pypi_timeout_s`)
Writes a row in the run history (table `diagnostics`): the figures plotted as
       trends, and the whole result as JSON. Nothing else: the timing runs
       ingestion.py and training.py on a scratch copy of the config, so the live
       finaldata.csv and model are never touched.

The course's functions keep the course's names and each works alone, from any
working directory: `model_predictions`, `dataframe_summary`, `missing_data`,
`execution_time`, `outdated_packages_list` (each takes `config_path=`).
`run_all(cfg)` runs them all and records the run.

    python diagnostics.py [--config config.json] [--repeats N]

The index is https://pypi.org/pypi; the environment variable RISK_PYPI_URL
names another (a mirror; or a closed port, to see the offline behaviour).
"""
from __future__ import annotations

import json
import logging
import math
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable
from urllib.parse import urlsplit

import numpy as np
import pandas as pd
import requests
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.version import InvalidVersion, Version

import artifacts
import cli
import config
import contract
import history
from errors import StepError

log = logging.getLogger("diagnostics")

REQUIREMENTS = config.HERE / "requirements.txt"
INDEX_URL = "https://pypi.org/pypi"
INDEX_URL_ENV = "RISK_PYPI_URL"
TIMED_SCRIPTS = ("ingestion.py", "training.py")
# A timed step that takes this long is stuck, not slow: ingestion and training
# of the shipped data take about a second each.
SCRIPT_TIMEOUT_S = 600.0
UNKNOWN = "unknown"


class DiagnosticsError(StepError):
    """A diagnostic could not be made (a timed step failed)."""


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


def ranked_clients(model: Any, frame: pd.DataFrame) -> pd.DataFrame:
    """Every client of `frame` with its attrition probability, highest risk first.

    A client listed more than once (it came back in a later extract) keeps its
    last row: files are ingested in name order, so that is its latest figures.
    Clients of equal probability keep their order in `frame`.
    """
    latest = frame.drop_duplicates(subset=contract.ID, keep="last")
    predicted, probability = _predicted(model, contract.feature_matrix(latest))
    probability = np.round(probability, 6)
    order = np.argsort(-probability, kind="stable")
    return pd.DataFrame({
        "rank": np.arange(1, len(order) + 1),
        contract.ID: latest[contract.ID].to_numpy()[order],
        "attrition_probability": probability[order],
        "predicted_exit": predicted[order],
        **{col: latest[col].to_numpy()[order] for col in contract.FEATURES},
    })


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
                runs[name].append(time_script(config.HERE / name, scratch))
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

def requirements(path: Path) -> list[tuple[str, str | None]]:
    """(name, pinned version or None) of each requirement in a requirements file, in file order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DiagnosticsError(f"{path}: cannot read requirements ({exc.strerror})") from None
    found = []
    for number, line in enumerate(lines, 1):
        line = line.split(" #", 1)[0].strip()
        # Options (-r, --index-url, ...) and comments name no package of ours.
        if not line or line.startswith(("#", "-")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise DiagnosticsError(f"{path}: line {number} is not a requirement ({exc})") from None
        if req.marker is not None and not req.marker.evaluate():
            continue
        pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
        found.append((req.name, pins[0] if pins else None))
    return found


def installed_version(name: str) -> str | None:
    """The version of `name` installed in this environment, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def _newest_for_python(releases: dict[str, list[dict[str, Any]]], python: str) -> str | None:
    """The newest final, unyanked release with a file that installs on `python`."""
    def installs(file: dict[str, Any]) -> bool:
        if file.get("yanked"):
            return False
        try:
            return python in SpecifierSet(file.get("requires_python") or "")
        except InvalidSpecifier:
            return True  # can't tell; pip would try it too

    best: Version | None = None
    for text, files in releases.items():
        try:
            version = Version(text)
        except InvalidVersion:
            continue
        if version.is_prerelease or (best is not None and version <= best):
            continue
        if any(installs(f) for f in files):
            best = version
    return str(best) if best is not None else None


def index_answer(name: str, index_url: str, timeout_s: float) -> dict[str, str | None]:
    """Ask the index about `name`: its latest version, and the newest that installs on this Python."""
    response = requests.get(f"{index_url.rstrip('/')}/{name}/json", timeout=timeout_s)
    if response.status_code == 404:
        return {"latest": UNKNOWN, "for_python": None, "reason": f"'{name}' not found on the index"}
    response.raise_for_status()
    answer = response.json()
    latest = str(answer["info"]["version"])
    needs = answer["info"].get("requires_python") or ""
    python = platform.python_version()
    try:
        fits = python in SpecifierSet(needs)
    except InvalidSpecifier:
        fits = True
    if fits:
        return {"latest": latest, "for_python": latest, "reason": None}
    # The index's latest may need a newer Python than ours (numpy's does today);
    # then the release that matters for an upgrade here is the newest one that installs.
    for_python = _newest_for_python(answer.get("releases") or {}, python)
    return {"latest": latest, "for_python": for_python,
            "reason": f"latest needs Python {needs}; newest for {python}: {for_python or 'none'}"}


def _cause(exc: BaseException) -> str:
    """The innermost operating-system reason inside a requests error (e.g. 'Connection refused')."""
    todo, seen = [exc], set()
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        todo += [n for n in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args)
                 if isinstance(n, BaseException)]
    return type(exc).__name__


def _ask_all(names: list[str], ask: Callable[[str], dict[str, Any]], deadline_s: float,
             host: str) -> dict[str, dict[str, Any]]:
    """`ask(name)` for every name at once; a name without an answer by the deadline gets a reason.

    Daemon threads, not a ThreadPoolExecutor: a lookup stuck in DNS (which
    no socket timeout covers) must not hold up the caller, nor the
    interpreter's exit, which joins executor threads.
    """
    answers: dict[str, dict[str, Any]] = {}

    def work(name: str) -> None:
        try:
            answers[name] = ask(name)
        except requests.Timeout:
            answers[name] = {"reason": f"no answer from {host} within {deadline_s:g} s"}
        except requests.HTTPError as exc:
            answers[name] = {"reason": f"{host} answered HTTP {exc.response.status_code}"}
        except requests.RequestException as exc:
            answers[name] = {"reason": f"cannot reach {host}: {_cause(exc)}"}
        except (ValueError, KeyError, TypeError) as exc:  # not the JSON the API promises
            answers[name] = {"reason": f"unexpected answer from {host} ({type(exc).__name__})"}

    threads = [threading.Thread(target=work, args=(n,), daemon=True, name=f"index-{n}") for n in names]
    end = time.monotonic() + deadline_s
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    late = {"reason": f"no answer from {host} within {deadline_s:g} s"}
    return {name: dict(answers.get(name, late)) for name in names}


def dependency_status(
    requirements_path: Path = REQUIREMENTS, timeout_s: float = 3.0, index_url: str | None = None
) -> list[dict[str, Any]]:
    """For each requirement: name, pinned, installed and latest version, and whether it is outdated.

    `outdated` compares the pin (else the installed version) with the newest
    release that installs on this Python; it is None when the index gave no
    answer within `timeout_s` (then `latest` is "unknown" and `reason` says why).
    """
    index_url = index_url or os.environ.get(INDEX_URL_ENV) or INDEX_URL
    reqs = requirements(requirements_path)
    started = time.perf_counter()
    host = urlsplit(index_url).netloc or index_url
    answers = _ask_all([name for name, _ in reqs], lambda n: index_answer(n, index_url, timeout_s),
                       timeout_s, host)
    rows = []
    for name, pinned in reqs:
        answer = answers[name]
        installed = installed_version(name)
        latest = answer.get("latest", UNKNOWN)
        for_python = answer.get("for_python")
        reason = answer.get("reason")
        current = pinned or installed
        outdated = None
        if for_python and current:
            try:
                outdated = Version(current) < Version(for_python)
            except InvalidVersion:
                reason = f"cannot compare versions {current!r} and {for_python!r}"
        rows.append({
            "name": name, "pinned": pinned, "installed": installed, "latest": latest,
            "latest_for_python": for_python, "outdated": outdated, "reason": reason,
        })
    unknown = sum(r["outdated"] is None for r in rows)
    log.info("checked %d requirement(s) against %s in %.2f s: %d outdated, %d unknown",
             len(rows), host, time.perf_counter() - started, sum(bool(r["outdated"]) for r in rows), unknown)
    return rows


def outdated_packages_list(*, config_path: str | Path | None = None) -> list[dict[str, Any]]:
    """Status of each package of requirements.txt against the package index (see dependency_status)."""
    cfg = _config(config_path)
    return dependency_status(REQUIREMENTS, cfg.pypi_timeout_s)


# --- all of them, recorded -----------------------------------------------------

def _json_safe(value: Any) -> Any:
    """`value` with NaN and infinities as None: JSON has no NaN (a one-row column has no std)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def run_all(cfg: config.Config, *, repeats: int = 1) -> dict[str, Any]:
    """Run every diagnostic, record it in the run history (table `diagnostics`) and return it."""
    run_at = history.now()
    model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
    data = contract.read_csv(cfg.finaldata_path)
    test = contract.read_csv(cfg.test_data_file, require_target=False)
    predicted, probability = predict(model, test)
    missing = missing_percent(data)
    result = _json_safe({
        "run_at": run_at,
        "model_version": manifest["version"],
        "model_sha256": manifest["model_sha256"],
        "model_f1": manifest["score"],
        "data": {"path": str(cfg.finaldata_path), "rows": len(data),
                 "sha256": artifacts.sha256_file(cfg.finaldata_path)},
        "predictions": {"path": str(cfg.test_data_file), "rows": len(predicted),
                        "predicted_exits": sum(predicted),
                        "mean_probability": float(np.mean(probability)) if probability else None},
        "summary_statistics": summary_statistics(data),
        "missing_data": missing,
        # Every column has the same row count, so this is the percent of all cells.
        "missing_percent": float(np.mean(list(missing.values()))),
        "execution_time": step_timings(cfg, repeats),
        "timing_repeats": repeats,
        "dependencies": dependency_status(REQUIREMENTS, cfg.pypi_timeout_s),
    })
    deps = result["dependencies"]
    history.record(cfg.history_path, "diagnostics", [{
        "run_at": run_at,
        "model_version": result["model_version"],
        "model_sha256": result["model_sha256"],
        "data_sha256": result["data"]["sha256"],
        "rows": len(data),
        "f1": result["model_f1"],
        "missing_percent": result["missing_percent"],
        "ingestion_s": result["execution_time"]["ingestion_s"],
        "training_s": result["execution_time"]["training_s"],
        "outdated": sum(bool(d["outdated"]) for d in deps),
        "unknown": sum(d["outdated"] is None for d in deps),
        "payload": json.dumps(result, sort_keys=True),
    }])
    log.info("recorded diagnostics of model v%04d in %s", result["model_version"], cfg.history_path)
    return result


def latest_diagnostics(cfg: config.Config) -> dict[str, Any] | None:
    """The result of the newest recorded diagnostics run, or None if there is none."""
    newest = history.rows(cfg.history_path, "diagnostics", limit=1)
    return json.loads(newest[0]["payload"]) if newest else None


# --- what the user reads -------------------------------------------------------

def _number(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def dependency_line(dep: dict[str, Any]) -> str:
    """One dependency as the user reads it: '<status>' plus the reason, if any."""
    if dep["outdated"] is None:
        status = UNKNOWN
    elif dep["outdated"]:
        status = f"outdated (-> {dep['latest_for_python']})"
    else:
        status = "up to date"
    if dep["installed"] is None:
        status += ", not installed"
    elif dep["pinned"] and dep["installed"] != dep["pinned"]:
        status += f", installed {dep['installed']} differs from the pin"
    return status + (f": {dep['reason']}" if dep["reason"] else "")


def summary(result: dict[str, Any]) -> str:
    """A readable summary of a `run_all` result."""
    pred, data = result["predictions"], result["data"]
    lines = [
        f"Diagnostics at {result['run_at']} of deployed model v{result['model_version']:04d} "
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
    lines += [
        f"  missing values: {result['missing_percent']:.2f} % of all cells",
        "",
        f"Timing ({'median of ' + str(runs) + ' runs' if runs > 1 else 'one run'}, as subprocesses): "
        f"ingestion.py {times['ingestion_s']:.2f} s, training.py {times['training_s']:.2f} s",
        "",
    ]
    deps = result["dependencies"]
    lines.append(
        f"Dependencies ({len(deps)} in requirements.txt: "
        f"{sum(bool(d['outdated']) for d in deps)} outdated, "
        f"{sum(d['outdated'] is None for d in deps)} unknown):"
    )
    lines.append(f"  {'package':<16}{'pinned':>10}{'installed':>11}{'latest':>10}  status")
    for d in deps:
        lines.append(
            f"  {d['name']:<16}{d['pinned'] or '-':>10}{d['installed'] or '-':>11}"
            f"{d['latest']:>10}  {dependency_line(d)}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--repeats", type=int, default=1,
                   help="time each step this many times and report the median (default: 1)")
    args = p.parse_args(argv)
    if args.repeats < 1:
        p.error("--repeats must be at least 1")
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        result = run_all(cfg, repeats=args.repeats)
    except StepError as exc:
        return cli.failed(exc)
    print(summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
