"""Step 2c, deployment: put the trained model, its score and its data record into production.

Reads  output_model_path/trainedmodel.pkl (hash-checked), output_model_path/latestscore.txt,
       output_folder_path/ingestedfiles.txt and ingestion.json
Writes prod_deployment_path/releases/vNNNN/   the files, manifest.json, and madelive.txt
                                              once the release has been live
       prod_deployment_path/current           symlink to the live release (the atomic switch)
       prod_deployment_path/trainedmodel.pkl, latestscore.txt, ingestedfiles.txt,
       manifest.json                          symlinks through `current`, the course's names
       a row in the run history (table `deployments`)
       then, as the course's next steps need them: the call list of the deployed
       model (scoring.publish_call_list) and a quick diagnostics run (recorded
       timings, the dependency check at most once a day), so app.py's /risk and
       /diagnostics answer right after this script, whatever ran before it

A release is built in a hidden temporary folder, renamed into place, and only
then made live by replacing the `current` symlink in one rename; a crash or a
full disk at any moment leaves the previous deployment whole. A model identical
to the live one (same SHA-256) makes no new release. The last
`keep_deployments` releases are kept, so going back (or forward again) is one
command; a release that was never live (its deployment was killed before the
switch) is never gone to. The layout itself (names, switch, reading) is
artifacts.py's.

    python deployment.py [--config config.json]      deploy the trained model
    python deployment.py --rollback                  make the previous live release live again
    python deployment.py --to v0003                  make release 3 live (back or forward)
    python deployment.py --list                      list the releases and which were live
"""
from __future__ import annotations

import sys

from risk import artifacts, cli, config
from risk.errors import StepError
from risk.loop import deployment
from risk.model import scoring
from risk.reports import diagnostics


def follow_up(cfg: config.Config) -> list[str]:
    """Publish the live model's call list and record quick diagnostics, each only if missing
    for that model; a line for each thing done."""
    live = artifacts.read_manifest(cfg.prod_deployment_path)["model_sha256"]
    lines = []
    try:
        _, summary = scoring.read_call_list(cfg)
    except scoring.CallListMissing:
        summary = {}
    if summary.get("model_sha256") != live:
        listed = scoring.publish_call_list(cfg)
        lines.append(f"published the call list of {listed.summary['clients']:,} clients -> {listed.csv_path}")
    recorded = diagnostics.latest_diagnostics(cfg)
    if recorded is None or recorded.get("model_sha256") != live:
        recorded = diagnostics.run_all(cfg)
        lines.append(f"recorded diagnostics of {artifacts.version_name(recorded['model_version'])} "
                     f"in {cfg.history_path}")
    return lines


def main(argv: list[str] | None = None) -> int:
    p = cli.parser(__doc__)
    group = p.add_mutually_exclusive_group()
    group.add_argument("--rollback", action="store_true",
                       help="make the previous live release live again")
    group.add_argument("--to", type=deployment._version_arg, metavar="VERSION",
                       help="make this release live, back or forward (v0003 or 3)")
    group.add_argument("--list", action="store_true",
                       help="list releases (* marks the live one) and which were live")
    p.add_argument("--accept-worse", action="store_true",
                   help="deploy even a model that ranks far worse than the live one (a warning is kept)")
    args = p.parse_args(argv)

    cfg = cli.start(args.config)
    if cfg is None:
        return 2
    try:
        if args.list:
            print(deployment.listing(cfg))
            return 0
        if args.rollback or args.to is not None:
            release, notes = deployment.rollback_with_notes(cfg) if args.rollback else deployment.go_to(cfg, args.to)
            verb = "rolled back to" if args.rollback else "now live:"
            print(f"{verb} {release.name} (F1 {release.manifest['score']:.4f}) -> {cfg.prod_deployment_path}")
            for note in notes:
                print(note)
            return 0
        before = artifacts.current_release(cfg.prod_deployment_path)
        release = deployment.deploy(cfg, accept_worse=args.accept_worse)
    except StepError as exc:
        return cli.failed(exc)
    if before is not None and release.path.resolve() == before:
        print(f"model identical to the live {release.name} (same SHA-256): no new release")
    else:
        print(f"deployed {release.name} (F1 {release.manifest['score']:.4f}) -> {cfg.prod_deployment_path}")
        if release.manifest.get("warning"):
            print(release.manifest["warning"])
    try:
        lines = follow_up(cfg)
    except StepError as exc:
        return cli.failed(StepError(f"{release.name} is live, but {exc}"))
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
