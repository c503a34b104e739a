"""Step 3, diagnostics: predictions, data statistics, step timings and dependency status.

Reads  the deployed model (hash-checked), output_folder_path/finaldata.csv and
       ingestion.json, test_data_path/testdata.csv, the run history (the
       training's recorded duration), requirements.txt and the package index
       (depcheck.py; at most once a day unless asked, timeout `pypi_timeout_s`)
Writes a row in the run history (table `diagnostics`): the figures plotted as
       trends, and the whole result as JSON.

Step timings are the durations the steps recorded when they really ran
(training: the run history; ingestion: ingestion.json's `duration_s`), so a
tick pays nothing for them. `--time-steps N` (and the course's
`execution_time()`) instead runs ingestion.py and training.py N times as
subprocesses on a scratch copy of the config: the live finaldata.csv and model
are never touched.

The course's functions keep the course's names and each works alone, from any
working directory: `model_predictions`, `dataframe_summary`, `missing_data`,
`execution_time`, `outdated_packages_list` (each takes `config_path=`).
`run_all(cfg)` runs them all and records the run.

    python diagnostics.py [--config config.json] [--time-steps N]
"""
from __future__ import annotations

import sys

from risk import cli
from risk.errors import StepError
from risk.reports import diagnostics


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--time-steps", type=int, metavar="N",
                   help="time ingestion.py and training.py by running each N times as subprocesses "
                        "(default: the durations recorded when they last ran)")
    args = p.parse_args(argv)
    if args.time_steps is not None and args.time_steps < 1:
        p.error("--time-steps must be at least 1")
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        # Asked by hand: the package index is asked now, not a day ago.
        result = diagnostics.run_all(cfg, repeats=args.time_steps, fresh_dependencies=True)
    except StepError as exc:
        return cli.failed(exc)
    print(diagnostics.summary(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
