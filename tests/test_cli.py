import logging

import cli


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
