import numpy as np
import pytest
from sklearn.metrics import f1_score

import generate_data
from risk.data import drift
from risk.model import training


def counts(tp, fp, fn, tn):
    return np.array([tp, fp, fn, tn])


def test_f1_from_counts_matches_scikit_learn():
    rng = np.random.default_rng(0)
    y, p = rng.integers(0, 2, 500), rng.integers(0, 2, 500)
    assert drift.f1_from_counts(drift.confusion(y, p)) == pytest.approx(f1_score(y, p))
    assert drift.f1_from_counts(counts(0, 0, 0, 10)) == 0.0


def test_bootstrap_finds_a_large_drop_and_not_an_equal_score():
    reference = counts(300, 150, 150, 1400)          # F1 0.667 on 2000 rows
    same = counts(150, 75, 75, 700)                  # F1 0.667 on 1000 rows
    worse = counts(80, 150, 150, 620)                # F1 0.348
    assert not drift.bootstrap_test(same, reference).drift
    verdict = drift.bootstrap_test(worse, reference)
    assert verdict.drift and verdict.p_value < 0.01
    assert "test=bootstrap" in verdict.describe() and verdict.describe().startswith("drift")


def test_bootstrap_is_seeded():
    a = drift.bootstrap_test(counts(140, 80, 80, 700), counts(300, 150, 150, 1400), seed=3)
    b = drift.bootstrap_test(counts(140, 80, 80, 700), counts(300, 150, 150, 1400), seed=3)
    assert a.p_value == b.p_value


def test_raw_fires_on_any_drop():
    assert drift.raw_test(0.59, 0.60).drift
    assert not drift.raw_test(0.60, 0.60).drift


@pytest.mark.parametrize("history, new_f1, expected", [
    ([0.60, 0.62, 0.58, 0.61, 0.59], 0.57, False),   # threshold 0.60 - 2*0.0158 = 0.568
    ([0.60, 0.62, 0.58, 0.61, 0.59], 0.55, True),
    ([0.60], 0.59, True),                             # one score: compared with it
])
def test_parametric_uses_mean_minus_two_sd(history, new_f1, expected):
    verdict = drift.parametric_test(new_f1, history)
    assert verdict.drift is expected


@pytest.mark.parametrize("history, new_f1, expected", [
    ([0.58, 0.59, 0.60, 0.61, 0.62], 0.565, False),  # Q1 0.59, IQR 0.02 -> threshold 0.56
    ([0.58, 0.59, 0.60, 0.61, 0.62], 0.555, True),
    ([0.5, 0.5, 0.5, 0.9], 0.36, False),              # Q1 0.5, Q3 0.6 -> threshold 0.35
    ([0.5, 0.5, 0.5, 0.9], 0.34, True),
])
def test_nonparametric_uses_q1_minus_one_and_a_half_iqr(history, new_f1, expected):
    verdict = drift.nonparametric_test(new_f1, history)
    assert verdict.drift is expected


def test_model_drift_on_generated_batches():
    rng = np.random.default_rng(1)
    model = training.train_model(generate_data.clients(rng, 5000))
    test = generate_data.clients(rng, 2000)
    same = drift.model_drift("bootstrap", model, generate_data.clients(rng, 1500), test, 0.5, [])
    drifted = drift.model_drift("bootstrap", model, generate_data.clients(rng, 1500, "drifted"), test, 0.5, [])
    assert not same.drift
    assert drifted.drift and drifted.rows == 1500


def test_data_drift_flags_a_shifted_feature_only():
    rng = np.random.default_rng(2)
    train = generate_data.clients(rng, 5000)
    profile = drift.reference_profile(train)
    same = drift.data_drift(profile, generate_data.clients(rng, 2000))
    moved = generate_data.clients(rng, 2000)
    moved["lastyear_activity"] = moved["lastyear_activity"] * 3
    shifted = drift.data_drift(profile, moved)
    assert all(d["psi"] < 0.1 for d in same.values())
    assert shifted["lastyear_activity"]["shifted"] and shifted["lastyear_activity"]["psi"] > 0.2
    assert not shifted["number_of_employees"]["shifted"]


def test_holm_adjusts_p_values_step_down():
    assert drift.holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert drift.holm([0.5, 0.9]) == pytest.approx([1.0, 1.0])


def test_the_holm_correction_flags_fewer_same_law_batches_than_uncorrected_tests():
    rng = np.random.default_rng(4)
    profile = drift.reference_profile(generate_data.clients(rng, 5000))
    holm = raw = 0
    for _ in range(60):
        shifts = drift.data_drift(profile, generate_data.clients(rng, 1000)).values()
        holm += any(d["shifted"] for d in shifts)
        raw += any(d["ks_p_value"] < 0.05 for d in shifts)
        assert all(d["ks_p_holm"] >= d["ks_p_value"] for d in shifts)
    assert holm < raw


def test_the_bootstrap_test_uses_the_deployments_own_reference_counts_when_given():
    rng = np.random.default_rng(5)
    model = training.train_model(generate_data.clients(rng, 3000))
    batch = generate_data.clients(rng, 1000)
    high = drift.model_drift("bootstrap", model, batch, None, 0.9, [], reference_counts=[450, 50, 50, 450])
    assert high.drift and high.reference_f1 == pytest.approx(0.9)
