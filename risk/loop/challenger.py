"""Champion or challenger? Held-out fresh labels, a paired test, a base-rate check, a label-free estimate.

- `held_out`: which rows of an extract are held out, never trained on. Chosen
  by a hash of the client id, so a client held out once is held out in every
  later training window too (a re-appearing client never leaks into training).
- `paired_test`: challenger vs champion F1 on the same held-out rows, against a
  margin. Each row
  falls in one of 8 cells (label x champion's prediction x challenger's), so a
  bootstrap resample of rows is a multinomial draw of 8 counts: thousands of
  paired resamples cost a millisecond. One-sided p-value of "gain <= margin".
- `base_rate`: observed exits against the sum of the champion's predicted
  probabilities (calibration-in-the-large), a two-sided z-test; it catches a
  doubled exit rate that the F1 test misses.
- `estimate`: expected F1 and precision at N from predicted probabilities
  alone (confidence-based performance estimation, as NannyML's CBPE): with
  calibrated probabilities p, a row predicted "exits" is a true positive with
  probability p, so the confusion matrix has expected counts sum(p), sum(1-p)
  over the predicted positives, sum(p) over the predicted negatives. Blind to a
  change of who leaves (the probabilities are the old law's), hence it runs
  after the quality gate and is replaced by realized figures once labels arrive.
  The model's probabilities are first calibrated (isotonic regression, as
  CBPE does) on the most recent labelled rows: the model is misspecified
  (linear in raw figures), so its raw probabilities put the expected F1 0.05
  low, and a calibration fitted on its training data is off by 0.08 under
  covariate shift; fitted on the latest extract, 0.016 (same law) and 0.020
  (covariate shift) mean absolute error at 2,000 rows.
"""
from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk.data import contract, drift
from risk.model import measures
from risk.model.fresh import held_out  # noqa: F401 (the loop's: one hash for the loop and the page)

COLLAPSE_AUC_DROP = 0.10   # a model ranking this much worse (AUC) than the champion's on any set collapsed
COLLAPSE_PRECISION = 0.5   # ... or catching under half the champion's exits in the top call_capacity
BRIER_TOLERANCE = 0.01     # calibration guard: a challenger's Brier score at most this much worse




@dataclass
class Comparison:
    champion_f1: float
    challenger_f1: float
    gain: float
    p_value: float
    rows: int
    champion_counts: list[int]
    challenger_counts: list[int]


def paired_test(labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray,
                rounds: int = 2000, seed: int = 0, margin: float = 0.0) -> Comparison:
    """One-sided paired bootstrap of F1(challenger) - F1(champion) on the same rows.

    The p-value is that of "the gain is at most `margin`": a challenger must be
    better by more than the margin, significantly. Two models of the same law
    differ consistently by a hair (where each puts the 0.5 threshold), which a
    test against 0 finds "significant" on a few thousand rows.
    """
    y, a, b = (np.asarray(v, dtype=bool).astype(int) for v in (labels, champion, challenger))
    cells = np.bincount(y * 4 + a * 2 + b, minlength=8)
    n = int(cells.sum())
    draws = np.random.default_rng(seed).multinomial(n, cells / n, size=rounds)
    gains = drift.f1_from_counts(_counts(draws, 1)) - drift.f1_from_counts(_counts(draws, 0))
    observed_a, observed_b = _counts(cells, 0), _counts(cells, 1)
    f1_a, f1_b = float(drift.f1_from_counts(observed_a)), float(drift.f1_from_counts(observed_b))
    return Comparison(f1_a, f1_b, f1_b - f1_a, float(np.mean(gains <= margin)), n,
                      observed_a.astype(int).tolist(), observed_b.astype(int).tolist())


def _counts(cells: np.ndarray, which: int) -> np.ndarray:
    """[tp, fp, fn, tn] of model `which` (0 champion, 1 challenger) from the 8 cells (last axis)."""
    c = np.asarray(cells).reshape(*np.shape(cells)[:-1], 2, 2, 2)  # label, champion, challenger
    predicted = c.sum(axis=-1) if which == 0 else c.sum(axis=-2)    # label x prediction
    return np.stack([predicted[..., 1, 1], predicted[..., 0, 1], predicted[..., 1, 0],
                     predicted[..., 0, 0]], axis=-1)


@dataclass
class ListComparison:
    """Challenger vs champion by the list's measure on the same held-out rows."""
    measure: str               # "list" (share of exits in the top k) or "auc"
    champion: float
    challenger: float
    gain: float
    p_value: float
    rows: int
    k: int
    champion_brier: float
    challenger_brier: float

    @property
    def champion_f1(self) -> float:  # the run history's columns keep their names
        return self.champion

    @property
    def challenger_f1(self) -> float:
        return self.challenger

    def describe(self) -> str:
        what = f"exits in the top {self.k}" if self.measure == "list" else "AUC"
        return (f"{what} {self.challenger:.3f} vs {self.champion:.3f} (gain {self.gain:+.3f}, "
                f"p={self.p_value:.4f}); Brier {self.challenger_brier:.4f} vs {self.champion_brier:.4f}")


def _weights(n: int, rounds: int, seed: int) -> np.ndarray:
    """Bootstrap resamples of `n` rows as counts per row (rounds x n)."""
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1 / n), size=rounds)


def _top_share(weights: np.ndarray, labels: np.ndarray, scores: np.ndarray, k: int) -> np.ndarray:
    """Share of exits among the top `k` of each resample (copies of a row rank together)."""
    order = np.argsort(-scores, kind="stable")
    w = weights[:, order]
    before = np.cumsum(w, axis=1) - w
    taken = np.clip(k - before, 0, w)
    return (taken * labels[order]).sum(axis=1) / k


def _auc(weights: np.ndarray, labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """AUC of each resample: weighted share of (exit, stay) pairs in the right order (ties half)."""
    order = np.argsort(scores, kind="stable")
    y, s = labels[order].astype(bool), scores[order]
    w = weights[:, order].astype(float)
    neg = np.where(~y, w, 0.0)
    # Ties: a group of equal scores counts its own negatives half.
    first = np.searchsorted(s, s, side="left")
    last = np.searchsorted(s, s, side="right")
    cum = np.concatenate([np.zeros((len(w), 1)), np.cumsum(neg, axis=1)], axis=1)
    tied_neg = cum[:, last] - cum[:, first]
    below = cum[:, first] + tied_neg / 2
    pos_w = np.where(y, w, 0.0)
    pairs = pos_w.sum(axis=1) * neg.sum(axis=1)
    return np.divide((pos_w * below).sum(axis=1), pairs, out=np.full(len(w), np.nan), where=pairs > 0)


def list_test(labels: np.ndarray, champion: np.ndarray, challenger: np.ndarray, k: int,
              measure: str = "list", rounds: int = 2000, seed: int = 0,
              margin: float = 0.0) -> ListComparison:
    """One-sided paired bootstrap of the list's measure, challenger minus champion, on the same rows.

    `champion`, `challenger`: each model's probabilities. "list": share of
    exits among the top `k` (k capped at the rows); "auc": the ranking's AUC.
    p-value of "the gain is at most `margin`".
    """
    y = np.asarray(labels).astype(int)
    a, b = np.asarray(champion, dtype=float), np.asarray(challenger, dtype=float)
    n, k = len(y), max(1, min(int(k), len(y)))
    w = _weights(n, rounds, seed)
    one = np.ones((1, n), dtype=int)
    if measure == "auc":
        gains = _auc(w, y, b) - _auc(w, y, a)
        observed = float(_auc(one, y, a)[0]), float(_auc(one, y, b)[0])
    else:
        gains = _top_share(w, y, b, k) - _top_share(w, y, a, k)
        observed = float(_top_share(one, y, a, k)[0]), float(_top_share(one, y, b, k)[0])
    return ListComparison(measure, observed[0], observed[1], observed[1] - observed[0],
                          float(np.mean(gains <= margin)), n, k,
                          measures.brier(y, a), measures.brier(y, b))


def collapses(labels: np.ndarray, champion: np.ndarray, candidate: np.ndarray, k: int) -> str | None:
    """Why `candidate`'s ranking collapsed against the champion's on these rows, or None.

    Collapse: AUC lower by more than COLLAPSE_AUC_DROP, or under
    COLLAPSE_PRECISION of the champion's exits in the top `k`.
    """
    y = np.asarray(labels).astype(int)
    if not len(y) or y.min() == y.max():
        return None
    k = max(1, min(int(k), len(y)))
    auc_a, auc_b = measures.auc(y, champion), measures.auc(y, candidate)
    top_a, top_b = measures.exits_in_top(y, champion, k), measures.exits_in_top(y, candidate, k)
    if auc_b < auc_a - COLLAPSE_AUC_DROP or top_b < COLLAPSE_PRECISION * top_a:
        return (f"AUC {auc_b:.3f} vs the champion's {auc_a:.3f}, exits in the top {k} "
                f"{top_b} vs {top_a}")
    return None


def collapse_report(champion: Any, candidate: Any, sets: dict[str, pd.DataFrame | None],
                    k: int) -> list[tuple[str, str]]:
    """(set name, why) for each labelled set where `candidate` collapses against `champion`."""
    found = []
    for name, frame in sets.items():
        if frame is None or not len(frame):
            continue
        why = collapses(frame[contract.TARGET].to_numpy(), probabilities(champion, frame),
                        probabilities(candidate, frame), k)
        if why:
            found.append((name, f"{why} on {len(frame)} rows"))
    return found


@dataclass
class BaseRate:
    observed: int
    expected: float
    z: float
    p_value: float
    shifted: bool
    rows: int

    def describe(self) -> str:
        verdict = "shifted" if self.shifted else "as predicted"
        return (f"{verdict} ({self.observed} exits observed, {self.expected:.1f} predicted "
                f"on {self.rows} rows, z={self.z:.2f}, p={self.p_value:.3g})")

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def base_rate(labels: np.ndarray, probabilities: np.ndarray, alpha: float) -> BaseRate:
    """Observed exits vs the sum of predicted probabilities: two-sided z-test at `alpha`."""
    p = np.asarray(probabilities, dtype=float)
    observed, expected = int(np.sum(labels)), float(p.sum())
    sd = math.sqrt(max(float(np.sum(p * (1 - p))), 1e-12))
    z = (observed - expected) / sd
    p_value = math.erfc(abs(z) / math.sqrt(2))
    return BaseRate(observed, expected, z, p_value, p_value < alpha, len(p))


def calibration(scores: np.ndarray, labels: np.ndarray) -> Any:
    """Isotonic map from the model's probabilities to observed exit rates on labelled rows."""
    from sklearn.isotonic import IsotonicRegression

    return IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0).fit(scores, labels)


def estimate(probabilities: np.ndarray, top_n: int, calibrated: np.ndarray | None = None,
             threshold: float = 0.5) -> dict[str, Any]:
    """Expected F1 (predicting exit at `threshold`) and precision among the `top_n` riskiest.

    The model predicts from `probabilities`; the expected outcomes come from
    `calibrated` (default: the same probabilities, taken as calibrated).
    """
    p = np.asarray(probabilities, dtype=float)
    q = p if calibrated is None else np.asarray(calibrated, dtype=float)
    positive = p >= threshold
    tp, fp, fn = q[positive].sum(), (1 - q[positive]).sum(), q[~positive].sum()
    denominator = 2 * tp + fp + fn
    n = min(top_n, len(p))
    order = np.argsort(-p, kind="stable")[:n]
    return {
        "f1": float(2 * tp / denominator) if denominator > 0 else 0.0,
        "precision_at_n": float(q[order].mean()) if n else 0.0,
        "top_n": n, "rows": len(p),
    }


def realized(labels: np.ndarray, probabilities: np.ndarray, top_n: int,
             threshold: float = 0.5) -> dict[str, Any]:
    """The realized counterparts of `estimate` once labels are known."""
    p = np.asarray(probabilities, dtype=float)
    y = np.asarray(labels, dtype=bool)
    n = min(top_n, len(p))
    order = np.argsort(-p, kind="stable")[:n]
    return {
        "f1": float(drift.f1_from_counts(drift.confusion(y, p >= threshold))),
        "precision_at_n": float(y[order].mean()) if n else 0.0, "top_n": n, "rows": len(p),
    }


def probabilities(model: Any, frame: pd.DataFrame) -> np.ndarray:
    """The model's probability of exit for each row."""
    return model.predict_proba(contract.feature_matrix(frame))[:, 1]
