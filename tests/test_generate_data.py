import numpy as np
import pandas as pd
from conftest import ROOT

import generate_data
from risk.data import contract
from risk.model import training
from risk.model.scoring import f1_of

SHIPPED = ["practicedata/practice_a.csv", "practicedata/practice_b.csv",
           "sourcedata/clients_2026_09.csv", "sourcedata/clients_2026_10.csv",
           "testdata/testdata.csv"]


def test_shipped_data_is_exactly_what_the_seeded_generator_makes(tmp_path):
    generate_data.main(["--root", str(tmp_path)])
    for name in SHIPPED:
        assert (tmp_path / name).read_bytes() == (ROOT / name).read_bytes(), name


def test_shipped_data_has_the_promised_shape():
    source = pd.concat([contract.read_csv(ROOT / n) for n in SHIPPED[2:4]])
    assert source[contract.ID].nunique() == 10_000
    assert source.duplicated().sum() == 150  # exact repeats across the two extracts
    assert source[contract.ID].duplicated().sum() == 300  # 150 exact + 150 with new figures
    missing = source[list(contract.FEATURES)].isna().any(axis=1).mean()
    assert 0.005 < missing < 0.02
    sizes = source["number_of_employees"].dropna()
    assert sizes.mean() > 1.5 * sizes.median()  # right-skewed company sizes
    assert 0.15 < source[contract.TARGET].mean() < 0.35
    test = contract.read_csv(ROOT / SHIPPED[4])
    assert len(test) == 2000 and not set(test[contract.ID]) & set(source[contract.ID])


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path):
    for name, seed in (("a.csv", 5), ("b.csv", 5), ("c.csv", 6)):
        generate_data.main(["--extract", str(tmp_path / name), "--rows", "300", "--seed", str(seed)])
    assert (tmp_path / "a.csv").read_bytes() == (tmp_path / "b.csv").read_bytes()
    assert (tmp_path / "a.csv").read_bytes() != (tmp_path / "c.csv").read_bytes()


def test_a_drifted_extract_scores_clearly_worse_than_a_same_law_one():
    rng = np.random.default_rng(0)
    model = training.train_model(generate_data.clients(rng, 5000, "base"))
    same = f1_of(model, generate_data.clients(rng, 3000, "base"))
    drifted = f1_of(model, generate_data.clients(rng, 3000, "drifted"))
    assert same - drifted > 0.15


def test_generated_extract_passes_the_data_contract(tmp_path):
    path = tmp_path / "x.csv"
    generate_data.main(["--extract", str(path), "--law", "drifted", "--rows", "500"])
    assert len(contract.read_csv(path)) == 500


def test_extracts_of_other_names_hold_other_clients_and_the_same_name_the_same_bytes(tmp_path):
    (tmp_path / "a").mkdir()
    for folder in (tmp_path, tmp_path / "a"):
        generate_data.main(["--extract", str(folder / "x.csv"), "--rows", "200"])
    generate_data.main(["--extract", str(tmp_path / "y.csv"), "--rows", "200"])
    assert (tmp_path / "x.csv").read_bytes() == (tmp_path / "a" / "x.csv").read_bytes()
    x, y = (set(contract.read_csv(tmp_path / n)[contract.ID]) for n in ("x.csv", "y.csv"))
    assert not x & y


def test_the_new_laws_change_what_they_promise_and_nothing_else():
    def batch(law, **kw):
        return generate_data.clients(np.random.default_rng(0), 20_000, law, **kw)

    base, cov, rate = batch("base"), batch("covariate"), batch("base_rate")
    assert cov["number_of_employees"].median() < 0.6 * base["number_of_employees"].median()
    assert cov["lastyear_activity"].median() > 1.3 * base["lastyear_activity"].median()
    assert 1.7 < rate["exited"].mean() / base["exited"].mean() < 2.3
    assert (rate["number_of_employees"].fillna(-1) == base["number_of_employees"].fillna(-1)).all()
    half = batch("gradual", mix=0.5)
    assert (half["lastmonth_activity"].fillna(-1) == base["lastmonth_activity"].fillna(-1)).all()


def test_broken_extracts_break_the_way_they_are_named():
    base = generate_data.clients(np.random.default_rng(0), 2000)
    units = generate_data.clients(np.random.default_rng(0), 2000, "units")
    swapped = generate_data.clients(np.random.default_rng(0), 2000, "swapped")
    missing = generate_data.clients(np.random.default_rng(0), 2000, "missing")
    assert (units["lastyear_activity"].dropna() == 1000 * base["lastyear_activity"].dropna()).all()
    assert swapped["lastmonth_activity"].equals(base["lastyear_activity"].rename("lastmonth_activity"))
    assert 0.25 < missing["number_of_employees"].isna().mean() < 0.35
    assert (units["exited"] == base["exited"]).all()


def test_an_extract_without_labels_leaves_exited_empty(tmp_path):
    path = tmp_path / "x.csv"
    generate_data.main(["--extract", str(path), "--rows", "50", "--no-labels"])
    frame = contract.read_csv(path, require_target=False)
    assert frame["exited"].isna().all() and len(frame) == 50


def test_an_extract_with_one_column_in_another_unit_changes_that_column_only(tmp_path):
    clean, scaled = tmp_path / "x.csv", tmp_path / "y.csv"
    generate_data.main(["--extract", str(clean), "--rows", "200", "--seed", "5"])
    generate_data.main(["--extract", str(scaled), "--rows", "200", "--seed", "5",
                        "--scale", "number_of_employees", "10"])
    a, b = contract.read_csv(clean), contract.read_csv(scaled)
    assert (b["number_of_employees"].dropna() == a["number_of_employees"].dropna() * 10).all()
    assert a.drop(columns="number_of_employees").equals(b.drop(columns="number_of_employees"))
