"""``protoecg report``: agreement statistics and a rating report for a study."""

from __future__ import annotations

import argparse
import json

from protoecg.agreement.report import write_report
from protoecg.commands._options import at_least
from protoecg.study.store import ReviewStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True, help="review database (SQLite file)")
    parser.add_argument("--study", required=True, help="study name")
    parser.add_argument("--out", required=True, help="folder for the report files")
    parser.add_argument("--resamples", type=at_least(1), default=1000,
                        help="bootstrap resamples over prototypes (default 1000)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the bootstrap resamples (default 42)")
    parser.add_argument("--use-consensus", action="store_true",
                        help="final answers per prototype use the researchers' recorded "
                             "consensus where there is one (summary.json 'final'); agreement "
                             "statistics stay the raters'")
    parser.add_argument("--json", action="store_true", help="print summary.json")


def run(args: argparse.Namespace) -> int:
    with ReviewStore(args.db, "read") as store:
        study = store.study(args.study)
        summary = write_report(store, study, args.out, args.resamples, args.seed,
                               use_consensus=args.use_consensus)
    if args.json:
        print(json.dumps(summary))
        return 0
    if study.kind == "comparison":
        _print_comparison(study, summary, args.out)
        return 0
    print(f"report of study {study.name!r} -> {args.out} (ratings.csv, summary.json, "
          "report.html)")
    for question, stats in summary["questions"].items():
        alpha = stats["krippendorff_alpha_ordinal"]
        shown = "undefined" if alpha["value"] is None else f"{alpha['value']:.3f}"
        print(f"  {question}: {stats['n_answers']} answers on {stats['n_prototypes']} "
              f"prototypes; Krippendorff's alpha (ordinal) {shown}")
    return 0


def _print_comparison(study, summary: dict, out: str) -> None:
    c = summary["comparison"]
    print(f"report of comparison study {study.name!r} -> {out} (answers.csv, key.csv, "
          "summary.json, report.html)")
    for task, entry in c["tasks"].items():
        shares = ", ".join(f"{m} {p['n_yes']}/{p['n_total']}" for m, p in entry["models"].items())
        level = entry["participant_level"]
        p, mean = level.get("wilcoxon_p"), level.get("mean_difference")
        print(f"  {task}: good {shares}; {c['difference']} over {level['n_raters']} raters "
              f"{'undefined' if mean is None else format(mean, '+.3f')}, Wilcoxon p "
              f"{'undefined' if p is None else format(p, '.3g')}")
