"""The default model (risk/model/additive.py): its shapes, its calibration, its behaviour on several laws."""
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import generate_data
from risk import artifacts
from risk.data import contract
from risk.model import additive, measures, reasons, training
from risk.model.additive import AdditiveModel


def law_clients(law: str, n: int, seed: int):
    return generate_data.clients(np.random.default_rng(seed), n, law)


@pytest.fixture(scope="module")
def fitted():
    train = law_clients("base", 10_000, 1)
    return AdditiveModel().fit(contract.feature_matrix(train), train[contract.TARGET].to_numpy()), train


def test_the_shapes_are_the_fitted_logistic_regression_on_the_spline_bases(fitted):
    model, train = fitted
    x = contract.feature_matrix(train)
    y = train[contract.TARGET].to_numpy()
    z = additive.terms(np.where(np.isnan(x), model.fill_, x))
    smooth = [additive.smoothing(s.n_features_out_) for _, s in model.splines_]
    design = np.hstack([s.transform(z[:, [t]]) @ m for (t, s), m in zip(model.splines_, smooth)])
    # The cross-fitting refits the base model on every row: the same fit, done again here.
    lr = LogisticRegression(C=additive.C, solver=additive.SOLVER, max_iter=additive.MAX_ITER).fit(design, y)
    fresh = contract.feature_matrix(law_clients("base", 3000, 9)).copy()
    fresh[::5] *= 40  # far beyond the training figures: flat there, as the bases are
    zf = additive.terms(np.where(np.isnan(fresh), model.fill_, fresh))
    expected = lr.decision_function(
        np.hstack([s.transform(zf[:, [t]]) @ m for (t, s), m in zip(model.splines_, smooth)]))
    assert model.decision_function(fresh) == pytest.approx(expected, abs=1e-8)


def test_whole_number_tables_give_the_splines_values(fitted):
    model, _ = fitted
    x = np.array([[0.0, 0.0, 1.0], [37.0, 1200.0, 45.0], [5000.0, 90000.0, 10**7]])
    by_table = model.term_contributions(x)
    by_spline = model.term_contributions(x + np.array([1e-9, 0, 0]))  # not whole: the spline path
    assert by_table == pytest.approx(by_spline, abs=1e-6)
    assert model.tables_  # the tables were used for the whole numbers


def test_contributions_add_up_to_the_log_odds_and_the_average_client_is_the_intercept(fitted):
    model, train = fitted
    x = contract.feature_matrix(train)
    c = model.term_contributions(x)
    assert model.intercept_ + c.sum(axis=1) == pytest.approx(model.decision_function(x), abs=1e-12)
    assert c.mean(axis=0) == pytest.approx(np.zeros(len(additive.TERMS)), abs=1e-9)


def test_calibrated_probabilities_match_what_happens_on_fresh_clients_of_each_law():
    for law in ("base", *generate_data.SHAPES):
        train, fresh = law_clients(law, 10_000, 3), law_clients(law, 20_000, 4)
        model = training.train_model(train)
        p = model.predict_proba(contract.feature_matrix(fresh))[:, 1]
        assert measures.calibration_error(fresh[contract.TARGET].to_numpy(), p) < 0.03, law


def test_the_calibration_keeps_the_order_of_the_log_odds(fitted):
    model, train = fitted
    x = contract.feature_matrix(train)
    order = np.argsort(model.decision_function(x), kind="stable")
    assert np.all(np.diff(model.predict_proba(x)[order, 1]) >= 0)
    assert model.calibration_[0] < 0  # p = 1 / (1 + exp(a log-odds + b)) rises with the log-odds


def test_the_default_ranks_a_cliff_in_activity_far_better_than_the_course_model():
    train = law_clients("cliff", 10_000, 5)
    fresh = law_clients("cliff", 20_000, 6)
    fresh = fresh[fresh[list(contract.FEATURES)].notna().all(axis=1)]
    truth = generate_data.exit_probability(fresh, "cliff")
    k = len(fresh) // 20
    best = measures.precision_at(truth, truth, k)
    x = contract.feature_matrix(fresh)
    default = measures.precision_at(truth, training.train_model(train).predict_proba(x)[:, 1], k) / best
    course = measures.precision_at(truth, training.train_model(train, kind="course").predict_proba(x)[:, 1],
                                   k) / best
    assert default > 0.93 and default > course + 0.03


def test_a_column_that_never_varies_has_no_shape_and_no_share():
    train = law_clients("base", 3000, 7)
    train["number_of_employees"] = 10.0
    model = training.train_model(train)
    c = model.term_contributions(contract.feature_matrix(train))
    assert np.all(c[:, additive.TERMS.index("log number of employees")] == 0)
    parts = reasons.parts_of(model)
    assert np.isfinite(reasons.log_odds(parts, contract.feature_matrix(train))).all()


def test_falling_activity_raises_the_risk_step_by_step_even_from_few_clients():
    probe = np.array([[100, 1200, 40], [60, 1200, 40], [20, 1200, 40], [5, 1200, 40], [0, 1200, 40]], float)
    for seed in range(4):
        model = training.train_model(law_clients("base", 1000, seed))
        p = model.predict_proba(probe)[:, 1]
        assert np.all(np.diff(p) >= 0), (seed, p)


def test_one_class_only_is_refused():
    train = law_clients("base", 500, 8)
    train["exited"] = 0
    with pytest.raises(training.TrainingError, match="only class"):
        training.train_model(train)


def test_too_few_clients_of_a_class_to_calibrate_is_refused_and_few_are_enough():
    train = law_clients("base", 300, 8)
    train["exited"] = 0
    train.loc[:0, "exited"] = 1
    with pytest.raises(training.TrainingError, match="at least 2 rows of each class"):
        training.train_model(train)
    train.loc[:2, "exited"] = 1  # 3 who left: 3-fold cross-fitting
    assert np.isfinite(training.train_model(train).predict_proba(contract.feature_matrix(train))).all()


def test_the_saved_model_predicts_the_same_after_loading(fitted, tmp_path):
    model, train = fitted
    path = tmp_path / "trainedmodel.pkl"
    artifacts.save_model(model, path, {})
    loaded = artifacts.load_model(path)
    x = contract.feature_matrix(train)
    assert np.array_equal(loaded.predict_proba(x), model.predict_proba(x))
    assert loaded.predict(x[:5]).tolist() == model.predict(x[:5]).tolist()


def test_beyond_max_rows_the_shapes_are_fitted_on_a_seeded_sample():
    train = law_clients("base", 6000, 12)
    x, y = contract.feature_matrix(train), train[contract.TARGET].to_numpy()
    one, two = AdditiveModel(max_rows=2000).fit(x, y), AdditiveModel(max_rows=2000).fit(x, y)
    assert np.array_equal(one.predict_proba(x), two.predict_proba(x))  # the same sample
    whole = AdditiveModel().fit(x, y)
    assert not np.array_equal(one.predict_proba(x), whole.predict_proba(x))
    assert measures.auc(y, one.predict_proba(x)[:, 1]) > measures.auc(y, whole.predict_proba(x)[:, 1]) - 0.02
