"""``protoecg study create``: a new review study over a prototype catalog."""

from __future__ import annotations

import argparse

from protoecg.catalog.reader import read_catalog
from protoecg.commands._study import add_db
from protoecg.study.protocol import load_protocol
from protoecg.study.store import ReviewStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser, study=False)
    parser.add_argument("--protocol", required=True, help="study protocol TOML "
                        "(study_protocols/protoecgnet_clinician_review.toml is the paper's)")
    parser.add_argument("--catalog", required=True, help="catalog folder (RUN/catalog)")
    parser.add_argument("--name", required=True, help="study name (unique in the database)")


def run(args: argparse.Namespace) -> int:
    protocol = load_protocol(args.protocol)
    catalog = read_catalog(args.catalog)
    with ReviewStore(args.db) as store:
        study = store.create_study(args.name, protocol, catalog)
    print(f"created study {study.name!r}: {len(catalog.prototypes)} prototypes, protocol "
          f"{protocol.id} ({len(protocol.questions)} questions, {protocol.raters_per_prototype} "
          f"raters per prototype) in {args.db}")
    return 0
