"""Drift: has the deployed model got worse on new data, and has the data itself moved?

Model drift compares the deployed model's F1 on the rows of the new files with
what it scored before, by one of four tests (config key `drift_test`):

- `bootstrap` (default): one-sided test that the F1 on the new rows is lower
  than the F1 on the test data. Both F1s depend on only four confusion-matrix
  counts, so resampling rows with replacement is drawing those counts from a
  multinomial: thousands of resamples cost a millisecond. Drift when the
  (1 - alpha) share of resampled differences F1(test) - F1(new) is above zero,
  i.e. a false-alarm rate of about alpha on data of the same law.
- `raw`: drift when the new F1 is lower than the deployed score. The course's
  test: on same-law data it fires about half the time.
- `parametric`: drift when the new F1 is below mean - 2 sd of the past
  deployed scores (the run history).
- `non-parametric`: drift when the new F1 is below Q1 - 1.5 IQR of them.

The reference of the bootstrap test is the deployment's own: the counts of
its model on the held-out rows it was chosen on (manifest key `reference`),
or the test data for a deployment without one.

Data drift compares each feature's distribution in the deployed model's
training data (a profile stored at training time) with the new rows: the
population stability index over ten quantile bins (PSI > 0.2 is the usual
"shifted" mark) and the two-sample Kolmogorov-Smirnov test, its p-values
Holm-corrected across the features so that "some feature shifted" keeps a
false-alarm rate of alpha on data of the same law (uncorrected, three tests
flagged 12.9 % of same-law batches).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from risk import config
from risk.data import contract

TESTS = config.DRIFT_TESTS
PSI_BINS = 10
PSI_SHIFTED = 0.2
PROFILE_SAMPLE = 2000


@dataclass
class Verdict:
    test: str
    drift: bool
    new_f1: float
    reference_f1: float  # what the new F1 is compared with
    threshold: float | None = None
    p_value: float | None = None
    rows: int = 0
    note: str = ""

    def describe(self) -> str:
        """The log line: test, numbers, verdict."""
        parts = [f"test={self.test}", f"new F1={self.new_f1:.4f} on {self.rows} rows",
                 f"reference F1={self.reference_f1:.4f}"]
        if self.threshold is not None:
            parts.append(f"threshold={self.threshold:.4f}")
        if self.p_value is not None:
            parts.append(f"p={self.p_value:.4f}")
        if self.note:
            parts.append(self.note)
        return f"{'drift' if self.drift else 'no drift'} ({', '.join(parts)})"

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def confusion(labels: np.ndarray, predicted: np.ndarray) -> np.ndarray:
    """Counts [tp, fp, fn, tn]."""
    labels = np.asarray(labels, dtype=bool)
    predicted = np.asarray(predicted, dtype=bool)
    return np.array([
        np.sum(labels & predicted), np.sum(~labels & predicted),
        np.sum(labels & ~predicted), np.sum(~labels & ~predicted),
    ])


def f1_from_counts(counts: np.ndarray) -> np.ndarray:
    """F1 from [tp, fp, fn, tn] counts (the last axis); 0 where undefined, as scikit-learn."""
    counts = np.asarray(counts, dtype=float)
    tp, fp, fn = counts[..., 0], counts[..., 1], counts[..., 2]
    denominator = 2 * tp + fp + fn
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, 2 * tp / denominator, 0.0)


def _resampled_f1(counts: np.ndarray, rounds: int, rng: np.random.Generator) -> np.ndarray:
    n = int(counts.sum())
    return f1_from_counts(rng.multinomial(n, counts / n, size=rounds))


def bootstrap_test(new: np.ndarray, reference: np.ndarray, alpha: float = 0.05,
                   rounds: int = 2000, seed: int = 0) -> Verdict:
    """One-sided bootstrap test that F1 on `new` counts is below F1 on `reference` counts."""
    rng = np.random.default_rng(seed)
    difference = _resampled_f1(reference, rounds, rng) - _resampled_f1(new, rounds, rng)
    p_value = float(np.mean(difference <= 0))
    return Verdict("bootstrap", p_value < alpha, float(f1_from_counts(new)),
                   float(f1_from_counts(reference)), p_value=p_value, rows=int(new.sum()),
                   note=f"alpha={alpha:.4g}")


def raw_test(new_f1: float, deployed_score: float) -> Verdict:
    return Verdict("raw", new_f1 < deployed_score, new_f1, deployed_score, threshold=deployed_score)


def parametric_test(new_f1: float, scores: list[float]) -> Verdict:
    mean = float(np.mean(scores))
    if len(scores) < 2:
        # One past score has no spread: the test degenerates to `raw`; say so.
        return Verdict("parametric", new_f1 < mean, new_f1, mean, threshold=mean,
                       note="one past score only: compared with it")
    threshold = mean - 2 * float(np.std(scores, ddof=1))
    return Verdict("parametric", new_f1 < threshold, new_f1, mean, threshold=threshold,
                   note=f"{len(scores)} past scores")


def nonparametric_test(new_f1: float, scores: list[float]) -> Verdict:
    q1, q3 = np.percentile(scores, [25, 75])
    threshold = float(q1 - 1.5 * (q3 - q1))
    return Verdict("non-parametric", new_f1 < threshold, new_f1, float(np.median(scores)),
                   threshold=threshold, note=f"{len(scores)} past scores")


def model_drift(test: str, model: Any, new: pd.DataFrame, test_data: pd.DataFrame | None,
                deployed_score: float, past_scores: list[float], alpha: float = 0.05,
                rounds: int = 2000, seed: int = 0,
                reference_counts: list[int] | None = None) -> Verdict:
    """Apply drift test `test` to the deployed `model` on the labeled `new` rows.

    The bootstrap test compares with `reference_counts` ([tp, fp, fn, tn] of the
    deployment's own reference) when given, else with the model on `test_data`.
    """
    new_counts = confusion(new[contract.TARGET].to_numpy(),
                           model.predict(contract.feature_matrix(new)))
    new_f1 = float(f1_from_counts(new_counts))
    scores = past_scores or [deployed_score]
    if test == "bootstrap":
        if reference_counts is not None:
            test_counts = np.asarray(reference_counts)
        else:
            test_counts = confusion(test_data[contract.TARGET].to_numpy(),
                                    model.predict(contract.feature_matrix(test_data)))
        return bootstrap_test(new_counts, test_counts, alpha, rounds, seed)
    verdict = {
        "raw": lambda: raw_test(new_f1, deployed_score),
        "parametric": lambda: parametric_test(new_f1, scores),
        "non-parametric": lambda: nonparametric_test(new_f1, scores),
    }[test]()
    verdict.rows = int(new_counts.sum())
    return verdict


# --- data drift ------------------------------------------------------------

def reference_profile(frame: pd.DataFrame, seed: int = 0) -> dict[str, Any]:
    """What data drift needs of the training data: per feature, decile edges and a sample."""
    rng = np.random.default_rng(seed)
    profile = {}
    for col in contract.FEATURES:
        values = frame[col].dropna().to_numpy(dtype=float)
        edges = np.unique(np.quantile(values, np.linspace(0, 1, PSI_BINS + 1)[1:-1])) if len(values) else []
        sample = rng.choice(values, size=min(PROFILE_SAMPLE, len(values)), replace=False)
        profile[col] = {
            "edges": [float(e) for e in edges],
            "shares": _shares(values, edges).tolist(),
            "sample": [int(v) for v in np.sort(sample)],  # whole numbers by contract
        }
    return profile


def _shares(values: np.ndarray, edges) -> np.ndarray:
    counts = np.bincount(np.searchsorted(edges, values, side="right"), minlength=len(edges) + 1)
    return counts / max(len(values), 1)


def psi(expected: np.ndarray, actual: np.ndarray) -> float:
    """Population stability index of two bin-share vectors (empty bins floored at 0.1 %)."""
    e = np.maximum(np.asarray(expected, dtype=float), 1e-3)
    a = np.maximum(np.asarray(actual, dtype=float), 1e-3)
    return float(np.sum((a - e) * np.log(a / e)))


def data_drift(profile: dict[str, Any], new: pd.DataFrame, alpha: float = 0.05) -> dict[str, dict]:
    """Per feature: PSI and KS statistic and p-value of the new rows against the training profile."""
    from scipy.stats import (
        ks_2samp,  # scipy costs ~0.3 s to import; only drift checks need it
    )

    result = {}
    for col, ref in profile.items():
        values = new[col].dropna().to_numpy(dtype=float)
        if not len(values) or not ref["sample"]:
            continue
        index = psi(np.asarray(ref["shares"]), _shares(values, np.asarray(ref["edges"])))
        ks = ks_2samp(np.asarray(ref["sample"]), values)
        result[col] = {
            "psi": round(index, 4),
            "ks_statistic": round(float(ks.statistic), 4),
            "ks_p_value": float(ks.pvalue),
        }
    adjusted = holm([d["ks_p_value"] for d in result.values()])
    for d, p_holm in zip(result.values(), adjusted):
        d["ks_p_holm"] = p_holm
        d["shifted"] = bool(d["psi"] > PSI_SHIFTED or p_holm < alpha)
    return result


def holm(p_values: list[float]) -> list[float]:
    """Holm-adjusted p-values: reject those below alpha and the family errs with odds <= alpha."""
    m = len(p_values)
    order = sorted(range(m), key=lambda i: p_values[i])
    adjusted, running = [1.0] * m, 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted
