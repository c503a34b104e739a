"""Step 1, ingestion: compile every valid CSV of the input folder into one training dataset.

Reads  input_folder_path/*.csv (sorted; hidden and temporary files ignored)
Writes output_folder_path/finaldata.csv      the valid files, exact duplicate rows dropped
       output_folder_path/ingestedfiles.txt  the ingested file names, one per line
       output_folder_path/ingestion.json     each file read: SHA-256, rows, status, reason
       a row per file in the run history (table `ingestions`)

A file that breaks the data contract, can't be read (no permission, not a
regular file) or has a name that can't be recorded (not UTF-8, a line break)
is skipped with a one-line reason and recorded; it is never moved, changed or
deleted. With no valid file at all
the step fails and the previous outputs stay as they were.

    python ingestion.py [--config config.json]
"""
from __future__ import annotations

import sys

from risk import cli
from risk.data import ingestion
from risk.errors import StepError
from risk.scale import engine


def main(argv: list[str] | None = None) -> int:
    args = cli.parser(__doc__).parse_args(argv)
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        result = engine.ingest(cfg)
    except StepError as exc:
        return cli.failed(exc)
    print(ingestion.summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
