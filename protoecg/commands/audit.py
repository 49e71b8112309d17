"""``protoecg audit``: sanity checks, where prototypes look, dataset-wide activation."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from protoecg.commands._options import add_device, at_least, probability
from protoecg.errors import ProtoECGError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True,
                        help="projected ProtoECGNet run folder (`protoecg train` + `project`)")
    parser.add_argument("--out", default=None,
                        help="folder for audit.json and report.md (default RUN/audit); the "
                             "label-randomised model trains into OUT/label-randomised")
    parser.add_argument("--split", default="all", choices=("all", "train", "validation", "test"),
                        help="ECGs whose predictions the activation audit counts (default all: "
                             "dataset-wide)")
    parser.add_argument("--max-ecgs", type=at_least(2), default=200,
                        help="test ECGs the sanity checks compare explanations on (default 200)")
    parser.add_argument("--threshold", type=probability, default=0.5,
                        help="probability from which a label counts as predicted (default 0.5)")
    parser.add_argument("--no-label-randomisation", action="store_true",
                        help="skip the label-randomisation check (it trains a second model)")
    parser.add_argument("--label-run", default=None,
                        help="a completed run of the same configuration trained on permuted "
                             "labels, instead of training one")
    parser.add_argument("--label-epochs", type=at_least(1), default=None,
                        help="cap every stage of the label-randomised training at N epochs "
                             "(default: the run's own)")
    add_device(parser)
    parser.add_argument("--json", action="store_true", help="print audit.json to stdout")
    parser.add_argument("--quiet", action="store_true", help="no progress lines")


def run(args: argparse.Namespace) -> int:
    from protoecg.audit.files import default_dir, write_audit  # noqa: PLC0415
    from protoecg.audit.runner import audit_run  # noqa: PLC0415 (imports torch)

    out = Path(args.out) if args.out else default_dir(args.run)
    if out.exists() and not out.is_dir():
        raise ProtoECGError(f"--out {out}: exists and is not a folder")
    quiet = args.quiet or args.json
    result = audit_run(args.run, out, split=args.split, max_ecgs=args.max_ecgs,
                       label_randomisation=not args.no_label_randomisation,
                       label_run=args.label_run, label_epochs=args.label_epochs,
                       threshold=args.threshold, device=args.device, progress=not quiet,
                       log=(lambda _: None) if quiet else print)
    json_path, report_path = write_audit(result, out)
    if args.json:
        print(json.dumps(result))
        return 0
    for branch, checks in result["sanity"].items():
        label = checks["label_randomisation"]
        print(f"  {branch:<10} model randomisation: {checks['model_randomisation']['verdict']}")
        print(f"  {'':<10} label randomisation: {label.get('verdict', 'skipped')}")
    agreeing = [e["agreement"] for e in result["segments"].values()
                if e["agreement"] is not None]
    if agreeing:
        print(f"  segments: {len(agreeing)} classes with an expert rule, mean agreement "
              f"{sum(agreeing) / len(agreeing):.2f} ({result['delineation']['source']})")
    print(f"  never used: {len(result['activation']['never_used'])} prototypes")
    print(f"wrote {json_path} and {report_path}")
    return 0
