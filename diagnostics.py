"""Step 3, diagnostics: predictions of the deployed model and statistics of the ingested data.

Reads  the deployed model (hash-checked), output_folder_path/finaldata.csv,
       test_data_path/testdata.csv

    python diagnostics.py [--config config.json]
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import artifacts
import config
import contract

log = logging.getLogger("diagnostics")


def _config(config_path: str | Path | None) -> config.Config:
    return config.load(config_path)


def _frame(data: pd.DataFrame | str | Path | None, cfg: config.Config) -> pd.DataFrame:
    """A contract-valid frame from a frame, a CSV path (relative to the config folder) or None (test data)."""
    if data is None:
        return contract.read_csv(cfg.test_data_file, require_target=False)
    if isinstance(data, pd.DataFrame):
        return data
    path = Path(data)
    if not path.is_absolute():
        path = cfg.path.parent / path
    return contract.read_csv(path, require_target=False)


def predict(model: Any, frame: pd.DataFrame) -> tuple[list[int], list[float]]:
    """`model`'s predicted class and attrition probability per row, in input order."""
    x = contract.feature_matrix(frame)
    if len(x) == 0:
        return [], []
    probability = model.predict_proba(x)[:, 1]
    return [int(p) for p in model.predict(x)], [float(p) for p in probability]


def model_predictions(
    data: pd.DataFrame | str | Path | None = None, *, config_path: str | Path | None = None
) -> list[int]:
    """The deployed model's prediction (0 stays, 1 exits) for each row of `data`, in order."""
    cfg = _config(config_path)
    model, _ = artifacts.load_deployed_model(cfg.prod_deployment_path)
    return predict(model, _frame(data, cfg))[0]


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
    """
    latest = frame.drop_duplicates(subset=contract.ID, keep="last")
    predicted, probability = predict(model, latest)
    ranked = pd.DataFrame({
        contract.ID: latest[contract.ID].to_numpy(),
        "attrition_probability": np.round(probability, 6),
        "predicted_exit": predicted,
        **{col: latest[col].to_numpy() for col in contract.FEATURES},
    })
    ranked = ranked.sort_values(
        ["attrition_probability", contract.ID], ascending=[False, True], kind="stable"
    ).reset_index(drop=True)
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    return ranked
