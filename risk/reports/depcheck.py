"""The dependency check: each package of requirements.txt against the package index pip uses.

The index is the one pip would install from: the environment variable
RISK_PYPI_URL if set (to name another, or a closed port to see the offline
behaviour), else pip's own `index-url` (PIP_INDEX_URL, or the pip.conf files
pip reads, in pip's order), else PyPI. TLS certificates likewise come from
pip's `cert` setting (PIP_CERT or pip.conf) when it names one. The index is
asked through the Simple API in JSON (PEP 691), which PyPI and mirrors
(devpi, Artifactory, Nexus) serve, so a mirror works as PyPI does.

Every package is asked at once; a package without an answer within the
timeout gets "unknown" and the reason, so the check never takes much longer
than its timeout, online or off.
"""
from __future__ import annotations

import configparser
import logging
import os
import platform
import sys
import threading
import time
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, TypedDict
from urllib.parse import urlsplit

import requests
from packaging.requirements import InvalidRequirement, Requirement
from packaging.specifiers import InvalidSpecifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

from risk import ROOT
from risk.errors import StepError

log = logging.getLogger("depcheck")

REQUIREMENTS = ROOT / "requirements.txt"
DEFAULT_INDEX = "https://pypi.org/simple"
INDEX_URL_ENV = "RISK_PYPI_URL"
SIMPLE_JSON = "application/vnd.pypi.simple.v1+json"
UNKNOWN = "unknown"


class DependencyError(StepError):
    """requirements.txt is unreadable or holds a line that is not a requirement."""


class Dependency(TypedDict):
    """One requirement's status (a row of `dependency_status`)."""
    name: str
    pinned: str | None
    installed: str | None
    latest: str                   # newest final release on the index, or "unknown"
    latest_for_python: str | None  # newest that installs on this Python
    outdated: bool | None          # None: the index gave no answer
    reason: str | None


def requirements(path: Path) -> list[tuple[str, str | None]]:
    """(name, pinned version or None) of each requirement in a requirements file, in file order."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DependencyError(f"{path}: cannot read requirements ({exc.strerror})") from None
    found = []
    for number, line in enumerate(lines, 1):
        line = line.split(" #", 1)[0].strip()
        # Options (-r, --index-url, ...) and comments name no package of ours.
        if not line or line.startswith(("#", "-")):
            continue
        try:
            req = Requirement(line)
        except InvalidRequirement as exc:
            raise DependencyError(f"{path}: line {number} is not a requirement ({exc})") from None
        if req.marker is not None and not req.marker.evaluate():
            continue
        pins = [s.version for s in req.specifier if s.operator in ("==", "===")]
        found.append((req.name, pins[0] if pins else None))
    return found


def installed_version(name: str) -> str | None:
    """The version of `name` installed in this environment, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# --- pip's settings ----------------------------------------------------------------

def pip_config_files() -> list[Path]:
    """The pip.conf files pip reads, lowest priority first (pip's documented order)."""
    env = os.environ.get("PIP_CONFIG_FILE")
    if env == os.devnull:
        return []
    dirs = os.environ.get("XDG_CONFIG_DIRS", "/etc/xdg").split(os.pathsep)
    home = Path.home()
    files = [Path(d) / "pip" / "pip.conf" for d in reversed(dirs) if d] + [Path("/etc/pip.conf")]
    files += [home / ".pip" / "pip.conf",
              Path(os.environ.get("XDG_CONFIG_HOME", home / ".config")) / "pip" / "pip.conf",
              Path(sys.prefix) / "pip.conf"]
    if env:
        files.append(Path(env))
    return files


def pip_setting(key: str) -> str | None:
    """pip's value of `key` for `pip install` (PIP_<KEY> first, then the config files), or None."""
    env = os.environ.get("PIP_" + key.upper().replace("-", "_"))
    if env:
        return env
    value = None
    for path in pip_config_files():
        parser = configparser.ConfigParser()
        try:
            parser.read(path, encoding="utf-8")
        except (OSError, configparser.Error):
            continue  # pip would complain; the check goes on with what it can read
        for section in ("global", "install"):
            value = parser.get(section, key, fallback=value)
    return value


def index_settings() -> tuple[str, str | bool]:
    """(Simple API URL of the index, TLS verification: a CA bundle path or True)."""
    url = os.environ.get(INDEX_URL_ENV) or pip_setting("index-url") or DEFAULT_INDEX
    cert = pip_setting("cert")
    return url.rstrip("/"), cert if cert and Path(cert).is_file() else True


# --- asking the index ------------------------------------------------------------------

def _file_version(filename: str) -> Version | None:
    try:
        if filename.endswith(".whl"):
            return parse_wheel_filename(filename)[1]
        return parse_sdist_filename(filename)[1]
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion):
        return None  # an .exe or .egg of long ago: not something pip installs here


def newest(files: list[dict[str, Any]], python: str) -> tuple[str | None, str | None]:
    """(newest final release, newest final release with a file that installs on `python`)."""
    latest: Version | None = None
    for_python: Version | None = None
    for f in files:
        version = _file_version(str(f.get("filename", "")))
        if version is None or version.is_prerelease or version.is_devrelease or f.get("yanked"):
            continue
        latest = max(latest, version) if latest else version
        try:
            fits = python in SpecifierSet(f.get("requires-python") or "")
        except InvalidSpecifier:
            fits = True  # can't tell; pip would try it too
        if fits:
            for_python = max(for_python, version) if for_python else version
    return (str(latest) if latest else None), (str(for_python) if for_python else None)


def index_answer(name: str, index_url: str, timeout_s: float,
                 verify: str | bool = True) -> dict[str, str | None]:
    """Ask the index about `name`: its latest version, and the newest that installs on this Python."""
    response = requests.get(f"{index_url}/{canonicalize_name(name)}/", timeout=timeout_s,
                            headers={"Accept": SIMPLE_JSON}, verify=verify)
    if response.status_code == 404:
        return {"latest": UNKNOWN, "for_python": None, "reason": f"'{name}' not found on the index"}
    response.raise_for_status()
    if SIMPLE_JSON not in response.headers.get("Content-Type", ""):
        raise ValueError("not the Simple API's JSON (PEP 691)")
    python = platform.python_version()
    latest, for_python = newest(response.json()["files"], python)
    if latest is None:
        return {"latest": UNKNOWN, "for_python": None, "reason": f"no release of '{name}' on the index"}
    reason = None if latest == for_python else (
        f"latest {latest} does not install on Python {python}; newest that does: {for_python or 'none'}")
    return {"latest": latest, "for_python": for_python, "reason": reason}


def _cause(exc: BaseException) -> str:
    """The innermost operating-system reason inside a requests error (e.g. 'Connection refused')."""
    todo, seen = [exc], set()
    while todo:
        e = todo.pop(0)
        if id(e) in seen:
            continue
        seen.add(id(e))
        if isinstance(e, OSError) and e.strerror:
            return e.strerror
        todo += [n for n in (e.__cause__, e.__context__, getattr(e, "reason", None), *e.args)
                 if isinstance(n, BaseException)]
    return type(exc).__name__


def ask_all(names: list[str], ask: Callable[[str], dict[str, Any]], deadline_s: float,
            host: str) -> dict[str, dict[str, Any]]:
    """`ask(name)` for every name at once; a name without an answer by the deadline gets a reason.

    Daemon threads, not a ThreadPoolExecutor: a lookup stuck in DNS (which
    no socket timeout covers) must not hold up the caller, nor the
    interpreter's exit, which joins executor threads.
    """
    answers: dict[str, dict[str, Any]] = {}

    def work(name: str) -> None:
        try:
            answers[name] = ask(name)
        except requests.Timeout:
            answers[name] = {"reason": f"no answer from {host} within {deadline_s:g} s"}
        except requests.HTTPError as exc:
            answers[name] = {"reason": f"{host} answered HTTP {exc.response.status_code}"}
        except requests.RequestException as exc:
            answers[name] = {"reason": f"cannot reach {host}: {_cause(exc)}"}
        except (ValueError, KeyError, TypeError) as exc:  # not the JSON the API promises
            answers[name] = {"reason": f"unexpected answer from {host} ({exc})"}

    threads = [threading.Thread(target=work, args=(n,), daemon=True, name=f"index-{n}") for n in names]
    end = time.monotonic() + deadline_s
    for t in threads:
        t.start()
    for t in threads:
        t.join(max(0.0, end - time.monotonic()))
    late = {"reason": f"no answer from {host} within {deadline_s:g} s"}
    return {name: dict(answers.get(name, late)) for name in names}


def dependency_status(requirements_path: Path = REQUIREMENTS, timeout_s: float = 3.0,
                      index_url: str | None = None) -> list[Dependency]:
    """For each requirement: name, pinned, installed and latest version, and whether it is outdated.

    `outdated` compares the pin (else the installed version) with the newest
    release that installs on this Python; it is None when the index gave no
    answer within `timeout_s` (then `latest` is "unknown" and `reason` says why).
    """
    url, verify = index_settings()
    url = (index_url or url).rstrip("/")
    reqs = requirements(requirements_path)
    started = time.perf_counter()
    host = urlsplit(url).netloc or url
    answers = ask_all([name for name, _ in reqs],
                      lambda n: index_answer(n, url, timeout_s, verify), timeout_s, host)
    rows: list[Dependency] = []
    for name, pinned in reqs:
        answer = answers[name]
        installed = installed_version(name)
        for_python = answer.get("for_python")
        reason = answer.get("reason")
        current = pinned or installed
        outdated = None
        if for_python and current:
            try:
                outdated = Version(current) < Version(for_python)
            except InvalidVersion:
                reason = f"cannot compare versions {current!r} and {for_python!r}"
        rows.append(Dependency(name=name, pinned=pinned, installed=installed,
                               latest=answer.get("latest", UNKNOWN), latest_for_python=for_python,
                               outdated=outdated, reason=reason))
    log.info("checked %d requirement(s) against %s in %.2f s: %d outdated, %d unknown",
             len(rows), host, time.perf_counter() - started, sum(bool(r["outdated"]) for r in rows),
             sum(r["outdated"] is None for r in rows))
    return rows


def dependency_line(dep: Dependency) -> str:
    """One dependency as the user reads it: '<status>' plus the reason, if any."""
    if dep["outdated"] is None:
        status = UNKNOWN
    elif dep["outdated"]:
        status = f"outdated (-> {dep['latest_for_python']})"
    else:
        status = "up to date"
    if dep["installed"] is None:
        status += ", not installed"
    elif dep["pinned"] and dep["installed"] != dep["pinned"]:
        status += f", installed {dep['installed']} differs from the pin"
    return status + (f": {dep['reason']}" if dep["reason"] else "")
