"""Ingestion and batch scoring on a Dask cluster, for inputs larger than one machine's memory.

Used when config.json sets `dask_scheduler` ("local" starts a LocalCluster of
LOCAL_WORKERS processes on this machine; otherwise the address of a running
scheduler, e.g. "tcp://10.0.0.5:8786"). The default path is pandas
(ingestion.py, batchscore.py) and never imports Dask.

Same results as the pandas path (the same rows kept, probabilities, order,
bytes of finaldata.csv), partition by partition: each CSV is cut into blocks
at line ends and every task parses and validates one block with the contract's
own reader. Exactness without holding the data in one place takes passes:
 1. survey: validate each block; return its row count and a 64-bit hash of
    each row's key (the client process holds these 8 bytes per row). Scoring
    also returns each row's client id and rounded probability (about 30
    bytes per row) and writes the block's scored rows, sorted by (risk,
    position), to an Arrow file beside the output: every row is parsed and
    scored once;
 2. ingestion: rows whose hash occurs twice are fetched and compared
    exactly, which names the duplicates to drop; scoring: the ids of hashes
    seen twice name each client's earlier rows, and the probabilities count
    the rows per range of risk, so each range's first rank is known;
 3. ingestion writes each block's kept rows to a part file; scoring merges
    each range's slices of the scored blocks (memory-mapped) and writes the
    range to a part file; the parts are joined in order into the output,
    atomically.
Workers must see the input and output folders (a LocalCluster does; a remote
cluster needs them on a shared file system).

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
