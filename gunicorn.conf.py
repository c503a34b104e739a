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
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

# Underscored: gunicorn reads every other top-level name here as a setting ("config" is one).
import api_spec as _api_spec  # noqa: E402
import config as _config  # noqa: E402

_cfg = _config.load(os.environ.get(_api_spec.CONFIG_ENV) or _config.DEFAULT_CONFIG)
bind = [f"{_cfg.api_host}:{_cfg.api_port}"]
chdir = str(_config.HERE)
worker_class = "gthread"
workers = 2
threads = 64
timeout = 30            # a worker silent this long is restarted
graceful_timeout = 10
keepalive = 5           # seconds an idle keep-alive connection is kept (in the poller)
control_socket_disable = True  # one per user by default: two servers (or checkouts) would clash
