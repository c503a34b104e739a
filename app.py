"""The risk API: predictions, scores, statistics and diagnostics of the deployed model, as JSON.

Reads  the deployed model (serving.py: hash-checked, reloaded when a new deployment
       lands), test_data_path/testdata.csv, output_folder_path/finaldata.csv,
       the run history (the latest recorded diagnostics)
Serves POST|GET /prediction, GET /scoring, /summarystats, /diagnostics, /health, /risk,
       /openapi.json (generated from the views below: api_spec.py) and /docs (its
       interactive page, assets served from here)

`create_app(config_path)` builds the application; `wsgi.py` hands it to
gunicorn (settings in gunicorn.conf.py), and this script serves it with
Flask's own server for local use (127.0.0.1, debug off):

    python app.py [--config config.json] [--host 127.0.0.1] [--port 8000]
    .venv/bin/gunicorn -c gunicorn.conf.py wsgi:app

When $RISK_API_TOKEN is set (or the config names an api_token_file), every
endpoint but /health, /openapi.json and /docs requires `Authorization: Bearer <token>`.

A little over 450 lines because each view's docstring holds its OpenAPI
operation (~120 lines of YAML): the document is generated from the code that
serves it. Reading the /prediction input lives in api_input.py.
"""
from __future__ import annotations

import logging
import sys

from risk import cli
from risk.errors import StepError
from risk.serving import app

log = logging.getLogger("app")


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--host", help="address to listen on (default: api_host of the config, 127.0.0.1)")
    p.add_argument("--port", type=int, choices=range(1, 65536), metavar="N",
                   help="port (default: api_port of the config, 8000)")
    args = p.parse_args(argv)
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    cli.setup_logging(cfg.log_folder, long_running=True)
    try:
        server = app.create_app(cfg.path)
    except StepError as exc:  # an unreadable token file
        return cli.failed(exc)
    host, port = args.host or cfg.api_host, args.port or cfg.api_port
    try:
        # Flask's own server, for local use only: debug off, no reloader.
        server.run(host=host, port=port, debug=False, use_reloader=False, load_dotenv=False)
    except OSError as exc:
        log.error("cannot serve on %s:%s: %s", host, port, exc.strerror or exc)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
