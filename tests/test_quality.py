import numpy as np
import pandas as pd
import pytest

import generate_data
from risk.data import quality

FEATURES = ("lastmonth_activity", "lastyear_activity", "number_of_employees")


@pytest.fixture(scope="module")
def reference():
    return quality.profile(generate_data.clients(np.random.default_rng(0), 5000))


def batch(law, n=1000, seed=1):
    return generate_data.clients(np.random.default_rng(seed), n, law)


def damaged(how, n=1000, seed=1, **kw):
    rng = np.random.default_rng(seed)
    return generate_data.damaged(rng, generate_data.clients(rng, n), how, **kw)


@pytest.mark.parametrize("law", ["base", "covariate", "base_rate", "drifted", "gradual", "season", "segment"])
def test_real_shifts_and_new_laws_are_not_quality_failures(reference, law):
    assert quality.problems(reference, batch(law)) == []


@pytest.mark.parametrize("law, words", [
    ("units", ["'lastmonth_activity': 100% of values are multiples of 1000", "another unit"]),
    ("swapped", ["columns 'lastmonth_activity' and 'lastyear_activity' look swapped"]),
    ("missing", ["missing-value surge: 'lastmonth_activity'", "missing-value surge: 'number_of_employees'"]),
])
def test_broken_extracts_are_named_for_what_broke(reference, law, words):
    found = " | ".join(quality.problems(reference, batch(law)))
    for w in words:
        assert w in found


@pytest.mark.parametrize("col", FEATURES)
@pytest.mark.parametrize("factor", [2, 10, 1000])
def test_one_feature_in_other_units_is_caught_by_its_granularity(reference, col, factor):
    found = quality.problems(reference, damaged("scale", column=col, factor=factor))
    assert any(f"'{col}'" in p and f"multiples of {factor}" in p for p in found), found


@pytest.mark.parametrize("seed", range(5))
def test_x10_last_year_activity_is_caught_every_time(reference, seed):
    # The old gate's median cut sat right at x10: this error passed about half the time.
    assert quality.problems(reference, damaged("scale", seed=seed, column="lastyear_activity", factor=10))


def test_a_shifted_activity_ratio_is_named_as_a_relation(reference):
    frame = batch("base")
    frame["lastmonth_activity"] = np.round(frame["lastmonth_activity"] * 3.7)  # no granularity trace
    found = " | ".join(quality.problems(reference, frame))
    assert "'lastmonth_activity' against a twelfth of 'lastyear_activity'" in found


def test_a_swap_is_not_also_reported_as_two_scale_jumps(reference):
    assert len(quality.problems(reference, batch("swapped"))) == 1


def test_a_constant_column_is_named(reference):
    frame = batch("base")
    frame["number_of_employees"] = 45.0
    assert quality.problems(reference, frame) == ["'number_of_employees' is constant (45 in every row)"]


@pytest.mark.parametrize("rate, flagged", [(0.0, True), (0.02, True), (0.95, True), (0.24, False),
                                           (0.48, False)])
def test_an_attrition_rate_far_outside_the_reference_is_named(reference, rate, flagged):
    frame = batch("base")
    # The riskiest-looking rows leave, so the labels still follow the figures.
    order = np.argsort(-quality.signals(frame)["falling activity"], kind="stable")
    frame["exited"] = 0
    frame.loc[frame.index[order[:int(rate * len(frame))]], "exited"] = 1
    found = quality.problems(reference, frame)
    assert bool(found) is flagged
    if flagged:
        assert found[0].startswith(f"attrition rate {rate:.1%} far outside")


def test_an_unlabelled_extract_is_judged_on_its_features_only(reference):
    frame = batch("base")
    frame["exited"] = np.nan
    assert quality.problems(reference, frame) == []
    frame["lastyear_activity"] *= 1000
    assert "multiples of 1000" in quality.problems(reference, frame)[0]


def test_an_old_reference_without_the_new_checks_still_judges_scale(reference):
    old = {"features": {c: {k: v for k, v in f.items() if k != "grain"}
                        for c, f in reference["features"].items()},
           "exit_rate": reference["exit_rate"], "rows": reference["rows"]}
    assert quality.problems(old, batch("base")) == []
    assert "scale jumped" in " ".join(quality.problems(old, batch("units")))


# --- issue 22 item 1: the gate's gaps that put a wrong model live -----------------------

def test_same_kind_of_clients_relabelled_is_quarantined(reference):
    found = " ".join(quality.problems(reference, damaged("shuffle")))
    assert "labels follow none of the figures" in found
    found = " ".join(quality.problems(reference, damaged("invert")))
    assert "backwards" in found or "attrition rate" in found


@pytest.mark.parametrize("activity", ["lastmonth_activity", "lastyear_activity"])
def test_activity_and_employees_swapped_is_quarantined(reference, activity):
    found = quality.problems(reference, damaged("swap", column=activity, other="number_of_employees"))
    assert any("look swapped" in p and activity in p and "number_of_employees" in p for p in found), found


def test_activity_x1000_on_45_percent_of_rows_is_quarantined(reference):
    frame = damaged("scale", n=2000, column="lastyear_activity", factor=1000, share=0.45)
    frame = generate_data.damaged(np.random.default_rng(9), frame, "scale", column="lastmonth_activity",
                                  factor=1000, share=0.45)
    found = " ".join(quality.problems(reference, frame))
    assert "multiples of 1000" in found


def test_49_rows_marking_the_top_clients_as_left_is_quarantined(reference):
    clients = batch("base", n=2000)
    top = clients.sort_values("lastmonth_activity").head(49).copy()  # the riskiest-looking clients
    top["exited"] = 1
    found = quality.problems(reference, top)
    assert any(p.startswith("attrition rate 100.0% far outside") for p in found), found


def test_a_small_labelled_extract_at_a_plausible_rate_passes(reference):
    small = batch("base", n=49, seed=3)
    assert quality.problems(reference, small) == []


def test_binomial_tail_matches_the_sum_of_the_probabilities():
    from math import comb
    n, p = 12, 0.3
    assert quality._binomial_tail(9, n, p, upper=True) == pytest.approx(
        sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(9, n + 1)))
    assert quality._binomial_tail(2, n, p, upper=False) == pytest.approx(
        sum(comb(n, i) * p**i * (1 - p) ** (n - i) for i in range(0, 3)))


def test_profile_is_plain_json(reference):
    import json
    assert json.loads(json.dumps(reference)) == reference
    assert isinstance(pd.Series(reference["features"]["lastyear_activity"]["grain"]["shares"]).sum(), float)


# --- issue 20: the gate on a client base it was not designed on -------------------------

def rounded_headcounts(seed, n=2000, tail=1.2):
    """Clients whose headcounts above 100 are reported to the nearest 10 (a Pareto tail of `tail`)."""
    frame = generate_data.clients(np.random.default_rng(seed), n)
    rng = np.random.default_rng(seed + 1)
    size = 1 + np.floor(rng.pareto(tail, n) * 8)
    frame["number_of_employees"] = np.where(size > 100, np.round(size / 10) * 10, size)
    return frame


def test_more_large_clients_with_rounded_headcounts_are_not_a_unit_change():
    reference = quality.profile(rounded_headcounts(0, 10_000))
    for seed in (1, 2, 3):
        heavier = rounded_headcounts(seed, tail=0.6)  # more large companies: more headcounts ending in 0
        assert quality.problems(reference, heavier) == []
    heavier["number_of_employees"] *= 10
    assert "multiples of 10" in " ".join(quality.problems(reference, heavier))


def test_a_reference_without_magnitude_bands_judges_granularity_as_a_whole(reference):
    old = {**reference, "features": {c: {**f, "grain": {k: v for k, v in f["grain"].items() if k != "bands"}}
                                     for c, f in reference["features"].items()}}
    assert quality.problems(old, batch("base")) == []
    frame = batch("base")
    frame["number_of_employees"] *= 10
    assert "multiples of 10" in " ".join(quality.problems(old, frame))
