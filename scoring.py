"""Step 2b, scoring: the trained model's F1 score on held-out test data.

Reads  output_model_path/trainedmodel.pkl (hash-checked), test_data_path/testdata.csv
Writes output_model_path/latestscore.txt   the F1 score, the number alone
       a row in the run history (table `scores`)

    python scoring.py [--config config.json]
"""
from __future__ import annotations

import logging
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.metrics import f1_score

import artifacts
import cli
import config
import contract
import history
from errors import StepError

log = logging.getLogger("scoring")


@dataclass
class ScoreResult:
    f1: float
    rows: int
    score_path: Path
    model_sha256: str


def f1_of(model: Any, frame: pd.DataFrame) -> float:
    """F1 score of `model`'s predictions on a labeled, contract-valid frame."""
    predicted = model.predict(contract.feature_matrix(frame))
    return float(f1_score(frame[contract.TARGET].to_numpy(), predicted, zero_division=0))


def score(cfg: config.Config, model_path: Path | None = None, data_path: Path | None = None) -> ScoreResult:
    """Score the trained model on the test data and write latestscore.txt atomically."""
    model_path = model_path or cfg.model_path
    data_path = data_path or cfg.test_data_file
    model = artifacts.load_model(model_path)
    data = contract.read_csv(data_path)
    f1 = f1_of(model, data)
    artifacts.write_text_atomic(cfg.score_path, f"{f1!r}\n")
    model_sha = artifacts.sha256_file(model_path)
    history.record(cfg.history_path, "scores", [{
        "model_sha256": model_sha, "data_path": str(data_path),
        "data_sha256": artifacts.sha256_file(data_path), "rows": len(data), "f1": f1,
    }])
    log.info("F1 %.4f on %d rows of %s; wrote %s", f1, len(data), data_path, cfg.score_path)
    return ScoreResult(f1, len(data), cfg.score_path, model_sha)


# --- the published call list: MINIMAL STAND-INS for the page's development -----------
# The call-list helper's scoring.py replaces these two at merge (same names and
# return shapes); they only read what publish_call_list writes.

RANKING_FILE = "risk_ranking.csv"
CALL_LIST_FILE = "call_list.json"


class CallListError(StepError):
    """No call list has been published yet, or its files are unreadable."""


def read_call_list(cfg: config.Config) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The published ranking (risk_ranking.csv) and its summary (call_list.json)."""
    csv_path = cfg.output_model_path / RANKING_FILE
    json_path = cfg.output_model_path / CALL_LIST_FILE
    if not csv_path.is_file() or not json_path.is_file():
        raise CallListError(f"{csv_path}: no call list published yet")
    frame = pd.read_csv(csv_path, dtype={"corporation": str, "reasons": str, "change": str,
                                         "band": str}, keep_default_na=False,
                        na_values={c: [""] for c in contract.FEATURES})
    return frame, artifacts.read_json(json_path)


def client_history(cfg: config.Config, corporation: str) -> list[dict[str, Any]]:
    """The client's risk at each past publication, oldest first (empty without history)."""
    try:
        rows = history.rows(cfg.history_path, "client_risk")
    except ValueError:  # no such table yet
        return []
    keys = ("published_at", "model_version", "rank", "probability", "band")
    return [{k: r[k] for k in keys} for r in rows if r["corporation"] == corporation]


def main(argv: list[str] | None = None) -> int:
    args = cli.parser(__doc__).parse_args(argv)

    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        result = score(cfg)
    except StepError as exc:
        return cli.failed(exc)
    print(f"F1 score {result.f1:.4f} on {result.rows} test rows -> {result.score_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
