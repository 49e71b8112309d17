"""``protoecg evaluate``: macro AUROC with 95% bootstrap CI, per branch, class and aggregation."""

from __future__ import annotations

import argparse
import json
import sys

from protoecg.audit.files import sanity_verdicts
from protoecg.catalog.quality import catalog_quality, quality_lines
from protoecg.commands._options import add_device, at_least
from protoecg.train.evaluation import evaluate_run
from protoecg.train.health import health_warnings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--run", required=True, help="run folder made by `protoecg train`")
    parser.add_argument("--fold", type=int, default=10, help="fold to evaluate (default 10)")
    parser.add_argument("--resamples", type=at_least(1), default=1000,
                        help="bootstrap resamples for the CIs (default 1000)")
    add_device(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")


def _fmt(part: dict) -> str:
    if part["macro_auroc"] is None:
        return "undefined (no label with positives and negatives)"
    low, high = part["macro_auroc_ci"]
    return f"{part['macro_auroc']:.3f} (95% CI {low:.3f}-{high:.3f})"


def run(args: argparse.Namespace) -> int:
    # the catalog and the audit are read first: a damaged one stops us before any work
    quality = catalog_quality(args.run)
    verdicts = sanity_verdicts(args.run) if quality is not None else None
    result = evaluate_run(args.run, args.fold, args.resamples, args.device)
    if quality is not None:
        # the audit's sanity verdicts beside the catalog's figures, where the run was audited
        for branch, found in (verdicts or {}).items():
            if branch in quality:
                quality[branch]["sanity"] = found
        result["prototype_quality"] = quality
    for line in health_warnings(result.get("latent_health", {})):
        print(f"protoecg: warning: {line}", file=sys.stderr)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"{result['model']} on {result['dataset']} fold {result['fold']} "
          f"({result['n_records']} ECGs, {result['n_labels_evaluated']} labels evaluated)")
    print(f"  macro AUROC      {_fmt(result)}")
    for branch, part in result["per_branch"].items():
        print(f"  {branch:<16} {_fmt(part)}  [{part['n_labels_evaluated']} labels]")
    for level, part in result["per_aggregation"].items():
        print(f"  {level:<16} {_fmt(part)}  [{part['n_labels_evaluated']} groups]")
    if quality is not None:
        print("prototype quality (catalog):")
        for line in quality_lines(quality):
            print(f"  {line}")
    elif result["model"] == "protoecgnet":
        print("prototype quality: no catalog yet (`protoecg project --run RUN` writes it)")
    return 0
