"""``protoecg study status``: how far a study has come."""

from __future__ import annotations

import argparse
import json

from protoecg.commands._study import add_db, open_study
from protoecg.study.answers import status


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--json", action="store_true", help="print one JSON object")


def run(args: argparse.Namespace) -> int:
    store, study = open_study(args, "read")
    with store:
        result = status(store, study)
    if args.json:
        print(json.dumps(result))
        return 0
    print(f"study {result['study']} (protocol {result['protocol']})")
    print(f"  prototypes {result['prototypes']}, reviewers {result['reviewers']} "
          f"({result['raters']} raters), assignments {result['assignments']}")
    print(f"  ratings {result['ratings']}, flags {result['flags']}, comments "
          f"{result['comments']}; complete {result['complete']:.1%}")
    for name, p in result["per_rater"].items():
        print(f"  {name:<20} {p['complete']}/{p['assigned']}")
    return 0
