import json
import shutil

from conftest import COURSE_STARTER, run_script


def test_main_job_runs_every_step_on_the_course_starter_files(tmp_path):
    for folder in ("practicedata", "sourcedata", "testdata"):
        shutil.copytree(COURSE_STARTER / folder, tmp_path / folder)
    (tmp_path / "config.json").write_text(json.dumps({
        "input_folder_path": "practicedata",
        "output_folder_path": "ingesteddata",
        "test_data_path": "testdata",
        "output_model_path": "practicemodels",
        "prod_deployment_path": "production_deployment",
    }))

    run = run_script("fullprocess.py", "--config", str(tmp_path / "config.json"), cwd="/")

    assert run.returncode == 0, run.stderr
    assert "26 rows" in run.stdout
    assert "F1 score" in run.stdout
    for path in ("ingesteddata/finaldata.csv", "ingesteddata/ingestedfiles.txt",
                 "practicemodels/trainedmodel.pkl", "practicemodels/latestscore.txt",
                 "production_deployment/trainedmodel.pkl", "production_deployment/latestscore.txt",
                 "production_deployment/ingestedfiles.txt"):
        assert (tmp_path / path).is_file(), path
    assert (tmp_path / "ingesteddata/ingestedfiles.txt").read_text() == "dataset1.csv\ndataset2.csv\n"
