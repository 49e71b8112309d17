"""``protoecg study import-comparison``: a blind A/B comparison study run elsewhere (REDCap and
the like) into a review database, all or nothing."""

from __future__ import annotations

import argparse

from protoecg.resources import protocol_path
from protoecg.study.comparison import import_comparison, read_comparison
from protoecg.study.comparison_protocol import (
    DEFAULT_COMPARISON_PROTOCOL as DEFAULT,
)
from protoecg.study.comparison_protocol import load_comparison_protocol
from protoecg.study.store import ReviewStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", required=True,
                        help="review database (SQLite file; created if it does not exist)")
    parser.add_argument("--study", required=True, help="name of the new comparison study")
    parser.add_argument("--key", required=True,
                        help="CSV with the columns case_id,label,A,B: the model names shown as "
                             "A and as B for each case")
    parser.add_argument("--answers", required=True,
                        help="long-form CSV reviewer,case_id,question,answer; question "
                             "<task>:A or <task>:B (answer 1 = good, 0 = not) or "
                             "<task>:preference (A, B, both or neither)")
    parser.add_argument("--protocol", default=None,
                        help=f"comparison protocol TOML (default: the shipped {DEFAULT}, "
                             "tasks prototype and explanation)")


def run(args: argparse.Namespace) -> int:
    protocol = load_comparison_protocol(args.protocol or protocol_path(DEFAULT))
    checked = read_comparison(args.key, args.answers, protocol)  # before the database opens
    with ReviewStore(args.db, "create") as store:
        import_comparison(store, args.study, checked)
    print(f"imported comparison study {args.study!r}: {checked['cases']} cases, "
          f"{checked['n_answers']} answers by {checked['raters']} raters, models "
          f"{' and '.join(checked['models'])}, tasks {', '.join(checked['tasks'])}")
    print(f"report: protoecg report --db {args.db} --study {args.study} --out DIR")
    return 0
