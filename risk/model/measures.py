"""How good a call list is, measured on labelled rows: the figures managers act on.

- `exits_in_top`: how many of the clients ranked in the top `k` really left;
  `precision_at` is that count over `k`, the share of calls that reach a
  leaving client. With `k` = the config's `call_capacity`, this is the list's
  own measure; against the same figure of the true probabilities (an oracle,
  in the benchmarks) it says how much of the possible the list catches.
- `auc`: the chance that a leaving client is ranked above a staying one.
- `calibration_error`: expected calibration error over equal-count bins: how
  far "70 %" is from the share of such clients who leave.
- `brier`, `log_loss`: proper scoring rules, the guard for calibration.
- `list_measure`: those figures together on one set of labelled rows, and
  `reliability`: the points of the reliability chart (page and report).

Ranks are stable: ties keep their row order, so every measure is deterministic.
"""
from __future__ import annotations

from typing import Any

import numpy as np

RELIABILITY_BINS = 10


def top_rows(scores: np.ndarray, k: int) -> np.ndarray:
    """Indices of the `k` highest scores, highest first (ties in row order)."""
    order = np.argsort(-np.asarray(scores, dtype=float), kind="stable")
    return order[: max(0, min(int(k), len(order)))]


def exits_in_top(labels: np.ndarray, scores: np.ndarray, k: int) -> int:
    """How many of the top `k` by `scores` have label 1."""
    return int(np.asarray(labels)[top_rows(scores, k)].sum())


def precision_at(labels: np.ndarray, scores: np.ndarray, k: int) -> float:
    """Share of the top `k` by `scores` that have label 1 (nan for no rows)."""
    top = top_rows(scores, k)
    return float(np.asarray(labels)[top].mean()) if len(top) else float("nan")


def auc(labels: np.ndarray, scores: np.ndarray) -> float:
    """Area under the ROC curve by ranks (ties count half); nan when one class is missing."""
    labels = np.asarray(labels).astype(bool)
    positives, negatives = int(labels.sum()), int((~labels).sum())
    if not positives or not negatives:
        return float("nan")
    order = np.argsort(np.asarray(scores, dtype=float), kind="stable")
    ranks = np.empty(len(order))
    ranks[order] = np.arange(1, len(order) + 1)
    sorted_scores = np.asarray(scores, dtype=float)[order]
    # Average ranks over ties.
    _, first, counts = np.unique(sorted_scores, return_index=True, return_counts=True)
    for start, n in zip(first[counts > 1], counts[counts > 1]):
        ranks[order[start:start + n]] = start + (n + 1) / 2
    return float((ranks[labels].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def calibration_error(labels: np.ndarray, probabilities: np.ndarray, bins: int = 10) -> float:
    """Expected calibration error over `bins` equal-count bins of the predicted probability."""
    labels, p = np.asarray(labels, dtype=float), np.asarray(probabilities, dtype=float)
    if not len(p):
        return float("nan")
    order = np.argsort(p, kind="stable")
    return float(sum(abs(labels[part].mean() - p[part].mean()) * len(part)
                     for part in np.array_split(order, min(bins, len(p)))) / len(p))


def brier(labels: np.ndarray, probabilities: np.ndarray) -> float:
    """Mean squared difference between probability and outcome (lower is better)."""
    return float(np.mean((np.asarray(probabilities, dtype=float) - np.asarray(labels, dtype=float)) ** 2))


def log_loss(labels: np.ndarray, probabilities: np.ndarray, eps: float = 1e-6) -> float:
    """Mean negative log-likelihood of the outcomes (lower is better)."""
    p = np.clip(np.asarray(probabilities, dtype=float), eps, 1 - eps)
    y = np.asarray(labels, dtype=float)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def list_measure(probability: np.ndarray, exited: np.ndarray, k: int) -> dict[str, Any]:
    """The list's own measure on labelled rows: exits caught among the top `k`, AUC, calibration.

    Keys: k (fewer if fewer rows), exits_in_top (how many of the top k left),
    auc, calibration_error (10 equal-count bins), brier, rows, exits (how many left in all).
    """
    k = min(k, len(exited))
    return {
        "k": k,
        "exits_in_top": exits_in_top(exited, probability, k),
        "auc": auc(exited, probability),
        "calibration_error": calibration_error(exited, probability, RELIABILITY_BINS),
        "brier": brier(exited, probability) if len(exited) else float("nan"),
        "rows": len(exited),
        "exits": int(np.sum(exited)),
    }


def reliability(probability: np.ndarray, exited: np.ndarray, bins: int = RELIABILITY_BINS) -> list[dict[str, Any]]:
    """The reliability chart's points: per equal-count bin of the probability, predicted vs observed.

    Each item: predicted (mean probability), observed (share who left), rows,
    low / high (the bin's probability range). Binned as calibration_error.
    """
    p, y = np.asarray(probability, float), np.asarray(exited, float)
    order = np.argsort(p, kind="stable")
    return [{"predicted": float(p[part].mean()), "observed": float(y[part].mean()), "rows": len(part),
             "low": float(p[part].min()), "high": float(p[part].max())}
            for part in np.array_split(order, min(bins, len(p))) if len(part)]
