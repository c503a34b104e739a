import stat
from datetime import datetime

from conftest import ROOT
from croniter import croniter

import install_cron


def schedule_line():
    return [l for l in (ROOT / "cronjob.txt").read_text().splitlines()
            if l.strip() and not l.startswith("#")][0]


def test_cronjob_fires_every_10_minutes():
    fields = schedule_line().split()[:5]
    expression = " ".join(fields)
    assert croniter.is_valid(expression)
    it = croniter(expression, datetime(2026, 11, 24, 10, 3))
    fires = [it.get_next(datetime) for _ in range(7)]
    assert [f.minute for f in fires] == [10, 20, 30, 40, 50, 0, 10]
    assert all((b - a).total_seconds() == 600 for a, b in zip(fires, fires[1:]))


def test_cronjob_line_runs_fullprocess_with_absolute_paths_and_appends_output(tmp_path):
    line = install_cron.job_line(tmp_path / "venv" / "bin" / "python", tmp_path / "config.json")
    command = line.split(None, 5)[5]
    assert command.startswith(f"{tmp_path}/venv/bin/python {ROOT}/fullprocess.py --config {tmp_path}/config.json")
    assert f">> {ROOT}/logs/cron.log 2>&1" in command
    assert croniter.is_valid(" ".join(line.split()[:5]))


def fake_crontab(tmp_path):
    """A stand-in for the crontab program (-l and -) keeping the table in a file."""
    table = tmp_path / "table"
    program = tmp_path / "crontab"
    program.write_text(f"""#!/bin/sh
if [ "$1" = "-l" ]; then
  [ -f "{table}" ] || {{ echo "no crontab for $USER" >&2; exit 1; }}
  cat "{table}"
elif [ "$1" = "-" ]; then
  cat > "{table}"
fi
""")
    program.chmod(program.stat().st_mode | stat.S_IXUSR)
    return str(program), table


def test_installer_adds_once_keeps_other_entries_and_removes(tmp_path, capsys):
    program, table = fake_crontab(tmp_path)
    assert install_cron.main(["--crontab", program]) == 0
    assert install_cron.main(["--crontab", program]) == 0
    assert "already installed" in capsys.readouterr().out
    lines = table.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("*/10 * * * * ")

    table.write_text("0 3 * * * /usr/bin/backup\n" + table.read_text())
    assert install_cron.main(["--crontab", program]) == 0
    assert table.read_text().count("fullprocess.py") == 1

    assert install_cron.main(["--crontab", program, "--remove"]) == 0
    assert table.read_text() == "0 3 * * * /usr/bin/backup\n"
    assert install_cron.main(["--crontab", program, "--remove"]) == 0
    assert "no job of this checkout" in capsys.readouterr().out


def test_installer_without_crontab_says_what_to_install(tmp_path, capsys):
    assert install_cron.main(["--crontab", str(tmp_path / "missing")]) == 1
    assert "install cron" in capsys.readouterr().err
