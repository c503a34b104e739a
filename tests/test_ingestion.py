import json
import os

import pandas as pd
import pytest
from conftest import COURSE_STARTER, client_csv, run_script

from risk import artifacts, config, history
from risk.data import contract, ingestion

HEADER = "corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"


@pytest.mark.parametrize("name, content, reason", [
    ("empty.csv", b"", "empty file"),
    ("blank.csv", b"\n\n  \n", "empty file"),
    ("header.csv", HEADER.encode(), "header only, no data rows"),
    ("nocol.csv", b"corporation,lastmonth_activity,lastyear_activity,exited\nabcd,1,2,0\n",
     "missing column(s) 'number_of_employees'"),
    ("text.csv", (HEADER + "abcd,1,2,3,0\nefgh,lots,2,3,1\n").encode(),
     "column 'lastmonth_activity' has non-numeric value 'lots' on line 3"),
    ("exited.csv", (HEADER + "abcd,1,2,3,0\nefgh,1,2,3,2\n").encode(),
     "column 'exited' value 2 on line 3 must be 0 or 1"),
    ("noexit.csv", (HEADER + "abcd,1,2,3,\n").encode(), "column 'exited' is empty on line 2"),
    ("negative.csv", (HEADER + "abcd,-5,2,3,0\n").encode(),
     "column 'lastmonth_activity' value -5 on line 2 is negative"),
    ("fraction.csv", (HEADER + "abcd,1,2,3.5,0\n").encode(),
     "column 'number_of_employees' value 3.5 on line 2 is not a whole number"),
    ("noid.csv", (HEADER + ",1,2,3,0\n").encode(), "column 'corporation' is empty on line 2"),
    ("ragged.csv", (HEADER + "abcd,1,2,3,0,9,9\n").encode(), "malformed CSV"),
    ("latin1.csv", (HEADER + "soci\xe9t\xe9,1,2,3,0\n").encode("latin-1"), "not UTF-8 text (bad byte on line 2)"),
    ("dup.csv", b"corporation,lastmonth_activity,lastyear_activity,number_of_employees,exited,exited\n"
     b"abcd,1,2,3,0,1\n", "column 'exited' appears twice in the header"),
    ("dupspace.csv", b"corporation, exited,lastmonth_activity,lastyear_activity,number_of_employees,exited\n"
     b"abcd,0,1,2,3,1\n", "column 'exited' appears twice in the header"),
    ("wide.csv", (HEADER.strip() + "".join(f",x{i}" for i in range(200)) + "\n").encode(),
     "header has 205 columns"),
    ("huge1e30.csv", (HEADER + "abcd,1e30,2,3,0\n").encode(),
     "column 'lastmonth_activity' value 1e+30 on line 2 is larger than 9,007,199,254,740,991"),
    ("huge10p25.csv", (HEADER + "abcd,1,10000000000000000000000000,3,0\n").encode(),
     "column 'lastyear_activity' value 1e+25 on line 2 is larger than"),
    ("inexact.csv", (HEADER + "abcd,1,2,9007199254740993,0\n").encode(),
     "column 'number_of_employees' value 9.0072e+15 on line 2 is larger than 9,007,199,254,740,991"),
    ("crdup.csv", b"exited,corporation,exited\rabcd,1\r", "column 'exited' appears twice"),
    ("binary.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "binary file"),
])
def test_bad_file_is_rejected_with_a_reason_naming_it(make_config, name, content, reason):
    cfg = config.load(make_config(inputs={name: content}))
    with pytest.raises(contract.DataError) as exc:
        contract.read_csv(cfg.input_folder_path / name)
    assert name in str(exc.value)
    assert reason in str(exc.value)


def test_a_million_columns_are_rejected_from_the_header_alone(monkeypatch):
    # 1,000,000 column names, 9.9 MB: pandas must never see it (it took 103 s and 2.2 GB).
    raw = ",".join(f"c{i}" for i in range(1_000_000)).encode() + b"\n" + b"1," * 999_999 + b"1\n"
    assert len(raw) > 9_000_000

    def no_pandas(*args, **kwargs):
        raise AssertionError("pandas was asked to parse the file")

    monkeypatch.setattr(pd, "read_csv", no_pandas)
    with pytest.raises(contract.DataError, match=r"wide\.csv: header has 1,000,000 columns"):
        contract.parse_csv(raw, "wide.csv")


def test_a_few_extra_columns_are_still_accepted():
    raw = (HEADER.strip() + ",region,notes\n" + "abcd,1,2,3,0,north,x\n").encode()
    assert list(contract.parse_csv(raw, "extra.csv").columns) == list(contract.COLUMNS)


def test_mixed_folder_ingests_good_files_and_records_bad_ones_untouched(make_config):
    bad = {"bad1.csv": b"", "bad2.csv": b"corporation,exited\nabcd,0\n", "bad3.csv": b"\x00\x01\x02"}
    path = make_config(inputs={"good1.csv": client_csv(100, 1), "good2.csv": client_csv(50, 2), **bad})
    cfg = config.load(path)
    before = {n: artifacts.sha256_file(cfg.input_folder_path / n) for n in bad}

    result = ingestion.ingest(cfg)

    assert [f.name for f in result.ingested] == ["good1.csv", "good2.csv"]
    assert [f.name for f in result.rejected] == ["bad1.csv", "bad2.csv", "bad3.csv"]
    assert result.rows == 150
    assert cfg.ingestedfiles_path.read_text() == "good1.csv\ngood2.csv\n"
    assert {n: artifacts.sha256_file(cfg.input_folder_path / n) for n in bad} == before
    record = json.loads(cfg.ingestion_record_path.read_text())
    assert {f["name"]: f["status"] for f in record["files"]}["bad2.csv"] == "rejected"
    rows = history.rows(cfg.history_path, "ingestions")
    assert {r["file"]: r["status"] for r in rows} == {
        "good1.csv": "ingested", "good2.csv": "ingested",
        "bad1.csv": "rejected", "bad2.csv": "rejected", "bad3.csv": "rejected",
    }
    assert all(r["sha256"] for r in rows)
    assert {r["file"]: r["rows_kept"] for r in rows}["good2.csv"] == 50


def make_unreadable(path, content=b"x"):
    """A regular-looking CSV that can't be read. As root, mode 000 still reads, so the
    file is then a symbolic link to /proc/self/mem, a regular file whose first page
    fails to read (EIO) for every reader: a real failing read, no patching."""
    if os.geteuid() != 0:
        path.write_bytes(content)
        path.chmod(0)
    else:
        path.symlink_to("/proc/self/mem")


def add_bad_files(folder):
    """One input file of each bad kind in `folder`; return {recorded name: reason part}."""
    (folder / "huge.csv").write_bytes((HEADER + "abcd,1e30,2,3,0\n").encode())
    (folder / "dup.csv").write_bytes(b"corporation,lastmonth_activity,lastyear_activity,"
                                     b"number_of_employees,exited,exited\nabcd,1,2,3,0,0\n")
    (folder / "folder.csv").mkdir()
    (folder / "gone.csv").symlink_to(folder / "nowhere.csv")
    os.mkfifo(folder / "pipe.csv")
    make_unreadable(folder / "locked.csv")
    # Linux names are bytes: this one is Latin-1, not UTF-8.
    with open(os.path.join(os.fsencode(folder), b"caf\xe9.csv"), "wb") as f:
        f.write(client_csv(20, seed=8))
    (folder / "two\nlines.csv").write_bytes(client_csv(20, seed=9))
    return {
        "huge.csv": "is larger than 9,007,199,254,740,991",
        "dup.csv": "column 'exited' appears twice",
        "folder.csv": "not a regular file",
        "gone.csv": "symbolic link to nothing",
        "pipe.csv": "not a regular file",
        "locked.csv": "cannot read (",
        "caf\\xe9.csv": "file name is not UTF-8",
        "two\\nlines.csv": "file name holds a line break",
    }


def folder_state(folder):
    """What each entry of `folder` is and holds, without reading FIFOs or unreadable files."""
    state = {}
    for p in os.scandir(os.fsencode(folder)):
        st = os.lstat(p.path)
        state[p.name] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return state


def test_one_bad_file_of_each_kind_is_skipped_and_the_good_ones_ingested(make_config):
    cfg = config.load(make_config())
    bad = add_bad_files(cfg.input_folder_path)
    before = folder_state(cfg.input_folder_path)

    result = ingestion.ingest(cfg)

    assert [f.name for f in result.ingested] == ["a.csv", "b.csv"]
    assert {f.name for f in result.rejected} == set(bad)
    for f in result.rejected:
        assert bad[f.name] in f.reason, (f.name, f.reason)
        assert "\n" not in f.reason and f.sha256
    assert result.rows == 1000
    assert cfg.ingestedfiles_path.read_text() == "a.csv\nb.csv\n"
    assert folder_state(cfg.input_folder_path) == before  # nothing moved, changed or deleted
    rows = history.rows(cfg.history_path, "ingestions")
    assert {r["file"]: r["status"] for r in rows if r["status"] == "rejected"} == dict.fromkeys(bad, "rejected")
    assert len(json.loads(cfg.ingestion_record_path.read_text())["files"]) == 10
    assert any(line.startswith("rejected caf\\xe9.csv: file name is not UTF-8")
               for line in ingestion.summary(result).splitlines())


@pytest.mark.slow
def test_ingestion_script_with_bad_files_exits_0_with_one_line_per_bad_file(make_config):
    cfg = config.load(make_config())
    bad = add_bad_files(cfg.input_folder_path)
    run = run_script("ingestion.py", "--config", str(cfg.path))
    assert run.returncode == 0, run.stderr
    assert "Traceback" not in run.stderr and "Logging error" not in run.stderr
    lines = run.stdout.splitlines()
    assert lines[0].startswith("ingested 2 file(s), 1000 rows")
    assert len(lines) == 1 + len(bad)
    assert cfg.ingestedfiles_path.read_text() == "a.csv\nb.csv\n"


def test_exact_duplicate_rows_across_files_are_dropped_once(make_config):
    dup_rows = "abcd,10,100,5,0\nefgh,20,200,6,1\n"
    path = make_config(inputs={
        "a.csv": HEADER + dup_rows + "ijkl,1,2,3,0\n",
        "b.csv": HEADER + dup_rows + "abcd,11,100,5,1\n",  # same client, new figures: kept
    })
    result = ingestion.ingest(config.load(path))
    data = pd.read_csv(result.finaldata_path)
    assert len(data) == 4
    assert result.duplicates_dropped == 2
    assert {f.name: f.rows_kept for f in result.files} == {"a.csv": 3, "b.csv": 1}


def test_missing_feature_values_are_kept_for_the_model_to_impute(make_config):
    path = make_config(inputs={"a.csv": HEADER + "abcd,,100,5,0\nefgh,NA,200,,1\n"})
    data = pd.read_csv(ingestion.ingest(config.load(path)).finaldata_path)
    assert data["lastmonth_activity"].isna().sum() == 2
    assert data["number_of_employees"].isna().sum() == 1


def test_extra_columns_are_dropped_and_ids_that_look_like_missing_stay(make_config, caplog):
    path = make_config(inputs={"a.csv": "region," + HEADER + "north,NA,1,2,3,0\nsouth,nan,4,5,6,1\n"})
    result = ingestion.ingest(config.load(path))
    data = pd.read_csv(result.finaldata_path, keep_default_na=False)
    assert list(data.columns) == list(contract.COLUMNS)
    assert list(data["corporation"]) == ["NA", "nan"]
    assert "ignoring extra column(s) region" in caplog.text


def test_hidden_and_temporary_files_are_ignored(make_config):
    path = make_config(inputs={
        "a.csv": client_csv(20, 1), ".hidden.csv": b"", "~lock.csv": b"", "b.csv.tmp": b"",
        "notes.txt": b"hello",
    })
    result = ingestion.ingest(config.load(path))
    assert [f.name for f in result.files] == ["a.csv"]


@pytest.mark.slow
def test_no_valid_data_fails_and_leaves_previous_output(make_config, tmp_path):
    path = make_config(inputs={"a.csv": client_csv(30, 1)})
    assert run_script("ingestion.py", "--config", str(path)).returncode == 0
    final = tmp_path / "out" / "finaldata.csv"
    before = final.read_bytes()
    (tmp_path / "in" / "a.csv").unlink()
    (tmp_path / "in" / "bad.csv").write_text("corporation,exited\nabcd,0\n")

    run = run_script("ingestion.py", "--config", str(path))

    assert run.returncode == 1
    assert "bad.csv" in run.stderr
    assert "no valid CSV files" in run.stderr
    assert final.read_bytes() == before


@pytest.mark.slow
def test_empty_or_missing_input_folder_fails_with_exit_1(make_config, tmp_path):
    path = make_config(inputs={})
    run = run_script("ingestion.py", "--config", str(path))
    assert run.returncode == 1
    assert "no CSV files" in run.stderr
    (tmp_path / "in").rmdir()
    run = run_script("ingestion.py", "--config", str(path))
    assert run.returncode == 1
    assert "input folder not found" in run.stderr


@pytest.mark.slow
def test_script_runs_from_another_working_directory(make_config, tmp_path):
    path = make_config()
    run = run_script("ingestion.py", "--config", str(path), cwd=tmp_path / "in")
    assert run.returncode == 0, run.stderr
    assert "1000 rows" in run.stdout
    assert (tmp_path / "out" / "finaldata.csv").is_file()
    assert (tmp_path / "logs" / "pipeline.log").read_text().count("read a.csv") == 1


def test_failure_while_writing_finaldata_keeps_the_previous_file(make_config, tmp_path, monkeypatch):
    cfg = config.load(make_config())
    ingestion.ingest(cfg)
    before = cfg.finaldata_path.read_bytes()
    (tmp_path / "in" / "c.csv").write_bytes(client_csv(50, 9))

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    with pytest.raises(artifacts.WriteError, match="disk full writing .*finaldata.csv"):
        ingestion.ingest(cfg)
    assert cfg.finaldata_path.read_bytes() == before
    assert not [p for p in cfg.output_folder_path.iterdir() if p.name.startswith(".")]


def test_course_starter_practice_files_hold_26_unique_rows(make_config):
    inputs = {p.name: p.read_bytes() for p in (COURSE_STARTER / "practicedata").glob("*.csv")}
    result = ingestion.ingest(config.load(make_config(inputs=inputs)))
    assert result.rows == 26
    assert result.duplicates_dropped == 10
    data = pd.read_csv(result.finaldata_path)
    assert data["corporation"].str.len().eq(4).all()


def test_the_largest_exact_whole_number_is_accepted():
    frame = contract.parse_csv((HEADER + "abcd,1,2,9007199254740991,0\n").encode(), "edge.csv")
    assert int(frame["number_of_employees"][0]) == 2**53 - 1


def test_a_header_ended_by_a_lone_carriage_return_is_read():
    # Old Mac line ends: the header check must split where pandas does.
    raw = (HEADER.strip() + "\r" + "abcd,1,2,3,0\r").encode()
    assert len(contract.parse_csv(raw, "cr.csv")) == 1
