"""Install cronjob.txt's line into the user's crontab with this checkout's paths, or remove it.

    python install_cron.py             add the job (once: running it again changes nothing)
    python install_cron.py --remove    remove it
    python install_cron.py --print     print the line that would be installed

The line runs fullprocess.py every 10 minutes with the interpreter running
this script (use the project's .venv), this checkout's config.json, and output
appended to logs/cron.log. Other crontab entries are left as they are.
"""
from __future__ import annotations

import argparse
import os
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
TEMPLATE = HERE / "cronjob.txt"
PLACEHOLDER = "/path/to/attrition-risk"
# Marks our line, per checkout, so it is found again to skip or remove it.
MARK = "# attrition-risk:"


class CronError(Exception):
    """crontab is missing or refused the change."""


def job_line(python: Path, config_path: Path) -> str:
    """cronjob.txt's schedule line with this checkout's absolute paths, and its mark."""
    lines = [l for l in TEMPLATE.read_text().splitlines() if l.strip() and not l.lstrip().startswith("#")]
    if len(lines) != 1:
        raise CronError(f"{TEMPLATE}: expected exactly one schedule line, found {len(lines)}")
    # cron hands the line to /bin/sh: quote paths that hold spaces.
    line = lines[0].replace(f"{PLACEHOLDER}/.venv/bin/python", shlex.quote(str(python)))
    line = line.replace(f"{PLACEHOLDER}/config.json", shlex.quote(str(config_path)))
    line = line.replace(f"{PLACEHOLDER}/fullprocess.py", shlex.quote(str(HERE / "fullprocess.py")))
    line = line.replace(f"{PLACEHOLDER}/logs/cron.log", shlex.quote(str(HERE / "logs" / "cron.log")))
    return f"{line} {MARK}{HERE}"


def _crontab(program: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    if shutil.which(program) is None:
        raise CronError(f"'{program}' not found: install cron first (Debian/Ubuntu: apt-get install cron)")
    return subprocess.run([program, *args], input=stdin, capture_output=True, text=True)


def current_crontab(program: str = "crontab") -> str:
    run = _crontab(program, "-l")
    if run.returncode != 0:
        if "no crontab" in run.stderr.lower():
            return ""
        raise CronError(f"crontab -l failed: {run.stderr.strip()}")
    return run.stdout


def write_crontab(text: str, program: str = "crontab") -> None:
    run = _crontab(program, "-", stdin=text)
    if run.returncode != 0:
        raise CronError(f"crontab refused the new table: {run.stderr.strip()}")


def install(line: str, program: str = "crontab") -> bool:
    """Add `line` unless this checkout's job is there already; True if the crontab changed."""
    table = current_crontab(program)
    lines = table.splitlines()
    mark = line[line.index(MARK):]
    if any(l.endswith(mark) for l in lines):
        if line in lines:
            return False
        lines = [l for l in lines if not l.endswith(mark)]  # same checkout, new paths: replace
    write_crontab("\n".join([*lines, line]) + "\n", program)
    return True


def remove(program: str = "crontab") -> bool:
    """Remove this checkout's job; True if there was one."""
    lines = current_crontab(program).splitlines()
    kept = [l for l in lines if not l.endswith(f"{MARK}{HERE}")]
    if kept == lines:
        return False
    write_crontab("\n".join(kept) + ("\n" if kept else ""), program)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    action = p.add_mutually_exclusive_group()
    action.add_argument("--remove", action="store_true", help="remove this checkout's job")
    action.add_argument("--print", action="store_true", help="print the line; change nothing")
    p.add_argument("--config", type=Path, default=HERE / "config.json", help="config for the job")
    p.add_argument("--python", type=Path, default=Path(sys.executable),
                   help="interpreter for the job (default: the one running this)")
    p.add_argument("--crontab", default=os.environ.get("CRONTAB", "crontab"),
                   help="the crontab program (default: crontab, or $CRONTAB)")
    args = p.parse_args(argv)
    try:
        # Not resolved: a venv's python is a symlink, and the venv needs its own path.
        python = Path(os.path.abspath(args.python))
        line = job_line(python, args.config.resolve())
        if args.print:
            print(line)
        elif args.remove:
            print("removed the job" if remove(args.crontab) else "no job of this checkout to remove")
        else:
            # The shell opens logs/cron.log before Python starts: the folder must exist.
            (HERE / "logs").mkdir(exist_ok=True)
            changed = install(line, args.crontab)
            print(("installed: " if changed else "already installed: ") + line)
    except CronError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
