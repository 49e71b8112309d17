"""``protoecg study create-comparison``: a blind A/B comparison study of two trained runs on the
same test ECGs (issue 32)."""

from __future__ import annotations

import argparse

from protoecg.commands._options import at_least
from protoecg.resources import protocol_path
from protoecg.study.comparison_protocol import (
    DEFAULT_COMPARISON_PROTOCOL as DEFAULT,
)
from protoecg.study.comparison_protocol import load_comparison_protocol
from protoecg.study.store import ReviewStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True,
                        help="review database (SQLite file; created if it does not exist)")
    parser.add_argument("--name", required=True, help="name of the new comparison study")
    parser.add_argument("--runs", nargs=2, required=True, metavar="RUN",
                        help="the two projected runs (their folder names name the models in "
                             "the report; raters never see them)")
    parser.add_argument("--per-label", type=at_least(1), default=5,
                        help="cases per label, test ECGs both models call positive (default 5)")
    parser.add_argument("--labels", nargs="+", metavar="CODE",
                        help="the labels to compare on (default: every label both predict)")
    parser.add_argument("--threshold", type=float, default=0.5,
                        help="probability at which a model calls a label positive (default 0.5)")
    parser.add_argument("--seed", type=int, default=42,
                        help="seed of the cases drawn and of A/B per case (default 42)")
    parser.add_argument("--protocol", default=None,
                        help=f"comparison protocol TOML (default: the shipped {DEFAULT})")


def run(args: argparse.Namespace) -> int:
    from protoecg.explain.comparison import comparison_cases  # torch: only for this command
    from protoecg.study.comparison import comparison_rows

    protocol = load_comparison_protocol(args.protocol or protocol_path(DEFAULT))
    cases, signals = comparison_cases(args.runs[0], args.runs[1], args.per_label, args.labels,
                                      args.seed, args.threshold)
    rows, drawn = comparison_rows(cases, signals)
    detail = {key: cases[key] for key in ("runs", "seed", "threshold", "per_label", "eligible")}
    with ReviewStore(args.db, "create") as store:
        store.create_comparison(args.name, protocol, rows, drawn, detail)
    used = {label: n for label, n in cases["eligible"].items() if n}
    print(f"created comparison study {args.name!r}: {len(rows)} cases of {len(used)} labels "
          f"({', '.join(f'{k} {min(n, args.per_label)}' for k, n in used.items())}), models "
          f"{' and '.join(cases['models'])}; A and B drawn per case (seed {args.seed})")
    skipped = [label for label, n in cases["eligible"].items() if not n]
    if skipped:
        print(f"no test ECG that both call positive: {', '.join(skipped)}")
    return 0
