"""``protoecg study export-ratings``: the current answers as long-form CSV."""

from __future__ import annotations

import argparse

from protoecg.commands._study import add_db, open_study
from protoecg.study.ratings_csv import export_ratings


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser)
    parser.add_argument("--csv", required=True, help="CSV file to write")


def run(args: argparse.Namespace) -> int:
    store, study = open_study(args, "read")
    with store:
        n = export_ratings(store, study, args.csv)
    print(f"wrote {n} answers of study {study.name!r} to {args.csv}")
    return 0
