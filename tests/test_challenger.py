import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import f1_score

import generate_data
from risk.loop import challenger
from risk.model import training


def test_held_out_rows_are_chosen_by_client_id_stably_and_in_the_asked_share():
    ids = pd.Series([f"c{i}" for i in range(20000)])
    mask = challenger.held_out(ids, 0.3)
    assert 0.28 < mask.mean() < 0.32
    # the same client is held out whatever batch it comes in
    assert (challenger.held_out(ids[::-1], 0.3) == mask[::-1]).all()


def test_paired_test_gives_both_f1s_as_scikit_learn_and_finds_a_real_gain():
    rng = np.random.default_rng(0)
    y = rng.random(1000) < 0.3
    champion = y ^ (rng.random(1000) < 0.3)
    better = y ^ (rng.random(1000) < 0.1)
    c = challenger.paired_test(y, champion, better)
    assert c.champion_f1 == pytest.approx(f1_score(y, champion))
    assert c.challenger_f1 == pytest.approx(f1_score(y, better))
    assert c.p_value < 0.001 and c.gain > 0.2 and c.rows == 1000
    assert sum(c.challenger_counts) == 1000


def test_paired_test_does_not_prefer_an_equal_or_worse_challenger():
    rng = np.random.default_rng(1)
    y = rng.random(800) < 0.3
    a = y ^ (rng.random(800) < 0.2)
    assert challenger.paired_test(y, a, a).p_value == 1.0
    worse = y ^ (rng.random(800) < 0.35)
    assert challenger.paired_test(y, a, worse).p_value > 0.5


def test_base_rate_check_catches_a_doubled_exit_rate_and_not_the_same_one():
    rng = np.random.default_rng(2)
    p = np.full(1000, 0.24)
    same = challenger.base_rate(rng.random(1000) < 0.24, p, alpha=0.05 / 12)
    doubled = challenger.base_rate(rng.random(1000) < 0.48, p, alpha=0.05 / 12)
    assert not same.shifted
    assert doubled.shifted and doubled.observed > 400 and doubled.expected == pytest.approx(240)
    assert "shifted" in doubled.describe()


def test_estimate_from_known_probabilities():
    # 10 rows at 0.9 (predicted exits: 9 true, 1 false expected), 10 at 0.1 (1 missed exit expected)
    p = np.array([0.9] * 10 + [0.1] * 10)
    est = challenger.estimate(p, top_n=5)
    assert est["f1"] == pytest.approx(2 * 9 / (2 * 9 + 1 + 1))
    assert est["precision_at_n"] == pytest.approx(0.9)
    assert est["top_n"] == 5 and est["rows"] == 20


def test_calibrated_probabilities_predict_with_the_raw_ones_and_count_with_the_calibrated():
    p = np.array([0.6] * 10 + [0.4] * 10)
    est = challenger.estimate(p, top_n=10, calibrated=np.array([1.0] * 10 + [0.0] * 10))
    assert est["f1"] == 1.0 and est["precision_at_n"] == 1.0


def test_estimate_is_close_to_realized_f1_on_a_large_covariate_shifted_batch():
    rng = np.random.default_rng(3)
    model = training.train_model(generate_data.clients(rng, 5000))
    recent = generate_data.clients(rng, 2000, "covariate")
    iso = challenger.calibration(challenger.probabilities(model, recent), recent["exited"])
    batch = generate_data.clients(rng, 5000, "covariate")
    p = challenger.probabilities(model, batch)
    est = challenger.estimate(p, 100, iso.predict(p))
    real = challenger.realized(batch["exited"].to_numpy(), p, 100)
    assert abs(est["f1"] - real["f1"]) < 0.04


# --- the list's measure ---------------------------------------------------------------

def _scores(n=1000, seed=0):
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.25).astype(int)
    return y, rng.random(n) + 0.3 * y, rng.random(n) + 0.8 * y


def test_list_test_observed_figures_are_the_measures_of_each_model():
    from risk.model import measures
    y, weak, strong = _scores()
    comp = challenger.list_test(y, weak, strong, 100)
    assert comp.champion == measures.precision_at(y, weak, 100)
    assert comp.challenger == measures.precision_at(y, strong, 100)
    assert comp.p_value < 0.01 and comp.gain > 0.2
    auc = challenger.list_test(y, weak, strong, 100, measure="auc")
    assert auc.champion == pytest.approx(measures.auc(y, weak))
    assert auc.challenger == pytest.approx(measures.auc(y, strong))


def test_list_test_of_a_model_against_itself_finds_no_gain():
    y, weak, _ = _scores()
    comp = challenger.list_test(y, weak, weak.copy(), 100, margin=0.0)
    assert comp.gain == 0 and comp.p_value == 1.0


def test_bootstrap_auc_handles_ties_as_the_rank_formula_does():
    from risk.model import measures
    y, weak, _ = _scores()
    rounded = np.round(weak, 1)
    one = np.ones((1, len(y)), dtype=int)
    assert challenger._auc(one, y, rounded)[0] == pytest.approx(measures.auc(y, rounded))


def test_collapse_is_named_and_a_close_model_is_not():
    y, weak, strong = _scores()
    noise = np.random.default_rng(3).random(len(y))
    assert challenger.collapses(y, strong, noise, 100).startswith("AUC 0.")
    assert challenger.collapses(y, strong, strong + 0.01 * noise, 100) is None
