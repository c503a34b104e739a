"""Call every endpoint of the risk API and record the answers in apireturns.txt.

Reads  config.json: the API's address (api_host, api_port), the test data's path and
       api_token_file (optional)
Writes output_model_path/apireturns.txt   one JSON document: the URL, the time, and each
                                          endpoint's status and body; when a call fails,
                                          apireturns.failed.txt instead (the last good
                                          apireturns.txt stays as it was)

    python apicalls.py [--config config.json] [--timeout S]
                                         the server at api_host:api_port, once its /health
                                         proves it serves this deployment (its folder, its model)
    python apicalls.py --url http://host:port    a server you name (no identity check)
    python apicalls.py --in-process      the same calls on an app built in this process

fullprocess.py calls the configured server when it proves to be this deployment,
else in-process (`call_api_of_deployment`): never another application's answers.
Sends `Authorization: Bearer <token>`, the token from $RISK_API_TOKEN or else the
config's api_token_file. Exit 1, naming the endpoint, when a call fails (no 2xx
answer) or the server is unreachable or not this deployment.
"""
from __future__ import annotations

import sys

from risk import cli
from risk.errors import StepError
from risk.serving import apicalls


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    where = p.add_mutually_exclusive_group()
    where.add_argument("--url", help="a server's base URL, called as it is "
                                     "(default: api_host and api_port of the config, once proven this deployment)")
    where.add_argument("--in-process", action="store_true",
                       help="call an app built in this process instead of a server")
    p.add_argument("--timeout", type=float, default=apicalls.DEFAULT_TIMEOUT_S,
                   help="seconds to wait for each answer (default: %(default)s)")
    args = p.parse_args(argv)

    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        url = None if args.in_process else (args.url or cfg.api_url)
        if url == cfg.api_url and not args.url:
            problem = apicalls.identity_problem(cfg, url)
            if problem is not None:
                raise apicalls.ApiCallError(f"{problem}; use --in-process, or --url for a server you name")
        result = apicalls.call_api(cfg, url, args.timeout)
        print(apicalls.summary(result))
        result.check()
    except StepError as exc:
        return cli.failed(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
