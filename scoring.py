"""Step 2b, scoring: the model's quality on held-out test data, and the call list of current clients.

Reads  output_model_path/trainedmodel.pkl (hash-checked), test_data_path/testdata.csv;
       for the call list the deployed model, output_folder_path/finaldata.csv and
       the previous published list (run history)
Writes output_model_path/latestscore.txt   the F1 score, the number alone
       a row in the run history (table `scores`: F1, precision and recall at N, base rate,
       and the list's measure: exits among the top call_capacity, AUC, calibration error)
       with --call-list: output_model_path/risk_ranking.csv and call_list.json,
       and the list in the run history (tables `call_lists`, `client_risk`)

Who is on the call list: for each `corporation` its latest record across the
ingested extracts (finaldata.csv holds the extracts in file-name order, so the
last row of a client is its newest), and only clients whose latest record
says they are still clients (`exited` 0, or empty: outcome not known yet).
Risk is the model's calibrated probability, as a band (config keys
band_*_from) and a whole percent; reasons come from the model itself
(reasons.py); `change`, `previous_rank` and `previous_risk_percent` compare
with the previous list. call_list.json carries the list's measure on the test
data (`list_measure`, with its reliability chart's points).

    python scoring.py [--config config.json] [--call-list]
"""
from __future__ import annotations

import sys

from risk import cli
from risk.errors import StepError
from risk.model import scoring


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    p.add_argument("--call-list", action="store_true",
                   help="rank the current clients by the deployed model and publish the call list")
    args = p.parse_args(argv)
    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        if args.call_list:
            published = scoring.publish_call_list(cfg)
        else:
            result = scoring.score(cfg)
    except StepError as exc:
        return cli.failed(exc)
    if args.call_list:
        s = published.summary
        print(f"call list of {s['clients']:,} current clients -> {published.csv_path}\n"
              + ", ".join(f"{b}: {c:,}" for b, c in s["bands"].items())
              + f"; {len(s['new_to_top'])} new to the top {cfg.call_capacity}, "
              f"{s['left_count']} left since the previous list")
    else:
        print(f"F1 score {result.f1:.4f} on {result.rows} test rows -> {result.score_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
