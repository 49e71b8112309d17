"""``protoecg study remove-reviewer``: remove a reviewer from a study, keeping their answers."""

from __future__ import annotations

import argparse

from protoecg.commands._study import add_db, open_study


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--name", required=True, help="the reviewer to remove")


def run(args: argparse.Namespace) -> int:
    store, study = open_study(args, kind=None)
    with store:
        reviewer = store.reviewer(study, args.name)
        dropped = store.remove_reviewer(reviewer)
    print(f"removed {reviewer.role} {reviewer.name!r} from study {study.name!r}: their code no "
          "longer works; the answers they gave are kept and counted")
    if dropped:
        print(f"{dropped} unanswered assignments dropped: run `protoecg study assign` to give "
              "them to the other raters")
    return 0
