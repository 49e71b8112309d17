"""``protoecg round``: the whole step from one review round to the next, in one command:
prune -> retrain -> project -> compare (saved) -> the next round's study
(``protoecg.prune.round``)."""

from __future__ import annotations

import argparse

from protoecg.commands._options import add_case_selection, add_rule_options
from protoecg.prune.round import next_round


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_rule_options(parser)
    parser.add_argument("--out", required=True, help="the new run folder to write")
    parser.add_argument("--next-study", required=True,
                        help="name of the next round's study (rates the new revisions)")
    parser.add_argument("--comparison-study", metavar="NAME",
                        help="also create a blind A/B comparison study of the two runs on the "
                             "same test ECGs (raters judge both models' prototypes, blind)")
    add_case_selection(parser, "--comparison-threshold", "with --comparison-study: ")
    parser.add_argument("--quiet", action="store_true", help="no training progress output")
    parser.add_argument("--allow-degenerate", action="store_true",
                        help="for research only: create the next study even if the retrained "
                             "model has a degenerate branch (recorded in the study)")


def run(args: argparse.Namespace) -> int:
    done = next_round(args.run, args.db, args.study, args.rule, args.action, args.out,
                      args.next_study, device=args.device,
                      allow_empty_class=args.allow_empty_class, audit=args.audit,
                      allow_degenerate=args.allow_degenerate, progress=not args.quiet,
                      comparison_study=args.comparison_study, per_label=args.per_label,
                      comparison_threshold=args.comparison_threshold,
                      include_identical=args.include_identical,
                      log=print)
    result = done.comparison
    low, high = result["delta_ci"]
    print(f"test macro AUROC {result['before']:.4f} -> {result['after']:.4f}, difference "
          f"{result['delta']:+.4f} (95% CI {low:+.4f} to {high:+.4f})")
    print(f"study {done.study!r} (next round of {args.study!r}) rates {done.n_rated} "
          "prototypes; add raters with `protoecg study add-reviewer` and `study assign`")
    return 0
