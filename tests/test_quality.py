import numpy as np
import pytest

import generate_data
from risk.data import quality


@pytest.fixture(scope="module")
def reference():
    return quality.profile(generate_data.clients(np.random.default_rng(0), 5000))


def batch(law, n=1000, seed=1):
    return generate_data.clients(np.random.default_rng(seed), n, law)


@pytest.mark.parametrize("law", ["base", "covariate", "base_rate", "drifted", "gradual"])
def test_real_shifts_and_new_laws_are_not_quality_failures(reference, law):
    assert quality.problems(reference, batch(law)) == []


@pytest.mark.parametrize("law, words", [
    ("units", ["'lastmonth_activity' scale jumped", "'lastyear_activity' scale jumped", "another unit"]),
    ("swapped", ["columns 'lastmonth_activity' and 'lastyear_activity' look swapped"]),
    ("missing", ["missing-value surge: 'lastmonth_activity'", "missing-value surge: 'number_of_employees'"]),
])
def test_broken_extracts_are_named_for_what_broke(reference, law, words):
    found = " | ".join(quality.problems(reference, batch(law)))
    for w in words:
        assert w in found


def test_a_swap_is_not_also_reported_as_two_scale_jumps(reference):
    assert len(quality.problems(reference, batch("swapped"))) == 1


def test_a_constant_column_is_named(reference):
    frame = batch("base")
    frame["number_of_employees"] = 45.0
    assert quality.problems(reference, frame) == ["'number_of_employees' is constant (45 in every row)"]


@pytest.mark.parametrize("rate, flagged", [(0.0, True), (0.02, True), (0.95, True), (0.24, False),
                                           (0.48, False)])
def test_an_attrition_rate_far_outside_the_training_data_is_named(reference, rate, flagged):
    frame = batch("base")
    frame["exited"] = (np.arange(len(frame)) < rate * len(frame)).astype(int)
    found = quality.problems(reference, frame)
    assert bool(found) is flagged
    if flagged:
        assert found[0].startswith(f"attrition rate {rate:.1%} far outside")


def test_an_unlabelled_extract_is_judged_on_its_features_only(reference):
    frame = batch("base")
    frame["exited"] = np.nan
    assert quality.problems(reference, frame) == []
    frame["lastyear_activity"] *= 1000
    assert "scale jumped" in quality.problems(reference, frame)[0]
