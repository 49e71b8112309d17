"""``protoecg round``: the whole step from one review round to the next, in one command:
prune -> retrain -> project -> compare (saved) -> the next round's study."""

from __future__ import annotations

import argparse
from pathlib import Path

from protoecg.catalog.reader import read_catalog
from protoecg.catalog.writer import write_catalog
from protoecg.commands._options import add_rule_options
from protoecg.prune.pruning import apply_pruning, plan_pruning, retrain
from protoecg.study.setup import create_study_from_files, degenerate_branches
from protoecg.study.store import ReviewStore, StoreError
from protoecg.train.comparison import compare_runs
from protoecg.train.run import write_json


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_rule_options(parser)
    parser.add_argument("--out", required=True, help="the new run folder to write")
    parser.add_argument("--next-study", required=True,
                        help="name of the next round's study (rates the new revisions)")
    parser.add_argument("--quiet", action="store_true", help="no training progress output")
    parser.add_argument("--allow-degenerate", action="store_true",
                        help="for research only: create the next study even if the retrained "
                             "model has a degenerate branch (recorded in the study)")


def run(args: argparse.Namespace) -> int:
    plan = plan_pruning(args.run, args.db, args.study, args.rule, args.action,
                        allow_empty_class=args.allow_empty_class, audit=args.audit)
    with ReviewStore(args.db, "write") as store:  # refuse a taken name before anything trains
        taken = {s.name for s in store.studies()}
    if args.next_study in taken:
        raise StoreError(f"study {args.next_study!r} already exists in {args.db}")
    record = apply_pruning(plan, args.out, args.device)
    print(f"{args.action}: {len(record['selected'])} of {record['n_prototypes']} prototypes "
          f"-> {args.out}")
    retrain(args.out, args.device, progress=not args.quiet)
    catalog = read_catalog(write_catalog(args.out, args.device))
    result = compare_runs(args.run, args.out, device=args.device)
    write_json(Path(args.out) / "compare.json", result)
    low, high = result["delta_ci"]
    print(f"test macro AUROC {result['before']:.4f} -> {result['after']:.4f}, difference "
          f"{result['delta']:+.4f} (95% CI {low:+.4f} to {high:+.4f})")
    dead = degenerate_branches(catalog)
    if dead and args.allow_degenerate:
        catalog.meta["degenerate_branches_allowed"] = dead
    elif dead:
        raise StoreError(f"{catalog.path / 'catalog.json'}: the retrained model's "
                         f"{', '.join(dead)} branch is degenerate (its prototypes rate every "
                         f"window alike); {args.out} is kept, the study {args.next_study!r} is "
                         "not created")
    with ReviewStore(args.db, "write") as store:
        # the one path by which the command line and the app create studies
        _, n_rated = create_study_from_files(store, args.next_study,
                                             store.study(args.study).protocol, catalog,
                                             previous=args.study,
                                             all_prototypes=args.action == "disable")
    print(f"study {args.next_study!r} (next round of {args.study!r}) rates {n_rated} "
          "prototypes; add raters with `protoecg study add-reviewer` and `study assign`")
    return 0
