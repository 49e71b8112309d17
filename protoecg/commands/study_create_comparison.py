"""``protoecg study create-comparison``: a blind A/B comparison study of two trained runs on the
same test ECGs (issue 32)."""

from __future__ import annotations

import argparse

from protoecg.commands._options import add_case_selection
from protoecg.resources import protocol_path
from protoecg.study.comparison_protocol import (
    DEFAULT_COMPARISON_PROTOCOL as DEFAULT,
)
from protoecg.study.comparison_protocol import load_comparison_protocol
from protoecg.study.store import ReviewStore, StoreError


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True,
                        help="review database (SQLite file; created if it does not exist)")
    parser.add_argument("--name", required=True, help="name of the new comparison study")
    parser.add_argument("--runs", nargs=2, required=True, metavar="RUN",
                        help="the two projected runs (their folder names name the models in "
                             "the report; raters never see them)")
    parser.add_argument("--labels", nargs="+", metavar="CODE",
                        help="the labels to compare on (default: every label both predict)")
    add_case_selection(parser)
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the cases drawn and of A/B per case (default 42)")
    parser.add_argument("--protocol", default=None,
                        help=f"comparison protocol TOML (default: the shipped {DEFAULT})")


def run(args: argparse.Namespace) -> int:
    from protoecg.explain.comparison import (  # torch: only for this command
        comparison_cases,
        no_cases_reason,
        selection_detail,
        selection_lines,
    )
    from protoecg.study.comparison import comparison_rows

    protocol = load_comparison_protocol(args.protocol or protocol_path(DEFAULT))
    cases, signals = comparison_cases(args.runs[0], args.runs[1], args.per_label, args.labels,
                                      args.seed, args.threshold, args.include_identical)
    if not cases["cases"]:
        extra = (" (--include-identical keeps them)"
                 if sum(cases["identical"].values()) and not args.include_identical else "")
        raise StoreError(f"{args.runs[1]}: no comparison study created: "
                         f"{no_cases_reason(cases)}{extra}")
    rows, drawn = comparison_rows(cases, signals)
    with ReviewStore(args.db, "create") as store:
        store.create_comparison(args.name, protocol, rows, drawn, selection_detail(cases))
    print(f"created comparison study {args.name!r}, models {' and '.join(cases['models'])}; "
          f"A and B drawn per case (seed {args.seed})")
    for line in selection_lines(cases):
        print(f"  {line}")
    return 0
