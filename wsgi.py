"""The risk API for a production WSGI server: `app`, built from $RISK_CONFIG or config.json here.

    .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app                   # from the repo folder
    /path/to/repo/.venv/bin/gunicorn -c /path/to/repo/gunicorn.conf.py wsgi:app   # from anywhere

Unlike the other scripts, importing this module does the work: the server
imports it to get `app`. Each worker imports it, so each loads the model once.
Log records go to stderr, one line each, and with tracebacks to
log_folder/pipeline.log, as for every script.
"""
from risk import cli, config
from risk.serving import app as risk_api

_cfg = config.load(risk_api.config_path_or_default())
cli.setup_logging(_cfg.log_folder, long_running=True)
app = risk_api.create_app(_cfg.path)
