"""Batch scoring on one machine: a client CSV in, every client ranked by attrition risk out.

The pandas path (the default; Dask's is scaleout.py): pyarrow's CSV reader and
writer around the contract's validation and the model, at a million rows a
second or more. The ranking is scoring.ranked_clients' (each client's last
row; highest probability first, rounded to 6 decimals; ties in input order),
built from arrays rather than a frame of Python strings.

Reads  a client CSV (the contract's columns; `exited` may be empty)
Writes the ranked CSV: rank, corporation, attrition_probability, predicted_exit
       and the three features (whole numbers, empty where missing)

    python batchscore.py --input clients.csv --output ranked.csv [--config config.json]
        (the deployed model of the config; on Dask when `dask_scheduler` is set)
"""
from __future__ import annotations

import sys
from pathlib import Path

from risk import artifacts, cli
from risk.errors import StepError
from risk.scale import engine


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--input", type=Path, required=True, help="client CSV to score")
    p.add_argument("--output", type=Path, required=True, help="where to write the ranked CSV")
    args = p.parse_args(argv)
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
        rows = engine.score_csv(cfg, model, args.input, args.output)
    except StepError as exc:
        return cli.failed(exc)
    print(f"ranked {rows} clients with {artifacts.version_name(manifest['version'])} -> {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
