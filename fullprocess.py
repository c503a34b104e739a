"""The main job: ingestion -> training -> scoring -> deployment, in one process.

Reads and writes what the four step scripts do (see each one's docstring).
Prints where each output went and the F1 score of the deployed model.

    python fullprocess.py [--config config.json]
"""
from __future__ import annotations

import logging
import sys

import cli
import config

log = logging.getLogger("fullprocess")


def run_pipeline(cfg: config.Config) -> list[str]:
    """Ingest, train, score and deploy; return one line per output for the user."""
    # Imported here: the data libraries cost seconds, and later checks
    # (is there anything new to do?) must not pay for them.
    import deployment
    import ingestion
    import scoring
    import training

    ingested = ingestion.ingest(cfg)
    trained = training.train(cfg)
    scored = scoring.score(cfg)
    release = deployment.deploy(cfg)
    return [
        ingestion.summary(ingested),
        f"trained on {trained.rows} rows -> {trained.model_path}",
        f"F1 score {scored.f1:.4f} on {scored.rows} test rows -> {scored.score_path}",
        f"deployed v{release.version:04d} -> {cfg.prod_deployment_path}",
    ]


def main(argv: list[str] | None = None) -> int:
    args = cli.parser(__doc__).parse_args(argv)
    return cli.run(args.config, lambda cfg: print("\n".join(run_pipeline(cfg))))


if __name__ == "__main__":
    sys.exit(main())
