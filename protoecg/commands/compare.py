"""``protoecg compare``: two runs on the same test fold, with the paired difference."""

from __future__ import annotations

import argparse
import json

from protoecg.commands._options import add_device, at_least
from protoecg.prune.lineage import changed_classes
from protoecg.train.comparison import compare_runs
from protoecg.train.run import write_comparison


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_a", metavar="RUN_A", help="the run before (e.g. the source run)")
    parser.add_argument("run_b", metavar="RUN_B", help="the run after (e.g. pruned+retrained)")
    parser.add_argument("--fold", type=int, default=10, help="fold to compare on (default 10)")
    parser.add_argument("--resamples", type=at_least(1), default=1000,
                        help="paired bootstrap resamples (default 1000)")
    parser.add_argument("--seed", type=int, default=42, help="bootstrap seed (default 42)")
    add_device(parser)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    parser.add_argument("--save", action="store_true",
                        help="also write the figures to RUN_B/compare.json (shown in the "
                             "review app's prune page)")


def _f(value) -> str:
    return "—" if value is None else f"{value:.3f}"


def run(args: argparse.Namespace) -> int:
    result = compare_runs(args.run_a, args.run_b, args.fold, args.resamples, args.seed,
                          args.device, changed=changed_classes(args.run_b))
    if args.save:
        write_comparison(args.run_b, result)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"fold {result['fold']} ({result['n_records']} ECGs), macro AUROC, paired bootstrap "
          f"({result['n_resamples']} resamples):")
    rows = [("all", result), *result["per_branch"].items()]
    for name, r in rows:
        low, high = r["delta_ci"]
        print(f"  {name:10s} before {_f(r['before'])}  after {_f(r['after'])}  "
              f"delta {r['delta']:+.4f} (95% CI {low:+.4f} to {high:+.4f})")
    changed = {c: v for c, v in result["per_class"].items() if v["prototypes_changed"]}
    for code, v in sorted(changed.items()):
        print(f"  class {code}: {v['prototypes_changed']} prototype(s) changed; AUROC "
              f"{_f(v['before'])} -> {_f(v['after'])}")
    return 0
