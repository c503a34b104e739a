"""Start a local server, wait until it answers, stop it: the one helper for that loop.

Used by apicalls.py (is something answering, and is it this deployment?), the
API's tests and bench/bench_api.py. Standard library only.

    with localserver.running(localserver.gunicorn_command(port), port, env=...) as server:
        ... server.url ...
"""
from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

from risk import ROOT
from risk.errors import StepError

GUNICORN_CONFIG = ROOT / "gunicorn.conf.py"
START_TIMEOUT_S = 60.0


class ServerError(StepError):
    """A server could not be started."""


@dataclass(frozen=True)
class Server:
    url: str
    port: int
    pid: int  # the server's main process (gunicorn's master; its workers are children)


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nothing listens on now (the kernel's pick)."""
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def get_json(url: str, path: str = "/health", timeout_s: float = 1.0) -> tuple[int, Any] | None:
    """(status, parsed JSON body or None) of GET `url` + `path`; None if nothing answers HTTP there."""
    parts = url.split("://", 1)[-1].rstrip("/")
    host, _, port = parts.partition(":")
    conn = http.client.HTTPConnection(host, int(port or 80), timeout=timeout_s)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        data = response.read()
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()
    try:
        return response.status, json.loads(data)
    except ValueError:
        return response.status, None


def gunicorn_command(port: int, target: str = "wsgi:app", chdir: Path = ROOT,
                     config_file: Path | None = GUNICORN_CONFIG, *extra: str) -> list[str]:
    """gunicorn serving `target` from `chdir` on 127.0.0.1:`port`, with the shipped settings by default."""
    cmd = [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--chdir", str(chdir),
           "--no-control-socket"]
    if config_file is not None:
        cmd += ["--config", str(config_file)]
    return [*cmd, *extra, target]


@contextlib.contextmanager
def running(cmd: list[str], port: int, *, env: dict[str, str] | None = None, log: Path | None = None,
            ready_path: str = "/health", timeout_s: float = START_TIMEOUT_S) -> Iterator[Server]:
    """Run `cmd` (from /) until it answers HTTP on `ready_path` at 127.0.0.1:`port`; stop it on the way out.

    Any HTTP answer counts as up (a 503 of a server without a model, too). Its
    output goes to `log`, else to a temporary file whose last line a failure quotes.
    """
    url = f"http://127.0.0.1:{port}"
    with contextlib.ExitStack() as stack:
        out = stack.enter_context(open(log, "wb") if log else tempfile.TemporaryFile())
        proc = subprocess.Popen(cmd, cwd="/", stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, **(env or {})})
        try:
            deadline = time.monotonic() + timeout_s
            while get_json(url, ready_path, 0.5) is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    out.flush()
                    out.seek(0)
                    last = (out.read().decode(errors="replace").strip().splitlines() or ["no output"])[-1]
                    why = f"exited {proc.returncode}" if proc.poll() is not None else f"not up in {timeout_s:g} s"
                    raise ServerError(f"server on {url} {why}: {last}")
                time.sleep(0.1)
            yield Server(url, port, proc.pid)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
