"""``protoecg study add-reviewer``: add a rater or researcher and print their access code."""

from __future__ import annotations

import argparse

from protoecg.commands._study import add_db, open_study


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--name", required=True, help="reviewer's name (unique in the study)")
    parser.add_argument("--role", required=True, choices=("rater", "researcher"),
                        help="rater (rates prototypes) or researcher (progress, agreement, "
                             "downloads)")
    parser.add_argument("--code", help="use this access code instead of a generated one")


def run(args: argparse.Namespace) -> int:
    store, study = open_study(args, kind=None)
    with store:
        reviewer, code = store.add_reviewer(study, args.name, args.role, args.code)
    print(f"added {reviewer.role} {reviewer.name!r} to study {study.name!r}")
    print(f"access code: {code}")
    print("(shown once: it is stored only as a salted hash)")
    return 0
