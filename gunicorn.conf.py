"""gunicorn settings for the risk API, from the repo folder:

    .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app

Listens on api_host:api_port of the config ($RISK_CONFIG, else config.json
here; 127.0.0.1:8000 by default); `--bind` on the command line overrides it.

Threaded workers (gthread): a connection that has sent nothing waits in the
worker's poller, not in a thread, and one that trickles its request holds one
thread of 64, not a whole worker. With the README's former 2 sync workers, 2
slow clients took the API down; with these, 50 do not (tests/test_apicalls.py).
Past ~100 such clients at once, put a buffering proxy (nginx) in front.
"""
import json
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Underscored: gunicorn reads every other top-level name here as a setting ("config" is one).
from risk import config as _config  # noqa: E402
from risk.serving import api_spec as _api_spec  # noqa: E402

try:
    _cfg = _config.load(os.environ.get(_api_spec.CONFIG_ENV) or _config.DEFAULT_CONFIG)
except _config.ConfigError as _exc:
    # One line and exit 2 (bad config), as every script; gunicorn would print its
    # own traceback for an Exception, but lets SystemExit through.
    print(f"error: {_exc}", file=sys.stderr)
    sys.exit(2)
bind = [f"{_cfg.api_host}:{_cfg.api_port}"]
# The workers' Prometheus counts, one file each, added up at /metrics (serving/metrics.py).
_METRICS_DIR = Path(os.environ.setdefault("PROMETHEUS_MULTIPROC_DIR", str(_cfg.log_folder / "prometheus")))
chdir = str(_config.ROOT)
worker_class = "gthread"
workers = 2
threads = 64
timeout = 30            # a worker silent this long is restarted
graceful_timeout = 10
keepalive = 5           # seconds an idle keep-alive connection is kept (in the poller)
control_socket_disable = True  # one per user by default: two servers (or checkouts) would clash


def post_worker_init(worker):
    """Requests gunicorn cannot parse (400 bad request line, 414 URL over 4094 bytes, 431 over
    100 header fields or a field over 8190 bytes) it answers itself, before the app, in HTML:
    answer them in JSON like the app. gunicorn.util.write_error is what its workers call for
    them (tests/test_apicalls.py checks it still is)."""
    from gunicorn import util

    def write_error(sock, status_int, reason, mesg):
        body = json.dumps({"error": f"{reason}: {mesg}" if mesg else reason}).encode()
        head = (f"HTTP/1.1 {status_int} {reason}\r\nConnection: close\r\n"
                f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n\r\n").encode("latin1")
        util.write_nonblock(sock, head + body)

    util.write_error = write_error


def on_starting(server):
    """A fresh start: the counts of an earlier server's workers are not this one's."""
    import shutil
    shutil.rmtree(_METRICS_DIR, ignore_errors=True)
    _METRICS_DIR.mkdir(parents=True, exist_ok=True)


def child_exit(server, worker):
    from risk.serving import metrics
    metrics.mark_worker_dead(worker.pid)
