"""Step 2a, training: fit the attrition model on the ingested dataset.

Reads  output_folder_path/finaldata.csv (run alone: the course's compiled dataset; the main
       job, fullprocess.py, passes its training window instead: the recent extracts)
Writes output_model_path/trainedmodel.pkl   the model of the config's `model_kind`:
                                            "additive" (default; risk/model/additive.py,
                                            calibrated) or "course" (median imputation,
                                            standard scaling, LogisticRegression)
       output_model_path/trainedmodel.json  its metadata and SHA-256 (checked on every load)
       a row in the run history (table `trainings`)

The course model's parameters are the course's, overridable with the config
key `model_params`. `corporation` is an id, never a feature.

    python training.py [--config config.json]
"""
from __future__ import annotations

import sys

from risk import cli
from risk.errors import StepError
from risk.model import training


def main(argv: list[str] | None = None) -> int:
    args = cli.parser(__doc__).parse_args(argv)

    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        result = training.train(cfg)
    except StepError as exc:
        return cli.failed(exc)
    print(f"trained on {result.rows} rows in {result.duration_s:.2f} s -> {result.model_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
