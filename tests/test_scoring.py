import json

import numpy as np
import pytest
from conftest import run_script

from risk import artifacts, history
from risk.model import scoring


class Fixed:
    """A stand-in model that predicts given labels (to check F1 arithmetic independently)."""

    def __init__(self, labels):
        self.labels = np.asarray(labels)

    def predict(self, x):
        return self.labels[: len(x)]


def test_f1_of_counts_true_and_false_positives():
    import pandas as pd
    frame = pd.DataFrame({
        "corporation": list("abcdef"), "lastmonth_activity": [1.0] * 6,
        "lastyear_activity": [1.0] * 6, "number_of_employees": [1.0] * 6,
        "exited": [1, 1, 1, 0, 0, 0],
    })
    # tp=2, fp=1, fn=1 -> precision 2/3, recall 2/3, F1 2/3
    assert scoring.f1_of(Fixed([1, 1, 0, 1, 0, 0]), frame) == pytest.approx(2 / 3)
    assert scoring.f1_of(Fixed([0] * 6), frame) == 0.0


@pytest.mark.slow
def test_script_writes_the_number_alone_and_records_it(deployed_cfg, tmp_path):
    cfg = deployed_cfg
    run = run_script("scoring.py", "--config", str(cfg.path), cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    text = cfg.score_path.read_text()
    f1 = float(text)
    assert text == f"{f1!r}\n"
    assert 0.3 < f1 < 0.9
    assert f"{f1:.4f}" in run.stdout
    rows = history.rows(cfg.history_path, "scores")
    assert rows[-1]["f1"] == pytest.approx(f1)
    assert rows[-1]["model_sha256"] == artifacts.sha256_file(cfg.model_path)
    assert rows[-1]["data_sha256"] == artifacts.sha256_file(cfg.test_data_file)


@pytest.mark.slow
def test_tampered_model_is_refused(deployed_cfg):
    cfg = deployed_cfg
    before = cfg.score_path.read_bytes()
    with open(cfg.model_path, "ab") as f:
        f.write(b"tampered")
    run = run_script("scoring.py", "--config", str(cfg.path))
    assert run.returncode == 1
    assert "SHA-256 mismatch" in run.stderr
    assert cfg.score_path.read_bytes() == before


def test_model_without_recorded_hash_is_refused(deployed_cfg):
    artifacts.sidecar_path(deployed_cfg.model_path).unlink()
    with pytest.raises(artifacts.ArtifactError, match="no recorded SHA-256"):
        scoring.score(deployed_cfg)


def test_scores_the_course_starter_test_file(deployed_cfg):
    from conftest import COURSE_STARTER
    result = scoring.score(deployed_cfg, data_path=COURSE_STARTER / "testdata" / "testdata.csv")
    assert result.rows == 5
    assert 0.0 <= result.f1 <= 1.0


# --- the call list -----------------------------------------------------------------

import pandas as pd  # noqa: E402
from conftest import client_csv  # noqa: E402

from risk import config  # noqa: E402
from risk.data import (
    contract,  # noqa: E402
    ingestion,  # noqa: E402
)
from risk.loop import deployment  # noqa: E402
from risk.model import (
    reasons,  # noqa: E402
    training,  # noqa: E402
)

HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"


def frame(rows):
    """A contract-valid frame of (corporation, lastmonth, lastyear, employees, exited) tuples."""
    return contract.validate(pd.DataFrame(rows, columns=list(contract.COLUMNS)), "test",
                             require_target=False)


@pytest.fixture
def extracts_cfg(make_config):
    """Three extracts in name order; some clients recur, some exit in a later one."""
    a = client_csv(400, seed=1).decode() + "keep-1,100,1200,40,0\ngone-1,90,1100,30,0\nback-1,80,900,20,1\n"
    b = client_csv(300, seed=2).decode() + "keep-1,50,1250,41,0\ngone-1,20,1100,30,1\n"
    c = HEADER + "back-1,85,950,22,0\nkeep-1,45,1300,42,0\nonly-c,60,700,15,0\n"
    cfg = config.load(make_config(inputs={"2026_01.csv": a, "2026_02.csv": b, "2026_03.csv": c}))
    ingestion.ingest(cfg)
    training.train(cfg)
    scoring.score(cfg)
    deployment.deploy(cfg)
    return cfg


def test_only_current_clients_are_ranked_each_once_with_their_latest_figures(extracts_cfg):
    published = scoring.publish_call_list(extracts_cfg)
    ranking = published.ranking.set_index("corporation")
    data = contract.read_csv(extracts_cfg.finaldata_path)
    latest = data.drop_duplicates("corporation", keep="last").set_index("corporation")
    expected = set(latest.index[latest["exited"] == 0])

    assert set(ranking.index) == expected
    assert ranking.index.is_unique
    assert "gone-1" not in ranking.index  # exited in the second extract
    assert {"back-1", "keep-1", "only-c"} <= set(ranking.index)
    assert ranking.loc["keep-1", ["lastmonth_activity", "lastyear_activity", "number_of_employees"]
                       ].tolist() == [45, 1300, 42]
    assert ranking.loc["back-1", "lastmonth_activity"] == 85
    assert published.ranking["rank"].tolist() == list(range(1, len(ranking) + 1))
    assert published.ranking["probability"].is_monotonic_decreasing


def test_a_client_whose_outcome_is_not_known_yet_is_still_a_client():
    rows = frame([("a", 10, 100, 5, 0), ("a", 11, 100, 5, float("nan")),
                  ("b", 10, 100, 5, 0), ("b", 10, 100, 5, 1), ("c", 1, 2, 3, 1), ("c", 1, 2, 3, 0)])
    current = scoring.current_clients(rows)
    assert current["corporation"].tolist() == ["a", "c"]
    assert current["lastmonth_activity"].tolist() == [11, 1]


@pytest.fixture
def both_kinds(deployed_cfg):
    """The deployed (default, additive) model and the course model trained on the same rows."""
    deployed, _ = artifacts.load_deployed_model(deployed_cfg.prod_deployment_path)
    course = training.train_model(contract.read_csv(deployed_cfg.finaldata_path), kind="course")
    return {"additive": deployed, "course": course}


@pytest.mark.parametrize("kind", ["additive", "course"])
def test_reasons_add_up_to_the_models_own_log_odds(both_kinds, deployed_cfg, kind):
    model = both_kinds[kind]
    x = contract.feature_matrix(contract.read_csv(deployed_cfg.test_data_file))
    x[::7, 0] = np.nan  # missing figures too: the imputer's value counts
    x[::11, 2] = np.nan
    parts = reasons.parts_of(model)

    assert parts is not None
    assert reasons.log_odds(parts, x) == pytest.approx(model.decision_function(x), abs=1e-9)
    # The factors regroup the same contributions: the sum stays the model's.
    assert reasons.factor_contributions(parts, x).sum(axis=1) + parts.intercept == pytest.approx(
        model.decision_function(x), abs=1e-9)
    if kind == "course":  # uncalibrated: its probability is the log-odds' own
        assert reasons.contributions(parts, x).sum(axis=1) + parts.intercept == pytest.approx(
            np.log(model.predict_proba(x)[:, 1] / model.predict_proba(x)[:, 0]), abs=1e-9)
    else:  # calibrated: a rising function of the log-odds, so the same order
        p = model.predict_proba(x)[:, 1]
        order = np.argsort(model.decision_function(x), kind="stable")
        assert np.all(np.diff(p[order]) >= 0)


@pytest.mark.parametrize("kind", ["additive", "course"])
def test_a_client_with_falling_activity_gets_an_activity_reason(both_kinds, kind):
    parts = reasons.parts_of(both_kinds[kind])
    x = np.array([[20.0, 2400.0, 40.0],     # last month far below last year's monthly 200
                  [300.0, 600.0, 2000.0]])  # busy, steady and large: nothing above average
    texts = reasons.reason_texts(parts, x)
    assert texts[0].startswith("activity last month 20, 90 % below last year's monthly average (200)")
    assert texts[1] == reasons.NOTHING_ABOVE


def test_a_small_fall_is_not_worded_as_a_fall(both_kinds):
    parts = reasons.parts_of(both_kinds["additive"])
    x = np.array([[49.0, 600.0, 40.0]])  # 2 % below last year's monthly 50, and low
    text = reasons.reason_texts(parts, x)[0]
    assert "below last year's monthly average" not in text
    assert text.startswith("low activity last month: 49")


def test_a_low_band_client_gets_no_reason_why_at_risk(both_kinds):
    parts = reasons.parts_of(both_kinds["additive"])
    x = np.array([[20.0, 2400.0, 40.0], [20.0, 2400.0, 40.0], [300.0, 600.0, 2000.0]])
    texts = reasons.reason_texts(parts, x, low=np.array([False, True, True]))
    assert texts[0].startswith("activity last month 20")
    assert texts[1] in ("", ) or texts[1].startswith(reasons.LOWER_THAN_MOST)
    assert "below last year's" not in texts[1]
    assert texts[2] in (reasons.LOWER_THAN_MOST + " (activity last month 300, last year's monthly average 50)",
                        reasons.LOWER_THAN_MOST + " (2,000 employees)")


def test_one_employee_is_singular(both_kinds):
    parts = reasons.parts_of(both_kinds["course"])
    rows = np.array([0])
    assert reasons._size(parts, np.array([[50.0, 600.0, 1.0]]), rows)[0] == "small account: 1 employee"
    assert reasons._size(parts, np.array([[50.0, 600.0, 2.0]]), rows)[0] == "small account: 2 employees"


def test_a_model_without_a_linear_decomposition_gets_no_invented_reasons(cfg):
    from sklearn.tree import DecisionTreeClassifier
    data = contract.read_csv(cfg.test_data_file)
    tree = DecisionTreeClassifier(max_depth=2).fit(contract.feature_matrix(data).clip(0), data["exited"])
    assert reasons.linear_parts(tree) is None
    assert reasons.parts_of(tree) is None
    assert set(reasons.reason_texts(None, np.zeros((3, 3)))) == {reasons.NO_REASONS}
    ranking, _ = scoring.rank_clients(tree, data.fillna(0), None, (0.6, 0.4, 0.2), 10)
    assert set(ranking["reasons"]) == {reasons.NO_REASONS}


def test_bands_follow_the_configured_thresholds():
    p = np.array([0.99, 0.6, 0.5999, 0.4, 0.2, 0.1999, 0.0])
    assert scoring.bands_of(p, (0.6, 0.4, 0.2)).tolist() == [
        "high", "high", "elevated", "elevated", "moderate", "low", "low"]


def test_precision_and_recall_at_n_count_the_leavers_among_the_riskiest():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.1])
    exited = np.array([1, 0, 1, 0, 1])
    q = scoring.quality_at(p, exited, 2)
    assert q == {"precision_at_n": 0.5, "recall_at_n": pytest.approx(1 / 3), "n": 2, "base_rate": 0.6}
    assert scoring.quality_at(p, exited, 99)["n"] == 5


def test_changes_name_new_up_down_and_left():
    previous = pd.DataFrame({"corporation": ["a", "b", "c", "d", "e"], "rank": [1, 2, 3, 4, 5],
                             "band": ["high", "elevated", "moderate", "low", "low"]})
    ranking = pd.DataFrame({"corporation": ["d", "a", "b", "c", "f"], "rank": [1, 2, 3, 4, 5],
                            "band": ["high", "high", "high", "low", "moderate"]})
    change, left = scoring.changes(ranking, previous, n=2)
    # d enters the top 2; a stays in it; b's band rose; c's fell; f is new but not in the top 2
    assert change.tolist() == ["new", "", "up", "down", ""]
    assert left == ["e"]
    assert scoring.changes(ranking, None, 2)[0].tolist() == [""] * 5


def test_two_publications_record_what_changed_and_each_clients_history(deployed_cfg):
    cfg = deployed_cfg
    first = scoring.publish_call_list(cfg)
    assert set(first.ranking["change"]) == {""}
    assert first.summary["left_count"] == 0

    data = contract.read_csv(cfg.finaldata_path)
    current = first.ranking
    low = current[current["band"] == "low"]["corporation"].iloc[-1]  # the safest client
    top = current["corporation"].iloc[0]
    quitter = current["corporation"].iloc[5]
    gone = current["corporation"].iloc[7]
    # A new extract: the safest client's activity collapses, the riskiest recovers,
    # one exits, one is no longer listed.
    data = data[data["corporation"] != gone]
    latest = data.drop_duplicates("corporation", keep="last")
    later = latest[latest["corporation"].isin([low, top, quitter])].copy()
    later.loc[later["corporation"] == low, ["lastmonth_activity", "lastyear_activity"]] = [5, 3000]
    later.loc[later["corporation"] == top, ["lastmonth_activity", "lastyear_activity"]] = [400, 1200]
    later.loc[later["corporation"] == quitter, "exited"] = 1
    # The call list reads the records (every accepted extract), beside finaldata.csv.
    artifacts.write_atomic(cfg.records_path, contract.write_csv(pd.concat([data, later])))

    second = scoring.publish_call_list(cfg)
    change = second.ranking.set_index("corporation")["change"]
    assert change[low] == "new"
    assert change[top] == "down"
    assert sorted(second.summary["left_since_previous"]) == sorted([quitter, gone])
    assert second.summary["left_count"] == 2
    assert low in second.summary["new_to_top"]

    places = second.ranking.set_index("corporation")
    assert places.loc[top, "previous_rank"] == 1
    assert places.loc[top, "previous_risk_percent"] == first.ranking["risk_percent"].iloc[0]
    assert places["previous_rank"].notna().all()  # every client was on the first list

    past = scoring.client_history(cfg, low)[-2:]  # the two publications of this test
    assert [h["band"] for h in past] == ["low", "high"]
    assert [h["model_version"] for h in past] == [1, 1]
    assert set(past[0]) == {"published_at", "model_version", "rank", "probability", "band"}
    assert scoring.client_history(cfg, "nobody") == []


def test_an_unchanged_list_published_again_keeps_its_marks(deployed_cfg):
    cfg = deployed_cfg
    scoring.publish_call_list(cfg)
    data = contract.read_csv(cfg.finaldata_path)
    latest = data.drop_duplicates("corporation", keep="last")
    safest = scoring.read_call_list(cfg)[0]["corporation"].iloc[-1]
    later = latest[latest["corporation"] == safest].copy()
    later[["lastmonth_activity", "lastyear_activity"]] = [5, 3000]
    # The list reads the records (every accepted extract): the later record goes there.
    records = contract.read_csv(cfg.records_path, require_target=False)
    artifacts.write_atomic(cfg.records_path, contract.write_csv(pd.concat([records, later])))
    second = scoring.publish_call_list(cfg)
    assert second.ranking.set_index("corporation").loc[safest, "change"] == "new"

    third = scoring.publish_call_list(cfg)  # nothing new: the same list again
    assert third.ranking["change"].tolist() == second.ranking["change"].tolist()
    assert third.summary["new_to_top"] == second.summary["new_to_top"] == [safest]
    assert third.ranking["previous_rank"].tolist() == second.ranking["previous_rank"].tolist()
    assert scoring.read_call_list(cfg)[0]["change"].tolist() == second.ranking["change"].tolist()


def test_list_measure_counts_exits_in_the_top_k_and_bins_the_reliability_chart():
    p = np.array([0.9, 0.8, 0.7, 0.6, 0.1, 0.05])
    exited = np.array([1, 0, 1, 0, 1, 0])
    m = scoring.list_measure(p, exited, 3)
    assert m["k"] == 3 and m["exits_in_top"] == 2 and m["rows"] == 6
    assert m["auc"] == pytest.approx(6 / 9)
    points = scoring.reliability(p, exited, bins=3)
    assert [pt["rows"] for pt in points] == [2, 2, 2]
    assert [pt["observed"] for pt in points] == [0.5, 0.5, 0.5]
    assert points[0]["predicted"] == pytest.approx(0.075)


def test_read_call_list_gives_back_what_was_published(deployed_cfg):
    published = scoring.publish_call_list(deployed_cfg)
    ranking, summary = scoring.read_call_list(deployed_cfg)

    assert list(ranking.columns) == list(scoring.RANKING_COLUMNS)
    assert str(ranking["previous_rank"].dtype) == str(ranking["previous_risk_percent"].dtype) == "Int64"
    assert ranking["corporation"].tolist() == published.ranking["corporation"].tolist()
    assert ranking["reasons"].tolist() == published.ranking["reasons"].tolist()
    assert summary == json.loads(json.dumps(published.summary))
    assert summary["clients"] == len(ranking) == sum(summary["bands"].values())
    assert summary["reasons_available"] is True
    assert set(summary["quality"]) == {"f1", "precision_at_n", "recall_at_n", "n", "base_rate",
                                       "exits_in_top", "auc", "calibration_error"}
    measure = summary["list_measure"]
    assert measure["k"] == 100 and measure["data"] == "testdata.csv" and measure["data_date"]
    assert 0 <= measure["exits_in_top"] <= 100 and 0.5 < measure["auc"] <= 1
    assert len(measure["reliability"]) == 10
    assert summary["model_kind"] == "additive"
    assert ranking["risk_percent"].tolist() == (ranking["probability"] * 100).round().astype(int).tolist()


def test_reading_a_call_list_never_published_is_a_clear_error(cfg):
    with pytest.raises(scoring.CallListMissing, match="call_list.json.*no call list published"):
        scoring.read_call_list(cfg)


def test_score_records_the_quality_at_the_call_capacity(deployed_cfg):
    row = history.rows(deployed_cfg.history_path, "scores")[-1]
    test = contract.read_csv(deployed_cfg.test_data_file)
    assert row["n"] == 100
    assert row["base_rate"] == pytest.approx(test["exited"].mean())
    assert 0 <= row["precision_at_n"] <= 1 and 0 <= row["recall_at_n"] <= 1
    assert row["exits_in_top"] == round(row["precision_at_n"] * 100)
    assert 0.5 < row["auc"] <= 1 and 0 <= row["calibration_error"] < 0.2


@pytest.mark.slow
def test_script_publishes_the_call_list(deployed_cfg, tmp_path):
    run = run_script("scoring.py", "--config", str(deployed_cfg.path), "--call-list", cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert "current clients" in run.stdout
    assert (deployed_cfg.output_model_path / "risk_ranking.csv").is_file()
    assert (deployed_cfg.output_model_path / "call_list.json").is_file()


def test_band_thresholds_must_rise(make_config):
    path = make_config(extra={"band_high_from": 0.3, "band_elevated_from": 0.4})
    with pytest.raises(config.ConfigError, match="band_moderate_from"):
        config.load(path)


def test_factors_are_ordered_largest_first_ties_by_position():
    c = np.random.default_rng(0).integers(-2, 3, size=(500, 3)).astype(float)
    assert reasons._largest_first(c).tolist() == np.argsort(-c, axis=1, kind="stable").tolist()


def test_figures_are_written_as_whole_numbers_with_separators():
    assert reasons._whole(np.array([0.0, 1234.4, 1234.6, 7.0])).tolist() == ["0", "1,234", "1,235", "7"]
    assert reasons._whole(np.array([5e6, 12.0])).tolist() == ["5,000,000", "12"]
