"""``protoecg study new-code``: a new access code for a reviewer (a lost or shared one)."""

from __future__ import annotations

import argparse

from protoecg.commands._study import add_db, open_study


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--name", required=True, help="the reviewer who needs a new code")


def run(args: argparse.Namespace) -> int:
    store, study = open_study(args, kind=None)
    with store:
        reviewer = store.reviewer(study, args.name)
        code = store.reissue_code(reviewer)
    print(f"new access code for {reviewer.role} {reviewer.name!r} of study {study.name!r}; the "
          "old one no longer works and their open sessions ended")
    print(f"access code: {code}")
    print("(shown once: it is stored only as a salted hash)")
    return 0
