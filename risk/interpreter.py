"""A script run by a Python that lacks the project's packages: one line naming the Python to use.

Every script imports `risk` before anything else of the project, so `risk/__init__.py`
calls `guard()` once: when the running program is one of the scripts beside this
package, an uncaught ModuleNotFoundError for a third-party package (at the script's
imports, or later, when a tick's new data need matplotlib) prints

    error: /usr/bin/python3 has no module 'pandas': run this project's scripts with
    /path/to/checkout/.venv/bin/python (or pip install -r requirements.txt into this Python)

and exits 2 (bad usage), instead of a traceback. Anything else keeps Python's own hook,
and a program that merely imports `risk` (tests, gunicorn, a notebook) is left alone.
`require()` checks up front what a script only imports later (the cron tick's
data libraries). Standard library only: it must work where nothing else is installed.
"""
from __future__ import annotations

import functools
import importlib.util
import os
import sys
from pathlib import Path
from types import TracebackType

EXIT_BAD_USAGE = 2


def _own(module: str, root: Path) -> bool:
    """Whether a module name is this project's own (the package or a script), not a dependency."""
    top = module.split(".")[0]
    return top == "risk" or (root / f"{top}.py").is_file()


def message(missing: str, root: Path) -> str:
    venv_python = root / ".venv" / "bin" / "python"
    use = str(venv_python) if venv_python.exists() else "a Python with requirements.txt installed"
    return (f"error: {sys.executable} has no module '{missing}': run this project's scripts with "
            f"{use} (or pip install -r {root / 'requirements.txt'} into this Python)")


def _hook(root: Path, kind: type[BaseException], exc: BaseException, tb: TracebackType | None) -> None:
    name = getattr(exc, "name", None)
    if issubclass(kind, ModuleNotFoundError) and name and not _own(name, root):
        print(message(name, root), file=sys.stderr)
        sys.stdout.flush()
        sys.stderr.flush()
        # An excepthook cannot choose the exit status; the run is over either way.
        os._exit(EXIT_BAD_USAGE)
    sys.__excepthook__(kind, exc, tb)


def guard(root: Path) -> None:
    """Install the hook if the running program is one of the scripts in `root` (the checkout)."""
    main = getattr(sys.modules.get("__main__"), "__file__", None)
    if main and Path(main).resolve().parent == root and sys.excepthook is sys.__excepthook__:
        sys.excepthook = functools.partial(_hook, root)


def require(root: Path, *modules: str) -> None:
    """Exit 2 with `message` now if this Python lacks one of `modules` (found, not imported).

    For the cron tick, which imports its data libraries only when data arrive:
    a wrong interpreter is said at the first tick, not weeks later.
    """
    for name in modules:
        if importlib.util.find_spec(name) is None:
            print(message(name, root), file=sys.stderr)
            sys.exit(EXIT_BAD_USAGE)
