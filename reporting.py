"""Step 4, reporting: the managers' report on the published call list, engineering pages after it.

Reads  the deployed model (hash-checked) and its manifest, the published call list
       (scoring.read_call_list; published first if there is none for this model),
       test_data_path/testdata.csv, output_folder_path/finaldata.csv and ingestion.json,
       the run history (deployments, scores, ingestions, diagnostics, drift checks,
       quarantine, challenger_decisions, estimates)
Writes output_model_path/confusionmatrix.png          the deployed model on the test data
       output_model_path/report.pdf                   the latest report
       output_model_path/report_YYYYmmddTHHMMSS.pdf   the same report, kept (UTC time)

Pages 1-4 are for client managers: who to call and why, what the calls can
achieve, the trends of attrition and of the list's quality, how the model
did on the test clients, and (when the retraining loop has recorded any) the
extracts held back by the quality gate and the latest model decision. The
appendix (pages 5-8, report_appendix.py) is for the engineers: data
statistics, step timings, dependencies, drift checks, the quality gate's
and champion/challenger decisions. This module
decides what the pages say; report_pdf.py draws them.

    python reporting.py [--config config.json]
"""
from __future__ import annotations

import sys

from risk import cli
from risk.errors import StepError
from risk.reports import reporting


def main(argv: list[str] | None = None) -> int:
    args = cli.parser(__doc__).parse_args(argv)
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        made = reporting.make_report(cfg)
    except StepError as exc:
        return cli.failed(exc)
    print(reporting.summary(made))
    return 0


if __name__ == "__main__":
    sys.exit(main())
