import logging

from risk import cli


def test_a_full_log_file_is_rotated_at_the_start_of_a_run(tmp_path):
    log_file = tmp_path / "pipeline.log"
    log_file.write_bytes(b"x" * cli.LOG_MAX_BYTES)
    try:
        cli.setup_logging(tmp_path)
        logging.getLogger("test").info("first line of the new file")
    finally:
        cli.setup_logging(None)
    assert (tmp_path / "pipeline.log.1").stat().st_size == cli.LOG_MAX_BYTES
    assert "first line of the new file" in log_file.read_text()
    assert log_file.stat().st_size < 1000


def test_a_log_file_below_the_limit_is_appended_to(tmp_path):
    (tmp_path / "pipeline.log").write_text("earlier run\n")
    try:
        cli.setup_logging(tmp_path)
        logging.getLogger("test").info("this run")
    finally:
        cli.setup_logging(None)
    text = (tmp_path / "pipeline.log").read_text()
    assert text.startswith("earlier run\n") and "this run" in text
    assert not (tmp_path / "pipeline.log.1").exists()


def test_a_log_file_that_cannot_be_written_warns_once_not_per_line(tmp_path, capsys):
    # /dev/full: every write fails with ENOSPC, no mount needed.
    (tmp_path / "pipeline.log").symlink_to("/dev/full")
    try:
        cli.setup_logging(tmp_path)
        for i in range(5):
            logging.getLogger("test").info("line %d", i)
    finally:
        cli.setup_logging(None)
    err = capsys.readouterr().err
    assert "Traceback" not in err and "Logging error" not in err
    assert [line for line in err.splitlines() if line.startswith("warning:")] == [
        f"warning: no space left on device writing {tmp_path / 'pipeline.log'}; "
        "the rest of this run's log is on stderr only"
    ]
    assert "line 4" in err  # stderr still has every line
