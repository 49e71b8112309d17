"""``protoecg study import-ratings``: answers collected elsewhere, all or nothing."""

from __future__ import annotations

import argparse

from protoecg.commands._study import add_db, open_study
from protoecg.study.ratings_csv import import_ratings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--csv", required=True, help="CSV file to import")
    parser.add_argument("--create-reviewers", action="store_true",
                        help="add reviewers the file names as raters (codes are printed)")


def run(args: argparse.Namespace) -> int:
    store, study = open_study(args)
    with store:
        result = import_ratings(store, study, args.csv, args.create_reviewers)
    print(f"imported {result['rows']} rows into study {study.name!r}: "
          f"{result['revisions_written']} answers written (unchanged ones skipped)")
    for name, code in result["reviewers_created"].items():
        print(f"  created rater {name!r}, access code {code}")
    return 0
