"""Issue 13's attack families, each reproduced: bad files, full and read-only disks, crashes.

Bad configs are in test_config.py, deployment's promises in test_deployment.py.
"""
import contextlib
import errno
import os
import subprocess

import pytest
from conftest import client_csv, run_script
from test_ingestion import add_bad_files

import deployment as deployment_script
import fullprocess
import ingestion as ingestion_script
import scoring as scoring_script
import training as training_script
from risk import artifacts, config, history
from risk.data import ingestion, sources
from risk.loop import deployment
from risk.model import scoring, training


def tick(cfg, monkeypatch):
    """One run of the main job in-process, without its reports (they are not what is tested)."""
    monkeypatch.setattr(fullprocess, "report", lambda cfg, run: None)
    run = fullprocess.Run()
    fullprocess.recorded_run(cfg, False, run)
    return run


def test_bad_files_never_stop_the_main_job_and_the_next_tick_settles(deployed_cfg, monkeypatch):
    cfg = deployed_cfg
    bad = add_bad_files(cfg.input_folder_path)
    (cfg.input_folder_path / "c.csv").write_bytes(client_csv(300, seed=5))

    first = tick(cfg, monkeypatch)

    assert "c.csv" in first.decisions[0] and "caf\\xe9.csv" in first.decisions[0]
    assert first.outputs[0].startswith("ingested 3 file(s)")
    assert cfg.ingestedfiles_path.read_text() == "a.csv\nb.csv\nc.csv\n"
    handled = {r["name"]: r["outcome"] for r in history.rows(cfg.history_path, "handled_files")}
    assert {n: handled[n] for n in bad} == dict.fromkeys(bad, "rejected")

    second = tick(cfg, monkeypatch)
    assert second.decisions == [f"no new data in {cfg.input_folder_path} (deployed v0001)"]
    assert history.rows(cfg.history_path, "runs")[-1]["exit_code"] == 0

    # A rejected file that changes is new again.
    (cfg.input_folder_path / "dup.csv").write_bytes(client_csv(30, seed=6))
    known = fullprocess.handled_files(cfg, artifacts.read_manifest(cfg.prod_deployment_path))
    assert [sources.safe_name(p) for p in sources.new_files(cfg.input_folder_path, known)] == ["dup.csv"]


# --- full and read-only disks --------------------------------------------------

FILLER = ".filler"


@contextlib.contextmanager
def small_disk(folder, size="2m"):
    """A tmpfs of `size` mounted on `folder` (root only; skipped where mount is not allowed)."""
    folder.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(folder)],
                             capture_output=True, text=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or mounted.returncode}")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], capture_output=True)


def fill(folder):
    """Use up every free byte of the disk holding `folder`."""
    with open(folder / FILLER, "wb", buffering=0) as f, contextlib.suppress(OSError):
        while True:
            f.write(b"\0" * 4096)


def read_only(folder, on=True):
    subprocess.run(["mount", "-o", f"remount,{'ro' if on else 'rw'}", str(folder)], check=True)


def snapshot(folder):
    """Every file's bytes and every link's target under `folder`, the filler aside."""
    state = {}
    for root, dirs, files in os.walk(folder):
        for name in dirs + files:
            p = os.path.join(root, name)
            if name == FILLER:
                continue
            if os.path.islink(p):
                state[p] = ("link", os.readlink(p))
            elif os.path.isfile(p):
                with open(p, "rb") as f:
                    state[p] = f.read()
    return state


def new_data(cfg, seed):
    (cfg.input_folder_path / f"more{seed}.csv").write_bytes(client_csv(300, seed=seed))


def prepare(cfg, upto):
    """Run the steps before `upto` once, then change the data so that `upto` writes anew."""
    steps = [("ingestion.py", ingestion.ingest), ("training.py", training.train),
             ("scoring.py", scoring.score), ("deployment.py", deployment.deploy)]
    for name, step in steps:
        step(cfg)
        if name == upto:
            break
    new_data(cfg, 31)
    for name, step in steps:
        if name == upto:
            break
        step(cfg)


# (folder whose disk fails, script that writes there)
DISK_CASES = [
    ("output_folder_path", "ingestion.py"),
    ("output_model_path", "training.py"),
    ("output_model_path", "scoring.py"),
    ("prod_deployment_path", "deployment.py"),
    ("history", "ingestion.py"),
    ("history", "training.py"),
]
CAUSES = ("no space left on device", "read-only file system", "database or disk is full",
          "attempt to write a readonly database", "unable to open database file")


def folder_of(cfg, key):
    return cfg.history_path.parent if key == "history" else getattr(cfg, key)


@pytest.mark.slow
@pytest.mark.parametrize("how", ["full", "read-only"])
@pytest.mark.parametrize("key, script", DISK_CASES)
def test_a_failed_write_is_one_line_exit_1_and_the_next_run_completes(make_config, key, script, how):
    cfg = config.load(make_config())
    folder = folder_of(cfg, key)
    with small_disk(folder):
        prepare(cfg, script)
        before = snapshot(folder)
        fill(folder) if how == "full" else read_only(folder)

        run = run_script(script, "--config", str(cfg.path))

        assert run.returncode == 1, run.stdout + run.stderr
        assert "Traceback" not in run.stderr and "Logging error" not in run.stderr
        [error] = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
        assert any(cause in error for cause in CAUSES), error
        assert f"writing {folder}" in error, error
        if key != "history":  # SQLite keeps its own journal; its rows are checked below
            assert snapshot(folder) == before
        if script == "training.py":  # never a new model beside the old model's hash
            artifacts.load_model(cfg.model_path)
        if how == "full":
            (folder / FILLER).unlink()
        else:
            read_only(folder, on=False)
        again = run_script(script, "--config", str(cfg.path))
        assert again.returncode == 0, again.stderr


@pytest.mark.slow
def test_a_full_log_disk_is_one_warning_and_the_step_still_runs(make_config):
    cfg = config.load(make_config())
    with small_disk(cfg.log_folder, size="64k"):
        # A whole page: the next line needs a new one (tmpfs allocates by the page).
        (cfg.log_folder / "pipeline.log").write_bytes(b"earlier\n" * 512)
        fill(cfg.log_folder)
        run = run_script("ingestion.py", "--config", str(cfg.path))
    assert run.returncode == 0, run.stderr
    warnings = [line for line in run.stderr.splitlines() if line.startswith("warning:")]
    assert warnings == [f"warning: no space left on device writing {cfg.log_folder / 'pipeline.log'}; "
                        "the rest of this run's log is on stderr only"]
    assert "Traceback" not in run.stderr and cfg.finaldata_path.is_file()


@pytest.mark.slow
def test_the_main_job_on_a_full_model_disk_exits_1_and_recovers(make_config):
    from risk.serving import apicalls
    cfg = config.load(make_config(extra={"api_port": apicalls.free_port()}))
    with small_disk(cfg.output_model_path):
        fill(cfg.output_model_path)
        run = run_script("fullprocess.py", "--config", str(cfg.path))
        assert run.returncode == 1
        [error] = [line for line in run.stderr.splitlines() if line.startswith("ERROR")]
        assert f"no space left on device writing {cfg.output_model_path}" in error
        assert artifacts.read_manifest(cfg.prod_deployment_path) is None
        (cfg.output_model_path / FILLER).unlink()
        again = run_script("fullprocess.py", "--config", str(cfg.path))
        assert again.returncode == 0, again.stderr
        assert artifacts.read_manifest(cfg.prod_deployment_path)["version"] == 1


# Without mount: the same failures injected where the bytes reach the disk.
@pytest.mark.parametrize("err", [errno.ENOSPC, errno.EROFS, errno.EACCES, errno.EDQUOT])
@pytest.mark.parametrize("step", ["ingestion", "training", "scoring", "deployment"])
def test_injected_write_errors_name_the_file_and_leave_the_outputs(deployed_cfg, monkeypatch, capsys, step, err):
    cfg = deployed_cfg
    new_data(cfg, 32)
    if step != "ingestion":
        ingestion.ingest(cfg)
    if step in ("scoring", "deployment"):
        training.train(cfg)
    if step == "deployment":
        scoring.score(cfg)
    folders = [cfg.output_folder_path, cfg.output_model_path, cfg.prod_deployment_path]
    before = [snapshot(f) for f in folders]

    def failing(*args):
        raise OSError(err, os.strerror(err))

    monkeypatch.setattr(os, "fsync", failing)
    main = {"ingestion": ingestion_script.main, "training": training_script.main,
            "scoring": scoring_script.main, "deployment": deployment_script.main}[step]
    code = main(["--config", str(cfg.path)])
    monkeypatch.undo()

    assert code == 1
    err_lines = [line for line in capsys.readouterr().err.splitlines() if line.startswith("ERROR")]
    assert len(err_lines) == 1
    cause = os.strerror(err)
    assert f"{cause[:1].lower()}{cause[1:]} writing {cfg.path.parent}" in err_lines[0]
    assert [snapshot(f) for f in folders] == before
    artifacts.load_deployed_model(cfg.prod_deployment_path)
    assert main(["--config", str(cfg.path)]) == 0
