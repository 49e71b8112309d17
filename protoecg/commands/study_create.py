"""``protoecg study create``: a new review study over a prototype catalog."""

from __future__ import annotations

import argparse
import sys

from protoecg.commands._study import add_db
from protoecg.study.setup import (
    DegenerateCatalogError,
    check_round_options,
    create_study_from_files,
    load_study_files,
)
from protoecg.study.store import ReviewStore


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_db(parser, study=False)
    parser.add_argument("--protocol", required=True, help="study protocol TOML "
                        "(study_protocols/protoecgnet_clinician_review.toml is the paper's)")
    parser.add_argument("--catalog", required=True, help="catalog folder (RUN/catalog)")
    parser.add_argument("--name", required=True, help="study name (unique in the database)")
    parser.add_argument("--previous", metavar="STUDY",
                        help="make this the next round of STUDY (same database): rate only the "
                             "prototypes STUDY did not rate (new revisions after pruning)")
    parser.add_argument("--all-prototypes", action="store_true",
                        help="with --previous: rate every active prototype again")
    parser.add_argument("--allow-degenerate", action="store_true",
                        help="for research only: accept a catalog whose run recorded a "
                             "degenerate branch (its prototypes rate every window alike); the "
                             "study records that it was accepted")


def run(args: argparse.Namespace) -> int:
    check_round_options(args.previous, args.all_prototypes)
    try:
        protocol, catalog = load_study_files(args.protocol, args.catalog,  # before any database
                                             args.allow_degenerate)
    except DegenerateCatalogError as exc:
        raise DegenerateCatalogError(f"{exc}, or for research only pass --allow-degenerate"
                                     ) from None
    with ReviewStore(args.db, "create") as store:
        study, count = create_study_from_files(store, args.name, protocol, catalog,
                                               args.previous, args.all_prototypes)
    protocol = study.protocol
    after = f" (next round of {args.previous!r})" if args.previous else ""
    allowed = catalog.meta.get("degenerate_branches_allowed")
    if allowed:
        print(f"protoecg: warning: study {study.name!r} rates the degenerate "
              f"{', '.join(allowed)} branch (--allow-degenerate, recorded in the study)",
              file=sys.stderr)
    print(f"created study {study.name!r}{after}: {count} prototypes, protocol "
          f"{protocol.id} ({len(protocol.questions)} questions, {protocol.raters_per_prototype} "
          f"raters per prototype) in {args.db}")
    return 0
