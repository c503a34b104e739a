"""The list's measures against scikit-learn's own and against hand-counted cases."""
import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.metrics import log_loss as sk_log_loss

from risk.model import measures


def test_exits_in_top_counts_the_leavers_among_the_highest_scores():
    labels = np.array([0, 1, 1, 0, 1])
    scores = np.array([0.9, 0.8, 0.1, 0.7, 0.6])
    assert measures.exits_in_top(labels, scores, 2) == 1
    assert measures.exits_in_top(labels, scores, 5) == 3
    assert measures.precision_at(labels, scores, 4) == pytest.approx(0.5)


def test_ties_keep_row_order():
    assert list(measures.top_rows(np.array([0.5, 0.5, 0.9]), 2)) == [2, 0]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_auc_brier_and_log_loss_match_scikit_learn(seed):
    rng = np.random.default_rng(seed)
    p = rng.uniform(size=500).round(2)  # rounded: ties too
    y = (rng.uniform(size=500) < p).astype(int)
    assert measures.auc(y, p) == pytest.approx(roc_auc_score(y, p))
    assert measures.brier(y, p) == pytest.approx(brier_score_loss(y, p))
    assert measures.log_loss(y, p) == pytest.approx(sk_log_loss(y, p))


def test_calibration_error_is_small_for_honest_probabilities_and_large_for_inflated_ones():
    rng = np.random.default_rng(3)
    p = rng.uniform(0, 0.6, size=20_000)
    y = (rng.uniform(size=len(p)) < p).astype(int)
    assert measures.calibration_error(y, p) < 0.01
    assert measures.calibration_error(y, np.minimum(p * 1.5, 1)) > 0.1
