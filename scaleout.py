"""Ingestion and batch scoring on a Dask cluster, for inputs larger than one machine's memory.

Used when config.json sets `dask_scheduler`: "local" starts a LocalCluster on
this machine; otherwise the address of a running scheduler, e.g.
"tcp://10.0.0.5:8786". The results are the same as the pandas path's
(ingestion.py, batchscore.py), byte for byte; how is told in
risk/scale/scaleout.py. Workers must see the input and output folders (a
LocalCluster does; a remote cluster needs them on a shared file system).

    python scaleout.py ingest [--config config.json]
    python scaleout.py score --input clients.csv --output ranked.csv [--config config.json]
"""
from __future__ import annotations

import sys
from pathlib import Path

from risk import artifacts, cli
from risk.data import ingestion
from risk.errors import StepError
from risk.scale import scaleout


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("step", choices=("ingest", "score"))
    p.add_argument("--input", type=Path, help="score: the client CSV")
    p.add_argument("--output", type=Path, help="score: where the ranked CSV goes")
    args = p.parse_args(argv)
    if args.step == "score" and not (args.input and args.output):
        p.error("score needs --input and --output")
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    address = cfg.dask_scheduler or "local"
    try:
        if args.step == "ingest":
            print(ingestion.summary(scaleout.ingest(cfg._replace(dask_scheduler=address))))
        else:
            model, manifest = artifacts.load_deployed_model(cfg.prod_deployment_path)
            rows = scaleout.score_csv(address, model, args.input, args.output)
            print(f"ranked {rows} clients with {artifacts.version_name(manifest['version'])} on Dask "
                  f"-> {args.output}")
    except StepError as exc:
        return cli.failed(exc)
    return 0


if __name__ == "__main__":
    sys.exit(main())
