"""``protoecg prune``: select prototypes by a rule over a study's ratings; disable or replace
them in a new run folder (``--dry-run``: only list what the rule selects)."""

from __future__ import annotations

import argparse
import json

from protoecg.commands._options import add_rule_options
from protoecg.prune.pruning import apply_pruning, plan_pruning
from protoecg.train.run import RunError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_rule_options(parser)
    parser.add_argument("--out", help="the pruned run folder to write (not with --dry-run)")
    parser.add_argument("--dry-run", action="store_true",
                        help="list what the rule selects, per class, with the answers; write "
                             "nothing")
    parser.add_argument("--json", action="store_true", help="print the plan/record as JSON")


def run(args: argparse.Namespace) -> int:
    if not args.dry_run and not args.out:
        raise RunError("--out: the pruned run folder to write is required (or pass --dry-run)")
    plan = plan_pruning(args.run, args.db, args.study, args.rule, args.action,
                        allow_empty_class=args.allow_empty_class, audit=args.audit)
    if args.dry_run:
        if args.json:
            print(json.dumps({**plan.to_dict(), "evidence": plan.evidence}, indent=2))
            return 0
        total = sum(c["prototypes"] for c in plan.per_class.values())
        print(f"rule selects {len(plan.selected)} of {total} prototypes "
              f"({len(plan.selected) / max(total, 1):.0%}) for --action {plan.action}")
        for code, counts in sorted(plan.per_class.items()):
            if counts["selected"]:
                print(f"  {code:8s} {counts['selected']} of {counts['prototypes']} "
                      f"(active after: {counts['active_after']})")
        for pid in plan.selected:
            e = plan.evidence[pid]
            answers = ", ".join(f"{q}={v}" for q, v in e["answers"].items())
            print(f"  {pid}: bad {e['bad']}, best {e['best']}, {answers}")
        return 0
    record = apply_pruning(plan, args.out, args.device)
    if args.json:
        print(json.dumps(record, indent=2))
    else:
        done = {"disable": "disabled", "replace": "replaced",
                "forbid": "marked to forbid"}[args.action]
        print(f"{done} {len(record['selected'])} prototypes "
              f"({record['n_active']} of {record['n_prototypes']} active) -> {args.out}; "
              f"next: protoecg retrain --run {args.out}")
    return 0
