"""``protoecg study assign``: give every prototype to K raters, load-balanced and seeded."""

from __future__ import annotations

import argparse

from protoecg.commands._options import at_least
from protoecg.commands._study import add_db, open_study
from protoecg.study.assignment import assign


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--raters-per-prototype", type=at_least(1),
                        help="K (default: the protocol's raters_per_prototype)")


def run(args: argparse.Namespace) -> int:
    store, study = open_study(args)
    with store:
        result = assign(store, study, args.raters_per_prototype)
    print(f"{result['assignments']} assignments ({result['raters_per_prototype']} raters per "
          f"prototype over {result['raters']} raters): {result['added']} added, "
          f"{result['removed']} unrated ones moved, {result['kept']} kept")
    return 0
